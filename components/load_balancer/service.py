"""The load balancer Service in front of the Envoy proxy pods: ports and per-cloud annotations.

Pure (plain dicts, no cloud SDK). Envoy Gateway creates its own proxy Service as ClusterIP (see
`gateway.envoy_proxy`); gpufleet creates this LoadBalancer Service itself, selecting the proxy pods by
Envoy Gateway's owning-gateway labels, so the cloud annotations land on the Service that really gets
the cloud load balancer and its status (hostname / IP) can be read back for DNS failover.

Envoy listens on unprivileged container ports (8000 http, 8443 https, 8001 grpc: Envoy Gateway only
shifts ports below 1024), so the health-check port is a fixed number on every cloud.

Health checks, per cloud:

- aws: NLB (AWS Load Balancer Controller, target type ip: the Envoy pods are the targets). Every
  target group checks HTTP GET /v2/health/ready on port 8000, which Envoy routes to Triton: a target
  is healthy only while Envoy has a ready Triton pod behind it. Cross-zone load balancing on.
- azure: Standard Load Balancer probes HTTP /v2/health/ready; every port's probe is redirected to
  port 8000 (`port_<p>_health-probe_port`), a Service port without a load-balancing rule
  (`port_8000_no_lb_rule`). externalTrafficPolicy stays Cluster: with Local, AKS ignores the probe
  annotations and probes kube-proxy's healthCheckNodePort instead.
- gcp: a GKE passthrough load balancer cannot probe an HTTP path on the pods: it health-checks nodes
  (externalTrafficPolicy Local: only nodes running a ready Envoy pod receive traffic). Triton
  readiness is enforced by the pods' readiness probes (Envoy only routes to ready Triton endpoints)
  and, with DNS failover, by the Cloud DNS health check on /v2/health/ready through the load balancer.
"""

from __future__ import annotations

from typing import Any

from .args import GRPC_PORT, HEALTH_PATH, EndpointSpec, endpoint_ports

ENVOY_NAMESPACE = "envoy-gateway-system"
# Envoy container ports of the Gateway listeners (>= 1024: Envoy Gateway maps them 1:1).
LISTENER_HTTP, LISTENER_HTTPS, LISTENER_GRPC = 8000, 8443, GRPC_PORT
OWNING_GATEWAY_NAME = "gateway.envoyproxy.io/owning-gateway-name"
OWNING_GATEWAY_NAMESPACE = "gateway.envoyproxy.io/owning-gateway-namespace"
AWS_NLB_CLASS = "service.k8s.aws/nlb"

AWS = "service.beta.kubernetes.io/aws-load-balancer-"
AZURE = "service.beta.kubernetes.io/"
GKE_LB_TYPE = "networking.gke.io/load-balancer-type"
GKE_GLOBAL_ACCESS = "networking.gke.io/internal-load-balancer-allow-global-access"


def terminates_at_envoy(cloud: str, spec: EndpointSpec) -> bool:
    """TLS terminates at Envoy (gcp, azure); on aws the NLB terminates it with the ACM certificate."""
    return spec.tls is not None and cloud != "aws"


def service_ports(cloud: str, spec: EndpointSpec) -> list[dict[str, Any]]:
    """The load balancer Service's ports (name, port, targetPort = Envoy container port)."""
    ports = endpoint_ports(spec)
    http_target = LISTENER_HTTPS if terminates_at_envoy(cloud, spec) else LISTENER_HTTP
    out = [{"name": "https" if spec.tls is not None else "http", "port": ports["http"], "targetPort": http_target,
            "protocol": "TCP"}]
    if "grpc" in ports:
        # Named for what travels on the wire: gRPC over TLS when TLS is on (so scanners and the
        # policy pack see an encrypted port).
        out.append({"name": "grpcs" if spec.tls is not None else "grpc", "port": ports["grpc"],
                    "targetPort": LISTENER_GRPC, "protocol": "TCP"})
    if cloud == "azure" and http_target != LISTENER_HTTP:
        # The probe target only: no load-balancing rule is created for it (port_8000_no_lb_rule).
        out.append({"name": "health", "port": LISTENER_HTTP, "targetPort": LISTENER_HTTP, "protocol": "TCP"})
    return out


