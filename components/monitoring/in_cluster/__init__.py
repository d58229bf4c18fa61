"""`GpuMonitoring`: the in-cluster GPU and serving monitoring of one cluster (one per region).

Creates, on the region's Kubernetes provider (`target.provider`):

- Namespace `gpufleet-monitoring` (Pod Security: enforce baseline, warn/audit restricted) with
  kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana,
  kube-state-metrics), prometheus-adapter, the PrometheusRule `gpufleet-alerts` and the Grafana
  dashboard ConfigMaps;
- Namespace `gpufleet-node-agents` (Pod Security: enforce privileged, warn/audit baseline) with
  dcgm-exporter and node-exporter, the only pods that need host access (dcgm-exporter runs as
  root with SYS_ADMIN and a hostPath, privileged on GKE), and a ResourceQuota that admits
  system-node-critical pods outside kube-system (GKE only admits them where such a quota exists).
- In both namespaces a default-deny NetworkPolicy, DNS egress and the allows each pod needs
  (`in_cluster.network`; `network_policies: false` skips them).

Selection contract (constants in `charts`): Prometheus loads every ServiceMonitor, PodMonitor,
Probe and PrometheusRule labelled `MONITOR_SELECTOR` (`release: gpufleet-monitoring`) in any
namespace; Grafana loads every ConfigMap labelled `DASHBOARD_LABEL` (`grafana_dashboard: "1"`).

Autoscaler metric: prometheus-adapter serves the pods metric `triton_queue_compute_ratio`
(custom.metrics.k8s.io) for every pod whose Triton metrics Prometheus scrapes:
sum by (namespace, pod) rate(nv_inference_queue_duration_us[1m]) /
clamp_min(sum by (namespace, pod) rate(nv_inference_compute_infer_duration_us[1m]), 1).
The Triton HPA targets it with `type: Pods`, `target.type: AverageValue` and
`averageValue: ServingSlo.queue_to_compute_target` (as a quantity, e.g. "1" or "1500m").
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pydantic import ConfigDict, Field

from ..._contracts import Environment, KubernetesTarget
from ..._model import Args
from ..args import MonitoringSpec
from ..dashboards import DASHBOARD_NAMES, dashboard_json
from ..rules import alert_summary, prometheus_rule_groups
from . import charts
from .charts import (
    ADAPTER_METRIC,
    DASHBOARD_FOLDER,
    DASHBOARD_FOLDER_ANNOTATION,
    DASHBOARD_LABEL,
    DCGM_COUNTERS_CONFIGMAP,
    DCGM_EXPORTER_CHART,
    KUBE_PROMETHEUS_STACK_CHART,
    MONITOR_SELECTOR,
    MONITORING_NAMESPACE,
    NODE_AGENTS_NAMESPACE,
    PROMETHEUS_ADAPTER_CHART,
    PROMETHEUS_PORT,
    PROMETHEUS_URL,
    STACK_RELEASE,
    TRITON_METRICS_PORT,
    TRITON_METRICS_PORT_NAME,
    TRITON_POD_LABEL,
    Chart,
)

__all__ = [
    "GpuMonitoring", "GpuMonitoringArgs", "TYPE_TOKEN", "MONITOR_SELECTOR", "DASHBOARD_LABEL", "ADAPTER_METRIC",
    "MONITORING_NAMESPACE", "NODE_AGENTS_NAMESPACE", "PROMETHEUS_URL", "PROMETHEUS_PORT", "STACK_RELEASE",
    "TRITON_POD_LABEL", "TRITON_METRICS_PORT", "TRITON_METRICS_PORT_NAME", "PROMETHEUS_RULE_NAME",
]

TYPE_TOKEN = "gpufleet:monitoring:GpuMonitoring"
PROMETHEUS_RULE_NAME = "gpufleet-alerts"
COST_LABEL_KEYS = ("environment", "owner", "cost-center")


class GpuMonitoringArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    spec: MonitoringSpec = Field(..., description="The stack's monitoring spec (SLO, alert overrides). Required; "
                                 "build the component only when spec.enabled.")
    target: Any = Field(..., description="The cluster's KubernetesTarget: provider, cloud, GPU node taints.")
    environment: Environment = Field(..., description="dev, staging or prod: retention, storage, replicas and the "
                                     "severity of dev alerts (critical becomes warning).")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags; environment/owner/cost-center become "
                                 "labels on the namespaces. Default: none.")
    network_policies: bool = Field(True, description="Default deny plus the allows every monitoring pod needs in "
                                   "both namespaces (see in_cluster.network); default true.")


def _managed() -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"}


class GpuMonitoring(pulumi.ComponentResource):
    """kube-prometheus-stack, dcgm-exporter, prometheus-adapter, gpufleet's alerts and dashboards.

    Pass the region's providers in `opts.providers` (or rely on `target.provider`, which every
    child names explicitly). Outputs: `namespace`, `node_agents_namespace`, `monitor_selector`,
    `dashboard_label`, `adapter_metric`, `prometheus_url`, `alerts` (the plan rows), `charts`
    (name -> pinned version) and `ready` (resources a dependant waits for: the stack release,
    which installs the monitoring.coreos.com CRDs, and the adapter).
    """

    def __init__(self, name: str, args: GpuMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        import pulumi_kubernetes as k8s

        spec = args.spec
        if not spec.enabled:
            raise ValueError("monitoring.enabled is false: do not build GpuMonitoring")
        target: KubernetesTarget = args.target
        env = args.environment
        provider = target.provider
        cost = {k: v for k, v in sorted(args.tags.items()) if k in COST_LABEL_KEYS}
        groups = prometheus_rule_groups(spec, env)  # validates overrides before anything is created

        def child(extra: dict[str, Any] | None = None) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, **(extra or {}))

        def meta(name_: str, namespace: pulumi.Input[str] | None = None, labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None) -> Any:
            return k8s.meta.v1.ObjectMetaArgs(name=name_, namespace=namespace, labels={**_managed(), **(labels or {})},
                                              annotations=annotations)

        # --- namespaces -----------------------------------------------------------------------
        mon_ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            k8s.core.v1.NamespaceInitArgs(metadata=meta(MONITORING_NAMESPACE, labels={
                **cost,
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            })),
            opts=child(),
        )
        agents_ns = k8s.core.v1.Namespace(
            f"{name}-node-agents-namespace",
            k8s.core.v1.NamespaceInitArgs(metadata=meta(NODE_AGENTS_NAMESPACE, labels={
                **cost,
                "pod-security.kubernetes.io/enforce": "privileged",
                "pod-security.kubernetes.io/warn": "baseline",
                "pod-security.kubernetes.io/audit": "baseline",
            })),
            opts=child(),
        )
        mon = mon_ns.metadata.name
        agents = agents_ns.metadata.name
        critical_quota = k8s.core.v1.ResourceQuota(
            f"{name}-node-agents-critical-pods",
            k8s.core.v1.ResourceQuotaInitArgs(
                metadata=meta("gpufleet-critical-pods", agents),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(
                    hard={"pods": "1000"},
                    scope_selector=k8s.core.v1.ScopeSelectorArgs(match_expressions=[
                        k8s.core.v1.ScopedResourceSelectorRequirementArgs(
                            operator="In", scope_name="PriorityClass",
                            values=["system-node-critical", "system-cluster-critical"],
                        )
                    ]),
                ),
            ),
            opts=child(),
        )

        def release(role: str, chart: Chart, namespace: pulumi.Input[str], release_name: str, values: dict[str, Any],
                    depends_on: list[pulumi.Resource], timeout: int = 600) -> Any:
            return k8s.helm.v3.Release(
                f"{name}-{role}",
                k8s.helm.v3.ReleaseArgs(
                    name=release_name,
                    chart=chart.name,
                    version=chart.version,
                    repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
                    namespace=namespace,
                    values=values,
                    # Roll back a failed upgrade instead of leaving a half-applied release.
                    atomic=True,
                    cleanup_on_fail=True,
                    timeout=timeout,
                ),
                opts=child({"depends_on": depends_on}),
            )

        # --- network policies (before the pods: the charts start inside the default deny) ------
        policies: list[pulumi.Resource] = []
        if args.network_policies:
            from ...cluster.network_policy_resource import network_policy
            from .network import monitoring_policies, node_agent_policies

            for ns_output, manifests in ((mon, monitoring_policies(target.cloud)), (agents, node_agent_policies())):
                for m in manifests:
                    role = m["metadata"]["name"].removeprefix("gpufleet-")
                    where = "-node-agents" if m["metadata"]["namespace"] == NODE_AGENTS_NAMESPACE else ""
                    policies.append(network_policy(f"{name}{where}-netpol-{role}", m, provider, namespace=ns_output,
                                                   opts=child()))

        # --- kube-prometheus-stack ------------------------------------------------------------
        stack = release(
            "kube-prometheus-stack", KUBE_PROMETHEUS_STACK_CHART, mon, STACK_RELEASE,
            charts.kube_prometheus_stack_values(environment=env, cloud=target.cloud, region=target.region,
                                                cluster_name=target.cluster_name),
            # node-exporter is installed into the node-agents namespace (namespaceOverride).
            depends_on=[agents_ns, critical_quota, *policies],
            timeout=900,
        )

        # --- dcgm-exporter --------------------------------------------------------------------
        counters = k8s.core.v1.ConfigMap(
            f"{name}-dcgm-counters",
            k8s.core.v1.ConfigMapInitArgs(metadata=meta(DCGM_COUNTERS_CONFIGMAP, agents),
                                          data=charts.counters_configmap_data()),
            opts=child(),
        )
        extra_taints = sorted({(t.key, t.effect) for t in target.gpu_node_taints})
        dcgm = release(
            "dcgm-exporter", DCGM_EXPORTER_CHART, agents, "dcgm-exporter",
            charts.dcgm_exporter_values(cloud=target.cloud, extra_taints=extra_taints),
            # Its ServiceMonitor needs the monitoring.coreos.com CRDs the stack installs.
            depends_on=[stack, counters, critical_quota],
        )

        # --- prometheus-adapter ---------------------------------------------------------------
        adapter = release(
            "prometheus-adapter", PROMETHEUS_ADAPTER_CHART, mon, "prometheus-adapter",
            charts.prometheus_adapter_values(environment=env),
            depends_on=[stack],
        )

        # --- alerts ---------------------------------------------------------------------------
        rule = k8s.apiextensions.CustomResource(
            f"{name}-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=meta(PROMETHEUS_RULE_NAME, mon, labels=dict(MONITOR_SELECTOR)),
            spec={"groups": groups},
            opts=child({"depends_on": [stack]}),
        )

        # --- dashboards -----------------------------------------------------------------------
        dashboards = []
        for dash in DASHBOARD_NAMES:
            dashboards.append(k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{dash}",
                k8s.core.v1.ConfigMapInitArgs(
                    metadata=meta(f"gpufleet-dashboard-{dash}", mon, labels=dict(DASHBOARD_LABEL),
                                  annotations={DASHBOARD_FOLDER_ANNOTATION: DASHBOARD_FOLDER}),
                    data={f"gpufleet-{dash}.json": dashboard_json(dash)},
                ),
                opts=child(),
            ))

        self.namespace = mon
        self.node_agents_namespace = agents
        self.monitor_selector = dict(MONITOR_SELECTOR)
        self.dashboard_label = dict(DASHBOARD_LABEL)
        self.adapter_metric = ADAPTER_METRIC
        self.prometheus_url = f"{PROMETHEUS_URL}:{PROMETHEUS_PORT}"
        self.alerts = alert_summary(spec, env)
        self.charts = {c.name: c.version for c in (KUBE_PROMETHEUS_STACK_CHART, DCGM_EXPORTER_CHART,
                                                   PROMETHEUS_ADAPTER_CHART)}
        self.ready: list[pulumi.Resource] = [stack, adapter]
        self.releases = {"kube-prometheus-stack": stack, "dcgm-exporter": dcgm, "prometheus-adapter": adapter}
        self.prometheus_rule = rule
        self.network_policies = policies
        self.dashboards = dashboards
        self.register_outputs({
            "namespace": mon,
            "nodeAgentsNamespace": agents,
            "monitorSelector": self.monitor_selector,
            "dashboardLabel": self.dashboard_label,
            "adapterMetric": ADAPTER_METRIC,
            "prometheusUrl": self.prometheus_url,
            "alerts": json.loads(json.dumps(self.alerts)),
            "alertNames": [a["name"] for a in self.alerts],
            "charts": self.charts,
        })
