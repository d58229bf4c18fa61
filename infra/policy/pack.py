"""CrossGuard adapters: each rule as a `pulumi_policy` ResourceValidationPolicy/StackValidationPolicy.

`build_policies()` is what `infra/policy/__main__.py` hands to `PolicyPack` (whose constructor
starts the analyzer's gRPC server and never returns: import this module, never `__main__`).

The engine's property proxies raise `UnknownValueError` when a rule touches a value that is not
known during preview; the adapters instead copy the properties into plain dicts with `UNKNOWN`
in those places, so rules decide "can't tell" themselves and one unknown ARN never hides the
rest of a resource from a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import _DictProxy, _is_unknown, _ListProxy  # noqa: PLC2701 - the SDK's own proxy types

from .engine import PACK_NAME
from .model import UNKNOWN, Provider, Resource, Rule

__all__ = ["PACK_NAME", "build_policies", "plain", "to_resource", "policy_for"]


def plain(value: Any) -> Any:
    """A CrossGuard property proxy (or any value) as plain data, unknowns as UNKNOWN."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]  # the proxied container, without the unknown check
    if isinstance(value, str):
        return UNKNOWN if _is_unknown(value) else value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _provider(p: Any) -> Provider | None:
    if p is None:
        return None
    return Provider(type=p.resource_type, props=plain(p.props), urn=getattr(p, "urn", ""), name=getattr(p, "name", ""))


def to_resource(args: Any) -> Resource:
    """ResourceValidationArgs or PolicyResource -> Resource."""
    parent = getattr(args, "parent", None)
    if parent is not None and not isinstance(parent, str):
        parent = getattr(parent, "urn", "")
    if parent is None:
        opts = getattr(args, "opts", None)
        parent = getattr(opts, "parent", None) or ""
    deps = tuple(getattr(d, "urn", d) for d in (getattr(args, "dependencies", None) or []))
    prop_deps = {k: tuple(getattr(d, "urn", d) for d in v)
                 for k, v in (getattr(args, "property_dependencies", None) or {}).items()}
    return Resource(type=args.resource_type, name=args.name, urn=args.urn, props=plain(args.props),
                    provider=_provider(getattr(args, "provider", None)), parent=parent or "",
                    dependencies=deps, property_dependencies=prop_deps)


def _schema(rule: Rule) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config.items()}) if rule.config else None


def policy_for(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    common = dict(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel(rule.enforcement),
        config_schema=_schema(rule),
        severity=Severity(rule.severity),
        tags=[rule.area, *rule.ids],
        remediation_steps=rule.remediation or None,
    )
    if rule.kind == "resource":
        def validate_resource(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if not rule.applies_to(args.resource_type):
                return
            for message in rule.run_resource(to_resource(args), args.get_config()):
                report_violation(message, None)

        return ResourceValidationPolicy(validate=validate_resource, **common)

    def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [to_resource(r) for r in args.resources]
        for v in rule.run_stack(resources, args.get_config()):
            report_violation(v.message, v.urn or None)

    return StackValidationPolicy(validate=validate_stack, **common)


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    from .rules import all_rules

    return [policy_for(r) for r in all_rules()]
