"""report.html in a real browser: headless Chromium (Debian's `chromium`, installed by `make tools`).

The prod stack's report is opened, its rendered DOM read back (`--dump-dom`) and a screenshot
taken; the diagram must hold a node for every region, cluster and GPU pool in plan.json and the
cost chart's figures must be the ones in plan.json `capacity` (pools, other cost rows, total).
"""

from __future__ import annotations

import copy
import json
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from infra.plan.html_report import render_report, resource_anchor, write_report
from infra.plan.topology import slug

from .conftest import plan_for

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("perHourAtMin", "perHourAtMax", "allOnDemandAtMax")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        pytest.fail("headless Chromium is required for the report test: run `make tools` (Debian package chromium)")
    return found


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium-profile'}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


class Elements(HTMLParser):
    """Every element with its attributes and the text inside it (SVG included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[dict] = []
        self.all: list[dict] = []

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": []}
        self.all.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.all.append({"tag": tag, "attrs": dict(attrs), "text": []})

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"].append(data)

    def by_id(self) -> dict[str, dict]:
        return {el["attrs"]["id"]: el for el in self.all if "id" in el["attrs"]}


def text(el: dict) -> str:
    return " ".join("".join(el["text"]).split())


def expected_cost_rows(capacity: dict) -> dict[tuple[str, str], float]:
    """(row label, metric) -> $/h, straight from plan.json: priced pools, any other cost rows, the total."""
    want = {}
    for group, items in capacity.items():
        if group == "total" or not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            cost = item["cost"] if isinstance(item.get("cost"), dict) else item
            if all(isinstance(cost.get(m), (int, float)) for m in METRICS):
                if group == "pools":
                    label = f"{item['region']}/{item['pool']}"
                else:
                    label = str(item.get("name") or item.get("item") or item.get("kind") or item.get("line") or group)
                    if item.get("region") is not None and not label.startswith(str(item["region"])):
                        label = f"{item['region']}/{label}"
                want.update({(label, m): float(cost[m]) for m in METRICS})
    want.update({("total", m): float(capacity["total"][m]) for m in METRICS})
    return want


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def prod_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("prod-report")
    doc = json.loads(json.dumps(plan_for("prod").document))  # as plan.json carries it
    path, warnings = write_report(out, doc)
    assert warnings == []
    dom = chromium(out, "--dump-dom", path.as_uri()).stdout
    parsed = Elements()
    parsed.feed(dom)
    return {"out": out, "path": path, "doc": doc, "dom": dom, "els": parsed}


def test_prod_report_diagram_has_a_node_per_region_cluster_and_gpu_pool(prod_report):
    doc, els = prod_report["doc"], prod_report["els"]
    ids = els.by_id()
    regions = [r["name"] for r in doc["config"]["regions"]]
    assert len(regions) == 2
    for name in regions:
        region = ids[f"region-{slug(name)}"]
        assert "gf-region" in region["attrs"]["class"] and name in text(region)
        cluster = ids[f"cluster-{slug(name)}"]
        assert "gf-cluster" in cluster["attrs"]["class"]
        assert doc["outputs"]["regions"][name]["clusterName"] in text(cluster)
    pools = doc["capacity"]["pools"]
    assert len(pools) == len([r for r in doc["resources"] if r["type"] == "gpufleet:gpu_pool:GpuNodePool"])
    for pool in pools:
        node = ids[f"pool-{slug(pool['region'])}-{slug(pool['pool'])}"]
        shown = text(node)
        assert "gf-pool" in node["attrs"]["class"]
        for kind, label in (("reserved", "reserved"), ("on_demand", "on-demand"), ("spot", "spot")):
            n = pool["nodes"][kind]
            assert f"{label} {n['min']}..{n['max']}" in shown, (pool["region"], kind, shown)
    # Exactly these nodes: no stale or duplicate pools/clusters in the picture.
    kinds = lambda k: sorted(i for i, el in ids.items() if f"gf-{k}" in el["attrs"].get("class", "").split())  # noqa: E731
    assert kinds("cluster") == sorted(f"cluster-{slug(r)}" for r in regions)
    assert kinds("pool") == sorted(f"pool-{slug(p['region'])}-{slug(p['pool'])}" for p in pools)
    # Model store -> replica and endpoint -> failover are drawn too.
    assert {"store-usc1", "store-use1", "endpoint-usc1", "endpoint-use1", "dns-failover"} <= set(ids)


def test_prod_report_cost_chart_figures_match_plan_json_capacity(prod_report):
    doc, els = prod_report["doc"], prod_report["els"]
    bars = {(el["attrs"]["data-row"], el["attrs"]["data-metric"]): float(el["attrs"]["data-value"])
            for el in els.all if el["tag"] == "rect" and "bar" in el["attrs"].get("class", "").split()}
    want = expected_cost_rows(doc["capacity"])
    assert bars.keys() == want.keys()
    assert all(abs(bars[k] - want[k]) < 5e-5 for k in want), {k: (bars[k], want[k]) for k in want}
    # The labels printed next to the bars say the same figures.
    labels = {(el["attrs"]["data-row"], el["attrs"]["data-metric"]): text(el)
              for el in els.all if "bar-value" in el["attrs"].get("class", "").split()}
    assert all(labels[k] == f"${want[k]:,.2f}/h" for k in want)
    # The stack's whole cost: its platform lines (control plane, system/general pools, NAT, LBs) are bars too.
    assert any(row.endswith("/control-plane") for row, _ in bars) and any(row.endswith("/nat") for row, _ in bars)


def test_a_pool_without_a_price_is_in_the_table_but_not_in_the_chart():
    # Every shipped stack's pools are priced today, so the unpriced pool is crafted.
    doc = copy.deepcopy(plan_for("prod").document)
    pool = doc["capacity"]["pools"][-1]
    pool["cost"], pool["price"] = None, None
    page, _ = render_report(doc)
    els = Elements()
    els.feed(page)
    rows = {el["attrs"]["data-row"] for el in els.all if "bar" in el["attrs"].get("class", "").split()}
    label = f"{pool['region']}/{pool['pool']}"
    assert label not in rows and rows
    assert label in page and "no price in the catalog: not in the totals" in page


def test_prod_report_is_self_contained_and_screenshots(prod_report):
    page = prod_report["path"].read_text()
    for fetch in ("<script", "<link", " src=", "url(", "@import", "<img", "<iframe"):
        assert fetch not in page, fetch
    shot = prod_report["out"] / "report.png"
    chromium(prod_report["out"], f"--screenshot={shot}", "--window-size=1280,1800", prod_report["path"].as_uri())
    width, height = png_size(shot)
    assert (width, height) == (1280, 1800)
    assert shot.stat().st_size > 60_000  # a blank or unstyled page compresses to a few kB


def test_findings_link_to_the_resource_in_the_inventory():
    doc = copy.deepcopy(plan_for("prod").document)
    target = next(r for r in doc["resources"] if r["type"] == "gcp:storage/bucket:Bucket")
    doc["findings"]["violations"] = [{"policy": "gcs-bucket-cmek", "level": "mandatory", "severity": "high",
                                      "message": "no CMEK", "urn": target["urn"], "type": target["type"],
                                      "name": target["name"], "ids": [], "description": ""}]
    doc["findings"]["counts"] = {"mandatory": 1, "advisory": 0}
    page, _ = render_report(doc)
    anchor = resource_anchor(target["urn"])
    assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
    assert page.count(f'id="{anchor}"') == 1 and "<details open>" in page


def test_without_graphviz_the_report_still_renders_and_says_why(monkeypatch):
    import infra.plan.topology as topology

    monkeypatch.setattr(topology.shutil, "which", lambda name: None)
    page, warnings = render_report(plan_for("prod").document)
    assert warnings and "graphviz" in warnings[0].lower()
    assert "No diagram" in page and 'id="cost-chart"' in page and 'id="findings"' in page


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_cli_compare_prints_and_writes_the_diff_and_report(tmp_path):
    base = run_cli("plan", "--stack", "prod", "--out", str(tmp_path / "base"), "--quiet")
    assert base.returncode == 0, base.stderr
    old = json.loads((tmp_path / "base" / "plan.json").read_text())
    spot = next(r for r in old["resources"] if r["type"] == "gcp:container/nodePool:NodePool" and r["name"].endswith("-spot"))
    spot["inputs"]["nodeConfig"]["spot"] = False  # ForceNew on GKE: this plan must replace it
    old["resources"] = [r for r in old["resources"] if r["type"] != "gcp:dns/recordSet:RecordSet"]  # now added
    old["capacity"]["total"]["perHourAtMax"] = 5.0
    (tmp_path / "old.json").write_text(json.dumps(old))
    out = tmp_path / "out"
    proc = run_cli("plan", "--stack", "prod", "--out", str(out), "--compare", str(tmp_path / "old.json"))
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr  # not a terminal: no progress line
    assert f"compare with {tmp_path / 'old.json'}: 1 to add, 0 to remove, 1 to replace" in proc.stdout
    assert "+- gcp:container/nodePool:NodePool" in proc.stdout and "nodeConfig.spot: false => true" in proc.stdout
    assert "total perHourAtMax: 5.00 -> " in proc.stdout
    assert (out / "report.html").exists() and 'id="diff"' in (out / "report.html").read_text()
    md = (out / "diff.md").read_text()
    assert "| **replace** | `gcp:container/nodePool:NodePool` | `" + spot["name"] + "` | `nodeConfig.spot` |" in md
    assert json.loads((out / "diff.json").read_text())["counts"]["replaced"] == 1


def test_cli_compare_keeps_exit_codes(tmp_path):
    bad = run_cli("plan", "--stack", "prod", "--compare", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and "--compare" in bad.stderr and "no such file" in bad.stderr
    out = tmp_path / "bad"
    first = run_cli("plan", "--program", "tests.fixtures.bad_stack:main", "--stack", "prod", "--out", str(out), "--quiet")
    assert first.returncode == 3
    again = run_cli("plan", "--program", "tests.fixtures.bad_stack:main", "--stack", "prod", "--quiet",
                    "--compare", str(out / "plan.json"))
    assert again.returncode == 3  # still violating: exit 3 as without --compare
    assert "0 to add, 0 to remove, 0 to replace, 0 to update" in again.stdout
    assert "no platform regions" in (out / "report.html").read_text()


def test_an_adopted_cluster_is_drawn_as_adopted():
    from infra.plan.topology import topology

    doc = copy.deepcopy(plan_for("prod").document)
    doc["outputs"]["regions"]["use1"]["clusterCreated"] = False
    nodes = {n.id: n for region in topology(doc).regions for n in region.nodes}
    assert "(adopted)" in nodes["cluster-use1"].label and "(adopted)" not in nodes["cluster-usc1"].label


def test_platform_lines_show_their_hourly_cost_in_the_table():
    doc = plan_for("prod").document
    page, _ = render_report(doc)
    section = page[page.index('<section id="capacity">'):]
    table = section[section.index("<h3>platform</h3>"):]
    table = table[:table.index("</table>")]
    assert "<th>$/h at floor</th><th>$/h at max</th>" in table
    for line in doc["capacity"]["platform"]:
        if line["cost"]:
            assert f"<td class=num>${line['cost']['perHourAtMax']:,.2f}</td>" in table, line["item"]
