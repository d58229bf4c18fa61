"""Karpenter NodePools for a GPU pool (pure: no Pulumi import).

The same `PoolPlan` that compiles to EKS managed node groups or AKS agent pools compiles here to
Karpenter objects, used by two engines:

- `karpenter` on EKS: the open-source controller (aws/karpenter-provider-aws v1.14.1, installed
  by its Helm chart) with an `EC2NodeClass`;
- `node_auto_provisioning` on AKS: AKS's managed Karpenter (Azure/karpenter-provider-azure) with
  an `AKSNodeClass`.

One NodePool per capacity type with max > 0, as the node groups are:

- `reserved` (EKS only): `karpenter.sh/capacity-type In [reserved]`, with the reservation in the
  EC2NodeClass's `capacityReservationSelectorTerms` (the ReservedCapacity feature, beta and on by
  default since v1.6). AKS NAP offers on-demand and spot only (karpenter-provider-azure
  `WellKnownValuesForRequirements`), so a reservation cannot be targeted there.
- `on-demand` and `spot`, with the pool's instance types, zones, taints and labels.

Karpenter has no minimum size: a node exists while a pod needs it. The floor survives losing every
spot node because (1) the serving floor's pods require reserved/on-demand nodes (gpufleet's Triton
floor Deployment) and their PodDisruptionBudget keeps them, (2) the non-spot NodePools can hold
the whole floor (their `nvidia.com/gpu` limits cover it) and their requirements exclude spot, and
(3) a non-spot node is never consolidated away (budget `nodes: "0"` for the Empty and
Underutilized reasons) and never expires (`expireAfter: Never`); it is replaced only on drift
(a new AMI or settings), one node at a time, and Karpenter launches the replacement before it
drains the old node. That replacement counts against the NodePool's limits, so the on-demand
NodePool's limit carries the pool's `update.max_surge` as headroom (EKS node groups surge above
their max the same way); a reservation has no spare room, so the reserved NodePool has none.

Weights mirror the cluster autoscaler's priorities: reserved 30, spot 20, on-demand 10 (Karpenter
tries the highest weight first). Limits are counted in GPUs: `max_nodes x gpus_per_node`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..args import CAPACITY_LABEL, GPU_LABEL, POOL_LABEL
from ..plan_types import PoolPlan

Engine = Literal["node_groups", "karpenter", "node_auto_provisioning"]
Flavor = Literal["aws", "azure"]

# aws/karpenter-provider-aws v1.14.1 (2026-08-20): chart published as OCI version 1.14.1.
KARPENTER_VERSION = "1.14.1"
KARPENTER_CHART = ("oci://public.ecr.aws/karpenter/karpenter", KARPENTER_VERSION)
# The CRDs as their own release: Helm installs a chart's crds/ folder on install only, never on
# upgrade, so upstream publishes them as a chart of templates that upgrades with the controller.
KARPENTER_CRD_CHART = ("oci://public.ecr.aws/karpenter/karpenter-crd", KARPENTER_VERSION)
NODEPOOL_API = "karpenter.sh/v1"
EC2NODECLASS_API = "karpenter.k8s.aws/v1"
AKSNODECLASS_API = "karpenter.azure.com/v1beta1"  # storage version at karpenter-provider-azure v1.14.2

NODE_CLASS: dict[str, tuple[str, str]] = {
    "aws": ("karpenter.k8s.aws", "EC2NodeClass"),
    "azure": ("karpenter.azure.com", "AKSNodeClass"),
}
# Capacity types each engine can launch (karpenter.sh/capacity-type values).
CAPACITY_TYPES: dict[str, tuple[str, ...]] = {
    "aws": ("reserved", "on-demand", "spot"),
    "azure": ("on-demand", "spot"),
}
WEIGHTS: dict[str, int] = {"reserved": 30, "spot": 20, "on-demand": 10}
# Capacity type -> field of PoolCapacity.
_FIELDS = {"reserved": "reserved", "on-demand": "on_demand", "spot": "spot"}

CAPACITY_TYPE_KEY = "karpenter.sh/capacity-type"
INSTANCE_TYPE_KEY = "node.kubernetes.io/instance-type"
ZONE_KEY = "topology.kubernetes.io/zone"
GPU_RESOURCE = "nvidia.com/gpu"
# Spot nodes are repacked when they sit idle or underused; burst pods tolerate it.
SPOT_CONSOLIDATE_AFTER = "5m"
SPOT_BUDGET = "20%"
FLOOR_CONSOLIDATE_AFTER = "10m"


@dataclass(frozen=True)
class NodePoolDoc:
    """One NodePool to create: its cluster-scoped name, capacity type and spec."""

    name: str
    capacity_type: str
    spec: dict[str, Any]


def node_pool_name(pool: str, capacity_type: str) -> str:
    return f"gpu-{pool}-{capacity_type}"


def node_class_name(pool: str) -> str:
    return f"gpu-{pool}"


def aks_zone(region: str, zone: str) -> str:
    """AKS nodes' topology.kubernetes.io/zone label: <region>-<n> (eastus-1) for zone '1'."""
    return zone if "-" in zone else f"{region}-{zone}"


