"""Node pools of all three clouds in one neutral shape, for the node-pool and GPU rules.

Understood: EKS managed node groups (`aws:eks/nodeGroup:NodeGroup`), GKE node pools
(`gcp:container/nodePool:NodePool`), AKS agent pools (`azure-native:containerservice:AgentPool`)
the pools declared inline in an AKS cluster's `agentPoolProfiles`, and Karpenter NodePools
(`kubernetes:karpenter.sh/v1:NodePool`, EKS Karpenter and AKS node auto-provisioning). Self-managed ASGs carry
their taints in user data and are not understood (no finding either way).

GPU detection: an NVIDIA AMI type or a GPU instance family (EKS), guest accelerators or an
accelerator-optimized machine type (GKE), an N-series VM size (AKS). Model and GPUs per node come
from the explicit accelerator (GKE), the `gpufleet.io/gpu` label, the cluster-autoscaler node
template tag, or gpufleet's GPU catalog; when none says, they are unknown (can't tell).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from collections.abc import Iterator, Mapping
from typing import Any

from .model import UNKNOWN, Resource, as_list, get, is_unknown, known, num, truthy

EKS_NODEGROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_NODEPOOL = "gcp:container/nodePool:NodePool"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
AKS_AGENTPOOL = "azure-native:containerservice:AgentPool"
AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
# Karpenter (EKS) and AKS node auto-provisioning NodePools.
KARPENTER_NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
POOL_TYPES = (EKS_NODEGROUP, GKE_NODEPOOL, AKS_AGENTPOOL, AKS_CLUSTER, KARPENTER_NODEPOOL)

POOL_LABEL = "gpufleet.io/pool"
GPU_LABEL = "gpufleet.io/gpu"
CAPACITY_LABEL = "gpufleet.io/capacity-type"
GPU_RESOURCE = "nvidia.com/gpu"

AWS_GPU_FAMILY = re.compile(r"^(g3|g3s|g4dn|g4ad|g5|g5g|g6|g6e|g6f|gr6|p2|p3|p3dn|p4d|p4de|p5|p5e|p5en|p6)\.", re.I)
GCP_GPU_MACHINE = re.compile(r"^(a2|a3|a4|a4x|g2|g4)-", re.I)
AZURE_GPU_SIZE = re.compile(r"^Standard_N", re.I)

# GKE accelerator types -> gpufleet GPU model names (the catalog adds the ones it knows).
ACCELERATORS = {
    "nvidia-tesla-t4": "T4",
    "nvidia-l4": "L4",
    "nvidia-tesla-a100": "A100-40GB",
    "nvidia-a100-80gb": "A100-80GB",
    "nvidia-h100-80gb": "H100",
    "nvidia-h100-mega-80gb": "H100",
    "nvidia-h200-141gb": "H200",
    "nvidia-tesla-v100": "V100",
    "nvidia-tesla-p100": "P100",
    "nvidia-tesla-p4": "P4",
    "nvidia-b200": "B200",
}


@lru_cache(maxsize=None)
def catalog_instance(cloud: str, instance_type: str) -> tuple[str, int] | None:
    """(GPU model, GPUs per node) from gpufleet's catalog, or None (unknown type / no catalog)."""
    try:
        from infra.catalog import instance  # pure data; optional for consumers of the pack
    except Exception:  # pragma: no cover - the catalog ships with the pack
        return None
    try:
        offer = instance(cloud, instance_type)
    except Exception:
        return None
    return (offer.gpu_model, offer.gpus) if offer is not None else None


@lru_cache(maxsize=None)
def accelerator_model(accelerator: str) -> str:
    if accelerator in ACCELERATORS:
        return ACCELERATORS[accelerator]
    try:
        from infra.catalog import instance, instance_types

        for t in instance_types("gcp"):
            offer = instance("gcp", t)
            if offer is not None and offer.accelerator == accelerator:
                return offer.gpu_model
    except Exception:
        pass
    return accelerator  # unmapped: reported as the raw accelerator type


