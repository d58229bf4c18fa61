"""gpufleet's Prometheus alerting rules: every expression goes through two real PromQL parsers
(Prometheus' own `promtool check rules` from Debian's `prometheus` package, and the PyPI
`promql-parser`), references only metrics the exporters emit (reference lists under
tests/data/metrics/), and key alerts are proven to fire, or not, on synthetic series with
`promtool test rules`."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterable

import promql_parser
import pytest
import yaml

from components.monitoring.args import SEVERITIES, AlertOverride, MonitoringSpec, ServingSlo, monitoring_issues
from components.monitoring.in_cluster import charts
from components.monitoring.in_cluster.counters import DCGM_COUNTERS, DCGM_METRIC_NAMES, counters_csv
from components.monitoring.rules import (
    ALERT_NAMES,
    ALERTS,
    FATAL_XIDS,
    QUEUE_COMPUTE_METRIC,
    RUNBOOK_BASE,
    alert_summary,
    prometheus_rule_groups,
    runbook_url,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "metrics"
ENVIRONMENTS = ("dev", "staging", "prod")


# --- helpers shared with tests/unit/test_dashboards.py -----------------------------------------


def load_metric_list(name: str) -> set[str]:
    """Metric names of a reference list (one per line, '#' comments)."""
    lines = (DATA / name).read_text().splitlines()
    return {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}


def dcgm_metrics() -> set[str]:
    return load_metric_list("dcgm_default_counters.txt")


def triton_metrics() -> set[str]:
    """Triton's metric families, with the _count/_sum/_bucket series of its summaries/histograms."""
    names = load_metric_list("triton_metrics.txt")
    extra = {f"{n}{suffix}" for n in names if n.endswith(("_summary_us", "_histogram_ms")) for suffix in ("_count", "_sum")}
    extra |= {f"{n}_bucket" for n in names if n.endswith("_histogram_ms")}
    return names | extra


def ksm_metrics() -> set[str]:
    return load_metric_list("kube_state_metrics.txt")


def karpenter_metrics() -> set[str]:
    return load_metric_list("karpenter_metrics.txt")


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects, from promql-parser's AST (raises on a parse error)."""
    found: set[str] = set()
    unnamed: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                found.add(node.name)
                return
            names = [m.value for m in node.matchers.matchers if m.name == "__name__" and str(m.op).endswith("Equal")]
            if names:
                found.update(names)
            else:
                unnamed.append(str(node))

    promql_parser.walk(promql_parser.parse(expr), visit)
    assert not unnamed, f"selectors without a fixed metric name cannot be checked: {unnamed}"
    return found


