"""The consumer example (stacks/examples/team_model_service): a separate Pulumi project that adds a
team's Triton service to an existing platform stack, run under the recording mocks with a mocked
StackReference carrying the platform's outputs."""

from __future__ import annotations

import atexit
import gc
import json
import py_compile
import runpy
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infra.plan.report import is_kubernetes_object, manifest
from infra.plan.runner import ProgramRun, run_program
from tests.support import assert_explicit_providers, validate_kubernetes_object

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "stacks/examples/team_model_service"
MAIN = EXAMPLE / "__main__.py"
SERVICE_MONITOR_SCHEMA = json.loads((ROOT / "tests/data/crds/servicemonitor.json").read_text())
PLATFORM = "org/gpufleet/prod"
BUCKET = "gpufleet-prod-usc1-models-3f2a"
KUBECONFIG = json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": []})


def platform_outputs(**region_over: Any) -> dict[str, Any]:
    """What the platform stack exports (infra/platform.py), for one GCP region."""
    region = {
        "cloud": "gcp", "region": "us-central1", "role": "primary", "clusterName": "gpufleet-prod-usc1",
        "servingNamespace": "gpufleet-serving",
        "gpuPools": {"l4": {"instanceType": "g2-standard-4",
                            "capacity": {"reserved": {"min": 2, "max": 2}, "on_demand": {"min": 1, "max": 1},
                                         "spot": {"min": 0, "max": 17}, "floor": 3}}},
        "modelStore": {"bucket": BUCKET, "uri": f"gs://{BUCKET}"},
    }
    region.update(region_over)
    return {"environment": "prod", "regions": {"usc1": region}, "kubeconfigs": {"usc1": KUBECONFIG}}


BUILD = Path(tempfile.mkdtemp(prefix="team-model-service-"))  # the example's build_dir (not the source tree)
atexit.register(shutil.rmtree, BUILD, True)


def run_example(config: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None,
                stack_name: str = PLATFORM) -> ProgramRun:
    config = {"build_dir": str(BUILD), **(config or {})}
    return run_program(
        lambda: runpy.run_path(str(MAIN), run_name="__main__"),
        stack="prod",
        config={f"gpufleet:{k}": v for k, v in config.items()},
        stack_reference_outputs={stack_name: outputs or platform_outputs()},
    )


