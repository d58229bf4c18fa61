"""Neutral monitoring spec: who gets notified, the serving SLO, budgets and alert overrides.

Pure (pydantic only). The in-cluster stack (Prometheus rules, dashboards, dcgm-exporter,
prometheus-adapter) and the cloud-native alarms and budgets are built from this one spec.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from .._model import Args

Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class NotificationTargets(Args):
    """Where alerts and budget notices go. Anything set here is used on every cloud it applies to."""

    emails: list[str] = Field(default_factory=list, description="Email addresses (SNS subscriptions, GCP email channels, "
                              "Azure action-group receivers). Default: none.")
    aws_sns_topic_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$",
        description="Existing SNS topic; default: a topic is created (with the emails subscribed).",
    )
    gcp_notification_channels: list[str] = Field(
        default_factory=list,
        description="Existing channels projects/<p>/notificationChannels/<id>; default: email channels are created.",
    )
    azure_action_group_id: str | None = Field(
        None, description="Existing action group resource id; default: an action group is created (email receivers).",
    )

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        bad = [e for e in v if not EMAIL.match(e)]
        if bad:
            raise ValueError(f"not email addresses: {bad}")
        return sorted(set(v))

    @field_validator("gcp_notification_channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not re.fullmatch(r"projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/\d+", c)]
        if bad:
            raise ValueError(f"not notification channel names (projects/<p>/notificationChannels/<id>): {bad}")
        return v

    def reaches(self, cloud: str) -> bool:
        """True when a notice on `cloud` reaches somebody."""
        if self.emails:
            return True
        return {"aws": self.aws_sns_topic_arn is not None, "gcp": bool(self.gcp_notification_channels),
                "azure": self.azure_action_group_id is not None}[cloud]


class BudgetThreshold(Args):
    percent: float = Field(..., description="Percent of the monthly amount, 0 < percent <= 1000.")
    kind: Literal["actual", "forecast"] = Field("actual", description="actual spend, or forecast spend; default actual.")

    @field_validator("percent")
    @classmethod
    def _range(cls, v: float) -> float:
        if not 0 < v <= 1000:
            raise ValueError("a percentage above 0 and at most 1000")
        return v


def _default_thresholds() -> list[BudgetThreshold]:
    return [BudgetThreshold(percent=80, kind="actual"), BudgetThreshold(percent=100, kind="actual"),
            BudgetThreshold(percent=100, kind="forecast")]


class BudgetSpec(Args):
    """A monthly cost budget per stack, on each cloud the stack uses (scoped by the cost tags)."""

    monthly_usd: float = Field(..., gt=0, description="Monthly amount in USD. Required.")
    thresholds: list[BudgetThreshold] = Field(
        default_factory=_default_thresholds, min_length=1,
        description="Notify at these points; default 80% and 100% actual, 100% forecast.",
    )
    notify: NotificationTargets | None = Field(
        None, description="Who is told; default: monitoring.notifications. A budget nobody hears of is an error.",
    )
    gcp_billing_account: str | None = Field(
        None, pattern=r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$",
        description="GCP billing account (XXXXXX-XXXXXX-XXXXXX); required for budgets on GCP.",
    )
    azure_start_month: str | None = Field(
        None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="Azure: the month (YYYY-MM) the budget starts, fixed at the first deploy (Azure refuses past "
        "months and later changes); required for budgets on Azure.",
    )


class ServingSlo(Args):
    queue_latency_ms: int = Field(200, ge=1, le=600_000, description="Average queue time per request above which "
                                  "serving breaches its SLO; default 200 ms.")
    queue_to_compute_target: float = Field(
        1.0, gt=0, le=100,
        description="Target ratio of queue time to compute time that the autoscaler holds (the HPA metric); default "
        "1.0: scale out once requests wait as long as they compute.",
    )
    error_ratio: float = Field(0.01, gt=0, lt=1, description="Failed/total request ratio that alerts; default 1%.")


class AlertOverride(Args):
    enabled: bool = Field(True, description="Set false to drop the rule.")
    severity: Severity | None = Field(None, description="critical, warning or info; default: the rule's own.")
    for_minutes: int | None = Field(None, ge=0, le=1440, description="How long the condition must hold; default: the rule's own.")


class MonitoringSpec(Args):
    """Stack-level monitoring (`platform.monitoring`)."""

    enabled: bool = Field(True, description="In-cluster monitoring, cloud alarms and budgets; default on.")
    notifications: NotificationTargets = Field(default_factory=NotificationTargets,
                                               description="Default targets for alerts and budgets.")
    slo: ServingSlo = Field(default_factory=ServingSlo, description="Serving SLO thresholds.")
    budget: BudgetSpec | None = Field(None, description="Monthly budget; default none (the policy pack requires one in prod).")
    alerts: dict[str, AlertOverride] = Field(default_factory=dict, description="Per-rule overrides by alert name.")
    log_retention_days: int | None = Field(
        None, ge=1, le=3653,
        description="Control-plane (and alarm) log retention; default 30 in dev/staging, 365 in prod.",
    )


DEFAULT_LOG_RETENTION = {"dev": 30, "staging": 30, "prod": 365}


def log_retention_days(spec: MonitoringSpec | None, environment: str) -> int:
    if spec is not None and spec.log_retention_days is not None:
        return spec.log_retention_days
    return DEFAULT_LOG_RETENTION[environment]


def monitoring_issues(spec: MonitoringSpec, clouds: list[str], known_alerts: list[str]) -> list[tuple[str, object, str]]:
    """Cross-field problems as (path relative to `monitoring`, value, allowed)."""
    out: list[tuple[str, object, str]] = []
    for name in spec.alerts:
        if name not in known_alerts:
            out.append((f"alerts.{name}", name, f"a known alert: {', '.join(sorted(known_alerts))}"))
    if spec.budget is not None:
        targets = spec.budget.notify or spec.notifications
        for cloud in clouds:
            if not targets.reaches(cloud):
                out.append(("budget.notify", None, f"a notification target reaching {cloud} (emails, or the "
                                                   f"{cloud}-specific target), or monitoring.notifications"))
        if "gcp" in clouds and spec.budget.gcp_billing_account is None:
            out.append(("budget.gcp_billing_account", None, "the billing account id (required for a GCP budget)"))
        if "azure" in clouds and spec.budget.azure_start_month is None:
            out.append(("budget.azure_start_month", None, "the month the Azure budget starts, YYYY-MM (required on Azure)"))
        unique = {(t.kind, t.percent) for t in spec.budget.thresholds}
        if "azure" in clouds and len(unique) > 5:
            out.append(("budget.thresholds", len(unique), "at most 5 distinct thresholds (Azure budget notifications)"))
        if "aws" in clouds and len(targets.emails) > 10:
            out.append(("budget.notify.emails", len(targets.emails), "at most 10 addresses (AWS budget subscribers)"))
        if "gcp" in clouds and len(targets.gcp_notification_channels) + len(targets.emails) > 5:
            out.append(("budget.notify", len(targets.gcp_notification_channels) + len(targets.emails),
                        "at most 5 channels and emails together (GCP budgets)"))
    return out
