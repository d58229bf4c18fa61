"""Builders for synthetic resources, as the engine hands them to a policy (numbers as floats)."""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

from infra.policy.engine import engine_value
from infra.policy.model import Provider, Resource
from infra.policy.rules import rule

PROJECT = "proj"


def R(typ: str, props: Mapping[str, Any] | None = None, *, name: str = "r", stack: str = "dev",
      provider: Provider | None = None, deps: Sequence[str] = (),
      prop_deps: Mapping[str, Sequence[str]] | None = None) -> Resource:
    return Resource(
        type=typ, name=name, urn=urn(typ, name, stack), props=engine_value(copy.deepcopy(dict(props or {}))),
        provider=provider, dependencies=tuple(deps),
        property_dependencies={k: tuple(v) for k, v in (prop_deps or {}).items()},
    )


def urn(typ: str, name: str, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{typ}::{name}"


def run(rule_name: str, subject: Resource | Sequence[Resource], config: Mapping[str, Any] | None = None) -> list[str]:
    """Violation messages of one rule on a resource (resource rule) or a stack (stack rule)."""
    r = rule(rule_name)
    if r.kind == "resource":
        assert isinstance(subject, Resource), f"{rule_name} is a resource rule"
        return r.run_resource(subject, config)
    assert not isinstance(subject, Resource), f"{rule_name} is a stack rule"
    return [v.message for v in r.run_stack(list(subject), config)]


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge; a value of None in `over` deletes the key."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --- prototypes -------------------------------------------------------------------------------------

SECURE_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "nvcr.io/nvidia/tritonserver:26.04-py3",
    "resources": {"requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
                  "limits": {"memory": "8Gi", "nvidia.com/gpu": "1"}},
    "livenessProbe": {"httpGet": {"path": "/v2/health/live", "port": 8000}},
    "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8000}},
    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
}


def deployment(container: Mapping[str, Any] | None = None, pod: Mapping[str, Any] | None = None,
               kind: str = "Deployment", group: str = "apps/v1") -> tuple[str, dict[str, Any]]:
    """(type token, props) of a workload whose single container is SECURE_CONTAINER merged with `container`."""
    c = merge(SECURE_CONTAINER, container or {})
    spec = merge({"containers": [c]}, pod or {})
    template = {"metadata": {"labels": {"app": "x"}}, "spec": spec}
    if kind == "CronJob":
        body = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Pod":
        return f"kubernetes:core/v1:Pod", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    else:
        body = {"selector": {"matchLabels": {"app": "x"}}, "template": template}
    return f"kubernetes:{group}:{kind}", {"apiVersion": group, "kind": kind, "metadata": {"name": "w"}, "spec": body}
