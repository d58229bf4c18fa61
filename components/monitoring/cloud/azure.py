"""Azure Monitor alerts on the AKS cluster, the action group and the consumption budget.

Children are parented to the component and inherit the explicit azure-native provider; every one
that takes tags gets the cost tags (azure-native has no provider-level default tags).

Signals Azure evaluates itself, without any in-cluster agent:

- Resource Health of the managed cluster (activity log, category ResourceHealth): the platform's
  own verdict that the cluster is Degraded or Unavailable.
- AKS platform metrics of Microsoft.ContainerService/managedClusters (Azure Monitor "Supported
  metrics" reference): `cluster_autoscaler_unschedulable_pods_count` (Total/Average, PT5M grain and
  up, preview) and `etcd_database_usage_percentage` (Maximum/Average).

AKS publishes no GPU platform metric (the same reference lists none): GPU utilisation on Azure is
watched by the in-cluster dcgm-exporter rules (or Container Insights, which the cluster does not
enable). Node readiness (`kube_node_status_condition`) is left out: its dimension values are not
documented well enough to alert on.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure_native

from . import CloudTargets, ResolvedAlert, resolve_alert, unique_thresholds

if TYPE_CHECKING:  # pragma: no cover - typing only
    from . import BudgetRecipients, CloudAlarmsArgs, StackBudgetArgs

monitor = azure_native.monitor

AKS_NAMESPACE = "Microsoft.ContainerService/managedClusters"
# Azure Monitor alert severities: 0 Critical, 1 Error, 2 Warning, 3 Informational, 4 Verbose.
SEVERITY: dict[str, int] = {"critical": 0, "warning": 2, "info": 3}
# Metric alert windows Azure accepts, in minutes, and the evaluation frequency used.
WINDOWS: tuple[tuple[int, str], ...] = (
    (1, "PT1M"), (5, "PT5M"), (15, "PT15M"), (30, "PT30M"), (60, "PT1H"), (360, "PT6H"), (720, "PT12H"), (1440, "P1D"),
)
FREQUENCY = "PT5M"
ETCD_PERCENT = 80.0
HEALTH_STATES = ("Degraded", "Unavailable")


def window(for_minutes: int, minimum: int = 5) -> str:
    """Pure: the smallest window Azure accepts that covers `for_minutes` (and the metric's grain)."""
    need = max(for_minutes, minimum)
    for minutes, iso in WINDOWS:
        if minutes >= need:
            return iso
    return WINDOWS[-1][1]


def group_short_name(environment: str) -> str:
    """Action group short names (shown in SMS and email subjects) take at most 12 characters."""
    return f"gpufleet-{environment[:3]}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cluster_id(parent: pulumi.ComponentResource, args: "CloudAlarmsArgs") -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(resource group name, managed cluster id) of the cluster watched."""
    cluster = args.cluster
    if cluster.resource_group_name is None:
        raise ValueError(
            "CloudAlarms on azure need the cluster's resource group: adopt the cluster by name and resource_group "
            "(or set cluster.adopt.resource_group)"
        )
    rg = pulumi.Output.from_input(cluster.resource_group_name)
    if cluster.cluster_id is not None:
        return rg, pulumi.Output.from_input(cluster.cluster_id)
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=parent))
    return rg, pulumi.Output.concat(
        "/subscriptions/", client.subscription_id, "/resourceGroups/", rg,
        "/providers/Microsoft.ContainerService/managedClusters/", cluster.cluster_name,
    )


