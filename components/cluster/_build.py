"""What a per-cloud cluster module hands back to the neutral facade."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .._contracts import WorkloadIdentity


@dataclass(frozen=True)
class ClusterBuild:
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    # Plain (non-secret) kubeconfig text; the facade wraps it in Output.secret before any use.
    kubeconfig: pulumi.Output[str]
    identity: WorkloadIdentity
    created: bool
    # Cloud ids later components need (VPC id, subnet ids, node role ARN, resource group ...).
    network_id: pulumi.Output[str] | None = None
    subnet_ids: pulumi.Output[list[str]] | None = None
    node_role_arn: pulumi.Output[str] | None = None
    resource_group_name: pulumi.Output[str] | None = None
    # What node-pool components attach to (None for adopted clusters unless looked up):
    cluster_id: pulumi.Output[str] | None = None  # GKE cluster id / AKS managed cluster id
    node_service_account: pulumi.Output[str] | None = None  # GKE node service account email
    zones: tuple[str, ...] = ()  # zones of subnet_ids, in the same order (AWS created networks)
    cluster_resource: pulumi.Resource | None = None  # for depends_on ordering
    # Non-GPU pools created beside the cluster (AKS: the general agent pool), which GPU pools are
    # created after: AKS runs one agent-pool operation per cluster at a time.
    node_pools: tuple[pulumi.Resource, ...] = ()
    # AKS: principal id of the control-plane identity of an adopted cluster (created clusters: read
    # from cluster_resource), granted Contributor on capacity reservation groups.
    control_plane_principal_id: pulumi.Output[str] | None = None