def disruption(capacity_type: str) -> dict[str, Any]:
    """Spot: consolidated freely. Reserved/on-demand: the floor; never consolidated, replaced on
    drift one node at a time."""
    if capacity_type == "spot":
        return {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": SPOT_CONSOLIDATE_AFTER,
                "budgets": [{"nodes": SPOT_BUDGET}]}
    return {
        "consolidationPolicy": "WhenEmpty",
        "consolidateAfter": FLOOR_CONSOLIDATE_AFTER,
        "budgets": [{"nodes": "0", "reasons": ["Empty", "Underutilized"]}, {"nodes": "1", "reasons": ["Drifted"]}],
    }


def headroom_nodes(plan: PoolPlan, capacity_type: str) -> int:
    """Nodes a NodePool's limit allows above the plan's max: a floor node's replacement on drift."""
    return plan.spec.update.max_surge if capacity_type == "on-demand" else 0


def node_pools(plan: PoolPlan, flavor: Flavor) -> list[NodePoolDoc]:
    """The pool's NodePools in the order reserved, on-demand, spot (max > 0 only)."""
    group, kind = NODE_CLASS[flavor]
    per_node = plan.instance.gpus
    zones = [aks_zone(plan.region, z) if flavor == "azure" else z for z in plan.zones]
    out: list[NodePoolDoc] = []
    for capacity_type in ("reserved", "on-demand", "spot"):
        rng = getattr(plan.capacity, _FIELDS[capacity_type])
        if rng.max <= 0:
            continue
        if capacity_type not in CAPACITY_TYPES[flavor]:
            raise ValueError(f"pool {plan.name!r}: {flavor} node auto-provisioning cannot launch {capacity_type} capacity")
        if capacity_type == "spot":
            types = [o.instance_type for o in plan.spot_instances] or [plan.instance.instance_type]
        else:
            types = [plan.instance.instance_type]
        pool_zones = [z for z in zones]
        if capacity_type == "reserved" and plan.reservation is not None:
            pool_zones = [plan.reservation.zone]
        requirements = [
            {"key": CAPACITY_TYPE_KEY, "operator": "In", "values": [capacity_type]},
            {"key": INSTANCE_TYPE_KEY, "operator": "In", "values": sorted(types)},
        ]
        if pool_zones:
            requirements.append({"key": ZONE_KEY, "operator": "In", "values": sorted(pool_zones)})
        template_spec: dict[str, Any] = {
            "nodeClassRef": {"group": group, "kind": kind, "name": node_class_name(plan.name)},
            "requirements": requirements,
            # Spot nodes are reclaimed anyway; floor nodes rotate only on drift.
            "expireAfter": "720h" if capacity_type == "spot" else "Never",
        }
        if plan.spec.taints:
            template_spec["taints"] = [{"key": t.key, "value": t.value, "effect": t.effect} if t.value
                                       else {"key": t.key, "effect": t.effect} for t in plan.spec.taints]
        labels = {**plan.spec.labels, POOL_LABEL: plan.name, GPU_LABEL: plan.instance.gpu_model,
                  CAPACITY_LABEL: capacity_type}
        spec = {
            "weight": WEIGHTS[capacity_type],
            "limits": {GPU_RESOURCE: str((rng.max + headroom_nodes(plan, capacity_type)) * per_node)},
            "disruption": disruption(capacity_type),
            "template": {"metadata": {"labels": labels}, "spec": template_spec},
        }
        out.append(NodePoolDoc(node_pool_name(plan.name, capacity_type), capacity_type, spec))
    return out


