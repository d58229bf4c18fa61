"""GPU node pools with reserved, on-demand and spot capacity on EKS, GKE and AKS.

`GpuNodePool` compiles one `PoolPlan` into the cloud's native pools (one per capacity type);
`GpuClusterAddons` installs, once per cluster, what makes the mix work: the autoscaler priority
(reserved, then spot, then on-demand), spot-interruption handling and the NVIDIA device plugin
where the cloud does not provide it. Per-cloud modules are imported only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
from pydantic import ConfigDict, Field

from .._contracts import KubernetesTarget, NodeTaint
from .._model import Args
from .args import CAPACITY_LABEL, GPU_LABEL, POOL_LABEL, CapacityMix, GpuPoolSpec, GpuSpec, Reservation
from .plan_types import PoolPlan

__all__ = [
    "GpuNodePool", "GpuNodePoolArgs", "GpuClusterAddons", "GpuClusterAddonsArgs", "PoolBuild",
    "GpuPoolSpec", "GpuSpec", "CapacityMix", "Reservation", "PoolPlan", "pool_labels",
]

POOL_TOKEN = "gpufleet:gpu_pool:GpuNodePool"
ADDONS_TOKEN = "gpufleet:gpu_pool:GpuClusterAddons"

# Where interruption handlers, device plugins and the autoscaler config live.
SYSTEM_NAMESPACE = "kube-system"


def pool_labels(plan: PoolPlan, capacity_type: str) -> dict[str, str]:
    """Node labels of one native pool: user labels + pool, GPU model and capacity type."""
    return {**plan.spec.labels, POOL_LABEL: plan.name, GPU_LABEL: plan.instance.gpu_model, CAPACITY_LABEL: capacity_type}


class GpuNodePoolArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    plan: PoolPlan = Field(..., description="The decided pool (catalog + capacity planner).")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags on every taggable child.")
    cluster: Any = Field(..., description="The cluster's ClusterBuild (ids the native pools attach to).")
    after: list[Any] = Field(
        default_factory=list,
        description="Native pools of earlier GpuNodePools on the same cluster to create after (AKS serialises "
        "agent-pool operations). Default: none.",
    )
    engine: Literal["node_groups", "karpenter", "node_auto_provisioning"] = Field(
        "node_groups",
        description="What provisions the nodes: node_groups (default: EKS managed node groups, GKE node pools, AKS "
        "agent pools, scaled by the cluster autoscaler), karpenter (EKS: Karpenter NodePools and an EC2NodeClass) "
        "or node_auto_provisioning (AKS: NAP NodePools and an AKSNodeClass).",
    )
    keep_node_groups: bool = Field(
        False,
        description="While moving from node_groups to another engine: keep the pool's node groups (and their floor) "
        "beside the new NodePools until the workloads have moved. Default false.",
    )
    target: Any = Field(None, description="The cluster's KubernetesTarget; required by the karpenter and NAP engines.")
    karpenter: Any = Field(None, description="The cluster's KarpenterController; required by the karpenter engine.")


@dataclass(frozen=True)
class PoolBuild:
    """What a per-cloud pool module hands back."""

    # capacity type (reserved | on-demand | spot) -> regexes matching the autoscaler's group names
    autoscaler_groups: dict[str, list[pulumi.Input[str]]]
    # capacity type -> native pool resource (for dependencies and outputs)
    native_pools: dict[str, pulumi.Resource] = field(default_factory=dict)
    # Extra node labels a workload must select to land here (GKE: its compute class).
    node_selector: dict[str, str] = field(default_factory=dict)
    # capacity type -> Karpenter/NAP NodePool custom resource (the karpenter and NAP engines)
    node_pools: dict[str, pulumi.Resource] = field(default_factory=dict)


ENGINE_MODULES = {"karpenter": "karpenter.aws", "node_auto_provisioning": "karpenter.azure"}


def _build(parent: pulumi.ComponentResource, name: str, args: GpuNodePoolArgs) -> PoolBuild:
    """The native pools of the pool's engine; during a migration, the node groups as well."""
    plan = args.plan
    if args.engine == "node_groups":
        return importlib.import_module(f"{__name__}.{plan.cloud}").build_pool(parent, name, args)
    engine = importlib.import_module(f"{__name__}.{ENGINE_MODULES[args.engine]}").build_pool(parent, name, args)
    if not args.keep_node_groups:
        return engine
    groups = importlib.import_module(f"{__name__}.{plan.cloud}").build_pool(parent, name, args)
    return PoolBuild(autoscaler_groups=groups.autoscaler_groups, native_pools=groups.native_pools,
                     node_selector=groups.node_selector, node_pools=engine.node_pools)


class GpuNodePool(pulumi.ComponentResource):
    """One GPU pool: native pools per capacity type with labels, taints and autoscaling bounds.

    Outputs: `capacity` (per capacity type min/max and the floor), `node_labels`, `taints`.
    """

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(POOL_TOKEN, name, None, opts)
        plan = args.plan
        self.build: PoolBuild = _build(self, name, args)
        self.plan = plan
        # What a workload selects to land on this pool (Triton builds its nodeSelector from it).
        self.node_labels = {POOL_LABEL: plan.name, GPU_LABEL: plan.instance.gpu_model, **self.build.node_selector}
        self.taints = tuple(NodeTaint(t.key, t.value, t.effect) for t in plan.spec.taints)
        self.capacity = plan.capacity.model_dump()
        self.register_outputs({
            "capacity": self.capacity,
            "instanceType": plan.instance.instance_type,
            "zones": plan.zones,
            "nodeLabels": self.node_labels,
            "taints": [t.model_dump() for t in plan.spec.taints],
            "engine": args.engine,
        })


class GpuClusterAddonsArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    pools: list[Any] = Field(..., description="The region's GpuNodePool components.")
    target: Any = Field(..., description="The cluster's KubernetesTarget.")
    cluster: Any = Field(..., description="The cluster's ClusterBuild.")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags on every taggable child.")
    environment: str = Field(..., description="dev, staging or prod.")
    cluster_autoscaler: Literal["install", "existing"] = Field(
        "install",
        description="EKS: install (default) the cluster autoscaler (priority expander, its ConfigMap, IRSA role); "
        "existing: the cluster already runs one (an adopted cluster), so none is installed and the priorities "
        "document is returned as the `autoscaler_priorities` output to merge into its ConfigMap. GKE and AKS run "
        "their managed autoscaler either way.",
    )
    engine: Literal["node_groups", "karpenter", "node_auto_provisioning"] = Field(
        "node_groups", description="The pools' engine (see GpuNodePoolArgs.engine); default node_groups.")
    keep_node_groups: bool = Field(False, description="The pools keep their node groups beside the engine's NodePools.")

    @property
    def node_groups(self) -> bool:
        """Whether any GPU node group (and so the autoscaler priorities and NTH) exists."""
        return self.engine == "node_groups" or self.keep_node_groups


class GpuClusterAddons(pulumi.ComponentResource):
    """Once per cluster with GPU pools: autoscaler priority, spot-interruption handling, and the
    NVIDIA device plugin where the cloud does not install it. Pass the k8s and cloud providers
    in `opts.providers`."""

    def __init__(self, name: str, args: GpuClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ADDONS_TOKEN, name, None, opts)
        target: KubernetesTarget = args.target
        impl = importlib.import_module(f"{__name__}.{target.cloud}")
        outputs = impl.build_addons(self, name, args) or {}
        # EKS: the priority expander document (reserved > spot > on-demand > everything else).
        self.autoscaler_priorities = outputs.get("autoscalerPriorities")
        self.register_outputs(outputs)
