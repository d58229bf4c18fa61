"""Monitoring through the program: config errors with paths, the plan's `alerts` section."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, validate_platform
from tests.plan.conftest import plan_for

BASE = {
    "environment": "staging",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "monitoring": {"notifications": {"emails": ["oncall@example.com"]}, "budget": {"monthly_usd": 1000}},
    "regions": [{"name": "use1", "cloud": "aws", "region": "us-east-1",
                 "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}}}],
}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: p.allowed for p in info.value.problems}


def test_valid_monitoring():
    validate_platform(BASE)


def test_budget_without_a_notification_target():
    raw = copy.deepcopy(BASE)
    raw["monitoring"]["notifications"] = {}
    assert "notification target" in problems(raw)["platform.monitoring.budget.notify"]


@pytest.mark.parametrize("percent", [0, -5, 1000.5, 5000])
def test_threshold_outside_0_to_1000_percent(percent):
    raw = copy.deepcopy(BASE)
    raw["monitoring"]["budget"]["thresholds"] = [{"percent": percent, "kind": "actual"}]
    assert "at most 1000" in problems(raw)["platform.monitoring.budget.thresholds[0].percent"]


def test_unknown_severity_and_unknown_alert():
    raw = copy.deepcopy(BASE)
    raw["monitoring"]["alerts"] = {"GpuTemperatureHigh": {"severity": "urgent"}, "NoSuchAlert": {"enabled": False}}
    found = problems(raw)
    assert "'critical', 'warning' or 'info'" in found["platform.monitoring.alerts.GpuTemperatureHigh.severity"]
    raw["monitoring"]["alerts"] = {"NoSuchAlert": {"enabled": False}}
    assert "a known alert" in problems(raw)["platform.monitoring.alerts.NoSuchAlert"]


def test_cloud_alarm_names_can_be_overridden():
    raw = copy.deepcopy(BASE)
    raw["monitoring"]["alerts"] = {"CloudControlPlaneSilent": {"severity": "warning"}, "GpuUnderutilized": {"enabled": False}}
    validate_platform(raw)


def test_log_retention_must_suit_every_cloud():
    raw = copy.deepcopy(BASE)
    raw["monitoring"]["log_retention_days"] = 45  # not a CloudWatch retention
    assert "CloudWatch" in problems(raw)["platform.monitoring.log_retention_days"]


def test_alerts_section_lists_rules_alarms_and_budgets(shipped_plan):
    section = shipped_plan.document["alerts"]
    assert section["enabled"]
    assert len(section["rules"]) >= 20 and all(r["severity"] in ("critical", "warning", "info") for r in section["rules"])
    assert section["cloudAlarms"] and section["budgets"]
    assert "alerts:" in shipped_plan.text
