"""Azure Monitor alerts, the action group and the consumption budget under the recording mocks
(no cloud, no CLI), next to a real AKS cluster ("r1")."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pulumi
import pytest

from components.monitoring.args import MonitoringSpec
from components.monitoring.cloud.azure import group_short_name, notification_key, window
from infra.plan.computed.azure import SUBSCRIPTION_ID
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers

REGION = REGIONS["azure"]
GROUP = "azure-native:monitor:ActionGroup"
METRIC = "azure-native:monitor:MetricAlert"
ACTIVITY = "azure-native:monitor:ActivityLogAlert"
BUDGET = "azure-native:consumption:Budget"
CLUSTER_ID = "r1-aks-id"  # the mocks' id for the created ManagedCluster
GROUP_ID = "r1-alarms-action-group-id"
EXISTING = "/subscriptions/1111/resourceGroups/ops/providers/microsoft.insights/actionGroups/pager"
EMAILS = ["ops@example.com", "ml-oncall@example.com"]
CREATE = {"create": {"version": "1.33", "zones": ["1", "2"]}}
MONITORING: dict[str, Any] = {
    "notifications": {"emails": EMAILS},
    "budget": {"monthly_usd": 800, "thresholds": [
        {"percent": 50}, {"percent": 90}, {"percent": 110, "kind": "forecast"}, {"percent": 12.5, "kind": "forecast"},
    ]},
}
START = "2026-12-01"


def run_monitoring(monitoring: dict[str, Any] | None = None, *, environment: str = "prod",
                   cluster: dict[str, Any] | None = None, budget: bool = True,
                   budget_extra: dict[str, Any] | None = None) -> ProgramRun:
    """AKS cluster "r1", `CloudAlarms` "r1-alarms", `StackBudget` "azure-budget"."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.monitoring.cloud import CloudAlarms, CloudAlarmsArgs, StackBudget, StackBudgetArgs

    spec = MonitoringSpec.model_validate(MONITORING if monitoring is None else monitoring)

    def program() -> None:
        provider = cloud_provider("r1-azure", cloud="azure", region=REGION, tags=TAGS)
        k8s = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(cloud="azure", region=REGION, environment=environment, tags=TAGS,
                                  cluster_name=f"gpufleet-{environment}-r1",
                                  spec=ClusterSpec.model_validate(cluster or CREATE)),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        opts = pulumi.ResourceOptions(providers=[provider])
        alarms = CloudAlarms(
            "r1-alarms",
            CloudAlarmsArgs(spec=spec, cloud="azure", region=REGION, environment=environment, tags=TAGS,
                            cluster=k8s.build),
            opts=opts,
        )
        pulumi.export("alarms", alarms.alarms)
        pulumi.export("actionGroup", alarms.azure_action_group_id)
        if budget and spec.budget is not None:
            StackBudget(
                "azure-budget",
                StackBudgetArgs(**{
                    "budget": spec.budget, "notifications": spec.notifications, "cloud": "azure",
                    "environment": environment, "tags": TAGS, "resource_group_name": k8s.build.resource_group_name,
                    "alarm_targets": alarms.targets, "azure_start_date": START, **(budget_extra or {}),
                }),
                opts=opts,
            )

    return run_program(program, stack=environment)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_monitoring()


def alerts(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.name.removeprefix("r1-alarms-"): r.inputs for r in run.by_type(METRIC) + run.by_type(ACTIVITY)}


# --- action group ---------------------------------------------------------------------------------


def test_created_action_group_mails_every_address(prod: ProgramRun) -> None:
    g = prod.one(GROUP).inputs
    assert g["emailReceivers"] == [
        {"name": "email-ml-oncall-example-com", "emailAddress": "ml-oncall@example.com", "useCommonAlertSchema": True},
        {"name": "email-ops-example-com", "emailAddress": "ops@example.com", "useCommonAlertSchema": True},
    ]
    assert g["groupShortName"] == "gpufleet-pro" and len(g["groupShortName"]) <= 12
    assert (g["actionGroupName"], g["resourceGroupName"], g["location"]) == ("ag-gpufleet-prod-r1", "rg-gpufleet-prod-r1", "global")
    assert g["enabled"] is True
    assert prod.outputs["actionGroup"] == GROUP_ID
    assert all(len(group_short_name(env)) <= 12 for env in ("dev", "staging", "prod"))


