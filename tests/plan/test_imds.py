"""AKS pods cannot reach the instance metadata service (issue 16 item 10), as EKS pods cannot
(IMDS hop limit 1) and GKE pods see only the GKE metadata server."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pytest

from components.cluster.imds import IMDS_CIDR, POLICY_NAME, imds_egress_policy
from tests.plan.conftest import plan_for

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
IMDS = "169.254.169.254"


def _selected(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        value = labels.get(e["key"])
        if e["operator"] == "NotIn" and value in e["values"]:
            return False
        if e["operator"] == "In" and value not in e["values"]:
            return False
    return True


def egress_allowed(policies: list[Mapping[str, Any]], pod_labels: Mapping[str, str], ip: str, *,
                   to_pod: bool = False) -> bool:
    """Kubernetes semantics: a pod selected by no Egress policy may go anywhere; otherwise some rule
    must allow the peer. Pod peers match namespace selectors; external ones ipBlocks."""
    selecting = [p for p in policies if "Egress" in p["policyTypes"] and _selected(p["podSelector"], pod_labels)]
    if not selecting:
        return True
    for p in selecting:
        for rule in p.get("egress") or []:
            for peer in rule.get("to") or []:
                if to_pod and "namespaceSelector" in peer:
                    return True
                block = peer.get("ipBlock")
                if block and not to_pod:
                    addr = ipaddress.ip_address(ip)
                    if addr in ipaddress.ip_network(block["cidr"]) and not any(
                            addr in ipaddress.ip_network(x) for x in block.get("except") or []):
                        return True
    return False


def policies_by_namespace(stack: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in plan_for(stack).run.by_type(POLICY):
        if r.inputs["metadata"]["name"] == POLICY_NAME:
            out.setdefault(r.inputs["metadata"]["namespace"], []).append({**r.inputs["spec"], "_urn": r.urn})
    return out


def workload_namespaces(stack: str) -> set[str]:
    run = plan_for(stack).run
    spaces = {r.inputs.get("namespace") for r in run.by_type(RELEASE)}
    for r in run.resources:
        kind = r.type.rsplit(":", 1)[-1]
        if r.type.startswith("kubernetes:apps/") or kind in ("CronJob", "Job") or kind == "EnvoyProxy":
            spaces.add((r.inputs.get("metadata") or {}).get("namespace"))
    spaces.discard(None)
    if any(r.type.endswith(":EnvoyProxy") for r in run.resources):
        spaces.add("envoy-gateway-system")  # Envoy Gateway runs the proxies in its own namespace
    return spaces


def test_every_aks_namespace_with_pods_denies_imds_except_kube_system() -> None:
    covered = policies_by_namespace("dev")  # dev is the AKS stack
    expected = workload_namespaces("dev") - {"kube-system"}
    assert expected >= {"gpufleet-serving", "gpufleet-monitoring", "gpufleet-node-agents", "envoy-gateway-system"}
    assert set(covered) == expected
    # kube-system keeps IMDS: aks-node-termination-handler reads Scheduled Events from it.
    assert "kube-system" not in covered


@pytest.mark.parametrize("namespace,labels", [
    ("gpufleet-serving", {"app.kubernetes.io/name": "triton"}),
    ("gpufleet-monitoring", {"app.kubernetes.io/name": "grafana"}),
    ("gpufleet-node-agents", {"app.kubernetes.io/name": "dcgm-exporter"}),
    ("envoy-gateway-system", {"app.kubernetes.io/name": "envoy"}),
])
def test_pods_reach_everything_but_imds(namespace: str, labels: dict) -> None:
    policies = policies_by_namespace("dev")[namespace]
    assert not egress_allowed(policies, labels, IMDS)
    for ip in ("20.60.1.1", "10.0.3.4", "8.8.8.8"):  # Azure Blob, a private endpoint, the internet
        assert egress_allowed(policies, labels, ip)
    assert egress_allowed(policies, labels, "10.244.1.9", to_pod=True)  # other pods, CoreDNS


def test_prometheus_is_exempt_so_it_can_scrape_node_addresses() -> None:
    policies = policies_by_namespace("dev")["gpufleet-monitoring"]
    assert egress_allowed(policies, {"app.kubernetes.io/name": "prometheus"}, "10.0.0.5")


def test_triton_starts_after_the_serving_policy() -> None:
    run = plan_for("dev").run
    (policy,) = policies_by_namespace("dev")["gpufleet-serving"]
    triton = [r for r in run.resources if r.type == "kubernetes:apps/v1:Deployment" and "triton" in r.name]
    assert triton
    by_urn = {r.urn: r for r in run.resources}

    def ancestors_depend(r) -> bool:
        while r is not None:
            if policy["_urn"] in (r.options or {}).get("dependsOn", []):
                return True
            r = by_urn.get(r.parent)
        return False

    assert all(ancestors_depend(t) for t in triton)


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_eks_and_gke_stacks_rely_on_their_node_settings_instead(stack: str) -> None:
    assert policies_by_namespace(stack) == {}


def test_policy_manifest_is_pure_and_exact() -> None:
    doc = imds_egress_policy("ns", {"app": ["a", "b"]})
    assert doc["spec"]["egress"][1]["to"][0]["ipBlock"] == {"cidr": "0.0.0.0/0", "except": [IMDS_CIDR]}
    assert doc["spec"]["podSelector"] == {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["a", "b"]}]}
    assert IMDS_CIDR == "169.254.169.254/32"
