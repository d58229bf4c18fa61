"""Shared builders for the endpoint tests (no tests here).

`run_region_endpoints` composes what infra/platform.py will, per region: a created cluster, one
GPU pool, the region's model store, the rendered model repository, the TritonService and the
InferenceEndpoint; with two regions and a FailoverSpec, the DnsFailover after both. CRD-backed
objects are validated with jsonschema against the schemas kept under tests/data/crds (closed with
`strict_schema`), built-in kinds with the upstream OpenAPI schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pulumi

from components.load_balancer import EndpointSpec, FailoverSpec
from infra.plan.report import is_kubernetes_object, manifest
from infra.plan.runner import ProgramRun, run_program
from tests.components.test_triton_service import EMBED, PROJECT, RANKER, ZONES, make_plan
from tests.support import CRD_DIR, TAGS, strict_schema, validate_kubernetes_object

# (apiVersion, kind) -> schema file under tests/data/crds (to be registered in tests/support.py).
ENDPOINT_CRDS = {
    ("gateway.networking.k8s.io/v1", "GatewayClass"): "gateway.networking.k8s.io_v1_gatewayclass.json",
    ("gateway.networking.k8s.io/v1", "Gateway"): "gateway.networking.k8s.io_v1_gateway.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io_v1_httproute.json",
    ("gateway.networking.k8s.io/v1", "GRPCRoute"): "gateway.networking.k8s.io_v1_grpcroute.json",
    ("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy"): "envoy_gateway.envoyproxy.io_v1alpha1_envoyproxy.json",
    ("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy"):
        "envoy_gateway.envoyproxy.io_v1alpha1_backendtrafficpolicy.json",
}
SCHEMAS = {k: strict_schema(json.loads((CRD_DIR / f).read_text())) for k, f in ENDPOINT_CRDS.items()}

SERVICE = "kubernetes:core/v1:Service"
RELEASE = "kubernetes:helm.sh/v3:Release"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
HTTPROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
GRPCROUTE = "kubernetes:gateway.networking.k8s.io/v1:GRPCRoute"
BTP = "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy"
PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"
NS = "gpufleet-serving"
SECOND_REGION = {"aws": "us-west-2", "gcp": "us-east4", "azure": "westus3"}
FIRST_REGION = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}


def model_source(tmp: Path) -> Path:
    src = tmp / "artifacts"
    (src / "ranker" / "1").mkdir(parents=True, exist_ok=True)
    (src / "ranker" / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    (src / "embedder" / "1").mkdir(parents=True, exist_ok=True)
    (src / "embedder" / "1" / "model.onnx").write_bytes(b"\x08\x07onnx-placeholder")
    return src


def run_region_endpoints(cloud: str, endpoint: dict[str, Any], tmp: Path, *, environment: str = "prod",
                         failover: dict[str, Any] | None = None) -> ProgramRun:
    """One region ("r1"), or two ("r1" primary, "r2" standby) when `failover` is given."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.gpu_pool import GpuNodePool, GpuNodePoolArgs
    from components.load_balancer import (
        DnsFailover,
        DnsFailoverArgs,
        InferenceEndpoint,
        InferenceEndpointArgs,
        failover_side,
    )
    from components.storage import ModelStore, ModelStoreArgs, ModelStoreConfig
    from components.triton import ServingSpec, serve_region

    src = model_source(tmp)
    serving = ServingSpec.model_validate({"models": [RANKER.model_dump(), EMBED.model_dump()],
                                          "model_source_dir": str(src)})
    spec = EndpointSpec.model_validate(endpoint)
    names = ["r1", "r2"] if failover is not None else ["r1"]
    regions = {"r1": FIRST_REGION[cloud], "r2": SECOND_REGION[cloud]}

    def program() -> None:
        built: dict[str, Any] = {}
        for rname in names:
            region = regions[rname]
            provider = cloud_provider(f"{rname}-{cloud}", cloud=cloud, region=region, tags=TAGS,
                                      project_id=PROJECT if cloud == "gcp" else None)
            zones = ZONES[cloud] if region == FIRST_REGION[cloud] else [
                {"aws": f"{region}a", "azure": "1"}.get(cloud, f"{region}-a"),
                {"aws": f"{region}b", "azure": "2"}.get(cloud, f"{region}-b")]
            cluster_spec = {"create": {"version": "1.33", **({"zones": zones} if cloud != "gcp" else {})}}
            cluster = KubernetesCluster(
                rname,
                KubernetesClusterArgs(cloud=cloud, region=region, environment=environment, tags=TAGS,
                                      spec=ClusterSpec.model_validate(cluster_spec),
                                      cluster_name=f"gpufleet-{environment}-{rname}",
                                      project_id=PROJECT if cloud == "gcp" else None),
                opts=pulumi.ResourceOptions(providers=[provider]),
            )
            both = pulumi.ResourceOptions(providers=[provider, cluster.target.provider])
            if rname == "r1":
                plan = make_plan(cloud, environment)
            else:  # the standby: on-demand floor, no reservation, its own zones
                plan = make_plan(cloud, environment, capacity={"on_demand_base_nodes": 1, "max_nodes": 4})
                plan = plan.model_copy(update={"region": region, "zones": zones})
            pool = GpuNodePool(f"{rname}-gpu", GpuNodePoolArgs(plan=plan, tags=TAGS, cluster=cluster.build), opts=both)
            store = ModelStore(
                f"{rname}-models",
                ModelStoreArgs(cloud=cloud, region=region, environment=environment, region_name=rname, tags=TAGS,
                               name_seed="org/gpufleet/test", project_id=PROJECT if cloud == "gcp" else None,
                               config=ModelStoreConfig.model_validate(
                                   {"azure": {"shared_key_access": True}} if cloud == "azure" else {})),
                opts=pulumi.ResourceOptions(providers=[provider]),
                reader_identity=cluster.target,
            )
            triton = serve_region(rname, serving, target=cluster.target, pools=[pool], store=store,
                                  environment=environment, models_dir=tmp / "models")
            ep = InferenceEndpoint(
                f"{rname}-endpoint",
                InferenceEndpointArgs(spec=spec, target=cluster.target, service=triton, environment=environment,
                                      cluster=cluster.build, tags=TAGS, traffic_manager=failover is not None),
                opts=both,
            )
            built[rname] = (provider, cluster, ep)
            pulumi.export(f"{rname}-endpoint", ep.outputs())
        if failover is not None:
            f = FailoverSpec.model_validate(failover)
            provider, cluster, primary = built["r1"]
            _, cluster2, standby = built["r2"]
            sides = [failover_side("primary", "r1", primary, network_id=cluster.build.network_id),
                     failover_side("standby", "r2", standby, network_id=cluster2.build.network_id)]
            fo = DnsFailover("failover", DnsFailoverArgs(
                failover=f, cloud=cloud, primary=sides[0], standby=sides[1], tags=TAGS,
                project_id=PROJECT if cloud == "gcp" else None,
                resource_group_name=cluster.build.resource_group_name), provider=provider,
                opts=pulumi.ResourceOptions(providers=[provider]))
            pulumi.export("failoverFqdn", fo.fqdn)

    return run_program(program, stack=environment)


def validate_object(obj: dict) -> None:
    schema = SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
    if schema is not None:
        jsonschema.validate(obj, schema)
    else:
        validate_kubernetes_object(obj)


def endpoint_objects(run: ProgramRun, prefix: str = "r1-endpoint") -> list[dict]:
    return [manifest(r) for r in run.resources if is_kubernetes_object(r) and r.name.startswith(prefix)]


def by_kind(run: ProgramRun, kind: str, prefix: str = "r1-endpoint") -> dict[str, dict]:
    """metadata.name -> manifest of the endpoint's objects of `kind`."""
    return {o["metadata"]["name"]: o for o in endpoint_objects(run, prefix) if o["kind"] == kind}


def lb_service(run: ProgramRun, prefix: str = "r1-endpoint") -> dict:
    return manifest(run.one(SERVICE, f"{prefix}-lb"))
