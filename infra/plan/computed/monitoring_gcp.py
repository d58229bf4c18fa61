"""Computed-output placeholders for the cloud alarms and budget on GCP (see package docstring).

Only what components.monitoring.cloud.gcp reads back: a notification channel's resource name
(projects/<project>/notificationChannels/<id>, the id assigned by Cloud Monitoring), which alert
policies and budgets reference.
"""

from __future__ import annotations

from typing import Any


def _channel(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    project = inputs.get("project") or "<computed:gcp:provider:project>"
    return {"name": f"projects/{project}/notificationChannels/<computed:monitoring.NotificationChannel:{name}:id>"}


RESOURCES: dict[str, Any] = {
    "gcp:monitoring/notificationChannel:NotificationChannel": _channel,
}
CALLS: dict[str, Any] = {}
