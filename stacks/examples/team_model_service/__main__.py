"""team-model-service: a team adds its own Triton model service to an existing gpufleet platform.

The platform stack owns the cluster, the GPU pools, the model store and the serving namespace.
This stack reads them through a StackReference and adds, in the platform's serving namespace:

- the team's model repository, rendered from the TritonModel below plus the artifacts in
  ./models, published to the platform's store under teams/<team>/models;
- a TritonService for it (floor + burst Deployments, Service, PDB, HPA, ServiceMonitor, and a
  canary while `canary_weight` is set), on the platform's GPU pool, with the platform's
  `triton` service account (the store's workload identity trusts only that account) and the
  platform's floor PriorityClass. Both exist once the platform region runs serving.

Platform outputs read (per region under `regions.<platform_region>`): cloud, region,
clusterName, servingNamespace, gpuPools.<pool>, modelStore.bucket (+ modelStore.kmsKeyArn on
AWS; modelStore.account / modelStore.resourceGroup on Azure); and `kubeconfigs` (secret).
"""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components._cloud import cloud_provider
from components._contracts import KubernetesTarget, WorkloadIdentity
from components.storage.ref import IDENTITY_KIND
from components.triton import (
    ModelStoreReference,
    ModelStoreReferenceArgs,
    PoolFacts,
    ServingSpec,
    TritonModel,
    TritonService,
    TritonServiceArgs,
    publish_serving_repositories,
    serving_issues,
)
from components.triton.args import SERVING_NAMESPACE

HERE = Path(__file__).resolve().parent

cfg = pulumi.Config()
platform_stack = cfg.get("platform_stack") or "org/gpufleet/prod"
region_key = cfg.get("platform_region") or "usc1"
cloud = cfg.get("cloud") or "gcp"
region = cfg.get("region") or "us-central1"
project_id = cfg.get("project_id") or ("gpufleet-prod" if cloud == "gcp" else None)
environment = cfg.get("environment") or "prod"
team = cfg.get("team") or "search"
pool_name = cfg.get("pool") or "l4"
gpu_model = cfg.get("gpu") or "L4"
canary_image = cfg.get("canary_image")
canary_weight = cfg.get_int("canary_weight") or 0
canary_rollback = cfg.get_bool("canary_rollback") or False
build_dir = Path(cfg.get("build_dir") or HERE / "build")  # where the repository is rendered before upload

# --- the platform -----------------------------------------------------------------------------

platform = pulumi.StackReference(platform_stack)


def _site(regions: dict) -> dict:
    """This stack's region of the platform; fail loudly when it is not what the config says."""
    site = (regions or {}).get(region_key)
    if site is None:
        raise ValueError(f"{platform_stack} has no region {region_key!r} (regions: {sorted(regions or {})})")
    if (site.get("cloud"), site.get("region")) != (cloud, region):
        raise ValueError(f"{platform_stack} region {region_key!r} is {site.get('cloud')}/{site.get('region')}, "
                         f"this stack's config says {cloud}/{region}")
    if pool_name not in (site.get("gpuPools") or {}):
        raise ValueError(f"{platform_stack} region {region_key!r} has no GPU pool {pool_name!r}")
    if site.get("servingNamespace", SERVING_NAMESPACE) != SERVING_NAMESPACE:
        raise ValueError(f"the platform serves from {site['servingNamespace']!r}, not {SERVING_NAMESPACE!r}")
    if "modelStore" not in site:
        raise ValueError(f"{platform_stack} region {region_key!r} exports no modelStore")
    return site


site = platform.require_output("regions").apply(_site)
store_out = site.apply(lambda s: s["modelStore"])
kubeconfig = pulumi.Output.secret(platform.require_output("kubeconfigs").apply(lambda k: k[region_key]))

tags = {"environment": environment, "owner": f"team-{team}", "cost-center": "cc-4100", "managed-by": "gpufleet"}
provider = cloud_provider(f"{team}-{cloud}", cloud=cloud, region=region, tags=tags, project_id=project_id)
cluster = k8s.Provider(
    f"{team}-k8s",
    k8s.ProviderArgs(kubeconfig=kubeconfig, enable_server_side_apply=True,
                     cluster_identifier=site.apply(lambda s: s["clusterName"])),
)
target = KubernetesTarget(
    provider=cluster, cluster_name=site.apply(lambda s: s["clusterName"]), cloud=cloud, region=region,
    environment=environment, identity=WorkloadIdentity(kind=IDENTITY_KIND[cloud]),
)
store = ModelStoreReference(
    f"{team}-store",
    ModelStoreReferenceArgs(
        cloud=cloud, region=region, environment=environment,
        bucket=store_out.apply(lambda m: m["bucket"]),
        reader=store_out.apply(lambda m: m.get("reader") or ""),
        kms_key_arn=store_out.apply(lambda m: m.get("kmsKeyArn")) if cloud == "aws" else None,
        account=store_out.apply(lambda m: m.get("account")) if cloud == "azure" else None,
        resource_group=store_out.apply(lambda m: m.get("resourceGroup")) if cloud == "azure" else None,
    ),
    opts=pulumi.ResourceOptions(providers=[provider]),
)

# --- the team's model and service ---------------------------------------------------------------

ranker = TritonModel(
    name="ranker",
    backend="python",
    max_batch_size=16,
    inputs=[{"name": "features", "data_type": "TYPE_FP32", "dims": [32]}],
    outputs=[{"name": "score", "data_type": "TYPE_FP32", "dims": [1]}],
)
spec = ServingSpec(
    name=f"{team}-ranker",
    models=[ranker],
    model_source_dir=str(HERE / "models"),
    repository_prefix=f"teams/{team}/models",
    pool=pool_name,
    # The team's share of the pool's reserved/on-demand floor: the platform's serving block must
    # leave it free (its floor_replicas defaults to the whole pool floor).
    floor_replicas=1,
    max_replicas=4,
    cpu=2,
    memory_gib=8,
    model_control_mode="explicit",
    create_service_account=False,  # the platform's `triton` account carries the store identity
    canary={"enabled": canary_image is not None and canary_weight > 0, "image": canary_image,
            "weight_percent": canary_weight, "rollback": canary_rollback},
)
pool = PoolFacts.conventional(cloud, pool_name, gpu_model)
problems = serving_issues(spec, environment, {pool.name: pool})
if problems:
    raise pulumi.RunError("invalid team serving config:\n" + "\n".join(f"  - {p}: got {v!r}; allowed: {a}"
                                                                     for p, v, a in problems))

repositories = publish_serving_repositories(team, spec, store, build_dir / "models")
service = TritonService(
    f"{team}-ranker",
    TritonServiceArgs(spec=spec, target=target, pool=pool, store=store.ref, environment=environment,
                      namespace=SERVING_NAMESPACE, repositories=repositories,
                      priority_class="existing"),  # the platform's TritonService created it
)

pulumi.export("httpEndpoint", service.http_endpoint)
pulumi.export("grpcEndpoint", service.grpc_endpoint)
pulumi.export("modelRepositories", service.model_repositories)
pulumi.export("replicas", {"floor": service.plan.floor_replicas, "burstMax": service.plan.burst_max,
                           "canary": service.plan.canary_replicas})
