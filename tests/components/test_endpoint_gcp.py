"""InferenceEndpoint and Cloud DNS failover on GKE under the recording mocks."""

from __future__ import annotations

import pytest

from tests.components.test_endpoint_support import (
    RELEASE,
    by_kind,
    endpoint_objects,
    lb_service,
    run_region_endpoints,
    validate_object,
)
from tests.support import assert_explicit_providers

ENDPOINT = {
    "exposure": "external",
    "source_ranges": ["203.0.113.0/24"],
    "tls": {"certificate": "triton-tls"},
    "rate_limits": {"rules": [{"model": "embedder", "requests": 30}, {"tenant": "acme", "requests": 12}]},
}
FAILOVER = {"dns_name": "infer.example.com", "zone": "example-com"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_region_endpoints("gcp", ENDPOINT, tmp_path_factory.mktemp("gcp"), failover=FAILOVER)


@pytest.fixture(scope="module")
def internal_run(tmp_path_factory):
    return run_region_endpoints("gcp", {}, tmp_path_factory.mktemp("gcp-int"), failover=FAILOVER)


def test_every_object_is_schema_valid(run, internal_run) -> None:
    for r in (run, internal_run):
        for prefix in ("r1-endpoint", "r2-endpoint"):
            for obj in endpoint_objects(r, prefix):
                validate_object(obj)
        assert_explicit_providers(r)
    # No AWS controller on GKE: only Envoy Gateway is installed.
    assert [r.name for r in run.by_type(RELEASE) if r.name.startswith("r1-endpoint")] == ["r1-endpoint-envoy-gateway"]


def test_external_service_source_ranges_and_node_health(run) -> None:
    svc = lb_service(run)
    assert svc["metadata"]["annotations"] == {}  # external passthrough NLB is GKE's default
    spec = svc["spec"]
    assert spec["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    # The LB health-checks nodes; Local: only nodes with a ready Envoy pod get traffic.
    assert spec["externalTrafficPolicy"] == "Local"
    assert [(p["name"], p["port"], p["targetPort"]) for p in spec["ports"]] == [("https", 443, 8443),
                                                                               ("grpcs", 8001, 8001)]


def test_internal_service(internal_run) -> None:
    ann = lb_service(internal_run)["metadata"]["annotations"]
    assert ann == {"networking.gke.io/load-balancer-type": "Internal",
                   "networking.gke.io/internal-load-balancer-allow-global-access": "true"}


def test_tls_terminates_at_envoy_with_the_secret(run) -> None:
    listeners = {lst["name"]: lst for lst in by_kind(run, "Gateway")["triton-edge"]["spec"]["listeners"]}
    assert sorted(listeners) == ["grpc", "http", "https"]
    for name in ("https", "grpc"):
        assert listeners[name]["protocol"] == "HTTPS"
        assert listeners[name]["tls"] == {"mode": "Terminate", "certificateRefs": [
            {"group": "", "kind": "Secret", "name": "triton-tls", "namespace": "gpufleet-serving"}]}
    assert listeners["http"]["port"] == 8000 and "tls" not in listeners["http"]
    route = by_kind(run, "HTTPRoute")["triton-edge"]["spec"]
    assert [p["sectionName"] for p in route["parentRefs"]] == ["http", "https"]


def test_rate_limits(run) -> None:
    policies = by_kind(run, "BackendTrafficPolicy")
    embedder = policies["triton-edge-m-embedder"]["spec"]["rateLimit"]["local"]["rules"]
    assert {"limit": {"requests": 15, "unit": "Second"}} in embedder
    acme = {"limit": {"requests": 6, "unit": "Second"},
            "clientSelectors": [{"headers": [{"name": "x-tenant-id", "type": "Exact", "value": "acme"}]}]}
    for key in ("triton-edge", "triton-edge-grpc", "triton-edge-m-embedder"):
        assert acme in policies[key]["spec"]["rateLimit"]["local"]["rules"]


def test_cloud_dns_primary_backup_with_health_check(run) -> None:
    hc = run.one("gcp:compute/healthCheck:HealthCheck", "failover-check").inputs
    assert hc["httpsHealthCheck"] == {"port": 443, "requestPath": "/v2/health/ready"}
    assert hc["checkIntervalSec"] == 30 and hc["unhealthyThreshold"] == 3
    assert len(hc["sourceRegions"]) == 3 and hc["sourceRegions"][:2] == ["us-central1", "us-east4"]
    rs = run.one("gcp:dns/recordSet:RecordSet", "failover-record").inputs
    assert (rs["managedZone"], rs["name"], rs["type"], rs["ttl"]) == ("example-com", "infer.example.com.", "A", 60)
    policy = rs["routingPolicy"]
    assert policy["healthCheck"] == "failover-check-id"
    pb = policy["primaryBackup"]
    assert pb["primary"] == {"externalEndpoints": [run.outputs["r1-endpoint"]["address"]]}
    assert pb["backupGeos"] == [{"location": "us-east4", "healthCheckedTargets": {
        "externalEndpoints": [run.outputs["r2-endpoint"]["address"]]}}]
    assert pb["trickleRatio"] == 0
    assert "r1-endpoint-lb" in pb["primary"]["externalEndpoints"][0]


def test_internal_failover_uses_the_internal_load_balancers(internal_run) -> None:
    assert internal_run.by_type("gcp:compute/healthCheck:HealthCheck") == []
    pb = internal_run.one("gcp:dns/recordSet:RecordSet", "failover-record").inputs["routingPolicy"]["primaryBackup"]
    (ilb,) = pb["primary"]["internalLoadBalancers"]
    assert ilb["ipAddress"] == internal_run.outputs["r1-endpoint"]["address"]
    assert (ilb["ipProtocol"], ilb["port"], ilb["loadBalancerType"], ilb["region"]) == (
        "tcp", "80", "regionalL4ilb", "us-central1")
    assert ilb["networkUrl"] and ilb["project"] == "gpufleet-test"
    (backup,) = pb["backupGeos"][0]["healthCheckedTargets"]["internalLoadBalancers"]
    assert backup["ipAddress"] == internal_run.outputs["r2-endpoint"]["address"] and backup["region"] == "us-east4"
