"""Envoy Gateway objects of one endpoint, as plain manifests (pure; the component applies them).

- GatewayClass `gpufleet-envoy` (cluster-scoped, one per cluster) for Envoy Gateway's controller.
- EnvoyProxy `<gateway>`: proxy replicas, resources, PodDisruptionBudget, and its own Service as
  ClusterIP (the cloud load balancer is gpufleet's Service, see service.py).
- Gateway `<gateway>`: listeners http 8000 (always; the health-check target), https 8443 (TLS at
  Envoy: gcp, azure) and grpc 8001; `infrastructure.parametersRef` names the EnvoyProxy.
- HTTPRoute `<gateway>` (all HTTP), `<gateway>-health` (Exact /v2/health/ready, never rate
  limited: the load balancer and DNS health checks use it), one HTTPRoute `<gateway>-m-<model>` per
  rate-limited model (PathPrefix /v2/models/<model>: the longest prefix wins), GRPCRoute
  `<gateway>-grpc`; all to the TritonService's Service.
- BackendTrafficPolicy per route: request timeout and local rate limits (per distinct tenant, per
  tenant, per model, default). Local limits count per Envoy replica, so each limit is divided by the
  replica count (rounded up).

Schemas: Gateway API v1 (standard channel, v1.6 as bundled by Envoy Gateway v1.9) and Envoy Gateway
v1alpha1 (v1.9.3); test data under tests/data/crds.
"""

from __future__ import annotations

from typing import Any

from .args import HEALTH_PATH, EndpointSpec, Limit, RateLimitRule, limited_models, per_replica, route_key_names
from .service import LISTENER_GRPC, LISTENER_HTTP, LISTENER_HTTPS, terminates_at_envoy

GATEWAY_API = "gateway.networking.k8s.io"
ENVOY_API = "gateway.envoyproxy.io"
GATEWAY_CLASS = "gpufleet-envoy"
CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller"
# Envoy Gateway: the chart also installs the Gateway API CRDs it supports (v1.6 for v1.9.x).
ENVOY_GATEWAY_CHART = ("oci://docker.io/envoyproxy/gateway-helm", "v1.9.3")  # release notes dated 2026-10-03
PROXY_RESOURCES = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}


def gateway_class() -> dict[str, Any]:
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": GATEWAY_CLASS},
        "spec": {"controllerName": CONTROLLER_NAME, "description": "gpufleet inference edge (Envoy Gateway)"},
    }


def envoy_proxy(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    kubernetes: dict[str, Any] = {
        "envoyDeployment": {"replicas": replicas, "container": {"resources": PROXY_RESOURCES}},
        "envoyService": {"type": "ClusterIP"},
    }
    if replicas > 1:
        kubernetes["envoyPDB"] = {"minAvailable": 1}
    return {
        "apiVersion": f"{ENVOY_API}/v1alpha1",
        "kind": "EnvoyProxy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"provider": {"type": "Kubernetes", "kubernetes": kubernetes}},
    }


def listeners(cloud: str, spec: EndpointSpec, namespace: str, tls_secret: str | None) -> list[dict[str, Any]]:
    same = {"namespaces": {"from": "Same"}}
    http_routes = {**same, "kinds": [{"group": GATEWAY_API, "kind": "HTTPRoute"}]}
    out: list[dict[str, Any]] = [
        {"name": "http", "port": LISTENER_HTTP, "protocol": "HTTP", "allowedRoutes": http_routes},
    ]
    at_envoy = terminates_at_envoy(cloud, spec)
    tls = {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": tls_secret,
                                                     "namespace": namespace}]} if at_envoy else None
    if at_envoy:
        out.append({"name": "https", "port": LISTENER_HTTPS, "protocol": "HTTPS", "tls": tls,
                    "allowedRoutes": http_routes})
    if spec.grpc:
        grpc: dict[str, Any] = {"name": "grpc", "port": LISTENER_GRPC, "protocol": "HTTPS" if at_envoy else "HTTP",
                                "allowedRoutes": {**same, "kinds": [{"group": GATEWAY_API, "kind": "GRPCRoute"}]}}
        if at_envoy:
            grpc["tls"] = tls
        out.append(grpc)
    return out