def test_referenced_action_group_replaces_the_created_one() -> None:
    monitoring = {**MONITORING, "notifications": {"emails": EMAILS, "azure_action_group_id": EXISTING}}
    run = run_monitoring(monitoring)
    assert not run.by_type(GROUP)
    for name, a in alerts(run).items():
        groups = a["actions"]["actionGroups"] if "actionGroups" in a.get("actions", {}) else a["actions"]
        assert [g["actionGroupId"] for g in groups] == [EXISTING], name
    for note in run.one(BUDGET).inputs["notifications"].values():
        assert note["contactGroups"] == [EXISTING]
        assert note["contactEmails"] == sorted(EMAILS)  # a referenced group's members are unknown


def test_without_targets_alerts_have_no_actions() -> None:
    run = run_monitoring({}, budget=False)
    assert not run.by_type(GROUP)
    got = alerts(run)
    assert got["pods-unschedulable"]["actions"] == []
    assert got["cluster-unhealthy"]["actions"] == {"actionGroups": []}


# --- alerts ---------------------------------------------------------------------------------------


def test_metric_alerts_on_the_aks_cluster(prod: ProgramRun) -> None:
    got = alerts(prod)
    expected = {
        "pods-unschedulable": ("cluster_autoscaler_unschedulable_pods_count", "Average", "GreaterThanOrEqual", 1, "PT30M", 2),
        "etcd-nearly-full": ("etcd_database_usage_percentage", "Maximum", "GreaterThan", 80, "PT15M", 2),
    }
    for key, (metric, aggregation, operator, threshold, window_size, severity) in expected.items():
        a = got[key]
        assert a["scopes"] == [CLUSTER_ID]
        assert a["targetResourceType"] == "Microsoft.ContainerService/managedClusters"
        (c,) = a["criteria"]["allOf"]
        assert a["criteria"]["odataType"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
        assert (c["metricName"], c["metricNamespace"]) == (metric, "Microsoft.ContainerService/managedClusters")
        assert (c["timeAggregation"], c["operator"], c["threshold"]) == (aggregation, operator, threshold)
        assert c["criterionType"] == "StaticThresholdCriterion"
        assert (a["windowSize"], a["evaluationFrequency"], a["severity"]) == (window_size, "PT5M", severity)
        assert (a["resourceGroupName"], a["location"], a["autoMitigate"]) == ("rg-gpufleet-prod-r1", "global", True)
        assert a["actions"] == [{"actionGroupId": GROUP_ID}]


def test_resource_health_alert(prod: ProgramRun) -> None:
    a = alerts(prod)["cluster-unhealthy"]
    assert a["scopes"] == [CLUSTER_ID]
    assert a["location"] == "global"
    assert a["activityLogAlertName"] == "gpufleet-prod-r1-CloudClusterUnhealthy"
    assert a["condition"] == {"allOf": [
        {"field": "category", "equals": "ResourceHealth"},
        {"anyOf": [{"field": "properties.currentHealthStatus", "equals": "Degraded"},
                   {"field": "properties.currentHealthStatus", "equals": "Unavailable"}]},
    ]}
    assert a["actions"] == {"actionGroups": [{"actionGroupId": GROUP_ID}]}
    assert a["description"].startswith("[critical] ")
    assert sorted(prod.outputs["alarms"]) == ["CloudClusterUnhealthy", "CloudEtcdNearlyFull", "CloudPodsUnschedulable"]


def test_severity_and_window_overrides() -> None:
    monitoring = {**MONITORING, "alerts": {"CloudEtcdNearlyFull": {"severity": "critical", "for_minutes": 40},
                                           "CloudPodsUnschedulable": {"severity": "info"},
                                           "CloudClusterUnhealthy": {"enabled": False}}}
    got = alerts(run_monitoring(monitoring, budget=False))
    assert (got["etcd-nearly-full"]["severity"], got["etcd-nearly-full"]["windowSize"]) == (0, "PT1H")
    assert got["pods-unschedulable"]["severity"] == 3
    assert "cluster-unhealthy" not in got
    assert [window(m) for m in (0, 5, 6, 30, 61, 2000)] == ["PT5M", "PT5M", "PT15M", "PT30M", "PT6H", "P1D"]


def test_adopted_cluster_by_name_is_addressed_by_its_id() -> None:
    run = run_monitoring(cluster={"adopt": {"name": "legacy", "resource_group": "rg-legacy"}}, budget=False)
    expected = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-legacy/providers/Microsoft.ContainerService/managedClusters/legacy"
    for name, a in alerts(run).items():
        assert a["scopes"] == [expected], name
        assert a["resourceGroupName"] == "rg-legacy"


def test_adopted_cluster_without_resource_group_is_refused() -> None:
    ref = "org/gpufleet/other"
    with pytest.raises(ValueError, match="resource group"):
        run_monitoring(cluster={"adopt": {"stack_reference": ref}}, budget=False)


# --- budget ---------------------------------------------------------------------------------------


def test_budget_at_the_clusters_resource_group(prod: ProgramRun) -> None:
    b = prod.one(BUDGET)
    i = b.inputs
    assert i["scope"] == f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-gpufleet-prod-r1"
    assert (i["category"], i["timeGrain"], i["amount"], i["budgetName"]) == ("Cost", "Monthly", 800, "gpufleet-prod-monthly")
    # A fixed first-of-month from config, never today's date; the API refuses later changes.
    assert i["timePeriod"] == {"startDate": f"{START}T00:00:00Z"}
    assert b.options["ignoreChanges"] == ["timePeriod.startDate"]


def test_budget_notification_per_threshold(prod: ProgramRun) -> None:
    notes = prod.one(BUDGET).inputs["notifications"]
    assert set(notes) == {"Actual_GreaterThan_50_Percent", "Actual_GreaterThan_90_Percent",
                          "Forecasted_GreaterThan_12_5_Percent", "Forecasted_GreaterThan_110_Percent"}
    assert {k: (n["thresholdType"], n["threshold"]) for k, n in notes.items()} == {
        "Actual_GreaterThan_50_Percent": ("Actual", 50), "Actual_GreaterThan_90_Percent": ("Actual", 90),
        "Forecasted_GreaterThan_12_5_Percent": ("Forecasted", 12.5),
        "Forecasted_GreaterThan_110_Percent": ("Forecasted", 110),
    }
    for n in notes.values():
        assert (n["operator"], n["enabled"]) == ("GreaterThan", True)
        # The created action group already mails the addresses.
        assert n["contactGroups"] == [GROUP_ID] and n["contactEmails"] == []
    assert notification_key("actual", 80.0) == "Actual_GreaterThan_80_Percent"


def test_budget_with_its_own_audience() -> None:
    monitoring = {**MONITORING, "budget": {"monthly_usd": 800, "notify": {"emails": ["finance@example.com"]}}}
    for n in run_monitoring(monitoring).one(BUDGET).inputs["notifications"].values():
        assert n["contactEmails"] == ["finance@example.com"]
        assert "contactGroups" not in n


def test_budget_refusals() -> None:
    with pytest.raises(ValueError, match="azure_start_date"):
        run_monitoring(budget_extra={"azure_start_date": None})
    six = {**MONITORING, "budget": {"monthly_usd": 5, "thresholds": [{"percent": p} for p in (10, 20, 30, 40, 50, 60)]}}
    with pytest.raises(ValueError, match="at most 5"):
        run_monitoring(six)
    with pytest.raises(ValueError, match="notify nobody"):
        run_monitoring({"budget": {"monthly_usd": 5}})
    from components.monitoring.cloud import StackBudgetArgs

    with pytest.raises(ValueError):
        StackBudgetArgs(budget=MONITORING["budget"], cloud="azure", environment="dev", tags=TAGS,
                        azure_start_date="2026-12-15")  # not the first of a month


# --- every resource -------------------------------------------------------------------------------


def _sdk_accepts(typ: str, prop: str) -> bool:
    _, module, cls = typ.split(":")
    klass = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
    return prop in inspect.signature(klass._internal_init).parameters


def ours(run: ProgramRun) -> list:
    return [r for r in run.resources if r.custom and r.name.startswith(("r1-alarms", "azure-budget"))]


def test_tags_on_every_taggable_resource(prod: ProgramRun) -> None:
    taggable = [r for r in ours(prod) if _sdk_accepts(r.type, "tags")]
    assert {r.type for r in taggable} == {GROUP, METRIC, ACTIVITY}
    for r in taggable:
        assert r.inputs.get("tags") == TAGS, f"{r.type} {r.name}"
    assert not _sdk_accepts(BUDGET, "tags")  # consumption budgets take no tags


def test_explicit_providers_and_parents(prod: ProgramRun) -> None:
    assert_explicit_providers(prod)
    parents = {prod.one("gpufleet:monitoring:CloudAlarms").urn, prod.one("gpufleet:monitoring:StackBudget").urn}
    for r in ours(prod):
        assert r.parent in parents, r.name
        assert r.provider.split("::")[-2] == "r1-azure", r.provider
    for inv in prod.invokes:
        assert "r1-azure" in inv.provider, inv.token
