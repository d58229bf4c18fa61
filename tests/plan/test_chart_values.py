"""Every Helm release gpufleet plans, checked against the chart it pins.

For each `kubernetes:helm.sh/v3:Release` in every shipped stack and test config:

(a) the chart and version have vendored upstream data under tests/data/charts/ (PROVENANCE.md in
    each chart's folder names repository, tag, commit and blob of every file);
(b) every values path gpufleet sets exists in the chart's values.yaml (or the subchart's, for keys
    under a subchart's alias), except below keys the chart documents as free-form (FREE_FORM);
(c) the shape matches the chart's default: a map stays a map, a list a list, a bool a bool;
(d) where the chart ships values.schema.json, our values with the chart's defaults merged
    underneath validate against it.

A misplaced value is silently ignored by Helm (the chart never reads it), so these checks are the
only thing between a typo in a values dict and a chart running on its defaults. Small charts are
also rendered by a real helm with one shipped stack's values and every object validated against
the Kubernetes 1.33 schemas (strict).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml

from tests.plan.conftest import ALL, SHIPPED, plan_for
from tests.support import KUBERNETES_VERSION, validate_kubernetes_object

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "tests/data/charts"
RELEASE = "kubernetes:helm.sh/v3:Release"

# Keys whose content is a Kubernetes API object or a user map the chart copies verbatim into a
# manifest (`toYaml`), wherever they appear in any chart's values: the chart does not enumerate
# their keys, so the path check stops at the key (the key itself must exist; shape is still checked).
K8S_PASSTHROUGH = {
    "annotations", "labels", "podLabels", "podAnnotations", "additionalLabels",  # ObjectMeta maps
    "nodeSelector", "tolerations", "affinity", "resources", "securityContext",  # PodSpec/Container fields
    "extraEnv", "env", "extraVolumeMounts", "extraHostVolumes", "extraConfigMapVolumes",  # lists of objects
    "relabelings",  # a ServiceMonitor's RelabelConfig list
}


@dataclass(frozen=True)
class Vendored:
    folder: str  # under tests/data/charts/
    values_file: str = "values.yaml"
    subcharts: dict[str, str] = field(default_factory=dict)  # alias -> folder of the subchart
    free_form: dict[str, str] = field(default_factory=dict)  # dotted path -> why it is free-form
    # Keys the chart reads but leaves out of values.yaml (commented out, or defaulted in the
    # template): dotted path -> evidence; test_undeclared_keys_are_read_by_the_chart checks it.
    undeclared: dict[str, str] = field(default_factory=dict)
    note: str = ""


KPS_SUBCHARTS = {
    "grafana": "kube-prometheus-stack/81.4.3/charts/grafana",
    "kube-state-metrics": "kube-prometheus-stack/81.4.3/charts/kube-state-metrics",
    "prometheus-node-exporter": "kube-prometheus-stack/81.4.3/charts/prometheus-node-exporter",
}

# (chart name, version) as gpufleet pins them -> the vendored upstream chart.
VENDORED: dict[tuple[str, str], Vendored] = {
    ("cluster-autoscaler", "9.50.1"): Vendored(
        "cluster-autoscaler/9.50.1",
        free_form={"extraArgs": "map of cluster-autoscaler flags, rendered as --key=value "
                                "(templates/deployment.yaml)"}),
    ("nvidia-device-plugin", "0.17.4"): Vendored("nvidia-device-plugin/0.17.4"),
    ("nvidia-device-plugin", "0.18.2"): Vendored("nvidia-device-plugin/0.18.2"),
    ("aws-node-termination-handler", "0.27.1"): Vendored("aws-node-termination-handler/0.27.1"),
    ("aks-node-termination-handler", "1.2.0"): Vendored(
        "aks-node-termination-handler/1.2.0",
        free_form={"args": "list of extra command-line flags for the handler (templates/daemonset.yaml)"}),
    ("kube-prometheus-stack", "81.4.3"): Vendored(
        "kube-prometheus-stack/81.4.3", subcharts=KPS_SUBCHARTS,
        free_form={
            "alertmanager.config": "the Alertmanager configuration file, rendered verbatim into the Secret",
            "prometheus.prometheusSpec.externalLabels": "map of label name -> value (Prometheus CR spec)",
            "prometheus.prometheusSpec.storageSpec": "a StorageSpec (volumeClaimTemplate ...), Prometheus CR",
            "prometheus.prometheusSpec.ruleSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.ruleNamespaceSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.serviceMonitorSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.serviceMonitorNamespaceSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.podMonitorSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.podMonitorNamespaceSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.probeSelector": "a LabelSelector (Prometheus CR)",
            "prometheus.prometheusSpec.probeNamespaceSelector": "a LabelSelector (Prometheus CR)",
        },
        undeclared={"grafana.adminPassword": "commented out in both values.yaml files ('# adminPassword: "
                                             "strongpassword'); grafana templates/_config.tpl reads "
                                             ".Values.adminPassword"}),
    ("prometheus-adapter", "5.3.0"): Vendored(
        "prometheus-adapter/5.3.0",
        free_form={"rules.custom": "adapter discovery rules, rendered verbatim into the adapter config",
                   "rules.external": "adapter discovery rules, rendered verbatim into the adapter config"}),
    ("dcgm-exporter", "4.8.1"): Vendored(
        "dcgm-exporter/4.8.1",
        free_form={"arguments": "list of dcgm-exporter command-line arguments"},
        undeclared={"priorityClassName": "templates/daemonset.yaml: "
                                         "{{ .Values.priorityClassName | default \"system-node-critical\" }}"}),
    ("aws-load-balancer-controller", "1.15.0"): Vendored("aws-load-balancer-controller/1.15.0"),
    # v1.9.3 is newer than the mirror (newest v1.9 tag there: v1.9.0); gpufleet sets no values on
    # this chart, so the path check is vacuous; see gateway-helm/PROVENANCE.md.
    ("gateway-helm", "v1.9.3"): Vendored("gateway-helm/v1.9.0", values_file="values.tmpl.yaml",
                                         note="checked against v1.9.0, the newest v1.9.x tag in the mirror"),
    # Karpenter is vendored and rendered by tests/components/test_karpenter_chart_render.py.
    ("karpenter", "1.14.1"): Vendored("karpenter/chart"),
    # The CRD chart takes no values from gpufleet (asserted below); the CRDs themselves are
    # vendored under tests/data/crds (see karpenter/PROVENANCE.md).
    ("karpenter-crd", "1.14.1"): Vendored("karpenter/chart"),
}


def chart_name(chart: str) -> str:
    """`oci://registry/path/name` and `name` both pin `name`."""
    return chart.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Release:
    stack: str
    name: str
    chart: str
    version: str
    values: dict
    namespace: str
    release_name: str


@lru_cache(maxsize=None)
def releases() -> tuple[Release, ...]:
    out = []
    for stack in sorted(ALL):
        for r in plan_for(stack).run.resources:
            if r.type == RELEASE:
                out.append(Release(stack, r.name, chart_name(r.inputs["chart"]), r.inputs.get("version", ""),
                                   r.inputs.get("values") or {}, r.inputs.get("namespace", "default"),
                                   r.inputs.get("name", r.name)))
    return tuple(out)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


@lru_cache(maxsize=None)
def chart_defaults(key: tuple[str, str]) -> dict:
    v = VENDORED[key]
    return _load(CHARTS / v.folder / v.values_file)


@lru_cache(maxsize=None)
def subchart_defaults(folder: str) -> dict:
    return _load(CHARTS / folder / "values.yaml")


MISSING = object()


def lookup(tree: Any, parts: list[str]) -> Any:
    node = tree
    for p in parts:
        if not isinstance(node, dict) or p not in node:
            return MISSING
        node = node[p]
    return node


def leaves(values: dict, free: set[str], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Paths to check: into maps, stopping at lists, scalars, empty maps and free-form keys."""
    for k, v in values.items():
        path = (*prefix, k)
        if isinstance(v, dict) and v and k not in K8S_PASSTHROUGH and ".".join(path) not in free:
            yield from leaves(v, free, path)
        else:
            yield path


