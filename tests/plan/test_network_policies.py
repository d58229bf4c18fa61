"""Every pod gpufleet runs has a NetworkPolicy (issue 11 item 4): default deny in the serving,
monitoring and node-agent namespaces, DNS for every pod, and explicit allows whose ports are the
ports the Services really expose.

The checks are plain functions over manifests, so the negative tests feed them a modified list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster.imds import IMDS_CIDR, POLICY_NAME as IMDS_POLICY
from components.cluster.network_policies import (
    ALLOW_DNS,
    DNS_PORT,
    KUBE_DNS_LABELS,
    KUBE_SYSTEM,
    allowed,
    selects,
)
from components.load_balancer.service import ENVOY_NAMESPACE, OWNING_GATEWAY_NAMESPACE
from components.monitoring.in_cluster import network as mon
from components.monitoring.in_cluster.charts import MONITORING_NAMESPACE, NODE_AGENTS_NAMESPACE
from components.triton.args import SERVING_NAMESPACE
from infra.policy.scheduling import CHART_WORKLOADS
from tests.plan.conftest import ALL, ROOT, plan_for
from tests.plan.test_cli import run_cli

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
GPUFLEET_NAMESPACES = (SERVING_NAMESPACE, MONITORING_NAMESPACE, NODE_AGENTS_NAMESPACE)
WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet", "CronJob", "Job")
IMDS_IP = IMDS_CIDR.split("/")[0]
API_SERVER_IP = "172.20.0.1"  # any address outside the cluster

# Pod labels of the chart workloads (CHART_WORKLOADS) that run in gpufleet's namespaces.
CHART_POD_LABELS: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("kube-prometheus-stack", "prometheus"): (MONITORING_NAMESPACE, mon.PROMETHEUS),
    ("kube-prometheus-stack", "alertmanager"): (MONITORING_NAMESPACE, mon.ALERTMANAGER),
    ("kube-prometheus-stack", "prometheus-operator"): (MONITORING_NAMESPACE, mon.OPERATOR),
    ("kube-prometheus-stack", "admission-webhook-patch"): (MONITORING_NAMESPACE,
                                                           {"app": "kube-prometheus-stack-admission-patch"}),
    ("kube-prometheus-stack", "grafana"): (MONITORING_NAMESPACE, mon.GRAFANA),
    ("kube-prometheus-stack", "kube-state-metrics"): (MONITORING_NAMESPACE, mon.KUBE_STATE_METRICS),
    # namespaceOverride: node-exporter runs with the other node agents.
    ("kube-prometheus-stack", "node-exporter"): (NODE_AGENTS_NAMESPACE, mon.NODE_EXPORTER),
    ("prometheus-adapter", "prometheus-adapter"): (MONITORING_NAMESPACE, mon.ADAPTER),
    ("dcgm-exporter", "dcgm-exporter"): (NODE_AGENTS_NAMESPACE, mon.DCGM_EXPORTER),
}
PROMETHEUS = (MONITORING_NAMESPACE, mon.PROMETHEUS)
NOT_ALLOWED_PORTS = (22, 80, 3306, 9999)


# --- what the plan holds ----------------------------------------------------------------------


def clusters(run) -> list[str]:
    """The Kubernetes providers (one per cluster): policies only act within their cluster."""
    return sorted({r.provider for r in run.by_type(POLICY)})


def gpufleet_policies(run, cluster: str | None = None) -> list[dict[str, Any]]:
    """gpufleet's NetworkPolicies in one cluster (default: the first) as manifests, the AKS IMDS
    policies included (they coexist)."""
    cluster = cluster or clusters(run)[0]
    return [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": r.inputs["metadata"],
             "spec": r.inputs["spec"], "_name": r.name} for r in run.by_type(POLICY) if r.provider == cluster]


def pod_template(r) -> Mapping[str, Any]:
    spec = r.inputs["spec"]
    if r.type.endswith(":CronJob"):
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]


def workloads(run, cluster: str | None = None) -> list[tuple[str, str, dict[str, str]]]:
    """(name, namespace, pod labels) of every pod gpufleet runs in its namespaces of one cluster:
    the workloads it renders directly and the chart workloads of its Helm releases."""
    cluster = cluster or clusters(run)[0]
    out = []
    for r in run.resources:
        if r.provider != cluster:
            continue
        if r.type.startswith("kubernetes:") and r.type.rsplit(":", 1)[-1] in WORKLOAD_KINDS:
            ns = r.inputs["metadata"].get("namespace")
            if ns in GPUFLEET_NAMESPACES:
                out.append((r.name, ns, dict(pod_template(r)["metadata"]["labels"])))
    for r in run.by_type(RELEASE):
        if r.provider != cluster or r.inputs.get("namespace") not in GPUFLEET_NAMESPACES:
            continue
        for w in CHART_WORKLOADS[r.inputs["chart"]]:
            ns, labels = CHART_POD_LABELS[(r.inputs["chart"], w.name)]
            out.append((f"{r.name}/{w.name}", ns, dict(labels)))
    return out


# --- the checks (pure: fed modified lists by the negative tests) ------------------------------


def is_default_deny(p: Mapping[str, Any]) -> bool:
    spec = p["spec"]
    return (spec["podSelector"] in ({}, None) and {"Ingress", "Egress"} <= set(spec["policyTypes"])
            and not spec.get("ingress") and not spec.get("egress"))


def coverage_problems(policies: list[Mapping[str, Any]], pods: Iterable[tuple[str, str, Mapping[str, str]]],
                      namespaces: Iterable[str] = GPUFLEET_NAMESPACES) -> list[str]:
    """Each namespace has a default deny; each pod is selected by an allow of its own namespace
    (not only the deny, the DNS allow and the IMDS policy) and may resolve names."""
    problems = []
    for ns in namespaces:
        if not any(is_default_deny(p) for p in policies if p["metadata"]["namespace"] == ns):
            problems.append(f"{ns}: no default deny")
    for name, ns, labels in pods:
        allows = [p for p in policies if p["metadata"]["namespace"] == ns and not is_default_deny(p)
                  and p["metadata"]["name"] not in (IMDS_POLICY, ALLOW_DNS) and selects(p["spec"]["podSelector"], labels)]
        if not allows:
            problems.append(f"{name}: selected by no allow in {ns}")
        for protocol in ("UDP", "TCP"):
            if not allowed(policies, "Egress", ns, labels, port=DNS_PORT, protocol=protocol,
                           peer_namespace=KUBE_SYSTEM, peer_labels=KUBE_DNS_LABELS):
                problems.append(f"{name}: no DNS ({protocol} {DNS_PORT})")
    return problems


def service_ports(svc) -> dict[str, int]:
    return {p["name"]: p["port"] for p in svc.inputs["spec"]["ports"]}


def triton_services(run, cluster: str | None = None) -> list:
    cluster = cluster or clusters(run)[0]
    return [r for r in run.by_type(SERVICE) if r.provider == cluster
            and r.inputs["spec"].get("selector", {}).get("app.kubernetes.io/name") == "triton"]


def ingress_ports(policies, ns: str, labels: Mapping[str, str], peer_ns: str, peer_labels: Mapping[str, str],
                  candidates: Iterable[int]) -> set[int]:
    return {p for p in candidates if allowed(policies, "Ingress", ns, labels, port=p, peer_namespace=peer_ns,
                                             peer_labels=peer_labels)}


def triton_port_problems(policies: list[Mapping[str, Any]], services: list) -> list[str]:
    """The gateway reaches exactly the Service's http and grpc ports, Prometheus exactly its
    metrics port, and nobody else any port (both ways allowed: Prometheus's egress too)."""
    problems = []
    for svc in services:
        ns = svc.inputs["metadata"]["namespace"]
        ports = service_ports(svc)
        candidates = set(ports.values()) | set(NOT_ALLOWED_PORTS)
        for role in ("floor", "burst", "canary"):
            pod = {**svc.inputs["spec"]["selector"], "app.kubernetes.io/component": role}
            envoy = {OWNING_GATEWAY_NAMESPACE: ns, "app.kubernetes.io/name": "envoy"}
            got = ingress_ports(policies, ns, pod, ENVOY_NAMESPACE, envoy, candidates)
            if got != {ports["http"], ports["grpc"]}:
                problems.append(f"{ns}/{role}: gateway may reach {sorted(got)}, the Service serves "
                                f"{[ports['http'], ports['grpc']]}")
            got = ingress_ports(policies, ns, pod, *PROMETHEUS, candidates)
            if got != {ports["metrics"]}:
                problems.append(f"{ns}/{role}: Prometheus may reach {sorted(got)}, metrics is {ports['metrics']}")
            if not allowed(policies, "Egress", *PROMETHEUS, port=ports["metrics"], peer_namespace=ns, peer_labels=pod):
                problems.append(f"{ns}/{role}: Prometheus may not scrape {ports['metrics']}")
            stranger = ingress_ports(policies, ns, pod, ns, {"app": "stranger"}, candidates)
            if stranger:
                problems.append(f"{ns}/{role}: any pod may reach {sorted(stranger)}")
    return problems


def scrape_targets(run, cluster: str | None = None) -> list[tuple[str, str, dict[str, str], int]]:
    """(what, namespace, pod labels, port) of everything Prometheus of one cluster scrapes:
    gpufleet's ServiceMonitors resolved through the recorded Services to the pods, and the chart
    exporters' ports."""
    cluster = cluster or clusters(run)[0]
    services = [s for s in run.by_type(SERVICE) if s.provider == cluster]
    releases = [r for r in run.by_type(RELEASE) if r.provider == cluster]
    targets = []
    for sm in (m for m in run.by_type(SERVICE_MONITOR) if m.provider == cluster):
        ns = sm.inputs["metadata"]["namespace"]
        match = sm.inputs["spec"]["selector"]["matchLabels"]
        for ep in sm.inputs["spec"]["endpoints"]:
            svc = [s for s in services if s.inputs["metadata"].get("namespace") == ns
                   and selects({"matchLabels": match}, s.inputs["metadata"].get("labels") or {})]
            if svc:
                (s,) = svc
                selector = dict(s.inputs["spec"]["selector"])
                pods = [labels for _, pod_ns, labels in workloads(run, cluster)
                        if pod_ns == ns and selects({"matchLabels": selector}, labels)]
                for labels in pods or [selector]:
                    targets.append((sm.name, ns, labels, service_ports(s)[ep["port"]]))
            elif match.get("app.kubernetes.io/name") == "karpenter":  # the chart's Service
                targets.append((sm.name, ns, dict(match), mon.KARPENTER_METRICS_PORT))
            else:
                raise AssertionError(f"ServiceMonitor {sm.name}: no Service for {match}")
    if any(r.inputs["chart"] == "kube-prometheus-stack" for r in releases):
        targets += [("dcgm-exporter", NODE_AGENTS_NAMESPACE, mon.DCGM_EXPORTER, mon.DCGM_EXPORTER_PORT),
                    ("kube-state-metrics", MONITORING_NAMESPACE, mon.KUBE_STATE_METRICS, mon.KUBE_STATE_METRICS_PORT),
                    ("grafana", MONITORING_NAMESPACE, mon.GRAFANA, mon.GRAFANA_PORT),
                    ("alertmanager", MONITORING_NAMESPACE, mon.ALERTMANAGER, mon.ALERTMANAGER_PORT)]
    return targets


def scrape_problems(policies: list[Mapping[str, Any]], targets) -> list[str]:
    problems = []
    for what, ns, labels, port in targets:
        if not allowed(policies, "Egress", *PROMETHEUS, port=port, peer_namespace=ns, peer_labels=labels):
            problems.append(f"{what}: Prometheus may not send to {ns}:{port}")
        if not allowed(policies, "Ingress", ns, labels, port=port, peer_namespace=PROMETHEUS[0],
                       peer_labels=PROMETHEUS[1]):
            problems.append(f"{what}: {ns}:{port} does not admit Prometheus")
    return problems


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture(params=sorted(ALL))
def stack(request) -> str:
    return request.param


def test_every_pod_is_covered_and_every_namespace_denies_by_default(stack: str) -> None:
    run = plan_for(stack).run
    for cluster in clusters(run):
        pods = workloads(run, cluster)
        created = {r.inputs["metadata"]["name"] for r in run.by_type("kubernetes:core/v1:Namespace")
                   if r.provider == cluster}
        namespaces = created & set(GPUFLEET_NAMESPACES)
        assert SERVING_NAMESPACE in namespaces and {ns for _, ns, _ in pods} <= namespaces
        assert coverage_problems(gpufleet_policies(run, cluster), pods, namespaces) == []


def test_triton_ingress_ports_are_the_service_ports(stack: str) -> None:
    run = plan_for(stack).run
    checked = 0
    for cluster in clusters(run):
        services = triton_services(run, cluster)
        checked += len(services)
        assert triton_port_problems(gpufleet_policies(run, cluster), services) == []
    if not checked:
        pytest.skip("no serving block")


def test_prometheus_reaches_every_scrape_target(stack: str) -> None:
    run = plan_for(stack).run
    if not run.by_type(SERVICE_MONITOR):
        pytest.skip("monitoring disabled")
    for cluster in clusters(run):
        targets = scrape_targets(run, cluster)
        if triton_services(run, cluster):
            assert any(port == 8002 for *_, port in targets)
        assert scrape_problems(gpufleet_policies(run, cluster), targets) == []


def test_no_allow_reaches_the_instance_metadata_service_but_gkes_metadata_server(stack: str) -> None:
    """The AKS IMDS policy's guarantee holds for every allow added next to it: an ipBlock that
    covers 169.254.169.254 excepts it, except GKE's metadata server rule (Triton, port 80)."""
    run = plan_for(stack).run
    gke = bool(run.by_type("pulumi:providers:gcp"))
    for cluster in clusters(run):
        policies = gpufleet_policies(run, cluster)
        for p in policies:
            for rule in p["spec"].get("egress") or []:
                for peer in rule.get("to") or []:
                    block = peer.get("ipBlock")
                    if not block or ipaddress.ip_address(IMDS_IP) not in ipaddress.ip_network(block["cidr"]):
                        continue
                    if block["cidr"] == IMDS_CIDR:
                        assert gke and p["_name"].endswith("-allow-serving")
                        assert rule["ports"] == [{"port": 80, "protocol": "TCP"}]
                    else:
                        assert IMDS_CIDR in block.get("except", []), (p["_name"], block)
        for svc in triton_services(run, cluster):
            ns = svc.inputs["metadata"]["namespace"]
            pod = {**svc.inputs["spec"]["selector"], "app.kubernetes.io/component": "burst"}
            for port in (80, 443):
                reachable = allowed(policies, "Egress", ns, pod, port=port, peer_ip=IMDS_IP)
                assert reachable == (gke and port == 80), (stack, port)
            # The store and the identity endpoints stay reachable.
            assert allowed(policies, "Egress", ns, pod, port=443, peer_ip="52.216.0.10")


@pytest.mark.parametrize("stack,gke", [("prod", True), ("staging", False)])
def test_gke_triton_reaches_the_metadata_server_for_workload_identity(stack: str, gke: bool) -> None:
    policies = gpufleet_policies(plan_for(stack).run)
    pod = {"app.kubernetes.io/name": "triton", "app.kubernetes.io/instance": "triton", "app.kubernetes.io/component": "floor"}
    assert allowed(policies, "Egress", SERVING_NAMESPACE, pod, port=988, peer_ip="169.254.169.252") is gke


def test_monitoring_pods_reach_the_kubernetes_api(stack: str) -> None:
    run = plan_for(stack).run
    for cluster in clusters(run):
        policies = gpufleet_policies(run, cluster)
        for name, ns, labels in workloads(run, cluster):
            if ns == MONITORING_NAMESPACE:
                for port in (443, 6443):
                    assert allowed(policies, "Egress", ns, labels, port=port, peer_ip=API_SERVER_IP), (name, port)


def test_adapter_grafana_and_prometheus_talk() -> None:
    policies = gpufleet_policies(plan_for("staging").run)
    for client in (mon.ADAPTER, mon.GRAFANA):
        assert allowed(policies, "Egress", MONITORING_NAMESPACE, client, port=9090,
                       peer_namespace=MONITORING_NAMESPACE, peer_labels=mon.PROMETHEUS)
        assert allowed(policies, "Ingress", *PROMETHEUS, port=9090, peer_namespace=MONITORING_NAMESPACE,
                       peer_labels=client)
    assert not allowed(policies, "Ingress", *PROMETHEUS, port=9090, peer_namespace=SERVING_NAMESPACE,
                       peer_labels={"app.kubernetes.io/name": "triton"})
    # The API server calls the adapter (custom.metrics.k8s.io) and the operator's webhook.
    assert allowed(policies, "Ingress", MONITORING_NAMESPACE, mon.ADAPTER, port=mon.ADAPTER_PORT, peer_ip=API_SERVER_IP)
    assert allowed(policies, "Ingress", MONITORING_NAMESPACE, mon.OPERATOR, port=mon.OPERATOR_PORT, peer_ip=API_SERVER_IP)


def test_the_evaluator_follows_kubernetes_semantics() -> None:
    deny = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    everything = {"metadata": {"namespace": "ns"},
                  "spec": {"podSelector": {"matchLabels": {"a": "1"}}, "policyTypes": ["Egress"], "egress": [{}]}}
    assert allowed([], "Egress", "ns", {"a": "1"}, port=443, peer_ip="8.8.8.8")  # selected by nothing: open
    assert not allowed([deny], "Egress", "ns", {"a": "1"}, port=443, peer_ip="8.8.8.8")
    assert allowed([deny, everything], "Egress", "ns", {"a": "1"}, port=443, peer_ip="8.8.8.8")  # additive
    assert not allowed([deny, everything], "Egress", "ns", {"a": "2"}, port=443, peer_ip="8.8.8.8")
    assert not allowed([deny], "Ingress", "ns", {}, port=80, peer_namespace="ns", peer_labels={})
    assert allowed([deny], "Ingress", "other", {}, port=80, peer_namespace="ns", peer_labels={})


# --- negative: the checks fail when a policy is missing ---------------------------------------


def test_without_the_triton_allow_the_port_check_fails() -> None:
    run = plan_for("prod").run
    policies = [p for p in gpufleet_policies(run) if not p["_name"].endswith("-allow-serving")]
    problems = triton_port_problems(policies, triton_services(run))
    assert problems and all("may reach []" in p or "may not scrape" in p for p in problems)
    assert any("gateway may reach []" in p for p in problems)
    assert coverage_problems(policies, workloads(run)) != []  # Triton pods: only the DNS allow left
    assert any("triton" in p and "selected by no allow" in p for p in coverage_problems(policies, workloads(run)))


def test_without_a_default_deny_or_dns_the_coverage_check_fails() -> None:
    run = plan_for("staging").run
    policies = gpufleet_policies(run)
    no_deny = [p for p in policies if not (p["metadata"]["namespace"] == MONITORING_NAMESPACE and is_default_deny(p))]
    assert coverage_problems(no_deny, workloads(run)) == [f"{MONITORING_NAMESPACE}: no default deny"]
    no_dns = [p for p in policies if p["metadata"]["name"] != "gpufleet-allow-dns"]
    assert any("no DNS" in p for p in coverage_problems(no_dns, workloads(run)))


def test_a_wider_triton_allow_fails_the_port_check() -> None:
    run = plan_for("staging").run
    policies = gpufleet_policies(run)
    wide = [dict(p, spec={**p["spec"], "ingress": [{"from": [{"namespaceSelector": {}}]}]})
            if p["_name"].endswith("-allow-serving") else p for p in policies]
    assert triton_port_problems(wide, triton_services(run))


def test_without_the_dcgm_allow_the_scrape_check_fails() -> None:
    run = plan_for("staging").run
    policies = [p for p in gpufleet_policies(run) if p["metadata"]["name"] != "gpufleet-dcgm-exporter"]
    assert scrape_problems(policies, scrape_targets(run)) == [
        f"dcgm-exporter: {NODE_AGENTS_NAMESPACE}:{mon.DCGM_EXPORTER_PORT} does not admit Prometheus"]


# --- chart ports are the pinned charts' defaults ----------------------------------------------

CHARTS = ROOT / "tests/data/charts"


def _values(path: str) -> dict[str, Any]:
    file = CHARTS / path
    if not file.exists():
        pytest.skip(f"{path} not vendored")
    return yaml.safe_load(file.read_text())


def test_exporter_ports_are_the_vendored_chart_defaults() -> None:
    kps = "kube-prometheus-stack/81.4.3"
    assert _values("dcgm-exporter/4.8.1/values.yaml")["service"]["port"] == mon.DCGM_EXPORTER_PORT
    assert _values(f"{kps}/charts/prometheus-node-exporter/values.yaml")["service"]["port"] == mon.NODE_EXPORTER_PORT
    assert _values(f"{kps}/charts/kube-state-metrics/values.yaml")["service"]["port"] == mon.KUBE_STATE_METRICS_PORT
    assert _values(f"{kps}/charts/grafana/values.yaml")["service"]["targetPort"] == mon.GRAFANA_PORT
    assert _values("prometheus-adapter/5.3.0/values.yaml")["listenPort"] == mon.ADAPTER_PORT
    values = _values(f"{kps}/values.yaml")
    assert values["alertmanager"]["service"]["targetPort"] == mon.ALERTMANAGER_PORT
    assert values["coreDns"]["service"]["targetPort"] == mon.COREDNS_METRICS_PORT
    assert values["prometheus"]["service"]["reloaderWebPort"] == mon.RELOADER_PORT
    assert values["prometheusOperator"]["tls"]["internalPort"] == mon.OPERATOR_PORT
    karpenter = _values("karpenter/chart/values.yaml")
    assert karpenter["controller"]["metrics"]["port"] == mon.KARPENTER_METRICS_PORT


# --- the plan's k8s/ output -------------------------------------------------------------------


def test_plan_writes_every_network_policy(tmp_path: Path) -> None:
    out = tmp_path / "prod"
    proc = run_cli("plan", "--stack", "prod", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = plan_for("prod").run
    expected = {p["_name"]: p for cluster in clusters(run) for p in gpufleet_policies(run, cluster)}
    assert len(expected) == len(run.by_type(POLICY)) >= 30  # two regions
    for name, p in expected.items():
        doc = yaml.safe_load((out / "k8s" / f"{name}.yaml").read_text())
        assert doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == p["metadata"]["name"]
        assert doc["spec"] == p["spec"]
