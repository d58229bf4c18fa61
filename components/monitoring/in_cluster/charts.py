"""Pinned charts and their values for the in-cluster monitoring stack (pure: no Pulumi resources).

Pins (bump deliberately, re-run the tests, read the chart's upgrade notes):

- kube-prometheus-stack 81.4.3 (prometheus-operator v0.88.1; subcharts kube-state-metrics 7.1.0,
  prometheus-node-exporter 4.51.0, grafana 10.5.15), prometheus-community/helm-charts
  charts/kube-prometheus-stack/Chart.yaml at tag kube-prometheus-stack-81.4.3 (81.4.5 was never
  released: it only exists in an unmerged pull request; see tests/data/charts/kube-prometheus-stack).
  Helm installs its CRDs on first install only; upgrading across operator versions needs the CRDs
  applied first (chart README "Upgrading chart").
- dcgm-exporter 4.8.1 (exporter 4.8.1 with DCGM 4.5.2), https://nvidia.github.io/dcgm-exporter/helm-charts.
  Kept below 4.9.0 on purpose: exporter 4.9.0 renames the default fields to their DCGM 4.7 names
  and changes units (utilisation as a 0-1 ratio, memory in bytes), which every rule and dashboard
  here would have to follow.
- prometheus-adapter 5.3.0 (adapter v0.12.0), prometheus-community/helm-charts
  charts/prometheus-adapter/Chart.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..rules import QUEUE_COMPUTE_METRIC
from .counters import counters_csv

# --- names the rest of gpufleet relies on (public contract) -----------------------------------

MONITORING_NAMESPACE = "gpufleet-monitoring"
# Node agents need host access (dcgm-exporter: root, SYS_ADMIN, hostPath; node-exporter: host
# network/PID/filesystem), i.e. the Pod Security "privileged" level; they get a namespace of their
# own so the monitoring namespace itself can enforce "baseline".
NODE_AGENTS_NAMESPACE = "gpufleet-node-agents"

# The Helm release name of kube-prometheus-stack. Its own ServiceMonitors and rules carry
# `release: <release name>`, so selecting on that label picks up the chart's monitors (kubelet,
# kube-state-metrics, node-exporter ...) and gpufleet's alike.
STACK_RELEASE = "gpufleet-monitoring"
# Put these labels on every ServiceMonitor, PodMonitor and PrometheusRule Prometheus should load
# (the Triton component labels its ServiceMonitor with them).
MONITOR_SELECTOR: dict[str, str] = {"release": STACK_RELEASE}
# ConfigMaps with this label (in any namespace) are loaded as Grafana dashboards by the sidecar.
DASHBOARD_LABEL_KEY = "grafana_dashboard"
DASHBOARD_LABEL_VALUE = "1"
DASHBOARD_LABEL: dict[str, str] = {DASHBOARD_LABEL_KEY: DASHBOARD_LABEL_VALUE}
DASHBOARD_FOLDER_ANNOTATION = "grafana_folder"
DASHBOARD_FOLDER = "gpufleet"

# The pods metric prometheus-adapter serves under custom.metrics.k8s.io for the Triton HPA:
# queue time / compute time per pod over 1 minute (`type: Pods`, target `AverageValue`).
ADAPTER_METRIC = QUEUE_COMPUTE_METRIC
# What the adapter rule expects of Triton pods: this label and Triton's metrics port.
TRITON_POD_LABEL = ("app.kubernetes.io/name", "triton")
TRITON_METRICS_PORT_NAME = "metrics"
TRITON_METRICS_PORT = 8002

# The operator's governing Service of every Prometheus in the namespace (stable, unlike the chart's
# generated service names).
PROMETHEUS_URL = f"http://prometheus-operated.{MONITORING_NAMESPACE}.svc"
PROMETHEUS_PORT = 9090

# Node labels (gpu_pool.args) and the AKS / GKE GPU taints dcgm-exporter must tolerate.
GPU_LABEL = "gpufleet.io/gpu"
POOL_LABEL = "gpufleet.io/pool"
CAPACITY_LABEL = "gpufleet.io/capacity-type"
BASE_GPU_TOLERATION_KEYS = ("nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority", "cloud.google.com/compute-class")

HELM_REPO_PROMETHEUS_COMMUNITY = "https://prometheus-community.github.io/helm-charts"
HELM_REPO_DCGM = "https://nvidia.github.io/dcgm-exporter/helm-charts"


@dataclass(frozen=True)
class Chart:
    name: str
    version: str
    repo: str


KUBE_PROMETHEUS_STACK_CHART = Chart("kube-prometheus-stack", "81.4.3", HELM_REPO_PROMETHEUS_COMMUNITY)
DCGM_EXPORTER_CHART = Chart("dcgm-exporter", "4.8.1", HELM_REPO_DCGM)
PROMETHEUS_ADAPTER_CHART = Chart("prometheus-adapter", "5.3.0", HELM_REPO_PROMETHEUS_COMMUNITY)

# dcgm-exporter reads gpufleet's counters file from this ConfigMap.
DCGM_COUNTERS_CONFIGMAP = "gpufleet-dcgm-counters"
DCGM_COUNTERS_DIR = "/etc/dcgm-exporter/gpufleet"
DCGM_COUNTERS_FILE = "counters.csv"

# GKE COS nodes keep the NVIDIA driver libraries under /home/kubernetes/bin/nvidia; containers that
# do not request a GPU (dcgm-exporter) must mount them (and run privileged) to reach NVML/DCGM.
GKE_NVIDIA_HOST_DIR = "/home/kubernetes/bin/nvidia"


@dataclass(frozen=True)
class EnvironmentSizing:
    retention: str
    storage_gib: int | None  # None: emptyDir (data lost with the pod)
    prometheus_replicas: int
    alertmanager_replicas: int
    adapter_replicas: int
    prometheus_requests: dict[str, str]
    prometheus_memory_limit: str


SIZING: dict[str, EnvironmentSizing] = {
    "dev": EnvironmentSizing("3d", None, 1, 1, 1, {"cpu": "200m", "memory": "1Gi"}, "2Gi"),
    "staging": EnvironmentSizing("7d", 50, 1, 1, 1, {"cpu": "500m", "memory": "2Gi"}, "4Gi"),
    "prod": EnvironmentSizing("15d", 200, 2, 2, 2, {"cpu": "1", "memory": "4Gi"}, "8Gi"),
}

# Node/pod labels kube-state-metrics exports (as label_<sanitised name>) for the alert joins.
KSM_LABELS_ALLOWLIST = [
    f"nodes=[{GPU_LABEL},{POOL_LABEL},{CAPACITY_LABEL}]",
    f"pods=[{TRITON_POD_LABEL[0]},app.kubernetes.io/instance]",
]


def _resources(cpu: str, memory: str, memory_limit: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}


def selector() -> dict[str, Any]:
    return {"matchLabels": dict(MONITOR_SELECTOR)}


def alertmanager_config() -> dict[str, Any]:
    """Minimal routing: everything to a receiver without integrations (visible in Alertmanager and
    Grafana); cloud-native alarms page people. Critical inhibits warning/info of the same alert."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "null",
            "group_by": ["alertname", "namespace", "severity"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}],
        },
        "receivers": [{"name": "null"}],
        "inhibit_rules": [
            {"source_matchers": ['severity = "critical"'], "target_matchers": ['severity =~ "warning|info"'],
             "equal": ["namespace", "alertname"]},
            {"source_matchers": ['severity = "warning"'], "target_matchers": ['severity = "info"'],
             "equal": ["namespace", "alertname"]},
        ],
    }


