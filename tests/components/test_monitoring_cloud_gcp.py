"""Cloud Monitoring alert policies, email channels and the GCP billing budget under the recording
mocks (no cloud, no CLI), next to a real GKE cluster ("r1") and GPU pool ("r1-l4")."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pulumi
import pytest

from components.monitoring.args import MonitoringSpec
from components.monitoring.cloud.gcp import specified_amount
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers

REGION = REGIONS["gcp"]
PROJECT = "gpufleet-test"
ZONES = ["us-central1-a", "us-central1-b"]
BILLING = "01A2B3-C4D5E6-F7A8B9"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
BUDGET = "gcp:billing/budget:Budget"
EMAILS = ["ops@example.com", "ml-oncall@example.com"]
EXISTING = ["projects/platform-shared/notificationChannels/1234567890"]
MONITORING: dict[str, Any] = {
    "notifications": {"emails": EMAILS},
    "budget": {"monthly_usd": 1250.75, "gcp_billing_account": BILLING,
               "thresholds": [{"percent": 50}, {"percent": 100}, {"percent": 120, "kind": "forecast"}]},
}
DUTY_FILTER = (
    'resource.type = "k8s_container" AND resource.label.project_id = "gpufleet-test" AND '
    'resource.label.cluster_name = "gpufleet-prod-r1" AND metric.type = "kubernetes.io/container/accelerator/duty_cycle"'
)


def channel_name(child: str) -> str:
    """The channel name the mocks give a created channel (infra/plan/computed/monitoring_gcp.py)."""
    return f"projects/{PROJECT}/notificationChannels/<computed:monitoring.NotificationChannel:{child}:id>"


ALARM_CHANNELS = [channel_name("r1-alarms-email-ml-oncall-example-com"), channel_name("r1-alarms-email-ops-example-com")]


def run_monitoring(monitoring: dict[str, Any] | None = None, *, environment: str = "prod", pools: bool = True,
                   budget: bool = True, reuse_alarm_targets: bool = True) -> ProgramRun:
    """GKE cluster "r1" (+ GPU pool "r1-l4"), `CloudAlarms` "r1-alarms", `StackBudget` "gcp-budget"."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.gpu_pool import GpuNodePool, GpuNodePoolArgs
    from components.gpu_pool.args import CapacityMix, GpuPoolSpec, GpuSpec
    from components.monitoring.cloud import CloudAlarms, CloudAlarmsArgs, StackBudget, StackBudgetArgs, watch_pools
    from infra.pools import plan_pool

    spec = MonitoringSpec.model_validate(MONITORING if monitoring is None else monitoring)

    def program() -> None:
        provider = cloud_provider("r1-gcp", cloud="gcp", region=REGION, tags=TAGS, project_id=PROJECT)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="gcp", region=REGION, environment=environment, tags=TAGS, project_id=PROJECT,
                cluster_name=f"gpufleet-{environment}-r1",
                spec=ClusterSpec.model_validate({"create": {"version": "1.33", "zones": ZONES}}),
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        watches = []
        if pools:
            pool_spec = GpuPoolSpec(name="l4", gpu=GpuSpec(model="L4"), capacity=CapacityMix(max_nodes=4, reserved_nodes=0))
            plan, problems = plan_pool("gcp", REGION, environment, pool_spec, ZONES)
            assert plan is not None, problems
            pool = GpuNodePool("r1-l4", GpuNodePoolArgs(plan=plan, tags=TAGS, cluster=cluster.build),
                               opts=pulumi.ResourceOptions(providers=[provider, cluster.target.provider]))
            watches = watch_pools([pool])
        opts = pulumi.ResourceOptions(providers=[provider])
        alarms = CloudAlarms(
            "r1-alarms",
            CloudAlarmsArgs(spec=spec, cloud="gcp", region=REGION, environment=environment, tags=TAGS,
                            cluster=cluster.build, project_id=PROJECT, gpu_pools=watches),
            opts=opts,
        )
        pulumi.export("alarms", alarms.alarms)
        pulumi.export("channels", alarms.gcp_notification_channels)
        if budget and spec.budget is not None:
            StackBudget(
                "gcp-budget",
                StackBudgetArgs(budget=spec.budget, notifications=spec.notifications, cloud="gcp",
                                environment=environment, tags=TAGS, project_id=PROJECT,
                                alarm_targets=alarms.targets if reuse_alarm_targets else None),
                opts=opts,
            )

    return run_program(program, stack=environment)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_monitoring()


def policies(run: ProgramRun) -> dict[str, dict[str, Any]]:
    return {r.name.removeprefix("r1-alarms-"): r.inputs for r in run.by_type(POLICY)}


def mine(run: ProgramRun, typ: str, prefix: str = "r1-alarms") -> list:
    return [r for r in run.by_type(typ) if r.name.startswith(prefix)]


