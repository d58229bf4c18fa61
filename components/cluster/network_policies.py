"""NetworkPolicy building blocks (pure: plain dicts in the Kubernetes camelCase shape, no Pulumi).

Every namespace gpufleet creates and runs pods in (serving, monitoring, node agents) gets a
**default deny** (`podSelector: {}`, Ingress and Egress, no rules) and **DNS egress** for every pod
(kube-dns/CoreDNS in kube-system, UDP and TCP 53); each workload then gets explicit allows from the
component that runs it (`components.triton.network`, `components.monitoring.in_cluster.network`).
NetworkPolicies are additive: a pod may send or receive what any policy selecting it allows.

Traffic to the outside (the Kubernetes API server, the model store, the cloud identity endpoints) is
allowed as `0.0.0.0/0 except 169.254.169.254/32` on the exact ports: the API server's and the
stores' addresses are not knowable offline, and the `except` keeps the guarantee of the AKS IMDS
policy (components.cluster.imds) that no gpufleet allow ever reaches the instance metadata service.
The only rule that names a metadata address is GKE's metadata server for Triton's workload identity.

`selects` and `allowed` evaluate policies the way Kubernetes does (for tests and checks).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .imds import IMDS_CIDR

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set on every namespace by the API server
KUBE_SYSTEM = "kube-system"
# CoreDNS (EKS, AKS) and kube-dns (GKE) pods both carry this label.
KUBE_DNS_LABELS: dict[str, str] = {"k8s-app": "kube-dns"}
DNS_PORT = 53
# The API server listens on 443 (EKS, GKE, AKS endpoints) or 6443 (the address behind the
# `kubernetes` Service on some distributions); its IP is not knowable offline.
API_SERVER_PORTS = (443, 6443)
ANYWHERE = "0.0.0.0/0"
ANY_NAMESPACE = "*"

DEFAULT_DENY = "gpufleet-default-deny"
ALLOW_DNS = "gpufleet-allow-dns"
MANAGED = {"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"}


def ports(*numbers: int, protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": n, "protocol": protocol} for n in numbers]


def pods(labels: Mapping[str, str] | None = None, namespace: str | None = None,
         expressions: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """A pod peer: `labels` (None: every pod) in `namespace` (None: the policy's own namespace,
    ANY_NAMESPACE: every namespace)."""
    peer: dict[str, Any] = {"podSelector": selector(labels, expressions)}
    if namespace == ANY_NAMESPACE:
        peer["namespaceSelector"] = {}
    elif namespace is not None:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}
    return peer


def namespace_pods(namespace: str) -> dict[str, Any]:
    """Every pod of `namespace`."""
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def outside(except_: Iterable[str] = (IMDS_CIDR,)) -> dict[str, Any]:
    """Any address outside the cluster but the instance metadata service."""
    return {"ipBlock": {"cidr": ANYWHERE, "except": sorted(except_)}}


def address(cidr: str) -> dict[str, Any]:
    return {"ipBlock": {"cidr": cidr}}


def selector(labels: Mapping[str, str] | None = None, expressions: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if labels:
        out["matchLabels"] = dict(sorted(labels.items()))
    if expressions:
        out["matchExpressions"] = [dict(e) for e in expressions]
    return out


def ingress(peers: Sequence[Mapping[str, Any]], port_list: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"from": [dict(p) for p in peers], "ports": [dict(p) for p in port_list]}


def egress(peers: Sequence[Mapping[str, Any]], port_list: Sequence[Mapping[str, Any]] | None) -> dict[str, Any]:
    """An egress rule; no `peers` = every destination, `port_list` None = every port."""
    rule: dict[str, Any] = {"to": [dict(p) for p in peers]} if peers else {}
    if port_list is not None:
        rule["ports"] = [dict(p) for p in port_list]
    return rule


def kube_api_egress() -> dict[str, Any]:
    """To the Kubernetes API server: TCP 443 and 6443 anywhere but IMDS (its address is unknown)."""
    return egress([outside()], ports(*API_SERVER_PORTS))


def policy(name: str, namespace: str, pod_selector: Mapping[str, Any], *,
           ingress_rules: Sequence[Mapping[str, Any]] | None = None,
           egress_rules: Sequence[Mapping[str, Any]] | None = None,
           labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A NetworkPolicy manifest; a direction given (even as []) is listed in policyTypes."""
    spec: dict[str, Any] = {"podSelector": dict(pod_selector), "policyTypes": []}
    if ingress_rules is not None:
        spec["policyTypes"].append("Ingress")
        if ingress_rules:
            spec["ingress"] = [dict(r) for r in ingress_rules]
    if egress_rules is not None:
        spec["policyTypes"].append("Egress")
        if egress_rules:
            spec["egress"] = [dict(r) for r in egress_rules]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": {**MANAGED, **(labels or {})}},
        "spec": spec,
    }


