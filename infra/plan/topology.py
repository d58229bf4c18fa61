"""The platform's topology from plan.json, laid out by Graphviz `dot` into inline SVG.

`topology(document)` is pure: regions (as Graphviz clusters) holding a Kubernetes cluster, its GPU
pools with their reserved / on-demand / spot split, the model store and the endpoint; the model
store's replica link and the DNS failover path between regions. `to_dot` writes it in the DOT
language and `render_svg` asks Graphviz (Debian package `graphviz`) to lay it out, so nothing is
placed by hand. Every node carries a stable SVG id (`region-<name>`, `cluster-<name>`,
`pool-<region>-<pool>`, `store-<name>`, `endpoint-<name>`, `dns-failover`) that the report's
browser test looks up.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

FONT = "DejaVu Sans,Helvetica,Arial,sans-serif"
CAPACITY_COLOURS = {"reserved": "#2563eb", "on_demand": "#d97706", "spot": "#16a34a"}
CAPACITY_LABELS = {"reserved": "reserved", "on_demand": "on-demand", "spot": "spot"}


class GraphvizMissing(RuntimeError):
    """`dot` is not on PATH (Debian: apt-get install graphviz)."""


def slug(text: str) -> str:
    """A stable, id-safe form of a name: lower case, [a-z0-9-]."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


@dataclass
class Node:
    id: str
    kind: str  # cluster | pool | store | endpoint | dns
    label: str  # a Graphviz HTML-like label (already escaped)
    shape: str = "plain"


@dataclass
class Region:
    id: str
    name: str
    title: str
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Edge:
    tail: str
    head: str
    label: str = ""
    style: str = "solid"
    colour: str = "#475569"
    constraint: bool = True  # False: drawn, but does not push the head's region down a rank


@dataclass
class Topology:
    regions: list[Region]
    outside: list[Node]
    edges: list[Edge]


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _box(title: str, rows: list[str], colour: str) -> str:
    body = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{r}</TD></TR>' for r in rows)
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="5" COLOR="{colour}" STYLE="ROUNDED" '
            f'BGCOLOR="#ffffff"><TR><TD ALIGN="LEFT" BGCOLOR="{colour}"><FONT COLOR="#ffffff"><B>{title}</B></FONT></TD></TR>'
            f'{body}</TABLE>>')


def _small(text: str) -> str:
    return f'<FONT POINT-SIZE="9" COLOR="#475569">{_e(text)}</FONT>'


def _pool_label(pool: dict[str, Any]) -> str:
    nodes = pool.get("nodes") or {}
    rows = []
    for kind in ("reserved", "on_demand", "spot"):
        rng = nodes.get(kind) or {}
        lo, hi = rng.get("min", 0), rng.get("max", 0)
        colour = CAPACITY_COLOURS[kind] if hi else "#94a3b8"
        rows.append(f'<FONT COLOR="{colour}">&#9632;</FONT> {CAPACITY_LABELS[kind]} {_e(lo)}..{_e(hi)}')
    floor = pool.get("floorAfterSpotLoss", nodes.get("floor"))
    rows.append(_small(f"{pool.get('instanceType', '?')} · floor {floor} · max {nodes.get('maxNodes', '?')}"))
    gpu = f"{pool.get('gpu', '?')}x{pool.get('gpusPerNode', 1)}"
    return _box(f"GPU pool {_e(pool.get('pool'))} · {_e(gpu)}", rows, "#0f766e")


def _regions_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """[{name, cloud, cloudRegion, role, clusterName, modelStore}] from the stack outputs, else the capacity rows."""
    outputs = (document.get("outputs") or {}).get("regions")
    found: dict[str, dict[str, Any]] = {}
    if isinstance(outputs, dict):
        for name, r in outputs.items():
            if isinstance(r, dict):
                found[name] = {"name": name, "cloud": r.get("cloud"), "cloudRegion": r.get("region"),
                               "role": r.get("role"), "clusterName": r.get("clusterName"),
                               "adopted": r.get("clusterCreated") is False,
                               "modelStore": r.get("modelStore") if isinstance(r.get("modelStore"), dict) else None}
    for pool in (document.get("capacity") or {}).get("pools") or []:
        found.setdefault(pool["region"], {"name": pool["region"], "cloud": pool.get("cloud"),
                                          "cloudRegion": pool.get("cloudRegion"), "role": None,
                                          "clusterName": None, "modelStore": None, "adopted": False})
    return list(found.values())


