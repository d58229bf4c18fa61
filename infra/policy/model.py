"""The plain-data core of the gpufleet policy pack: resources, rules, violations, property helpers.

Nothing here imports `pulumi_policy` or a cloud SDK. The same rule functions are called by the
CrossGuard adapters (`infra.policy.pack`, under `pulumi preview --policy-pack`) and by the
in-process runner (`infra.policy.engine`, over the resources recorded by the offline plan).

A resource is what the engine hands a policy: its type token, name, URN and its input properties
as a plain dict with the engine's camelCase names. Numbers arrive as floats (the wire carries
doubles): compare numerically with `num()`. During `pulumi preview` some values are not known yet;
the adapters turn them into `UNKNOWN`, and so does the runner for the offline plan's `<unknown>`
and `<computed:...>` placeholders. Rules treat an unknown value as "can't tell" and report
nothing for it: a policy must never fail a preview because an ARN has not been allocated yet.
A value that is *absent* is different: it means the provider's default applies, and each rule
says what it assumes that default is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low")
LEVELS = ("mandatory", "advisory", "remediate", "disabled")


class UnknownUsed(TypeError):
    """A rule tested UNKNOWN for truth: it cannot decide, so nothing is reported."""


class _Unknown:
    """A value the engine does not know yet (preview)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:  # never silently truthy or falsy in a condition
        raise UnknownUsed("UNKNOWN has no truth value; test it with is_unknown()")


UNKNOWN: Any = _Unknown()

# The engine's unknown sentinels (pulumi_policy.proxy) and the offline plan's placeholders.
_ENGINE_UNKNOWNS = frozenset({
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (also the SDK's rpc.UNKNOWN)
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})


def is_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, str):
        return value in _ENGINE_UNKNOWNS or value == "<unknown>" or value.startswith("<computed:")
    return False


def known(value: Any) -> bool:
    return value is not None and not is_unknown(value)


def get(obj: Any, path: str, default: Any = None) -> Any:
    """Walk a dotted path through dicts (and `[i]` list indexes). An unknown value on the way gives
    UNKNOWN; a missing key gives `default`."""
    cur = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if is_unknown(cur):
            return UNKNOWN
        if part.startswith("["):
            idx = int(part[1:-1])
            if not isinstance(cur, (list, tuple)) or idx >= len(cur):
                return default
            cur = cur[idx]
        else:
            if not isinstance(cur, Mapping) or part not in cur:
                return default
            cur = cur[part]
    return UNKNOWN if is_unknown(cur) else cur


