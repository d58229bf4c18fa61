"""Install the newer tritonserver as a tool environment: `python -m tests.tools.triton_server DEST`.

The project venv pins nvidia-pytriton 0.5 (tritonserver 2.41): pytriton 0.6+ needs protobuf
versions pulumi's do not allow. The tritonserver binary, its backends and its bundled libraries
do not need Python packages at all, so the 0.7.0 wheel (tritonserver 2.51.0) is unpacked on its
own into DEST (`pytriton/tritonserver/` and `nvidia_pytriton.libs/` only) and never imported:
tests/serving/harness.py runs the binary from there. Pinned by version and sha256; idempotent.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.tools.pinned_wheel import download

WHEEL = "nvidia-pytriton==0.7.0"
WHEEL_SHA256 = "21f063ff93bb426d0c06b7a55e7eb9efcfe62c0dddd9a908e9877e18710128df"
SERVER_VERSION = "2.51.0"
KEEP = ("pytriton/tritonserver/", "nvidia_pytriton.libs/")
MARKER = ".installed"


def install(dest: Path) -> Path:
    marker = dest / MARKER
    if marker.is_file() and marker.read_text().strip() == WHEEL_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download(WHEEL, WHEEL_SHA256, Path(tmp))
        if dest.exists():
            shutil.rmtree(dest)
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                if info.filename.startswith(KEEP) and not info.is_dir():
                    path = Path(z.extract(info, dest))
                    # zipfile drops the mode bits: restore them (binaries, stubs, libraries).
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:
                        path.chmod(mode & 0o755)
    marker.write_text(WHEEL_SHA256 + "\n")
    return dest


if __name__ == "__main__":
    print(install(Path(sys.argv[1])))
