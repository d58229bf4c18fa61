"""Cloud Monitoring alert policies, email notification channels and the GCP billing budget.

Children are parented to the component and inherit the explicit gcp provider. The alert policies
read GKE system metrics, which Google's own agents write to Cloud Monitoring (the cluster enables
SYSTEM_COMPONENTS monitoring); no in-cluster gpufleet component is involved
(https://cloud.google.com/monitoring/api/metrics_kubernetes):

- `kubernetes.io/container/accelerator/duty_cycle` (GAUGE, INT64, percent of the last sample period
  the accelerator was busy), resource type `k8s_container` (labels project_id, location,
  cluster_name, namespace_name, pod_name, container_name), written for containers that requested
  GPUs.
- `kubernetes.io/node/cpu/allocatable_utilization`, resource type `k8s_node`: every node writes it.

Filters are scoped to the cluster by `resource.label.project_id` and `resource.label.cluster_name`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp

from . import CloudTargets, ResolvedAlert, resolve_alert, unique_thresholds

if TYPE_CHECKING:  # pragma: no cover - typing only
    from . import BudgetRecipients, CloudAlarmsArgs, StackBudgetArgs

DUTY_CYCLE = "kubernetes.io/container/accelerator/duty_cycle"
NODE_CPU = "kubernetes.io/node/cpu/allocatable_utilization"
ALIGNMENT = "300s"
GROUP_BY = ["resource.label.cluster_name"]
# Cloud Monitoring severities are CRITICAL, ERROR and WARNING; `info` leaves it unset.
SEVERITY: dict[str, str | None] = {"critical": "CRITICAL", "warning": "WARNING", "info": None}
# A budget notifies at most 5 monitoring channels.
MAX_BUDGET_CHANNELS = 5


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def metric_filter(resource_type: str, metric: str, project: str, cluster_name: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        'resource.type = "', resource_type, '" AND resource.label.project_id = "', project,
        '" AND resource.label.cluster_name = "', cluster_name, '" AND metric.type = "', metric, '"',
    )


def email_channels(
    parent: pulumi.ComponentResource, name: str, emails: list[str], project: str, tags: dict[str, str], environment: str
) -> list[pulumi.Output[str]]:
    """One email channel per address; returns their names (projects/<p>/notificationChannels/<id>).

    `labels` is the channel's own configuration (the address); cost labels go in `user_labels`.
    """
    return [
        gcp.monitoring.NotificationChannel(
            f"{name}-email-{_slug(email)}",
            gcp.monitoring.NotificationChannelArgs(
                type="email",
                display_name=f"gpufleet {environment}: {email}",
                labels={"email_address": email},
                user_labels=dict(tags),
                project=project,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        ).name
        for email in emails
    ]


def build_alarms(parent: pulumi.ComponentResource, name: str, args: "CloudAlarmsArgs") -> tuple[CloudTargets, list[str]]:
    project = args.project_id
    assert project is not None
    tags = dict(args.tags)
    notifications = args.spec.notifications
    if notifications.gcp_notification_channels:
        channels = [pulumi.Output.from_input(c) for c in notifications.gcp_notification_channels]
        targets = CloudTargets(cloud="gcp", created=False, gcp_notification_channels=tuple(channels))
    else:
        channels = email_channels(parent, name, notifications.emails, project, tags, args.environment)
        targets = CloudTargets(cloud="gcp", created=True, gcp_notification_channels=tuple(channels))

    cluster_name = pulumi.Output.from_input(args.cluster.cluster_name)
    duty = metric_filter("k8s_container", DUTY_CYCLE, project, cluster_name)
    created: list[str] = []

    def aggregation(cls):
        # Mean per container over 5 minutes, then the mean over the cluster's containers.
        return [cls(alignment_period=ALIGNMENT, per_series_aligner="ALIGN_MEAN", cross_series_reducer="REDUCE_MEAN",
                    group_by_fields=GROUP_BY)]

    def policy(alert: ResolvedAlert, condition: gcp.monitoring.AlertPolicyConditionArgs) -> None:
        gcp.monitoring.AlertPolicy(
            f"{name}-{alert.key}",
            gcp.monitoring.AlertPolicyArgs(
                display_name=pulumi.Output.concat(cluster_name, " ", alert.name),
                combiner="OR",
                conditions=[condition],
                notification_channels=channels,
                severity=SEVERITY[alert.severity],
                documentation=gcp.monitoring.AlertPolicyDocumentationArgs(
                    content=alert.description, mime_type="text/markdown"
                ),
                user_labels=tags,
                project=project,
                enabled=True,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        created.append(alert.name)

    def threshold(alert: ResolvedAlert, comparison: str, value: float) -> gcp.monitoring.AlertPolicyConditionArgs:
        return gcp.monitoring.AlertPolicyConditionArgs(
            display_name=f"{alert.name}: mean GPU duty cycle {'<' if comparison == 'COMPARISON_LT' else '>'} {value:g}%",
            condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                filter=duty,
                comparison=comparison,
                threshold_value=value,
                duration=f"{alert.for_minutes * 60}s",
                aggregations=aggregation(gcp.monitoring.AlertPolicyConditionConditionThresholdAggregationArgs),
                trigger=gcp.monitoring.AlertPolicyConditionConditionThresholdTriggerArgs(count=1),
                # No GPU containers is not "idle" or "saturated": that is CloudGpuMetricsAbsent's job.
                evaluation_missing_data="EVALUATION_MISSING_DATA_INACTIVE",
            ),
        )

    a = resolve_alert(args.spec, "CloudGpuIdle")
    if a is not None:
        policy(a, threshold(a, "COMPARISON_LT", args.gpu_idle_percent))
    a = resolve_alert(args.spec, "CloudGpuSaturated")
    if a is not None:
        policy(a, threshold(a, "COMPARISON_GT", args.gpu_saturated_percent))

    floor = sum(w.floor for w in args.gpu_pools)
    a = resolve_alert(args.spec, "CloudGpuMetricsAbsent")
    if a is not None and floor > 0:
        policy(a, gcp.monitoring.AlertPolicyConditionArgs(
            display_name=f"{a.name}: no GPU duty cycle from the cluster (floor {floor} nodes)",
            condition_absent=gcp.monitoring.AlertPolicyConditionConditionAbsentArgs(
                filter=duty,
                duration=f"{max(a.for_minutes, 2) * 60}s",  # absence needs at least 120s
                aggregations=aggregation(gcp.monitoring.AlertPolicyConditionConditionAbsentAggregationArgs),
                trigger=gcp.monitoring.AlertPolicyConditionConditionAbsentTriggerArgs(count=1),
            ),
        ))

    a = resolve_alert(args.spec, "CloudNodesAbsent")
    if a is not None:
        policy(a, gcp.monitoring.AlertPolicyConditionArgs(
            display_name=f"{a.name}: no node metrics from the cluster",
            condition_absent=gcp.monitoring.AlertPolicyConditionConditionAbsentArgs(
                filter=metric_filter("k8s_node", NODE_CPU, project, cluster_name),
                duration=f"{max(a.for_minutes, 2) * 60}s",
                aggregations=aggregation(gcp.monitoring.AlertPolicyConditionConditionAbsentAggregationArgs),
                trigger=gcp.monitoring.AlertPolicyConditionConditionAbsentTriggerArgs(count=1),
            ),
        ))
    return targets, created


# --- budget ---------------------------------------------------------------------------------------


def specified_amount(usd: float) -> gcp.billing.BudgetAmountSpecifiedAmountArgs:
    """Pure: whole dollars in `units`, cents as nanos (1250.5 -> units "1250", nanos 500000000)."""
    d = Decimal(str(usd)).quantize(Decimal("0.01"))
    units = int(d)
    return gcp.billing.BudgetAmountSpecifiedAmountArgs(
        currency_code="USD", units=str(units), nanos=int((d - units) * 1_000_000_000)
    )


def build_budget(
    parent: pulumi.ComponentResource, name: str, args: "StackBudgetArgs", recipients: "BudgetRecipients", budget_name: str
) -> pulumi.Output[str]:
    project = args.project_id
    assert project is not None and args.budget.gcp_billing_account is not None
    channels = list(recipients.native) + email_channels(
        parent, name, recipients.emails, project, dict(args.tags), args.environment
    )
    if len(channels) > MAX_BUDGET_CHANNELS:
        raise ValueError(f"{name}: a GCP budget notifies at most {MAX_BUDGET_CHANNELS} channels, got {len(channels)}")
    # The budget filter takes project numbers, not ids.
    number = gcp.organizations.get_project_output(project_id=project, opts=pulumi.InvokeOptions(parent=parent)).number
    budget = gcp.billing.Budget(
        f"{name}-budget",
        gcp.billing.BudgetArgs(
            billing_account=args.budget.gcp_billing_account,
            display_name=budget_name,
            amount=gcp.billing.BudgetAmountArgs(specified_amount=specified_amount(args.budget.monthly_usd)),
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                projects=[pulumi.Output.concat("projects/", number)],
                # A budget filter takes a single label: the stack's cost-center.
                labels={"cost-center": args.tags["cost-center"]},
                calendar_period="MONTH",
            ),
            threshold_rules=[
                gcp.billing.BudgetThresholdRuleArgs(
                    threshold_percent=t.percent / 100,
                    spend_basis="CURRENT_SPEND" if t.kind == "actual" else "FORECASTED_SPEND",
                )
                for t in unique_thresholds(args.budget)
            ],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(monitoring_notification_channels=channels),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return budget.display_name.apply(lambda n: n or budget_name)