def num(value: Any) -> float | None:
    """A number as float (ints, floats and numeric strings); None when absent, unknown or not a number."""
    if isinstance(value, bool) or value is None or is_unknown(value):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool | None:
    """True/False for booleans and their string forms ("true", "false" as some providers type
    them); None when absent or unknown."""
    if value is None or is_unknown(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes", "enabled"):
            return True
        if low in ("false", "0", "no", "disabled"):
            return False
        return None
    if isinstance(value, (int, float)):
        return value != 0
    return None


def as_list(value: Any) -> list[Any]:
    """A list value (a scalar becomes a one-element list; None an empty one). UNKNOWN stays UNKNOWN
    in a one-element list, so callers iterating it meet the unknown element."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def as_json(value: Any) -> Any:
    """A JSON document that may arrive as a string (IAM policies, provider config) or as an object."""
    if isinstance(value, str) and not is_unknown(value):
        try:
            return json.loads(value)
        except ValueError:
            return UNKNOWN if "<computed:" in value else None
    return value


@dataclass(frozen=True)
class Provider:
    type: str
    props: Mapping[str, Any]
    urn: str = ""
    name: str = ""


@dataclass(frozen=True)
class Resource:
    """One resource as a policy sees it (CrossGuard's ResourceValidationArgs / PolicyResource)."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    provider: Provider | None = None
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        """The stack name, from the URN (urn:pulumi:<stack>::<project>::<type>::<name>)."""
        parts = self.urn.split(":", 3)
        if len(parts) == 4 and parts[0] == "urn" and parts[1] == "pulumi":
            return parts[2].split("::", 1)[0]
        return ""

    @property
    def package(self) -> str:
        """aws, gcp, azure-native, kubernetes ... (the provider package of the type token)."""
        if self.type.startswith("pulumi:providers:"):
            return self.type.split(":")[2]
        return self.type.split(":", 1)[0]

    def get(self, path: str, default: Any = None) -> Any:
        return get(self.props, path, default)

    def depends_on(self, urn: str, prop: str | None = None) -> bool:
        if prop is not None and prop in self.property_dependencies:
            return urn in self.property_dependencies[prop]
        return urn in self.dependencies or any(urn in v for v in self.property_dependencies.values())

    def label(self) -> str:
        return f"{self.type} {self.name}"


@dataclass(frozen=True)
class Violation:
    """A stack policy's finding: the message and the resource it is about (URN, optional)."""

    message: str
    urn: str = ""


ResourceCheck = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """One policy: a plain check function plus the metadata CrossGuard and the runner need.

    `types`: type tokens (exact, or a prefix ending in `*`) a resource rule looks at; None = all.
    `config`: JSON-schema properties (each with a `default`) the policy accepts as configuration.
    `ids`: equivalent Checkov IDs ("" when no scanner has one: a gpufleet platform rule).
    """

    name: str
    summary: str
    area: str
    severity: str
    enforcement: str
    kind: str  # "resource" | "stack"
    check: Callable[..., Iterable[Any]]
    types: tuple[str, ...] | None = None
    ids: tuple[str, ...] = ()
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    remediation: str = ""
    note: str = ""  # said instead of the IDs when there are none

    @property
    def description(self) -> str:
        if self.ids:
            return f"{self.summary} [Checkov {', '.join(self.ids)}]"
        return f"{self.summary} [{self.note or 'gpufleet platform rule; no Checkov/Trivy equivalent'}]"

    def applies_to(self, typ: str) -> bool:
        if self.types is None:
            return True
        key = (self.name, typ)
        hit = _SCOPE_CACHE.get(key)
        if hit is None:
            hit = _SCOPE_CACHE[key] = any(typ.startswith(t[:-1]) if t.endswith("*") else typ == t for t in self.types)
        return hit

    def defaults(self) -> dict[str, Any]:
        return {k: v.get("default") for k, v in self.config.items() if "default" in v}

    def effective_config(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        cfg = self.defaults()
        for k, v in (given or {}).items():
            if k != "enforcementLevel":
                cfg[k] = v
        return cfg

    def run_resource(self, resource: Resource, given: Mapping[str, Any] | None = None) -> list[str]:
        """Violation messages for one resource ([] when the rule does not apply or cannot tell)."""
        if self.kind != "resource" or not self.applies_to(resource.type):
            return []
        return self.check_resource(resource, self.effective_config(given))

    def check_resource(self, resource: Resource, config: Mapping[str, Any]) -> list[str]:
        """`run_resource` for a resource known to be in scope, with the effective config already merged."""
        try:
            return [m for m in self.check(resource, config) if m]
        except UnknownUsed:
            return []

    def run_stack(self, resources: Sequence[Resource], given: Mapping[str, Any] | None = None) -> list[Violation]:
        if self.kind != "stack":
            return []
        try:
            return list(self.check(resources, self.effective_config(given)))
        except UnknownUsed:
            return []


RULES: list[Rule] = []
_SCOPE_CACHE: dict[tuple[str, str], bool] = {}


def _register(rule: Rule) -> None:
    if rule.severity not in SEVERITIES:
        raise ValueError(f"{rule.name}: severity {rule.severity!r}")
    if rule.enforcement not in ("mandatory", "advisory"):
        raise ValueError(f"{rule.name}: default enforcement {rule.enforcement!r}")
    if any(r.name == rule.name for r in RULES):
        raise ValueError(f"duplicate policy name {rule.name}")
    RULES.append(rule)


def resource_rule(name: str, *, summary: str, area: str, severity: str, level: str, types: Sequence[str] | None,
                  ids: Sequence[str] = (), config: Mapping[str, Mapping[str, Any]] | None = None,
                  remediation: str = "", note: str = "") -> Callable[[ResourceCheck], ResourceCheck]:
    """Register `fn(resource, config) -> iterable of violation messages` as a resource policy."""

    def deco(fn: ResourceCheck) -> ResourceCheck:
        _register(Rule(name=name, summary=summary, area=area, severity=severity, enforcement=level,
                       kind="resource", check=fn, types=tuple(types) if types is not None else None,
                       ids=tuple(ids), config=dict(config or {}), remediation=remediation, note=note))
        fn.rule_name = name  # type: ignore[attr-defined]
        return fn

    return deco


def stack_rule(name: str, *, summary: str, area: str, severity: str, level: str, ids: Sequence[str] = (),
               config: Mapping[str, Mapping[str, Any]] | None = None,
               remediation: str = "", note: str = "") -> Callable[[StackCheck], StackCheck]:
    """Register `fn(resources, config) -> iterable of Violation` as a stack policy."""

    def deco(fn: StackCheck) -> StackCheck:
        _register(Rule(name=name, summary=summary, area=area, severity=severity, enforcement=level,
                       kind="stack", check=fn, ids=tuple(ids), config=dict(config or {}),
                       remediation=remediation, note=note))
        fn.rule_name = name  # type: ignore[attr-defined]
        return fn

    return deco


# --- shared knowledge ------------------------------------------------------------------------

TAG_KEYS = ("tags", "labels", "resourceLabels", "userLabels")

PROD_CONFIG: dict[str, dict[str, Any]] = {
    "prodStackPattern": {
        "type": "string",
        "default": r"(^|[-_./])prod(uction)?($|[-_./])",
        "description": "Regex on the stack name marking a production stack.",
    },
    "prodEnvironments": {
        "type": "array", "items": {"type": "string"}, "default": ["prod", "production"],
        "description": "Values of an `environment` tag/label marking production resources.",
    },
}


def resource_tags(r: Resource) -> dict[str, Any]:
    """Tags/labels of a resource (cloud tags, GCP labels, Kubernetes metadata labels) merged."""
    out: dict[str, Any] = {}
    for key in TAG_KEYS:
        val = r.props.get(key)
        if isinstance(val, Mapping):
            out.update(val)
    meta = get(r.props, "metadata.labels")
    if isinstance(meta, Mapping):
        out.update(meta)
    return out


def is_prod_stack(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> bool:
    """Production when the stack name matches `prodStackPattern`, or any resource carries an
    `environment` tag/label in `prodEnvironments` (gpufleet's cost tags always do)."""
    pattern = re.compile(cfg.get("prodStackPattern") or PROD_CONFIG["prodStackPattern"]["default"], re.I)
    envs = {str(e).lower() for e in (cfg.get("prodEnvironments") or PROD_CONFIG["prodEnvironments"]["default"])}
    if any(pattern.search(stack) for stack in {r.stack for r in resources} if stack):
        return True
    for r in resources:
        env = resource_tags(r).get("environment")
        if isinstance(env, str) and env.lower() in envs:
            return True
    return False

