"""Fixtures for tests against a real tritonserver (the one in the nvidia-pytriton wheel).

The repository is rendered once per session from TritonModel definitions (our render_config)
plus the fixture model code in tests/fixtures/triton_models. Without a usable tritonserver these
tests skip, unless GPUFLEET_REQUIRE_TRITON=1 makes that a failure (set it in CI).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from components.triton.model_config import TritonModel, Warmup

from .harness import TOOL_SERVER, TritonServer, find_distribution, free_port
from .models import mlp_model, noop_model, render

# The models of the test repository. "mlp" is checked against the in-process forward pass;
# "slow" / "slow0" sleep 40 ms per execution (like time on an accelerator) so that a client on
# the same small machine can overload them; everything not named here is our default.
MLP = mlp_model("mlp", in_dim=32, hidden=64, layers=2, out_dim=16, seed=7, warmup=Warmup(batch_size=2))
NOOP = noop_model("noop", dim=8, max_batch_size=0, response_cache=True,
                  parameters={"note": 'caf\u00e9 \u2713 "quoted" \\ \U0001F600'})
SLOW = mlp_model("slow", in_dim=16, hidden=32, layers=1, out_dim=16, delay_ms=40)
SLOW0 = mlp_model("slow0", in_dim=16, hidden=32, layers=1, out_dim=16, delay_ms=40, max_batch_size=0)
MODELS: dict[str, tuple[str, TritonModel]] = {
    m.name: (code, m) for code, m in (("mlp", MLP), ("noop", NOOP), ("mlp", SLOW), ("mlp", SLOW0))
}
SERVER_ARGS = ["--cache-config=local,size=1048576"]  # NOOP has the response cache on


# Every real-server test runs on both servers: the project venv's (nvidia-pytriton 0.5, 2.41.0)
# and the newer one unpacked as a tool environment (nvidia-pytriton 0.7.0, 2.51.0).
SERVERS = {"triton-2.41": None, "triton-2.51": TOOL_SERVER}


@pytest.fixture(scope="session", params=sorted(SERVERS))
def triton_dist(request):
    site = SERVERS[request.param]
    dist = find_distribution(site)
    if dist is None:
        where = f"{site} (python -m tests.tools.triton_server {site})" if site else "the project venv"
        message = f"tritonserver {request.param} not found in {where}"
        if os.environ.get("GPUFLEET_REQUIRE_TRITON") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return dist


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> tuple[Path, list[Path]]:
    """(repository folder, the files render_repository wrote). A server started on the folder
    may add files of its own later (the python backend writes __pycache__ next to model.py)."""
    out = tmp_path_factory.mktemp("model_repository")
    return out, render(list(MODELS.values()), out)


@pytest.fixture(scope="session")
def repository(rendered) -> Path:
    return rendered[0]


@pytest.fixture(scope="session")
def server(triton_dist, repository, tmp_path_factory):
    srv = TritonServer(repository, extra_args=SERVER_ARGS, workdir=tmp_path_factory.mktemp("triton"), dist=triton_dist)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def moto_s3():
    """A moto S3 server on 127.0.0.1: yields its endpoint URL."""
    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    moto = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        moto.stop()
