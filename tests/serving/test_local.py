"""A repository rendered by render_repository() loads in a real tritonserver and serves."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from . import load
from .conftest import MLP, MODELS, NOOP, SLOW
from .harness import http_post
from .models import load_fixture_module


def test_every_model_ready(server):
    for name in MODELS:
        assert server.ready(name), name
    listed = server.get_json("/v2/models/mlp")
    assert listed["inputs"][0]["name"] == "INPUT" and listed["outputs"][0]["name"] == "OUTPUT"


def test_server_read_the_config_we_rendered(server):
    """What tritonserver's own (C++) parser made of our config.pbtxt files."""
    cfg = server.model_config("mlp")
    assert cfg["max_batch_size"] == MLP.max_batch_size
    assert [(g["count"], g["kind"]) for g in cfg["instance_group"]] == [(2, "KIND_CPU")]
    q = cfg["dynamic_batching"]["default_queue_policy"]
    assert q["timeout_action"] == "REJECT" and int(q["max_queue_size"]) == MLP.max_queue_size
    assert int(q["default_timeout_microseconds"]) == MLP.queue.timeout_ms * 1000
    assert int(cfg["dynamic_batching"]["max_queue_delay_microseconds"]) == 100
    assert cfg["model_warmup"][0]["batch_size"] == 2
    noop = server.model_config("noop")
    assert noop["max_batch_size"] == 0 and noop["response_cache"]["enable"] is True
    assert noop["dynamic_batching"]["default_queue_policy"]["timeout_action"] == "REJECT"
    assert noop["parameters"]["note"]["string_value"] == NOOP.parameters["note"]  # non-ASCII survives


def test_mlp_outputs_match_in_process_forward(server):
    tc = pytest.importorskip("tritonclient.http")
    mlp = load_fixture_module("mlp")
    params = {k: int(v) for k, v in MLP.parameters.items()}
    weights = mlp.make_weights(**params)
    x = np.random.default_rng(1).standard_normal((3, params["in_dim"])).astype(np.float32)
    client = tc.InferenceServerClient(url=server.url.removeprefix("http://"))
    try:
        inp = tc.InferInput("INPUT", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=True)
        result = client.infer("mlp", [inp], outputs=[tc.InferRequestedOutput("OUTPUT", binary_data=True)])
        got = result.as_numpy("OUTPUT")
    finally:
        client.close()
    assert got.shape == (3, params["out_dim"])
    np.testing.assert_allclose(got, mlp.forward(x, weights), rtol=1e-4, atol=1e-5)


def test_noop_plain_json_and_response_cache(server):
    data = [float(i) for i in range(8)]
    body = json.dumps({"inputs": [{"name": "INPUT", "shape": [8], "datatype": "FP32", "data": data}]}).encode()
    before = server.statistics("noop")["inference_stats"]["cache_hit"]["count"]
    for _ in range(3):
        status, _, raw = http_post(f"{server.url}/v2/models/noop/infer", body, {"Content-Type": "application/json"})
        assert status == 200, raw
        out = json.loads(raw)["outputs"][0]
        assert out["shape"] == [8] and out["data"] == data
    assert server.statistics("noop")["inference_stats"]["cache_hit"]["count"] >= before + 2


def test_concurrent_requests_are_batched(server):
    """Our default dynamic batching: 24 concurrent single-row requests take fewer executions."""
    before = server.statistics("slow")
    body, headers = load.infer_request(np.ones((1, 16), np.float32))

    async def burst():
        async with load._session(64, 30) as session:
            results: list[load.Result] = []
            await asyncio.gather(*(load._one(session, f"{server.url}/v2/models/slow/infer", body, headers, 0.0, results)
                                   for _ in range(24)))
            return results

    results = asyncio.run(burst())
    assert [r.status for r in results] == [200] * 24
    after = server.statistics("slow")
    inferences = after["inference_count"] - before["inference_count"]
    executions = after["execution_count"] - before["execution_count"]
    print(f"\n24 concurrent requests -> {executions} executions (max batch {SLOW.max_batch_size})")
    assert inferences == 24 and executions < inferences
