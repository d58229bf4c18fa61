"""report.html: the plan as one self-contained page (inline CSS and SVG, no scripts, nothing fetched).

Sections: headline figures, the diff against an older plan (with --compare), the topology diagram
(Graphviz, see `topology`), capacity and cost with a $/h chart from floor to max against all
on-demand, replication and endpoints, alerts and budgets, policy findings linked to the resource
inventory at the bottom. Figures are read from plan.json generically: every cost row of
`capacity` (pools, and any other list of rows with `perHourAtMin`/`perHourAtMax`) and `capacity.total`.
"""

from __future__ import annotations

import html
import re
from typing import Any, Mapping

from .topology import GraphvizMissing, render_svg, slug, to_dot, topology

METRICS = (("perHourAtMin", "at floor (min nodes)", "#0f766e"),
           ("perHourAtMax", "at max nodes", "#2563eb"),
           ("allOnDemandAtMax", "all on-demand at max", "#94a3b8"))

CSS = """
:root{--ink:#0f172a;--muted:#475569;--line:#e2e8f0;--bg:#f1f5f9;--card:#fff;--ok:#15803d;--bad:#b91c1c;--warn:#b45309}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 "DejaVu Sans",system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#0f172a;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px;font-weight:600}
header .sub{color:#cbd5e1;margin-top:4px}main{padding:18px 28px;max-width:1400px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 16px}.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 14px;min-width:150px}
.kpi b{display:block;font-size:20px}.kpi span{color:var(--muted);font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 18px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;background:#f8fafc}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px "DejaVu Sans Mono",ui-monospace,Menlo,monospace;background:#f1f5f9;padding:1px 4px;border-radius:4px}
.diagram{overflow-x:auto}.diagram svg{max-width:100%;height:auto}
.pill{display:inline-block;border-radius:999px;padding:1px 8px;font-size:12px;font-weight:600}
.pill.ok{background:#dcfce7;color:var(--ok)}.pill.bad{background:#fee2e2;color:var(--bad)}.pill.warn{background:#fef3c7;color:var(--warn)}
.pill.add{background:#dcfce7;color:var(--ok)}.pill.remove{background:#fee2e2;color:var(--bad)}.pill.replace{background:#ffedd5;color:#c2410c}.pill.update{background:#e0f2fe;color:#0369a1}
.legend{display:flex;gap:14px;color:var(--muted);font-size:12px;margin:4px 0 8px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.muted{color:var(--muted)}.note{color:var(--warn)}details summary{cursor:pointer;color:var(--muted)}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:16px}@media(max-width:900px){.cols{grid-template-columns:1fr}}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _usd(value: Any) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def resource_anchor(urn: str) -> str:
    return "r-" + slug(urn.split("::", 2)[-1])[:120]


def cost_rows(capacity: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """[{label, group, perHourAtMin, perHourAtMax, allOnDemandAtMax}] for every priced row of `capacity`."""
    rows = []
    for group, items in (capacity or {}).items():
        if group == "total" or not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            cost = item.get("cost") if isinstance(item.get("cost"), dict) else item
            if not all(isinstance(cost.get(m), (int, float)) for m, _, _ in METRICS):
                continue
            if item.get("region") is not None and item.get("pool") is not None:
                label = f"{item['region']}/{item['pool']}"
            else:
                label = str(item.get("name") or item.get("item") or item.get("kind") or item.get("line") or group)
                if item.get("region") is not None and not label.startswith(str(item["region"])):
                    label = f"{item['region']}/{label}"
            rows.append({"label": label, "group": group, **{m: float(cost[m]) for m, _, _ in METRICS}})
    total = (capacity or {}).get("total") or {}
    if all(isinstance(total.get(m), (int, float)) for m, _, _ in METRICS):
        rows.append({"label": "total", "group": "total", **{m: float(total[m]) for m, _, _ in METRICS}})
    return rows


def cost_chart(rows: list[dict[str, Any]]) -> str:
    """Grouped horizontal bars, $/h per row; every bar carries data-row/data-metric/data-value."""
    if not rows:
        return '<p class="muted">No priced capacity in this plan.</p>'
    top = max(max(r[m] for m, _, _ in METRICS) for r in rows) or 1.0
    label_w, chart_w, value_w, bar_h, gap = 150, 560, 90, 14, 3
    group_h = len(METRICS) * (bar_h + gap) + 14
    height = len(rows) * group_h + 10
    width = label_w + chart_w + value_w
    parts = [f'<svg id="cost-chart" class="cost-chart" role="img" aria-label="$/h from floor to max against all on-demand" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
             f'font-family="DejaVu Sans,Helvetica,Arial,sans-serif" font-size="11">']
    for i, r in enumerate(rows):
        y0 = 6 + i * group_h
        weight = "700" if r["group"] == "total" else "400"
        parts.append(f'<text x="0" y="{y0 + group_h / 2 - 4:.1f}" font-weight="{weight}" fill="#0f172a">{_e(r["label"])}</text>')
        for j, (metric, title, colour) in enumerate(METRICS):
            y = y0 + j * (bar_h + gap)
            w = max(1.0, chart_w * r[metric] / top)
            parts.append(f'<rect class="bar" data-row="{_e(r["label"])}" data-metric="{metric}" data-value="{r[metric]:.4f}" '
                         f'x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{colour}">'
                         f'<title>{_e(r["label"])} {title}: ${r[metric]:,.4f}/h</title></rect>')
            parts.append(f'<text class="bar-value" data-row="{_e(r["label"])}" data-metric="{metric}" '
                         f'x="{label_w + w + 6:.1f}" y="{y + bar_h - 3}" fill="#334155">${r[metric]:,.2f}/h</text>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{c}"></i>{t}</span>' for _, t, c in METRICS)
    return f'<div class="legend">{legend}</div>' + "".join(parts)


def _kv_table(d: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_e(_words(k))}</th><td class=\"num\">{_e(_fmt(v))}</td></tr>" for k, v in d.items()
                   if not isinstance(v, (dict, list)))
    return f"<table>{rows}</table>"


def _words(key: str) -> str:
    """perHourAtMin -> per hour at min (plan.json keys, readable)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: " " + m.group(1).lower(), key).replace("_", " ")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    return str(v)


