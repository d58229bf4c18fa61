"""Computed-output placeholders for the cloud alarms and budget on AWS (see package docstring).

Only what components.monitoring.cloud.aws reads back: the SNS topic's ARN (alarm actions, topic
policy, budget subscribers) and the caller's account id (key and topic policies).
"""

from __future__ import annotations

from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _caller_identity(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "accountId": _ph("sts", "caller", "accountId"),
        "arn": _ph("sts", "caller", "arn"),
        "userId": _ph("sts", "caller", "userId"),
        "id": _ph("sts", "caller", "accountId"),
    }


RESOURCES: dict[str, Any] = {
    "aws:sns/topic:Topic": lambda name, inputs: {"arn": _ph("sns.Topic", name, "arn")},
}
CALLS: dict[str, Any] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
}
