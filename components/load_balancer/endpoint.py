"""`InferenceEndpoint`: a TritonService behind the cloud's load balancer, with edge rate limits.

Children (names prefixed with the component name):

- `-envoy-gateway`: the Envoy Gateway Helm release (pinned, namespace envoy-gateway-system), and
  `-gatewayclass` (cluster-scoped; `gateway_class: existing` skips both when another endpoint in the
  cluster installed them).
- aws: `-aws-lb-controller-irsa` (+ `-policy`) and `-aws-lb-controller`: the AWS Load Balancer
  Controller (Helm, kube-system) with its IRSA role (see aws.py).
- `-proxy` EnvoyProxy, `-gateway` Gateway, `-route` / `-route-health` / `-route-m-<model>` HTTPRoutes,
  `-grpc-route` GRPCRoute, and a BackendTrafficPolicy per route (`-policy...`, `-grpc-policy`), all in
  the serving namespace (see gateway.py).
- `-lb`: the LoadBalancer Service (envoy-gateway-system) selecting the Envoy proxy pods; it carries
  the per-cloud annotations and source ranges (see service.py).

Canary: the TritonService's canary is a replica-ratio Deployment behind the same Service (no
Service- or Gateway-level traffic split), so the endpoint has one backend and nothing to split; a
weighted split would need two Services and `backendRefs` weights here.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import ConfigDict, Field, model_validator

from .._model import Args
from .args import GRPC_PORT, HTTP_PORT, EndpointSpec, endpoint_ports, tls_problem
from .gateway import (
    ENVOY_GATEWAY_CHART,
    envoy_proxy,
    gateway,
    gateway_class,
    grpc_route,
    http_routes,
    traffic_policy,
)
from .service import ENVOY_NAMESPACE, service_annotations, service_spec

TYPE_TOKEN = "gpufleet:load_balancer:InferenceEndpoint"
MANAGED = {"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"}


class InferenceEndpointArgs(Args):
    """Inputs of `InferenceEndpoint` (one region)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    spec: EndpointSpec = Field(..., description="The region's endpoint block.")
    target: Any = Field(..., description="The cluster's KubernetesTarget (provider, cloud, region, identity).")
    service: Any = Field(..., description="The TritonService (service_name, namespace) to expose.")
    environment: str = Field(..., description="dev, staging or prod.")
    cluster: Any = Field(None, description="The cluster's ClusterBuild (aws: cluster_name and network_id = VPC id). "
                                           "Required on aws.")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags for cloud resources (aws IAM role).")
    gateway_class: str = Field("create", pattern="^(create|existing)$",
                               description="create (default): install Envoy Gateway, the GatewayClass and (aws) the "
                               "load balancer controller; existing: another endpoint in this cluster did.")
    traffic_manager: bool = Field(False, description="azure: this endpoint is a Traffic Manager target (allow its "
                                                     "probes through source ranges). Default false.")

    @model_validator(mode="after")
    def _fits(self) -> "InferenceEndpointArgs":
        cloud = self.target.cloud
        if self.spec.tls is not None and (problem := tls_problem(cloud, self.spec.tls.certificate)):
            raise ValueError(f"tls.certificate: {problem}")
        if cloud == "aws" and self.gateway_class == "create" and self.cluster is None:
            raise ValueError("aws needs the ClusterBuild (cluster name and VPC id for the load balancer controller)")
        return self


