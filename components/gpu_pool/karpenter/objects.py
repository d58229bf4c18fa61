"""A pool's node class and NodePools as Kubernetes custom resources (both engines)."""

from __future__ import annotations

from typing import Any

import pulumi

from . import NODE_CLASS, NODEPOOL_API, Flavor, node_class_name, node_pools
from ..plan_types import PoolPlan


def node_class_and_pools(parent: pulumi.Resource, name: str, plan: PoolPlan, flavor: Flavor, *,
                         provider: pulumi.ProviderResource, api_version: str, class_spec: dict[str, Any],
                         depends_on: list[pulumi.Resource]) -> dict[str, pulumi.Resource]:
    """The node class `gpu-<pool>` and one NodePool per capacity type (cluster-scoped), each
    NodePool after the class; returns capacity type -> NodePool."""
    import pulumi_kubernetes as k8s

    meta_labels = {"app.kubernetes.io/managed-by": "gpufleet", "gpufleet.io/pool": plan.name}
    node_class = k8s.apiextensions.CustomResource(
        f"{name}-nodeclass",
        api_version=api_version,
        kind=NODE_CLASS[flavor][1],
        metadata=k8s.meta.v1.ObjectMetaArgs(name=node_class_name(plan.name), labels=meta_labels),
        spec=class_spec,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on),
    )
    out: dict[str, pulumi.Resource] = {}
    for doc in node_pools(plan, flavor):
        out[doc.capacity_type] = k8s.apiextensions.CustomResource(
            f"{name}-{doc.capacity_type}-nodepool",
            api_version=NODEPOOL_API,
            kind="NodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=doc.name, labels=meta_labels),
            spec=doc.spec,
            opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[*depends_on, node_class]),
        )
    return out
