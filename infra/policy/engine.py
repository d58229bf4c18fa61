"""The in-process runner: the pack's rules over resources recorded by the offline plan.

It applies CrossGuard's semantics without the engine:

- configuration in the format of `pulumi preview --policy-pack-config FILE`: a JSON object mapping
  a policy name (or "all") to an enforcement level string, or to an object with an optional
  `enforcementLevel` and the policy's properties. A policy's own entry beats "all", which beats the
  policy's default level. Schema defaults fill properties not given (as the CLI does).
- resource policies see each resource (never a read-only `get` resource) with its inputs; stack
  policies see every resource at once. Numbers reach rules as floats, as they do from the engine.
- levels: mandatory (and remediate: the pack has no remediations, so they report as mandatory, as
  CrossGuard does when a violation survives remediation), advisory, disabled (not run).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .model import LEVELS, SEVERITIES, UNKNOWN, Provider, Resource, Rule

PACK_NAME = "gpufleet"
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
_JSON_TYPES = {"string": (str,), "boolean": (bool,), "integer": (int,), "number": (int, float),
               "array": (list,), "object": (dict,)}


class PolicyConfigError(ValueError):
    """A policy pack config that the Pulumi CLI would reject too (unknown policy, bad level or property)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PolicySettings:
    level: str
    properties: Mapping[str, Any]


def _rules() -> list[Rule]:
    from .rules import all_rules

    return all_rules()


def _check_type(value: Any, schema: Mapping[str, Any]) -> bool:
    typ = schema.get("type")
    if typ is None:
        return True
    if isinstance(value, bool) and typ in ("integer", "number"):
        return False
    if typ == "integer" and isinstance(value, float) and value.is_integer():
        return True
    if not isinstance(value, _JSON_TYPES.get(typ, (object,))):
        return False
    if typ == "array" and "items" in schema:
        return all(_check_type(v, schema["items"]) for v in value)
    return True


def parse_pack_config(raw: Any, rules: Sequence[Rule] | None = None) -> dict[str, PolicySettings]:
    """Validate a `--policy-pack-config` document and resolve every policy's level and properties."""
    rules = list(rules if rules is not None else _rules())
    by_name = {r.name: r for r in rules}
    problems: list[str] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(["the policy pack config must be a JSON object"])
    entries: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for key, value in raw.items():
        if key != "all" and key not in by_name:
            problems.append(f"{key}: no such policy in pack {PACK_NAME}")
            continue
        level, props = None, {}
        if isinstance(value, str):
            level = value
        elif isinstance(value, Mapping):
            level = value.get("enforcementLevel")
            props = {k: v for k, v in value.items() if k != "enforcementLevel"}
        else:
            problems.append(f"{key}: expected an enforcement level or an object, got {value!r}")
            continue
        if level is not None and level not in LEVELS:
            problems.append(f"{key}.enforcementLevel: got {level!r}; allowed: {', '.join(LEVELS)}")
        if key == "all" and props:
            problems.append("all: only enforcementLevel can be set for all policies")
        elif key != "all":
            schema = by_name[key].config
            for prop, v in props.items():
                if prop not in schema:
                    allowed = ", ".join(sorted(schema)) or "none"
                    problems.append(f"{key}.{prop}: unknown property (allowed: {allowed})")
                elif not _check_type(v, schema[prop]):
                    problems.append(f"{key}.{prop}: got {v!r}; expected {schema[prop].get('type')}")
        entries[key] = (level, props)
    if problems:
        raise PolicyConfigError(problems)
    all_level = entries.get("all", (None, {}))[0]
    out: dict[str, PolicySettings] = {}
    for r in rules:
        level, props = entries.get(r.name, (None, {}))
        out[r.name] = PolicySettings(level=level or all_level or r.enforcement, properties=r.effective_config(props))
    return out


def load_pack_config(path: str | Path) -> dict[str, PolicySettings]:
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise PolicyConfigError([f"{path}: {exc.strerror or exc}"]) from exc
    except json.JSONDecodeError as exc:
        raise PolicyConfigError([f"{path}: not JSON ({exc})"]) from exc
    return parse_pack_config(raw)


@dataclass(frozen=True)
class Finding:
    policy: str
    level: str  # mandatory | advisory
    severity: str
    message: str
    urn: str
    type: str
    name: str
    ids: tuple[str, ...]
    description: str

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ids"] = list(self.ids)
        return d


