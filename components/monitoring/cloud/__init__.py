"""Cloud-native alarms, notification targets and budgets: the part of monitoring that still works
when the in-cluster stack is down or the cluster cannot be reached.

- `CloudAlarms` (one per region): the notification target (SNS topic, Cloud Monitoring email
  channels, Azure action group) created from `MonitoringSpec.notifications` or referenced, and
  alarms evaluated by the cloud itself (CloudWatch, Cloud Monitoring, Azure Monitor) on metrics the
  cloud publishes without any in-cluster agent.
- `StackBudget` (one per cloud the stack uses): a monthly cost budget scoped to this stack, with an
  actual and/or forecast notification per `BudgetSpec` threshold.

This module is neutral (pydantic and pulumi only): the per-cloud modules (aws.py, gcp.py,
azure.py) are imported only for the cloud a component is built on.

Each alarm has a stable name (`CLOUD_ALERT_NAMES`); `MonitoringSpec.alerts[<name>]` overrides
its severity, its duration (`for_minutes`) or turns it off, like the in-cluster rules.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import ConfigDict, Field

from ..._contracts import Cloud
from ..._model import Args
from ..args import BudgetSpec, BudgetThreshold, MonitoringSpec, NotificationTargets, Severity

__all__ = [
    "CloudAlarms",
    "CloudAlarmsArgs",
    "StackBudget",
    "StackBudgetArgs",
    "CloudTargets",
    "GpuPoolWatch",
    "CloudAlert",
    "CLOUD_ALERTS",
    "CLOUD_ALERT_NAMES",
    "ResolvedAlert",
    "resolve_alert",
    "watch_pools",
    "budget_recipients",
    "BudgetRecipients",
    "unique_thresholds",
]

ALARMS_TOKEN = "gpufleet:monitoring:CloudAlarms"
BUDGET_TOKEN = "gpufleet:monitoring:StackBudget"


# --- the alarm catalogue (neutral: names, default severity and duration, meaning) ---------------


@dataclass(frozen=True)
class CloudAlert:
    """One cloud-evaluated alarm. `for_minutes` is how long the condition must hold (0: fire on the
    event); `summary` is the one line the README and the alarm's description carry."""

    name: str
    key: str  # child resource suffix: f"{name}-<key>"
    clouds: tuple[Cloud, ...]
    severity: Severity
    for_minutes: int
    summary: str


CLOUD_ALERTS: tuple[CloudAlert, ...] = (
    CloudAlert(
        "CloudControlPlaneSilent", "control-plane-silent", ("aws",), "critical", 15,
        "EKS published no API server request count for the cluster (AWS/EKS apiserver_request_total): the control "
        "plane is down, unreachable or the cluster is gone. Missing data breaches: the silence is the signal.",
    ),
    CloudAlert(
        "CloudApiServerErrors", "apiserver-errors", ("aws",), "warning", 15,
        "More than 5% of the EKS API server's requests failed with 5XX (apiserver_request_total_5XX / "
        "apiserver_request_total): deploys, autoscaling and controllers are failing.",
    ),
    CloudAlert(
        "CloudPodsUnschedulable", "pods-unschedulable", ("aws", "azure"), "warning", 30,
        "Pods stayed unschedulable (AWS/EKS scheduler_pending_pods_UNSCHEDULABLE; AKS "
        "cluster_autoscaler_unschedulable_pods_count): GPU capacity could not be obtained (stockout, quota, spot "
        "or reservation exhausted) or requests fit no node.",
    ),
    CloudAlert(
        "CloudGpuInstanceImpaired", "gpu-instance-impaired", ("aws",), "warning", 5,
        "An EC2 instance of a GPU node group fails its status checks (AWS/EC2 StatusCheckFailed by "
        "AutoScalingGroupName): a host or instance fault takes GPUs out of service. Missing data (group at zero) "
        "is not breaching.",
    ),
    CloudAlert(
        "CloudGpuIdle", "gpu-idle", ("gcp",), "warning", 60,
        "GPUs allocated to containers were on average almost idle (kubernetes.io/container/accelerator/duty_cycle "
        "below the idle threshold): paying for GPUs nobody uses; lower the floor or the max.",
    ),
    CloudAlert(
        "CloudGpuSaturated", "gpu-saturated", ("gcp",), "warning", 15,
        "GPUs were on average saturated (duty_cycle above the saturation threshold): serving is at capacity and "
        "the autoscaler is not adding nodes fast enough (or hit max).",
    ),
    CloudAlert(
        "CloudGpuMetricsAbsent", "gpu-metrics-absent", ("gcp",), "critical", 30,
        "No duty_cycle series at all from the cluster while its GPU pools have a floor above zero: GPU nodes or "
        "the serving containers on them are gone (only created when a floor exists).",
    ),
    CloudAlert(
        "CloudNodesAbsent", "nodes-absent", ("gcp",), "critical", 15,
        "No node metrics at all from the cluster (kubernetes.io/node/cpu/allocatable_utilization absent): every "
        "node is gone or cut off, or the cluster was deleted.",
    ),
    CloudAlert(
        "CloudClusterUnhealthy", "cluster-unhealthy", ("azure",), "critical", 0,
        "Azure Resource Health reports the AKS cluster Degraded or Unavailable (activity log, category "
        "ResourceHealth): the managed control plane itself has a problem.",
    ),
    CloudAlert(
        "CloudEtcdNearlyFull", "etcd-nearly-full", ("azure",), "warning", 15,
        "The AKS etcd database is above 80% of its quota (etcd_database_usage_percentage): at 100% the API "
        "server refuses writes.",
    ),
)
CLOUD_ALERT_NAMES: tuple[str, ...] = tuple(a.name for a in CLOUD_ALERTS)
_BY_NAME = {a.name: a for a in CLOUD_ALERTS}