def kube_prometheus_stack_values(*, environment: str, cloud: str, region: str, cluster_name: Any) -> dict[str, Any]:
    """Values of kube-prometheus-stack: selectors on MONITOR_SELECTOR in every namespace, retention
    and storage per environment, Grafana's dashboard sidecar, managed-control-plane scrapers off."""
    size = SIZING[environment]
    prometheus_spec: dict[str, Any] = {
        "replicas": size.prometheus_replicas,
        "retention": size.retention,
        "resources": _resources(size.prometheus_requests["cpu"], size.prometheus_requests["memory"],
                                size.prometheus_memory_limit),
        "externalLabels": {"cluster": cluster_name, "environment": environment, "cloud": cloud, "region": region},
        # Only objects carrying MONITOR_SELECTOR, from any namespace (an empty selector = all).
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "serviceMonitorSelector": selector(),
        "serviceMonitorNamespaceSelector": {},
        "podMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelector": selector(),
        "podMonitorNamespaceSelector": {},
        "probeSelectorNilUsesHelmValues": False,
        "probeSelector": selector(),
        "probeNamespaceSelector": {},
        "ruleSelectorNilUsesHelmValues": False,
        "ruleSelector": selector(),
        "ruleNamespaceSelector": {},
    }
    if size.storage_gib is not None:
        prometheus_spec["retentionSize"] = f"{int(size.storage_gib * 0.8)}GB"
        prometheus_spec["storageSpec"] = {
            "volumeClaimTemplate": {
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{size.storage_gib}Gi"}}}
            }
        }
    return {
        "fullnameOverride": "gpufleet",
        "crds": {"enabled": True},
        # EKS, GKE and AKS manage the control plane: its components cannot be scraped.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "defaultRules": {
            "create": True,
            "rules": {"etcd": False, "kubeControllerManager": False, "kubeSchedulerAlerting": False,
                      "kubeSchedulerRecording": False, "kubeProxy": False},
        },
        "prometheus": {"prometheusSpec": prometheus_spec},
        "alertmanager": {
            "config": alertmanager_config(),
            "alertmanagerSpec": {
                "replicas": size.alertmanager_replicas,
                "resources": _resources("50m", "128Mi", "256Mi"),
            },
        },
        "prometheusOperator": {"resources": _resources("100m", "256Mi", "512Mi")},
        "grafana": {
            # Empty: the Grafana chart generates a random admin password once and keeps it (the
            # `<release>-grafana` Secret); the kube-prometheus-stack default is a well-known one.
            "adminPassword": "",
            "defaultDashboardsTimezone": "utc",
            "resources": _resources("100m", "256Mi", "512Mi"),
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": DASHBOARD_LABEL_KEY,
                    "labelValue": DASHBOARD_LABEL_VALUE,
                    "searchNamespace": "ALL",
                    "folderAnnotation": DASHBOARD_FOLDER_ANNOTATION,
                    "provider": {"foldersFromFilesStructure": True},
                },
            },
        },
        "kube-state-metrics": {
            "metricLabelsAllowlist": list(KSM_LABELS_ALLOWLIST),
            "resources": _resources("50m", "128Mi", "512Mi"),
        },
        # Node agents live with dcgm-exporter in the privileged namespace.
        "prometheus-node-exporter": {
            "namespaceOverride": NODE_AGENTS_NAMESPACE,
            "resources": _resources("20m", "32Mi", "128Mi"),
        },
    }