def defaults_at(key: tuple[str, str], path: tuple[str, ...]) -> Any:
    """The chart's default at `path`: the parent's values.yaml, else the subchart's."""
    found = lookup(chart_defaults(key), list(path))
    sub = VENDORED[key].subcharts.get(path[0])
    if found is MISSING and sub:
        found = lookup(subchart_defaults(sub), list(path[1:]))
    return found


def is_computed(value: Any) -> bool:
    return isinstance(value, str) and "<computed:" in value


def problems(key: tuple[str, str], values: dict) -> tuple[list[str], int]:
    """(the problems of one release's values against the chart, number of paths checked)."""
    free = set(VENDORED[key].free_form)
    out, n = [], 0
    for path in leaves(values, free):
        n += 1
        dotted = ".".join(path)
        above = [(path[:i], d) for i in range(1, len(path))
                 if (d := defaults_at(key, path[:i])) is not MISSING and d is not None and not isinstance(d, dict)]
        if above:  # we set a map where the chart has a scalar or a list
            msg = f"{'.'.join(above[0][0])}: chart default is {type(above[0][1]).__name__}, gpufleet sets dict"
            out += [msg] if msg not in out else []
            continue
        default = defaults_at(key, path)
        if default is MISSING and dotted in VENDORED[key].undeclared:
            continue
        if default is MISSING:
            out.append(f"{dotted}: not in the chart's values")
            continue
        mine = lookup(values, list(path))
        if default is None or default == "" or is_computed(mine):
            continue
        if isinstance(default, dict) != isinstance(mine, dict) or isinstance(default, list) != isinstance(mine, list):
            out.append(f"{dotted}: chart default is {type(default).__name__}, gpufleet sets {type(mine).__name__}")
        elif isinstance(default, bool) != isinstance(mine, bool):
            out.append(f"{dotted}: chart default is {type(default).__name__}, gpufleet sets {type(mine).__name__}")
    return out, n


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for k, v in over.items():
            merged[k] = deep_merge(base[k], v) if k in base else v
        return merged
    return copy.deepcopy(over)


