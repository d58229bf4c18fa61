"""Monitoring: in-cluster GPU and serving monitoring, cloud-native alarms and budgets.

In-cluster, per region (`GpuMonitoring`, in_cluster/): kube-prometheus-stack, dcgm-exporter on
GPU nodes, prometheus-adapter serving the Triton autoscaler's pods metric
`triton_queue_compute_ratio`, gpufleet's PrometheusRule (rules.py) and Grafana dashboards
(dashboards/). The cloud side (alarms, budgets) lives in cloud/.

Importing this package creates nothing and imports no cloud or Kubernetes SDK.
"""

from __future__ import annotations

from .args import AlertOverride, MonitoringSpec, ServingSlo
from .in_cluster import (
    ADAPTER_METRIC,
    DASHBOARD_LABEL,
    MONITOR_SELECTOR,
    MONITORING_NAMESPACE,
    NODE_AGENTS_NAMESPACE,
    PROMETHEUS_URL,
    TRITON_METRICS_PORT,
    TRITON_METRICS_PORT_NAME,
    TRITON_POD_LABEL,
    TYPE_TOKEN,
    GpuMonitoring,
    GpuMonitoringArgs,
)
from .rules import ALERT_NAMES, alert_summary, prometheus_rule_groups

__all__ = [
    "GpuMonitoring", "GpuMonitoringArgs", "TYPE_TOKEN", "MonitoringSpec", "ServingSlo", "AlertOverride",
    "ALERT_NAMES", "alert_summary", "prometheus_rule_groups", "ADAPTER_METRIC", "MONITOR_SELECTOR",
    "DASHBOARD_LABEL", "MONITORING_NAMESPACE", "NODE_AGENTS_NAMESPACE", "PROMETHEUS_URL", "TRITON_POD_LABEL",
    "TRITON_METRICS_PORT", "TRITON_METRICS_PORT_NAME",
]
