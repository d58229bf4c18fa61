"""gpufleet's Grafana dashboards: valid JSON with the fields Grafana's dashboard model needs, every
panel query parsed by promtool and promql-parser, and only metrics Triton or dcgm-exporter's
default counters emit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.dashboards import DASHBOARD_DIR, DASHBOARD_NAMES, dashboard_json, load_dashboards
from tests.unit.test_monitoring_rules import (
    check_rules_file,
    dcgm_metrics,
    metric_names,
    recording_groups,
    triton_metrics,
)

# Which metrics each dashboard may query.
ALLOWED = {"triton": "triton", "dcgm": "dcgm"}
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "table", "bargauge"}
GRAFANA_RANGE_VARS = ("$__rate_interval", "$__interval", "$__range")
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def allowed_metrics(dashboard: str) -> set[str]:
    return triton_metrics() if ALLOWED[dashboard] == "triton" else dcgm_metrics()


def substitute(expr: str) -> str:
    """A query as Grafana sends it: range variables become durations, template variables values."""
    for var in GRAFANA_RANGE_VARS:
        expr = expr.replace(var, "5m")
    return VARIABLE.sub("x", expr)


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows nest their panels
    return out


def targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in panels(dashboard) if p["type"] != "row" for t in p["targets"]]


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return load_dashboards()


def test_files_are_valid_json_and_loaded_as_shipped() -> None:
    files = sorted(p.stem for p in DASHBOARD_DIR.glob("*.json"))
    assert files == sorted(DASHBOARD_NAMES)
    for name in DASHBOARD_NAMES:
        text = (DASHBOARD_DIR / f"{name}.json").read_text()
        assert json.loads(text) == json.loads(dashboard_json(name))
        assert dashboard_json(name) == text
    with pytest.raises(KeyError):
        dashboard_json("nope")


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_grafana_dashboard_model_fields(name: str, dashboards) -> None:
    d = dashboards[name]
    for key in ("uid", "title", "schemaVersion", "panels", "templating", "time", "tags", "refresh"):
        assert key in d, key
    assert d.get("id") is None  # provisioned dashboards must not carry a database id
    assert re.fullmatch(r"[a-z0-9-]{1,40}", d["uid"])
    assert isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36
    assert "gpufleet" in d["tags"]
    assert d["time"]["from"].startswith("now-") and d["time"]["to"] == "now"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids))
    for p in panels(d):
        assert p["type"] in PANEL_TYPES, p["type"]
        grid = p["gridPos"]
        assert set(grid) == {"h", "w", "x", "y"} and all(isinstance(v, int) and v >= 0 for v in grid.values())
        assert grid["x"] + grid["w"] <= 24 and grid["h"] >= 1
        assert p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"], p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_panels_do_not_overlap(name: str, dashboards) -> None:
    cells: set[tuple[int, int]] = set()
    for p in panels(dashboards[name]):
        g = p["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, p["title"]
        cells |= mine


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_query_parses_and_uses_only_known_metrics(name: str, dashboards, tmp_path: Path) -> None:
    d = dashboards[name]
    allowed = allowed_metrics(name)
    queries = []
    for title, target in targets(d):
        query = substitute(target["expr"])
        used = metric_names(query)  # promql-parser
        assert used, title
        assert used <= allowed, (title, sorted(used - allowed))
        queries.append(query)
    result = check_rules_file(recording_groups(queries, f"dashboard-{name}"), tmp_path)  # Prometheus' parser
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_template_variables_are_defined_and_query_known_metrics(name: str, dashboards) -> None:
    d = dashboards[name]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    for v in variables.values():
        if v["type"] != "query":
            continue
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        match = re.fullmatch(r"label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)", query)
        assert match, query
        assert metric_names(substitute(match.group(1))) <= allowed_metrics(name)
    used = {m for _, t in targets(d) for m in VARIABLE.findall(t["expr"]) if not m.startswith("__")}
    used |= {m for v in variables.values() if v["type"] == "query"
             for m in VARIABLE.findall(json.dumps(v["query"])) if not m.startswith("__")}
    assert used <= set(variables), sorted(used - set(variables))


def test_dashboards_cover_the_issue(dashboards) -> None:
    triton = {m for _, t in targets(dashboards["triton"]) for m in metric_names(substitute(t["expr"]))}
    for needed in ("nv_inference_request_success", "nv_inference_request_failure", "nv_inference_request_duration_us",
                   "nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us",
                   "nv_inference_pending_request_count"):
        assert needed in triton
    dcgm = {m for _, t in targets(dashboards["dcgm"]) for m in metric_names(substitute(t["expr"]))}
    for needed in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
                   "DCGM_FI_DEV_XID_ERRORS"):
        assert needed in dcgm
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))


def test_the_checks_catch_unknown_metrics_and_bad_queries(tmp_path: Path) -> None:
    assert not metric_names(substitute('sum(rate(nv_inference_requests_total{namespace=~"$namespace"}[$__rate_interval]))'))\
        <= allowed_metrics("triton")
    bad = check_rules_file(recording_groups([substitute("sum(rate(DCGM_FI_DEV_GPU_UTIL[$__rate_interval])")], "bad"), tmp_path)
    assert bad.returncode != 0
