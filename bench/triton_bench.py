"""Our Triton model config against Triton's defaults, on one real tritonserver. Printed, never asserted.

Same model, same client (asyncio HTTP, binary tensor extension, N concurrent closed-loop
requests of one row each), one server holding three copies of the model side by side:

  default  Triton's default: no dynamic batching, one instance
  docs     the Triton docs' starting point: `dynamic_batching {}` and two instances
  ours     render_config() defaults (only the instance kind set: KIND_CPU here, KIND_GPU with --kind gpu)

The limit is the lower of two ceilings:
  model    the model's own batched throughput, its compute function called in-process on large batches
  serving  a no-op model with the same tensors, served with our config (HTTP + scheduler + backend IPC)

Goals reported against: ours >= 4x default throughput at a p99 no worse than default's,
ours >= docs, ours >= 90% of the limit. On a small CPU machine the client shares the cores with
the server, so read the figures as relative.

    python bench/triton_bench.py                       # CPU: numpy MLP 256 -> 4096 x 2 -> 256 fp32
    python bench/triton_bench.py --kind gpu --torch    # GPU: PyTorch fp16 MLP 1024 -> 4096 x 4 -> 1024
    options: --concurrency 48 --duration 4 --repeat 3 --max-batch-size 64 --blas-threads 1 --hidden --layers
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from components.triton.model_config import TritonModel, config_dict, to_pbtxt  # noqa: E402
from tests.serving import load  # noqa: E402
from tests.serving.harness import FIXTURE_MODELS, TritonServer, find_distribution  # noqa: E402
from tests.serving.models import load_fixture_module, mlp_model, noop_model, render  # noqa: E402

# CPU: 76 MB of fp32 weights, more than this class of machine's L3 (32 MB on the 2-core EPYC dev
# box), so one row at a time is memory-bound (~1.4-2 ms) and a batch of 64 costs 5-7x less per
# row: batching matters. (256 -> 1024 x 2 -> 256, 6 MB, stays in L3: one row costs ~60 us, about
# the serving path's own per-request cost, and batching barely matters; try --hidden 1024.)
CPU_SIZES = {"in_dim": 256, "hidden": 4096, "layers": 2, "out_dim": 256}
GPU_SIZES = {"in_dim": 1024, "hidden": 4096, "layers": 4, "out_dim": 1024}
MAX_BATCH = 64  # the model's declared max_batch_size, the same in all three configs


def triton_default(model: TritonModel) -> dict:
    """What Triton does without our settings: no dynamic batcher (so no queue policy), one instance."""
    cfg = config_dict(model)
    cfg.pop("dynamic_batching", None)
    cfg["instance_group"] = [{"count": 1, "kind": model.instance_group.kind}]
    return cfg


def triton_docs(model: TritonModel) -> dict:
    """The Triton docs' recommended starting point: `dynamic_batching {}` (no delay, unbounded queue), two instances."""
    cfg = config_dict(model)
    cfg["dynamic_batching"] = {}
    cfg["instance_group"] = [{"count": 2, "kind": model.instance_group.kind}]
    return cfg