def _capacity(document: Mapping[str, Any]) -> str:
    cap = document.get("capacity")
    if not cap:
        return ""
    head = ("<tr><th>region/pool</th><th>cloud</th><th>GPU</th><th>instance type</th><th class=num>reserved</th>"
            "<th class=num>on-demand</th><th class=num>spot</th><th class=num>floor</th><th class=num>$/h at floor</th>"
            "<th class=num>$/h at max</th><th class=num>all on-demand</th><th class=num>saving</th></tr>")
    body = []
    notes = []
    for p in cap.get("pools") or []:
        n, c = p.get("nodes") or {}, p.get("cost") or {}
        rng = lambda k: f"{(n.get(k) or {}).get('min', 0)}..{(n.get(k) or {}).get('max', 0)}"  # noqa: E731
        saving = c.get("savingAtMax")
        body.append(f"<tr><td>{_e(p.get('region'))}/{_e(p.get('pool'))}</td><td>{_e(p.get('cloud'))}</td>"
                    f"<td>{_e(p.get('gpu'))}x{_e(p.get('gpusPerNode'))}</td><td><code>{_e(p.get('instanceType'))}</code></td>"
                    f"<td class=num>{rng('reserved')}</td><td class=num>{rng('on_demand')}</td><td class=num>{rng('spot')}</td>"
                    f"<td class=num>{_e(p.get('floorAfterSpotLoss'))}</td><td class=num>{_usd(c.get('perHourAtMin'))}</td>"
                    f"<td class=num>{_usd(c.get('perHourAtMax'))}</td><td class=num>{_usd(c.get('allOnDemandAtMax'))}</td>"
                    f"<td class=num>{'n/a' if saving is None else f'{saving:.1%}'}</td></tr>")
        price = p.get("price")
        notes.append(f"<li><code>{_e(p.get('instanceType'))}</code> ({_e(p.get('cloudRegion'))}): "
                     + (f"{_e(price.get('source'))}, as of {_e(price.get('as_of'))}" if price else
                        '<span class="note">no price in the catalog: not in the totals</span>') + "</li>")
        notes += [f'<li class="note">{_e(x)}</li>' for x in p.get("notes") or []]
    other = ""
    for group, items in cap.items():
        if group in ("pools", "total") or not isinstance(items, list) or not items or not isinstance(items[0], dict):
            continue
        keys = [k for k in items[0] if not isinstance(items[0][k], (dict, list))]
        # Rows priced under a nested `cost` (the platform lines) show their $/h too.
        priced = any(isinstance(it.get("cost"), dict) for it in items)
        money = ["perHourAtMin", "perHourAtMax"] if priced else []
        other += (f"<h3>{_e(group)}</h3><table><tr>{''.join(f'<th>{_e(k)}</th>' for k in keys)}"
                  + "".join(f"<th>{h}</th>" for h in ("$/h at floor", "$/h at max")[:len(money)]) + "</tr>"
                  + "".join("<tr>" + "".join(f"<td>{_e(_fmt(it.get(k)))}</td>" for k in keys)
                            + "".join(f"<td class=num>{_usd((it.get('cost') or {}).get(m)) if it.get('cost') else 'unknown'}</td>"
                                      for m in money) + "</tr>" for it in items)
                  + "</table>")
    for group, value in cap.items():
        if group not in ("pools", "total") and isinstance(value, list) and value and isinstance(value[0], str):
            notes += [f'<li class="note">{_e(x)}</li>' for x in value]
    return (f'<section id="capacity"><h2>Capacity and cost</h2><table>{head}{"".join(body)}</table>{other}'
            f'<div class="cols"><div><h3>$/h from floor to max, against all on-demand</h3>{cost_chart(cost_rows(cap))}</div>'
            f'<div><h3>stack total</h3>{_kv_table(cap.get("total") or {})}</div></div>'
            f'<h3>prices</h3><ul>{"".join(dict.fromkeys(notes))}</ul></section>')


