"""CloudWatch alarms, the SNS topic and the AWS budget under the recording mocks (no cloud, no CLI).

A real EKS cluster ("r1") and a real GPU pool ("r1-l4", planned from the catalog) are built in the
same program, so the alarms watch the node groups' actual Auto Scaling group outputs.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import pulumi
import pytest

from components.monitoring.args import BudgetSpec, MonitoringSpec, NotificationTargets
from components.monitoring.cloud import (
    CLOUD_ALERT_NAMES,
    CLOUD_ALERTS,
    CloudTargets,
    budget_recipients,
    resolve_alert,
    unique_thresholds,
)
from components.monitoring.cloud.aws import key_policy, topic_policy
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers

REGION = REGIONS["aws"]
ZONES = ["us-east-1a", "us-east-1b"]
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUB = "aws:sns/topicSubscription:TopicSubscription"
BUDGET = "aws:budgets/budget:Budget"
TOPIC_ARN = "<computed:sns.Topic:r1-alarms-topic:arn>"
ACCOUNT = "<computed:sts:caller:accountId>"
EXISTING_TOPIC = "arn:aws:sns:us-east-1:123456789012:platform-pager"
EMAILS = ["ops@example.com", "ml-oncall@example.com"]
MONITORING: dict[str, Any] = {
    "notifications": {"emails": EMAILS},
    "budget": {"monthly_usd": 12500, "thresholds": [
        {"percent": 50}, {"percent": 80}, {"percent": 100}, {"percent": 100, "kind": "forecast"},
        {"percent": 80},  # a duplicate: one notification only
    ]},
}


def l4_plan(environment: str):
    from components.gpu_pool.args import CapacityMix, GpuPoolSpec, GpuSpec
    from infra.pools import plan_pool

    spec = GpuPoolSpec(name="l4", gpu=GpuSpec(model="L4"), capacity=CapacityMix(max_nodes=4, reserved_nodes=0))
    plan, problems = plan_pool("aws", REGION, environment, spec, ZONES)
    assert plan is not None, problems
    return plan


def run_monitoring(
    monitoring: dict[str, Any] | None = None,
    *,
    environment: str = "prod",
    pools: bool = True,
    budget: bool = True,
    alarms_extra: dict[str, Any] | None = None,
) -> ProgramRun:
    """EKS cluster "r1" (+ GPU pool "r1-l4"), `CloudAlarms` "r1-alarms", `StackBudget` "aws-budget"."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.gpu_pool import GpuNodePool, GpuNodePoolArgs
    from components.monitoring.cloud import CloudAlarms, CloudAlarmsArgs, StackBudget, StackBudgetArgs, watch_pools

    spec = MonitoringSpec.model_validate(MONITORING if monitoring is None else monitoring)

    def program() -> None:
        provider = cloud_provider("r1-aws", cloud="aws", region=REGION, tags=TAGS)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="aws", region=REGION, environment=environment, tags=TAGS, cluster_name=f"gpufleet-{environment}-r1",
                spec=ClusterSpec.model_validate({"create": {"version": "1.33", "zones": ZONES}}),
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        watches = []
        if pools:
            pool = GpuNodePool(
                "r1-l4", GpuNodePoolArgs(plan=l4_plan(environment), tags=TAGS, cluster=cluster.build),
                opts=pulumi.ResourceOptions(providers=[provider, cluster.target.provider]),
            )
            watches = watch_pools([pool])
        opts = pulumi.ResourceOptions(providers=[provider])
        alarms = CloudAlarms(
            "r1-alarms",
            CloudAlarmsArgs(spec=spec, cloud="aws", region=REGION, environment=environment, tags=TAGS,
                            cluster=cluster.build, gpu_pools=watches, **(alarms_extra or {})),
            opts=opts,
        )
        pulumi.export("alarms", alarms.alarms)
        pulumi.export("topic", alarms.aws_sns_topic_arn)
        if budget and spec.budget is not None:
            b = StackBudget(
                "aws-budget",
                StackBudgetArgs(budget=spec.budget, notifications=spec.notifications, cloud="aws",
                                environment=environment, tags=TAGS, alarm_targets=alarms.targets),
                opts=opts,
            )
            pulumi.export("budgetName", b.budget_name)

    return run_program(program, stack=environment)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_monitoring()


def alarms(run: ProgramRun) -> dict[str, dict[str, Any]]:
    """MetricAlarm inputs by child name without the component prefix."""
    return {r.name.removeprefix("r1-alarms-"): r.inputs for r in run.by_type(ALARM)}


# --- notification target: created ---------------------------------------------------------------


