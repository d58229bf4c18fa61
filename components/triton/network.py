"""What Triton's pods may send and receive (pure; the TritonService creates these as NetworkPolicies
in its namespace, next to the namespace's default deny and DNS allow from the platform).

- `<svc>-allow-serving`, the serving pods (floor, burst, canary):
  ingress from the Envoy Gateway proxy pods (namespace envoy-gateway-system, labelled with the
  owning Gateway's namespace = ours) on HTTP and gRPC, and from Prometheus on the metrics port;
  egress on TCP 443 anywhere but IMDS: the model store (S3, GCS, Azure Blob: public or VPC/private
  endpoints, addresses unknown offline) and the workload-identity token exchange (EKS IRSA: STS;
  AKS: Entra ID login). On GKE, workload identity asks the GKE metadata server: 169.254.169.254:80
  and, with Dataplane V2, 169.254.169.252:988 (GKE's documented allow for network policies).
  Every port is the constant the Service and the container use (components.triton.args).
- `<svc>-scaler-allow-kube-api`, the scheduled-window CronJob pods: egress to the API server.

Other in-cluster clients of the Service need an allow of their own (policies are additive).
"""

from __future__ import annotations

from typing import Any

from ..cluster.imds import PROMETHEUS_POD_LABEL
from ..cluster.network_policies import (
    address,
    egress,
    ingress,
    kube_api_egress,
    outside,
    pods,
    policy,
    ports,
)
from ..load_balancer.service import ENVOY_NAMESPACE, OWNING_GATEWAY_NAMESPACE
from ..monitoring.in_cluster.charts import MONITORING_NAMESPACE
from .args import GRPC_PORT, HTTP_PORT, METRICS_PORT

COMPONENT_LABEL = "app.kubernetes.io/component"  # = service.COMPONENT_LABEL (the coverage test checks)
SERVING_ROLES = ("burst", "canary", "floor")  # the Deployments' app.kubernetes.io/component
SCALER_ROLE = "scaler"
STORE_PORT = 443  # HTTPS: S3/GCS/Blob and STS/Entra ID
GKE_METADATA = (("169.254.169.254/32", 80), ("169.254.169.252/32", 988))


def envoy_proxies(namespace: str) -> dict[str, Any]:
    """The Envoy Gateway proxy pods of every Gateway in `namespace` (they run in ENVOY_NAMESPACE)."""
    return pods({OWNING_GATEWAY_NAMESPACE: namespace}, ENVOY_NAMESPACE)


def prometheus() -> dict[str, Any]:
    key, value = PROMETHEUS_POD_LABEL
    return pods({key: value}, MONITORING_NAMESPACE)


def triton_policies(*, namespace: str, service_name: str, pod_labels: dict[str, str], cloud: str,
                    scaler: bool) -> list[dict[str, Any]]:
    """The NetworkPolicy manifests of one TritonService (`pod_labels`: its name/instance labels)."""
    serving_egress = [egress([outside()], ports(STORE_PORT))]
    if cloud == "gcp":
        serving_egress += [egress([address(cidr)], ports(port)) for cidr, port in GKE_METADATA]
    out = [policy(
        f"{service_name}-allow-serving", namespace,
        {"matchLabels": dict(sorted(pod_labels.items())),
         "matchExpressions": [{"key": COMPONENT_LABEL, "operator": "In", "values": list(SERVING_ROLES)}]},
        ingress_rules=[
            ingress([envoy_proxies(namespace)], ports(HTTP_PORT, GRPC_PORT)),
            ingress([prometheus()], ports(METRICS_PORT)),
        ],
        egress_rules=serving_egress, labels=pod_labels,
    )]
    if scaler:
        out.append(policy(
            f"{service_name}-scaler-allow-kube-api", namespace,
            {"matchLabels": dict(sorted({**pod_labels, COMPONENT_LABEL: SCALER_ROLE}.items()))},
            egress_rules=[kube_api_egress()], labels=pod_labels,
        ))
    return out