def promtool() -> str:
    """Path of promtool; a missing promtool fails the test (never skips)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install Debian's `prometheus` package (apt-get install -y prometheus), "
                    "which ships /usr/bin/promtool; `make test` and .ci/run install it.")
    return path


def promtool_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def check_rules_file(groups: list[dict[str, Any]], tmp_path: Path, name: str = "rules.yaml") -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=10_000))
    return promtool_run(["check", "rules", path.name], tmp_path)


def recording_groups(exprs: Iterable[str], group: str) -> list[dict[str, Any]]:
    """Wrap plain expressions as recording rules so promtool parses them."""
    return [{"name": group, "rules": [{"record": f"gpufleet:check_{i}", "expr": e} for i, e in enumerate(exprs)]}]


def all_rules(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for g in groups for r in g["rules"]]


# --- fixtures ------------------------------------------------------------------------------------

CUSTOM = MonitoringSpec(
    slo=ServingSlo(queue_latency_ms=350, queue_to_compute_target=1.5, error_ratio=0.02),
    alerts={
        "GpuUnderutilized": AlertOverride(enabled=False),
        "TritonPodEvicted": AlertOverride(severity="critical", for_minutes=3),
        "GpuTemperatureHigh": AlertOverride(for_minutes=0),
    },
)


@pytest.fixture(scope="module")
def prod_groups() -> list[dict[str, Any]]:
    return prometheus_rule_groups(MonitoringSpec(), "prod")


# --- the real parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("spec", [MonitoringSpec(), CUSTOM], ids=["defaults", "overrides"])
def test_promtool_accepts_every_rendered_rule_file(spec: MonitoringSpec, environment: str, tmp_path: Path) -> None:
    groups = prometheus_rule_groups(spec, environment)
    result = check_rules_file(groups, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(all_rules(groups))} rules found" in result.stdout


def test_promtool_really_checks(tmp_path: Path) -> None:
    """Guard: a broken expression, a bad duration and a broken template are all rejected."""
    for rule in ({"alert": "X", "expr": "sum(rate(up[5m])"},
                 {"alert": "X", "expr": "up == 0", "for": "5 minutes"},
                 {"alert": "X", "expr": "up == 0", "annotations": {"summary": "{{ $labels.job "}}):
        result = check_rules_file([{"name": "broken", "rules": [rule]}], tmp_path)
        assert result.returncode != 0, rule


def test_promql_parser_parses_every_expression(prod_groups) -> None:
    for rule in all_rules(prod_groups) + all_rules(prometheus_rule_groups(CUSTOM, "dev")):
        promql_parser.parse(rule["expr"])
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(nv_inference_count[5m])")


def test_rules_reference_only_known_metrics(prod_groups) -> None:
    known = dcgm_metrics() | triton_metrics() | ksm_metrics() | karpenter_metrics()
    used: set[str] = set()
    for rule in all_rules(prod_groups):
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], sorted(names - known))
        used |= names
    # The lists are the ones the rules were written against: each family is used.
    assert used & dcgm_metrics() and used & load_metric_list("triton_metrics.txt") and used & ksm_metrics()
    assert ksm_metrics() <= used, sorted(ksm_metrics() - used)  # no stale entries in the KSM list


def test_metric_name_extraction_sees_every_selector() -> None:
    expr = ('sum by (pod) (rate(a_total{x="1"}[5m])) / on (pod) b unless c offset 5m or '
            'max_over_time(d[10m:1m]) or {__name__="e"}')
    assert metric_names(expr) == {"a_total", "b", "c", "d", "e"}


# --- shape: severity, labels, runbooks ----------------------------------------------------------


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_rule_has_severity_labels_and_runbook(environment: str) -> None:
    groups = prometheus_rule_groups(MonitoringSpec(), environment)
    assert [g["name"] for g in groups] == ["gpufleet.gpu", "gpufleet.serving", "gpufleet.capacity"]
    rules = all_rules(groups)
    assert [r["alert"] for r in rules] == ALERT_NAMES
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        labels = rule["labels"]
        assert labels["severity"] in SEVERITIES
        assert labels["environment"] == environment
        assert labels["component"] in {"gpu", "serving", "capacity"}
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}
        assert notes["summary"].strip() and notes["description"].strip()
        assert notes["runbook_url"] == f"{RUNBOOK_BASE}#runbook-{rule['alert'].lower()}"
        if "for" in rule:
            assert re.fullmatch(r"[1-9][0-9]*m", rule["for"])


def test_alert_names_are_unique_camel_case_and_cover_the_issue() -> None:
    assert len(ALERT_NAMES) == len(set(ALERT_NAMES))
    assert all(re.fullmatch(r"(Gpu|Triton)[A-Z][A-Za-z]+", n) for n in ALERT_NAMES)
    # The issue's list: temperature, XID, memory pressure, idle, saturation, failures, queue SLO,
    # pending, restarts, not ready, spot interruptions / evictions.
    for needed in ("GpuTemperatureHigh", "GpuXidError", "GpuFatalXidError", "GpuMemoryPressure", "GpuUnderutilized",
                   "GpuSaturated", "TritonRequestErrorRateHigh", "TritonQueueLatencySloBreach",
                   "TritonPendingRequestsBacklog", "TritonPodRestarting", "TritonPodNotReady",
                   "GpuNodeInterruptionNotice", "GpuSpotNodeLost", "TritonPodEvicted"):
        assert needed in ALERT_NAMES


def test_runbook_url_is_the_readme_heading_anchor() -> None:
    # GitHub's anchor of "### Runbook: GpuSpotNodeLost": lower case, ':' dropped, spaces -> '-'.
    heading = "Runbook: GpuSpotNodeLost"
    anchor = re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
    assert runbook_url("GpuSpotNodeLost") == f"{RUNBOOK_BASE}#{anchor}"


def test_defaults_severities_and_durations(prod_groups) -> None:
    by_name = {r["alert"]: r for r in all_rules(prod_groups)}
    assert by_name["GpuFatalXidError"]["labels"]["severity"] == "critical"
    assert by_name["TritonQueueLatencySloBreach"]["labels"]["severity"] == "critical"
    assert by_name["GpuSaturated"]["labels"]["severity"] == "info"
    assert by_name["GpuUnderutilized"]["for"] == "60m"
    assert "for" not in by_name["GpuFatalXidError"]  # fires on the first evaluation


# --- overrides, SLO, environment ----------------------------------------------------------------


def test_overrides_apply() -> None:
    rules = {r["alert"]: r for r in all_rules(prometheus_rule_groups(CUSTOM, "prod"))}
    assert "GpuUnderutilized" not in rules
    assert rules["TritonPodEvicted"]["labels"]["severity"] == "critical"
    assert rules["TritonPodEvicted"]["for"] == "3m"
    assert "for" not in rules["GpuTemperatureHigh"]
    assert rules["GpuTemperatureCritical"]["for"] == "5m"  # untouched
    summary = {a["name"]: a for a in alert_summary(CUSTOM, "prod")}
    assert "GpuUnderutilized" not in summary
    assert summary["TritonPodEvicted"] == {"name": "TritonPodEvicted", "group": "gpufleet.serving",
                                           "severity": "critical", "for": "3m", "summary": "A Triton pod was evicted"}


def test_slo_values_reach_the_expressions() -> None:
    rules = {r["alert"]: r["expr"] for r in all_rules(prometheus_rule_groups(CUSTOM, "prod"))}
    assert rules["TritonQueueLatencySloBreach"].endswith("> 350")
    assert rules["TritonPendingRequestsBacklog"].endswith("> 350")
    assert rules["TritonRequestErrorRateHigh"].endswith("> 0.02")
    assert rules["TritonQueueComputeRatioHigh"].endswith("> 3")  # twice the autoscaler target
    defaults = {r["alert"]: r["expr"] for r in all_rules(prometheus_rule_groups(MonitoringSpec(), "prod"))}
    assert defaults["TritonQueueLatencySloBreach"].endswith("> 200")
    assert defaults["TritonRequestErrorRateHigh"].endswith("> 0.01")


def test_dev_pages_nobody_unless_overridden() -> None:
    dev = {r["alert"]: r["labels"]["severity"] for r in all_rules(prometheus_rule_groups(MonitoringSpec(), "dev"))}
    prod = {r["alert"]: r["labels"]["severity"] for r in all_rules(prometheus_rule_groups(MonitoringSpec(), "prod"))}
    assert "critical" not in dev.values()
    assert {n for n, s in prod.items() if s == "critical"} == {n for n, s in dev.items() if prod[n] == "critical"}
    forced = MonitoringSpec(alerts={"GpuFatalXidError": AlertOverride(severity="critical")})
    dev_forced = {r["alert"]: r["labels"]["severity"] for r in all_rules(prometheus_rule_groups(forced, "dev"))}
    assert dev_forced["GpuFatalXidError"] == "critical"


def test_overrides_of_other_alerts_are_left_alone_and_bad_environments_refused() -> None:
    # monitoring.alerts also overrides the cloud alarms: the in-cluster rules ignore those names.
    cloud_override = MonitoringSpec(alerts={"CloudGpuIdle": AlertOverride(enabled=False)})
    assert prometheus_rule_groups(cloud_override, "prod") == prometheus_rule_groups(MonitoringSpec(), "prod")
    with pytest.raises(ValueError, match="environment"):
        prometheus_rule_groups(MonitoringSpec(), "qa")
    # Typos are the config validator's job: it checks names against ALERT_NAMES (+ cloud alarms).
    issues = monitoring_issues(MonitoringSpec(alerts={"GpuTemprature": AlertOverride()}), ["aws"], ALERT_NAMES)
    assert [i[0] for i in issues] == ["alerts.GpuTemprature"]
    assert monitoring_issues(CUSTOM, ["aws"], ALERT_NAMES) == []


def test_in_cluster_names_do_not_collide_with_cloud_alarms() -> None:
    from components.monitoring.cloud import CLOUD_ALERT_NAMES

    assert not set(ALERT_NAMES) & set(CLOUD_ALERT_NAMES)


def test_all_groups_disabled_render_nothing() -> None:
    off = MonitoringSpec(alerts={n: AlertOverride(enabled=False) for n in ALERT_NAMES})
    assert prometheus_rule_groups(off, "prod") == []
    assert alert_summary(off, "prod") == []


def test_alert_summary_matches_the_rules() -> None:
    rows = alert_summary(MonitoringSpec(), "staging")
    rules = all_rules(prometheus_rule_groups(MonitoringSpec(), "staging"))
    assert [r["name"] for r in rows] == [r["alert"] for r in rules]
    for row, rule in zip(rows, rules):
        assert row["severity"] == rule["labels"]["severity"]
        assert row["for"] == rule.get("for", "0m")
        assert row["summary"] and "{{" not in row["summary"]
    assert {a.name: a.title for a in ALERTS}[rows[0]["name"]] == rows[0]["summary"]


# --- dcgm counters and the adapter rule ---------------------------------------------------------


def test_configured_dcgm_counters_are_the_default_counters() -> None:
    assert set(DCGM_METRIC_NAMES) == dcgm_metrics()
    assert len(DCGM_METRIC_NAMES) == len(set(DCGM_METRIC_NAMES))
    rows = [line for line in counters_csv().splitlines() if line and not line.startswith("#")]
    assert len(rows) == len(DCGM_COUNTERS)
    for row in rows:
        field, kind, help_ = (part.strip() for part in row.split(","))  # exactly three CSV fields
        assert field.startswith("DCGM_FI_") and kind in {"gauge", "counter"} and help_


def render_adapter_query(template: str, group_by: str = "namespace,pod",
                         matchers: str = 'namespace="serving",pod=~"triton-a|triton-b"') -> str:
    """What prometheus-adapter sends for one HPA query (its Go template, filled in)."""
    return template.replace("<<.GroupBy>>", group_by).replace("<<.LabelMatchers>>", matchers).replace("<<.Series>>", "x")


def test_adapter_rule_renders_to_valid_promql(tmp_path: Path) -> None:
    rule = charts.adapter_rule()
    assert rule["name"] == {"matches": "^nv_inference_queue_duration_us$", "as": QUEUE_COMPUTE_METRIC}
    assert QUEUE_COMPUTE_METRIC == "triton_queue_compute_ratio"
    assert rule["resources"] == {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}}
    query = render_adapter_query(rule["metricsQuery"])
    assert metric_names(query) == {"nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us"}
    assert metric_names(rule["seriesQuery"]) == {"nv_inference_queue_duration_us"}
    assert metric_names(rule["seriesQuery"]) <= triton_metrics()
    result = check_rules_file(recording_groups([query, rule["seriesQuery"]], "adapter"), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[1m]" in query and "clamp_min(" in query


# --- semantics: promtool unit tests on synthetic series -----------------------------------------


def _without_annotations(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(groups)
    for rule in all_rules(out):
        rule.pop("annotations", None)
    return out


PROD = {"environment": "prod"}
GPU_NODE = 'kube_node_labels{node="%s", label_gpufleet_io_gpu="L4", label_gpufleet_io_pool="l4", label_gpufleet_io_capacity_type="%s"}'
TRITON_POD = 'kube_pod_labels{namespace="serving", pod="%s", label_app_kubernetes_io_name="triton"}'

SCENARIOS: list[dict[str, Any]] = [
    {  # 87 C: the warning only; 93 C: the critical only
        "interval": "1m",
        "input_series": [
            {"series": 'DCGM_FI_DEV_GPU_TEMP{node="n1", gpu="0", modelName="L4"}', "values": "87x30"},
            {"series": 'DCGM_FI_DEV_GPU_TEMP{node="n2", gpu="0", modelName="L4"}', "values": "93x30"},
        ],
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": "GpuTemperatureHigh", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "gpu", **PROD, "node": "n1", "gpu": "0", "modelName": "L4"}}]},
            {"eval_time": "15m", "alertname": "GpuTemperatureCritical", "exp_alerts": [
                {"exp_labels": {"severity": "critical", "component": "gpu", **PROD, "node": "n2", "gpu": "0", "modelName": "L4"}}]},
            {"eval_time": "4m", "alertname": "GpuTemperatureCritical", "exp_alerts": []},
        ],
    },
    {  # XID 79 (fallen off the bus) is fatal; XID 13 (application error) is a warning
        "interval": "1m",
        "input_series": [
            {"series": 'DCGM_FI_DEV_XID_ERRORS{node="n1", gpu="0", modelName="L4"}', "values": "0 0 79x10"},
            {"series": 'DCGM_FI_DEV_XID_ERRORS{node="n2", gpu="1", modelName="L4"}', "values": "0 0 13x10"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "GpuFatalXidError", "exp_alerts": [
                {"exp_labels": {"severity": "critical", "component": "gpu", **PROD, "node": "n1", "gpu": "0", "modelName": "L4"}}]},
            {"eval_time": "5m", "alertname": "GpuXidError", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "gpu", **PROD, "node": "n2", "gpu": "1", "modelName": "L4"}}]},
            {"eval_time": "1m", "alertname": "GpuXidError", "exp_alerts": []},
        ],
    },
    {  # framebuffer 98% used for 20 minutes
        "interval": "1m",
        "input_series": [
            {"series": 'DCGM_FI_DEV_FB_USED{node="n1", gpu="0", modelName="L4"}', "values": "22500x30"},
            {"series": 'DCGM_FI_DEV_FB_FREE{node="n1", gpu="0", modelName="L4"}', "values": "460x30"},
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": "GpuMemoryPressure", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "gpu", **PROD, "node": "n1", "gpu": "0", "modelName": "L4"}}]},
        ],
    },
    {  # pool l4 idles at 3% for three hours; its nodes also lack nothing (telemetry present)
        "interval": "5m",
        "input_series": [
            {"series": 'DCGM_FI_DEV_GPU_UTIL{node="n1", gpu="0", modelName="L4"}', "values": "3x40"},
            {"series": 'DCGM_FI_DEV_GPU_TEMP{node="n1", gpu="0", modelName="L4"}', "values": "40x40"},
            {"series": GPU_NODE % ("n1", "on-demand"), "values": "1x40"},
            {"series": GPU_NODE % ("n2", "on-demand"), "values": "1x40"},
        ],
        "alert_rule_test": [
            {"eval_time": "3h", "alertname": "GpuUnderutilized", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "gpu", **PROD, "label_gpufleet_io_pool": "l4"}}]},
            {"eval_time": "30m", "alertname": "GpuUnderutilized", "exp_alerts": []},
            # n2 is a GPU node without dcgm-exporter series
            {"eval_time": "30m", "alertname": "GpuTelemetryMissing", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "gpu", **PROD, "node": "n2"}}]},
        ],
    },
    {  # 10 req/s succeed, 1 req/s fails (9%), requests queue 300 ms, 50 pending
        "interval": "1m",
        "input_series": [
            {"series": 'nv_inference_request_success{namespace="serving", pod="t-0", model="m", version="1"}', "values": "0+600x30"},
            {"series": 'nv_inference_request_failure{namespace="serving", pod="t-0", model="m", version="1", reason="BACKEND"}',
             "values": "0+60x30"},
            {"series": 'nv_inference_queue_duration_us{namespace="serving", pod="t-0", model="m", version="1"}', "values": "0+180000000x30"},
            {"series": 'nv_inference_compute_infer_duration_us{namespace="serving", pod="t-0", model="m", version="1"}',
             "values": "0+30000000x30"},
            {"series": 'nv_inference_pending_request_count{namespace="serving", pod="t-0", model="m", version="1"}', "values": "50x30"},
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": "TritonRequestErrorRateHigh", "exp_alerts": [
                {"exp_labels": {"severity": "critical", "component": "serving", **PROD, "namespace": "serving", "model": "m"}}]},
            {"eval_time": "20m", "alertname": "TritonQueueLatencySloBreach", "exp_alerts": [
                {"exp_labels": {"severity": "critical", "component": "serving", **PROD, "namespace": "serving", "model": "m"}}]},
            # 50 pending / 10 per second = 5 s to drain > 200 ms
            {"eval_time": "20m", "alertname": "TritonPendingRequestsBacklog", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving", "model": "m"}}]},
            # queue 300 ms vs compute 50 ms per request: ratio 6 > 2 x 1.0
            {"eval_time": "20m", "alertname": "TritonQueueComputeRatioHigh", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving", "model": "m"}}]},
        ],
    },
    {  # healthy model: nothing fires
        "interval": "1m",
        "input_series": [
            {"series": 'nv_inference_request_success{namespace="serving", pod="t-0", model="m", version="1"}', "values": "0+600x30"},
            {"series": 'nv_inference_request_failure{namespace="serving", pod="t-0", model="m", version="1", reason="BACKEND"}',
             "values": "0x30"},
            {"series": 'nv_inference_queue_duration_us{namespace="serving", pod="t-0", model="m", version="1"}', "values": "0+6000000x30"},
            {"series": 'nv_inference_compute_infer_duration_us{namespace="serving", pod="t-0", model="m", version="1"}',
             "values": "0+30000000x30"},
            {"series": 'nv_inference_pending_request_count{namespace="serving", pod="t-0", model="m", version="1"}', "values": "1x30"},
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": name, "exp_alerts": []}
            for name in ("TritonRequestErrorRateHigh", "TritonQueueLatencySloBreach", "TritonPendingRequestsBacklog",
                         "TritonQueueComputeRatioHigh")
        ],
    },
    {  # spot node s1 vanishes (reclaimed); s2 is scaled down by the autoscaler (tainted first)
        "interval": "1m",
        "input_series": [
            {"series": GPU_NODE % ("s1", "spot"), "values": "1x10 stale"},
            {"series": GPU_NODE % ("s2", "spot"), "values": "1x10 stale"},
            {"series": 'kube_node_spec_taint{node="s2", key="ToBeDeletedByClusterAutoscaler", value="1", effect="NoSchedule"}',
             "values": "_x6 1x4 stale"},
            {"series": 'kube_node_spec_taint{node="s3", key="aws-node-termination-handler/spot-itn", value="x", effect="NoSchedule"}',
             "values": "1x10"},
            {"series": GPU_NODE % ("s3", "spot"), "values": "1x10"},
        ],
        "alert_rule_test": [
            {"eval_time": "13m", "alertname": "GpuSpotNodeLost", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "capacity", **PROD, "label_gpufleet_io_pool": "l4"},
                 "exp_annotations": None}]},
            {"eval_time": "5m", "alertname": "GpuSpotNodeLost", "exp_alerts": []},
            {"eval_time": "5m", "alertname": "GpuNodeInterruptionNotice", "exp_alerts": [
                {"exp_labels": {"severity": "info", "component": "capacity", **PROD, "node": "s3",
                                "key": "aws-node-termination-handler/spot-itn", "label_gpufleet_io_pool": "l4",
                                "label_gpufleet_io_capacity_type": "spot"}}]},
        ],
    },
    {  # Karpenter: k1 is consolidated away (tainted karpenter.sh/disrupted first): no alert; Karpenter
       # counts a reclaimed spot node of NodePool gpu-h100-spot: alert for pool h100
        "interval": "1m",
        "input_series": [
            {"series": GPU_NODE % ("k1", "spot"), "values": "1x10 stale"},
            {"series": 'kube_node_spec_taint{node="k1", key="karpenter.sh/disrupted", value="", effect="NoSchedule"}',
             "values": "_x6 1x4 stale"},
            {"series": 'karpenter_nodeclaims_disrupted_total{reason="spot_interrupted", nodepool="gpu-h100-spot", '
                       'capacity_type="spot"}', "values": "0x5 1x10"},
            {"series": 'karpenter_nodeclaims_disrupted_total{reason="underutilized", nodepool="gpu-l4-spot", '
                       'capacity_type="spot"}', "values": "0x5 3x10"},
        ],
        "alert_rule_test": [
            {"eval_time": "13m", "alertname": "GpuSpotNodeLost", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "capacity", **PROD, "label_gpufleet_io_pool": "h100",
                                "nodepool": "gpu-h100-spot"}}]},
        ],
    },
    {  # a Triton pod crash-looping, one never ready, one evicted; a non-Triton pod restarting is ignored
        "interval": "1m",
        "input_series": [
            {"series": TRITON_POD % "t-0", "values": "1x40"},
            {"series": TRITON_POD % "t-1", "values": "1x40"},
            {"series": TRITON_POD % "t-2", "values": "1x40"},
            {"series": 'kube_pod_labels{namespace="serving", pod="web-0"}', "values": "1x40"},
            {"series": 'kube_pod_container_status_restarts_total{namespace="serving", pod="t-0", container="triton"}',
             "values": "0+1x40"},
            {"series": 'kube_pod_container_status_restarts_total{namespace="serving", pod="web-0", container="web"}',
             "values": "0+1x40"},
            {"series": 'kube_pod_status_ready{namespace="serving", pod="t-1", condition="false"}', "values": "1x40"},
            {"series": 'kube_pod_status_phase{namespace="serving", pod="t-1", phase="Running"}', "values": "1x40"},
            {"series": 'kube_pod_status_reason{namespace="serving", pod="t-2", reason="Evicted"}', "values": "0x5 1x30"},
        ],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "TritonPodRestarting", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving", "pod": "t-0"}}]},
            {"eval_time": "30m", "alertname": "TritonPodNotReady", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving", "pod": "t-1"}}]},
            {"eval_time": "10m", "alertname": "TritonPodEvicted", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving", "pod": "t-2",
                                "reason": "Evicted"}}]},
        ],
    },
    {  # a ready Triton pod without metrics (ServiceMonitor broken); an HPA on our metric at max
        "interval": "1m",
        "input_series": [
            {"series": TRITON_POD % "t-0", "values": "1x30"},
            {"series": 'kube_pod_status_ready{namespace="serving", pod="t-0", condition="true"}', "values": "1x30"},
            {"series": 'kube_horizontalpodautoscaler_status_current_replicas{namespace="serving", horizontalpodautoscaler="triton"}',
             "values": "8x30"},
            {"series": 'kube_horizontalpodautoscaler_spec_max_replicas{namespace="serving", horizontalpodautoscaler="triton"}',
             "values": "8x30"},
            {"series": 'kube_horizontalpodautoscaler_spec_target_metric{namespace="serving", horizontalpodautoscaler="triton", '
                       f'metric_name="{QUEUE_COMPUTE_METRIC}", metric_target_type="average"}}', "values": "1x30"},
            {"series": 'kube_horizontalpodautoscaler_status_current_replicas{namespace="web", horizontalpodautoscaler="web"}',
             "values": "5x30"},
            {"series": 'kube_horizontalpodautoscaler_spec_max_replicas{namespace="web", horizontalpodautoscaler="web"}',
             "values": "5x30"},
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": "TritonMetricsMissing", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving", "pod": "t-0"}}]},
            {"eval_time": "20m", "alertname": "TritonAutoscalerAtMaxReplicas", "exp_alerts": [
                {"exp_labels": {"severity": "warning", "component": "serving", **PROD, "namespace": "serving",
                                "horizontalpodautoscaler": "triton"}}]},
        ],
    },
]


def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    groups = _without_annotations(prometheus_rule_groups(MonitoringSpec(), "prod"))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=10_000))
    scenarios = copy.deepcopy(SCENARIOS)
    for scenario in scenarios:
        for case in scenario["alert_rule_test"]:
            for alert in case["exp_alerts"]:
                alert.pop("exp_annotations", None)
    tested = {case["alertname"] for s in scenarios for case in s["alert_rule_test"]}
    assert len(tested) >= 18
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": scenarios}, sort_keys=False, width=10_000))
    result = promtool_run(["test", "rules", "tests.yaml"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """Guard: a scenario expecting the wrong alert fails."""
    groups = _without_annotations(prometheus_rule_groups(MonitoringSpec(), "prod"))
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False, width=10_000))
    wrong = copy.deepcopy(SCENARIOS[0])
    wrong["alert_rule_test"] = [{"eval_time": "15m", "alertname": "GpuTemperatureCritical", "exp_alerts": []}]
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [wrong]}, sort_keys=False))
    assert promtool_run(["test", "rules", "tests.yaml"], tmp_path).returncode != 0


def test_fatal_xids_are_not_also_warnings() -> None:
    rules = {r["alert"]: r["expr"] for r in all_rules(prometheus_rule_groups(MonitoringSpec(), "prod"))}
    for code in FATAL_XIDS:
        assert f"== {code}" in rules["GpuFatalXidError"]
    assert rules["GpuXidError"].split(" unless ")[1].strip("()") == rules["GpuFatalXidError"]
