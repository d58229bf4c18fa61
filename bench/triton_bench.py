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
the server, so read the figures as relative; with enough cores, pin them apart (--server-cpus,
--client-cpus) and spread the client over processes (--client-procs; one asyncio process drives
only a few thousand requests/s; the "client CPU" column shows the busiest client process, near
100% means the client, not the server, set the pace).

    python bench/triton_bench.py                       # CPU: numpy MLP 256 -> 4096 x 2 -> 256 fp32
    python bench/triton_bench.py --kind gpu --torch    # GPU: PyTorch fp16 MLP 1024 -> 4096 x 4 -> 1024
    bash bench/gpu_run.sh                              # the GPU run of issue 13 (see there)
    options: --concurrency 48 --duration 4 --repeat 3 --max-batch-size 64 --blas-threads 1 --hidden --layers
             --server-cpus 0-7 --client-cpus 8-15 --client-procs 8 --warmup 1 --ready-timeout 180
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import site
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# The bench needs components.triton.model_config (pydantic only), not the package's __init__,
# which imports the TritonService side and, through components.gpu_pool, pulumi: register the
# package without running it, so a GPU machine needs only numpy, torch, aiohttp and pydantic.
if "components.triton" not in sys.modules:
    _pkg = types.ModuleType("components.triton")
    _pkg.__path__ = [str(ROOT / "components" / "triton")]
    sys.modules["components.triton"] = _pkg

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


# --- the client -----------------------------------------------------------------------------------


def parse_cpus(text: str | None) -> set[int] | None:
    """'0-7', '8-15', '0,2,4-6' -> a set of CPU ids (None for none given)."""
    if not text:
        return None
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def _client_init(cpus: set[int] | None) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def client_part(job: tuple) -> tuple[list[tuple[int, float]], float, float]:
    """One client process's share: ([(status, latency_s)], measured seconds, CPU busy fraction)."""
    url, model, body, headers, concurrency, duration, warmup, start_at = job
    if start_at > time.time():
        time.sleep(start_at - time.time())  # every process starts its warmup together
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run = load.closed_loop(url, model, body, headers, concurrency=concurrency, duration_s=duration, warmup_s=warmup)
    busy = (time.process_time() - cpu0) / max(1e-9, time.perf_counter() - wall0)
    return [(r.status, r.latency_s) for r in run.results], run.duration_s, busy


def stub_sys_path() -> list[str]:
    """The python backend stub runs an isolated interpreter; the fixture model.py files add these to
    its sys.path (GPUFLEET_TRITON_SYS_PATH): this interpreter's own site directories (a venv's), the
    base installation's (where a --system-site-packages venv finds torch and numpy), the user site
    and whatever else is on sys.path (.pth entries, Debian's dist-packages), less the standard
    library and this repository."""
    candidates = [sysconfig.get_paths()[k] for k in ("purelib", "platlib")] + list(sys.path)
    if hasattr(site, "getsitepackages"):
        candidates += site.getsitepackages()
        if sys.prefix != sys.base_prefix and any(p in sys.path for p in site.getsitepackages([sys.base_prefix])):
            candidates += site.getsitepackages([sys.base_prefix])
    if site.ENABLE_USER_SITE:
        candidates.append(site.getusersitepackages())
    skip = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"), str(ROOT), str(ROOT / "bench")}
    out: list[str] = []
    for p in candidates:
        if (p and p not in out and p not in skip and os.path.isdir(p) and not p.endswith(".zip")
                and os.path.basename(p) != "lib-dynload"):
            out.append(p)
    return out


# --- the run ------------------------------------------------------------------------------------


