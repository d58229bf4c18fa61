"""Neutral types every component shares.

Nothing here imports a cloud SDK: Triton, monitoring and load-balancer code consume these and
are written once for all three clouds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pulumi

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pulumi_kubernetes as k8s

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "azure")

Environment = Literal["dev", "staging", "prod"]

# Kubernetes label values: 63 chars, alphanumerics, '-', '_', '.'; cloud tag rules are looser
# except GCP labels (lowercase), so tag values are validated against the strictest (GCP) rule.
GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class WorkloadIdentity:
    """How pods obtain cloud credentials without static keys.

    - aws: IRSA. `oidc_provider_arn` and `oidc_issuer_url` feed an IAM role trust policy;
      the service account is annotated `eks.amazonaws.com/role-arn`.
    - gcp: GKE workload identity. `workload_pool` is `<project>.svc.id.goog`; a GCP service
      account grants `roles/iam.workloadIdentityUser` to `serviceAccount:<pool>[ns/ksa]`.
    - azure: Entra workload identity. `oidc_issuer_url` is the federated credential issuer;
      the service account is annotated `azure.workload.identity/client-id`.
    """

    kind: Literal["irsa", "gke", "azure"]
    oidc_issuer_url: pulumi.Output[str] | None = None
    oidc_provider_arn: pulumi.Output[str] | None = None
    workload_pool: pulumi.Output[str] | None = None


@dataclass(frozen=True)
class NodeTaint:
    key: str
    value: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


@dataclass(frozen=True)
class KubernetesTarget:
    """The narrow waist: everything in-cluster is built against this, never against a cloud."""

    provider: "k8s.Provider"
    cluster_name: pulumi.Output[str]
    cloud: Cloud
    region: str
    environment: str
    identity: WorkloadIdentity
    # The GPU pools' taints, for node agents that must run on every GPU node (dcgm-exporter);
    # the platform fills it once the region's pools exist.
    gpu_node_taints: tuple[NodeTaint, ...] = ()


def cost_tags(environment: str, owner: str, cost_center: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The cost labels every taggable resource carries (keys valid on all three clouds)."""
    tags = {"environment": environment, "owner": owner, "cost-center": cost_center, "managed-by": "gpufleet"}
    tags.update(extra or {})
    return dict(sorted(tags.items()))