class InferenceEndpoint(pulumi.ComponentResource):
    """Outputs: `address` (LB hostname or IP, known after deploy), `ports` (http, grpc), `scheme`
    (http/https), `url`, `grpc_target`, `gateway_name`, `service` (the LB Service), `routes`, `policies`."""

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec, target = args.spec, args.target
        cloud = target.cloud
        self.args = args
        self.cloud = cloud
        svc = args.service.service_name
        ns = args.service.namespace
        self.gateway_name = f"{svc}-edge"
        labels = {**MANAGED, "app.kubernetes.io/name": "gpufleet-edge", "app.kubernetes.io/instance": svc}
        child = pulumi.ResourceOptions(parent=self, provider=target.provider)
        replicas = spec.replicas(args.environment)

        installs: list[pulumi.Resource] = []
        if args.gateway_class == "create":
            chart, version = ENVOY_GATEWAY_CHART
            self.envoy_gateway = k8s.helm.v3.Release(
                f"{name}-envoy-gateway",
                k8s.helm.v3.ReleaseArgs(
                    name="envoy-gateway", chart=chart, version=version, namespace=ENVOY_NAMESPACE,
                    create_namespace=True, atomic=True, cleanup_on_fail=True, values={},
                ),
                opts=child,
            )
            gc = gateway_class()
            self.gateway_class = k8s.apiextensions.CustomResource(
                f"{name}-gatewayclass", api_version=gc["apiVersion"], kind=gc["kind"],
                metadata=k8s.meta.v1.ObjectMetaArgs(name=gc["metadata"]["name"], labels=dict(MANAGED)),
                spec=gc["spec"], opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                    depends_on=[self.envoy_gateway])),
            )
            installs += [self.envoy_gateway, self.gateway_class]
            if cloud == "aws":
                from .aws import load_balancer_controller

                installs.append(load_balancer_controller(self, name, target, args.cluster, args.tags))
        else:
            self.envoy_gateway = None
            self.gateway_class = None
        after = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=installs))

        tls_secret = None
        if spec.tls is not None and cloud == "gcp":
            tls_secret = spec.tls.certificate
        elif spec.tls is not None and cloud == "azure":
            tls_secret = spec.tls.secret_name or f"{svc}-tls"

        def apply(suffix: str, obj: dict[str, Any], deps: list[pulumi.Resource] | None = None):
            meta = obj["metadata"]
            return k8s.apiextensions.CustomResource(
                f"{name}-{suffix}", api_version=obj["apiVersion"], kind=obj["kind"],
                metadata=k8s.meta.v1.ObjectMetaArgs(name=meta["name"], namespace=meta.get("namespace"),
                                                    labels=meta.get("labels") or dict(labels)),
                spec=obj["spec"],
                opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(depends_on=deps or [])),
            )

        self.proxy = apply("proxy", envoy_proxy(self.gateway_name, ns, replicas))
        self.gateway = apply("gateway", gateway(self.gateway_name, ns, cloud, spec, tls_secret, labels), [self.proxy])
        self.routes: dict[str, k8s.apiextensions.CustomResource] = {}
        self.policies: dict[str, k8s.apiextensions.CustomResource] = {}
        manifests = http_routes(self.gateway_name, ns, cloud, spec, svc, HTTP_PORT, labels)
        if spec.grpc:
            manifests["grpc"] = grpc_route(self.gateway_name, ns, svc, GRPC_PORT, labels)
        for key, route in manifests.items():
            suffix = "grpc-route" if key == "grpc" else "route" + route["metadata"]["name"].removeprefix(self.gateway_name)
            self.routes[key] = apply(suffix, route, [self.gateway])
            policy = traffic_policy(route, spec, key, replicas, labels)
            self.policies[key] = apply(suffix.replace("route", "policy", 1), policy, [self.routes[key]])

        self.service = k8s.core.v1.Service(
            f"{name}-lb",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.gateway_name, namespace=ENVOY_NAMESPACE, labels=dict(labels),
                annotations=service_annotations(cloud, spec, traffic_manager=args.traffic_manager),
            ),
            spec=service_spec(cloud, spec, self.gateway_name, ns),
            opts=pulumi.ResourceOptions.merge(after, pulumi.ResourceOptions(
                depends_on=[self.gateway, *self.routes.values()])),
        )

        def address(status: Any) -> str:
            ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
            first = ingress[0] if ingress else None
            return (first.hostname or first.ip or "") if first else ""

        self.address: pulumi.Output[str] = self.service.status.apply(address)
        self.ports = endpoint_ports(spec)
        self.scheme = "https" if spec.tls is not None else "http"
        default_port = 443 if spec.tls is not None else 80
        port = self.ports["http"]
        self.url = self.address.apply(
            lambda a: f"{self.scheme}://{a}" + ("" if port == default_port else f":{port}"))
        self.grpc_target = self.address.apply(lambda a: f"{a}:{GRPC_PORT}") if spec.grpc else None
        self.register_outputs({
            "address": self.address,
            "url": self.url,
            "grpcTarget": self.grpc_target,
            "ports": self.ports,
            "exposure": spec.exposure,
            "gatewayName": self.gateway_name,
            "rateLimitedModels": sorted(k.removeprefix("model:") for k in self.routes if k.startswith("model:")),
        })

    def outputs(self) -> dict[str, Any]:
        """The region's `endpoint` stack outputs."""
        return {"address": self.address, "url": self.url, "grpcTarget": self.grpc_target, "ports": self.ports,
                "exposure": self.args.spec.exposure, "tls": self.args.spec.tls is not None}
