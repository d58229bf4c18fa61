#!/usr/bin/env bash
# Issue 13 on a GPU machine without internet: tritonserver from the nvidia-pytriton wheel, the
# PyTorch fp16 MLP on KIND_GPU, 64 concurrent clients on other cores than the server; default,
# docs and ours side by side with both ceilings, for hidden 4096 and 16384, medians of 3 rounds.
#
#   bash bench/gpu_prepare.sh     # here, with PyPI: stages build/gpu-bench/ (carry that folder)
#   bash bench/gpu_run.sh         # there: python3.12 with torch + numpy; writes $OUT/bench-<hidden>.txt
#   bash bench/gpu_run.sh --cpu-smoke   # anywhere: same setup, a tiny KIND_CPU run, no GPU needed
#
# Settings (environment): PYTHON (python3), SIZES ("4096 16384"), CONCURRENCY (64), DURATION (3 s),
# WARMUP (1 s), REPEAT (3), SERVER_CPUS / CLIENT_CPUS (default: the usable CPUs split in two
# halves by physical core), CLIENT_PROCS (one per client CPU), BUDGET_S (450: every bench run
# shares what is left of it, each under `timeout`), GPU_BENCH_VENV (/tmp/gpufleet-gpu-bench-venv).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
T0=$SECONDS
OUT=${OUT:-/tmp/out}
PY=${PYTHON:-python3}
STAGE=build/gpu-bench
VENV=${GPU_BENCH_VENV:-/tmp/gpufleet-gpu-bench-venv}
MODE=gpu
[ "${1:-}" = "--cpu-smoke" ] && MODE=cpu-smoke
if [ $MODE = gpu ]; then
  SIZES=${SIZES:-"4096 16384"}; CONCURRENCY=${CONCURRENCY:-64}; DURATION=${DURATION:-3}; REPEAT=${REPEAT:-3}
else  # a quick check of the whole path on any machine
  SIZES=${SIZES:-"512"}; CONCURRENCY=${CONCURRENCY:-8}; DURATION=${DURATION:-1}; REPEAT=${REPEAT:-1}
fi
WARMUP=${WARMUP:-1}
BUDGET_S=${BUDGET_S:-450}
die() { echo "gpu_run.sh: ERROR: $*" >&2; exit 2; }
step() { printf '\n== %s (t=%ds)\n' "$*" $((SECONDS - T0)); }
mkdir -p "$OUT" || die "cannot create OUT=$OUT"

step "machine"
uname -srm; ldd --version 2>&1 | head -1; nproc; free -g | head -2; df -h /dev/shm 2>/dev/null | tail -1
lscpu 2>/dev/null | grep -E '^(Model name|Socket|Core|Thread|NUMA node\(s\))' || true
if [ $MODE = gpu ]; then
  command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA GPU on this machine"
  nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu,power.limit \
    --format=csv || die "nvidia-smi failed: no usable GPU"
fi
command -v "$PY" >/dev/null || die "$PY not found"
"$PY" -VV
"$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' \
  || die "$PY is not Python 3.12: the staged wheels and the tritonserver stub are cp312"
[ -d "$STAGE/wheels" ] && ls "$STAGE"/wheels/nvidia_pytriton-*.whl >/dev/null 2>&1 \
  || die "$STAGE/wheels missing: run bench/gpu_prepare.sh where PyPI is reachable and carry build/gpu-bench"
TORCH=()
if [ $MODE = gpu ]; then
  "$PY" -c 'import numpy, torch
