"""Computed-output placeholders for the EKS GPU pools and their add-ons (see package docstring).

Only attributes components.gpu_pool.aws reads back: a node group's physical name and the Auto
Scaling group EKS creates for it, the NTH queue's ARN and URL, the EventBridge rules' names and
ARNs, and the subnets of existing networks looked up by zone.
"""

from __future__ import annotations

from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _node_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": _ph("eks.NodeGroup", name, "arn"),
        "nodeGroupName": _ph("eks.NodeGroup", name, "nodeGroupName"),
        "resources": [{"autoscalingGroups": [{"name": _ph("eks.NodeGroup", name, "asgName")}]}],
    }


def _queue(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # name: the provider auto-names a queue whose name is not given (<logical name>-<random>).
    return {"arn": _ph("sqs.Queue", name, "arn"), "url": "https://" + _ph("sqs.Queue", name, "url"),
            "name": inputs.get("name") or _ph("sqs.Queue", name, "name")}


def _event_rule(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"arn": _ph("cloudwatch.EventRule", name, "arn"), "name": _ph("cloudwatch.EventRule", name, "name")}


def _get_subnets(args: dict[str, Any]) -> dict[str, Any]:
    # One placeholder subnet per requested zone: what a lookup of the existing subnets returns.
    zones: list[str] = []
    for f in args.get("filters") or []:
        if f.get("name") == "availability-zone":
            zones = [str(z) for z in f.get("values") or []]
    return {"ids": [_ph("ec2.getSubnets", z, "id") for z in zones]}


RESOURCES: dict[str, Any] = {
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:sqs/queue:Queue": _queue,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
}
CALLS: dict[str, Any] = {
    "aws:ec2/getSubnets:getSubnets": _get_subnets,
}