def gpu_tolerations(extra_taints: Iterable[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """Tolerate the GPU taint, the AKS spot taint and the GKE compute-class taint (any value), plus
    any other (key, effect) of the target's GPU pools."""
    pairs = {(key, "NoSchedule") for key in BASE_GPU_TOLERATION_KEYS} | set(extra_taints)
    return [{"key": key, "operator": "Exists", "effect": effect} for key, effect in sorted(pairs)]


def gpu_node_affinity() -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": GPU_LABEL, "operator": "Exists"}]}]
            }
        }
    }


def dcgm_exporter_values(*, cloud: str, extra_taints: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """Values of dcgm-exporter: only on gpufleet GPU nodes, tolerating their taints, reading
    gpufleet's counters file, scraped through a ServiceMonitor Prometheus selects."""
    host_volumes: list[dict[str, str]] = []
    mounts: list[dict[str, Any]] = [
        {"name": "gpufleet-counters", "mountPath": DCGM_COUNTERS_DIR, "readOnly": True},
    ]
    env: list[dict[str, str]] = []
    security: dict[str, Any] = {"runAsNonRoot": False, "runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}}
    if cloud == "gcp":
        host_volumes = [
            {"name": "nvidia-install-dir-host", "hostPath": GKE_NVIDIA_HOST_DIR},
            {"name": "vulkan-icd-mount", "hostPath": f"{GKE_NVIDIA_HOST_DIR}/vulkan/icd.d"},
        ]
        mounts += [
            {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True},
            {"name": "vulkan-icd-mount", "mountPath": "/etc/vulkan/icd.d", "readOnly": True},
        ]
        # GKE's device plugin reports device names, not UUIDs, in the kubelet pod-resources API.
        env = [{"name": "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "value": "device-name"}]
        security = {**security, "privileged": True}
    return {
        "fullnameOverride": "dcgm-exporter",
        "arguments": ["-f", f"{DCGM_COUNTERS_DIR}/{DCGM_COUNTERS_FILE}"],
        # Replaces the chart's own counters ConfigMap mount (lists are replaced, not merged).
        "extraConfigMapVolumes": [{"name": "gpufleet-counters", "configMap": {"name": DCGM_COUNTERS_CONFIGMAP}}],
        "extraHostVolumes": host_volumes,
        "extraVolumeMounts": mounts,
        "extraEnv": env,
        "securityContext": security,
        "priorityClassName": "system-node-critical",
        "affinity": gpu_node_affinity(),
        "tolerations": gpu_tolerations(extra_taints),
        # The exporter embeds the DCGM host engine: a few hundred MiB on 8-GPU nodes.
        "resources": _resources("50m", "256Mi", "1Gi"),
        "serviceMonitor": {
            "enabled": True,
            "interval": "15s",
            "honorLabels": False,
            "additionalLabels": dict(MONITOR_SELECTOR),
            # Name the node: GPU series then join kube-state-metrics' node series on `node`.
            "relabelings": [
                {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node", "action": "replace"}
            ],
        },
    }


def counters_configmap_data() -> dict[str, str]:
    return {DCGM_COUNTERS_FILE: counters_csv()}


def adapter_rule() -> dict[str, Any]:
    """prometheus-adapter custom rule: the pods metric ADAPTER_METRIC for every pod exposing
    Triton's queue-time counter, = rate(queue time) / rate(compute time) over 1 minute."""
    matchers = "{<<.LabelMatchers>>}"
    queue = f"sum by (<<.GroupBy>>) (rate(nv_inference_queue_duration_us{matchers}[1m]))"
    compute = f"sum by (<<.GroupBy>>) (rate(nv_inference_compute_infer_duration_us{matchers}[1m]))"
    return {
        "seriesQuery": 'nv_inference_queue_duration_us{namespace!="",pod!=""}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": "^nv_inference_queue_duration_us$", "as": ADAPTER_METRIC},
        # clamp_min: an idle pod (no compute time) reads as its queue rate, i.e. 0, not NaN.
        "metricsQuery": f"{queue} / clamp_min({compute}, 1)",
    }


def prometheus_adapter_values(*, environment: str) -> dict[str, Any]:
    size = SIZING[environment]
    values: dict[str, Any] = {
        "fullnameOverride": "prometheus-adapter",
        "replicas": size.adapter_replicas,
        "prometheus": {"url": PROMETHEUS_URL, "port": PROMETHEUS_PORT, "path": ""},
        "metricsRelistInterval": "1m",
        "resources": _resources("50m", "128Mi", "512Mi"),
        # Only gpufleet's rule: no default container_* rules, no external or resource metrics
        # (metrics-server keeps serving CPU/memory).
        "rules": {"default": False, "custom": [adapter_rule()], "external": []},
    }
    if size.adapter_replicas > 1:
        values["podDisruptionBudget"] = {"enabled": True, "maxUnavailable": 1}
    return values