def write_repository(out: Path, code: str, ours: TritonModel, noop: TritonModel) -> dict[str, str]:
    """ours and noop through render_repository; default and docs as edited config dicts through
    the same text renderer (our TritonModel always bounds the queue, so cannot express them)."""
    render([(code, ours), ("noop", noop)], out)
    for suffix, make in (("default", triton_default), ("docs", triton_docs)):
        name = f"{ours.name.rsplit('_', 1)[0]}_{suffix}"
        cfg = make(ours)
        cfg["name"] = name
        shutil.copytree(FIXTURE_MODELS / code, out / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (out / name / "config.pbtxt").write_text(to_pbtxt(cfg), encoding="utf-8")
    base = ours.name.rsplit("_", 1)[0]
    return {"default": f"{base}_default", "docs": f"{base}_docs", "ours": ours.name, "noop": noop.name}


# --- the model's own ceiling --------------------------------------------------------------------


def model_ceiling_numpy(sizes: dict, batch: int, seconds: float = 2.0) -> float:
    mlp = load_fixture_module("mlp")
    weights = mlp.make_weights(**sizes)
    x = np.random.default_rng(0).standard_normal((batch, sizes["in_dim"])).astype(np.float32)
    mlp.forward(x, weights)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        mlp.forward(x, weights)
        n += batch
    return n / (time.perf_counter() - t0)


def model_ceiling_torch(sizes: dict, batch: int, device: str, seconds: float = 3.0) -> float:
    import torch

    mod = load_fixture_module("mlp_torch")
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    net = mod.build(**sizes, device=device, dtype=dtype)
    # Same work as the served model per batch: host fp32 in, device compute, host fp32 out.
    x = np.random.default_rng(0).standard_normal((batch, sizes["in_dim"])).astype(np.float32)

    def step():
        with torch.inference_mode():
            return net(torch.from_numpy(x).to(device).to(dtype)).float().cpu().numpy()

    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += batch
    return n / (time.perf_counter() - t0)


# --- the run ------------------------------------------------------------------------------------


def measure(server: TritonServer, model: str, body: bytes, headers: dict, concurrency: int, duration: float) -> dict:
    before = server.statistics(model)
    run = load.closed_loop(server.url, model, body, headers, concurrency=concurrency, duration_s=duration, warmup_s=1.0)
    after = server.statistics(model)
    s = load.summary(run.of(200))
    executions = max(1, after["execution_count"] - before["execution_count"])
    return {"rps": run.throughput(200), "p50": s["p50_ms"], "p99": s["p99_ms"], "errors": len(run.results) - s["n"],
            "batch": (after["inference_count"] - before["inference_count"]) / executions}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--torch", action="store_true", help="PyTorch fp16 MLP (python backend); needed for --kind gpu")
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (interleaved); the table shows medians")
    ap.add_argument("--max-batch-size", type=int, default=MAX_BATCH,
                    help=f"the model's max_batch_size, the same for all three configs (default {MAX_BATCH}; "
                         "0 = TritonModel's default)")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="OPENBLAS/OMP/MKL threads per model instance in the server (default 1: the instances "
                         "share the cores; 0 = the library's default, every core per instance)")
    ap.add_argument("--hidden", type=int, default=None, help="hidden width (default 4096)")
    ap.add_argument("--layers", type=int, default=None, help="hidden layers (default 2 CPU / 4 GPU)")
    ap.add_argument("--ceiling-batch", type=int, default=256, help="batch size for the in-process model ceiling")
    ap.add_argument("--keep", action="store_true", help="keep the repository and server log")
    ap.add_argument("--ceiling-only", type=int, metavar="BATCH", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.kind == "gpu" and not args.torch:
        ap.error("--kind gpu needs --torch (the numpy MLP would run on the CPU)")

    dist = find_distribution()
    if dist is None:
        print("tritonserver not found: install nvidia-pytriton (see tests/serving/harness.py)")
        return 1
    kind = "KIND_GPU" if args.kind == "gpu" else "KIND_CPU"
    sizes = dict(GPU_SIZES if args.torch else CPU_SIZES)
    if args.hidden:
        sizes["hidden"] = args.hidden
    if args.layers:
        sizes["layers"] = args.layers
    code = "mlp_torch" if args.torch else "mlp"
    extra = {"max_batch_size": args.max_batch_size} if args.max_batch_size else {}
    ours = mlp_model("mlp_ours", **sizes, kind=kind, **extra)
    noop = noop_model("noop_ours", dim=sizes["in_dim"], kind=kind, **extra)
    if sizes["in_dim"] != sizes["out_dim"]:
        raise SystemExit("noop ceiling needs in_dim == out_dim")

    if args.ceiling_only:  # child process: print one number
        if args.torch:
            print(model_ceiling_torch(sizes, args.ceiling_only, "cuda:0" if args.kind == "gpu" else "cpu"))
        else:
            print(model_ceiling_numpy(sizes, args.ceiling_only))
        return 0

    env: dict[str, str] = {}
    if args.blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.blas_threads)

    print(f"model: {'PyTorch fp16' if args.torch and args.kind == 'gpu' else 'numpy fp32'} MLP "
          f"{sizes['in_dim']} -> {sizes['hidden']} x {sizes['layers']} -> {sizes['out_dim']}, {kind}, "
          f"max_batch_size {ours.max_batch_size}; client: {args.concurrency} concurrent, 1 row per request; "
          f"{args.repeat} x {args.duration:.0f} s each; machine: {os.cpu_count()} CPUs"
          + (f"; BLAS threads {args.blas_threads}" if args.blas_threads else "")
          + f"; load average before: {os.getloadavg()[0]:.2f}")

    def in_process(batch: int) -> float:
        """The model's compute function alone, in a fresh process with the BLAS library's default
        threads (every core): the most this machine computes, whatever the server is given."""
        cmd = [sys.executable, __file__, "--kind", args.kind, "--ceiling-only", str(batch),
               "--hidden", str(sizes["hidden"]), "--layers", str(sizes["layers"])] + (["--torch"] if args.torch else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"in-process ceiling failed:\n{proc.stderr[-2000:]}")
        return float(proc.stdout.split()[-1])

    ceiling = in_process(args.ceiling_batch)
    at_mbs = in_process(ours.max_batch_size)
    print(f"model ceiling (in-process): {ceiling:,.0f} rows/s at batch {args.ceiling_batch}; "
          f"{at_mbs:,.0f} rows/s at batch {ours.max_batch_size}")

    workdir = Path(tempfile.mkdtemp(prefix="gpufleet-bench-"))
    names = write_repository(workdir / "repo", code, ours, noop)
    body, headers = load.infer_request(np.ones((1, sizes["in_dim"]), np.float32))
    runs: dict[str, list[dict]] = {k: [] for k in names}
    server = TritonServer(workdir / "repo", env=env, workdir=workdir / "server", dist=dist)
    try:
        server.start()
        for r in range(args.repeat):
            for label, model in names.items():  # interleaved, so drift hits every config alike
                runs[label].append(measure(server, model, body, headers, args.concurrency, args.duration))
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]['rps']:,.0f}/s" for k, v in runs.items()))
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p50", "p99", "errors", "batch")}
           for k, v in runs.items()}
    limit = min(ceiling, med["noop"]["rps"])
    print(f"\n{'config':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs default':>12}{'% of limit':>12}"
          f"{'avg batch':>11}")
    for label in ("default", "docs", "ours", "noop"):
        m = med[label]
        print(f"{label:<10}{m['rps']:>10,.0f}{m['p50']:>10.1f}{m['p99']:>10.1f}"
              f"{m['rps'] / med['default']['rps']:>11.2f}x{100 * m['rps'] / limit:>11.0f}%{m['batch']:>11.1f}"
              + (f"   ({m['errors']:.0f} errors)" if m["errors"] else ""))
    o, d, docs = med["ours"], med["default"], med["docs"]
    print(f"\nlimit = min(model ceiling {ceiling:,.0f}, serving ceiling {med['noop']['rps']:,.0f}) = {limit:,.0f} req/s "
          f"({'model' if ceiling <= med['noop']['rps'] else 'serving path'}-bound)")
    shared = 1 / (1 / ceiling + 1 / med["noop"]["rps"])
    print(f"(where client, serving path and model share the same cores, their costs add up: "
          f"1 / (1/model + 1/serving) = {shared:,.0f} req/s; ours is {100 * o['rps'] / shared:.0f}% of that)")
    goals = [
        (">= 4x default throughput", o["rps"] / d["rps"], 4.0, f"{o['rps'] / d['rps']:.2f}x"),
        ("p99 no worse than default's", d["p99"] / o["p99"], 1.0, f"{o['p99']:.1f} vs {d['p99']:.1f} ms"),
        (">= docs' starting config", o["rps"] / docs["rps"], 1.0, f"{o['rps'] / docs['rps']:.2f}x"),
        (">= 90% of the limit", o["rps"] / limit, 0.9, f"{100 * o['rps'] / limit:.0f}%"),
    ]
    for what, value, target, shown in goals:
        print(f"  ours {what:<30} {shown:>22}  {'met' if value >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
