"""TritonService on EKS, GKE and AKS under the recording mocks.

Per cloud, the program composes what infra/platform.py will: a created cluster ("r1"), one GPU
pool with a hand-built prod plan (2 reserved + 1 on-demand floor, spot burst, max 10), the
region's model store with the cluster as reader, the rendered model repository published to it,
and the TritonService. Variants (dev, canary steps, schedules, explicit mode) use a light program
with a KubernetesTarget and BucketRef built directly. Every Kubernetes object is checked against
the upstream OpenAPI schema (strict) or the ServiceMonitor CRD schema kept under tests/data/crds.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
from pydantic import ValidationError

from components.gpu_pool import GpuPoolSpec
from components.gpu_pool.args import resolve_capacity
from components.gpu_pool.plan_types import CapacityRange, InstanceOffer, PoolCapacity, PoolPlan
from components.gpu_pool.planner import plan_capacity
from components.triton import (
    DEFAULT_TRITON_IMAGE,
    PoolFacts,
    ServingSpec,
    TritonModel,
    TritonServiceArgs,
    plan_serving,
    serving_issues,
    tracks,
)
from components.triton.args import KUBECTL_IMAGE, image_problem
from components.triton.repository import render_serving_repositories
from infra.plan.report import is_kubernetes_object, manifest
from infra.plan.runner import ProgramRun, run_program
from tests.support import TAGS, assert_explicit_providers, validate_kubernetes_object

ROOT = Path(__file__).resolve().parents[2]
SERVICE_MONITOR_SCHEMA = json.loads((ROOT / "tests/data/crds/servicemonitor.json").read_text())

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
SA = "kubernetes:core/v1:ServiceAccount"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
CRONJOB = "kubernetes:batch/v1:CronJob"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
TOKEN = "gpufleet:triton:TritonService"
NS = "gpufleet-serving"

REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
PROJECT = "gpufleet-test"
ZONES = {"aws": ["us-east-1a", "us-east-1b", "us-east-1c"], "gcp": ["us-central1-a", "us-central1-b", "us-central1-c"],
         "azure": ["1", "2", "3"]}
OFFERS = {
    "aws": InstanceOffer(instance_type="g6.xlarge", gpu_model="L4", gpus=1, gpu_memory_gib=24, vcpu=4, memory_gib=16),
    "gcp": InstanceOffer(instance_type="g2-standard-4", gpu_model="L4", gpus=1, gpu_memory_gib=24, vcpu=4,
                         memory_gib=16, accelerator="nvidia-l4"),
    "azure": InstanceOffer(instance_type="Standard_NC4as_T4_v3", gpu_model="T4", gpus=1, gpu_memory_gib=16, vcpu=4,
                           memory_gib=28),
}
RESERVATIONS = {
    "aws": {"id": "cr-0123456789abcdef0", "instance_type": "g6.xlarge", "zone": "us-east-1b"},
    "gcp": {"id": "l4-serving", "instance_type": "g2-standard-4", "zone": "us-central1-b"},
    "azure": {"id": "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-capacity/providers/"
                    "Microsoft.Compute/capacityReservationGroups/crg-t4", "instance_type": "Standard_NC4as_T4_v3",
              "zone": "2"},
}
IDENTITY_ANNOTATION = {"aws": "eks.amazonaws.com/role-arn", "gcp": "iam.gke.io/gcp-service-account",
                       "azure": "azure.workload.identity/client-id"}
SCHEME = {"aws": "s3://", "gcp": "gs://", "azure": "as://"}
SPOT_TOLERATION = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
                   "effect": "NoSchedule"}

RANKER = TritonModel(
    name="ranker", backend="python", max_batch_size=16,
    inputs=[{"name": "features", "data_type": "TYPE_FP32", "dims": [32]}],
    outputs=[{"name": "score", "data_type": "TYPE_FP32", "dims": [1]}],
)
EMBED = TritonModel(
    name="embedder", backend="onnxruntime", max_batch_size=32,
    inputs=[{"name": "input_ids", "data_type": "TYPE_INT64", "dims": [-1]}],
    outputs=[{"name": "embedding", "data_type": "TYPE_FP32", "dims": [384]}],
)
RANKER_V2 = RANKER.model_copy(update={"parameters": {"variant": "v2"}})
CANARY_IMAGE = "nvcr.io/nvidia/tritonserver:26.05-py3"


def make_plan(cloud: str, environment: str = "prod", capacity: dict | None = None) -> PoolPlan:
    default = {"reserved_nodes": 2, "reservation": RESERVATIONS[cloud], "on_demand_base_nodes": 1, "max_nodes": 10}
    pool = GpuPoolSpec.model_validate({"name": "gpu", "gpu": {"model": OFFERS[cloud].gpu_model}, "zones": ZONES[cloud],
                                       "capacity": default if capacity is None else capacity})
    cap = resolve_capacity(pool.capacity, environment)
    cp = plan_capacity(**cap.model_dump())
    return PoolPlan(
        name=pool.name, cloud=cloud, region=REGIONS[cloud], environment=environment, spec=pool, capacity_input=cap,
        capacity=PoolCapacity(reserved=CapacityRange(min=cp.reserved.min, max=cp.reserved.max),
                              on_demand=CapacityRange(min=cp.on_demand.min, max=cp.on_demand.max),
                              spot=CapacityRange(min=cp.spot.min, max=cp.spot.max), floor=cp.floor),
        instance=OFFERS[cloud], spot_instances=[OFFERS[cloud]], zones=list(pool.zones),
        reservation=pool.capacity.reservation, spot_notice_seconds={"aws": 120}.get(cloud, 30),
        spot_shutdown_seconds={"aws": 110, "gcp": 15, "azure": 25}[cloud],  # = the catalog's
    )


@pytest.fixture(scope="module")
def model_source(tmp_path_factory) -> Path:
    """The team's artifacts: a Python-backend model file per version, plus a stray editor file."""
    src = tmp_path_factory.mktemp("artifacts")
    (src / "ranker" / "1").mkdir(parents=True)
    (src / "ranker" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (src / "embedder" / "1").mkdir(parents=True)
    (src / "embedder" / "1" / "model.onnx").write_bytes(b"\x08\x07onnx-placeholder")
    return src


def run_full(cloud: str, spec: dict[str, Any], build_dir: Path, environment: str = "prod") -> ProgramRun:
    """Cluster + GPU pool + model store + published repository + TritonService, as the platform composes them."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.gpu_pool import GpuNodePool, GpuNodePoolArgs
    from components.storage import ModelStore, ModelStoreArgs, ModelStoreConfig
    from components.triton import serve_region

    region = REGIONS[cloud]
    plan = make_plan(cloud, environment)
    serving = ServingSpec.model_validate(spec)

    def program() -> None:
        provider = cloud_provider(f"r1-{cloud}", cloud=cloud, region=region, tags=TAGS,
                                  project_id=PROJECT if cloud == "gcp" else None)
        cluster_spec = {"create": {"version": "1.33", **({"zones": ZONES[cloud]} if cloud != "gcp" else {})}}
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(cloud=cloud, region=region, environment=environment, tags=TAGS,
                                  spec=ClusterSpec.model_validate(cluster_spec), cluster_name=f"gpufleet-{environment}-r1",
                                  project_id=PROJECT if cloud == "gcp" else None),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        both = pulumi.ResourceOptions(providers=[provider, cluster.target.provider])
        pool = GpuNodePool("r1-gpu", GpuNodePoolArgs(plan=plan, tags=TAGS, cluster=cluster.build), opts=both)
        store = ModelStore(
            "r1-models",
            ModelStoreArgs(cloud=cloud, region=region, environment=environment, region_name="r1", tags=TAGS,
                           name_seed="org/gpufleet/test", project_id=PROJECT if cloud == "gcp" else None,
                           config=ModelStoreConfig.model_validate(
                               {"azure": {"shared_key_access": True}} if cloud == "azure" else {})),
            opts=pulumi.ResourceOptions(providers=[provider]),
            reader_identity=cluster.target,
        )
        # What infra/platform.py calls per region (renders under <models_dir>/r1/, publishes, serves).
        triton = serve_region("r1", serving, target=cluster.target, pools=[pool], store=store,
                              environment=environment, models_dir=build_dir / "models")
        pulumi.export("storeUri", store.uri)
        pulumi.export("reader", store.reader)
        pulumi.export("repositories", triton.model_repositories)
        pulumi.export("http", triton.http_endpoint)

    return run_program(program, stack=environment)


def run_light(spec: dict[str, Any] | ServingSpec, *, cloud: str = "aws", environment: str = "prod",
              pool: PoolFacts | None = None, **extra: Any) -> ProgramRun:
    """TritonService alone: a bare Kubernetes provider, a placeholder target and BucketRef."""
    from components._contracts import KubernetesTarget, WorkloadIdentity
    from components.storage.ref import IDENTITY_KIND, bucket_ref
    from components.triton import TritonService

    serving = spec if isinstance(spec, ServingSpec) else ServingSpec.model_validate(spec)
    facts = pool or PoolFacts.from_plan(make_plan(cloud, environment))

    def program() -> None:
        import pulumi_kubernetes as k8s

        provider = k8s.Provider("r1-k8s", kubeconfig="{}")
        out = pulumi.Output.from_input
        target = KubernetesTarget(provider=provider, cluster_name=out("c"), cloud=cloud, region=REGIONS[cloud],
                                  environment=environment, identity=WorkloadIdentity(kind=IDENTITY_KIND[cloud]))
        ref = bucket_ref(cloud, REGIONS[cloud], out("models-bucket"), out("reader-id"),
                         account=out("acct") if cloud == "azure" else None)
        TritonService("r1-triton", TritonServiceArgs(spec=serving, target=target, pool=facts, store=ref,
                                                     environment=environment, **extra))

    return run_program(program, stack=environment)


@pytest.fixture(scope="module", params=["aws", "gcp", "azure"])
def cloud_run(request, model_source, tmp_path_factory) -> tuple[str, ProgramRun]:
    spec = {"models": [RANKER.model_dump(), EMBED.model_dump()], "model_source_dir": str(model_source)}
    return request.param, run_full(request.param, spec, tmp_path_factory.mktemp(f"build-{request.param}"))


# --- helpers ----------------------------------------------------------------------------------


def deployments(run: ProgramRun) -> dict[str, dict]:
    """role (floor, burst, canary) -> Deployment manifest."""
    return {r.name.removeprefix("r1-triton-"): manifest(r) for r in run.by_type(DEPLOYMENT)}


def pod(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]


def container(dep: dict) -> dict:
    (c,) = pod(dep)["containers"]
    return c


def flag(dep: dict, name: str) -> list[str]:
    return [a.split("=", 1)[1] for a in container(dep)["args"] if a.startswith(f"--{name}=")]


def env(dep: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(dep).get("env", [])}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def validate(obj: dict) -> None:
    if obj["kind"] == "ServiceMonitor":
        jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
    else:
        validate_kubernetes_object(obj)


def k8s_objects(run: ProgramRun) -> list[dict]:
    return [manifest(r) for r in run.resources if is_kubernetes_object(r)]


# --- the Deployments --------------------------------------------------------------------------


def test_objects_per_cloud(cloud_run) -> None:
    cloud, run = cloud_run
    assert sorted(deployments(run)) == ["burst", "floor"]
    kinds = sorted(o["kind"] for o in k8s_objects(run) if o["metadata"].get("namespace") == NS)
    assert kinds == ["Deployment", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget",
                     "Service", "ServiceAccount", "ServiceMonitor"]
    for obj in k8s_objects(run):
        if obj["metadata"].get("namespace") == NS:
            assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "triton"


def test_gpu_requests_equal_limits_and_cpu_memory_requests(cloud_run) -> None:
    _, run = cloud_run
    for role, dep in deployments(run).items():
        res = container(dep)["resources"]
        assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == "1", role
        assert res["requests"]["cpu"] == "2" and "cpu" not in res["limits"]  # no CPU throttling
        assert res["requests"]["memory"] == res["limits"]["memory"] == "8Gi"
        assert res["requests"]["ephemeral-storage"] == "50Gi"


def test_probes_sized_for_model_loading(cloud_run) -> None:
    _, run = cloud_run
    for dep in deployments(run).values():
        c = container(dep)
        startup, live, ready = c["startupProbe"], c["livenessProbe"], c["readinessProbe"]
        assert startup["httpGet"] == {"path": "/v2/health/ready", "port": "http", "scheme": "HTTP"}
        assert startup["failureThreshold"] * startup["periodSeconds"] >= 600
        assert live["httpGet"]["path"] == "/v2/health/live"
        assert ready["httpGet"]["path"] == "/v2/health/ready"
        assert live["failureThreshold"] * live["periodSeconds"] < 60  # a hung server is restarted quickly
        assert "--strict-readiness=true" in c["args"]


def test_dev_shm_and_tmp_are_bounded_empty_dirs(cloud_run) -> None:
    _, run = cloud_run
    for dep in deployments(run).values():
        volumes = {v["name"]: v for v in pod(dep)["volumes"]}
        assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
        assert volumes["tmp"]["emptyDir"] == {"sizeLimit": "50Gi"}
        mounts = {m["mountPath"]: m["name"] for m in container(dep)["volumeMounts"]}
        assert mounts == {"/dev/shm": "dshm", "/tmp": "tmp"}
        assert set(volumes) == {"dshm", "tmp"}  # no hostPath, no secret volumes


# (preStop, exit timeout, grace) of burst pods: they prefer spot, and a reclaimed spot node leaves a
# pod 110 s on EKS, 15 s on GKE, 25 s on AKS; the defaults (15 + 30, grace 60) are fitted to it.
BURST_SHUTDOWN = {"aws": (15, 30, 60), "gcp": (5, 8, 15), "azure": (8, 15, 25)}


def test_in_flight_requests_drain_before_the_kill(cloud_run) -> None:
    cloud, run = cloud_run
    deps = deployments(run)
    assert {"floor", "burst"} <= set(deps)
    for role, dep in deps.items():
        c = container(dep)
        drain = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        exit_timeout = int(flag(dep, "exit-timeout-secs")[0])
        grace = pod(dep)["terminationGracePeriodSeconds"]
        assert c["lifecycle"]["preStop"]["exec"]["command"][0] == "/bin/sleep"
        assert (drain, exit_timeout, grace) == ((15, 30, 60) if role == "floor" else BURST_SHUTDOWN[cloud]), role
        assert grace > drain + exit_timeout


def test_model_control_mode_and_repository(cloud_run) -> None:
    cloud, run = cloud_run
    store_uri = run.outputs["storeUri"]
    assert store_uri.startswith(SCHEME[cloud])
    assert run.outputs["repositories"] == {"stable": f"{store_uri}/models"}
    for dep in deployments(run).values():
        assert flag(dep, "model-control-mode") == ["none"]
        assert flag(dep, "model-repository") == [f"{store_uri}/models"]
        assert flag(dep, "load-model") == [] and flag(dep, "repository-poll-secs") == []
        assert container(dep)["command"] == ["tritonserver"]


def test_repository_is_published_under_the_prefix(cloud_run) -> None:
    cloud, run = cloud_run
    comp = run.one("gpufleet:storage:ModelRepository", "r1-triton-repo")
    objects = [r for r in run.resources if r.parent == comp.urn]
    keys = sorted(r.inputs.get("key") or r.inputs.get("name") or r.inputs.get("blobName") for r in objects)
    assert keys == ["models/embedder/1/model.onnx", "models/embedder/config.pbtxt",
                    "models/ranker/1/model.py", "models/ranker/config.pbtxt"]
    # The Deployments wait for every uploaded object.
    for r in run.by_type(DEPLOYMENT):
        assert {o.urn for o in objects} <= set(r.options["dependsOn"])


def test_workload_identity_without_static_keys(cloud_run) -> None:
    cloud, run = cloud_run
    sa = manifest(run.one(SA, "r1-triton-sa"))
    assert sa["metadata"]["name"] == "triton" and sa["metadata"]["namespace"] == NS
    assert sa["metadata"]["annotations"] == {IDENTITY_ANNOTATION[cloud]: run.outputs["reader"]}
    assert sa["automountServiceAccountToken"] is False
    for dep in deployments(run).values():
        spec = pod(dep)
        assert spec["serviceAccountName"] == "triton"
        assert spec["automountServiceAccountToken"] is False
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert (labels.get("azure.workload.identity/use") == "true") == (cloud == "azure")
        c = container(dep)
        assert "envFrom" not in c
        for name in env(dep):
            assert not any(word in name for word in ("KEY", "SECRET", "PASSWORD", "TOKEN", "CREDENTIAL")), name
        assert all("valueFrom" not in e for e in c["env"])


def test_region_env_per_cloud(cloud_run) -> None:
    cloud, run = cloud_run
    for dep in deployments(run).values():
        e = env(dep)
        assert e["HOME"] == "/tmp"
        if cloud == "aws":
            assert e["AWS_DEFAULT_REGION"] == REGIONS["aws"]
        else:
            assert "AWS_DEFAULT_REGION" not in e
        if cloud == "azure":
            assert e["AZURE_STORAGE_AUTH_TYPE"] == "default" and e["AZURE_STORAGE_ACCOUNT"]


def test_restricted_pod_security(cloud_run) -> None:
    _, run = cloud_run
    for dep in deployments(run).values():
        psc = pod(dep)["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 1000 and psc["fsGroup"] == 1000
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
        sc = container(dep)["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not any(k.startswith("host") for k in pod(dep))


def test_pinned_image(cloud_run) -> None:
    _, run = cloud_run
    for dep in deployments(run).values():
        image = container(dep)["image"]
        assert image == DEFAULT_TRITON_IMAGE == "nvcr.io/nvidia/tritonserver:26.04-py3"
        assert image_problem(image) is None


def test_floor_is_pinned_to_reserved_and_on_demand(cloud_run) -> None:
    cloud, run = cloud_run
    floor = deployments(run)["floor"]
    assert floor["spec"]["replicas"] == 3  # 2 reserved + 1 on-demand nodes, one GPU each
    affinity = pod(floor)["affinity"]["nodeAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [
        {"key": "gpufleet.io/capacity-type", "operator": "In", "values": ["reserved", "on-demand"]}]
    assert SPOT_TOLERATION not in pod(floor)["tolerations"]
    # Burst pods may take a floor node while no spot node exists; the floor preempts them.
    assert pod(floor)["priorityClassName"] == "gpufleet-serving-floor"
    assert "priorityClassName" not in pod(deployments(run)["burst"])
    pc = manifest(run.one("kubernetes:scheduling.k8s.io/v1:PriorityClass"))
    assert pc["metadata"]["name"] == "gpufleet-serving-floor" and "namespace" not in pc["metadata"]
    assert pc["value"] == 1000 and pc["globalDefault"] is False and pc["preemptionPolicy"] == "PreemptLowerPriority"
    # Exactly-sized floor nodes: never surge.
    assert floor["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}


def test_burst_prefers_spot_and_tolerates_the_aks_spot_taint(cloud_run) -> None:
    cloud, run = cloud_run
    burst = deployments(run)["burst"]
    assert "replicas" not in burst["spec"]  # the HPA owns it
    affinity = pod(burst)["affinity"]["nodeAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in affinity
    (pref,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert pref["weight"] == 100
    assert pref["preference"]["matchExpressions"] == [
        {"key": "gpufleet.io/capacity-type", "operator": "In", "values": ["spot"]}]
    assert (SPOT_TOLERATION in pod(burst)["tolerations"]) == (cloud == "azure")
    assert burst["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}


def test_pool_node_selector_and_taints(cloud_run) -> None:
    cloud, run = cloud_run
    for dep in deployments(run).values():
        selector = pod(dep)["nodeSelector"]
        expected = {"gpufleet.io/pool": "gpu", "gpufleet.io/gpu": OFFERS[cloud].gpu_model}
        if cloud == "gcp":
            expected["cloud.google.com/compute-class"] = "gpufleet-gpu"
        assert selector == expected
        tolerations = pod(dep)["tolerations"]
        assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"} in tolerations
        if cloud == "gcp":
            assert {"key": "cloud.google.com/compute-class", "operator": "Equal", "value": "gpufleet-gpu",
                    "effect": "NoSchedule"} in tolerations


def test_topology_spread_across_zones(cloud_run) -> None:
    _, run = cloud_run
    for role, dep in deployments(run).items():
        (tsc,) = pod(dep)["topologySpreadConstraints"]
        assert tsc["topologyKey"] == "topology.kubernetes.io/zone" and tsc["maxSkew"] == 1
        assert tsc["whenUnsatisfiable"] == "ScheduleAnyway"
        assert matches(tsc["labelSelector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"])
        assert tsc["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == role


def test_one_service_over_floor_and_burst(cloud_run) -> None:
    _, run = cloud_run
    svc = manifest(run.one(SERVICE, "r1-triton-service"))
    assert svc["metadata"]["name"] == "triton"
    assert {(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} == {
        ("http", 8000, "http"), ("grpc", 8001, "grpc"), ("metrics", 8002, "metrics")}
    for dep in deployments(run).values():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert matches(svc["spec"]["selector"], labels)
        assert labels["app.kubernetes.io/name"] == "triton"  # what the adapter rule and alerts select
    assert run.outputs["http"] == "http://triton.gpufleet-serving.svc.cluster.local:8000"


def test_pdb_keeps_the_floor(cloud_run) -> None:
    _, run = cloud_run
    pdb = manifest(run.one(PDB))
    assert pdb["spec"]["minAvailable"] == 3 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    for dep in deployments(run).values():
        assert matches(pdb["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"])


def test_hpa_on_queue_to_compute_ratio(cloud_run) -> None:
    _, run = cloud_run
    hpa = manifest(run.one(HPA))["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "triton-burst"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 7)  # pool holds 10; 3 are the floor
    assert hpa["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "triton_queue_compute_ratio"}, "target": {"type": "AverageValue", "averageValue": "1"}}}]
    up, down = hpa["behavior"]["scaleUp"], hpa["behavior"]["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 0 and up["selectPolicy"] == "Max"
    assert {p["type"]: p["value"] for p in up["policies"]} == {"Pods": 4, "Percent": 100}
    assert down["stabilizationWindowSeconds"] == 600 and down["selectPolicy"] == "Min"
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]
    assert run.one(HPA).options["ignoreChanges"] == []


def test_service_monitor_for_the_metrics_port(cloud_run) -> None:
    from components.monitoring import MONITOR_SELECTOR, TRITON_METRICS_PORT, TRITON_METRICS_PORT_NAME

    _, run = cloud_run
    sm = manifest(run.one(MONITOR))
    assert MONITOR_SELECTOR.items() <= sm["metadata"]["labels"].items()
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] == TRITON_METRICS_PORT_NAME == "metrics" and endpoint["path"] == "/metrics"
    svc = manifest(run.one(SERVICE, "r1-triton-service"))
    assert matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
    assert TRITON_METRICS_PORT in [p["port"] for p in svc["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert sm["spec"]["podTargetLabels"] == ["app.kubernetes.io/component", "gpufleet.io/track"]


def test_every_kubernetes_object_is_strictly_schema_valid(cloud_run) -> None:
    _, run = cloud_run
    objects = k8s_objects(run)
    assert any(o["kind"] == "ServiceMonitor" for o in objects)
    for obj in objects:
        validate(obj)


def test_children_parented_named_and_on_explicit_providers(cloud_run) -> None:
    _, run = cloud_run
    assert_explicit_providers(run)
    comp = run.one(TOKEN, "r1-triton")
    children = run.children_of(comp.urn)
    assert children
    for r in children:
        assert r.name.startswith("r1-triton-"), r.name
        assert r.provider.split("::")[-2] == "r1-k8s", (r.name, r.provider)
    names = [r.name for r in run.resources]
    assert len(names) == len(set(names))


# --- variants ---------------------------------------------------------------------------------


BASE = {"models": [RANKER.model_dump()]}


def test_dev_all_spot_has_no_floor() -> None:
    run = run_light(BASE, environment="dev", pool=PoolFacts.from_plan(make_plan("aws", "dev", {})))
    assert sorted(deployments(run)) == ["burst"]
    pdb = manifest(run.one(PDB))["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb
    hpa = manifest(run.one(HPA))["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 4)  # dev preset: 4 spot nodes
    for obj in k8s_objects(run):
        validate(obj)


def test_explicit_mode_loads_exactly_the_listed_models() -> None:
    run = run_light({**BASE, "models": [RANKER.model_dump(), EMBED.model_dump()], "model_control_mode": "explicit"})
    for dep in deployments(run).values():
        assert flag(dep, "model-control-mode") == ["explicit"]
        assert flag(dep, "load-model") == ["embedder", "ranker"]


def test_poll_mode_outside_prod_sets_the_interval() -> None:
    run = run_light({**BASE, "model_control_mode": "poll", "poll_seconds": 30}, environment="staging")
    assert flag(deployments(run)["burst"], "repository-poll-secs") == ["30"]


def test_custom_timings_and_hpa_target() -> None:
    spec = {**BASE, "startup_timeout_seconds": 1800, "drain_seconds": 20, "exit_timeout_seconds": 90,
            "hpa": {"target_queue_to_compute": 0.5, "min_burst_replicas": 2}}
    run = run_light(spec)
    floor, burst = deployments(run)["floor"], deployments(run)["burst"]
    startup = container(burst)["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] == 1800
    assert pod(floor)["terminationGracePeriodSeconds"] == 20 + 90 + 15
    assert flag(floor, "exit-timeout-secs") == ["90"]
    assert container(floor)["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sleep", "20"]
    # 20 + 90 s does not fit the 110 s an EKS spot reclaim leaves: burst pods keep the drain and
    # get the rest of the window (less 2 s) for in-flight requests.
    assert pod(burst)["terminationGracePeriodSeconds"] == 110
    assert flag(burst, "exit-timeout-secs") == ["88"]
    assert container(burst)["lifecycle"]["preStop"]["exec"]["command"] == ["/bin/sleep", "20"]
    hpa = manifest(run.one(HPA))["spec"]
    assert hpa["metrics"][0]["pods"]["target"]["averageValue"] == "500m"
    assert hpa["minReplicas"] == 2
    # The platform's SLO target applies when the spec leaves it unset.
    run = run_light(BASE, queue_to_compute_target=2.5)
    assert manifest(run.one(HPA))["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "2500m"


def test_existing_service_account_is_not_created() -> None:
    run = run_light({**BASE, "create_service_account": False, "service_account": "triton"})
    assert run.by_type(SA) == []
    assert all(pod(d)["serviceAccountName"] == "triton" for d in deployments(run).values())


@pytest.mark.parametrize("weight, expected", [(5, 1), (25, 2), (50, 4)])
def test_canary_replicas_follow_the_weight(weight: int, expected: int) -> None:
    spec = {**BASE, "canary": {"enabled": True, "weight_percent": weight, "image": CANARY_IMAGE,
                               "models": [RANKER_V2.model_dump()]}}
    run = run_light(spec)
    deps = deployments(run)
    assert sorted(deps) == ["burst", "canary", "floor"]
    canary = deps["canary"]
    # stable minimum = floor 3 + burst 1 = 4 pods; canary = ceil(4 * w / (100 - w)).
    assert canary["spec"]["replicas"] == expected == max(1, math.ceil(4 * weight / (100 - weight)))
    assert container(canary)["image"] == CANARY_IMAGE
    assert container(deps["floor"])["image"] == container(deps["burst"])["image"] == DEFAULT_TRITON_IMAGE
    assert flag(canary, "model-repository") == ["s3://models-bucket/models-canary"]
    assert flag(deps["burst"], "model-repository") == ["s3://models-bucket/models"]
    labels = canary["spec"]["template"]["metadata"]["labels"]
    assert labels["gpufleet.io/track"] == "canary" and labels["app.kubernetes.io/component"] == "canary"
    svc = manifest(run.one(SERVICE))
    assert matches(svc["spec"]["selector"], labels)  # same Service: traffic by replica ratio
    assert not matches(deps["burst"]["spec"]["selector"]["matchLabels"], labels)  # no selector overlap
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in pod(canary)["affinity"]["nodeAffinity"]
    comp = run.one(TOKEN)
    for obj in k8s_objects(run):
        validate(obj)
    assert comp.name == "r1-triton"


@pytest.mark.parametrize("canary", [
    {"enabled": True, "weight_percent": 0, "image": CANARY_IMAGE},
    {"enabled": True, "weight_percent": 25, "image": CANARY_IMAGE, "rollback": True},
    {"enabled": False, "weight_percent": 25, "image": CANARY_IMAGE},
], ids=["weight-0", "rollback", "disabled"])
def test_canary_removed_by_config(canary: dict) -> None:
    run = run_light({**BASE, "canary": canary})
    deps = deployments(run)
    assert sorted(deps) == ["burst", "floor"]
    assert all(container(d)["image"] == DEFAULT_TRITON_IMAGE for d in deps.values())
    assert list(tracks(ServingSpec.model_validate({**BASE, "canary": canary}))) == ["stable"]


def test_canary_at_100_promotes_into_the_stable_track(tmp_path: Path) -> None:
    spec = ServingSpec.model_validate({**BASE, "canary": {"enabled": True, "weight_percent": 100,
                                                          "image": CANARY_IMAGE, "models": [RANKER_V2.model_dump()]}})
    run = run_light(spec)
    deps = deployments(run)
    assert sorted(deps) == ["burst", "floor"]
    for dep in deps.values():
        assert container(dep)["image"] == CANARY_IMAGE
        assert flag(dep, "model-repository") == ["s3://models-bucket/models"]
    folders = render_serving_repositories(spec, tmp_path)
    assert list(folders) == ["stable"]
    assert 'key: "variant"' in (folders["stable"] / "ranker" / "config.pbtxt").read_text()


def test_canary_repository_is_published_beside_the_stable_one(model_source, tmp_path) -> None:
    spec = {"models": [RANKER.model_dump(), EMBED.model_dump()], "model_source_dir": str(model_source),
            "canary": {"enabled": True, "weight_percent": 5, "models": [RANKER_V2.model_dump(), EMBED.model_dump()]}}
    run = run_full("gcp", spec, tmp_path)
    assert sorted(deployments(run)) == ["burst", "canary", "floor"]
    uri = run.outputs["storeUri"]
    assert run.outputs["repositories"] == {"stable": f"{uri}/models", "canary": f"{uri}/models-canary"}
    canary_repo = run.one("gpufleet:storage:ModelRepository", "r1-triton-canary-repo")
    keys = sorted(r.inputs["name"] for r in run.resources if r.parent == canary_repo.urn)
    assert "models-canary/ranker/config.pbtxt" in keys and "models-canary/ranker/1/model.py" in keys
    uploads = {r.urn for r in run.resources if r.parent == canary_repo.urn}
    assert uploads and uploads <= set(run.one(DEPLOYMENT, "r1-triton-canary").options["dependsOn"])


def test_scheduled_windows_patch_one_hpa_with_least_privilege() -> None:
    spec = {**BASE, "schedules": [{"name": "weekday", "start": "0 8 * * 1-5", "end": "0 20 * * 1-5",
                                   "timezone": "Europe/Berlin", "min_replicas": 6}]}
    run = run_light(spec)
    jobs = {manifest(r)["metadata"]["name"]: manifest(r) for r in run.by_type(CRONJOB)}
    assert sorted(jobs) == ["triton-weekday-end", "triton-weekday-start"]
    start, end = jobs["triton-weekday-start"], jobs["triton-weekday-end"]
    assert (start["spec"]["schedule"], end["spec"]["schedule"]) == ("0 8 * * 1-5", "0 20 * * 1-5")
    assert start["spec"]["timeZone"] == "Europe/Berlin" and start["spec"]["concurrencyPolicy"] == "Forbid"

    def patch(job: dict) -> dict:
        (c,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert c["image"] == KUBECTL_IMAGE and image_problem(c["image"]) is None
        assert c["args"][:3] == ["patch", "horizontalpodautoscaler", "triton-burst"]
        assert c["securityContext"]["runAsNonRoot"] is True
        return json.loads(next(a for a in c["args"] if a.startswith("--patch=")).split("=", 1)[1])

    assert patch(start) == {"spec": {"minReplicas": 3}}  # 6 serving - 3 floor
    assert patch(end) == {"spec": {"minReplicas": 1}}  # back to the configured minimum
    role = manifest(run.one(ROLE))
    assert role["rules"] == [{"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"],
                              "resourceNames": ["triton-burst"], "verbs": ["get", "patch"]}]
    pod_spec = start["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == "triton-scaler"
    # The CronJobs own minReplicas; Pulumi must not reset it on every up.
    assert run.one(HPA).options["ignoreChanges"] == ["spec.minReplicas"]
    for obj in k8s_objects(run):
        validate(obj)


def test_gke_and_aks_light_objects_are_valid() -> None:
    for cloud in ("gcp", "azure"):
        run = run_light({**BASE, "canary": {"enabled": True, "weight_percent": 25, "image": CANARY_IMAGE}}, cloud=cloud)
        for obj in k8s_objects(run):
            validate(obj)


# --- config errors ----------------------------------------------------------------------------


POOLS = {"gpu": PoolFacts.from_plan(make_plan("aws")), "big": None}


def issue_paths(spec: dict, environment: str = "prod", pools=POOLS, **kw) -> dict[str, str]:
    return {path: allowed for path, _, allowed in serving_issues(ServingSpec.model_validate(spec), environment, pools, **kw)}


def test_a_valid_spec_has_no_issues() -> None:
    assert issue_paths(BASE) == {}
    assert issue_paths({**BASE, "pool": "big"}) == {}  # unplannable pool: capacity checks skipped


def test_poll_mode_is_refused_in_prod() -> None:
    assert "model_control_mode" in issue_paths({**BASE, "model_control_mode": "poll"})
    assert issue_paths({**BASE, "model_control_mode": "poll"}, environment="staging") == {}


def test_floor_above_the_pool_floor_and_zero_floor_in_prod() -> None:
    found = issue_paths({**BASE, "floor_replicas": 4})
    assert "at most 3" in found["floor_replicas"]
    assert "at least 1 in prod" in issue_paths({**BASE, "floor_replicas": 0})["floor_replicas"]
    spot_only = {"gpu": PoolFacts.from_plan(make_plan("aws", "prod", {"reserved_nodes": 0, "on_demand_base_nodes": 0}))}
    assert "at most 0" in issue_paths(BASE, pools=spot_only)["floor_replicas"]  # prod default 1 does not fit


def test_pool_must_exist() -> None:
    assert "one of the region's gpu_pools: gpu, big" in issue_paths({**BASE, "pool": "nope"})["pool"]
    assert "serving needs gpu_pools" in issue_paths(BASE, pools={})["pool"]


def test_exit_timeout_must_fit_the_grace_period() -> None:
    found = issue_paths({**BASE, "exit_timeout_seconds": 60, "termination_grace_period_seconds": 70})
    assert "more than drain_seconds + exit_timeout_seconds (75)" in found["termination_grace_period_seconds"]


def test_other_cross_field_issues() -> None:
    found = issue_paths({
        **BASE, "gpus_per_replica": 2, "shm_size_gib": 8, "max_replicas": 50,
        "schedules": [{"name": "a", "start": "0 8 * * *", "end": "0 8 * * *", "min_replicas": 2},
                      {"name": "a", "start": "0 9 * * *", "end": "0 10 * * *", "min_replicas": 2}],
        "canary": {"enabled": True, "weight_percent": 5},
    })
    assert set(found) == {"gpus_per_replica", "shm_size_gib", "schedules[0].end", "schedules[1].name", "canary"}
    found = issue_paths({**BASE, "max_replicas": 50, "cpu": 8, "memory_gib": 15,
                         "schedules": [{"name": "a", "start": "0 8 * * *", "end": "0 9 * * *", "min_replicas": 60}]})
    assert set(found) == {"max_replicas", "cpu", "memory_gib", "schedules[0].min_replicas"}
    assert "at most what pool gpu holds (10)" in found["max_replicas"]
    assert "at least floor_replicas + hpa.min_burst_replicas (4)" in issue_paths({**BASE, "max_replicas": 3})["max_replicas"]
    vllm = TritonModel(name="llm", backend="vllm", max_batch_size=0, vllm={"model": "m", "tensor_parallel_size": 2})
    assert "models[0].vllm.tensor_parallel_size" in issue_paths({"models": [vllm.model_dump()]})


def test_service_account_must_be_the_store_reader() -> None:
    from components.storage import ServiceAccountRef

    assert issue_paths(BASE, store_reader=ServiceAccountRef()) == {}
    found = issue_paths({**BASE, "service_account": "other"}, store_reader=ServiceAccountRef())
    assert "gpufleet-serving/triton" in found["service_account"]


@pytest.mark.parametrize("bad, path", [
    ({"image": "nvcr.io/nvidia/tritonserver:latest"}, "image"),
    ({"image": "nvcr.io/nvidia/tritonserver"}, "image"),
    ({"image": "tritonserver:26.04-py3"}, "image"),
    ({"canary": {"weight_percent": 101}}, "canary.weight_percent"),
    ({"canary": {"weight_percent": -5}}, "canary.weight_percent"),
    ({"canary": {"image": "nvcr.io/nvidia/tritonserver:latest"}}, "canary.image"),
    ({"model_control_mode": "auto"}, "model_control_mode"),
    ({"extra_args": ["--model-control-mode=poll"]}, "extra_args"),
    ({"models": []}, "models"),
    ({"models": [RANKER.model_dump(), RANKER.model_dump()]}, "models"),
    ({"schedules": [{"name": "x", "start": "every day", "end": "0 1 * * *", "min_replicas": 1}]}, "schedules.0.start"),
    ({"replicas": 3}, "replicas"),
])
def test_field_errors_name_their_path(bad: dict, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        ServingSpec.model_validate({**BASE, **bad})
    assert path in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_digest_pinned_images_are_accepted() -> None:
    digest = "nvcr.io/nvidia/tritonserver@sha256:" + "a" * 64
    assert ServingSpec.model_validate({**BASE, "image": digest}).image == digest
    assert image_problem("nvcr.io/nvidia/tritonserver:latest@sha256:" + "b" * 64) is None


# --- pure sizing and rendering ----------------------------------------------------------------


def test_plan_serving_defaults_from_the_pool() -> None:
    facts = PoolFacts.from_plan(make_plan("aws"))
    plan = plan_serving(ServingSpec.model_validate(BASE), facts, "prod")
    assert (plan.floor_replicas, plan.burst_min, plan.burst_max, plan.max_replicas) == (3, 1, 7, 10)
    assert plan.grace_seconds == 60 and plan.startup_failure_threshold == 60
    two_gpu = facts.model_copy(update={"gpus_per_node": 4})
    plan = plan_serving(ServingSpec.model_validate({**BASE, "gpus_per_replica": 2}), two_gpu, "prod")
    assert (plan.floor_replicas, plan.max_replicas) == (6, 20)
    dev = PoolFacts.from_plan(make_plan("aws", "dev", {}))
    assert plan_serving(ServingSpec.model_validate(BASE), dev, "dev").floor_replicas == 0
    assert plan_serving(ServingSpec.model_validate(BASE), dev, "prod").floor_replicas == 1


def test_rendering_is_deterministic_and_drops_stale_models(model_source, tmp_path) -> None:
    spec = ServingSpec.model_validate({"models": [RANKER.model_dump(), EMBED.model_dump()],
                                       "model_source_dir": str(model_source)})

    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(tmp_path)): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}

    render_serving_repositories(spec, tmp_path)
    first = snapshot()
    assert sorted(first) == ["stable/embedder/1/model.onnx", "stable/embedder/config.pbtxt",
                             "stable/ranker/1/model.py", "stable/ranker/config.pbtxt"]
    render_serving_repositories(spec, tmp_path)
    assert snapshot() == first
    render_serving_repositories(spec.model_copy(update={"models": [RANKER]}), tmp_path)
    assert sorted(snapshot()) == ["stable/ranker/1/model.py", "stable/ranker/config.pbtxt"]


def test_missing_source_folder_is_an_error(tmp_path) -> None:
    spec = ServingSpec.model_validate({**BASE, "model_source_dir": str(tmp_path / "nope")})
    with pytest.raises(FileNotFoundError, match="model_source_dir"):
        render_serving_repositories(spec, tmp_path / "out")


def test_relative_source_folders_resolve_against_the_base(model_source, tmp_path) -> None:
    spec = ServingSpec.model_validate({**BASE, "model_source_dir": model_source.name})
    folders = render_serving_repositories(spec, tmp_path, base_dir=model_source.parent)
    assert (folders["stable"] / "ranker" / "1" / "model.py").is_file()


def test_names_shared_with_monitoring_agree() -> None:
    from components.monitoring import ADAPTER_METRIC, TRITON_POD_LABEL
    from components.triton.monitor import QUEUE_COMPUTE_METRIC, TRITON_APP_LABEL

    assert QUEUE_COMPUTE_METRIC == ADAPTER_METRIC == "triton_queue_compute_ratio"
    assert ("app.kubernetes.io/name", TRITON_APP_LABEL) == TRITON_POD_LABEL


def test_service_monitor_schema_rejects_misspelled_fields() -> None:
    good = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
            "spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "15s"}]}}
    jsonschema.validate(good, SERVICE_MONITOR_SCHEMA)
    for broken in (
        {**good, "spec": {**good["spec"], "endpoint": []}},
        {**good, "spec": {"selector": {}, "endpoints": [{"port": "metrics", "interval": "15 seconds"}]}},
        {**good, "spec": {"endpoints": []}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SERVICE_MONITOR_SCHEMA)


# --- against a real tritonserver (nvidia-pytriton's; CPU) ---------------------------------------


def test_a_real_tritonserver_accepts_the_flags_and_loads_the_rendered_repository(tmp_path) -> None:
    """The flags TritonService gives Triton (explicit mode, --load-model, strict readiness, exit
    timeout, metrics) start a real server on the repository render_serving_repositories wrote; a
    model that is in the repository but not listed stays unloaded. Ports, addresses and GPU metrics
    stay the harness's (127.0.0.1, free ports, no GPU here)."""
    import os
    import shutil

    from components.triton.service import triton_flags
    from tests.serving.harness import FIXTURE_MODELS, TritonServer, find_distribution, http_get
    from tests.serving.models import noop_model

    if find_distribution() is None:
        if os.environ.get("GPUFLEET_REQUIRE_TRITON") == "1":
            pytest.fail("tritonserver not found (nvidia-pytriton)")
        pytest.skip("tritonserver not found (nvidia-pytriton)")
    spec = ServingSpec(models=[noop_model("noop", dim=8)], model_source_dir=str(FIXTURE_MODELS),
                       model_control_mode="explicit", exit_timeout_seconds=5)
    folders = render_serving_repositories(spec, tmp_path / "models")
    # A model in the store that explicit mode must leave alone (same code, not listed).
    shutil.copytree(folders["stable"] / "noop", folders["stable"] / "stray")
    cfg = folders["stable"] / "stray" / "config.pbtxt"
    cfg.write_text(cfg.read_text().replace('name: "noop"', 'name: "stray"'))

    flags = [f for f in triton_flags(spec, tracks(spec)["stable"])
             if not f.startswith(("--http-port", "--grpc-port", "--metrics-port", "--allow-gpu-metrics"))]
    assert "--load-model=noop" in flags and "--exit-timeout-secs=5" in flags
    with TritonServer(folders["stable"], extra_args=flags, workdir=tmp_path / "work") as server:
        assert server.ready("noop")
        assert not server.ready("stray")
        status, body = http_get(server.url + "/v2/health/live")
        assert status == 200
        status, _ = http_get(f"http://127.0.0.1:{server.metrics_port}/metrics")
        assert status == 200  # --allow-metrics: the ServiceMonitor's target


def test_serve_region_reads_a_replica_without_publishing() -> None:
    """A DR standby serves from the replica's BucketRef: no uploads there."""
    from types import SimpleNamespace

    from components._contracts import KubernetesTarget, WorkloadIdentity
    from components.storage.ref import bucket_ref
    from components.triton import serve_region

    plan = make_plan("gcp")
    pool = SimpleNamespace(plan=plan, node_labels={"gpufleet.io/pool": "gpu", "gpufleet.io/gpu": "L4",
                                                   "cloud.google.com/compute-class": "gpufleet-gpu"})

    def program() -> None:
        import pulumi_kubernetes as k8s

        out = pulumi.Output.from_input
        target = KubernetesTarget(provider=k8s.Provider("r2-k8s", kubeconfig="{}"), cluster_name=out("c"),
                                  cloud="gcp", region="us-east1", environment="prod", identity=WorkloadIdentity(kind="gke"))
        replica = bucket_ref("gcp", "us-east1", out("replica-bucket"), out("reader@p.iam.gserviceaccount.com"))
        serve_region("r2", ServingSpec.model_validate(BASE), target=target, pools=[pool], store_ref=replica,
                     environment="prod", models_dir="/nonexistent")

    run = run_program(program, stack="prod")
    assert run.by_type("gpufleet:storage:ModelRepository") == []
    for dep in deployments(run).values():
        assert flag(dep, "model-repository") == ["gs://replica-bucket/models"]
    sa = manifest(run.one(SA))
    assert sa["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": "reader@p.iam.gserviceaccount.com"}


def test_serve_region_argument_errors() -> None:
    from types import SimpleNamespace

    from components.triton import serve_region

    spec = ServingSpec.model_validate({**BASE, "pool": "nope"})
    pool = SimpleNamespace(plan=make_plan("aws"), node_labels={})
    with pytest.raises(ValueError, match="exactly one of store"):
        serve_region("r1", spec, target=None, pools=[pool], environment="prod", models_dir=".")
    with pytest.raises(ValueError, match="serving pool 'nope' is not one of"):
        serve_region("r1", spec, target=None, pools=[pool], environment="prod", models_dir=".", store_ref=object())
