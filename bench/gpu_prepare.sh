#!/usr/bin/env bash
# Stage what bench/gpu_run.sh needs on a GPU machine without internet, into build/gpu-bench/
# (git-ignored; carry that one folder). Run here, where PyPI is reachable:
#
#   bash bench/gpu_prepare.sh            # then: du -sh build/gpu-bench
#
# - wheels/: cp312 manylinux x86_64 wheels of what bench/triton_bench.py imports beyond the
#   stdlib, numpy and torch (aiohttp and pydantic, with their dependencies, at the versions of
#   constraints.txt), and nvidia-pytriton (tritonserver + python backend + a stub per Python),
#   slimmed to the 3.12 stub: the other stubs and the 3.13 stub's bundled libpython (12 MB of the
#   55 MB wheel) are dropped and RECORD rewritten, so it still installs with pip.
# - libpython/libpython3.12.so.1.0 (stripped, when a shared CPython 3.12 is found here): used by
#   gpu_run.sh only where the GPU machine's python3 has no libpython3.12.so.1.0 (a static build),
#   which the 3.12 stub links against.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTRITON_VERSION=${PYTRITON_VERSION:-0.7.0}   # tritonserver 2.51; ships python_backend_stubs/3.12
DEST=build/gpu-bench
PIP=${PIP:-.venv/bin/pip}
rm -rf "$DEST/wheels" "$DEST/libpython"
mkdir -p "$DEST/wheels"

common=(--disable-pip-version-check --quiet --only-binary=:all: --python-version 3.12 --implementation cp
        --abi cp312 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
        --platform manylinux_2_28_x86_64 --platform manylinux_2_35_x86_64 -d "$DEST/wheels")
# Runtime imports of bench/triton_bench.py: tests/serving/load.py (aiohttp) and
# components/triton/model_config.py (pydantic). numpy and torch come from the GPU machine.
"$PIP" download "${common[@]}" -c constraints.txt aiohttp pydantic
"$PIP" download "${common[@]}" --no-deps "nvidia-pytriton==$PYTRITON_VERSION"
rm -f "$DEST"/wheels/numpy-*.whl

python3 - "$DEST/wheels" <<'EOF'
"""Slim the nvidia-pytriton wheel to the python 3.12 stub (rewrite RECORD, keep the file name)."""
import pathlib, sys, zipfile

wheel = next(pathlib.Path(sys.argv[1]).glob("nvidia_pytriton-*.whl"))
tmp = wheel.with_suffix(".tmp")

def drop(name: str) -> bool:
    parts = name.split("/")
    if "python_backend_stubs" in parts:
        i = parts.index("python_backend_stubs")
        return len(parts) > i + 1 and parts[i + 1] != "3.12"
    return name.startswith("nvidia_pytriton.libs/libpython3")  # only the 3.13 stub needs it

with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
    names = src.namelist()
    if not any("python_backend_stubs/3.12/" in n for n in names):
        raise SystemExit(f"{wheel.name} has no python_backend_stubs/3.12")
    dropped = [n for n in names if drop(n)]
    for info in src.infolist():
        if info.filename in dropped:
            continue
        data = src.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            keep = [line for line in data.decode().splitlines() if line.split(",")[0] not in dropped]
            data = ("\n".join(keep) + "\n").encode()
        out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
tmp.replace(wheel)
print(f"{wheel.name}: dropped {len(dropped)} files, now {wheel.stat().st_size / 2**20:.1f} MiB")
EOF

# A shared CPython 3.12 here (pyenv, uv ...): its libpython, stripped, as the fallback.
for py in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
  lib=$("$py" -c 'import sysconfig as s, os
p = os.path.join(s.get_config_var("LIBDIR"), "libpython3.12.so.1.0")
print(p if os.path.isfile(p) else "")' 2>/dev/null || true)
  if [ -n "$lib" ]; then
    mkdir -p "$DEST/libpython"
    strip --strip-unneeded -o "$DEST/libpython/libpython3.12.so.1.0" "$lib"
    "$py" -c 'import sys; print(sys.version.split()[0])' > "$DEST/libpython/VERSION"
    echo "fallback libpython: $lib ($(cat "$DEST/libpython/VERSION"))"
    break
  fi
done
ls -la "$DEST/wheels" "$DEST"/libpython 2>/dev/null || true
du -sh "$DEST"
