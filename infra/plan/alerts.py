"""plan.json `alerts`: the in-cluster alert rules, cloud alarms and budgets of a stack."""

from __future__ import annotations

from typing import Any


def alerts_section(run: Any, cfg: Any) -> dict[str, Any]:
    from components.monitoring.rules import alert_summary

    spec = cfg.monitoring
    if not spec.enabled:
        return {"enabled": False}
    alarms = [{"region": r.name.rsplit("-alarms-", 1)[0], "type": r.type, "name": r.name,
               "displayName": r.inputs.get("displayName") or r.inputs.get("name") or r.inputs.get("alarmName")}
              for r in run.resources
              if r.type in ("aws:cloudwatch/metricAlarm:MetricAlarm", "gcp:monitoring/alertPolicy:AlertPolicy",
                            "azure-native:monitor:MetricAlert", "azure-native:monitor:ActivityLogAlert")]
    budgets = [{"cloud": r.name.split("-")[1], "type": r.type, "name": r.name}
               for r in run.resources
               if r.type in ("aws:budgets/budget:Budget", "gcp:billing/budget:Budget", "azure-native:consumption:Budget")]
    return {
        "enabled": True,
        "rules": alert_summary(spec, cfg.environment),
        "cloudAlarms": sorted(alarms, key=lambda a: (a["region"], a["name"])),
        "budgets": budgets,
        "budget": spec.budget.model_dump() if spec.budget else None,
        "notifications": spec.notifications.model_dump(),
    }


def render_alerts(section: dict[str, Any]) -> str:
    if not section.get("enabled"):
        return "alerts: monitoring disabled\n"
    lines = [f"alerts: {len(section['rules'])} in-cluster rules, {len(section['cloudAlarms'])} cloud alarms, "
             f"{len(section['budgets'])} budget(s)"]
    for rule in section["rules"]:
        lines.append(f"  rule  {rule['severity']:<8} {rule['name']:<32} for {rule.get('for', '0m'):<5} {rule['summary']}")
    for alarm in section["cloudAlarms"]:
        lines.append(f"  alarm {alarm['region']:<8} {alarm['type'].split(':')[-1]:<14} {alarm['displayName'] or alarm['name']}")
    b = section.get("budget")
    if b:
        points = ", ".join(f"{t['percent']:g}% {t['kind']}" for t in b["thresholds"])
        lines.append(f"  budget ${b['monthly_usd']:,.0f}/month on {len(section['budgets'])} cloud(s): {points}")
    return "\n".join(lines) + "\n"
