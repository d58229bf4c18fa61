"""`plan --compare OLD_PLAN.json`: what this plan changes against an earlier plan.json.

Pure functions over two plan.json documents (no Pulumi import):

- resources matched by URN (a recorded alias of the new resource counts as the same resource):
  added, removed, replaced (a changed input that forces replacement, see `replacements`),
  updated (changed inputs or protect/retain options), unchanged;
- changed inputs as leaf paths with old and new values; secrets are masked on both sides
  (`[secret]` in either plan, or a key that names a credential), so a diff never shows one;
- cost: every numeric figure of `capacity.total` and each priced pool, old, new and delta;
- findings: new (in this plan, not the old one) and fixed (the reverse), keyed by policy + URN.

`render_text` prints it for a terminal, `render_markdown` for a pull-request comment.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator, Mapping

from .replacements import forcing, replace_paths

SECRET_MARKER = "[secret]"
MASK = "[secret]"
# Input keys that carry credentials even when a program forgot Output.secret.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|privatekey|private_key|connectionstring|connection_string|"
                        r"kubeconfig|clientkey|client_key|apikey|api_key|sastoken|accountkey|account_key)$", re.IGNORECASE)
SECRET_TYPES = {"kubernetes:core/v1:Secret": ("data", "stringData")}
COST_METRICS = ("perHourAtMin", "perHourAtMax", "allOnDemandAtMax")
OPTION_KEYS = ("protect", "retainOnDelete", "deleteBeforeReplace")
MAX_CHANGES_SHOWN = 25


class PlanFileError(ValueError):
    """OLD_PLAN.json is missing, not JSON, or not a gpufleet plan.json."""


def load_plan(path: Any) -> dict[str, Any]:
    from pathlib import Path

    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise PlanFileError(f"--compare {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError(f"--compare {p}: cannot read it: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"--compare {p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), list) or "formatVersion" not in doc:
        raise PlanFileError(f"--compare {p}: not a plan.json written by `python -m infra plan --out` "
                            "(expected an object with formatVersion and resources)")
    return doc


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf paths of a JSON value: `a.b[0].c`. Empty containers are leaves."""
    if isinstance(value, dict) and value:
        for k in sorted(value):
            yield from flatten(value[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def is_secret(path: str, old: Any, new: Any, typ: str = "") -> bool:
    """A secret in either plan, a key that names a credential, or the payload of a Kubernetes Secret."""
    if old == SECRET_MARKER or new == SECRET_MARKER:
        return True
    keys = [k for k in re.split(r"[.\[\]]+", path) if k and not k.isdigit()]
    if keys and keys[0] in SECRET_TYPES.get(typ, ()):
        return True
    return any(SECRET_KEY.search(k) for k in keys)


def input_changes(old: Mapping[str, Any], new: Mapping[str, Any], typ: str = "") -> list[dict[str, Any]]:
    """[{path, old, new, secret}] for every leaf that differs; absent leaves are None."""
    before, after = dict(flatten(dict(old))), dict(flatten(dict(new)))
    changes = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        secret = is_secret(path, a, b, typ)
        changes.append({"path": path, "old": MASK if secret and a is not None else a,
                        "new": MASK if secret and b is not None else b, "secret": secret})
    return changes


def _ref(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"urn": r["urn"], "type": r["type"], "name": r["name"]}


def _alias_urns(r: Mapping[str, Any]) -> list[str]:
    """URN aliases of a resource; name/type alias specs are resolved against its own URN."""
    found = []
    for alias in (r.get("options") or {}).get("aliases") or []:
        if isinstance(alias, str):
            found.append(alias)
        elif isinstance(alias, dict):
            head, _, name = r["urn"].rpartition("::")
            prefix, _, typ = head.rpartition("::")
            chain = typ.rsplit("$", 1)
            new_type = alias.get("type") or chain[-1]
            chain_t = "$".join(chain[:-1] + [new_type])
            found.append(f"{prefix}::{chain_t}::{alias.get('name') or name}")
    return found


def resource_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    olds = {r["urn"]: r for r in old.get("resources") or []}
    news = {r["urn"]: r for r in new.get("resources") or []}
    providers = {r["urn"]: r for r in news.values() if str(r.get("type", "")).startswith("pulumi:providers:")}
    pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
    renamed, added = [], []
    matched_old: set[str] = set()
    for urn, r in news.items():
        if urn in olds:
            pairs.append((olds[urn], r))
            matched_old.add(urn)
            continue
        alias = next((a for a in _alias_urns(r) if a in olds and a not in news), None)
        if alias:
            pairs.append((olds[alias], r))
            matched_old.add(alias)
            renamed.append({"from": alias, **_ref(r)})
        else:
            added.append(_ref(r))
    removed = [_ref(r) for urn, r in olds.items() if urn not in matched_old]
    replaced, updated, unchanged = [], [], 0
    for before, after in pairs:
        changes = input_changes(before.get("inputs") or {}, after.get("inputs") or {}, str(after.get("type", "")))
        opts_b, opts_a = before.get("options") or {}, after.get("options") or {}
        option_changes = [{"option": k, "old": opts_b.get(k), "new": opts_a.get(k)}
                          for k in OPTION_KEYS if opts_b.get(k) != opts_a.get(k)]
        if not changes and not option_changes:
            unchanged += 1
            continue
        because = forcing([c["path"] for c in changes], replace_paths(after, providers))
        entry = {**_ref(after), "changes": changes, "options": option_changes}
        if because:
            entry["because"] = because
            entry["deleteBeforeReplace"] = bool(opts_a.get("deleteBeforeReplace"))
            replaced.append(entry)
        else:
            updated.append(entry)
    key = lambda e: (e["type"], e["name"])  # noqa: E731
    return {"added": sorted(added, key=key), "removed": sorted(removed, key=key),
            "replaced": sorted(replaced, key=key), "updated": sorted(updated, key=key),
            "renamed": sorted(renamed, key=key), "unchanged": unchanged}


def _numeric(d: Mapping[str, Any] | None) -> dict[str, float]:
    return {k: v for k, v in (d or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _delta(a: float | None, b: float | None) -> dict[str, Any]:
    return {"old": a, "new": b, "delta": None if a is None or b is None else round(b - a, 4)}


def _pool_costs(capacity: Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    out = {}
    for row in (capacity or {}).get("pools") or []:
        label = f"{row.get('region')}/{row.get('pool')}"
        out[label] = {m: (row.get("cost") or {}).get(m) for m in COST_METRICS}
    return out


def cost_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    t_old, t_new = _numeric((old.get("capacity") or {}).get("total")), _numeric((new.get("capacity") or {}).get("total"))
    total = {k: _delta(t_old.get(k), t_new.get(k)) for k in sorted(set(t_old) | set(t_new))
             if t_old.get(k) != t_new.get(k)}
    p_old, p_new = _pool_costs(old.get("capacity")), _pool_costs(new.get("capacity"))
    pools = []
    for label in sorted(set(p_old) | set(p_new)):
        a, b = p_old.get(label), p_new.get(label)
        if a == b:
            continue
        status = "added" if a is None else "removed" if b is None else "changed"
        pools.append({"pool": label, "status": status,
                      **{m: _delta((a or {}).get(m), (b or {}).get(m)) for m in COST_METRICS}})
    return {"total": total, "pools": pools}


def _finding_key(v: Mapping[str, Any]) -> tuple[str, str]:
    return (str(v.get("policy")), str(v.get("urn")))


def finding_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    before = {_finding_key(v): v for v in (old.get("findings") or {}).get("violations") or []}
    after = {_finding_key(v): v for v in (new.get("findings") or {}).get("violations") or []}
    keep = ("policy", "level", "severity", "message", "urn", "type", "name")
    pick = lambda v: {k: v.get(k) for k in keep}  # noqa: E731
    return {"new": [pick(after[k]) for k in sorted(set(after) - set(before))],
            "fixed": [pick(before[k]) for k in sorted(set(before) - set(after))]}


def compare_plans(old: Mapping[str, Any], new: Mapping[str, Any], *, old_label: str = "old plan") -> dict[str, Any]:
    res = resource_changes(old, new)
    findings = finding_changes(old, new)
    return {
        "old": {"label": old_label, "stack": old.get("stack"), "resources": len(old.get("resources") or [])},
        "new": {"stack": new.get("stack"), "resources": len(new.get("resources") or [])},
        "resources": res,
        "cost": cost_changes(old, new),
        "findings": findings,
        "counts": {"added": len(res["added"]), "removed": len(res["removed"]), "replaced": len(res["replaced"]),
                   "updated": len(res["updated"]), "unchanged": res["unchanged"],
                   "newFindings": len(findings["new"]), "fixedFindings": len(findings["fixed"])},
    }


def show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if value == MASK:
        return MASK
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def summary_line(diff: Mapping[str, Any]) -> str:
    c = diff["counts"]
    money = diff["cost"]["total"].get("perHourAtMax")
    cost = f", $/h at max {money['delta']:+.2f}" if money and money.get("delta") is not None else ""
    return (f"compare with {diff['old']['label']}: {c['added']} to add, {c['removed']} to remove, "
            f"{c['replaced']} to replace, {c['updated']} to update, {c['unchanged']} unchanged{cost}; "
            f"findings {c['newFindings']} new, {c['fixedFindings']} fixed")


def _money(entry: Mapping[str, Any]) -> str:
    a, b, d = entry.get("old"), entry.get("new"), entry.get("delta")
    fa = "n/a" if a is None else f"{a:,.2f}"
    fb = "n/a" if b is None else f"{b:,.2f}"
    return f"{fa} -> {fb}" + ("" if d is None else f" ({d:+,.2f})")


def _change_lines(entry: Mapping[str, Any], indent: str) -> list[str]:
    lines = []
    forced = set(entry.get("because") or [])
    for ch in entry["changes"][:MAX_CHANGES_SHOWN]:
        mark = " (forces replacement)" if ch["path"] in forced else ""
        lines.append(f"{indent}~ {ch['path']}: {show(ch['old'])} => {show(ch['new'])}{mark}")
    if len(entry["changes"]) > MAX_CHANGES_SHOWN:
        lines.append(f"{indent}... {len(entry['changes']) - MAX_CHANGES_SHOWN} more changed input(s)")
    for opt in entry.get("options") or []:
        lines.append(f"{indent}~ option {opt['option']}: {opt['old']} => {opt['new']}")
    return lines


def render_text(diff: Mapping[str, Any]) -> str:
    res = diff["resources"]
    lines = [summary_line(diff)]
    if diff["old"]["stack"] != diff["new"]["stack"]:
        lines.append(f"  note: the old plan is of stack {diff['old']['stack']}, this one of {diff['new']['stack']}")
    for r in res["added"]:
        lines.append(f"  + {r['type']:<58} {r['name']}")
    for r in res["removed"]:
        lines.append(f"  - {r['type']:<58} {r['name']}")
    for r in res["replaced"]:
        first = ", deleteBeforeReplace" if r.get("deleteBeforeReplace") else ""
        lines.append(f"  +- {r['type']:<57} {r['name']}  (replace{first}: {', '.join(r['because'])})")
        lines += _change_lines(r, "       ")
    for r in res["updated"]:
        lines.append(f"  ~ {r['type']:<58} {r['name']}")
        lines += _change_lines(r, "       ")
    for r in res["renamed"]:
        lines.append(f"  = {r['type']:<58} {r['name']}  (alias of {r['from'].rsplit('::', 1)[-1]})")
    cost = diff["cost"]
    if cost["total"] or cost["pools"]:
        lines.append("  cost ($/h):")
        for k, v in cost["total"].items():
            lines.append(f"    total {k}: {_money(v)}")
        for p in cost["pools"]:
            lines.append(f"    {p['pool']} ({p['status']}): " + "; ".join(f"{m} {_money(p[m])}" for m in COST_METRICS))
    for f in diff["findings"]["new"]:
        lines.append(f"  new finding   {f['level']:<9} {f['severity']:<8} {f['policy']}  {f['name']}: {f['message']}")
    for f in diff["findings"]["fixed"]:
        lines.append(f"  fixed finding {f['level']:<9} {f['severity']:<8} {f['policy']}  {f['name']}")
    return "\n".join(lines) + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(diff: Mapping[str, Any]) -> str:
    """The diff as a pull-request comment (GitHub-flavoured Markdown)."""
    res, c = diff["resources"], diff["counts"]
    out = [f"### gpufleet plan: stack `{diff['new']['stack']}` against {_md(diff['old']['label'])}", "",
           f"**{c['added']}** to add · **{c['removed']}** to remove · **{c['replaced']}** to replace · "
           f"**{c['updated']}** to update · {c['unchanged']} unchanged · findings **{c['newFindings']}** new, "
           f"**{c['fixedFindings']}** fixed", ""]
    rows = ([("add", r, "") for r in res["added"]] + [("remove", r, "") for r in res["removed"]]
            + [("**replace**", r, ", ".join(f"`{p}`" for p in r["because"])) for r in res["replaced"]]
            + [("update", r, ", ".join(f"`{ch['path']}`" for ch in r["changes"][:8])
                + (" …" if len(r["changes"]) > 8 else "")) for r in res["updated"]])
    if rows:
        out += ["| change | type | name | inputs |", "|---|---|---|---|"]
        out += [f"| {what} | `{r['type']}` | `{r['name']}` | {_md(why)} |" for what, r, why in rows]
        out.append("")
    cost = diff["cost"]
    if cost["total"]:
        out += ["| cost ($/h) | old | new | delta |", "|---|---:|---:|---:|"]
        for k, v in cost["total"].items():
            fmt = lambda x: "n/a" if x is None else f"{x:,.2f}"  # noqa: E731
            out.append(f"| total {k} | {fmt(v['old'])} | {fmt(v['new'])} | "
                       f"{'' if v['delta'] is None else format(v['delta'], '+,.2f')} |")
        out.append("")
    for f in diff["findings"]["new"]:
        out.append(f"- new finding: **{f['level']}** {f['severity']} `{f['policy']}` on `{f['name']}`: {_md(f['message'])}")
    for f in diff["findings"]["fixed"]:
        out.append(f"- fixed: `{f['policy']}` on `{f['name']}`")
    out.append("")
    out.append("Secrets are masked; full details in the report.html artifact.")
    return "\n".join(out) + "\n"