def schema_problems(folder: Path, values: dict) -> list[str]:
    """Validate values, with the chart's defaults merged underneath, against values.schema.json."""
    schema_file = folder / "values.schema.json"
    if not schema_file.exists():
        return []
    merged = deep_merge(_load(folder / "values.yaml"), values)
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged)]


# --- (a) every release is vendored ----------------------------------------------------------


def test_the_stacks_plan_every_pinned_chart():
    planned = {(r.chart, r.version) for r in releases()}
    assert planned <= set(VENDORED), f"unvendored releases: {sorted(planned - set(VENDORED))}"
    # and nothing vendored here is stale: every entry is still pinned somewhere
    assert set(VENDORED) <= planned, f"vendored but not pinned: {sorted(set(VENDORED) - planned)}"


@pytest.mark.parametrize("stack", sorted(ALL))
def test_every_release_has_vendored_chart_data(stack):
    for r in (r for r in releases() if r.stack == stack):
        assert (r.chart, r.version) in VENDORED, f"{stack}: {r.name} pins {r.chart} {r.version}, not vendored"
        folder = CHARTS / VENDORED[(r.chart, r.version)].folder
        assert (folder / "Chart.yaml").is_file() and (folder / VENDORED[(r.chart, r.version)].values_file).is_file()


@pytest.mark.parametrize("key", sorted(VENDORED), ids=lambda k: f"{k[0]}-{k[1]}")
def test_the_vendored_chart_is_the_pinned_version(key):
    v = VENDORED[key]
    meta = _load(CHARTS / v.folder / "Chart.yaml")
    assert meta["name"] == key[0] or key[0] == "karpenter-crd"
    if key[0] in ("karpenter", "karpenter-crd", "gateway-helm"):
        # karpenter's tag still names 1.13.0, gateway-helm's source says v0.0.0-latest (both set
        # at release time): see their PROVENANCE.md
        assert key[1] in (CHARTS / v.folder.split("/")[0] / "PROVENANCE.md").read_text()
    else:
        assert str(meta["version"]) == key[1]
    for alias, sub in v.subcharts.items():
        dep = {d.get("alias", d["name"]): d for d in meta.get("dependencies", [])}[alias]
        assert str(_load(CHARTS / sub / "Chart.yaml")["version"]) == dep["version"], alias


BLOB_ROW = re.compile(r"^\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{40})` \|$", re.M)


@pytest.mark.parametrize("chart", sorted({v.folder.split("/")[0] for v in VENDORED.values()} - {"karpenter"}))
def test_vendored_files_are_byte_identical_to_the_upstream_blobs(chart):
    prov = (CHARTS / chart / "PROVENANCE.md").read_text()
    rows = BLOB_ROW.findall(prov)
    assert rows, "PROVENANCE.md lists no blobs"
    files = {p.relative_to(CHARTS / chart).as_posix() for p in (CHARTS / chart).rglob("*")
             if p.is_file() and p.name != "PROVENANCE.md"}
    assert files == {f for f, _ in rows}, "PROVENANCE.md and the folder disagree on the files"
    local = subprocess.run(["git", "hash-object", *[str(CHARTS / chart / f) for f, _ in rows]],
                           capture_output=True, text=True, check=True).stdout.split()
    assert local == [b for _, b in rows]


