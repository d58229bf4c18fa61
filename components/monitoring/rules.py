"""Prometheus alerting rules for GPU nodes, Triton serving and spot capacity (pure: no Pulumi).

`prometheus_rule_groups(spec, environment)` renders the rule groups the `GpuMonitoring`
component puts into its PrometheusRule; `alert_summary` is the same list flattened for the
offline plan. Every alert carries `severity` (critical | warning | info), `environment` and
`component` labels and `summary`, `description` and `runbook_url` annotations; the runbook URL
points at `### Runbook: <AlertName>` sections of the project README.

Metric sources (all verified against upstream; the reference lists live in tests/data/metrics/):

- dcgm-exporter counters gpufleet configures (`in_cluster.counters.DCGM_COUNTERS`, equal to
  dcgm-exporter's etc/default-counters.csv): DCGM_FI_DEV_GPU_TEMP, DCGM_FI_DEV_XID_ERRORS,
  DCGM_FI_DEV_FB_USED/FREE (MiB), DCGM_FI_DEV_GPU_UTIL (%), DCGM_FI_DEV_ROW_REMAP_FAILURE.
  gpufleet's ServiceMonitor relabels the scraped pod's node name into a `node` label, so GPU
  series join kube-state-metrics node series on `node`.
- Triton's /metrics (docs/user_guide/metrics.md): per-model counters labelled `model` and
  `version` (failures also `reason`), scraped with the pod's `namespace` and `pod`.
- kube-state-metrics: pods, nodes, taints, HPAs. Node labels gpufleet.io/{gpu,pool,capacity-type}
  and the pod label app.kubernetes.io/name are exposed through kube-state-metrics'
  `--metric-labels-allowlist` (set by the component) as `label_gpufleet_io_*` and
  `label_app_kubernetes_io_name`.

Spot interruptions are seen two ways, so no cloud depends on one mechanism:
1. a GPU node carrying a termination-handler taint (`GpuNodeInterruptionNotice`): AWS Node
   Termination Handler (`aws-node-termination-handler/spot-itn` etc., only with its
   `taintNode: true`), aks-node-termination-handler (`aks-node-termination-handler/<event>`, run
   with `-taint.node=true`) and GKE (`cloud.google.com/impending-node-termination`, the key the
   kubernetes-mixin also treats as an interruption);
2. a spot GPU node that disappeared without the cluster autoscaler having marked it for scale-down
   (`ToBeDeletedByClusterAutoscaler`): `GpuSpotNodeLost`. This also covers GKE, whose graceful
   node shutdown terminates pods with reason "Terminated", which kube-state-metrics does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .args import SEVERITIES, MonitoringSpec

RUNBOOK_BASE = "https://github.com/gpufleet/gpufleet/blob/main/README.md"

# kube-state-metrics series, with the allowlisted labels.
_GPU_NODES = 'kube_node_labels{label_gpufleet_io_gpu!=""}'
_NODE_POOL = f"max by (node, label_gpufleet_io_pool, label_gpufleet_io_capacity_type) ({_GPU_NODES})"
_TRITON_PODS = 'max by (namespace, pod) (kube_pod_labels{label_app_kubernetes_io_name="triton"})'

# Thresholds that are not part of the SLO (documented in the runbooks).
GPU_TEMP_WARNING_C = 85
GPU_TEMP_CRITICAL_C = 90
GPU_MEMORY_PRESSURE_RATIO = 0.95
GPU_IDLE_UTIL_PERCENT = 10
GPU_SATURATED_UTIL_PERCENT = 90
TRITON_RESTARTS_30M = 2
# XIDs NVIDIA's XID catalogue says need a GPU reset, node drain or hardware action: double-bit
# ECC (48), micro-controller halt (61, 62), row-remapper failure (64), NVLink (74), fallen off
# the bus (79), high single-bit ECC rate (92), contained/uncontained ECC (94, 95), GSP (119, 120).
FATAL_XIDS: tuple[int, ...] = (48, 61, 62, 64, 74, 79, 92, 94, 95, 119, 120)

# Taints the termination handlers put on a node that is about to go (see module docstring).
INTERRUPTION_TAINT_KEYS: tuple[str, ...] = (
    "aws-node-termination-handler/spot-itn",
    "aws-node-termination-handler/rebalance-recommendation",
    "aws-node-termination-handler/scheduled-maintenance",
    "aws-node-termination-handler/asg-lifecycle-termination",
    "aks-node-termination-handler/preempt",
    "aks-node-termination-handler/terminate",
    "aks-node-termination-handler/reboot",
    "aks-node-termination-handler/redeploy",
    "cloud.google.com/impending-node-termination",
)
AUTOSCALER_SCALE_DOWN_TAINT = "ToBeDeletedByClusterAutoscaler"
# Karpenter (EKS) and AKS node auto-provisioning taint every node they remove, consolidation and
# interruption alike; a spot reclaim is counted by karpenter_nodeclaims_disrupted_total{reason=
# "spot_interrupted"} (aws/karpenter-provider-aws v1.14.1 pkg/controllers/interruption).
KARPENTER_DISRUPTED_TAINT = "karpenter.sh/disrupted"
# Pod status reasons kube-state-metrics reports (kube_pod_status_reason).
EVICTION_REASONS: tuple[str, ...] = ("Evicted", "NodeLost", "Shutdown", "UnexpectedAdmissionError")

# The prometheus-adapter pods metric the Triton HPA targets (see in_cluster.ADAPTER_METRIC).
QUEUE_COMPUTE_METRIC = "triton_queue_compute_ratio"


@dataclass(frozen=True)
class AlertDef:
    """One alert before overrides: `expr` may depend on the SLO, hence a function."""

    name: str
    group: str
    component: str
    severity: str
    for_minutes: int
    title: str  # plain one-line summary for the plan
    summary: str  # templated (alert labels) summary annotation
    description: str
    expr: Any  # Callable[[MonitoringSpec], str]


def _rate(metric: str, window: str = "5m", by: str = "namespace, model") -> str:
    return f"sum by ({by}) (rate({metric}[{window}]))"


def _xid_last() -> str:
    return "max by (node, gpu, modelName) (max_over_time(DCGM_FI_DEV_XID_ERRORS[5m]))"


def _fatal_xids() -> str:
    last = _xid_last()
    return " or ".join(f"{last} == {code}" for code in FATAL_XIDS)


def _pool_util(window: str) -> str:
    return (
        f"avg by (label_gpufleet_io_pool) (avg_over_time(DCGM_FI_DEV_GPU_UTIL[{window}]) "
        f"* on (node) group_left (label_gpufleet_io_pool) {_NODE_POOL})"
    )


def _error_ratio(spec: MonitoringSpec) -> str:
    failed = _rate("nv_inference_request_failure")
    ok = _rate("nv_inference_request_success")
    return f"{failed} / ({failed} + ({ok} or {failed} * 0)) > {spec.slo.error_ratio:g}"


def _queue_latency_ms() -> str:
    return f"{_rate('nv_inference_queue_duration_us')} / {_rate('nv_inference_request_success')} / 1000"


def _drain_ms() -> str:
    pending = "sum by (namespace, model) (nv_inference_pending_request_count)"
    return f"{pending} / clamp_min({_rate('nv_inference_request_success')}, 0.001) * 1000"


def _queue_compute(spec: MonitoringSpec) -> str:
    ratio = (f"{_rate('nv_inference_queue_duration_us')} / "
             f"clamp_min({_rate('nv_inference_compute_infer_duration_us')}, 1)")
    return f"{ratio} > {2 * spec.slo.queue_to_compute_target:g}"


def _hpa_at_max() -> str:
    by = "namespace, horizontalpodautoscaler"
    return (
        f"max by ({by}) (kube_horizontalpodautoscaler_status_current_replicas) "
        f">= max by ({by}) (kube_horizontalpodautoscaler_spec_max_replicas) "
        f"and on ({by}) max by ({by}) "
        f'(kube_horizontalpodautoscaler_spec_target_metric{{metric_name="{QUEUE_COMPUTE_METRIC}"}})'
    )


def _triton(expr: str) -> str:
    """Restrict a (namespace, pod) vector to Triton pods."""
    return f"{expr} * on (namespace, pod) group_left () {_TRITON_PODS}"


def _spot_node_lost() -> str:
    spot = ('kube_node_labels{label_gpufleet_io_capacity_type="spot", label_gpufleet_io_gpu!=""}')
    return (
        "count by (label_gpufleet_io_pool) ("
        f"max by (node, label_gpufleet_io_pool) (max_over_time({spot}[15m])) "
        "unless on (node) kube_node_labels "
        f'unless on (node) max by (node) (max_over_time(kube_node_spec_taint{{key=~"{AUTOSCALER_SCALE_DOWN_TAINT}|{KARPENTER_DISRUPTED_TAINT}"}}[30m]))'
        ") > 0"
        # Karpenter's own count of reclaimed spot nodes, per NodePool gpu-<pool>-spot.
        ' or label_replace(sum by (nodepool) (increase(karpenter_nodeclaims_disrupted_total{reason="spot_interrupted"}[15m]))'
        ' > 0, "label_gpufleet_io_pool", "$1", "nodepool", "gpu-(.+)-spot")'
    )


def _interruption_notice() -> str:
    keys = "|".join(INTERRUPTION_TAINT_KEYS)
    return (f'max by (node, key) (kube_node_spec_taint{{key=~"{keys}"}}) '
            f"* on (node) group_left (label_gpufleet_io_pool, label_gpufleet_io_capacity_type) {_NODE_POOL}")


_GPU = "gpufleet.gpu"
_SERVING = "gpufleet.serving"
_CAPACITY = "gpufleet.capacity"
_ON_GPU = "GPU {{ $labels.gpu }} ({{ $labels.modelName }}) on node {{ $labels.node }}"
_MODEL = "model {{ $labels.model }} in {{ $labels.namespace }}"
_POD = "Triton pod {{ $labels.namespace }}/{{ $labels.pod }}"

ALERTS: tuple[AlertDef, ...] = (
    # --- GPU health (dcgm-exporter) -----------------------------------------------------------
    AlertDef(
        "GpuTemperatureHigh", _GPU, "gpu", "warning", 10,
        f"A GPU runs at {GPU_TEMP_WARNING_C}-{GPU_TEMP_CRITICAL_C} C",
        f"{_ON_GPU} is at {{{{ $value }}}} C",
        f"The GPU has been at or above {GPU_TEMP_WARNING_C} C for 10 minutes; it will throttle clocks near "
        f"{GPU_TEMP_CRITICAL_C} C. Check the node's cooling/instance health and the workload's power draw.",
        lambda s: f"max by (node, gpu, modelName) (DCGM_FI_DEV_GPU_TEMP) >= {GPU_TEMP_WARNING_C} < {GPU_TEMP_CRITICAL_C}",
    ),
    AlertDef(
        "GpuTemperatureCritical", _GPU, "gpu", "critical", 5,
        f"A GPU runs at or above {GPU_TEMP_CRITICAL_C} C",
        f"{_ON_GPU} is at {{{{ $value }}}} C",
        f"The GPU has been at or above {GPU_TEMP_CRITICAL_C} C for 5 minutes and is thermally throttling. "
        "Drain the node and let the autoscaler replace it.",
        lambda s: f"max by (node, gpu, modelName) (DCGM_FI_DEV_GPU_TEMP) >= {GPU_TEMP_CRITICAL_C}",
    ),
    AlertDef(
        "GpuFatalXidError", _GPU, "gpu", "critical", 0,
        "A GPU reported an XID error that needs a reset or node replacement",
        f"{_ON_GPU} reported XID {{{{ $value }}}}",
        "XID " + ", ".join(str(x) for x in FATAL_XIDS) + " mean the GPU needs a reset or hardware action. "
        "Cordon and drain the node and replace it; Triton pods on it will fail or hang.",
        lambda s: _fatal_xids(),
    ),
    AlertDef(
        "GpuXidError", _GPU, "gpu", "warning", 0,
        "A GPU reported an XID error",
        f"{_ON_GPU} reported XID {{{{ $value }}}}",
        "A non-fatal XID (often an application fault such as 13, 31, 43 or 45). Look up the code in "
        "NVIDIA's XID catalogue and check the logs of the pods on the GPU.",
        lambda s: f"{_xid_last()} > 0 unless ({_fatal_xids()})",
    ),
    AlertDef(
        "GpuRowRemapFailure", _GPU, "gpu", "critical", 0,
        "A GPU failed to remap memory rows",
        f"{_ON_GPU} failed to remap a memory row",
        "Row remapping failed: the GPU has uncorrectable memory faults it cannot retire. Replace the node.",
        lambda s: "max by (node, gpu, modelName) (DCGM_FI_DEV_ROW_REMAP_FAILURE) > 0",
    ),
    AlertDef(
        "GpuMemoryPressure", _GPU, "gpu", "warning", 15,
        f"GPU memory is over {GPU_MEMORY_PRESSURE_RATIO:.0%} used",
        f"{_ON_GPU} has {{{{ $value | humanizePercentage }}}} of its framebuffer in use",
        "Models or batches close to the GPU's memory risk CUDA out-of-memory failures. Lower "
        "max_batch_size or instance count, or move the model to a larger GPU.",
        lambda s: ("max by (node, gpu, modelName) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)) "
                   f"> {GPU_MEMORY_PRESSURE_RATIO:g}"),
    ),
    AlertDef(
        "GpuUnderutilized", _GPU, "gpu", "warning", 60,
        f"A GPU pool averaged under {GPU_IDLE_UTIL_PERCENT}% utilisation for two hours (paying for idle GPUs)",
        f"GPU pool {{{{ $labels.label_gpufleet_io_pool }}}} averages {{{{ $value | humanize }}}}% utilisation",
        "The pool's GPUs have been mostly idle for two hours. Lower the pool's minimum/on-demand base, "
        "the Triton minimum replicas, or consolidate models onto fewer GPUs.",
        lambda s: f"{_pool_util('1h')} < {GPU_IDLE_UTIL_PERCENT}",
    ),
    AlertDef(
        "GpuSaturated", _GPU, "gpu", "info", 30,
        f"A GPU pool has run above {GPU_SATURATED_UTIL_PERCENT}% utilisation for 30 minutes",
        f"GPU pool {{{{ $labels.label_gpufleet_io_pool }}}} averages {{{{ $value | humanize }}}}% utilisation",
        "The pool is near its compute limit; latency will grow with load. Check the pool's max_nodes and "
        "whether the Triton autoscaler is at its maximum.",
        lambda s: f"{_pool_util('15m')} > {GPU_SATURATED_UTIL_PERCENT}",
    ),
    AlertDef(
        "GpuTelemetryMissing", _GPU, "gpu", "warning", 15,
        "A GPU node has no dcgm-exporter metrics",
        "GPU node {{ $labels.node }} reports no DCGM metrics",
        "dcgm-exporter is not running or not scraped on this GPU node, so the GPU alerts above are blind "
        "for it. Check the dcgm-exporter DaemonSet in gpufleet-node-agents.",
        lambda s: f"max by (node) ({_GPU_NODES}) unless on (node) max by (node) (DCGM_FI_DEV_GPU_TEMP)",
    ),
    # --- Triton serving -----------------------------------------------------------------------
    AlertDef(
        "TritonRequestErrorRateHigh", _SERVING, "serving", "critical", 5,
        "Triton requests fail above the SLO error ratio",
        f"{{{{ $value | humanizePercentage }}}} of requests to {_MODEL} fail",
        "The failed/total request ratio is above monitoring.slo.error_ratio. Check the `reason` label of "
        "nv_inference_request_failure (REJECTED = queue timeouts, BACKEND = model errors) and the pod logs.",
        _error_ratio,
    ),
    AlertDef(
        "TritonQueueLatencySloBreach", _SERVING, "serving", "critical", 10,
        "Average Triton queue time is above the SLO",
        f"Requests to {_MODEL} wait {{{{ $value | humanize }}}} ms in the queue on average",
        "Requests wait longer than monitoring.slo.queue_latency_ms before execution. Scale out (check the "
        "autoscaler and GPU capacity) or tune dynamic batching.",
        lambda s: f"{_queue_latency_ms()} > {s.slo.queue_latency_ms}",
    ),
    AlertDef(
        "TritonPendingRequestsBacklog", _SERVING, "serving", "warning", 5,
        "Triton's pending requests take longer than the SLO to drain",
        f"The backlog of {_MODEL} needs about {{{{ $value | humanize }}}} ms to drain",
        "Pending requests divided by throughput exceed the queue-latency SLO (a growing backlog, or a model "
        "that stopped completing requests).",
        lambda s: f"{_drain_ms()} > {s.slo.queue_latency_ms}",
    ),
    AlertDef(
        "TritonQueueComputeRatioHigh", _SERVING, "serving", "warning", 15,
        "Queue time stays well above compute time: the autoscaler is not keeping up",
        f"{_MODEL} queues {{{{ $value | humanize }}}}x as long as it computes",
        "The autoscaler holds queue/compute at monitoring.slo.queue_to_compute_target; twice that for 15 "
        "minutes means it cannot scale out (maximum replicas, or no GPU nodes to schedule on).",
        _queue_compute,
    ),
    AlertDef(
        "TritonAutoscalerAtMaxReplicas", _SERVING, "serving", "warning", 15,
        "A Triton autoscaler is at its maximum replicas",
        "HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} is at its maximum replicas",
        f"The HPA scaling on {QUEUE_COMPUTE_METRIC} cannot add replicas. Raise max replicas and the GPU "
        "pool's max_nodes if latency suffers.",
        lambda s: _hpa_at_max(),
    ),
    AlertDef(
        "TritonPodRestarting", _SERVING, "serving", "warning", 5,
        "A Triton pod keeps restarting",
        f"{_POD} restarted {{{{ $value | humanize }}}} times in 30 minutes",
        "Check the previous container's logs (model load failures, CUDA OOM, failed health probes).",
        lambda s: _triton("sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total[30m]))")
        + f" > {TRITON_RESTARTS_30M}",
    ),
    AlertDef(
        "TritonPodNotReady", _SERVING, "serving", "warning", 15,
        "A Triton pod has not been ready for 15 minutes",
        f"{_POD} is not ready",
        "The pod runs but fails readiness (models not loaded). Check the model repository access "
        "(workload identity) and the pod logs.",
        lambda s: _triton('max by (namespace, pod) (kube_pod_status_ready{condition="false"})')
        + ' > 0 and on (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"} == 1)',
    ),
    AlertDef(
        "TritonPodUnschedulable", _SERVING, "serving", "warning", 15,
        "A Triton pod cannot be scheduled (no GPU capacity)",
        f"{_POD} has been unschedulable for 15 minutes",
        "No GPU node can take the pod: the pool is at max_nodes, spot capacity is unavailable, or quota is "
        "exhausted. Check the cluster autoscaler events.",
        lambda s: _triton("max by (namespace, pod) (kube_pod_status_unschedulable)") + " > 0",
    ),
    AlertDef(
        "TritonPodEvicted", _SERVING, "serving", "warning", 0,
        "A Triton pod was evicted",
        f"{_POD} was evicted ({{{{ $labels.reason }}}})",
        "The kubelet evicted or lost the pod (node pressure, node lost or shut down). Check the node "
        "conditions and any spot interruption alerts.",
        lambda s: _triton("max by (namespace, pod, reason) "
                          f'(kube_pod_status_reason{{reason=~"{"|".join(EVICTION_REASONS)}"}})') + " > 0",
    ),
    AlertDef(
        "TritonMetricsMissing", _SERVING, "serving", "warning", 10,
        "A ready Triton pod exposes no inference metrics (the autoscaler is blind)",
        f"{_POD} is ready but Prometheus has no Triton metrics from it",
        "The Triton ServiceMonitor does not select the pod or its metrics port; the HPA's "
        f"{QUEUE_COMPUTE_METRIC} is missing for it.",
        lambda s: "(" + _triton('max by (namespace, pod) (kube_pod_status_ready{condition="true"})')
        + " == 1) unless on (namespace, pod) max by (namespace, pod) (nv_inference_request_success)",
    ),
    # --- capacity: spot interruptions and node loss --------------------------------------------
    AlertDef(
        "GpuNodeInterruptionNotice", _CAPACITY, "capacity", "info", 0,
        "A GPU node received an interruption or maintenance notice",
        "GPU node {{ $labels.node }} (pool {{ $labels.label_gpufleet_io_pool }}, "
        "{{ $labels.label_gpufleet_io_capacity_type }}) is tainted {{ $labels.key }}",
        "A termination handler tainted the node ahead of a spot reclaim or maintenance; its pods are being "
        "drained and rescheduled.",
        lambda s: _interruption_notice(),
    ),
    AlertDef(
        "GpuSpotNodeLost", _CAPACITY, "capacity", "warning", 0,
        "Spot GPU nodes disappeared without an autoscaler scale-down (spot reclaimed)",
        "GPU pool {{ $labels.label_gpufleet_io_pool }} lost {{ $value }} spot node(s) in 15 minutes",
        "Spot capacity was reclaimed. Serving falls back to the reserved/on-demand floor; if this repeats, "
        "add spot_instance_types or raise on_demand_base_nodes.",
        lambda s: _spot_node_lost(),
    ),
    AlertDef(
        "GpuNodeNotReady", _CAPACITY, "capacity", "warning", 5,
        "A GPU node is not ready",
        "GPU node {{ $labels.node }} (pool {{ $labels.label_gpufleet_io_pool }}) is not ready",
        "The kubelet stopped reporting or the node is shutting down; GPU pods on it are being lost.",
        lambda s: ('(max by (node) (kube_node_status_condition{condition="Ready", status="true"}) == 0) '
                   f"* on (node) group_left (label_gpufleet_io_pool, label_gpufleet_io_capacity_type) {_NODE_POOL}"),
    ),
)

ALERT_NAMES: list[str] = [a.name for a in ALERTS]
GROUP_ORDER: tuple[str, ...] = (_GPU, _SERVING, _CAPACITY)


def runbook_url(alert: str) -> str:
    """The README section `### Runbook: <alert>` (GitHub's anchor of that heading)."""
    return f"{RUNBOOK_BASE}#runbook-{alert.lower()}"


def _effective(alert: AlertDef, spec: MonitoringSpec, environment: str) -> tuple[bool, str, int]:
    override = spec.alerts.get(alert.name)
    severity = alert.severity
    # Nobody is paged for dev stacks: critical defaults become warnings there (an override wins).
    if environment == "dev" and severity == "critical":
        severity = "warning"
    minutes = alert.for_minutes
    if override is not None:
        if not override.enabled:
            return False, severity, minutes
        severity = override.severity or severity
        minutes = override.for_minutes if override.for_minutes is not None else minutes
    return True, severity, minutes


def _check(spec: MonitoringSpec, environment: str) -> None:
    # `monitoring.alerts` also holds overrides of the cloud alarms (monitoring.cloud); names that
    # are neither are reported by config validation (`monitoring_issues` with every known name).
    if environment not in ("dev", "staging", "prod"):
        raise ValueError(f"environment must be dev, staging or prod, not {environment!r}")


def prometheus_rule_groups(spec: MonitoringSpec, environment: str) -> list[dict[str, Any]]:
    """The rule groups (Prometheus rule-file shape) with overrides and the SLO applied."""
    _check(spec, environment)
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in GROUP_ORDER}
    for alert in ALERTS:
        enabled, severity, minutes = _effective(alert, spec, environment)
        if not enabled:
            continue
        assert severity in SEVERITIES
        rule: dict[str, Any] = {"alert": alert.name, "expr": alert.expr(spec)}
        if minutes > 0:
            rule["for"] = f"{minutes}m"
        rule["labels"] = {"severity": severity, "environment": environment, "component": alert.component}
        rule["annotations"] = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": runbook_url(alert.name),
        }
        groups[alert.group].append(rule)
    return [{"name": name, "rules": rules} for name, rules in groups.items() if rules]


def alert_summary(spec: MonitoringSpec, environment: str) -> list[dict[str, Any]]:
    """One row per enabled alert for the plan: name, severity, for, summary (plain text)."""
    _check(spec, environment)
    out = []
    for alert in ALERTS:
        enabled, severity, minutes = _effective(alert, spec, environment)
        if enabled:
            out.append({"name": alert.name, "group": alert.group, "severity": severity,
                        "for": f"{minutes}m" if minutes else "0m", "summary": alert.title})
    return out
