"""GpuMonitoring on EKS, GKE and AKS under the recording mocks: a real KubernetesCluster per cloud,
then the monitoring stack on its Kubernetes provider (Helm pins, selectors, dcgm-exporter
placement, the adapter's autoscaler metric, the PrometheusRule, dashboards, and every Kubernetes
object checked against its schema)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
import yaml

from components._contracts import NodeTaint
from components.monitoring import (
    ADAPTER_METRIC,
    DASHBOARD_LABEL,
    MONITOR_SELECTOR,
    TYPE_TOKEN,
    GpuMonitoring,
    GpuMonitoringArgs,
)
from components.monitoring.args import AlertOverride, MonitoringSpec, ServingSlo
from components.monitoring.dashboards import load_dashboards
from components.monitoring.in_cluster.counters import counters_csv
from components.monitoring.rules import alert_summary, prometheus_rule_groups
from infra.plan.report import is_kubernetes_object, manifest
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers, custom_resource_schemas, validate_kubernetes_object

RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
NAMESPACE = "kubernetes:core/v1:Namespace"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CLOUDS = ("aws", "gcp", "azure")
CRD_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "crds" / "monitoring.coreos.com_v1_prometheusrule.json"
CLUSTER_SPECS = {
    "aws": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b", "us-east-1c"]}},
    "gcp": {"create": {"version": "1.33"}},
    "azure": {"create": {"version": "1.33", "zones": ["1", "2", "3"]}},
}
SERVING_TAINT = NodeTaint("gpufleet.io/serving", "true", "PreferNoSchedule")


def run_monitoring(cloud: str, *, environment: str = "prod", spec: MonitoringSpec | None = None) -> ProgramRun:
    """A created cluster ("r1") of `cloud` and GpuMonitoring "r1-monitoring" on it."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs

    region = REGIONS[cloud]
    project = "gpufleet-test" if cloud == "gcp" else None

    def program() -> None:
        provider = cloud_provider(f"r1-{cloud}", cloud=cloud, region=region, tags=TAGS, project_id=project)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(cloud=cloud, region=region, environment=environment,
                                  spec=ClusterSpec.model_validate(CLUSTER_SPECS[cloud]), tags=TAGS,
                                  cluster_name=f"gpufleet-{environment}-r1", project_id=project),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        # What the GPU pools add to the target: their extra taints.
        target = dataclasses.replace(cluster.target, gpu_node_taints=(
            NodeTaint("nvidia.com/gpu", "present", "NoSchedule"), SERVING_TAINT))
        mon = GpuMonitoring(
            "r1-monitoring",
            GpuMonitoringArgs(spec=spec or MonitoringSpec(), target=target, environment=environment, tags=TAGS),
            opts=pulumi.ResourceOptions(providers=[provider, cluster.target.provider]),
        )
        pulumi.export("namespace", mon.namespace)
        pulumi.export("alerts", mon.alerts)
        pulumi.export("charts", mon.charts)

    return run_program(program, stack=environment)


_RUNS: dict[tuple[str, str], ProgramRun] = {}


def cached(cloud: str, environment: str = "prod") -> ProgramRun:
    if (cloud, environment) not in _RUNS:
        _RUNS[(cloud, environment)] = run_monitoring(cloud, environment=environment)
    return _RUNS[(cloud, environment)]


@pytest.fixture(params=CLOUDS)
def run(request) -> ProgramRun:
    return cached(request.param)


def component(run: ProgramRun):
    return run.one(TYPE_TOKEN, "r1-monitoring")


def children(run: ProgramRun) -> list:
    return run.children_of(component(run).urn)


def release(run: ProgramRun, role: str):
    return run.one(RELEASE, f"r1-monitoring-{role}")


def cloud_of(run: ProgramRun) -> str:
    (provider,) = [r for r in run.resources if r.type.startswith("pulumi:providers:") and r.name.startswith("r1-")
                   and not r.type.endswith("kubernetes")]
    return {"azure-native": "azure"}.get(provider.type.split(":")[2], provider.type.split(":")[2])


from tests.support import strict_schema as strict  # noqa: E402  (the API server's strict field validation)


def prometheus_rule_schema() -> dict[str, Any]:
    return strict(json.loads(CRD_SCHEMA.read_text()))


# --- structure -------------------------------------------------------------------------------


