"""What the monitoring pods may send and receive (pure; `GpuMonitoring` creates these as
NetworkPolicies in the two namespaces it owns, each with a default deny and DNS egress).

gpufleet-monitoring (kube-prometheus-stack with fullnameOverride gpufleet, prometheus-adapter):

- every pod -> the Kubernetes API server (TCP 443/6443 anywhere but IMDS; its address is not
  knowable offline): Prometheus discovers targets, Grafana's sidecar reads dashboard ConfigMaps,
  the operator, kube-state-metrics, the adapter and the admission-webhook Jobs all watch the API.
- Prometheus: in from Grafana and prometheus-adapter (9090) and itself (9090, config-reloader
  8080); out to every scrape port in any namespace (SCRAPE_PORTS), to Alertmanager (9093) and to
  node addresses for the kubelet (10250) and the hostNetwork node-exporter (9100). On AKS its
  egress stays open: Cilium never matches node addresses with an ipBlock (the reason the IMDS
  policy exempts it too); Prometheus carries no cloud identity.
- Alertmanager: in from Prometheus (9093, reloader 8080) and Grafana (9093), and its peers on the
  cluster port 9094 (TCP+UDP; prod runs two); out to its peers on 9094.
- Grafana: in from Prometheus (3000, its ServiceMonitor); out to Prometheus and Alertmanager.
  People reach it with `kubectl port-forward`, which NetworkPolicy does not see.
- kube-state-metrics: in from Prometheus (8080).
- Prometheus Operator: in on its webhook port 10250 from the API server (anywhere but IMDS, or
  the konnectivity agents in kube-system) and from Prometheus.
- prometheus-adapter: in on 6443 from the API server (the custom.metrics.k8s.io APIService, same
  peers as the webhook); out to Prometheus (9090).

gpufleet-node-agents: dcgm-exporter in from Prometheus (9400); node-exporter in from Prometheus
(9100; it runs on the host network, where NetworkPolicy does not apply: listed for the record).

Chart-defaulted ports (`*_PORT` below) are the pinned charts' defaults; tests check each against
the vendored chart values (tests/data/charts) and the rendered Services.
"""

from __future__ import annotations

from typing import Any

from ...cluster.imds import PROMETHEUS_POD_LABEL
from ...cluster.network_policies import (
    ANY_NAMESPACE,
    KUBE_SYSTEM,
    egress,
    ingress,
    kube_api_egress,
    namespace_baseline,
    namespace_pods,
    outside,
    pods,
    policy,
    ports,
)
from .charts import MONITORING_NAMESPACE, NODE_AGENTS_NAMESPACE, PROMETHEUS_PORT, TRITON_METRICS_PORT

# Pod labels of the chart workloads (app.kubernetes.io/name unless the chart uses `app`).
PROMETHEUS = dict([PROMETHEUS_POD_LABEL])
ALERTMANAGER = {"app.kubernetes.io/name": "alertmanager"}
GRAFANA = {"app.kubernetes.io/name": "grafana"}
KUBE_STATE_METRICS = {"app.kubernetes.io/name": "kube-state-metrics"}
OPERATOR = {"app": "kube-prometheus-stack-operator"}
ADAPTER = {"app.kubernetes.io/name": "prometheus-adapter"}
DCGM_EXPORTER = {"app.kubernetes.io/name": "dcgm-exporter"}
NODE_EXPORTER = {"app.kubernetes.io/name": "prometheus-node-exporter"}

# Ports as the pinned charts render them (defaults; gpufleet's values do not change them).
RELOADER_PORT = 8080  # kube-prometheus-stack prometheusOperator.prometheusConfigReloader reloaderWebPort
ALERTMANAGER_PORT = 9093  # alertmanager.service.targetPort
ALERTMANAGER_CLUSTER_PORT = 9094  # Alertmanager's --cluster.listen-address
GRAFANA_PORT = 3000  # grafana.service.targetPort
KUBE_STATE_METRICS_PORT = 8080  # kube-state-metrics service.port
OPERATOR_PORT = 10250  # prometheusOperator.admissionWebhooks.deployment / tls internalPort
ADAPTER_PORT = 6443  # prometheus-adapter listenPort
DCGM_EXPORTER_PORT = 9400  # dcgm-exporter service.port
NODE_EXPORTER_PORT = 9100  # prometheus-node-exporter service.port
KUBELET_PORT = 10250
COREDNS_METRICS_PORT = 9153  # kube-prometheus-stack coreDns.service.targetPort
KARPENTER_METRICS_PORT = 8080  # karpenter controller.metrics.port (its ServiceMonitor, kube-system)