def _topology(document: Mapping[str, Any]) -> tuple[str, str | None]:
    """(section html, warning or None)."""
    topo = topology(dict(document))
    if not topo.regions:
        return ('<section id="topology"><h2>Topology</h2><p class="muted">This plan has no platform regions '
                '(a --program plan): see the inventory below.</p></section>', None)
    try:
        svg = render_svg(to_dot(topo))
        warning = None
    except GraphvizMissing as exc:
        svg = f'<p class="note">No diagram: {_e(exc)}. The rest of the report is complete.</p>'
        warning = f"report.html has no topology diagram: {exc}"
    legend = ('<div class="legend"><span><i style="background:#2563eb"></i>reserved</span>'
              '<span><i style="background:#d97706"></i>on-demand</span><span><i style="background:#16a34a"></i>spot</span>'
              '<span class="muted">min..max nodes per capacity type; floor = nodes left after losing every spot node</span></div>')
    return f'<section id="topology"><h2>Topology</h2>{legend}<div class="diagram">{svg}</div></section>', warning


def _replication_endpoints(document: Mapping[str, Any]) -> str:
    rep, eps = document.get("replication"), document.get("endpoints")
    if not rep and not eps:
        return ""
    left = "<p class=muted>Replication disabled.</p>"
    if rep and rep.get("enabled"):
        left = (f"<p>{_e(rep['source']['name'])} ({_e(rep['source'].get('region'))}) → {_e(rep['target']['name'])} "
                f"({_e(rep['target'].get('region'))}): {_e(rep.get('mechanism'))}</p><p class=muted>RPO: {_e(rep.get('rpo'))}</p>")
    right = ""
    for name, ep in ((eps or {}).get("regions") or {}).items():
        right += (f"<tr><td>{_e(name)}</td><td>{_e(ep.get('exposure'))}</td><td>{'on' if ep.get('tls') else 'off'}</td>"
                  f"<td>{_e(', '.join(ep.get('sourceRanges') or []) or 'any')}</td></tr>")
    fo = (eps or {}).get("failover")
    failover = (f"<p>Failover: {_e(fo.get('path'))}; detection {_e(fo.get('detectionSeconds'))} s, TTL "
                f"{_e(fo.get('ttlSeconds'))} s, worst-case switch {_e(fo.get('worstCaseSwitchSeconds'))} s.</p>") if fo else ""
    return (f'<section id="dr"><div class="cols"><div><h2>Model store replication</h2>{left}</div>'
            f'<div><h2>Endpoints</h2><table><tr><th>region</th><th>exposure</th><th>TLS</th><th>source ranges</th></tr>'
            f'{right}</table>{failover}</div></div></section>')


def _alerts(document: Mapping[str, Any]) -> str:
    a = document.get("alerts")
    if not a:
        return ""
    if not a.get("enabled"):
        return '<section id="alerts"><h2>Alerts and budgets</h2><p class="muted">Monitoring disabled.</p></section>'
    rules = "".join(f"<tr><td><span class=\"pill {'bad' if r['severity'] == 'critical' else 'warn'}\">{_e(r['severity'])}</span></td>"
                    f"<td>{_e(r['name'])}</td><td>{_e(r.get('for', ''))}</td><td>{_e(r.get('summary'))}</td></tr>"
                    for r in a.get("rules") or [])
    alarms = "".join(f"<tr><td>{_e(x['region'])}</td><td><code>{_e(x['type'].split(':')[-1])}</code></td>"
                     f"<td>{_e(x.get('displayName') or x['name'])}</td></tr>" for x in a.get("cloudAlarms") or [])
    b = a.get("budget")
    budget = ""
    if b:
        points = ", ".join(f"{t['percent']:g}% {t['kind']}" for t in b.get("thresholds") or [])
        budget = f"<p><b>Budget</b> ${b['monthly_usd']:,.0f}/month on {len(a.get('budgets') or [])} cloud(s): {_e(points)}</p>"
    return (f'<section id="alerts"><h2>Alerts and budgets</h2>{budget}<div class="cols"><div><h3>in-cluster rules</h3>'
            f'<table><tr><th>severity</th><th>rule</th><th>for</th><th>summary</th></tr>{rules}</table></div>'
            f'<div><h3>cloud alarms</h3><table><tr><th>region</th><th>kind</th><th>alarm</th></tr>{alarms}</table></div></div></section>')