# --- notification channels ------------------------------------------------------------------------


def test_one_email_channel_per_address(prod: ProgramRun) -> None:
    channels = {r.name: r.inputs for r in mine(prod, CHANNEL)}
    assert set(channels) == {"r1-alarms-email-ml-oncall-example-com", "r1-alarms-email-ops-example-com"}
    for email in EMAILS:
        c = channels[f"r1-alarms-email-{email.replace('@', '-').replace('.', '-')}"]
        assert (c["type"], c["labels"], c["project"]) == ("email", {"email_address": email}, PROJECT)
        # `labels` configures the channel; the cost labels are its user labels.
        assert c["userLabels"] == TAGS
    assert prod.outputs["channels"] == ALARM_CHANNELS
    for name, p in policies(prod).items():
        assert p["notificationChannels"] == ALARM_CHANNELS, name


def test_referenced_channels_replace_created_ones() -> None:
    monitoring = {**MONITORING, "notifications": {"emails": EMAILS, "gcp_notification_channels": EXISTING}}
    run = run_monitoring(monitoring)
    assert not run.by_type(CHANNEL)
    for name, p in policies(run).items():
        assert p["notificationChannels"] == EXISTING, name
    assert run.one(BUDGET).inputs["allUpdatesRule"]["monitoringNotificationChannels"] == EXISTING


# --- alert policies -------------------------------------------------------------------------------


def test_gpu_idle_and_saturation_on_the_clusters_duty_cycle(prod: ProgramRun) -> None:
    got = policies(prod)
    for key, comparison, value, seconds in (("gpu-idle", "COMPARISON_LT", 10, 3600),
                                            ("gpu-saturated", "COMPARISON_GT", 90, 900)):
        p = got[key]
        (cond,) = p["conditions"]
        t = cond["conditionThreshold"]
        assert t["filter"] == DUTY_FILTER
        assert (t["comparison"], t["thresholdValue"], t["duration"]) == (comparison, value, f"{seconds}s")
        assert t["aggregations"] == [{
            "alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_MEAN", "crossSeriesReducer": "REDUCE_MEAN",
            "groupByFields": ["resource.label.cluster_name"],
        }]
        assert t["trigger"] == {"count": 1}
        # No GPU containers at all is neither idle nor saturated (the absence policy covers it).
        assert t["evaluationMissingData"] == "EVALUATION_MISSING_DATA_INACTIVE"
        assert (p["severity"], p["combiner"], p["project"], p["enabled"]) == ("WARNING", "OR", PROJECT, True)
        assert p["documentation"]["mimeType"] == "text/markdown"


def test_absence_of_gpu_metrics_while_a_floor_exists(prod: ProgramRun) -> None:
    p = policies(prod)["gpu-metrics-absent"]
    (cond,) = p["conditions"]
    absent = cond["conditionAbsent"]
    assert absent["filter"] == DUTY_FILTER
    assert absent["duration"] == "1800s"
    assert absent["aggregations"][0]["groupByFields"] == ["resource.label.cluster_name"]
    assert p["severity"] == "CRITICAL"
    assert "floor 1 nodes" in cond["displayName"]  # prod: one on-demand node survives losing every spot node


def test_no_absence_policy_when_gpu_pools_may_scale_to_zero() -> None:
    run = run_monitoring(environment="dev", budget=False)  # dev preset: all spot, floor 0
    assert "gpu-metrics-absent" not in policies(run)
    assert {"gpu-idle", "gpu-saturated", "nodes-absent"} <= set(policies(run))
    assert "gpu-metrics-absent" not in policies(run_monitoring(pools=False, budget=False))


def test_nodes_absent(prod: ProgramRun) -> None:
    p = policies(prod)["nodes-absent"]
    (cond,) = p["conditions"]
    assert cond["conditionAbsent"]["filter"] == (
        'resource.type = "k8s_node" AND resource.label.project_id = "gpufleet-test" AND '
        'resource.label.cluster_name = "gpufleet-prod-r1" AND metric.type = "kubernetes.io/node/cpu/allocatable_utilization"'
    )
    assert cond["conditionAbsent"]["duration"] == "900s"
    assert p["severity"] == "CRITICAL"
    assert p["displayName"] == "gpufleet-prod-r1 CloudNodesAbsent"


def test_severity_mapping_and_overrides() -> None:
    monitoring = {**MONITORING, "alerts": {"CloudGpuIdle": {"severity": "info", "for_minutes": 120},
                                           "CloudGpuSaturated": {"severity": "critical"},
                                           "CloudNodesAbsent": {"enabled": False}}}
    got = policies(run_monitoring(monitoring, budget=False))
    assert "severity" not in got["gpu-idle"]  # info: Cloud Monitoring has no such level; left unspecified
    assert got["gpu-idle"]["conditions"][0]["conditionThreshold"]["duration"] == "7200s"
    assert got["gpu-saturated"]["severity"] == "CRITICAL"
    assert "nodes-absent" not in got