def measure(server: TritonServer, model: str, body: bytes, headers: dict, concurrency: int, duration: float,
            warmup: float = 1.0, pool=None, procs: int = 1) -> dict:
    """Closed loop at `concurrency`, in this process or split over `procs` processes of `pool`."""
    before = server.statistics(model)
    if pool is None:
        parts = [client_part((server.url, model, body, headers, concurrency, duration, warmup, 0.0))]
    else:
        shares = [concurrency // procs + (i < concurrency % procs) for i in range(procs)]
        start_at = time.time() + 0.2
        parts = pool.map(client_part, [(server.url, model, body, headers, c, duration, warmup, start_at)
                                       for c in shares if c], chunksize=1)
    after = server.statistics(model)
    ok = [lat * 1000 for results, _, _ in parts for status, lat in results if status == 200]
    total = sum(len(results) for results, _, _ in parts)
    executions = max(1, after["execution_count"] - before["execution_count"])
    return {"rps": sum(sum(1 for st, _ in results if st == 200) / dur for results, dur, _ in parts if dur),
            "p50": load.percentile(ok, 50), "p99": load.percentile(ok, 99), "errors": total - len(ok),
            "batch": (after["inference_count"] - before["inference_count"]) / executions,
            "client": 100 * max(busy for _, _, busy in parts)}


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
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measurement (default 1)")
    ap.add_argument("--server-cpus", metavar="LIST", help="pin tritonserver (and its model stubs) to these CPUs, "
                                                          "e.g. 0-7 (default: no pinning)")
    ap.add_argument("--client-cpus", metavar="LIST", help="pin the load client to these CPUs, e.g. 8-15")
    ap.add_argument("--client-procs", type=int, default=1,
                    help="client processes sharing --concurrency (default 1: this process)")
    ap.add_argument("--ready-timeout", type=float, default=180.0, help="seconds for the server to load the models")
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for tritonserver and its stubs (repeatable), e.g. PYTHONHOME=/usr")
    ap.add_argument("--keep", action="store_true", help="keep the repository and server log")
    ap.add_argument("--ceiling-only", type=int, metavar="BATCH", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.kind == "gpu" and not args.torch:
        ap.error("--kind gpu needs --torch (the numpy MLP would run on the CPU)")
    try:
        server_cpus, client_cpus = parse_cpus(args.server_cpus), parse_cpus(args.client_cpus)
    except ValueError:
        ap.error("--server-cpus / --client-cpus take CPU lists like 0-7 or 0,2,4-6")
    usable = os.sched_getaffinity(0)
    for opt, cpus in (("--server-cpus", server_cpus), ("--client-cpus", client_cpus)):
        if cpus and not cpus <= usable:
            ap.error(f"{opt}: CPUs {sorted(cpus - usable)} are not available (this process may use {len(usable)})")
    if args.client_procs < 1 or args.client_procs > args.concurrency:
        ap.error("--client-procs must be between 1 and --concurrency")
    if any("=" not in kv for kv in args.server_env):
        ap.error("--server-env takes KEY=VALUE")

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

    # SIGTERM (e.g. from `timeout`) unwinds through the finally below: server and clients stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env: dict[str, str] = {"GPUFLEET_TRITON_SYS_PATH": os.pathsep.join(stub_sys_path())}
    if args.blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.blas_threads)
    env.update(kv.split("=", 1) for kv in args.server_env)

    print(f"model: {'PyTorch fp16' if args.torch and args.kind == 'gpu' else 'numpy fp32'} MLP "
          f"{sizes['in_dim']} -> {sizes['hidden']} x {sizes['layers']} -> {sizes['out_dim']}, {kind}, "
          f"max_batch_size {ours.max_batch_size}; client: {args.concurrency} concurrent, 1 row per request; "
          f"{args.repeat} x {args.duration:.0f} s each; machine: {os.cpu_count()} CPUs"
          + (f"; BLAS threads {args.blas_threads}" if args.blas_threads else "")
          + f"; load average before: {os.getloadavg()[0]:.2f}")
    print(f"server CPUs: {args.server_cpus or 'any'}; client CPUs: {args.client_cpus or 'any'}, "
          f"{args.client_procs} client process{'es' if args.client_procs > 1 else ''}; warmup {args.warmup:g} s")

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
    server = TritonServer(workdir / "repo", env=env, workdir=workdir / "server", dist=dist,
                          ready_timeout_s=args.ready_timeout)
    pool = None
    try:
        t0 = time.perf_counter()
        if server_cpus:  # tritonserver and the stubs it starts inherit this affinity
            os.sched_setaffinity(0, server_cpus)
        try:
            server.start()
        finally:
            os.sched_setaffinity(0, client_cpus or usable)
        version = server.get_json("/v2").get("version", "?")
        print(f"tritonserver {version} ({dist.root}) ready in {time.perf_counter() - t0:.0f} s")
        if args.client_procs > 1:
            pool = multiprocessing.get_context("spawn").Pool(args.client_procs, _client_init, (client_cpus,))
            deadline = time.monotonic() + 60  # every worker up (spawned, bench imported) before measuring
            while len(set(pool.map(_pid_after, [0.05] * 4 * args.client_procs, chunksize=1))) < args.client_procs:
                if time.monotonic() > deadline:
                    raise SystemExit("client processes did not start")
        for r in range(args.repeat):
            for label, model in names.items():  # interleaved, so drift hits every config alike
                runs[label].append(measure(server, model, body, headers, args.concurrency, args.duration,
                                           args.warmup, pool, args.client_procs))
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]['rps']:,.0f}/s" for k, v in runs.items()), flush=True)
    except BaseException:
        if server.proc is not None:
            print(f"--- tritonserver log (tail) ---\n{server.log_tail(40)}", file=sys.stderr)
        raise
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p50", "p99", "errors", "batch", "client")}
           for k, v in runs.items()}
    limit = min(ceiling, med["noop"]["rps"])
    print(f"\n{'config':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs default':>12}{'% of limit':>12}"
          f"{'avg batch':>11}{'client CPU':>12}")
    for label in ("default", "docs", "ours", "noop"):
        m = med[label]
        print(f"{label:<10}{m['rps']:>10,.0f}{m['p50']:>10.1f}{m['p99']:>10.1f}"
              f"{m['rps'] / med['default']['rps']:>11.2f}x{100 * m['rps'] / limit:>11.0f}%{m['batch']:>11.1f}"
              f"{m['client']:>11.0f}%"
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
    print(f"\nsummary: {code} hidden {sizes['hidden']} x {sizes['layers']}, {kind}: default {d['rps']:,.0f}, "
          f"docs {docs['rps']:,.0f}, ours {o['rps']:,.0f} req/s (p99 {d['p99']:.1f} / {docs['p99']:.1f} / "
          f"{o['p99']:.1f} ms); model ceiling {ceiling:,.0f}, serving ceiling {med['noop']['rps']:,.0f}; "
          f"ours/default {o['rps'] / d['rps']:.2f}x, ours/docs {o['rps'] / docs['rps']:.2f}x, "
          f"ours/limit {100 * o['rps'] / limit:.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