def _findings(document: Mapping[str, Any]) -> str:
    f = document.get("findings")
    if not f:
        return ""
    counts = f.get("counts") or {}
    status = ('<span class="pill ok">all policies pass</span>' if not f.get("violations") else
              f'<span class="pill bad">{counts.get("mandatory", 0)} mandatory</span> '
              f'<span class="pill warn">{counts.get("advisory", 0)} advisory</span>')
    rows = "".join(
        f"<tr><td><span class=\"pill {'bad' if v['level'] == 'mandatory' else 'warn'}\">{_e(v['level'])}</span></td>"
        f"<td>{_e(v['severity'])}</td><td><code>{_e(v['policy'])}</code></td>"
        f"<td><a href=\"#{resource_anchor(v['urn'])}\">{_e(v['name'])}</a><br><span class=muted>{_e(v['type'])}</span></td>"
        f"<td>{_e(v['message'])}</td></tr>" for v in f.get("violations") or [])
    table = (f"<table><tr><th>level</th><th>severity</th><th>policy</th><th>resource</th><th>finding</th></tr>{rows}</table>"
             if rows else "")
    return (f'<section id="findings"><h2>Policy findings</h2><p>{status} <span class="muted">pack {_e(f.get("pack"))}, '
            f'{_e(f.get("policies"))} policies{", config " + _e(f["config"]) if f.get("config") else ""}</span></p>{table}</section>')


def _inventory(document: Mapping[str, Any]) -> str:
    rows = []
    for r in document.get("resources") or []:
        flags = [k for k in ("protect", "retainOnDelete") if (r.get("options") or {}).get(k)]
        rows.append(f'<tr id="{resource_anchor(r["urn"])}"><td><code>{_e(r["type"])}</code></td><td>{_e(r["name"])}</td>'
                    f'<td>{_e(", ".join(flags))}</td></tr>')
    # Open when findings link into it: not every browser expands a closed <details> for a #fragment.
    opened = " open" if (document.get("findings") or {}).get("violations") else ""
    return (f'<section id="inventory"><h2>Resources</h2><details{opened}><summary>{len(rows)} resources (type, name, flags)</summary>'
            f'<table><tr><th>type</th><th>name</th><th>flags</th></tr>{"".join(rows)}</table></details></section>')


def _diff(diff: Mapping[str, Any] | None) -> str:
    if diff is None:
        return ""
    from .diff import COST_METRICS, show, summary_line

    res = diff["resources"]
    rows = []
    for kind, pill in (("added", "add"), ("removed", "remove"), ("replaced", "replace"), ("updated", "update")):
        for r in res[kind]:
            detail = ""
            if r.get("changes") or r.get("options"):
                forced = set(r.get("because") or [])
                items = "".join(
                    f"<li><code>{_e(c['path'])}</code>: {_e(show(c['old']))} → {_e(show(c['new']))}"
                    f"{' <b>(forces replacement)</b>' if c['path'] in forced else ''}</li>" for c in r["changes"][:40])
                items += "".join(f"<li>option <code>{_e(o['option'])}</code>: {_e(o['old'])} → {_e(o['new'])}</li>"
                                 for o in r.get("options") or [])
                detail = f"<ul>{items}</ul>"
            rows.append(f'<tr class="diff-{pill}"><td><span class="pill {pill}">{pill}</span></td><td><code>{_e(r["type"])}</code></td>'
                        f'<td>{_e(r["name"])}</td><td>{detail}</td></tr>')
    table = (f"<table><tr><th>change</th><th>type</th><th>name</th><th>inputs</th></tr>{''.join(rows)}</table>"
             if rows else "<p class=muted>No resource changes.</p>")
    money = ""
    if diff["cost"]["total"] or diff["cost"]["pools"]:
        lines = "".join(f"<tr><td>total {_e(k)}</td><td class=num>{_e(_fmt(v['old']))}</td><td class=num>{_e(_fmt(v['new']))}</td>"
                        f"<td class=num>{'' if v['delta'] is None else format(v['delta'], '+,.2f')}</td></tr>"
                        for k, v in diff["cost"]["total"].items())
        for p in diff["cost"]["pools"]:
            for m in COST_METRICS:
                v = p[m]
                lines += (f"<tr><td>{_e(p['pool'])} {m} ({_e(p['status'])})</td><td class=num>{_e(_fmt(v['old']))}</td>"
                          f"<td class=num>{_e(_fmt(v['new']))}</td><td class=num>"
                          f"{'' if v['delta'] is None else format(v['delta'], '+,.2f')}</td></tr>")
        money = f"<h3>cost delta ($/h)</h3><table><tr><th>figure</th><th class=num>old</th><th class=num>new</th><th class=num>delta</th></tr>{lines}</table>"
    fnd = "".join(f"<li><span class=\"pill bad\">new</span> {_e(f['level'])} <code>{_e(f['policy'])}</code> on "
                  f"<a href=\"#{resource_anchor(f['urn'])}\">{_e(f['name'])}</a>: {_e(f['message'])}</li>" for f in diff["findings"]["new"])
    fnd += "".join(f"<li><span class=\"pill ok\">fixed</span> <code>{_e(f['policy'])}</code> on {_e(f['name'])}</li>"
                   for f in diff["findings"]["fixed"])
    return (f'<section id="diff"><h2>Changes against {_e(diff["old"]["label"])}</h2><p>{_e(summary_line(diff))}</p>'
            f'{table}{money}{"<h3>findings</h3><ul>" + fnd + "</ul>" if fnd else ""}</section>')