def evaluate(resources: Sequence[Resource], settings: Mapping[str, PolicySettings] | None = None,
             rules: Sequence[Rule] | None = None) -> list[Finding]:
    """Run every enabled rule; findings sorted by severity, level, policy, resource."""
    rules = list(rules if rules is not None else _rules())
    settings = settings if settings is not None else parse_pack_config({}, rules)
    by_urn = {r.urn: r for r in resources}
    by_type: dict[str, list[Resource]] = {}
    for res in resources:
        by_type.setdefault(res.type, []).append(res)
    findings: list[Finding] = []
    for rule in rules:
        s = settings.get(rule.name) or PolicySettings(rule.enforcement, rule.defaults())
        if s.level == "disabled":
            continue
        level = "mandatory" if s.level in ("mandatory", "remediate") else "advisory"
        if rule.kind == "resource":
            config = rule.effective_config(s.properties)
            in_scope = [r for typ, group in by_type.items() if rule.applies_to(typ) for r in group]
            for res in in_scope:
                for msg in rule.check_resource(res, config):
                    findings.append(Finding(rule.name, level, rule.severity, msg, res.urn, res.type, res.name,
                                            rule.ids, rule.description))
        else:
            for v in rule.run_stack(resources, s.properties):
                res = by_urn.get(v.urn)
                findings.append(Finding(rule.name, level, rule.severity, v.message, v.urn,
                                        res.type if res else "", res.name if res else "", rule.ids, rule.description))
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.level != "mandatory", f.policy, f.type, f.name,
                                 f.message))
    return findings


# --- from the offline plan's recording -------------------------------------------------------------

def engine_value(value: Any) -> Any:
    """The recording's JSON-able inputs as the engine hands them to a policy: numbers as floats, the
    plan's `<unknown>` marker as UNKNOWN (its `<computed:...>` placeholders are recognised by
    `is_unknown` where a rule needs the value)."""
    if isinstance(value, dict):
        return {k: engine_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [engine_value(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if value == "<unknown>":
        return UNKNOWN
    return value


def from_recorded(recorded: Iterable[Any]) -> list[Resource]:
    """`infra.plan.mocks.RecordedResource`s -> policy `Resource`s (read-only `get` resources dropped:
    the engine does not analyze them)."""
    items = list(recorded)
    providers = {r.urn: r for r in items if r.type.startswith("pulumi:providers:")}
    out: list[Resource] = []
    for r in items:
        if getattr(r, "read", False):
            continue
        prov = providers.get((r.provider or "").rsplit("::", 1)[0]) if r.provider else None
        out.append(Resource(
            type=r.type, name=r.name, urn=r.urn, props=engine_value(r.inputs),
            provider=Provider(prov.type, engine_value(prov.inputs), prov.urn, prov.name) if prov else None,
            parent=r.parent or "", dependencies=tuple((r.options or {}).get("dependsOn") or ()),
        ))
    return out


def findings_document(findings: Sequence[Finding], settings: Mapping[str, PolicySettings],
                      *, config_source: str | None = None) -> dict[str, Any]:
    counts = {"mandatory": sum(f.level == "mandatory" for f in findings),
              "advisory": sum(f.level == "advisory" for f in findings)}
    return {
        "pack": PACK_NAME,
        "policies": len(settings),
        "disabled": sorted(n for n, s in settings.items() if s.level == "disabled"),
        "config": config_source,
        "counts": counts,
        "bySeverity": {s: sum(f.severity == s for f in findings) for s in SEVERITIES},
        "violations": [f.to_json() for f in findings],
    }


def render_findings(section: Mapping[str, Any]) -> str:
    """Findings for people, grouped by severity (most severe first)."""
    counts = section.get("counts", {})
    items = section.get("violations", [])
    head = (f"policy findings (pack {section.get('pack', PACK_NAME)}, {section.get('policies', 0)} policies): "
            f"{counts.get('mandatory', 0)} mandatory, {counts.get('advisory', 0)} advisory")
    if not items:
        return head + " - all policies pass\n"
    lines = [head]
    for sev in SEVERITIES:
        group = [f for f in items if f["severity"] == sev]
        if not group:
            continue
        lines.append(f"{sev.upper()} ({len(group)})")
        for f in group:
            where = f"{f['type']} {f['name']}".strip() or "(stack)"
            ids = f"  [{', '.join(f['ids'])}]" if f["ids"] else ""
            lines.append(f"  [{f['level']}] {f['policy']}: {where}{ids}")
            lines.append(f"      {f['message']}")
    return "\n".join(lines) + "\n"
