"""`build_platform(cfg)`: compose the components for one stack from a validated `PlatformConfig`.

Per region: an explicit cloud provider, a cluster (created or adopted), and the serving namespace.
Later issues add GPU pools, model stores, Triton, endpoints, monitoring and DR here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components._cloud import cloud_provider
from components._contracts import cost_tags
from components.cluster import KubernetesCluster, KubernetesClusterArgs
from components.monitoring.args import log_retention_days

from .config import PlatformConfig, RegionConfig, cluster_zones
from .pools import plan_pool

SERVING_NAMESPACE = "gpufleet-serving"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def platform_tags(cfg: PlatformConfig) -> dict[str, str]:
    """The cost tags every taggable resource of this stack carries."""
    return cost_tags(cfg.environment, cfg.tags.owner, cfg.tags.cost_center, cfg.tags.extra)


def cluster_name(cfg: PlatformConfig, region: RegionConfig) -> str:
    return f"gpufleet-{cfg.environment}-{region.name}"


@dataclass
class RegionBuild:
    """What later stack-level components (DR, endpoints) need of a region."""

    region: RegionConfig
    provider: pulumi.ProviderResource
    cluster: KubernetesCluster
    store: Any = None  # ModelStore, or None where the DR replica serves this region
    alarms: Any = None  # CloudAlarms, when monitoring is enabled
    monitoring: Any = None  # GpuMonitoring, when monitoring is enabled
    pools: list = field(default_factory=list)  # GpuNodePools
    namespace: Any = None  # the serving Namespace
    service: Any = None  # TritonService
    endpoint: Any = None  # InferenceEndpoint
    imds_blocks: list = field(default_factory=list)  # AKS: NetworkPolicies keeping pods off IMDS
    outputs: dict[str, Any] = field(default_factory=dict)


def name_seed() -> str:
    """Hashed into global bucket/account names so stacks and projects never collide."""
    return f"{pulumi.get_project()}/{pulumi.get_stack()}"


def build_region(cfg: PlatformConfig, region: RegionConfig, dr_plan: Any = None) -> RegionBuild:
    tags = platform_tags(cfg)
    provider = cloud_provider(
        f"{region.name}-{region.cloud}",
        cloud=region.cloud,
        region=region.region,
        tags=tags,
        project_id=_project(region),
        subscription_id=region.subscription_id,
    )
    cluster = KubernetesCluster(
        region.name,
        KubernetesClusterArgs(
            cloud=region.cloud,
            region=region.region,
            environment=cfg.environment,
            spec=region.cluster,
            tags=tags,
            cluster_name=cluster_name(cfg, region),
            project_id=_project(region),
            log_retention_days=log_retention_days(cfg.monitoring, cfg.environment),
        ),
        opts=pulumi.ResourceOptions(providers=[provider]),
    )
    namespace = _serving_namespace(region, cluster, tags)
    _serving_network_baseline(region, cluster, namespace)
    imds = [_block_imds(region, cluster, "serving", namespace.metadata.name)]
    pools, karpenter = _gpu_pools(cfg, region, cluster, provider, tags)
    store = _model_store(cfg, region, cluster, provider, tags, dr_plan)
    alarms = _cloud_alarms(cfg, region, cluster, provider, tags, pools)
    monitoring = _gpu_monitoring(cfg, region, cluster, provider, tags, pools)
    if monitoring is not None and karpenter is not None:
        karpenter.monitor(monitoring.monitor_selector, [monitoring.releases["kube-prometheus-stack"]])
    if monitoring is not None:
        from components.cluster.imds import PROMETHEUS_POD_LABEL

        key, value = PROMETHEUS_POD_LABEL
        imds += [_block_imds(region, cluster, "monitoring", monitoring.namespace, exempt={key: [value]}),
                 _block_imds(region, cluster, "node-agents", monitoring.node_agents_namespace)]
    outputs = {
        "cloud": region.cloud,
        "region": region.region,
        "role": region.role,
        "clusterName": cluster.cluster_name,
        "clusterCreated": cluster.created,
        "endpoint": cluster.endpoint,
        "oidcIssuerUrl": cluster.oidc_issuer_url,
        **({"oidcProviderArn": cluster.oidc_provider_arn} if region.cloud == "aws" else {}),
        **({"workloadPool": cluster.workload_pool} if region.cloud == "gcp" else {}),
        "servingNamespace": namespace.metadata.name,
        "gpuPools": {p.plan.name: {"instanceType": p.plan.instance.instance_type, "capacity": p.capacity} for p in pools},
        **({"modelStore": _store_outputs(region, store)} if store is not None else {}),
        "_kubeconfig": cluster.kubeconfig,
    }
    return RegionBuild(region=region, provider=provider, cluster=cluster, store=store, alarms=alarms,
                       monitoring=monitoring, pools=pools, namespace=namespace, outputs=outputs,
                       imds_blocks=[b for b in imds if b is not None])


def _block_imds(region: RegionConfig, cluster: KubernetesCluster, role: str, namespace, *, exempt=None,
                depends_on: list | None = None):
    """AKS only: deny the namespace's pods the instance metadata endpoint (EKS: hop limit 1; GKE:
    metadata server). See components.cluster.imds."""
    if region.cloud != "azure":
        return None
    from components.cluster.imds import block_instance_metadata

    return block_instance_metadata(
        f"{region.name}-{role}-deny-imds", namespace, cluster.target.provider, exempt=exempt,
        labels={"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"},
        opts=pulumi.ResourceOptions(parent=cluster, depends_on=depends_on or []),
    )


def _serving_network_baseline(region: RegionConfig, cluster: KubernetesCluster, namespace) -> list:
    """The serving namespace's default deny and DNS egress; each TritonService adds its allows
    (components.triton.network), so team services in the namespace bring their own."""
    from components.cluster.network_policies import namespace_baseline
    from components.cluster.network_policy_resource import network_policy

    return [network_policy(f"{region.name}-serving-netpol-{m['metadata']['name'].removeprefix('gpufleet-')}", m,
                           cluster.target.provider, namespace=namespace.metadata.name,
                           opts=pulumi.ResourceOptions(parent=cluster))
            for m in namespace_baseline(SERVING_NAMESPACE)]


def _project(region: RegionConfig) -> str | None:
    """The region's GCP project (an adopted cluster may name its own)."""
    return region.project_id or (region.cluster.adopt.project_id if region.cluster.adopt else None)