# --- (b) paths, (c) shapes ------------------------------------------------------------------

@pytest.mark.parametrize("stack", sorted(ALL))
def test_every_value_gpufleet_sets_exists_in_the_chart_with_its_shape(stack):
    bad = []
    for r in (r for r in releases() if r.stack == stack):
        found, n = problems((r.chart, r.version), r.values)
        assert n or r.values == {}, r.name
        bad += [f"{r.name} ({r.chart} {r.version}): {p}" for p in found]
    assert bad == []


def test_free_form_keys_exist_in_the_charts():
    # every documented exemption names a key the chart (or its subchart) really has
    for key, v in VENDORED.items():
        for dotted in v.free_form:
            assert defaults_at(key, tuple(dotted.split("."))) is not MISSING, (key, dotted)


def test_undeclared_keys_are_read_by_the_chart():
    # an undeclared key is either read by a vendored template or documented as a commented-out key
    for key, v in VENDORED.items():
        for dotted in v.undeclared:
            assert defaults_at(key, tuple(dotted.split("."))) is MISSING, f"{dotted} is declared now: drop it"
            head, _, leaf = dotted.partition(".")
            folder, rest = (v.subcharts[head], leaf) if head in v.subcharts else (v.folder, dotted)
            templates = "".join(p.read_text() for p in (CHARTS / folder / "templates").glob("*")) \
                if (CHARTS / folder / "templates").is_dir() else ""
            leaf_key = re.escape(rest.rsplit(".", 1)[-1])
            commented = re.search(rf"^\s*# {leaf_key}:", (CHARTS / folder / "values.yaml").read_text(), re.M)
            assert f".Values.{rest}" in templates or commented, (key, dotted)


def test_the_karpenter_crd_chart_gets_no_values():
    assert all(r.values == {} for r in releases() if r.chart == "karpenter-crd")


def _one(chart: str, version: str | None = None) -> Release:
    return next(r for r in releases() if r.chart == chart and (version is None or r.version == version))


def test_the_check_bites_on_a_misplaced_value():
    r = _one("cluster-autoscaler")
    key = (r.chart, r.version)
    assert problems(key, r.values)[0] == []
    bad = copy.deepcopy(r.values)
    # one level too high: the chart reads rbac.serviceAccount.name, not serviceAccount.name
    bad["serviceAccount"] = {"name": bad["rbac"]["serviceAccount"].pop("name")}
    assert problems(key, bad)[0] == ["serviceAccount.name: not in the chart's values"]
    # a subchart key under the wrong alias, and a map where the chart has a list
    kps = _one("kube-prometheus-stack")
    bad = copy.deepcopy(kps.values)
    bad["kubeStateMetrics"] = {"metricLabelsAllowlist": bad["kube-state-metrics"].pop("metricLabelsAllowlist")}
    bad["kube-state-metrics"]["collectors"] = {"nodes": True}
    assert sorted(problems(("kube-prometheus-stack", kps.version), bad)[0]) == [
        "kube-state-metrics.collectors: chart default is list, gpufleet sets dict",
        "kubeStateMetrics.metricLabelsAllowlist: not in the chart's values"]


# --- (d) values.schema.json -------------------------------------------------------------------


def test_values_validate_against_the_charts_values_schema():
    bad = []
    for r in releases():
        v = VENDORED[(r.chart, r.version)]
        bad += [f"{r.stack} {r.name}: {p}" for p in schema_problems(CHARTS / v.folder, r.values)]
        for alias, sub in v.subcharts.items():
            bad += [f"{r.stack} {r.name} {alias}: {p}"
                    for p in schema_problems(CHARTS / sub, r.values.get(alias, {}))]
    assert bad == []


def test_which_charts_ship_a_values_schema():
    # None of the pinned charts ships values.schema.json at its tag (checked with `git ls-tree` on
    # each tag, see PROVENANCE.md); a chart bump that adds one is validated by the test above.
    with_schema = sorted(p.parent.relative_to(CHARTS).as_posix() for p in CHARTS.rglob("values.schema.json"))
    assert with_schema == []