def test_created_topic_is_encrypted_with_a_key_the_publishers_may_use(prod: ProgramRun) -> None:
    key = prod.one(KEY, "r1-alarms-topic-key").inputs
    assert key["enableKeyRotation"] is True
    assert json.loads(key["policy"]) == json.loads(key_policy(ACCOUNT, "aws"))
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    assert statements["PublishersEncrypt"]["Principal"]["Service"] == ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    assert statements["PublishersEncrypt"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statements["AccountAdministers"]["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT}:root"
    topic = prod.one(TOPIC).inputs
    # A customer-managed key: CloudWatch and Budgets cannot publish through alias/aws/sns.
    assert topic["kmsMasterKeyId"] == "<computed:kms.Key:r1-alarms-topic-key:arn>"
    assert prod.outputs["topic"] == TOPIC_ARN


def test_topic_policy_lets_only_cloudwatch_and_budgets_of_this_account_publish(prod: ProgramRun) -> None:
    policy = prod.one(POLICY).inputs
    assert policy["arn"] == TOPIC_ARN
    doc = json.loads(policy["policy"])
    assert doc == json.loads(topic_policy(TOPIC_ARN, ACCOUNT, "aws", REGION))
    by_service = {s["Principal"]["Service"]: s for s in doc["Statement"]}
    assert set(by_service) == {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for s in by_service.values():
        assert s["Action"] == "sns:Publish" and s["Resource"] == TOPIC_ARN
        assert s["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert by_service["cloudwatch.amazonaws.com"]["Condition"]["ArnLike"]["aws:SourceArn"] == (
        f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"
    )
    assert by_service["budgets.amazonaws.com"]["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:budgets::{ACCOUNT}:*"


def test_one_email_subscription_per_address(prod: ProgramRun) -> None:
    subs = {r.name: r.inputs for r in prod.by_type(SUB)}
    assert subs == {
        "r1-alarms-email-ml-oncall-example-com": {"topic": TOPIC_ARN, "protocol": "email", "endpoint": "ml-oncall@example.com"},
        "r1-alarms-email-ops-example-com": {"topic": TOPIC_ARN, "protocol": "email", "endpoint": "ops@example.com"},
    }


def test_a_given_cmk_replaces_the_created_key() -> None:
    cmk = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    run = run_monitoring(pools=False, budget=False, alarms_extra={"aws_sns_kms_key_arn": cmk})
    assert not [r for r in run.by_type(KEY) if r.name.startswith("r1-alarms")]
    assert run.one(TOPIC).inputs["kmsMasterKeyId"] == cmk


# --- notification target: referenced --------------------------------------------------------------


def test_referenced_topic_is_used_as_is() -> None:
    monitoring = {**MONITORING, "notifications": {"emails": EMAILS, "aws_sns_topic_arn": EXISTING_TOPIC}}
    run = run_monitoring(monitoring)
    for typ in (TOPIC, KEY, POLICY, SUB):
        assert not [r for r in run.by_type(typ) if r.name.startswith("r1-alarms")], typ
    for name, a in alarms(run).items():
        assert a["alarmActions"] == [EXISTING_TOPIC] and a["okActions"] == [EXISTING_TOPIC], name
    # The referenced topic's subscribers are unknown: the budget also mails the addresses itself.
    for n in run.one(BUDGET).inputs["notifications"]:
        assert n["subscriberSnsTopicArns"] == [EXISTING_TOPIC]
        assert n["subscriberEmailAddresses"] == sorted(EMAILS)


# --- alarms ---------------------------------------------------------------------------------------


def test_control_plane_silence_breaches(prod: ProgramRun) -> None:
    a = alarms(prod)["control-plane-silent"]
    assert (a["namespace"], a["metricName"], a["statistic"]) == ("AWS/EKS", "apiserver_request_total", "Sum")
    assert a["dimensions"] == {"ClusterName": "gpufleet-prod-r1"}
    assert (a["comparisonOperator"], a["threshold"]) == ("LessThanThreshold", 1)
    assert (a["period"], a["evaluationPeriods"], a["datapointsToAlarm"]) == (60, 15, 15)
    # No data is the signal: the control plane stopped publishing (down, unreachable, deleted).
    assert a["treatMissingData"] == "breaching"
    assert a["name"] == "gpufleet-prod-r1-CloudControlPlaneSilent"
    assert a["alarmDescription"].startswith("[critical] ")
    assert a["alarmActions"] == [TOPIC_ARN] and a["okActions"] == [TOPIC_ARN]


def test_apiserver_error_ratio_uses_metric_math(prod: ProgramRun) -> None:
    a = alarms(prod)["apiserver-errors"]
    queries = {q["id"]: q for q in a["metricQueries"]}
    assert queries["total"]["metric"]["metricName"] == "apiserver_request_total"
    assert queries["errors"]["metric"]["metricName"] == "apiserver_request_total_5XX"
    for q in ("total", "errors"):
        m = queries[q]["metric"]
        assert (m["namespace"], m["stat"], m["period"]) == ("AWS/EKS", "Sum", 300)
        assert m["dimensions"] == {"ClusterName": "gpufleet-prod-r1"}
        assert queries[q]["returnData"] is False
    assert queries["ratio"]["expression"] == "100 * FILL(errors, 0) / total" and queries["ratio"]["returnData"] is True
    assert (a["comparisonOperator"], a["threshold"], a["evaluationPeriods"]) == ("GreaterThanThreshold", 5, 3)
    assert a["treatMissingData"] == "notBreaching"
    assert "metricName" not in a and "namespace" not in a


def test_unschedulable_pods(prod: ProgramRun) -> None:
    a = alarms(prod)["pods-unschedulable"]
    assert (a["namespace"], a["metricName"]) == ("AWS/EKS", "scheduler_pending_pods_UNSCHEDULABLE")
    assert a["dimensions"] == {"ClusterName": "gpufleet-prod-r1"}
    assert (a["comparisonOperator"], a["threshold"], a["period"], a["evaluationPeriods"]) == ("GreaterThanThreshold", 0, 60, 30)
    assert a["treatMissingData"] == "notBreaching"


def test_status_checks_of_every_gpu_node_group(prod: ProgramRun) -> None:
    impaired = {k: v for k, v in alarms(prod).items() if k.endswith("gpu-instance-impaired")}
    # prod without a reservation: an on-demand floor group and a spot group.
    assert set(impaired) == {"l4-on-demand-gpu-instance-impaired", "l4-spot-gpu-instance-impaired"}
    for role in ("on-demand", "spot"):
        a = impaired[f"l4-{role}-gpu-instance-impaired"]
        assert (a["namespace"], a["metricName"], a["statistic"]) == ("AWS/EC2", "StatusCheckFailed", "Maximum")
        # The Auto Scaling group EKS created for the node group (read from the node group's outputs).
        assert a["dimensions"] == {"AutoScalingGroupName": f"<computed:eks.NodeGroup:r1-l4-{role}:asgName>"}
        assert (a["comparisonOperator"], a["threshold"], a["evaluationPeriods"]) == ("GreaterThanThreshold", 0, 5)
        assert a["treatMissingData"] == "notBreaching"  # a group at zero has no instances to report
        assert a["name"] == f"gpufleet-prod-r1-l4-{role}-CloudGpuInstanceImpaired"
    assert sorted(prod.outputs["alarms"]) == sorted([
        "CloudControlPlaneSilent", "CloudApiServerErrors", "CloudPodsUnschedulable",
        "CloudGpuInstanceImpaired[l4-on-demand]", "CloudGpuInstanceImpaired[l4-spot]",
    ])


def test_overrides_disable_retime_and_reclassify() -> None:
    monitoring = {**MONITORING, "alerts": {
        "CloudApiServerErrors": {"enabled": False},
        "CloudPodsUnschedulable": {"for_minutes": 45, "severity": "critical"},
    }}
    run = run_monitoring(monitoring, pools=False, budget=False)
    got = alarms(run)
    assert set(got) == {"control-plane-silent", "pods-unschedulable"}
    assert got["pods-unschedulable"]["evaluationPeriods"] == 45
    assert got["pods-unschedulable"]["alarmDescription"].startswith("[critical] ")


def test_catalogue_names_are_unique_and_cover_every_cloud() -> None:
    assert len(set(CLOUD_ALERT_NAMES)) == len(CLOUD_ALERT_NAMES)
    assert len({a.key for a in CLOUD_ALERTS}) == len(CLOUD_ALERTS)
    assert {c for a in CLOUD_ALERTS for c in a.clouds} == {"aws", "gcp", "azure"}
    spec = MonitoringSpec.model_validate({"alerts": {"CloudGpuIdle": {"severity": "info", "for_minutes": 0}}})
    idle = resolve_alert(spec, "CloudGpuIdle")
    assert idle is not None and (idle.severity, idle.for_minutes) == ("info", 0)


def test_monitoring_disabled_creates_nothing() -> None:
    run = run_monitoring({**MONITORING, "enabled": False}, pools=False, budget=False)
    assert [r.type for r in run.resources if r.parent.endswith("r1-alarms")] == []
    assert run.outputs["alarms"] == []


# --- budget ---------------------------------------------------------------------------------------


def test_budget_counts_this_stacks_tagged_spend(prod: ProgramRun) -> None:
    b = prod.one(BUDGET).inputs
    assert (b["budgetType"], b["timeUnit"], b["limitAmount"], b["limitUnit"]) == ("COST", "MONTHLY", "12500.00", "USD")
    assert b["name"] == prod.outputs["budgetName"] == "gpufleet-prod-monthly"
    assert b["filterExpression"] == {"ands": [
        {"tags": {"key": "cost-center", "values": ["cc-1234"], "matchOptions": ["EQUALS"]}},
        {"tags": {"key": "environment", "values": ["dev"], "matchOptions": ["EQUALS"]}},
    ]}
    assert b["metrics"] == "UnblendedCost"
    assert "costFilters" not in b


def test_budget_notifies_actual_and_forecast_thresholds_through_the_topic(prod: ProgramRun) -> None:
    notes = prod.one(BUDGET).inputs["notifications"]
    assert [(n["notificationType"], n["threshold"]) for n in notes] == [
        ("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100),
    ]
    for n in notes:
        assert (n["comparisonOperator"], n["thresholdType"]) == ("GREATER_THAN", "PERCENTAGE")
        assert n["subscriberSnsTopicArns"] == [TOPIC_ARN]
        # The created topic already mails these addresses; the budget does not mail them twice.
        assert "subscriberEmailAddresses" not in n


def test_budget_with_its_own_audience_mails_it_directly() -> None:
    monitoring = {**MONITORING, "budget": {"monthly_usd": 900, "notify": {"emails": ["finance@example.com"]}}}
    run = run_monitoring(monitoring, pools=False)
    for n in run.one(BUDGET).inputs["notifications"]:
        assert n["subscriberEmailAddresses"] == ["finance@example.com"]
        assert "subscriberSnsTopicArns" not in n


def test_budget_nobody_hears_of_is_refused() -> None:
    with pytest.raises(ValueError, match="notify nobody"):
        budget_recipients(BudgetSpec(monthly_usd=10, notify=NotificationTargets()), NotificationTargets(), "aws")
    # Through the component too: config validation reports this first, the component refuses anyway.
    with pytest.raises(ValueError, match="notify nobody"):
        run_monitoring({"budget": {"monthly_usd": 10, "notify": {}}}, pools=False)


def test_created_topic_without_emails_is_still_the_budget_target() -> None:
    # Subscribers (chat, pager) can be added to the created topic out of band.
    run = run_monitoring({"budget": {"monthly_usd": 10}}, pools=False)
    assert not run.by_type(SUB)
    assert run.one(BUDGET).inputs["notifications"][0]["subscriberSnsTopicArns"] == [TOPIC_ARN]


def test_budget_recipients_rules() -> None:
    notifications = NotificationTargets(emails=["a@example.com"])
    budget = BudgetSpec(monthly_usd=1)
    topic = pulumi.Output.from_input("arn:aws:sns:us-east-1:123456789012:t")
    created = CloudTargets(cloud="aws", created=True, aws_sns_topic_arn=topic)
    referenced = CloudTargets(cloud="aws", created=False, aws_sns_topic_arn=topic)
    assert budget_recipients(budget, notifications, "aws", created).emails == []
    assert budget_recipients(budget, notifications, "aws", referenced).emails == ["a@example.com"]
    assert budget_recipients(budget, notifications, "aws").native == []
    assert [(t.kind, t.percent) for t in unique_thresholds(budget)] == [("actual", 80), ("actual", 100), ("forecast", 100)]


# --- every resource -------------------------------------------------------------------------------


def _accepts_tags(type_token: str) -> bool:
    module, cls = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    args_cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), f"{cls}Args")
    return "tags" in inspect.signature(args_cls.__init__).parameters


def monitoring_resources(run: ProgramRun) -> list:
    return [r for r in run.resources if r.name.startswith(("r1-alarms", "aws-budget")) and r.custom]


def test_cost_tags_on_every_taggable_resource(prod: ProgramRun) -> None:
    taggable = [r for r in monitoring_resources(prod) if _accepts_tags(r.type)]
    assert {r.type for r in taggable} == {KEY, TOPIC, ALARM, BUDGET}
    for r in taggable:
        assert r.inputs.get("tags") == TAGS, f"{r.type} {r.name}"


def test_explicit_providers_and_parents(prod: ProgramRun) -> None:
    assert_explicit_providers(prod)
    alarms_urn = prod.one("gpufleet:monitoring:CloudAlarms").urn
    budget_urn = prod.one("gpufleet:monitoring:StackBudget").urn
    for r in monitoring_resources(prod):
        assert r.parent in (alarms_urn, budget_urn), r.name
        assert r.provider.split("::")[-2] == "r1-aws", r.provider
    (caller,) = [i for i in prod.invokes if i.token == "aws:index/getCallerIdentity:getCallerIdentity"]
    assert "r1-aws" in caller.provider