def _cloud_alarms(cfg: PlatformConfig, region: RegionConfig, cluster: KubernetesCluster, provider, tags, pools):
    """Cloud-native alarms that still fire when the in-cluster monitoring is down."""
    if not cfg.monitoring.enabled:
        return None
    from components.monitoring.cloud import CloudAlarms, CloudAlarmsArgs, watch_pools

    return CloudAlarms(
        f"{region.name}-alarms",
        CloudAlarmsArgs(spec=cfg.monitoring, cloud=region.cloud, region=region.region, environment=cfg.environment,
                        tags=tags, cluster=cluster.build, project_id=_project(region), gpu_pools=watch_pools(pools)),
        opts=pulumi.ResourceOptions(providers=[provider]),
    )


def _gpu_monitoring(cfg: PlatformConfig, region: RegionConfig, cluster: KubernetesCluster, provider, tags, pools):
    """kube-prometheus-stack, dcgm-exporter, prometheus-adapter, rules and dashboards in the cluster."""
    if not cfg.monitoring.enabled:
        return None
    import dataclasses

    from components.monitoring import GpuMonitoring, GpuMonitoringArgs

    # dcgm-exporter must tolerate every GPU pool's taints.
    taints = tuple(dict.fromkeys(t for p in pools for t in p.taints))
    target = dataclasses.replace(cluster.target, gpu_node_taints=taints)
    return GpuMonitoring(
        f"{region.name}-monitoring",
        GpuMonitoringArgs(spec=cfg.monitoring, target=target, environment=cfg.environment, tags=tags),
        opts=pulumi.ResourceOptions(providers=[provider, cluster.target.provider]),
    )