def topology(document: dict[str, Any]) -> Topology:
    pools_by_region: dict[str, list[dict[str, Any]]] = {}
    for pool in (document.get("capacity") or {}).get("pools") or []:
        pools_by_region.setdefault(pool["region"], []).append(pool)
    endpoints = (document.get("endpoints") or {}).get("regions") or {}
    regions: list[Region] = []
    edges: list[Edge] = []
    rep = document.get("replication") or {}
    rep_line = f"{rep.get('path', '')}, RPO {rep.get('rpoMinutes', '?')} min" if rep.get("enabled") else ""
    for r in _regions_of(document):
        name = r["name"]
        role = f" · {r['role']}" if r.get("role") else ""
        region = Region(id=f"region-{slug(name)}", name=name,
                        title=f"{name} · {r.get('cloud') or '?'} {r.get('cloudRegion') or ''}{role}")
        cluster_id = f"cluster-{slug(name)}"
        region.nodes.append(Node(cluster_id, "cluster", _box(
            "Kubernetes cluster" + (" (adopted)" if r.get("adopted") else ""), [_e(r.get("clusterName") or name)],
            "#334155")))
        pool_nodes, pool_edges = [], []
        for pool in pools_by_region.get(name, []):
            pid = f"pool-{slug(name)}-{slug(pool['pool'])}"
            pool_nodes.append(Node(pid, "pool", _pool_label(pool)))
            pool_edges.append(Edge(cluster_id, pid))
        store_nodes, store_edges = [], []
        store = r.get("modelStore")
        if store:
            sid = f"store-{slug(name)}"
            what = "model store replica" if store.get("replicaOf") else "model store"
            rows = [_e(store.get("uri") or store.get("bucket") or "")]
            if store.get("replicaOf") and rep_line:
                rows.append(_small(f"replica of {store['replicaOf']}: {rep_line}"))
            store_nodes.append(Node(sid, "store", _box(what, rows, "#7c3aed")))
            store_edges.append(Edge(cluster_id, sid, "reads models", "dashed", "#7c3aed"))
        # Source stores to the right of the pools, replicas to the left: the replication edge stays short.
        first, second = ((store_nodes, store_edges), (pool_nodes, pool_edges)) if store and store.get("replicaOf") \
            else ((pool_nodes, pool_edges), (store_nodes, store_edges))
        for nodes, links in (first, second):
            region.nodes += nodes
            edges += links
        ep = endpoints.get(name)
        if ep:
            eid = f"endpoint-{slug(name)}"
            rows = [f"{_e(ep.get('exposure'))}, TLS {'on' if ep.get('tls') else 'off'}",
                    _small("source ranges " + (", ".join(ep.get("sourceRanges") or []) or "any"))]
            region.nodes.append(Node(eid, "endpoint", _box("inference endpoint", rows, "#be123c")))
            edges.append(Edge(eid, cluster_id, "serves"))
        regions.append(region)

    outside: list[Node] = []
    known = {n.id for reg in regions for n in reg.nodes}
    if rep.get("enabled") and rep.get("source") and rep.get("target"):
        src, dst = f"store-{slug(rep['source']['name'])}", f"store-{slug(rep['target']['name'])}"
        if src in known and dst in known and src != dst:
            # The details sit in the replica's box: labels on non-constraint edges land on top of other edges.
            edges.append(Edge(src, dst, "replicates", "bold", "#7c3aed", constraint=False))
    failover = (document.get("endpoints") or {}).get("failover")
    if failover and failover.get("enabled", True) and failover.get("primary"):
        outside.append(Node("dns-failover", "dns", _box(
            "DNS failover", [_e(failover.get("dnsName", "")),
                             _small(f"switch ≤ {failover.get('worstCaseSwitchSeconds', '?')} s, TTL {failover.get('ttlSeconds', '?')} s")],
            "#0369a1")))
        for role, style in (("primary", "bold"), ("standby", "dashed")):
            target = (failover.get(role) or {}).get("region")
            if target and f"endpoint-{slug(target)}" in known:
                edges.append(Edge("dns-failover", f"endpoint-{slug(target)}", role, style, "#0369a1"))
    return Topology(regions=regions, outside=outside, edges=edges)


def _attrs(**kv: str) -> str:
    parts = []
    for k, v in kv.items():
        if v.startswith("<") and v.endswith(">"):
            parts.append(f"{k}={v}")
        else:
            parts.append(f'{k}="{v}"')
    return ", ".join(parts)


def to_dot(topo: Topology) -> str:
    lines = ["digraph gpufleet {",
             f'  graph [{_attrs(rankdir="TB", fontname=FONT, fontsize="12", bgcolor="transparent", nodesep="0.35", ranksep="0.55", pad="0.2", id="topology")}];',
             f'  node [{_attrs(shape="plain", fontname=FONT, fontsize="11")}];',
             f'  edge [{_attrs(fontname=FONT, fontsize="9", arrowsize="0.7")}];']
    for node in topo.outside:
        lines.append(f'  "{node.id}" [{_attrs(id=node.id, label=node.label, shape=node.shape, **{"class": "gf-" + node.kind})}];')
    for region in topo.regions:
        lines.append(f'  subgraph "cluster_{region.id}" {{')
        lines.append(f'    graph [{_attrs(id=region.id, label=f"<<B>{_e(region.title)}</B>>", style="rounded,filled", color="#cbd5e1", fillcolor="#f8fafc", margin="14", labeljust="l", **{"class": "gf-region"})}];')
        for node in region.nodes:
            lines.append(f'    "{node.id}" [{_attrs(id=node.id, label=node.label, shape=node.shape, **{"class": "gf-" + node.kind})}];')
        lines.append("  }")
    for e in topo.edges:
        extra = {} if e.constraint else {"constraint": "false"}
        lines.append(f'  "{e.tail}" -> "{e.head}" [{_attrs(label=_e(e.label), style=e.style, color=e.colour, fontcolor=e.colour, **extra)}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render_svg(dot_source: str, *, timeout_s: float = 60) -> str:
    """Lay the graph out with Graphviz and return the <svg> element (no XML prolog or DOCTYPE)."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing("Graphviz `dot` is not installed (Debian: apt-get install graphviz)")
    proc = subprocess.run([exe, "-Tsvg"], input=dot_source, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"dot -Tsvg failed: {proc.stderr.strip()}")
    svg = proc.stdout
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
