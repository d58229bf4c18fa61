"""InferenceEndpoint and Traffic Manager failover on AKS under the recording mocks."""

from __future__ import annotations

import pytest

from tests.components.test_endpoint_support import (
    by_kind,
    endpoint_objects,
    lb_service,
    run_region_endpoints,
    validate_object,
)
from tests.support import assert_explicit_providers

KV = "https://kv-gpufleet.vault.azure.net/secrets/triton-tls"
Z = "service.beta.kubernetes.io/"
ENDPOINT = {
    "exposure": "external",
    "source_ranges": ["203.0.113.0/24"],
    "tls": {"certificate": KV, "secret_name": "triton-kv-tls"},
    "rate_limits": {"default": {"requests": 90, "unit": "Minute"}},
}
FAILOVER = {"dns_name": "infer.example.com", "zone": "gpufleet-infer",
            "health_check": {"interval_seconds": 10, "failure_threshold": 4}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_region_endpoints("azure", ENDPOINT, tmp_path_factory.mktemp("azure"), failover=FAILOVER)


@pytest.fixture(scope="module")
def internal_run(tmp_path_factory):
    return run_region_endpoints("azure", {}, tmp_path_factory.mktemp("azure-int"), environment="dev")


def test_every_object_is_schema_valid(run, internal_run) -> None:
    for r in (run, internal_run):
        for obj in endpoint_objects(r) + endpoint_objects(r, "r2-endpoint"):
            validate_object(obj)
        assert_explicit_providers(r)


def test_health_probe_annotations(run) -> None:
    svc = lb_service(run)
    ann = svc["metadata"]["annotations"]
    assert ann[f"{Z}azure-load-balancer-health-probe-protocol"] == "http"
    assert ann[f"{Z}azure-load-balancer-health-probe-request-path"] == "/v2/health/ready"
    # Every port is probed on Envoy's plain HTTP listener (8000), which has no LB rule of its own.
    assert ann[f"{Z}port_443_health-probe_port"] == "8000"
    assert ann[f"{Z}port_8001_health-probe_port"] == "8000"
    assert ann[f"{Z}port_8000_no_lb_rule"] == "true"
    assert f"{Z}azure-load-balancer-internal" not in ann
    # Traffic Manager probes pass the source-range NSG rules through their service tag.
    assert ann[f"{Z}azure-allowed-service-tags"] == "AzureTrafficManager"
    spec = svc["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"  # with Local, AKS ignores the probe annotations
    assert spec["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in spec["ports"]] == [
        ("https", 443, 8443), ("grpcs", 8001, 8001), ("health", 8000, 8000)]


def test_internal_endpoint(internal_run) -> None:
    ann = lb_service(internal_run)["metadata"]["annotations"]
    assert ann[f"{Z}azure-load-balancer-internal"] == "true"
    assert ann[f"{Z}port_80_health-probe_port"] == "8000"
    assert f"{Z}azure-allowed-service-tags" not in ann


def test_tls_from_the_key_vault_synced_secret(run) -> None:
    listeners = {lst["name"]: lst for lst in by_kind(run, "Gateway")["triton-edge"]["spec"]["listeners"]}
    assert listeners["https"]["tls"]["certificateRefs"] == [
        {"group": "", "kind": "Secret", "name": "triton-kv-tls", "namespace": "gpufleet-serving"}]
    assert listeners["grpc"]["protocol"] == "HTTPS"


def test_default_rate_limit(run) -> None:
    policies = by_kind(run, "BackendTrafficPolicy")
    assert sorted(policies) == ["triton-edge", "triton-edge-grpc", "triton-edge-health"]
    for name, policy in policies.items():
        if name == "triton-edge-health":
            assert "rateLimit" not in policy["spec"]
        else:
            assert policy["spec"]["rateLimit"]["local"]["rules"] == [{"limit": {"requests": 45, "unit": "Minute"}}]


def test_traffic_manager_priority_profile(run) -> None:
    profile = run.one("azure-native:trafficmanager:Profile", "failover-profile").inputs
    assert profile["trafficRoutingMethod"] == "Priority"
    assert profile["dnsConfig"] == {"relativeName": "gpufleet-infer", "ttl": 60}
    assert profile["monitorConfig"] == {
        "protocol": "HTTPS", "port": 443, "path": "/v2/health/ready", "intervalInSeconds": 10,
        "timeoutInSeconds": 5, "toleratedNumberOfFailures": 3, "expectedStatusCodeRanges": [{"min": 200, "max": 299}]}
    endpoints = profile["endpoints"]
    assert [(e["name"], e["priority"], e["target"]) for e in endpoints] == [
        ("r1-primary", 1, run.outputs["r1-endpoint"]["address"]),
        ("r2-standby", 2, run.outputs["r2-endpoint"]["address"])]
    assert {e["type"] for e in endpoints} == {"Microsoft.Network/trafficManagerProfiles/externalEndpoints"}
    assert run.outputs["failoverFqdn"] == "gpufleet-infer.trafficmanager.net"