def models_dir() -> Path:
    """Where the program renders model repositories before publishing them (config
    `gpufleet:modelsDir`; default build/<stack>/models, relative to the project directory where
    `pulumi up` runs, so asset paths in the state do not depend on the checkout location)."""
    configured = pulumi.Config("gpufleet").get("modelsDir")
    return Path(configured) if configured else Path("build") / pulumi.get_stack() / "models"


def _serving(cfg: PlatformConfig, build: RegionBuild, builds: dict[str, RegionBuild], dr_plan, replication) -> None:
    """Triton on the region's GPU pools, reading the region's store (or, in the DR target, the replica)."""
    region = build.region
    if region.serving is None:
        return
    from components.triton import serve_region

    is_target = dr_plan is not None and dr_plan.target.name == region.name
    is_source = dr_plan is not None and dr_plan.source.name == region.name
    # The serving namespace's IMDS policy exists before any Triton pod starts.
    depends = [build.namespace, *build.imds_blocks] + ([build.monitoring] if build.monitoring is not None else [])
    service = serve_region(
        region.name, region.serving, target=build.cluster.target, pools=build.pools, environment=cfg.environment,
        models_dir=models_dir(), base_dir=PROJECT_ROOT,
        **({"store_ref": replication.replica_ref} if is_target else {"store": build.store}),
        queue_to_compute_target=cfg.monitoring.slo.queue_to_compute_target,
        monitoring=cfg.monitoring.enabled,
        # S3 replication copies only objects written after it exists.
        publish_opts=pulumi.ResourceOptions(depends_on=[replication]) if is_source and replication else None,
        opts=pulumi.ResourceOptions(depends_on=depends),
    )
    build.service = service
    build.outputs["serving"] = {"serviceName": service.service_name, "namespace": service.namespace,
                                "httpEndpoint": service.http_endpoint, "grpcEndpoint": service.grpc_endpoint,
                                "modelRepositories": service.model_repositories}


def _endpoint(cfg: PlatformConfig, build: RegionBuild) -> None:
    """The cloud load balancer in front of Envoy Gateway (rate limits) in front of Triton."""
    region = build.region
    if region.endpoint is None or build.service is None:
        return
    from components.load_balancer import InferenceEndpoint, InferenceEndpointArgs

    tags = platform_tags(cfg)
    build.endpoint = InferenceEndpoint(
        f"{region.name}-endpoint",
        InferenceEndpointArgs(spec=region.endpoint, target=build.cluster.target, service=build.service,
                              environment=cfg.environment, cluster=build.cluster.build, tags=tags,
                              traffic_manager=bool(cfg.failover and cfg.failover.enabled)),
        opts=pulumi.ResourceOptions(providers=[build.provider, build.cluster.target.provider],
                                    depends_on=[build.service]),
    )
    build.outputs["endpoint"] = build.endpoint.outputs()
    if build.endpoint.envoy_gateway is not None:
        from components.load_balancer.service import ENVOY_NAMESPACE

        # The Helm release creates the namespace; the policy follows it.
        block = _block_imds(region, build.cluster, "envoy", ENVOY_NAMESPACE, depends_on=[build.endpoint.envoy_gateway])
        if block is not None:
            build.imds_blocks.append(block)


def _failover(cfg: PlatformConfig, builds: dict[str, RegionBuild]) -> None:
    """A health-checked DNS name failing over from the primary's endpoint to the standby's."""
    if cfg.failover is None or not cfg.failover.enabled:
        return
    from components.load_balancer import DnsFailover, DnsFailoverArgs, failover_side, resolve_pair

    pi, si = resolve_pair(cfg.failover, cfg.regions)
    p, s = builds[cfg.regions[pi].name], builds[cfg.regions[si].name]
    tags = platform_tags(cfg)
    DnsFailover(
        "failover",
        DnsFailoverArgs(
            failover=cfg.failover, cloud=p.region.cloud, tags=tags, project_id=_project(p.region),
            resource_group_name=p.cluster.build.resource_group_name,
            primary=failover_side("primary", p.region.name, p.endpoint, network_id=p.cluster.build.network_id,
                                  project_id=_project(p.region)),
            standby=failover_side("standby", s.region.name, s.endpoint, network_id=s.cluster.build.network_id,
                                  project_id=_project(s.region)),
        ),
        provider=p.provider,
        opts=pulumi.ResourceOptions(providers=[p.provider]),
    )