def _action_group(
    parent: pulumi.ComponentResource, name: str, args: "CloudAlarmsArgs", rg: pulumi.Output[str], cluster_name
) -> CloudTargets:
    targets = args.spec.notifications
    if targets.azure_action_group_id:
        return CloudTargets(
            cloud="azure", created=False, azure_action_group_id=pulumi.Output.from_input(targets.azure_action_group_id)
        )
    if not targets.emails:
        return CloudTargets(cloud="azure", created=False)
    group = monitor.ActionGroup(
        f"{name}-action-group",
        monitor.ActionGroupInitArgs(
            resource_group_name=rg,
            action_group_name=pulumi.Output.concat("ag-", cluster_name),
            group_short_name=group_short_name(args.environment),
            location="global",
            enabled=True,
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(
                    name=f"email-{_slug(email)}"[:128], email_address=email, use_common_alert_schema=True
                )
                for email in targets.emails
            ],
            tags=dict(args.tags),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return CloudTargets(cloud="azure", created=True, azure_action_group_id=group.id)


def build_alarms(parent: pulumi.ComponentResource, name: str, args: "CloudAlarmsArgs") -> tuple[CloudTargets, list[str]]:
    rg, cluster_id = _cluster_id(parent, args)
    cluster_name = pulumi.Output.from_input(args.cluster.cluster_name)
    targets = _action_group(parent, name, args, rg, cluster_name)
    groups = targets.native()
    tags = dict(args.tags)
    opts = pulumi.ResourceOptions(parent=parent)
    created: list[str] = []

    a = resolve_alert(args.spec, "CloudClusterUnhealthy")
    if a is not None:
        monitor.ActivityLogAlert(
            f"{name}-{a.key}",
            monitor.ActivityLogAlertArgs(
                resource_group_name=rg,
                activity_log_alert_name=pulumi.Output.concat(cluster_name, "-", a.name),
                location="global",
                scopes=[cluster_id],
                enabled=True,
                description=a.description,
                condition=monitor.AlertRuleAllOfConditionArgs(
                    all_of=[
                        monitor.AlertRuleAnyOfOrLeafConditionArgs(field="category", equals="ResourceHealth"),
                        monitor.AlertRuleAnyOfOrLeafConditionArgs(
                            any_of=[
                                monitor.AlertRuleLeafConditionArgs(field="properties.currentHealthStatus", equals=s)
                                for s in HEALTH_STATES
                            ]
                        ),
                    ]
                ),
                actions=monitor.ActionListArgs(
                    action_groups=[monitor.ActionGroupArgs(action_group_id=g) for g in groups]
                ),
                tags=tags,
            ),
            opts=opts,
        )
        created.append(a.name)

    def metric_alert(alert: ResolvedAlert, metric: str, aggregation: str, operator: str, threshold: float,
                     minimum_window: int) -> None:
        monitor.MetricAlert(
            f"{name}-{alert.key}",
            monitor.MetricAlertArgs(
                resource_group_name=rg,
                rule_name=pulumi.Output.concat(cluster_name, "-", alert.name),
                location="global",
                description=alert.description,
                severity=SEVERITY[alert.severity],
                enabled=True,
                scopes=[cluster_id],
                target_resource_type=AKS_NAMESPACE,
                evaluation_frequency=FREQUENCY,
                window_size=window(alert.for_minutes, minimum_window),
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[
                        monitor.MetricCriteriaArgs(
                            criterion_type="StaticThresholdCriterion",
                            name=metric,
                            metric_name=metric,
                            metric_namespace=AKS_NAMESPACE,
                            operator=operator,
                            threshold=threshold,
                            time_aggregation=aggregation,
                        )
                    ],
                ),
                auto_mitigate=True,
                actions=[monitor.MetricAlertActionArgs(action_group_id=g) for g in groups],
                tags=tags,
            ),
            opts=opts,
        )
        created.append(alert.name)

    a = resolve_alert(args.spec, "CloudPodsUnschedulable")
    if a is not None:
        # Average >= 1 over the window: at least one pod's worth stayed unschedulable the whole
        # time, which a normal GPU scale-up (minutes) does not produce. The metric's grain is PT5M.
        metric_alert(a, "cluster_autoscaler_unschedulable_pods_count", "Average", "GreaterThanOrEqual", 1, 5)
    a = resolve_alert(args.spec, "CloudEtcdNearlyFull")
    if a is not None:
        metric_alert(a, "etcd_database_usage_percentage", "Maximum", "GreaterThan", ETCD_PERCENT, 5)
    return targets, created


# --- budget ---------------------------------------------------------------------------------------


def notification_key(kind: str, percent: float) -> str:
    """Pure: a stable key per threshold, e.g. Actual_GreaterThan_80_Percent."""
    pct = f"{percent:g}".replace(".", "_")
    return f"{'Actual' if kind == 'actual' else 'Forecasted'}_GreaterThan_{pct}_Percent"


def build_budget(
    parent: pulumi.ComponentResource, name: str, args: "StackBudgetArgs", recipients: "BudgetRecipients", budget_name: str
) -> pulumi.Output[str]:
    assert args.azure_start_date is not None
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=parent))
    scope = pulumi.Output.concat("/subscriptions/", client.subscription_id, "/resourceGroups/", args.resource_group_name)
    budget = azure_native.consumption.Budget(
        f"{name}-budget",
        azure_native.consumption.BudgetArgs(
            scope=scope,
            budget_name=budget_name,
            amount=args.budget.monthly_usd,
            category="Cost",
            time_grain="Monthly",
            # First of a month, fixed at first deploy (see AZURE_START_DATE); no end date: Azure
            # defaults it to ten years later.
            time_period=azure_native.consumption.BudgetTimePeriodArgs(start_date=f"{args.azure_start_date}T00:00:00Z"),
            notifications={
                notification_key(t.kind, t.percent): azure_native.consumption.NotificationArgs(
                    enabled=True,
                    operator="GreaterThan",
                    threshold=t.percent,
                    threshold_type="Actual" if t.kind == "actual" else "Forecasted",
                    contact_emails=list(recipients.emails),
                    contact_groups=list(recipients.native) or None,
                )
                for t in unique_thresholds(args.budget)
            },
        ),
        # The API refuses to change a budget's start date; a later edit of the config is ignored
        # rather than failing every update.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["timePeriod.startDate"]),
    )
    return budget.name.apply(lambda n: n or budget_name)