# Every pod port Prometheus scrapes, in any namespace (ServiceMonitors may come from anywhere).
SCRAPE_PORTS = tuple(sorted({
    TRITON_METRICS_PORT, DCGM_EXPORTER_PORT, NODE_EXPORTER_PORT, KUBE_STATE_METRICS_PORT, PROMETHEUS_PORT,
    RELOADER_PORT, ALERTMANAGER_PORT, GRAFANA_PORT, OPERATOR_PORT, COREDNS_METRICS_PORT, KARPENTER_METRICS_PORT,
}))
NODE_PORTS = (KUBELET_PORT, NODE_EXPORTER_PORT)  # on node addresses


def _api_server() -> list[dict[str, Any]]:
    """The API server calling a webhook / aggregated API: from outside, or via konnectivity."""
    return [outside(), namespace_pods(KUBE_SYSTEM)]


def monitoring_policies(cloud: str) -> list[dict[str, Any]]:
    ns = MONITORING_NAMESPACE
    prometheus, grafana, adapter = pods(PROMETHEUS), pods(GRAFANA), pods(ADAPTER)
    alertmanager = pods(ALERTMANAGER)
    if cloud == "azure":
        prometheus_egress = [egress([], None)]  # everything: see the module docstring
    else:
        prometheus_egress = [
            egress([pods(None, ANY_NAMESPACE)], ports(*SCRAPE_PORTS)),
            egress([outside()], ports(*NODE_PORTS)),
            egress([alertmanager], ports(ALERTMANAGER_PORT)),
        ]
    return [
        *namespace_baseline(ns),
        policy("gpufleet-allow-kube-api", ns, {}, egress_rules=[kube_api_egress()]),
        policy("gpufleet-prometheus", ns, {"matchLabels": PROMETHEUS},
               ingress_rules=[ingress([grafana, adapter], ports(PROMETHEUS_PORT)),
                              ingress([prometheus], ports(PROMETHEUS_PORT, RELOADER_PORT))],
               egress_rules=prometheus_egress),
        policy("gpufleet-alertmanager", ns, {"matchLabels": ALERTMANAGER},
               ingress_rules=[ingress([prometheus], ports(ALERTMANAGER_PORT, RELOADER_PORT)),
                              ingress([grafana], ports(ALERTMANAGER_PORT)),
                              ingress([alertmanager], ports(ALERTMANAGER_CLUSTER_PORT)
                                      + ports(ALERTMANAGER_CLUSTER_PORT, protocol="UDP"))],
               egress_rules=[egress([alertmanager], ports(ALERTMANAGER_CLUSTER_PORT)
                                    + ports(ALERTMANAGER_CLUSTER_PORT, protocol="UDP"))]),
        policy("gpufleet-grafana", ns, {"matchLabels": GRAFANA},
               ingress_rules=[ingress([prometheus], ports(GRAFANA_PORT))],
               egress_rules=[egress([prometheus], ports(PROMETHEUS_PORT)),
                             egress([alertmanager], ports(ALERTMANAGER_PORT))]),
        policy("gpufleet-kube-state-metrics", ns, {"matchLabels": KUBE_STATE_METRICS},
               ingress_rules=[ingress([prometheus], ports(KUBE_STATE_METRICS_PORT))]),
        policy("gpufleet-prometheus-operator", ns, {"matchLabels": OPERATOR},
               ingress_rules=[ingress([*_api_server(), prometheus], ports(OPERATOR_PORT))]),
        policy("gpufleet-prometheus-adapter", ns, {"matchLabels": ADAPTER},
               ingress_rules=[ingress(_api_server(), ports(ADAPTER_PORT))],
               egress_rules=[egress([prometheus], ports(PROMETHEUS_PORT))]),
    ]


def node_agent_policies() -> list[dict[str, Any]]:
    ns = NODE_AGENTS_NAMESPACE
    prometheus = pods(PROMETHEUS, MONITORING_NAMESPACE)
    return [
        *namespace_baseline(ns),
        policy("gpufleet-dcgm-exporter", ns, {"matchLabels": DCGM_EXPORTER},
               ingress_rules=[ingress([prometheus], ports(DCGM_EXPORTER_PORT))]),
        policy("gpufleet-node-exporter", ns, {"matchLabels": NODE_EXPORTER},
               ingress_rules=[ingress([prometheus], ports(NODE_EXPORTER_PORT))]),
    ]