@dataclass(frozen=True)
class ResolvedAlert:
    """A catalogue alarm after `MonitoringSpec.alerts` overrides."""

    name: str
    key: str
    severity: Severity
    for_minutes: int
    summary: str

    @property
    def description(self) -> str:
        return f"[{self.severity}] {self.summary}"


def resolve_alert(spec: MonitoringSpec, name: str) -> ResolvedAlert | None:
    """The alarm with the spec's override applied; None when the override disables it."""
    alert = _BY_NAME[name]
    override = spec.alerts.get(name)
    if override is not None and not override.enabled:
        return None
    severity = override.severity if override is not None and override.severity else alert.severity
    minutes = override.for_minutes if override is not None and override.for_minutes is not None else alert.for_minutes
    return ResolvedAlert(name, alert.key, severity, minutes, alert.summary)


def evaluation_periods(for_minutes: int, period_s: int) -> int:
    """How many periods of `period_s` cover `for_minutes` (at least one)."""
    return max(1, math.ceil(for_minutes * 60 / period_s))


# --- what the alarms watch and whom they notify ---------------------------------------------------


@dataclass(frozen=True)
class GpuPoolWatch:
    """A GPU pool as the cloud alarms see it.

    `floor`: nodes that exist whatever spot does (reserved + on-demand base; `PoolPlan.capacity.floor`).
    `aws_asg_names`: (capacity type, Auto Scaling group name) of the pool's EKS node groups.
    """

    pool: str
    floor: int
    aws_asg_names: tuple[tuple[str, pulumi.Input[str]], ...] = ()


def watch_pools(pools: list[Any]) -> list[GpuPoolWatch]:
    """`GpuPoolWatch`es of `components.gpu_pool.GpuNodePool` components (any cloud).

    On AWS the Auto Scaling group name comes from each EKS node group's `resources` output.
    """
    out: list[GpuPoolWatch] = []
    for p in pools:
        asgs: list[tuple[str, pulumi.Input[str]]] = []
        if p.plan.cloud == "aws":
            for role, ng in sorted(p.build.native_pools.items()):
                asgs.append((role, ng.resources.apply(lambda rs: rs[0].autoscaling_groups[0].name)))
        out.append(GpuPoolWatch(pool=p.plan.name, floor=p.plan.capacity.floor, aws_asg_names=tuple(asgs)))
    return sorted(out, key=lambda w: w.pool)


@dataclass(frozen=True)
class CloudTargets:
    """Where a region's alarms go, for `StackBudget` to reuse.

    `created`: the native target was created by `CloudAlarms` from `notifications.emails` (the emails
    are reached through it); False when it was referenced from config (or none exists).
    """

    cloud: Cloud
    created: bool
    aws_sns_topic_arn: pulumi.Output[str] | None = None
    gcp_notification_channels: tuple[pulumi.Output[str], ...] = ()
    azure_action_group_id: pulumi.Output[str] | None = None

    def native(self) -> list[pulumi.Input[str]]:
        if self.cloud == "aws":
            return [self.aws_sns_topic_arn] if self.aws_sns_topic_arn is not None else []
        if self.cloud == "gcp":
            return list(self.gcp_notification_channels)
        return [self.azure_action_group_id] if self.azure_action_group_id is not None else []


class CloudAlarmsArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    spec: MonitoringSpec = Field(..., description="The stack's monitoring spec (notifications, alert overrides).")
    cloud: Cloud = Field(..., description="aws, gcp or azure.")
    region: str = Field(..., description="The region of the cluster watched.")
    environment: Literal["dev", "staging", "prod"] = Field(..., description="dev, staging or prod.")
    tags: dict[str, str] = Field(..., description="Cost tags on every taggable child (labels on GCP).")
    cluster: Any = Field(..., description="The region's ClusterBuild (cluster name; AKS id and resource group).")
    project_id: str | None = Field(None, description="GCP project of the cluster; required on GCP.")
    # list[GpuPoolWatch]; typed Any so pydantic keeps the dataclasses (and their Outputs) as given.
    gpu_pools: list[Any] = Field(
        default_factory=list,
        description="The region's GPU pools as `GpuPoolWatch` (`watch_pools`). Default none: no per-pool alarms and "
        "no GPU absence alarm.",
    )
    gpu_idle_percent: float = Field(10, gt=0, lt=100, description="GCP: mean duty cycle below which GPUs count as "
                                    "idle; default 10%.")
    gpu_saturated_percent: float = Field(90, gt=0, le=100, description="GCP: mean duty cycle above which GPUs count "
                                         "as saturated; default 90%.")
    aws_sns_kms_key_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$",
        description="AWS: customer-managed KMS key for the created SNS topic; its policy must let "
        "cloudwatch.amazonaws.com and budgets.amazonaws.com use it. Default: a key is created with that policy.",
    )


class CloudAlarms(pulumi.ComponentResource):
    """Cloud-native alarms for one region's cluster and the notification target they use.

    Pass the region's cloud provider in `opts.providers`; every child inherits it.

    Target: the one referenced in `notifications` (`aws_sns_topic_arn`, `gcp_notification_channels`,
    `azure_action_group_id`) is used as is, nothing is subscribed to or changed on it; otherwise one
    is created from `notifications.emails` (an SNS topic is created even without emails, so other
    subscribers can be added to it; GCP channels and an Azure action group only for emails).
    Outputs: `targets` (`CloudTargets`, for `StackBudget`), `alarms` (names of the alarms created),
    `aws_sns_topic_arn` / `gcp_notification_channels` / `azure_action_group_id` (the cloud's one).
    """

    targets: CloudTargets
    alarms: list[str]

    def __init__(self, name: str, args: CloudAlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ALARMS_TOKEN, name, None, opts)
        if args.cloud == "gcp" and not args.project_id:
            raise ValueError(f"{name}: project_id is required for CloudAlarms on gcp")
        if not args.spec.enabled:
            self.targets = CloudTargets(cloud=args.cloud, created=False)
            self.alarms = []
        else:
            impl = importlib.import_module(f"{__name__}.{args.cloud}")
            self.targets, self.alarms = impl.build_alarms(self, name, args)
        t = self.targets
        self.aws_sns_topic_arn = t.aws_sns_topic_arn
        self.gcp_notification_channels = list(t.gcp_notification_channels)
        self.azure_action_group_id = t.azure_action_group_id
        outputs: dict[str, Any] = {"alarms": self.alarms, "targetCreated": t.created}
        if args.cloud == "aws":
            outputs["snsTopicArn"] = t.aws_sns_topic_arn
        elif args.cloud == "gcp":
            outputs["notificationChannels"] = list(t.gcp_notification_channels)
        else:
            outputs["actionGroupId"] = t.azure_action_group_id
        self.register_outputs(outputs)


# --- budgets --------------------------------------------------------------------------------------


def unique_thresholds(budget: BudgetSpec) -> list[BudgetThreshold]:
    """The thresholds without duplicates, actual before forecast, ascending: one notification each."""
    seen = {(t.kind, t.percent): t for t in budget.thresholds}
    return [seen[k] for k in sorted(seen)]


@dataclass(frozen=True)
class BudgetRecipients:
    """Who a budget on one cloud notifies.

    `native`: SNS topic ARNs / notification channel names / action group ids (referenced or reused
    from `CloudAlarms`). `emails`: addresses the budget must reach itself (AWS subscribers, Azure
    contact emails; on GCP the budget creates an email channel for each).
    """

    native: list[pulumi.Input[str]]
    emails: list[str]