@dataclass
class Pool:
    """One native node pool (one capacity type)."""

    resource: Resource
    cloud: str
    name: str
    cluster: Any
    labels: Mapping[str, Any]
    is_gpu: bool | None
    gpu_model: Any = None  # str, or None when nobody says
    gpus_per_node: float | None = None
    spot: bool | None = False
    min_nodes: float | None = None
    max_nodes: float | None = None
    taints: Any = field(default_factory=list)  # [(key, value, effect)] or UNKNOWN
    accelerators: list[Mapping[str, Any]] = field(default_factory=list)
    public_ip: bool | None = None

    @property
    def logical_pool(self) -> Any:
        pool = self.labels.get(POOL_LABEL) if isinstance(self.labels, Mapping) else None
        return pool if known(pool) else (self.gpu_model if known(self.gpu_model) else "gpu")

    @property
    def capacity(self) -> str:
        if self.spot:
            return "spot"
        cap = self.labels.get(CAPACITY_LABEL) if isinstance(self.labels, Mapping) else None
        return cap if isinstance(cap, str) else "on-demand"

    @property
    def max_gpus(self) -> float | None:
        if self.max_nodes is None or self.gpus_per_node is None:
            return None
        return self.max_nodes * self.gpus_per_node


def _labels(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _effect(value: Any) -> Any:
    """NO_SCHEDULE / NoSchedule -> NoSchedule."""
    if not isinstance(value, str):
        return value
    return {"NO_SCHEDULE": "NoSchedule", "PREFER_NO_SCHEDULE": "PreferNoSchedule",
            "NO_EXECUTE": "NoExecute"}.get(value.upper(), value)


def _taint_objects(items: Any) -> Any:
    if is_unknown(items):
        return UNKNOWN
    out = []
    for t in as_list(items):
        if is_unknown(t) or not isinstance(t, Mapping):
            return UNKNOWN
        out.append((t.get("key"), t.get("value"), _effect(t.get("effect"))))
    return out


def _taint_strings(items: Any) -> Any:
    """AKS `key=value:Effect` strings."""
    if is_unknown(items):
        return UNKNOWN
    out = []
    for t in as_list(items):
        if not isinstance(t, str) or is_unknown(t):
            return UNKNOWN
        kv, _, effect = t.rpartition(":")
        key, _, value = kv.partition("=")
        out.append((key, value, effect))
    return out


def _eks(r: Resource) -> Pool:
    props = r.props
    labels = _labels(props.get("labels"))
    tags = _labels(props.get("tags"))
    types = [t for t in as_list(props.get("instanceTypes")) if isinstance(t, str) and known(t)]
    ami = props.get("amiType")
    is_gpu: bool | None = None
    model, per_node = labels.get(GPU_LABEL), None
    if isinstance(ami, str) and known(ami) and ("NVIDIA" in ami.upper() or ami.upper().endswith("_GPU")):
        is_gpu = True
    if types and any(AWS_GPU_FAMILY.match(t) for t in types):
        is_gpu = True
    elif types and is_gpu is None:
        is_gpu = False
    if known(labels.get(GPU_LABEL)):
        is_gpu = True
    tag_gpus = num(tags.get(f"k8s.io/cluster-autoscaler/node-template/resources/{GPU_RESOURCE}"))
    if tag_gpus:
        is_gpu, per_node = True, tag_gpus
    if types:
        found = catalog_instance("aws", types[0])
        if found is not None:
            model = model if known(model) else found[0]
            per_node = per_node or float(found[1])
    scaling = props.get("scalingConfig")
    cap = props.get("capacityType")
    return Pool(
        resource=r, cloud="aws", name=r.name, cluster=props.get("clusterName"), labels=labels, is_gpu=is_gpu,
        gpu_model=model if known(model) else None, gpus_per_node=per_node,
        spot=(cap.upper() == "SPOT") if isinstance(cap, str) and known(cap) else (None if is_unknown(cap) else False),
        min_nodes=num(get(scaling, "minSize")), max_nodes=num(get(scaling, "maxSize")),
        taints=_taint_objects(props.get("taints")),
    )


def _gke(r: Resource) -> Pool:
    props = r.props
    node = props.get("nodeConfig") if isinstance(props.get("nodeConfig"), Mapping) else {}
    labels = _labels(node.get("labels"))
    accels = [a for a in as_list(node.get("guestAccelerators")) if isinstance(a, Mapping)]
    machine = node.get("machineType")
    is_gpu: bool | None = bool(accels) or None
    model, per_node = labels.get(GPU_LABEL), None
    if accels:
        typ = accels[0].get("type")
        if isinstance(typ, str) and known(typ):
            model = model if known(model) else accelerator_model(typ)
        per_node = sum(num(a.get("count")) or 0 for a in accels) or None
    if isinstance(machine, str) and known(machine):
        if GCP_GPU_MACHINE.match(machine):
            is_gpu = True
            found = catalog_instance("gcp", machine)
            if found is not None:
                model = model if known(model) else found[0]
                per_node = per_node or float(found[1])
        elif is_gpu is None:
            is_gpu = False
    if known(labels.get(GPU_LABEL)):
        is_gpu = True
    auto = props.get("autoscaling")
    zones = props.get("nodeLocations")
    nzones = len(zones) if isinstance(zones, list) and not any(is_unknown(z) for z in zones) else None
    lo = hi = None
    if isinstance(auto, Mapping):
        lo, hi = num(auto.get("totalMinNodeCount")), num(auto.get("totalMaxNodeCount"))
        if lo is None and hi is None:
            per_zone_lo, per_zone_hi = num(auto.get("minNodeCount")), num(auto.get("maxNodeCount"))
            if nzones is not None:
                lo = per_zone_lo * nzones if per_zone_lo is not None else None
                hi = per_zone_hi * nzones if per_zone_hi is not None else None
            elif per_zone_lo == 0:
                lo = 0.0
    else:
        count = num(props.get("nodeCount"))
        if count is None:
            count = num(props.get("initialNodeCount"))
        if count is not None and nzones is not None:
            lo = hi = count * nzones
    spot = truthy(node.get("spot"))
    pre = truthy(node.get("preemptible"))
    return Pool(
        resource=r, cloud="gcp", name=r.name, cluster=props.get("cluster"), labels=labels, is_gpu=is_gpu,
        gpu_model=model if known(model) else None, gpus_per_node=per_node,
        spot=bool(spot or pre) if (spot is not None or pre is not None) else (
            None if is_unknown(node.get("spot")) or is_unknown(node.get("preemptible")) else False),
        min_nodes=lo, max_nodes=hi, taints=_taint_objects(node.get("taints")), accelerators=accels,
    )


def _aks_profile(r: Resource, p: Mapping[str, Any], cluster: Any, name: Any) -> Pool:
    labels = _labels(p.get("nodeLabels"))
    size = p.get("vmSize")
    is_gpu: bool | None = None
    model, per_node = labels.get(GPU_LABEL), None
    if isinstance(size, str) and known(size):
        is_gpu = bool(AZURE_GPU_SIZE.match(size))
        found = catalog_instance("azure", size)
        if found is not None:
            is_gpu = True
            model = model if known(model) else found[0]
            per_node = float(found[1])
    if known(labels.get(GPU_LABEL)):
        is_gpu = True
    auto = truthy(p.get("enableAutoScaling"))
    if auto:
        lo, hi = num(p.get("minCount")), num(p.get("maxCount"))
    else:
        lo = hi = num(p.get("count"))
    prio = p.get("scaleSetPriority")
    spot = (prio.lower() == "spot") if isinstance(prio, str) and known(prio) else (None if is_unknown(prio) else False)
    return Pool(
        resource=r, cloud="azure", name=str(name), cluster=cluster, labels=labels, is_gpu=is_gpu,
        gpu_model=model if known(model) else None, gpus_per_node=per_node,
        spot=spot,
        min_nodes=lo, max_nodes=hi, taints=_taint_strings(p.get("nodeTaints")),
        public_ip=truthy(p.get("enableNodePublicIP")),
    )


def _requirement(reqs: list[Any], key: str) -> list[str] | None:
    for q in reqs:
        if isinstance(q, Mapping) and q.get("key") == key and q.get("operator") == "In":
            vals = [v for v in as_list(q.get("values")) if isinstance(v, str) and known(v)]
            return vals
    return None


def _k8s_cluster_name(r: Resource) -> Any:
    """The cluster a Kubernetes object lives in: its provider's clusterIdentifier (gpufleet sets it to
    the cluster name), else the provider's URN."""
    if r.provider is None:
        return None
    ident = get(r.provider.props, "clusterIdentifier")
    return ident if isinstance(ident, str) and known(ident) else r.provider.urn


def _karpenter(r: Resource) -> Pool:
    """A Karpenter NodePool. It has no minimum size: `min_nodes` is what it keeps once every spot
    node is gone, i.e. its limit in nodes when it launches no spot and never consolidates its
    nodes away (budget nodes "0" for Empty and Underutilized), else 0. Max from its GPU limit."""
    spec = r.props.get("spec") if isinstance(r.props.get("spec"), Mapping) else {}
    tmpl = get(spec, "template") if isinstance(get(spec, "template"), Mapping) else {}
    labels = _labels(get(tmpl, "metadata.labels"))
    reqs = as_list(get(tmpl, "spec.requirements"))
    group = get(tmpl, "spec.nodeClassRef.group")
    cloud = "azure" if group == "karpenter.azure.com" else "aws"
    types = _requirement(reqs, "node.kubernetes.io/instance-type") or []
    caps = _requirement(reqs, "karpenter.sh/capacity-type")
    spot: bool | None = None if caps is None else ("spot" in caps)
    is_gpu: bool | None = None
    family = AWS_GPU_FAMILY if cloud == "aws" else AZURE_GPU_SIZE
    if types:
        is_gpu = any(family.match(t) for t in types)
    model, per_node = labels.get(GPU_LABEL), None
    if known(model):
        is_gpu = True
    if types:
        found = catalog_instance(cloud, types[0])
        if found is not None:
            model = model if known(model) else found[0]
            per_node = float(found[1])
    # get() splits on dots, and the resource name has one: read the map directly.
    limits = spec.get("limits")
    gpu_limit = num(limits.get(GPU_RESOURCE)) if isinstance(limits, Mapping) else None
    max_nodes = gpu_limit / per_node if gpu_limit is not None and per_node else None
    budgets = as_list(get(spec, "disruption.budgets"))
    protected = {reason for b in budgets if isinstance(b, Mapping) and str(b.get("nodes")) == "0"
                 for reason in as_list(b.get("reasons"))}
    kept = max_nodes if spot is False and {"Empty", "Underutilized"} <= protected else 0.0
    labels = {**labels, CAPACITY_LABEL: "spot" if spot else labels.get(CAPACITY_LABEL, "on-demand")}
    return Pool(
        # NodePools are cluster-scoped objects: the Kubernetes provider names the cluster.
        resource=r, cloud=cloud, name=str(get(r.props, "metadata.name") or r.name),
        cluster=_k8s_cluster_name(r),
        labels=labels, is_gpu=is_gpu, gpu_model=model if known(model) else None, gpus_per_node=per_node,
        spot=spot, min_nodes=kept, max_nodes=max_nodes, taints=_taint_objects(get(tmpl, "spec.taints")),
    )


def pools_of(r: Resource) -> Iterator[Pool]:
    """The node pools a resource declares (none for other types)."""
    if r.type == EKS_NODEGROUP:
        yield _eks(r)
    elif r.type == GKE_NODEPOOL:
        yield _gke(r)
    elif r.type == AKS_AGENTPOOL:
        yield _aks_profile(r, r.props, r.props.get("resourceName"), r.props.get("agentPoolName") or r.name)
    elif r.type == KARPENTER_NODEPOOL:
        yield _karpenter(r)
    elif r.type == AKS_CLUSTER:
        for i, p in enumerate(as_list(r.props.get("agentPoolProfiles"))):
            if isinstance(p, Mapping):
                yield _aks_profile(r, p, r.props.get("resourceName"), p.get("name") or f"{r.name}[{i}]")