# --- budget ---------------------------------------------------------------------------------------


def test_budget_scope_amount_and_thresholds(prod: ProgramRun) -> None:
    b = prod.one(BUDGET).inputs
    assert b["billingAccount"] == BILLING
    assert b["displayName"] == "gpufleet-prod-monthly"
    assert b["amount"] == {"specifiedAmount": {"currencyCode": "USD", "units": "1250", "nanos": 750000000}}
    f = b["budgetFilter"]
    (project,) = f["projects"]
    assert project.startswith("projects/") and project.removeprefix("projects/").isdigit()  # the project number
    assert f["labels"] == {"cost-center": "cc-1234"}
    assert f["calendarPeriod"] == "MONTH"
    assert b["thresholdRules"] == [
        {"thresholdPercent": 0.5, "spendBasis": "CURRENT_SPEND"},
        {"thresholdPercent": 1, "spendBasis": "CURRENT_SPEND"},
        {"thresholdPercent": 1.2, "spendBasis": "FORECASTED_SPEND"},
    ]
    # The alarm channels (created from the same emails) are reused.
    assert b["allUpdatesRule"]["monitoringNotificationChannels"] == ALARM_CHANNELS
    assert not mine(prod, CHANNEL, "gcp-budget")
    lookups = [i for i in prod.invokes if i.token == "gcp:organizations/getProject:getProject"]
    assert lookups and all(i.args.get("projectId") == PROJECT and "r1-gcp" in i.provider for i in lookups)


def test_budget_creates_its_own_channels_when_not_reusing() -> None:
    run = run_monitoring(pools=False, reuse_alarm_targets=False)
    own = {r.name for r in mine(run, CHANNEL, "gcp-budget")}
    assert own == {"gcp-budget-email-ml-oncall-example-com", "gcp-budget-email-ops-example-com"}
    assert run.one(BUDGET).inputs["allUpdatesRule"]["monitoringNotificationChannels"] == [
        channel_name("gcp-budget-email-ml-oncall-example-com"), channel_name("gcp-budget-email-ops-example-com"),
    ]


def test_budget_with_its_own_audience() -> None:
    monitoring = {**MONITORING, "budget": {**MONITORING["budget"], "notify": {"emails": ["finance@example.com"]}}}
    run = run_monitoring(monitoring, pools=False)
    assert run.one(BUDGET).inputs["allUpdatesRule"]["monitoringNotificationChannels"] == [
        channel_name("gcp-budget-email-finance-example-com")
    ]


def test_budget_refusals() -> None:
    with pytest.raises(ValueError, match="gcp_billing_account"):
        run_monitoring({"notifications": {"emails": EMAILS}, "budget": {"monthly_usd": 10}}, pools=False)
    six = [f"user{i}@example.com" for i in range(6)]
    with pytest.raises(ValueError, match="at most 5 channels"):
        run_monitoring({"notifications": {"emails": six}, "budget": MONITORING["budget"]}, pools=False)


def test_specified_amount() -> None:
    assert (specified_amount(1000).units, specified_amount(1000).nanos) == ("1000", 0)
    assert (specified_amount(0.5).units, specified_amount(0.5).nanos) == ("0", 500000000)
    assert (specified_amount(99.999).units, specified_amount(99.999).nanos) == ("100", 0)


# --- every resource -------------------------------------------------------------------------------


def _label_fields(type_token: str) -> set[str]:
    module, cls = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    args_cls = getattr(importlib.import_module(f"pulumi_gcp.{module}"), f"{cls}Args")
    return {"labels", "user_labels", "resource_labels"} & set(inspect.signature(args_cls.__init__).parameters)


def test_cost_labels_on_every_labelable_resource(prod: ProgramRun) -> None:
    ours = [r for r in prod.resources if r.custom and r.name.startswith(("r1-alarms", "gcp-budget"))]
    labelable = [r for r in ours if _label_fields(r.type)]
    assert {r.type for r in labelable} == {CHANNEL, POLICY}
    for r in labelable:
        assert r.inputs["userLabels"] == TAGS, f"{r.type} {r.name}"
    # The billing budget takes no labels (it filters on them instead).
    assert not _label_fields(BUDGET)


def test_explicit_providers_and_parents(prod: ProgramRun) -> None:
    assert_explicit_providers(prod)
    parents = {prod.one("gpufleet:monitoring:CloudAlarms").urn, prod.one("gpufleet:monitoring:StackBudget").urn}
    for r in prod.resources:
        if r.custom and r.name.startswith(("r1-alarms", "gcp-budget")):
            assert r.parent in parents, r.name
            assert r.provider.split("::")[-2] == "r1-gcp", r.provider