def ec2_node_class(plan: PoolPlan, *, role: Any, cluster_name: Any, tags: dict[str, str],
                   discovery_key: str = "karpenter.sh/discovery") -> dict[str, Any]:
    """EC2NodeClass spec: AL2023 (Karpenter picks the NVIDIA variant for GPU types), IMDSv2 with
    hop limit 1 (pods cannot borrow the node role), an encrypted gp3 root volume, subnets and
    security groups selected by the cluster's discovery tag, the reservation when there is one.
    `role` and `cluster_name` may be Pulumi outputs (this function only places them)."""
    release = plan.spec.driver.eks_ami_release_version
    alias = f"al2023@v{release.rsplit('-', 1)[-1]}" if release else "al2023@latest"
    spec: dict[str, Any] = {
        "role": role,
        "amiSelectorTerms": [{"alias": alias}],
        "subnetSelectorTerms": [{"tags": {discovery_key: cluster_name}}],
        "securityGroupSelectorTerms": [{"tags": {discovery_key: cluster_name}}],
        "metadataOptions": {"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
                            "httpPutResponseHopLimit": 1, "httpTokens": "required"},
        "blockDeviceMappings": [{
            "deviceName": "/dev/xvda",
            "rootVolume": True,
            "ebs": {"volumeSize": f"{plan.spec.disk_size_gib}Gi", "volumeType": "gp3", "encrypted": True,
                    "deleteOnTermination": True},
        }],
        "tags": dict(sorted(tags.items())),
    }
    res = plan.reservation
    if res is not None and plan.capacity.reserved.max > 0:
        spec["capacityReservationSelectorTerms"] = [{"id": res.id}]
    return spec


def aks_node_class(plan: PoolPlan, *, tags: dict[str, str]) -> dict[str, Any]:
    """AKSNodeClass spec: Ubuntu 22.04 (the image the AKS agent pools use), the pool's OS disk,
    the AKS-installed NVIDIA driver unless the pool brings the GPU Operator's."""
    return {
        "imageFamily": "Ubuntu2204",
        "osDiskSizeGB": plan.spec.disk_size_gib,
        "gpu": {"mode": "Driver" if plan.spec.driver.aks_install else "None"},
        "tags": dict(sorted(tags.items())),
    }


def floor_after_spot_loss(docs: list[NodePoolDoc], gpus_per_node: int) -> int:
    """Nodes the pool can still hold once every spot node is gone: the non-spot NodePools'
    GPU limits in nodes, counting only NodePools that never consolidate their nodes away and
    never launch spot."""
    kept = 0
    for d in docs:
        reqs = {r["key"]: r for r in d.spec["template"]["spec"]["requirements"]}
        cap = reqs.get(CAPACITY_TYPE_KEY)
        if cap is None or cap["operator"] != "In" or "spot" in cap["values"]:
            continue
        budgets = d.spec.get("disruption", {}).get("budgets", [])
        protected = {r for b in budgets if b.get("nodes") == "0" for r in b.get("reasons", [])}
        if not {"Empty", "Underutilized"} <= protected:
            continue
        kept += int(d.spec["limits"][GPU_RESOURCE]) // gpus_per_node
    return kept


def vm_vcpus(vm_size: str) -> int:
    """vCPUs of an Azure VM size from its name (Standard_D4s_v5 -> 4)."""
    import re

    m = re.match(r"^Standard_[A-Z]+(\d+)", vm_size)
    if not m:
        raise ValueError(f"cannot read the vCPU count of VM size {vm_size!r}")
    return int(m.group(1))


GENERAL_NODE_POOL = "general"


def general_node_pool(*, vm_size: str, min_nodes: int, max_nodes: int, zones: list[str], region: str,
                      labels: dict[str, str]) -> dict[str, Any] | None:
    """AKS NAP: the NodePool that adds general nodes above the fixed general agent pool (its
    minimum), up to the pool's max, of the same VM size; None when min == max."""
    extra = max_nodes - min_nodes
    if extra <= 0:
        return None
    requirements = [
        {"key": CAPACITY_TYPE_KEY, "operator": "In", "values": ["on-demand"]},
        {"key": INSTANCE_TYPE_KEY, "operator": "In", "values": [vm_size]},
    ]
    if zones:
        requirements.append({"key": ZONE_KEY, "operator": "In", "values": sorted(aks_zone(region, z) for z in zones)})
    return {
        "limits": {"cpu": str(extra * vm_vcpus(vm_size))},
        "disruption": {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": SPOT_CONSOLIDATE_AFTER,
                       "budgets": [{"nodes": "10%"}]},
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "nodeClassRef": {"group": NODE_CLASS["azure"][0], "kind": NODE_CLASS["azure"][1],
                                 "name": GENERAL_NODE_POOL},
                "requirements": requirements,
                "expireAfter": "720h",
            },
        },
    }
