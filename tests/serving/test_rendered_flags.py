"""The server as deployed: the exact command-line flags gpufleet's Triton Deployments render (every
shipped stack) are accepted by each real tritonserver the suite runs (2.41 from the project venv,
2.51 from the tool environment), and each server is the release it claims to be."""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from infra.config import read_stack_file
from tests.plan.conftest import SHIPPED

from .harness import TOOL_SERVER, ServerFailed, TritonServer, find_distribution, http_get

EXPECTED = {"triton-2.41": "2.41.0", "triton-2.51": "2.51.0"}
# Flags whose value is a place on the deployed pod; the local run points them at local places
# and binds every endpoint to 127.0.0.1.
LOCAL = ("--model-repository", "--http-port", "--grpc-port", "--metrics-port")


@lru_cache(maxsize=None)
def rendered_args() -> dict[str, list[list[str]]]:
    """Stack -> each distinct Triton container argument list its Deployments render (floor and burst
    differ in --exit-timeout-secs: burst pods are fitted to the spot notice)."""
    from infra.plan import make_plan

    out: dict[str, list[list[str]]] = {}
    for stack, path in SHIPPED.items():
        plan = make_plan(read_stack_file(path), stack=stack)
        for r in plan.run.resources:
            if r.type == "kubernetes:apps/v1:Deployment" and "-triton-" in r.name:
                (ctr,) = [c for c in r.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "triton"]
                assert ctr["command"] == ["tritonserver"]
                lists = out.setdefault(stack, [])
                if list(ctr["args"]) not in lists:
                    lists.append(list(ctr["args"]))
    return out


class RenderedServer(TritonServer):
    """tritonserver started with a Deployment's own flags (local paths, ports and addresses only)."""

    def __init__(self, args: list[str], repository, **kw) -> None:
        super().__init__(repository, **kw)
        self.rendered = args

    def command(self) -> list[str]:
        kept = [a for a in self.rendered if a.split("=", 1)[0] not in LOCAL]
        return [
            str(self.dist.binary), *kept,
            f"--model-repository={self.model_repository}",
            f"--backend-directory={self._backends()}", f"--cache-directory={self.dist.caches}",
            "--http-address=127.0.0.1", f"--http-port={self.http_port}",
            "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
            "--metrics-address=127.0.0.1", f"--metrics-port={self.metrics_port}",
            "--allow-sagemaker=false", "--allow-vertex-ai=false",
        ]


def test_each_server_is_the_release_it_claims(server, request):
    meta = server.get_json("/v2")
    assert meta["name"] == "triton"
    assert meta["version"] == EXPECTED[request.node.callspec.params["triton_dist"]]


@pytest.mark.parametrize("stack", sorted(SHIPPED))
def test_the_rendered_flags_are_accepted(stack, triton_dist, repository, tmp_path):
    lists = rendered_args()[stack]
    assert lists and all(any(a.startswith("--model-control-mode=") for a in args) for args in lists)
    for i, args in enumerate(lists):
        srv = RenderedServer(args, repository, workdir=tmp_path / str(i), dist=triton_dist)
        try:
            srv.start()  # --exit-on-error is the default: an unknown flag or value exits before ready
            assert srv.ready() and srv.ready("mlp"), args
            # The metrics endpoint our ServiceMonitor scrapes answers with Triton's families.
            status, body = http_get(f"http://127.0.0.1:{srv.metrics_port}/metrics")
            assert status == 200 and b"nv_inference_request_success" in body
        finally:
            srv.stop()


def test_an_unknown_flag_is_refused(triton_dist, repository, tmp_path):
    # Guards the test above: a flag the server does not know makes it exit instead of serving.
    srv = RenderedServer([*rendered_args()["staging"][0], "--no-such-flag=1"], repository, workdir=tmp_path,
                         dist=triton_dist, ready_timeout_s=30)
    with pytest.raises(ServerFailed):
        srv.start()
    log = srv.log()
    srv.stop()
    assert "no-such-flag" in log


# --- the pinned image's release, from its source ------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "data" / "triton"
# NGC container -> Triton server release tag (build.py DEFAULT_TRITON_VERSION_MAP at the tag:
# triton_container_version "26.04" at v2.68.0).
CONTAINER_RELEASE = {"26.04": "v2.68.0", "24.10": "v2.51.0"}


def declared_options(tag: str) -> set[str]:
    lines = (DATA / f"tritonserver_options_{tag}.txt").read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def flag_names(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0].removeprefix("--") for a in args}


def test_the_vendored_option_list_is_what_the_real_server_parses():
    # The extraction from command_line_parser.cc, checked on the one release we can run: the 2.51
    # binary's --help lists exactly the options the file names.
    dist = find_distribution(TOOL_SERVER)
    assert dist is not None, "python -m tests.tools.triton_server .venv/triton-2.51"
    env = {"LD_LIBRARY_PATH": str(dist.libs)} if dist.libs else {}
    out = subprocess.run([str(dist.binary), "--help"], capture_output=True, text=True, timeout=60, env=env)
    listed = set(re.findall(r"^\s*--([a-z0-9-]+)", out.stdout + out.stderr, flags=re.M))
    assert listed == declared_options("v2.51.0")


def test_the_pinned_image_declares_every_flag_we_render():
    from components.triton.args import DEFAULT_TRITON_IMAGE

    container = DEFAULT_TRITON_IMAGE.rsplit(":", 1)[1].removesuffix("-py3")
    pinned = declared_options(CONTAINER_RELEASE[container])
    rendered = set().union(*(flag_names(a) for lists in rendered_args().values() for a in lists))
    assert rendered and rendered <= pinned, sorted(rendered - pinned)
    # Every option the tested 2.51 server has is still declared by the pinned release: a flag that
    # passes the real-server tests cannot be one the pinned image dropped.
    assert declared_options("v2.51.0") <= pinned
    assert not flag_names(["--no-such-flag"]) <= pinned  # the check bites
