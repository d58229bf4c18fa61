"""AKS: keep pods away from the instance metadata service (IMDS, 169.254.169.254).

On AKS any pod can ask IMDS for a token of the node pool's kubelet identity (which pulls images and
may hold more roles) and read the VM's metadata. EKS nodes stop that with an IMDS hop limit of 1 and
GKE with its metadata server; AKS offers `networkProfile.podLinkLocalAccess: None` only in preview
API versions, not in the azure-native version pinned here (API 2025-09-01). So gpufleet puts an
egress NetworkPolicy into each namespace it runs pods in: everything stays allowed except IMDS.

- Pod traffic is allowed by a namespace selector and the rest by `0.0.0.0/0 except IMDS`: with
  Azure CNI powered by Cilium an ipBlock never matches pod or node addresses, so pods need the
  selector rule to reach each other (CoreDNS included).
- Prometheus is exempt: it scrapes the kubelets and the hostNetwork node-exporter on node
  addresses, which Cilium lets no Kubernetes NetworkPolicy allow. It carries no cloud identity.
- kube-system is left alone: aks-node-termination-handler reads Scheduled Events from IMDS.
  Azure workload identity (model stores) needs no IMDS: it exchanges a projected service-account
  token with Entra ID. hostNetwork pods (node-exporter) are outside any NetworkPolicy.

Neutral: uses pulumi_kubernetes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

IMDS_CIDR = "169.254.169.254/32"
POLICY_NAME = "gpufleet-deny-instance-metadata"
# Pods that keep IMDS reachable, by namespace role (see the module docstring).
PROMETHEUS_POD_LABEL = ("app.kubernetes.io/name", "prometheus")


def imds_egress_policy(namespace: str, exempt: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The NetworkPolicy manifest (pure): every pod of `namespace` except the `exempt` label values
    (label key -> values) may reach anything but IMDS."""
    selector: dict[str, Any] = {}
    if exempt:
        selector = {"matchExpressions": [{"key": k, "operator": "NotIn", "values": sorted(v)}
                                         for k, v in sorted(exempt.items())]}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": POLICY_NAME, "namespace": namespace},
        "spec": {
            "podSelector": selector,
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"namespaceSelector": {}}]},
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [IMDS_CIDR]}}]},
            ],
        },
    }


def block_instance_metadata(
    name: str,
    namespace: pulumi.Input[str],
    provider: pulumi.ProviderResource,
    *,
    exempt: Mapping[str, Sequence[str]] | None = None,
    labels: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> Any:
    """The IMDS-denying NetworkPolicy in `namespace` (created after whatever `opts` depends on)."""
    import pulumi_kubernetes as k8s

    spec = imds_egress_policy("_", exempt)["spec"]
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=POLICY_NAME, namespace=namespace, labels=dict(labels or {})),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_expressions=[
                k8s.meta.v1.LabelSelectorRequirementArgs(key=e["key"], operator=e["operator"], values=e["values"])
                for e in spec["podSelector"].get("matchExpressions", [])
            ] or None),
            policy_types=["Egress"],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs())
                ]),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=[IMDS_CIDR])
                    )
                ]),
            ],
        ),
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(provider=provider), opts),
    )