def _budgets(cfg: PlatformConfig, builds: dict[str, RegionBuild]) -> None:
    """One monthly budget per cloud the stack uses, through that cloud's primary (else first) region."""
    budget = cfg.monitoring.budget
    if budget is None or not cfg.monitoring.enabled:
        return
    from components.monitoring.cloud import StackBudget, StackBudgetArgs

    tags = platform_tags(cfg)
    for cloud in cfg.clouds:
        candidates = [b for b in builds.values() if b.region.cloud == cloud]
        home = next((b for b in candidates if b.region.role == "primary"), candidates[0])
        StackBudget(
            f"budget-{cloud}",
            StackBudgetArgs(
                budget=budget, notifications=cfg.monitoring.notifications, cloud=cloud, environment=cfg.environment,
                tags=tags, project_id=_project(home.region),
                resource_group_name=home.cluster.build.resource_group_name,
                alarm_targets=home.alarms.targets if home.alarms is not None else None,
                azure_start_date=f"{budget.azure_start_month}-01" if budget.azure_start_month else None,
            ),
            opts=pulumi.ResourceOptions(providers=[home.provider]),
        )


def _store_outputs(region: RegionConfig, store) -> dict[str, Any]:
    """What a consumer stack needs to read (and publish into) the region's store."""
    out: dict[str, Any] = {"bucket": store.bucket_name, "uri": store.uri, "reader": store.reader}
    handle = store.handle
    if region.cloud == "aws" and handle.key_id is not None:
        out["kmsKeyArn"] = handle.key_id
    if region.cloud == "azure":
        out["account"] = handle.account_name
        out["resourceGroup"] = handle.resource_group_name
    return out


def _model_store(cfg: PlatformConfig, region: RegionConfig, cluster: KubernetesCluster, provider, tags, dr_plan):
    """The region's model store, unless it is the DR target (the replica serves it)."""
    from components.storage import ModelStore, ModelStoreArgs

    if dr_plan is not None and dr_plan.target.name == region.name:
        return None
    overrides = dr_plan.store_overrides if dr_plan is not None and dr_plan.source.name == region.name else {}
    return ModelStore(
        f"{region.name}-models",
        ModelStoreArgs(
            cloud=region.cloud, region=region.region, environment=cfg.environment, region_name=region.name,
            config=region.storage, tags=tags, name_seed=name_seed(),
            project_id=_project(region),
            **overrides,
        ),
        opts=pulumi.ResourceOptions(providers=[provider]),
        reader_identity=cluster.target,
    )


def _replication(cfg: PlatformConfig, builds: dict[str, RegionBuild], dr_plan) -> Any:
    from components.dr import ModelStoreReplication, ModelStoreReplicationArgs

    src, dst = builds[dr_plan.source.name], builds[dr_plan.target.name]
    tags = platform_tags(cfg)
    rep = ModelStoreReplication(
        f"{dr_plan.source.name}-dr",
        ModelStoreReplicationArgs(
            environment=cfg.environment, path=dr_plan.path, target_region=dr_plan.target.region,
            target_region_name=dr_plan.target.name, tags=tags, name_seed=name_seed(),
            target_project_id=dst.region.project_id, replica_encryption=cfg.dr.replica_encryption if cfg.dr else None,
        ),
        src.store,
        opts=pulumi.ResourceOptions(providers=[src.provider]),
        standby_provider=dst.provider,
        standby_identity=dst.cluster.target,
    )
    dst.outputs["modelStore"] = {"bucket": rep.replica_bucket, "uri": rep.replica_ref.uri, "replicaOf": src.region.name}
    return rep


def pool_plans(cfg: PlatformConfig, region: RegionConfig) -> list:
    """The region's decided pools (config validation already guaranteed they resolve)."""
    plans = []
    for pool in region.gpu_pools:
        engine, keep = capacity_engine(region.cluster)
        plan, problems = plan_pool(region.cloud, region.region, cfg.environment, pool, cluster_zones(region),
                                   zone_ids=region.aws_zone_ids, engine=engine, keep_node_groups=keep)
        assert plan is not None, problems
        plans.append(plan)
    return plans


