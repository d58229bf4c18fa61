"""AKS node auto-provisioning (NAP): a pool's AKSNodeClass and NodePools.

NAP is AKS's managed Karpenter (Azure/karpenter-provider-azure): AKS runs the controller and
serves the CRDs once the cluster's `nodeProvisioningProfile.mode` is Auto (the cluster component
sets it with this engine). gpufleet writes, per GPU pool, one `AKSNodeClass`
(karpenter.azure.com/v1beta1, the storage version at provider v1.14.2) and the NodePools of
`components.gpu_pool.karpenter.node_pools` (on-demand and spot: NAP cannot target capacity reservation groups, which
config validation refuses). Spot VMs are Delete-evicted with no price cap (NAP's only spot mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

from .. import PoolBuild
from . import AKSNODECLASS_API, aks_node_class
from .objects import node_class_and_pools

if TYPE_CHECKING:  # pragma: no cover
    from .. import GpuNodePoolArgs


def build_pool(parent: pulumi.ComponentResource, name: str, args: "GpuNodePoolArgs") -> PoolBuild:
    plan, target = args.plan, args.target
    if target is None:
        raise ValueError(f"pool {plan.name!r}: node auto-provisioning needs the cluster's KubernetesTarget")
    deps = [args.cluster.cluster_resource] if args.cluster.cluster_resource is not None else []
    native = node_class_and_pools(parent, name, plan, "azure", provider=target.provider, api_version=AKSNODECLASS_API,
                                  class_spec=aks_node_class(plan, tags=dict(args.tags)), depends_on=deps)
    return PoolBuild(autoscaler_groups={}, node_pools=native)