def gateway(name: str, namespace: str, cloud: str, spec: EndpointSpec, tls_secret: str | None,
            labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "gatewayClassName": GATEWAY_CLASS,
            "infrastructure": {"parametersRef": {"group": ENVOY_API, "kind": "EnvoyProxy", "name": name}},
            "listeners": listeners(cloud, spec, namespace, tls_secret),
        },
    }


def _parent_refs(gateway_name: str, sections: list[str]) -> list[dict[str, Any]]:
    return [{"group": GATEWAY_API, "kind": "Gateway", "name": gateway_name, "sectionName": s} for s in sections]


def http_routes(gateway_name: str, namespace: str, cloud: str, spec: EndpointSpec, backend: str, backend_port: int,
                labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Route key (http, model:<name>) -> HTTPRoute."""
    sections = ["http"] + (["https"] if terminates_at_envoy(cloud, spec) else [])
    backend_refs = [{"group": "", "kind": "Service", "name": backend, "port": backend_port}]

    def route(name: str, prefix: str, match: str = "PathPrefix") -> dict[str, Any]:
        return {
            "apiVersion": f"{GATEWAY_API}/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "parentRefs": _parent_refs(gateway_name, sections),
                "rules": [{"matches": [{"path": {"type": match, "value": prefix}}],
                           "backendRefs": backend_refs}],
            },
        }

    out = {"http": route(gateway_name, "/"),
           # Load balancer and DNS health checks: an Exact match wins over every prefix and carries no
           # rate limit, so exhausted limits never fail the health checks (and the failover with them).
           "health": route(f"{gateway_name}-health", HEALTH_PATH, "Exact")}
    for model, suffix in route_key_names(limited_models(spec)).items():
        out[f"model:{model}"] = route(f"{gateway_name}-m-{suffix}", f"/v2/models/{model}")
    return out


def grpc_route(gateway_name: str, namespace: str, backend: str, backend_port: int,
               labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "GRPCRoute",
        "metadata": {"name": f"{gateway_name}-grpc", "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "parentRefs": _parent_refs(gateway_name, ["grpc"]),
            "rules": [{"backendRefs": [{"group": "", "kind": "Service", "name": backend,
                                                         "port": backend_port}]}],
        },
    }


def _rule(limit: Limit, replicas: int, header: str | None = None, value: str | None = None,
          distinct: bool = False) -> dict[str, Any]:
    rule: dict[str, Any] = {"limit": {"requests": per_replica(limit, replicas), "unit": limit.unit}}
    if distinct:
        rule["clientSelectors"] = [{"headers": [{"name": header, "type": "Distinct"}]}]
    elif value is not None:
        rule["clientSelectors"] = [{"headers": [{"name": header, "type": "Exact", "value": value}]}]
    return rule


def rate_limit_rules(spec: EndpointSpec, route_key: str, replicas: int) -> list[dict[str, Any]]:
    """Local rate limit rules of one route: model rules (model routes only), tenant rules, per-tenant, default."""
    rl = spec.rate_limits
    header = rl.tenant_header
    rules: list[dict[str, Any]] = []
    if route_key == "health":
        return rules
    model = route_key.removeprefix("model:") if route_key.startswith("model:") else None
    applicable: list[RateLimitRule] = [r for r in rl.rules if r.model is None or r.model == model]
    for r in sorted(applicable, key=lambda r: (r.model or "", r.tenant or "")):
        rules.append(_rule(r, replicas, header, r.tenant))
    if rl.per_tenant is not None:
        rules.append(_rule(rl.per_tenant, replicas, header, distinct=True))
    if rl.default is not None:
        rules.append(_rule(rl.default, replicas))
    return rules


def traffic_policy(route: dict[str, Any], spec: EndpointSpec, route_key: str, replicas: int,
                   labels: dict[str, str]) -> dict[str, Any]:
    """The BackendTrafficPolicy of one route: request timeout, and local rate limits when any apply."""
    meta = route["metadata"]
    body: dict[str, Any] = {
        "targetRefs": [{"group": GATEWAY_API, "kind": route["kind"], "name": meta["name"]}],
        "timeout": {"http": {"requestTimeout": f"{spec.request_timeout_seconds}s"}},
    }
    rules = rate_limit_rules(spec, route_key, replicas)
    if rules:
        body["rateLimit"] = {"type": "Local", "local": {"rules": rules}}
    return {
        "apiVersion": f"{ENVOY_API}/v1alpha1",
        "kind": "BackendTrafficPolicy",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": dict(labels)},
        "spec": body,
    }
