"""Every workload the platform installs can be scheduled on some node pool of its cluster.

Runs the pure scheduling check (infra.policy.scheduling) over the plan of every shipped stack and
test config: node pools' taints/labels vs tolerations/node selectors/affinity of Deployments,
StatefulSets, DaemonSets, Jobs, the EnvoyProxy and every Helm release's workloads (values included).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.policy.engine import from_recorded
from infra.policy.model import Resource
from infra.policy.scheduling import CHART_WORKLOADS, check_scheduling, tolerates
from tests.plan.conftest import ALL, plan_for

AKS = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
RELEASE = "kubernetes:helm.sh/v3:Release"
K8S_PROVIDER = "pulumi:providers:kubernetes"


@pytest.mark.parametrize("stack", sorted(ALL))
def test_every_workload_can_land_somewhere(stack: str) -> None:
    report = check_scheduling(from_recorded(plan_for(stack).run.resources))
    assert report.placements, "no workloads found: the check read nothing"
    assert [p.describe() for p in report.problems] == []
    # Unverified only where the plan cannot know the nodes: an adopted cluster's own pools.
    assert [p.describe() for p in report.unverified if "is adopted" not in (p.unverified or "")] == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_add_ons_land_on_the_untainted_general_pool(stack: str) -> None:
    report = check_scheduling(from_recorded(plan_for(stack).run.resources))
    by_source = {p.pod.source.rsplit(": ", 1)[-1]: p for p in report.placements}
    for workload in ("prometheus", "alertmanager", "grafana", "prometheus-adapter", "envoy-gateway", "envoy"):
        assert any(pool.endswith("general") for pool in by_source[workload].pools), by_source[workload].describe()
    # Triton stays on GPU pools, never on the general pool.
    triton = [p for p in report.placements if "triton" in p.pod.source and p.pod.kind == "Deployment"]
    assert triton and all(p.pools and not any(x.endswith(("general", "system")) for x in p.pools) for p in triton)


def _provider(cluster: str) -> Resource:
    return Resource(type=K8S_PROVIDER, name="k8s", props={"clusterIdentifier": cluster},
                    urn="urn:pulumi:dev::gpufleet::pulumi:providers:kubernetes::k8s")


def _k8s(typ: str, name: str, props: dict, cluster: str = "c1") -> Resource:
    from infra.policy.model import Provider

    p = _provider(cluster)
    return Resource(type=typ, name=name, props=props, provider=Provider(p.type, p.props, p.urn, p.name))


def _aks(profiles: list[dict]) -> Resource:
    return Resource(type=AKS, name="aks", props={"resourceName": "c1", "agentPoolProfiles": profiles})


SYSTEM_ONLY = {"name": "system", "mode": "System", "vmSize": "Standard_D4s_v5", "enableAutoScaling": True,
               "minCount": 2, "maxCount": 4, "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"],
               "nodeLabels": {"gpufleet.io/pool": "system"}}


def test_aks_with_only_the_tainted_system_pool_has_nowhere_for_monitoring() -> None:
    # The AKS shape before the general pool existed: kube-prometheus-stack cannot schedule.
    stack = _k8s(RELEASE, "mon", {"chart": "kube-prometheus-stack", "values": {}})
    report = check_scheduling([_aks([SYSTEM_ONLY]), stack])
    bad = {p.pod.source.rsplit(": ", 1)[-1] for p in report.problems}
    assert {"prometheus", "grafana", "prometheus-operator", "kube-state-metrics"} <= bad
    # node-exporter tolerates every NoSchedule taint by chart default, so it still runs.
    assert "node-exporter" not in bad

    general = Resource(type=AGENT_POOL, name="general", props={
        "resourceName": "c1", "agentPoolName": "general", "vmSize": "Standard_D4s_v5",
        "nodeLabels": {"gpufleet.io/pool": "general"}, "enableAutoScaling": True, "minCount": 1, "maxCount": 3})
    assert check_scheduling([_aks([SYSTEM_ONLY]), general, stack]).problems == []


def test_values_tolerations_and_selectors_are_read() -> None:
    gpu = Resource(type=AGENT_POOL, name="gpu", props={
        "resourceName": "c1", "agentPoolName": "gpu", "vmSize": "Standard_NC4as_T4_v3",
        "nodeTaints": ["nvidia.com/gpu=present:NoSchedule"], "nodeLabels": {"gpufleet.io/gpu": "T4"}})
    general = Resource(type=AGENT_POOL, name="general", props={
        "resourceName": "c1", "agentPoolName": "general", "vmSize": "Standard_D4s_v5", "nodeLabels": {}})
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpufleet.io/gpu", "operator": "Exists"}]}]}}}
    # A GPU DaemonSet that selects the GPU pool but forgot its toleration misses every GPU node.
    dcgm = _k8s(RELEASE, "dcgm", {"chart": "dcgm-exporter", "values": {"affinity": affinity}})
    (p,) = check_scheduling([_aks([SYSTEM_ONLY]), gpu, general, dcgm]).placements
    assert not p.ok and p.missed == ("gpu",)
    tolerating = _k8s(RELEASE, "dcgm", {"chart": "dcgm-exporter", "values": {
        "affinity": affinity, "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}})
    (p,) = check_scheduling([_aks([SYSTEM_ONLY]), gpu, general, tolerating]).placements
    assert p.ok and p.pools == ("gpu",)
    # A node selector no pool carries leaves a Deployment nowhere to go.
    adapter = _k8s(RELEASE, "adapter", {"chart": "prometheus-adapter", "values": {"nodeSelector": {"team": "x"}}})
    (p,) = check_scheduling([_aks([SYSTEM_ONLY]), gpu, general, adapter]).placements
    assert not p.ok and p.pools == ()


def test_unknown_chart_is_reported_unverified() -> None:
    release = _k8s(RELEASE, "x", {"chart": "some-new-chart", "values": {}})
    (p,) = check_scheduling([_aks([SYSTEM_ONLY]), release]).placements
    assert p.unverified and "some-new-chart" in p.unverified


def test_every_shipped_chart_is_described() -> None:
    charts = {r.inputs.get("chart", "").rstrip("/").rsplit("/", 1)[-1]
              for stack in ALL for r in plan_for(stack).run.resources if r.type == RELEASE}
    assert charts and charts <= set(CHART_WORKLOADS), charts - set(CHART_WORKLOADS)


keys = st.sampled_from(["nvidia.com/gpu", "CriticalAddonsOnly", "kubernetes.azure.com/scalesetpriority"])
effects = st.sampled_from(["NoSchedule", "NoExecute"])


@given(keys, st.sampled_from(["", "present", "spot", "true"]), effects)
def test_a_toleration_written_for_a_taint_tolerates_it(key: str, value: str, effect: str) -> None:
    taint = (key, value, effect)
    assert tolerates([{"key": key, "operator": "Equal", "value": value, "effect": effect}], taint)
    assert tolerates([{"key": key, "operator": "Exists"}], taint)
    assert tolerates([{"operator": "Exists"}], taint)
    assert not tolerates([], taint)
    assert not tolerates([{"key": key, "operator": "Equal", "value": value + "x", "effect": effect}], taint)
    other = "NoExecute" if effect == "NoSchedule" else "NoSchedule"
    assert not tolerates([{"key": key, "operator": "Exists", "effect": other}], taint)
