"""InferenceEndpoint and DNS failover on EKS under the recording mocks.

Two regions (r1 primary in us-east-1, r2 standby in us-west-2), each: cluster, GPU pool, model
store, TritonService and an external TLS endpoint with rate limits; then Route53 failover.
"""

from __future__ import annotations

import json

import pytest

from infra.plan.report import manifest
from tests.components.test_endpoint_support import (
    BTP,
    GATEWAY,
    GRPCROUTE,
    HTTPROUTE,
    NS,
    RELEASE,
    by_kind,
    endpoint_objects,
    lb_service,
    run_region_endpoints,
    validate_object,
)
from tests.support import assert_explicit_providers

ACM = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
A = "service.beta.kubernetes.io/aws-load-balancer-"
ENDPOINT = {
    "exposure": "external",
    "source_ranges": ["203.0.113.0/24", "198.51.100.0/24"],
    "tls": {"certificate": ACM},
    "rate_limits": {
        "default": {"requests": 200},
        "per_tenant": {"requests": 40},
        "rules": [{"model": "ranker", "requests": 20}, {"tenant": "acme", "requests": 100}],
    },
}
FAILOVER = {"dns_name": "infer.example.com", "zone": "Z0123456789ABCDEFGHIJ",
            "health_check": {"interval_seconds": 10, "failure_threshold": 3}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_region_endpoints("aws", ENDPOINT, tmp_path_factory.mktemp("aws"), failover=FAILOVER)


@pytest.fixture(scope="module")
def internal_run(tmp_path_factory):
    return run_region_endpoints("aws", {"exposure": "internal", "grpc": False}, tmp_path_factory.mktemp("aws-int"),
                                environment="dev")


def test_every_object_is_schema_valid(run, internal_run) -> None:
    objs = endpoint_objects(run) + endpoint_objects(run, "r2-endpoint") + endpoint_objects(internal_run)
    assert {o["kind"] for o in objs} == {"GatewayClass", "EnvoyProxy", "Gateway", "HTTPRoute", "GRPCRoute",
                                         "BackendTrafficPolicy", "Service"}
    for obj in objs:
        validate_object(obj)
    assert_explicit_providers(run)


def test_nlb_annotations_health_check_and_cross_zone(run) -> None:
    svc = lb_service(run)
    ann = svc["metadata"]["annotations"]
    assert svc["metadata"]["namespace"] == "envoy-gateway-system"
    assert ann[f"{A}type"] == "external" and ann[f"{A}nlb-target-type"] == "ip"
    assert ann[f"{A}scheme"] == "internet-facing"
    assert (ann[f"{A}healthcheck-protocol"], ann[f"{A}healthcheck-path"], ann[f"{A}healthcheck-port"]) == (
        "HTTP", "/v2/health/ready", "8000")
    assert ann[f"{A}attributes"] == "load_balancing.cross_zone.enabled=true"
    spec = svc["spec"]
    assert spec["type"] == "LoadBalancer" and spec["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert spec["loadBalancerSourceRanges"] == ["203.0.113.0/24", "198.51.100.0/24"]
    # Port 8000 is Envoy's plain HTTP listener: the health check goes through Envoy to Triton.
    gw = by_kind(run, "Gateway")["triton-edge"]
    http = next(lst for lst in gw["spec"]["listeners"] if lst["name"] == "http")
    assert (http["port"], http["protocol"]) == (8000, "HTTP")
    assert spec["selector"] == {"gateway.envoyproxy.io/owning-gateway-name": "triton-edge",
                                "gateway.envoyproxy.io/owning-gateway-namespace": NS}


def test_tls_terminates_at_the_nlb_with_the_acm_certificate(run) -> None:
    svc = lb_service(run)
    ann = svc["metadata"]["annotations"]
    assert ann[f"{A}ssl-cert"] == ACM
    assert ann[f"{A}ssl-ports"] == "443,8001"
    assert ann[f"{A}alpn-policy"] == "HTTP2Optional"
    assert [(p["name"], p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("https", 443, 8000), ("grpcs", 8001, 8001)]
    # Envoy sees plain HTTP / h2c behind the NLB: no TLS on the Gateway listeners.
    gw = by_kind(run, "Gateway")["triton-edge"]
    assert [(lst["name"], lst["protocol"], "tls" in lst) for lst in gw["spec"]["listeners"]] == [
        ("http", "HTTP", False), ("grpc", "HTTP", False)]
    assert run.outputs["r1-endpoint"]["url"].startswith("https://")


def test_internal_endpoint(internal_run) -> None:
    svc = lb_service(internal_run)
    ann = svc["metadata"]["annotations"]
    assert ann[f"{A}scheme"] == "internal"
    assert not any(k.startswith(f"{A}ssl") for k in ann)
    assert "loadBalancerSourceRanges" not in svc["spec"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [80]
    assert GRPCROUTE not in {r.type for r in internal_run.resources}
    proxy = by_kind(internal_run, "EnvoyProxy")["triton-edge"]["spec"]["provider"]["kubernetes"]
    assert proxy["envoyDeployment"]["replicas"] == 1 and "envoyPDB" not in proxy


def test_load_balancer_controller_with_irsa(run) -> None:
    rel = run.one(RELEASE, "r1-endpoint-aws-lb-controller")
    assert (rel.inputs["chart"], rel.inputs["version"]) == ("aws-load-balancer-controller", "1.15.0")
    assert rel.inputs["repositoryOpts"]["repo"] == "https://aws.github.io/eks-charts"
    assert rel.inputs["namespace"] == "kube-system"
    values = rel.inputs["values"]
    assert values["clusterName"] == "gpufleet-prod-r1"
    assert values["region"] == "us-east-1"
    assert values["vpcId"] == "r1-vpc-id"  # the cluster's VPC: IMDS is out of reach for pods (hop limit 1)
    sa = values["serviceAccount"]
    assert sa["name"] == "aws-load-balancer-controller"
    role = run.one("aws:iam/role:Role", "r1-endpoint-aws-lb-controller-irsa")
    assert sa["annotations"]["eks.amazonaws.com/role-arn"] == f"<computed:iam.Role:{role.name}:arn>"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    cond = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in cond.values()
    policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy", "r1-endpoint-aws-lb-controller-irsa-policy")
                        .inputs["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:RegisterTargets",
            "ec2:AuthorizeSecurityGroupIngress", "acm:DescribeCertificate"} <= actions
    assert not any(a.startswith(("wafv2:", "shield:", "cognito-idp:")) for a in actions)
    # The Service waits for the controller (its webhook and reconciler).
    svc = run.one("kubernetes:core/v1:Service", "r1-endpoint-lb")
    assert rel.urn in svc.options["dependsOn"]


def test_envoy_gateway_is_pinned(run) -> None:
    rel = run.one(RELEASE, "r1-endpoint-envoy-gateway")
    assert rel.inputs["chart"] == "oci://docker.io/envoyproxy/gateway-helm"
    assert rel.inputs["version"] == "v1.9.3"
    assert rel.inputs["namespace"] == "envoy-gateway-system"
    gc = by_kind(run, "GatewayClass")["gpufleet-envoy"]
    assert gc["spec"]["controllerName"] == "gateway.envoyproxy.io/gatewayclass-controller"
    proxy = by_kind(run, "EnvoyProxy")["triton-edge"]["spec"]["provider"]
    # Envoy Gateway's own Service stays internal: the annotated LB Service above is the only LB.
    assert proxy["kubernetes"]["envoyService"] == {"type": "ClusterIP"}
    assert proxy["kubernetes"]["envoyDeployment"]["replicas"] == 2
    assert proxy["kubernetes"]["envoyPDB"] == {"minAvailable": 1}


def test_routes_reach_the_triton_service(run) -> None:
    routes = by_kind(run, "HTTPRoute")
    assert sorted(routes) == ["triton-edge", "triton-edge-health", "triton-edge-m-ranker"]
    health = routes["triton-edge-health"]["spec"]["rules"][0]
    assert health["matches"] == [{"path": {"type": "Exact", "value": "/v2/health/ready"}}]
    assert health["backendRefs"][0]["port"] == 8000
    main, ranker = routes["triton-edge"]["spec"], routes["triton-edge-m-ranker"]["spec"]
    assert main["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert ranker["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/v2/models/ranker"}}]
    for r in (main, ranker):
        assert r["rules"][0]["backendRefs"] == [{"group": "", "kind": "Service", "name": "triton", "port": 8000}]
        assert r["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "triton-edge",
                                    "sectionName": "http"}]
    grpc = by_kind(run, "GRPCRoute")["triton-edge-grpc"]["spec"]
    assert grpc["rules"][0]["backendRefs"][0]["port"] == 8001
    assert grpc["parentRefs"][0]["sectionName"] == "grpc"


def test_rate_limits_per_model_and_tenant(run) -> None:
    policies = by_kind(run, "BackendTrafficPolicy")
    assert sorted(policies) == ["triton-edge", "triton-edge-grpc", "triton-edge-health", "triton-edge-m-ranker"]
    # Health checks are never rate limited: an exhausted limit must not fail the LB / DNS checks.
    assert "rateLimit" not in policies["triton-edge-health"]["spec"]
    main = policies["triton-edge"]["spec"]
    assert main["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "triton-edge"}]
    assert main["timeout"] == {"http": {"requestTimeout": "300s"}}
    rl = main["rateLimit"]
    assert rl["type"] == "Local"
    # Two Envoy replicas: each enforces half of every configured limit.
    assert rl["local"]["rules"] == [
        {"limit": {"requests": 50, "unit": "Second"},
         "clientSelectors": [{"headers": [{"name": "x-tenant-id", "type": "Exact", "value": "acme"}]}]},
        {"limit": {"requests": 20, "unit": "Second"},
         "clientSelectors": [{"headers": [{"name": "x-tenant-id", "type": "Distinct"}]}]},
        {"limit": {"requests": 100, "unit": "Second"}},
    ]
    ranker = policies["triton-edge-m-ranker"]["spec"]["rateLimit"]["local"]["rules"]
    assert {"limit": {"requests": 10, "unit": "Second"}} in ranker  # the model limit, on its route only
    assert len(ranker) == 4
    grpc = policies["triton-edge-grpc"]["spec"]
    assert grpc["targetRefs"][0]["kind"] == "GRPCRoute"
    assert len(grpc["rateLimit"]["local"]["rules"]) == 3  # no model rule: gRPC carries the model in the body


def test_route53_failover_records_with_health_checks(run) -> None:
    checks = {r.name: r for r in run.by_type("aws:route53/healthCheck:HealthCheck")}
    records = {r.name: r for r in run.by_type("aws:route53/record:Record")}
    assert sorted(checks) == ["failover-primary-check", "failover-standby-check"]
    for role, region in (("primary", "r1"), ("standby", "r2")):
        hc = checks[f"failover-{role}-check"].inputs
        lb_host = run.outputs[f"{region}-endpoint"]["address"]
        assert hc["fqdn"] == lb_host and f"{region}-endpoint-lb" in lb_host
        assert (hc["type"], hc["port"], hc["resourcePath"]) == ("HTTPS", 443, "/v2/health/ready")
        assert (hc["requestInterval"], hc["failureThreshold"]) == (10, 3)
        rec = records[f"failover-{role}-record"].inputs
        assert rec["zoneId"] == "Z0123456789ABCDEFGHIJ" and rec["name"] == "infer.example.com"
        assert (rec["type"], rec["ttl"], rec["records"]) == ("CNAME", 60, [lb_host])
        assert rec["failoverRoutingPolicies"] == [{"type": "PRIMARY" if role == "primary" else "SECONDARY"}]
        assert rec["healthCheckId"] == f"failover-{role}-check-id"
        assert rec["setIdentifier"] == f"{region}-{role}"