def service_annotations(cloud: str, spec: EndpointSpec, *, traffic_manager: bool = False) -> dict[str, str]:
    """Annotations of the load balancer Service on `cloud` (gpufleet's win over `spec.annotations`).

    `traffic_manager` (azure): allow Traffic Manager's probes through the source-range NSG rules."""
    internal = spec.exposure == "internal"
    ann: dict[str, str] = {}
    if cloud == "aws":
        ann = {
            f"{AWS}type": "external",
            f"{AWS}nlb-target-type": "ip",
            f"{AWS}scheme": "internal" if internal else "internet-facing",
            f"{AWS}healthcheck-protocol": "HTTP",
            f"{AWS}healthcheck-port": str(LISTENER_HTTP),
            f"{AWS}healthcheck-path": HEALTH_PATH,
            f"{AWS}healthcheck-interval": "10",
            f"{AWS}healthcheck-timeout": "6",
            f"{AWS}healthcheck-healthy-threshold": "2",
            f"{AWS}healthcheck-unhealthy-threshold": "2",
            f"{AWS}attributes": "load_balancing.cross_zone.enabled=true",
            # Envoy drains for up to 30 s; don't keep sending new flows to a deregistering pod longer.
            f"{AWS}target-group-attributes": "deregistration_delay.timeout_seconds=30",
        }
        if spec.tls is not None:
            tls_ports = [str(p["port"]) for p in service_ports(cloud, spec)]
            ann |= {
                f"{AWS}ssl-cert": spec.tls.certificate,
                f"{AWS}ssl-ports": ",".join(tls_ports),
                f"{AWS}ssl-negotiation-policy": spec.tls.ssl_policy,
                # gRPC clients require h2 through ALPN; HTTP/1.1 clients still work.
                f"{AWS}alpn-policy": "HTTP2Optional",
            }
    elif cloud == "gcp":
        if internal:
            ann = {GKE_LB_TYPE: "Internal",
                   # Clients in the primary region must reach the standby's internal LB after a failover.
                   GKE_GLOBAL_ACCESS: "true"}
    elif cloud == "azure":
        ann = {
            f"{AZURE}azure-load-balancer-health-probe-protocol": "http",
            f"{AZURE}azure-load-balancer-health-probe-request-path": HEALTH_PATH,
        }
        if internal:
            ann[f"{AZURE}azure-load-balancer-internal"] = "true"
        for p in service_ports(cloud, spec):
            if p["port"] == LISTENER_HTTP and p["name"] == "health":
                ann[f"{AZURE}port_{LISTENER_HTTP}_no_lb_rule"] = "true"
            else:
                ann[f"{AZURE}port_{p['port']}_health-probe_port"] = str(LISTENER_HTTP)
        if traffic_manager and spec.source_ranges and not internal:
            ann[f"{AZURE}azure-allowed-service-tags"] = "AzureTrafficManager"
    else:
        raise ValueError(f"unknown cloud {cloud!r}")
    return {**spec.annotations, **ann}


def external_traffic_policy(cloud: str) -> str:
    """gcp: Local (node health = a ready Envoy pod on the node; client IPs preserved); else Cluster (AKS
    probe annotations only apply with Cluster; NLB ip targets bypass kube-proxy anyway)."""
    return "Local" if cloud == "gcp" else "Cluster"


def proxy_selector(gateway_name: str, gateway_namespace: str) -> dict[str, str]:
    """Labels Envoy Gateway puts on the proxy pods of one Gateway."""
    return {OWNING_GATEWAY_NAME: gateway_name, OWNING_GATEWAY_NAMESPACE: gateway_namespace}


def service_spec(cloud: str, spec: EndpointSpec, gateway_name: str, gateway_namespace: str) -> dict[str, Any]:
    """The Service spec (camelCase) of the load balancer Service."""
    out: dict[str, Any] = {
        "type": "LoadBalancer",
        "selector": proxy_selector(gateway_name, gateway_namespace),
        "ports": service_ports(cloud, spec),
        "externalTrafficPolicy": external_traffic_policy(cloud),
    }
    if cloud == "aws":
        out["loadBalancerClass"] = AWS_NLB_CLASS
    if spec.source_ranges:
        out["loadBalancerSourceRanges"] = list(spec.source_ranges)
    return out