@pytest.fixture(autouse=True)
def _collect_failed_programs():
    """A program that fails leaves pending asyncio tasks behind; collect them here, not at some
    later allocation (CPython 3.11.7's ast module trips over finalizers run mid-parse: "AST
    constructor recursion depth mismatch" when pytest rewrites a module imported afterwards)."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_example()


def deployments(run: ProgramRun) -> dict[str, dict]:
    return {manifest(r)["metadata"]["name"]: manifest(r) for r in run.by_type("kubernetes:apps/v1:Deployment")}


def container(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]["containers"][0]


def test_project_file() -> None:
    doc = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert doc["name"] == "team-model-service"
    assert doc["runtime"]["name"] == "python"
    assert doc["config"]["platform_stack"]["default"] == PLATFORM
    assert doc["config"]["pulumi:disable-default-providers"] == ["*"]
    py_compile.compile(str(EXAMPLE / "models/ranker/1/model.py"), doraise=True)


def test_reads_the_platform_through_a_stack_reference(run: ProgramRun) -> None:
    ref = run.one("pulumi:pulumi:StackReference")
    assert ref.inputs == {"name": PLATFORM}
    provider = run.one("pulumi:providers:kubernetes", "search-k8s")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.inputs["clusterIdentifier"] == "gpufleet-prod-usc1"
    assert_explicit_providers(run)


def test_publishes_the_team_repository_to_the_platform_store(run: ProgramRun) -> None:
    assert (BUILD / "models/stable/ranker/config.pbtxt").is_file()  # rendered where the config says
    objects = run.by_type("gcp:storage/bucketObject:BucketObject")
    assert sorted(o.inputs["name"] for o in objects) == [
        "teams/search/models/ranker/1/model.py", "teams/search/models/ranker/config.pbtxt"]
    assert {o.inputs["bucket"] for o in objects} == {BUCKET}
    assert all(o.provider.split("::")[-2] == "search-gcp" for o in objects)
    assert run.outputs["modelRepositories"] == {"stable": f"gs://{BUCKET}/teams/search/models"}


def test_runs_a_triton_service_in_the_platform_namespace(run: ProgramRun) -> None:
    deps = deployments(run)
    assert sorted(deps) == ["search-ranker-burst", "search-ranker-floor"]
    assert deps["search-ranker-floor"]["spec"]["replicas"] == 1
    for dep in deps.values():
        assert dep["metadata"]["namespace"] == "gpufleet-serving"
        args = container(dep)["args"]
        assert f"--model-repository=gs://{BUCKET}/teams/search/models" in args
        assert "--model-control-mode=explicit" in args and "--load-model=ranker" in args
        pod = dep["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "triton"  # the platform's store reader
        assert pod["nodeSelector"] == {"gpufleet.io/pool": "l4", "gpufleet.io/gpu": "L4",
                                       "cloud.google.com/compute-class": "gpufleet-l4"}
    # The platform owns the service account and the floor PriorityClass; the team creates neither.
    assert run.by_type("kubernetes:core/v1:ServiceAccount") == []
    assert run.by_type("kubernetes:scheduling.k8s.io/v1:PriorityClass") == []
    assert deps["search-ranker-floor"]["spec"]["template"]["spec"]["priorityClassName"] == "gpufleet-serving-floor"
    hpa = manifest(run.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler"))
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert run.outputs["httpEndpoint"] == "http://search-ranker.gpufleet-serving.svc.cluster.local:8000"
    for r in run.resources:
        if r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:helm") and r.custom \
                and not r.type.startswith("pulumi:providers"):
            assert r.provider.split("::")[-2] == "search-k8s", r.name


def test_every_kubernetes_object_is_schema_valid(run: ProgramRun) -> None:
    objects = [manifest(r) for r in run.resources if is_kubernetes_object(r)]
    # NetworkPolicy: the team's own allows through the serving namespace's default deny.
    assert {o["kind"] for o in objects} == {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                                            "ServiceMonitor", "NetworkPolicy"}
    (policy,) = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert policy["metadata"]["name"] == "search-ranker-allow-serving"
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "search-ranker"
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":
            jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
        else:
            validate_kubernetes_object(obj)


def test_canary_is_driven_by_config() -> None:
    run = run_example({"canary_image": "nvcr.io/nvidia/tritonserver:26.05-py3", "canary_weight": "25"})
    deps = deployments(run)
    canary = deps["search-ranker-canary"]
    assert container(canary)["image"] == "nvcr.io/nvidia/tritonserver:26.05-py3"
    assert canary["spec"]["replicas"] == 1  # next to floor 1 + burst 1: ~1/3 of the pods
    assert f"--model-repository=gs://{BUCKET}/teams/search/models-canary" in container(canary)["args"]
    rolled_back = run_example({"canary_image": "nvcr.io/nvidia/tritonserver:26.05-py3", "canary_weight": "25",
                               "canary_rollback": "true"})
    assert "search-ranker-canary" not in deployments(rolled_back)


def test_another_platform_stack_by_config() -> None:
    run = run_example({"platform_stack": "acme/gpufleet/staging"}, stack_name="acme/gpufleet/staging")
    assert run.one("pulumi:pulumi:StackReference").inputs == {"name": "acme/gpufleet/staging"}


@pytest.mark.parametrize("outputs, message", [
    (platform_outputs(cloud="aws", region="us-east-1"), "is aws/us-east-1"),
    (platform_outputs(gpuPools={"h100": {}}), "no GPU pool 'l4'"),
    ({"regions": {"use1": {}}, "kubeconfigs": {}}, "no region 'usc1'"),
])
def test_a_platform_that_does_not_match_fails_loudly(outputs: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        run_example(outputs=outputs)
