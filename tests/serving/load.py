"""A small asyncio HTTP load generator for Triton's KServe v2 API (binary tensor extension).

Closed loop (`closed_loop`: N workers, each sends its next request when the last one returns)
measures saturation throughput; open loop (`open_loop`: requests start on a fixed schedule
whatever the server does) measures what happens under overload. Latencies are measured from the
moment a request is handed to the client to the end of its response body.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np


def infer_request(x: np.ndarray, input_name: str = "INPUT", output_name: str = "OUTPUT") -> tuple[bytes, dict[str, str]]:
    """Body and headers of one inference request with the tensor as binary data."""
    raw = np.ascontiguousarray(x, dtype=np.float32).tobytes()
    header = json.dumps({
        "inputs": [{"name": input_name, "shape": list(x.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": len(raw)}}],
        "outputs": [{"name": output_name, "parameters": {"binary_data": True}}],
    }).encode()
    # identity: aiohttp asks for gzip by default, and Triton would spend CPU compressing replies.
    return header + raw, {"Inference-Header-Content-Length": str(len(header)),
                          "Content-Type": "application/octet-stream", "Accept-Encoding": "identity"}


def decode_response(body: bytes, header_length: str | None) -> tuple[dict, np.ndarray | None]:
    """(JSON part, first output as an array) of a response that may carry binary data."""
    if header_length is None:
        doc = json.loads(body)
        out = doc["outputs"][0]
        return doc, np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])
    n = int(header_length)
    doc = json.loads(body[:n])
    out = doc["outputs"][0]
    return doc, np.frombuffer(body[n:], dtype=np.float32).reshape(out["shape"])


@dataclass
class Result:
    status: int  # HTTP status; 0 for a client-side error (connection refused, timeout ...)
    latency_s: float
    start_s: float  # relative to the run's start
    error: str = ""  # the start of the body of a non-200 response (or the client exception)


@dataclass
class Run:
    results: list[Result] = field(default_factory=list)
    duration_s: float = 0.0
    offered: int = 0  # requests the schedule asked for (open loop)
    late_starts: int = 0  # open loop: requests the client could not start on time (>20 ms late)

    def of(self, status: int) -> list[Result]:
        return [r for r in self.results if r.status == status]

    def throughput(self, status: int = 200) -> float:
        return len(self.of(status)) / self.duration_s if self.duration_s else 0.0

    def counts(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return dict(sorted(out.items()))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return float(np.percentile(np.asarray(values), q))


def summary(results: list[Result]) -> dict[str, float]:
    lat = [r.latency_s * 1000 for r in results]
    return {
        "n": len(lat),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "mean_ms": statistics.fmean(lat) if lat else float("nan"),
    }


async def _one(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
               t0: float, results: list[Result]) -> None:
    start = time.perf_counter()
    error = ""
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            data = await resp.read()
            status = resp.status
            if status != 200:
                error = data[:200].decode(errors="replace")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        status, error = 0, repr(exc)[:200]
    end = time.perf_counter()
    results.append(Result(status, end - start, start - t0, error))


def _session(connections: int, timeout_s: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, force_close=False, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s))


async def closed_loop_async(base_url: str, model: str, body: bytes, headers: dict[str, str], *,
                            concurrency: int, duration_s: float, warmup_s: float = 0.5,
                            timeout_s: float = 30.0) -> Run:
    url = f"{base_url}/v2/models/{model}/infer"
    run = Run()
    async with _session(concurrency, timeout_s) as session:
        warm: list[Result] = []
        t_warm = time.perf_counter()

        async def warm_worker() -> None:
            while time.perf_counter() - t_warm < warmup_s:
                await _one(session, url, body, headers, t_warm, warm)

        await asyncio.gather(*(warm_worker() for _ in range(concurrency)))
        t0 = time.perf_counter()
        stop = t0 + duration_s

        async def worker() -> None:
            while time.perf_counter() < stop:
                await _one(session, url, body, headers, t0, run.results)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.duration_s = time.perf_counter() - t0
    return run


async def open_loop_async(base_url: str, model: str, body: bytes, headers: dict[str, str], *,
                          rate_per_s: float, duration_s: float, connections: int = 512,
                          timeout_s: float = 30.0) -> Run:
    url = f"{base_url}/v2/models/{model}/infer"
    run = Run()
    async with _session(connections, timeout_s) as session:
        tasks: list[asyncio.Task[None]] = []
        t0 = time.perf_counter()
        interval = 1.0 / rate_per_s
        i = 0
        while True:
            due = t0 + i * interval
            if due - t0 >= duration_s:
                break
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            elif now - due > 0.02:
                run.late_starts += 1
            tasks.append(asyncio.ensure_future(_one(session, url, body, headers, t0, run.results)))
            i += 1
        run.offered = i
        run.duration_s = time.perf_counter() - t0
        await asyncio.gather(*tasks)
    return run


def closed_loop(*args, **kwargs) -> Run:
    return asyncio.run(closed_loop_async(*args, **kwargs))


def open_loop(*args, **kwargs) -> Run:
    return asyncio.run(open_loop_async(*args, **kwargs))
