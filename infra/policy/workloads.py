"""Kubernetes workloads: the pod spec of any workload object, its containers, effective settings.

Understood (any API version): apps Deployment, StatefulSet, DaemonSet, ReplicaSet; batch Job and
CronJob; core Pod and ReplicationController. `*Patch` resources (server-side-apply patches) carry
partial specs and are skipped, and so are Helm releases (`kubernetes:helm.sh/v3:Release`,
`kubernetes:helm.sh/v4:Chart`): their objects are rendered inside the provider and never reach a
policy, so chart workloads are not inspected. A YAML/kustomize `ConfigGroup` registers each object
as its own resource, so those are covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterator, Mapping
from typing import Any

from .model import UNKNOWN, Resource, as_list, get, is_unknown

LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Pod")
BATCH = ("Job", "CronJob")
WORKLOAD_KINDS = LONG_RUNNING + BATCH
WORKLOAD_TYPES = tuple(
    f"kubernetes:{group}/*" for group in ("apps", "batch", "core", "extensions")
)


def kind_of(r: Resource) -> str | None:
    """The workload kind of a Kubernetes resource, or None (not a workload / a patch / Helm)."""
    if not r.type.startswith("kubernetes:") or r.type.startswith("kubernetes:helm.sh"):
        return None
    kind = r.type.rsplit(":", 1)[-1]
    if kind.endswith("Patch") or kind.endswith("List") or kind not in WORKLOAD_KINDS:
        return None
    return kind


def pod_spec(r: Resource) -> Any:
    """The pod spec (dict), UNKNOWN, or None when the object has none."""
    kind = kind_of(r)
    if kind is None:
        return None
    if kind == "Pod":
        return get(r.props, "spec")
    if kind == "CronJob":
        return get(r.props, "spec.jobTemplate.spec.template.spec")
    return get(r.props, "spec.template.spec")


def pod_metadata(r: Resource) -> Any:
    kind = kind_of(r)
    if kind == "Pod":
        return get(r.props, "metadata")
    if kind == "CronJob":
        return get(r.props, "spec.jobTemplate.spec.template.metadata")
    return get(r.props, "spec.template.metadata")


@dataclass
class Container:
    name: str
    spec: Mapping[str, Any]
    init: bool
    pod: Mapping[str, Any]

    def effective(self, field: str) -> Any:
        """A securityContext field, the container's overriding the pod's."""
        own = get(self.spec, f"securityContext.{field}")
        if own is not None:
            return own
        return get(self.pod, f"securityContext.{field}")


def containers(r: Resource, *, include_init: bool = True) -> Iterator[Container]:
    spec = pod_spec(r)
    if not isinstance(spec, Mapping):
        return
    groups = [("containers", False)]
    if include_init:
        groups += [("initContainers", True), ("ephemeralContainers", True)]
    for key, init in groups:
        items = spec.get(key)
        if is_unknown(items):
            continue
        for i, c in enumerate(as_list(items)):
            if isinstance(c, Mapping):
                name = c.get("name") if isinstance(c.get("name"), str) else f"{key}[{i}]"
                yield Container(name=name, spec=c, init=init, pod=spec)


def command_line(c: Container) -> list[Any]:
    """command + args as a list (elements may be UNKNOWN)."""
    out: list[Any] = []
    for key in ("command", "args"):
        v = c.spec.get(key)
        if is_unknown(v):
            out.append(UNKNOWN)
        else:
            out.extend(as_list(v))
    return out


def flag_value(tokens: list[Any], flag: str) -> Any:
    """The value of `--flag=value` or `--flag value` (last occurrence); UNKNOWN when it cannot be told."""
    value: Any = None
    for i, tok in enumerate(tokens):
        if is_unknown(tok):
            value = UNKNOWN if value is None else value
            continue
        if not isinstance(tok, str):
            continue
        if tok.startswith(flag + "="):
            value = tok.split("=", 1)[1]
        elif tok == flag and i + 1 < len(tokens):
            value = tokens[i + 1]
    return value


def is_triton(c: Container) -> bool:
    tokens = [t for t in command_line(c) if isinstance(t, str) and not is_unknown(t)]
    if any(t.rsplit("/", 1)[-1] == "tritonserver" or t.startswith("--model-repository") or
           t.startswith("--model-store") for t in tokens):
        return True
    image = c.spec.get("image")
    return isinstance(image, str) and "tritonserver" in image and c.spec.get("command") is None