def budget_recipients(
    budget: BudgetSpec, notifications: NotificationTargets, cloud: Cloud, alarm_targets: CloudTargets | None = None
) -> BudgetRecipients:
    """Pure: resolve a budget's recipients on `cloud`.

    `budget.notify` (another audience) wins over `notifications`, and then the alarms' targets are
    not used. Otherwise the alarms' target (created or referenced) is reused when given; emails are
    added directly unless that target was created from them (they are already reached through it).
    A referenced target replaces email channels on GCP (budgets there only notify channels).
    Raises ValueError when nobody would hear of the budget (config validation reports it first).
    """
    own = budget.notify is not None
    targets = budget.notify if own else notifications
    configured: list[pulumi.Input[str]] = {
        "aws": [targets.aws_sns_topic_arn] if targets.aws_sns_topic_arn else [],
        "gcp": list(targets.gcp_notification_channels),
        "azure": [targets.azure_action_group_id] if targets.azure_action_group_id else [],
    }[cloud]
    native = configured
    emails = list(targets.emails)
    if not own and alarm_targets is not None:
        native = alarm_targets.native()
        if alarm_targets.created:
            emails = []
    if cloud == "gcp" and configured:
        emails = []
    if not native and not emails:
        where = "monitoring.budget.notify" if own else "monitoring.notifications"
        raise ValueError(f"the {cloud} budget would notify nobody: set emails or the {cloud} target in {where}")
    return BudgetRecipients(native=native, emails=emails)


# Budget start for Azure: the API takes the first day of a month, not before the current month and
# at most a year ahead, and refuses to change it later. So it cannot be a constant (it would go stale)
# nor today's date (plans would change every month): it comes from config, fixed at first deploy.
AZURE_START_DATE = r"^\d{4}-(0[1-9]|1[0-2])-01$"


class StackBudgetArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    budget: BudgetSpec = Field(..., description="Amount, thresholds, who is told (`monitoring.budget`).")
    notifications: NotificationTargets = Field(
        default_factory=NotificationTargets,
        description="`monitoring.notifications`: who is told when `budget.notify` is unset.",
    )
    cloud: Cloud = Field(..., description="The cloud whose spend this budget covers.")
    environment: Literal["dev", "staging", "prod"] = Field(..., description="dev, staging or prod.")
    tags: dict[str, str] = Field(
        ..., description="Cost tags: the budget counts spend carrying this stack's `cost-center` (and, on AWS, "
        "`environment`) and is itself tagged where the cloud allows.",
    )
    project_id: str | None = Field(None, description="GCP: the project whose spend counts; required on GCP.")
    resource_group_name: Any = Field(
        None, description="Azure: the resource group the budget covers (the cluster's); required on Azure.",
    )
    alarm_targets: Any = Field(
        None, description="`CloudAlarms.targets` of this cloud's primary region: its topic/channels/action group "
        "are reused when `budget.notify` is unset. Default: none (targets from config, GCP channels created here).",
    )
    azure_start_date: str | None = Field(
        None, pattern=AZURE_START_DATE,
        description="Azure: first day of the budget's first month (YYYY-MM-01), fixed when the stack is first "
        "deployed; required on Azure. Later changes are ignored (the API refuses them).",
    )
    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
        description="Budget name; default `<project>-<stack>-monthly` (unique per stack).",
    )


class StackBudget(pulumi.ComponentResource):
    """A monthly cost budget of this stack on one cloud: one notification per threshold (actual
    and forecast), sent to the alarm target and/or emails.

    Pass that cloud's explicit provider (of the cloud's primary region) in `opts.providers`.
    - AWS: `aws.budgets.Budget` (COST, MONTHLY, USD) counting spend tagged cost-center and environment.
    - GCP: `gcp.billing.Budget` on `budget.gcp_billing_account`, for the project and the cost-center label.
    - Azure: `azure_native.consumption.Budget` at the cluster resource group's scope.
    Outputs: `budget_name`.
    """

    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: StackBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(BUDGET_TOKEN, name, None, opts)
        missing = [k for k in ("cost-center", "environment") if not args.tags.get(k)]
        if missing:
            raise ValueError(f"{name}: tags lack {missing}: the budget could not be scoped to this stack")
        if args.cloud == "gcp":
            if not args.budget.gcp_billing_account:
                raise ValueError(f"{name}: budget.gcp_billing_account is required for a GCP budget")
            if not args.project_id:
                raise ValueError(f"{name}: project_id is required for a GCP budget")
        if args.cloud == "azure":
            if args.resource_group_name is None:
                raise ValueError(f"{name}: resource_group_name is required for an Azure budget")
            if args.azure_start_date is None:
                raise ValueError(f"{name}: azure_start_date (YYYY-MM-01, the first month) is required for an Azure budget")
            if len(unique_thresholds(args.budget)) > 5:
                raise ValueError(f"{name}: an Azure budget takes at most 5 notifications (thresholds)")
        recipients = budget_recipients(args.budget, args.notifications, args.cloud, args.alarm_targets)
        budget_name = args.name or f"{pulumi.get_project()}-{pulumi.get_stack()}-monthly"
        impl = importlib.import_module(f"{__name__}.{args.cloud}")
        self.budget_name = impl.build_budget(self, name, args, recipients, budget_name)
        self.register_outputs({"budgetName": self.budget_name})