def cluster_autoscaler_choice(spec: Any) -> str:
    """install on a created cluster; on an adopted one what `adopt.cluster_autoscaler` says (default existing)."""
    return spec.adopt.cluster_autoscaler if spec.adopt is not None else "install"


def capacity_engine(spec: Any) -> tuple[str, bool]:
    """(engine, keep_node_groups) of a cluster spec; adopted clusters keep node_groups."""
    if spec.create is None:
        return "node_groups", False
    return spec.create.capacity_engine, spec.create.keep_node_groups


def _gpu_pools(cfg: PlatformConfig, region: RegionConfig, cluster: KubernetesCluster, provider, tags: dict[str, str]):
    if not region.gpu_pools:
        return [], None
    from components.gpu_pool import GpuClusterAddons, GpuClusterAddonsArgs, GpuNodePool, GpuNodePoolArgs

    opts = pulumi.ResourceOptions(providers=[provider, cluster.target.provider])
    engine, keep = capacity_engine(region.cluster)
    controller = None
    if engine == "karpenter":
        from components.gpu_pool.karpenter.aws import KarpenterController, KarpenterControllerArgs

        controller = KarpenterController(
            f"{region.name}-karpenter",
            KarpenterControllerArgs(target=cluster.target, cluster=cluster.build, tags=tags), opts=opts)
    pools: list = []
    for plan in pool_plans(cfg, region):
        after = [*cluster.build.node_pools, *(r for p in pools for r in p.build.native_pools.values())]
        pools.append(GpuNodePool(f"{region.name}-{plan.name}",
                                 GpuNodePoolArgs(plan=plan, tags=tags, cluster=cluster.build, after=after,
                                                 engine=engine, keep_node_groups=keep, target=cluster.target,
                                                 karpenter=controller), opts=opts))
    GpuClusterAddons(
        f"{region.name}-gpu-addons",
        GpuClusterAddonsArgs(pools=pools, target=cluster.target, cluster=cluster.build, tags=tags,
                             environment=cfg.environment, cluster_autoscaler=cluster_autoscaler_choice(region.cluster),
                             engine=engine, keep_node_groups=keep),
        opts=opts,
    )
    return pools, controller


def _serving_namespace(region: RegionConfig, cluster: KubernetesCluster, tags: dict[str, str]):
    import pulumi_kubernetes as k8s

    labels = {
        # Pod Security Admission: serving pods must meet the "restricted" profile.
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        "app.kubernetes.io/managed-by": "gpufleet",
        "app.kubernetes.io/part-of": "gpufleet",
    }
    labels.update({k: v for k, v in tags.items() if k in ("environment", "owner", "cost-center")})
    return k8s.core.v1.Namespace(
        f"{region.name}-serving-ns",
        k8s.core.v1.NamespaceInitArgs(metadata=k8s.meta.v1.ObjectMetaArgs(name=SERVING_NAMESPACE, labels=labels)),
        opts=pulumi.ResourceOptions(parent=cluster, provider=cluster.target.provider),
    )


def build_platform(cfg: PlatformConfig) -> dict[str, Any]:
    """Build every region; return the stack outputs (kubeconfigs only as one secret map)."""
    from components.dr import plan_replication

    dr_plan = plan_replication(cfg.dr, cfg.regions, cfg.environment)
    builds = {region.name: build_region(cfg, region, dr_plan) for region in cfg.regions}
    replication = _replication(cfg, builds, dr_plan) if dr_plan is not None else None
    for build in builds.values():
        _serving(cfg, build, builds, dr_plan, replication)
        _endpoint(cfg, build)
    _failover(cfg, builds)
    _budgets(cfg, builds)
    regions: dict[str, Any] = {}
    kubeconfigs: dict[str, Any] = {}
    for name, build in builds.items():
        out = dict(build.outputs)
        kubeconfigs[name] = out.pop("_kubeconfig")
        regions[name] = out
    return {
        "environment": cfg.environment,
        "clouds": cfg.clouds,
        "primaryRegion": cfg.primary().name,
        "regions": regions,
        "kubeconfigs": pulumi.Output.secret(kubeconfigs),
    }