def _kpis(document: Mapping[str, Any]) -> str:
    s = document.get("summary") or {}
    total = (document.get("capacity") or {}).get("total") or {}
    f = document.get("findings") or {}
    by_cloud = ", ".join(f"{k} {v}" for k, v in (s.get("byCloud") or {}).items() if k != "gpufleet")
    items = [(str(s.get("total", len(document.get("resources") or []))), f"resources ({by_cloud})")]
    if total:
        items += [(f"{_usd(total.get('perHourAtMin'))} – {_usd(total.get('perHourAtMax'))}", "$/h floor – max"),
                  (_usd(total.get("allOnDemandAtMax")), "$/h all on-demand at max"),
                  (f"{total.get('floorNodes', '?')} / {total.get('maxNodes', '?')}", "GPU nodes floor / max")]
    if f:
        c = f.get("counts") or {}
        items.append((f"{c.get('mandatory', 0)} / {c.get('advisory', 0)}", "mandatory / advisory findings"))
    return '<div class="kpis">' + "".join(f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in items) + "</div>"


def render_report(document: Mapping[str, Any], diff: Mapping[str, Any] | None = None) -> tuple[str, list[str]]:
    """(report.html text, warnings for the person running the plan)."""
    config = document.get("config") or {}
    env = config.get("environment") if isinstance(config, dict) else None
    clouds = sorted({r.get("cloud") for r in (config.get("regions") or []) if isinstance(r, dict)}) if isinstance(config, dict) else []
    title = f"gpufleet plan · stack {document.get('stack')}"
    sub = " · ".join(x for x in [f"environment {env}" if env else "", f"clouds {', '.join(c for c in clouds if c)}" if clouds else "",
                                 f"program {document['program']}" if document.get("program") else "",
                                 f"plan.json format {document.get('formatVersion')}"] if x)
    topo, warning = _topology(document)
    body = "".join([_kpis(document), _diff(diff), topo, _capacity(document), _replication_endpoints(document),
                    _alerts(document), _findings(document), _inventory(document)])
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<title>{_e(title)}</title><style>{CSS}</style></head><body><header><h1>{_e(title)}</h1>'
            f'<div class="sub">{_e(sub)}</div></header><main>{body}</main></body></html>\n')
    return page, [warning] if warning else []



def write_report(out_dir: Any, document: Mapping[str, Any], diff: Mapping[str, Any] | None = None) -> tuple[Any, list[str]]:
    """Write out_dir/report.html (and diff.json + diff.md with a diff); (report path, warnings)."""
    from pathlib import Path

    from .diff import render_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page, warnings = render_report(document, diff)
    (out / "report.html").write_text(page)
    for stale in ("diff.json", "diff.md"):
        if diff is None and (out / stale).exists():
            (out / stale).unlink()
    if diff is not None:
        import json

        (out / "diff.json").write_text(json.dumps(diff, indent=2) + "\n")
        (out / "diff.md").write_text(render_markdown(diff))
    return out / "report.html", warnings
