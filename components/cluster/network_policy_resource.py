"""The Pulumi side of components.cluster.network_policies: one `k8s.networking.v1.NetworkPolicy`
per pure manifest, built with the SDK's typed Args classes (so a misspelt field fails at plan time,
not in the cluster). Neutral: pulumi_kubernetes only, imported on first use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi


def _selector(sel: Mapping[str, Any] | None) -> Any:
    import pulumi_kubernetes as k8s

    sel = sel or {}
    return k8s.meta.v1.LabelSelectorArgs(
        match_labels=dict(sel["matchLabels"]) if sel.get("matchLabels") else None,
        match_expressions=[
            k8s.meta.v1.LabelSelectorRequirementArgs(key=e["key"], operator=e["operator"], values=e.get("values"))
            for e in sel.get("matchExpressions") or []
        ] or None,
    )


def _peer(peer: Mapping[str, Any]) -> Any:
    import pulumi_kubernetes as k8s

    block = peer.get("ipBlock")
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        ip_block=k8s.networking.v1.IPBlockArgs(cidr=block["cidr"], except_=block.get("except") or None)
        if block else None,
        namespace_selector=_selector(peer["namespaceSelector"]) if "namespaceSelector" in peer else None,
        pod_selector=_selector(peer["podSelector"]) if "podSelector" in peer else None,
    )


def _ports(rule: Mapping[str, Any]) -> Any:
    import pulumi_kubernetes as k8s

    if "ports" not in rule:
        return None
    return [k8s.networking.v1.NetworkPolicyPortArgs(port=p["port"], protocol=p.get("protocol", "TCP"))
            for p in rule["ports"]]


def network_policy(name: str, manifest: Mapping[str, Any], provider: pulumi.ProviderResource, *,
                   namespace: pulumi.Input[str] | None = None, opts: pulumi.ResourceOptions | None = None) -> Any:
    """Create the NetworkPolicy `manifest` (from network_policies.policy) as Pulumi resource `name`.
    `namespace` overrides the manifest's (pass the Namespace's output so the policy waits for it)."""
    import pulumi_kubernetes as k8s

    meta, spec = manifest["metadata"], manifest["spec"]
    return k8s.networking.v1.NetworkPolicy(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=meta["name"], namespace=namespace if namespace is not None else meta["namespace"],
                                            labels=dict(meta.get("labels") or {})),
        spec=k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=_selector(spec["podSelector"]),
            policy_types=list(spec["policyTypes"]),
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[_peer(p) for p in r["from"]] if r.get("from") else None, ports=_ports(r))
                for r in spec["ingress"]] if "ingress" in spec else None,
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[_peer(p) for p in r["to"]] if r.get("to") else None, ports=_ports(r))
                for r in spec["egress"]] if "egress" in spec else None,
        ),
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(provider=provider), opts),
    )