def test_children_parented_named_and_on_the_cluster_provider(run: ProgramRun) -> None:
    assert_explicit_providers(run)
    comp = component(run)
    kids = children(run)
    assert {r.type for r in kids} == {NAMESPACE, RELEASE, CONFIGMAP, PROMETHEUS_RULE, "kubernetes:core/v1:ResourceQuota",
                                      "kubernetes:networking.k8s.io/v1:NetworkPolicy"}
    k8s_provider = run.one("pulumi:providers:kubernetes", "r1-k8s")
    for r in kids:
        assert r.name.startswith(comp.name + "-"), r.name
        assert r.provider.startswith(k8s_provider.urn + "::"), (r.name, r.provider)
    # The cluster's Kubernetes provider aside, every Kubernetes resource belongs to the component.
    assert [r.name for r in run.resources if r.type.startswith("kubernetes:") and r.parent != comp.urn] == []


def test_helm_charts_are_pinned(run: ProgramRun) -> None:
    releases = {r.inputs["chart"]: r.inputs for r in children(run) if r.type == RELEASE}
    assert {c: r["version"] for c, r in releases.items()} == {
        "kube-prometheus-stack": "81.4.3", "dcgm-exporter": "4.8.1", "prometheus-adapter": "5.3.0"}
    assert releases["kube-prometheus-stack"]["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert releases["prometheus-adapter"]["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert releases["dcgm-exporter"]["repositoryOpts"] == {"repo": "https://nvidia.github.io/dcgm-exporter/helm-charts"}
    for r in releases.values():
        assert all(part.isdigit() for part in r["version"].split("."))
        assert r["atomic"] is True and r["cleanupOnFail"] is True
    assert {c: (r["name"], r["namespace"]) for c, r in releases.items()} == {
        "kube-prometheus-stack": ("gpufleet-monitoring", "gpufleet-monitoring"),
        "prometheus-adapter": ("prometheus-adapter", "gpufleet-monitoring"),
        "dcgm-exporter": ("dcgm-exporter", "gpufleet-node-agents"),
    }
    assert run.outputs["charts"] == {c: r["version"] for c, r in releases.items()}


def test_ordering_crds_before_custom_objects(run: ProgramRun) -> None:
    stack = release(run, "kube-prometheus-stack")
    for r in (release(run, "dcgm-exporter"), release(run, "prometheus-adapter"), run.one(PROMETHEUS_RULE)):
        assert stack.urn in r.options["dependsOn"], r.name
    counters = run.one(CONFIGMAP, "dcgm-counters")
    assert counters.urn in release(run, "dcgm-exporter").options["dependsOn"]


# --- kube-prometheus-stack -----------------------------------------------------------------


def test_stack_selects_our_monitors_rules_everywhere(run: ProgramRun) -> None:
    values = release(run, "kube-prometheus-stack").inputs["values"]
    spec = values["prometheus"]["prometheusSpec"]
    assert MONITOR_SELECTOR == {"release": "gpufleet-monitoring"}
    for kind in ("serviceMonitor", "podMonitor", "probe", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {"matchLabels": MONITOR_SELECTOR}
        assert spec[f"{kind}NamespaceSelector"] == {}  # every namespace (Triton's included)
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    assert {sidecar["label"]: sidecar["labelValue"]} == DASHBOARD_LABEL == {"grafana_dashboard": "1"}
    assert sidecar["enabled"] is True and sidecar["searchNamespace"] == "ALL"
    assert values["grafana"]["adminPassword"] == ""  # generated by the chart, not the well-known default
    assert spec["externalLabels"] == {"cluster": "gpufleet-prod-r1", "environment": "prod", "cloud": cloud_of(run),
                                      "region": REGIONS[cloud_of(run)]}
    for managed in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[managed] == {"enabled": False}
    assert values["kube-state-metrics"]["metricLabelsAllowlist"] == [
        "nodes=[gpufleet.io/gpu,gpufleet.io/pool,gpufleet.io/capacity-type]",
        "pods=[app.kubernetes.io/name,app.kubernetes.io/instance]",
    ]
    assert values["prometheus-node-exporter"]["namespaceOverride"] == "gpufleet-node-agents"
    am = values["alertmanager"]["config"]
    assert am["route"]["receiver"] == "null" and {r["name"] for r in am["receivers"]} == {"null"}


def test_retention_storage_and_replicas_per_environment() -> None:
    prod = release(cached("aws"), "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    dev = release(cached("aws", "dev"), "kube-prometheus-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert (prod["retention"], prod["retentionSize"], prod["replicas"]) == ("15d", "160GB", 2)
    assert prod["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "200Gi"
    assert (dev["retention"], dev["replicas"]) == ("3d", 1)
    assert "storageSpec" not in dev and "retentionSize" not in dev
    assert prod["resources"]["limits"]["memory"] == "8Gi" and dev["resources"]["limits"]["memory"] == "2Gi"


# --- dcgm-exporter ----------------------------------------------------------------------------


def test_dcgm_exporter_runs_only_on_gpu_nodes_and_tolerates_their_taints(run: ProgramRun) -> None:
    values = release(run, "dcgm-exporter").inputs["values"]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "gpufleet.io/gpu", "operator": "Exists"}]}]
    tolerations = values["tolerations"]
    for key in ("nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority", "cloud.google.com/compute-class"):
        assert {"key": key, "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert {"key": "gpufleet.io/serving", "operator": "Exists", "effect": "PreferNoSchedule"} in tolerations
    assert len(tolerations) == len({json.dumps(t, sort_keys=True) for t in tolerations})
    sm = values["serviceMonitor"]
    assert sm["enabled"] is True and sm["additionalLabels"] == MONITOR_SELECTOR
    assert {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"} in sm["relabelings"]
    assert values["priorityClassName"] == "system-node-critical"


def test_dcgm_exporter_reads_the_default_counters(run: ProgramRun) -> None:
    values = release(run, "dcgm-exporter").inputs["values"]
    cm = run.one(CONFIGMAP, "dcgm-counters").inputs
    assert cm["metadata"]["namespace"] == "gpufleet-node-agents"
    assert cm["data"] == {"counters.csv": counters_csv()}
    assert values["arguments"] == ["-f", "/etc/dcgm-exporter/gpufleet/counters.csv"]
    assert values["extraConfigMapVolumes"] == [{"name": "gpufleet-counters", "configMap": {"name": cm["metadata"]["name"]}}]
    assert {"name": "gpufleet-counters", "mountPath": "/etc/dcgm-exporter/gpufleet", "readOnly": True} in values["extraVolumeMounts"]


def test_dcgm_exporter_gke_specifics(run: ProgramRun) -> None:
    values = release(run, "dcgm-exporter").inputs["values"]
    if cloud_of(run) == "gcp":
        assert values["securityContext"]["privileged"] is True
        assert {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"} in values["extraHostVolumes"]
        assert {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True} in values["extraVolumeMounts"]
        assert values["extraEnv"] == [{"name": "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "value": "device-name"}]
    else:
        assert "privileged" not in values["securityContext"]
        assert values["extraHostVolumes"] == [] and values["extraEnv"] == []
    assert values["securityContext"]["capabilities"] == {"add": ["SYS_ADMIN"]}


# --- prometheus-adapter -----------------------------------------------------------------------


def test_adapter_serves_the_triton_queue_compute_ratio(run: ProgramRun) -> None:
    values = release(run, "prometheus-adapter").inputs["values"]
    assert values["prometheus"] == {"url": "http://prometheus-operated.gpufleet-monitoring.svc", "port": 9090, "path": ""}
    rules = values["rules"]
    assert rules["default"] is False and rules["external"] == []
    (rule,) = rules["custom"]
    assert ADAPTER_METRIC == "triton_queue_compute_ratio"
    assert rule["name"]["as"] == "triton_queue_compute_ratio"
    assert rule["seriesQuery"] == 'nv_inference_queue_duration_us{namespace!="",pod!=""}'
    assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
    assert rule["metricsQuery"] == (
        "sum by (<<.GroupBy>>) (rate(nv_inference_queue_duration_us{<<.LabelMatchers>>}[1m])) / "
        "clamp_min(sum by (<<.GroupBy>>) (rate(nv_inference_compute_infer_duration_us{<<.LabelMatchers>>}[1m])), 1)")
    assert values["replicas"] == 2 and values["podDisruptionBudget"]["enabled"] is True


# --- alerts and dashboards ----------------------------------------------------------------------


def test_prometheus_rule_carries_the_rendered_groups(run: ProgramRun) -> None:
    rule = run.one(PROMETHEUS_RULE).inputs
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    assert rule["metadata"]["name"] == "gpufleet-alerts" and rule["metadata"]["namespace"] == "gpufleet-monitoring"
    assert MONITOR_SELECTOR.items() <= rule["metadata"]["labels"].items()
    assert rule["spec"] == {"groups": prometheus_rule_groups(MonitoringSpec(), "prod")}
    assert run.outputs["alerts"] == alert_summary(MonitoringSpec(), "prod")


def test_overrides_and_slo_reach_the_cluster() -> None:
    spec = MonitoringSpec(slo=ServingSlo(queue_latency_ms=500),
                          alerts={"GpuSaturated": AlertOverride(enabled=False),
                                  "GpuSpotNodeLost": AlertOverride(severity="critical")})
    run = run_monitoring("gcp", environment="staging", spec=spec)
    rules = {r["alert"]: r for g in run.one(PROMETHEUS_RULE).inputs["spec"]["groups"] for r in g["rules"]}
    assert "GpuSaturated" not in rules
    assert rules["GpuSpotNodeLost"]["labels"] == {"severity": "critical", "environment": "staging", "component": "capacity"}
    assert rules["TritonQueueLatencySloBreach"]["expr"].endswith("> 500")


def test_dashboards_are_configmaps_for_the_sidecar(run: ProgramRun) -> None:
    shipped = load_dashboards()
    maps = {r.inputs["metadata"]["name"]: r.inputs for r in children(run)
            if r.type == CONFIGMAP and DASHBOARD_LABEL.items() <= r.inputs["metadata"].get("labels", {}).items()}
    assert sorted(maps) == ["gpufleet-dashboard-dcgm", "gpufleet-dashboard-triton"]
    for name, cm in maps.items():
        dash = name.removeprefix("gpufleet-dashboard-")
        assert cm["metadata"]["namespace"] == "gpufleet-monitoring"
        assert cm["metadata"]["annotations"] == {"grafana_folder": "gpufleet"}
        (key,) = cm["data"]
        assert key == f"gpufleet-{dash}.json"
        assert json.loads(cm["data"][key]) == shipped[dash]


def test_namespaces_pod_security(run: ProgramRun) -> None:
    labels = {r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"] for r in children(run) if r.type == NAMESPACE}
    assert labels["gpufleet-monitoring"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["gpufleet-monitoring"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["gpufleet-node-agents"]["pod-security.kubernetes.io/enforce"] == "privileged"
    for ns in labels.values():
        assert {k: TAGS[k] for k in ("environment", "owner", "cost-center")}.items() <= ns.items()
    quota = run.one("kubernetes:core/v1:ResourceQuota").inputs
    assert quota["metadata"]["namespace"] == "gpufleet-node-agents"
    assert quota["spec"]["scopeSelector"]["matchExpressions"][0]["values"] == ["system-node-critical", "system-cluster-critical"]


# --- schema validity -------------------------------------------------------------------------


def test_every_kubernetes_object_is_strictly_schema_valid(run: ProgramRun) -> None:
    objects = [r for r in children(run) if is_kubernetes_object(r)]
    # 2 namespaces, quota, counters, 2 dashboards, the rule, 13 NetworkPolicies (in_cluster.network)
    assert len(objects) == 20
    registered = custom_resource_schemas()
    for r in objects:
        obj = manifest(r)
        if (obj["apiVersion"], obj["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule"):
            jsonschema.validate(obj, prometheus_rule_schema())
            assert obj["metadata"]["name"] and all(isinstance(v, str) for v in obj["metadata"]["labels"].values())
            if ("monitoring.coreos.com/v1", "PrometheusRule") not in registered:
                continue  # until tests/support registers the CRD schema
        validate_kubernetes_object(obj)


def test_the_crd_schema_rejects_misspelled_fields() -> None:
    schema = prometheus_rule_schema()
    good = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "x"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5m"}]}]}}
    jsonschema.validate(good, schema)
    for bad in ({"groups": [{"name": "g", "rulez": []}]},
                {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "5 minutes"}]}]},
                {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "labels": {"severity": 1}}]}]},
                {"groups": [{"rules": []}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "spec": bad}, schema)


# --- refusals ------------------------------------------------------------------------------------


def test_disabled_monitoring_is_refused() -> None:
    with pytest.raises(Exception, match="monitoring.enabled is false"):
        run_monitoring("aws", spec=MonitoringSpec(enabled=False))


def test_rendered_values_are_plain_yaml(run: ProgramRun) -> None:
    """What `helm` receives: every values tree serialises (no Python objects leak into it)."""
    for r in children(run):
        if r.type == RELEASE:
            yaml.safe_dump(r.inputs["values"])