def default_deny(namespace: str) -> dict[str, Any]:
    """Every pod of the namespace: no ingress, no egress, unless another policy allows it."""
    return policy(DEFAULT_DENY, namespace, {}, ingress_rules=[], egress_rules=[])


def allow_dns(namespace: str) -> dict[str, Any]:
    """Every pod of the namespace may resolve names (kube-dns/CoreDNS, UDP and TCP 53)."""
    return policy(ALLOW_DNS, namespace, {}, egress_rules=[
        egress([pods(KUBE_DNS_LABELS, KUBE_SYSTEM)], ports(DNS_PORT, protocol="UDP") + ports(DNS_PORT)),
    ])


def namespace_baseline(namespace: str) -> list[dict[str, Any]]:
    """Default deny plus DNS for one namespace gpufleet creates."""
    return [default_deny(namespace), allow_dns(namespace)]


# --- evaluation (Kubernetes semantics) --------------------------------------------------------


def selects(sel: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Does a LabelSelector match `labels` (an empty selector matches everything)?"""
    sel = sel or {}
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for e in sel.get("matchExpressions") or []:
        value, op = labels.get(e["key"]), e["operator"]
        if op == "In" and value not in e["values"]:
            return False
        if op == "NotIn" and value in (e.get("values") or []):
            return False
        if op == "Exists" and e["key"] not in labels:
            return False
        if op == "DoesNotExist" and e["key"] in labels:
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], own_namespace: str, namespace: str | None, labels: Mapping[str, str] | None,
                  ip: str | None) -> bool:
    if "ipBlock" in peer:
        if ip is None:
            return False
        addr = ipaddress.ip_address(ip)
        block = peer["ipBlock"]
        return addr in ipaddress.ip_network(block["cidr"]) and not any(
            addr in ipaddress.ip_network(x) for x in block.get("except") or [])
    if namespace is None or labels is None:
        return False
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], {NAMESPACE_NAME_LABEL: namespace}):
            return False
    elif namespace != own_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], labels)


def _port_matches(rule: Mapping[str, Any], port: int, protocol: str) -> bool:
    listed = rule.get("ports")
    if not listed:
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in listed)


def allowed(policies: Iterable[Mapping[str, Any]], direction: str, namespace: str, labels: Mapping[str, str], *,
            port: int, protocol: str = "TCP", peer_namespace: str | None = None,
            peer_labels: Mapping[str, str] | None = None, peer_ip: str | None = None) -> bool:
    """Is traffic of the pod (`namespace`, `labels`) in `direction` ("Ingress"/"Egress") to/from the
    peer (a pod: `peer_namespace` + `peer_labels`; or an address: `peer_ip`) on `port` allowed?
    A pod selected by no policy of that direction is unrestricted (Kubernetes semantics)."""
    key, side = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [p for p in policies if p["metadata"]["namespace"] == namespace
                 and direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)]
    if not selecting:
        return True
    for p in selecting:
        for rule in p["spec"].get(key) or []:
            peers = rule.get(side)
            if not _port_matches(rule, port, protocol):
                continue
            if not peers or any(_peer_matches(x, namespace, peer_namespace, peer_labels, peer_ip) for x in peers):
                return True
    return False