def test_the_schema_check_bites(tmp_path):
    (tmp_path / "values.yaml").write_text("replicas: 1\nimage:\n  tag: v1\n")
    (tmp_path / "values.schema.json").write_text(json.dumps({
        "type": "object", "required": ["image"],
        "properties": {"replicas": {"type": "integer"}, "image": {"type": "object", "additionalProperties": False,
                                                                   "properties": {"tag": {"type": "string"}}}}}))
    assert schema_problems(tmp_path, {"replicas": 2}) == []  # image comes from the defaults
    assert schema_problems(tmp_path, {"replicas": "2", "image": {"tga": "x"}}) != []


# --- rendered by a real helm ------------------------------------------------------------------
# The small charts whose templates are vendored. Not rendered: kube-prometheus-stack (four charts'
# templates plus the CRDs subchart; its objects are covered by the plan's own schema checks),
# gateway-helm (gpufleet sets no values; its pinned v1.9.3 is newer than the mirror) and Karpenter
# (rendered by tests/components/test_karpenter_chart_render.py).
RENDERED = ["cluster-autoscaler", "nvidia-device-plugin", "aws-node-termination-handler",
            "aks-node-termination-handler", "prometheus-adapter", "dcgm-exporter", "aws-load-balancer-controller"]
# API groups a 1.33 cluster with gpufleet's add-ons serves that `helm template` does not know of
# offline; the charts pick their apiVersions with .Capabilities.APIVersions.Has (prometheus-adapter
# falls back to the removed apiregistration.k8s.io/v1beta1 without it).
API_VERSIONS = ["apiregistration.k8s.io/v1", "monitoring.coreos.com/v1", "elbv2.k8s.aws/v1beta1"]


def helm() -> str:
    local = ROOT / ".venv/bin/helm"
    found = str(local) if local.exists() else shutil.which("helm")
    if not found:
        pytest.fail("helm not found: `make .venv/bin/helm` installs it "
                    "(python -m tests.tools.helm_binary .venv/bin/helm)")
    return found


def _render_targets() -> list[tuple[str, str]]:
    keys = sorted({(c, v) for (c, v) in VENDORED if c in RENDERED})
    assert {c for c, _ in keys} == set(RENDERED)
    return keys


def render(r: Release, tmp_path: Path, values: dict | None = None) -> list[dict]:
    path = tmp_path / f"{r.chart}-{r.version}.json"
    path.write_text(json.dumps(r.values if values is None else values))
    args = [helm(), "template", r.release_name, str(CHARTS / VENDORED[(r.chart, r.version)].folder),
            "--namespace", r.namespace, "--skip-crds", "--kube-version", KUBERNETES_VERSION, "-f", str(path)]
    for api in API_VERSIONS:
        args += ["--api-versions", api]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    docs = []
    for d in yaml.safe_load_all(out.stdout):
        if d and d.get("kind") == "List":
            docs += d["items"]  # aws-load-balancer-controller wraps its IngressClass(Params) in a List
        elif d:
            docs.append(d)
    return docs


@lru_cache(maxsize=None)
def lbc_crd_schemas() -> dict[tuple[str, str], dict]:
    out = {}
    for crd in yaml.safe_load_all((CHARTS / "aws-load-balancer-controller/1.15.0/crds/crds.yaml").read_text()):
        for v in crd["spec"]["versions"]:
            out[(f"{crd['spec']['group']}/{v['name']}", crd["spec"]["names"]["kind"])] = v["schema"]["openAPIV3Schema"]
    return out


def validate(obj: dict) -> None:
    schema = lbc_crd_schemas().get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        jsonschema.validate(obj, schema)
    else:
        validate_kubernetes_object(obj)


def _pod(docs: list[dict], kind: str | None = None) -> dict:
    # the chart's main workload: the device plugin also renders its `<name>-mps-control-daemon`
    # DaemonSet (scheduled only on nodes labelled nvidia.com/mps.capable)
    workloads = [d for d in docs if d["kind"] in ((kind,) if kind else ("Deployment", "DaemonSet"))]
    return min(workloads, key=lambda d: len(d["metadata"]["name"]))["spec"]["template"]["spec"]


def _args(docs: list[dict]) -> list[str]:
    pod = _pod(docs)
    return [a for c in pod["containers"] for a in (c.get("command", []) + c.get("args", []))]