print("numpy", numpy.__version__, "| torch", torch.__version__, "CUDA", torch.version.cuda, "| available:",
      torch.cuda.is_available(), "|", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
raise SystemExit(0 if torch.cuda.is_available() else 3)' || die "torch cannot use a GPU here (or torch/numpy missing)"
  TORCH=(--torch)
else
  "$PY" -c 'import numpy; print("numpy", numpy.__version__)' || die "numpy missing"
  if "$PY" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null; then TORCH=(--torch); fi
fi

step "install the staged wheels (no index)"
# A venv on top of $PY's packages (torch, numpy), unless $PY is itself a venv (whose packages a
# new venv would not see) or venv/pip fail: then the wheels, plain zips, go on PYTHONPATH.
BPY=
IMPORTS="import numpy${TORCH:+, torch}"
rm -rf "$VENV"
if "$PY" -c 'import sys; sys.exit(sys.prefix != sys.base_prefix)' \
    && "$PY" -m venv --system-site-packages "$VENV" && "$VENV/bin/python" -m pip --version >/dev/null 2>&1 \
    && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
         "$STAGE"/wheels/*.whl \
    && "$VENV/bin/python" -c "$IMPORTS"; then
  BPY=$VENV/bin/python
  echo "venv $VENV (system site-packages of $PY)"
else
  echo "no venv: unpacking the wheels into $VENV/site (PYTHONPATH) instead"
  rm -rf "$VENV" && mkdir -p "$VENV/site"
  "$PY" - "$VENV/site" "$STAGE"/wheels/*.whl <<'EOF' || die "could not unpack the wheels"
import os, sys, zipfile
for wheel in sys.argv[2:]:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            path = z.extract(info, sys.argv[1])
            mode = info.external_attr >> 16
            if mode & 0o111:
                os.chmod(path, mode & 0o777)
EOF
  export PYTHONPATH="$VENV/site${PYTHONPATH:+:$PYTHONPATH}"
  BPY=$PY
fi
"$BPY" -c 'import aiohttp, pydantic; print("aiohttp", aiohttp.__version__, "| pydantic", pydantic.VERSION)' \
  || die "the staged wheels do not import"

step "tritonserver and its python 3.12 stub"
# find_distribution(): the wheel's tritonserver; TritonServer.start() copies backends/ and puts the
# stub for this Python next to libtriton_python.so (tests/serving/harness.py).
read -r ROOT_DIR LIBS STUB < <("$BPY" -c 'from tests.serving.harness import find_distribution as f
d = f(); print(d.root, d.libs, d.stub) if d else print("- - -")')
[ "$ROOT_DIR" != - ] || die "find_distribution() found no tritonserver with a 3.12 python backend stub"
echo "root $ROOT_DIR"; echo "stub $STUB"
[ "$LIBS" = None ] && LIBS=
SERVER_ENV=()
missing() { LD_LIBRARY_PATH="$1" ldd "$2" 2>&1 | grep "not found"; }
if missing "$LIBS" "$ROOT_DIR/bin/tritonserver"; then die "tritonserver has unresolved libraries (above)"; fi
if missing "$LIBS" "$STUB" | grep -q libpython3.12; then
  # The stub links libpython3.12.so.1.0: this Python's, else the one staged by gpu_prepare.sh.
  PYLIB=$("$PY" -c 'import os, sysconfig as s
for d in (s.get_config_var("LIBDIR"), s.get_config_var("LIBPL")):
    if d and os.path.isfile(os.path.join(d, "libpython3.12.so.1.0")):
        print(d); break')
  if [ -n "$PYLIB" ]; then
    echo "libpython3.12.so.1.0 from $PYLIB"
  elif [ -f "$STAGE/libpython/libpython3.12.so.1.0" ]; then
    PYLIB=$PWD/$STAGE/libpython
    HOME_DIR=$("$PY" -c 'import sys; print(sys.base_prefix)')
    echo "no libpython3.12.so.1.0 for $PY: the staged one ($(cat "$PYLIB/VERSION" 2>/dev/null)), PYTHONHOME=$HOME_DIR"
    SERVER_ENV+=(--server-env "PYTHONHOME=$HOME_DIR")
  else
    die "no libpython3.12.so.1.0 for the stub (install libpython3.12, or stage one with bench/gpu_prepare.sh)"
  fi
  LIBS="$LIBS:$PYLIB"
  SERVER_ENV+=(--server-env "LD_LIBRARY_PATH=$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
fi
if missing "$LIBS" "$STUB"; then die "the python backend stub has unresolved libraries (above)"; fi

# What the stub's embedded Python gets: the bench's GPUFLEET_TRITON_SYS_PATH, appended to its own
# sys.path. Checked with $PY -I -S (no site, no environment): those paths alone must do.
BASE_PY=$PY "$BPY" - "${TORCH[@]}" <<'EOF' || die "numpy/torch not importable from the paths the stub gets (above)"
import os, subprocess, sys
sys.path.insert(0, os.path.abspath("bench"))
import triton_bench
paths = triton_bench.stub_sys_path()
print("stub sys.path additions:", *paths, sep="\n  ")
mods = "numpy, torch" if "--torch" in sys.argv else "numpy"
code = f"import sys; sys.path += {paths!r}; import {mods}; print('isolated python imports {mods}: ok')"
sys.exit(subprocess.run([os.environ["BASE_PY"], "-I", "-S", "-c", code]).returncode)
EOF

step "CPU split"
read -r AUTO_SERVER AUTO_CLIENT AUTO_PROCS < <("$PY" - <<'EOF'
import os
cpus = sorted(os.sched_getaffinity(0))
def core(c):  # (package, core) so hyperthread siblings stay on one side
    base = f"/sys/devices/system/cpu/cpu{c}/topology/"
    try:
        return tuple(open(base + f).read().strip() for f in ("physical_package_id", "core_id"))
    except OSError:
        return (c,)
groups = {}
for c in cpus:
    groups.setdefault(core(c), []).append(c)
cores = sorted(groups.values())
half = max(1, len(cores) // 2)
server = sorted(c for g in cores[:half] for c in g)
client = sorted(c for g in cores[half:] for c in g) or server
print(",".join(map(str, server)), ",".join(map(str, client)), len(client))
EOF
)
SERVER_CPUS=${SERVER_CPUS:-$AUTO_SERVER}
CLIENT_CPUS=${CLIENT_CPUS:-$AUTO_CLIENT}
CLIENT_PROCS=${CLIENT_PROCS:-$AUTO_PROCS}
[ "$CLIENT_PROCS" -gt "$CONCURRENCY" ] && CLIENT_PROCS=$CONCURRENCY
echo "server CPUs $SERVER_CPUS | client CPUs $CLIENT_CPUS | $CLIENT_PROCS client processes," \
  "$((CONCURRENCY / CLIENT_PROCS))+ concurrent each"

KIND=(--kind gpu); [ $MODE = gpu ] || KIND=(--kind cpu --max-batch-size 16 --layers 2)
# shellcheck disable=SC2086  # SIZES is a list
set -- $SIZES
N=$#; I=0; FAILED=()
for H in "$@"; do
  LEFT=$((BUDGET_S - (SECONDS - T0)))
  LIMIT=$((LEFT / (N - I) - 5))
  [ "$LIMIT" -gt 300 ] && LIMIT=300
  I=$((I + 1))
  step "bench: hidden $H ($I of $N, timeout ${LIMIT}s)"
  if [ "$LIMIT" -lt 30 ]; then echo "no time left"; FAILED+=("$H(no time)"); continue; fi
  ARGS=(--concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --repeat "$REPEAT"
        "${KIND[@]}" "${TORCH[@]}" --hidden "$H" --server-cpus "$SERVER_CPUS" --client-cpus "$CLIENT_CPUS"
        --client-procs "$CLIENT_PROCS" "${SERVER_ENV[@]}")
  echo "$BPY bench/triton_bench.py ${ARGS[*]}" | tee "$OUT/bench-$H.txt"
  PYTHONUNBUFFERED=1 timeout -k 30 "$LIMIT" "$BPY" bench/triton_bench.py "${ARGS[@]}" 2>&1 | tee -a "$OUT/bench-$H.txt"
  RC=${PIPESTATUS[0]}
  if [ "$RC" -ne 0 ]; then
    [ "$RC" -eq 124 ] && echo "gpu_run.sh: hidden $H timed out after ${LIMIT}s" | tee -a "$OUT/bench-$H.txt"
    FAILED+=("$H(rc $RC)")
  fi
done
[ $MODE = gpu ] && nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader 2>/dev/null
step "done"
if [ ${#FAILED[@]} -gt 0 ]; then echo "gpu_run.sh: FAILED: ${FAILED[*]}" >&2; exit 1; fi
echo "results: $OUT/bench-*.txt"