def _env(docs: list[dict]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for c in _pod(docs)["containers"] for e in c.get("env", [])}


def _check_cluster_autoscaler(docs, values):
    args = _args(docs)
    assert "--expander=priority,least-waste" in args and "--balance-similar-node-groups=true" in args
    assert any(a.startswith("--node-group-auto-discovery=asg:tag=") and values["autoDiscovery"]["clusterName"] in a
               for a in args)
    (sa,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert sa["metadata"]["name"] == values["rbac"]["serviceAccount"]["name"]
    assert "eks.amazonaws.com/role-arn" in sa["metadata"]["annotations"]


def _check_placement(docs, values):
    pod = _pod(docs)
    for t in values["tolerations"]:
        assert t in pod["tolerations"]
    assert pod["affinity"] == values["affinity"]
    if "priorityClassName" in values:
        assert pod["priorityClassName"] == values["priorityClassName"]


def _check_nth(docs, values):
    env = _env(docs)
    assert env["QUEUE_URL"] == values["queueURL"] and env["ENABLE_SQS_TERMINATION_DRAINING"] == "true"
    assert env["TAINT_NODE"] == "true" and env["CHECK_TAG_BEFORE_DRAINING"] == "true"
    assert env["MANAGED_TAG"] == values["managedTag"] and env["AWS_REGION"] == values["awsRegion"]


def _check_aks_nth(docs, values):
    _check_placement(docs, values)
    assert "-taint.node=true" in _args(docs)


def _check_adapter(docs, values):
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    config = yaml.safe_load(cm["data"]["config.yaml"])
    assert [r["name"]["as"] for r in config["rules"]] == [r["name"]["as"] for r in values["rules"]["custom"]]
    assert any(a.startswith("--prometheus-url=" + values["prometheus"]["url"]) for a in _args(docs))
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "APIService"} == {"v1beta1.custom.metrics.k8s.io"}
    assert {d["apiVersion"] for d in docs if d["kind"] == "APIService"} == {"apiregistration.k8s.io/v1"}


def _check_dcgm(docs, values):
    _check_placement(docs, values)
    assert all(a in _args(docs) for a in values["arguments"])
    (sm,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert sm["metadata"]["labels"]["release"] == values["serviceMonitor"]["additionalLabels"]["release"]
    mounts = [m for c in _pod(docs)["containers"] for m in c.get("volumeMounts", [])]
    assert values["extraVolumeMounts"][0] in mounts


def _check_lbc(docs, values):
    args = _args(docs)
    assert f"--cluster-name={values['clusterName']}" in args and f"--aws-vpc-id={values['vpcId']}" in args
    assert "--enable-shield=false" in args and "--enable-waf=false" in args and "--enable-wafv2=false" in args
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    assert dep["spec"]["replicas"] == values["replicaCount"]


CHECKS = {"cluster-autoscaler": _check_cluster_autoscaler, "nvidia-device-plugin": _check_placement,
          "aws-node-termination-handler": _check_nth, "aks-node-termination-handler": _check_aks_nth,
          "prometheus-adapter": _check_adapter, "dcgm-exporter": _check_dcgm,
          "aws-load-balancer-controller": _check_lbc}


def _shipped_release(chart: str, version: str) -> Release:
    return next(r for r in releases() if r.stack in SHIPPED and (r.chart, r.version) == (chart, version))


@pytest.mark.parametrize("key", _render_targets(), ids=lambda k: f"{k[0]}-{k[1]}")
def test_the_chart_renders_with_our_values_into_schema_valid_objects(key, tmp_path):
    r = _shipped_release(*key)
    docs = render(r, tmp_path)
    assert docs
    for d in docs:
        validate(d)
    CHECKS[r.chart](docs, r.values)


def test_a_misplaced_value_is_silently_ignored_by_the_render(tmp_path):
    # Why the path check exists: helm accepts the typo and renders the chart's default.
    r = _shipped_release("aws-node-termination-handler", "0.27.1")
    bad = copy.deepcopy(r.values)
    bad["queueUrl"] = bad.pop("queueURL")
    assert _env(render(r, tmp_path, bad)).get("QUEUE_URL", "") == ""  # no queue: SQS mode is silently dead
    assert problems((r.chart, r.version), bad)[0] == ["queueUrl: not in the chart's values"]
