"""Endpoint and failover config: field errors, cross-field issues with paths, the plan summary, and the
pure builders (load balancer annotations per cloud, rate-limit rules)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from components.load_balancer import EndpointSpec, FailoverSpec, endpoint_issues, failover_issues, failover_summary
from components.load_balancer.args import failover_line, policy_rule_counts, route_key_names
from components.load_balancer.gateway import rate_limit_rules
from components.load_balancer.service import service_annotations, service_ports, service_spec

ACM = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
KV = "https://kv-gpufleet.vault.azure.net/secrets/triton-tls"


def region(name, cloud="aws", role="primary", endpoint=None, serving=True, cloud_region=None):
    return SimpleNamespace(name=name, cloud=cloud, role=role, region=cloud_region or f"{cloud}-{name}",
                           endpoint=EndpointSpec.model_validate(endpoint) if endpoint is not None else None,
                           serving=object() if serving else None)


EXTERNAL = {"exposure": "external", "source_ranges": ["203.0.113.0/24"], "tls": {"certificate": ACM}}


# --- field errors -----------------------------------------------------------------------------


def test_defaults_are_internal_without_limits() -> None:
    spec = EndpointSpec()
    assert spec.exposure == "internal" and spec.tls is None and spec.grpc
    assert spec.rate_limits.rules == [] and spec.rate_limits.default is None
    assert spec.replicas("dev") == 1 and spec.replicas("prod") == 2


def test_rate_limit_of_zero_is_a_field_error_with_its_path() -> None:
    with pytest.raises(ValidationError) as err:
        EndpointSpec.model_validate({"rate_limits": {"rules": [{"model": "ranker", "requests": 0}]}})
    (e,) = err.value.errors()
    assert e["loc"] == ("rate_limits", "rules", 0, "requests") and e["type"] == "greater_than"
    with pytest.raises(ValidationError) as err:
        EndpointSpec.model_validate({"rate_limits": {"default": {"requests": 0}}})
    assert err.value.errors()[0]["loc"] == ("rate_limits", "default", "requests")


@pytest.mark.parametrize("bad", [
    {"source_ranges": ["10.0.0.1/8"]},  # host bits set
    {"source_ranges": ["not-a-cidr"]},
    {"exposure": "public"},
    {"rate_limits": {"rules": [{"requests": 5}]}},  # neither model nor tenant
    {"rate_limits": {"rules": [{"tenant": "has space", "requests": 5}]}},
    {"rate_limits": {"tenant_header": "X Tenant"}},
    {"rate_limits": {"default": {"requests": 5, "unit": "Day"}}},
    {"listeners": []},  # extra=forbid
])
def test_invalid_endpoint_fields(bad) -> None:
    with pytest.raises(ValidationError):
        EndpointSpec.model_validate(bad)


def test_failover_fields() -> None:
    f = FailoverSpec.model_validate({"dns_name": "Infer.Example.com.", "zone": "Z1"})
    assert f.dns_name == "infer.example.com" and f.health_check.path == "/v2/health/ready"
    assert f.detection_seconds() == 30 * 3
    with pytest.raises(ValidationError):
        FailoverSpec.model_validate({"dns_name": "infer", "zone": "Z1"})
    with pytest.raises(ValidationError):
        FailoverSpec.model_validate({"dns_name": "a.example.com", "zone": "Z1", "health_check": {"interval_seconds": 15}})
    with pytest.raises(ValidationError):
        FailoverSpec.model_validate({"dns_name": "a.example.com", "zone": "Z1", "health_check": {"failure_threshold": 0}})


# --- endpoint_issues --------------------------------------------------------------------------


def test_external_prod_endpoint_needs_source_ranges_and_tls() -> None:
    spec = EndpointSpec.model_validate({"exposure": "external"})
    issues = endpoint_issues(spec, "aws", "prod")
    assert [i[0] for i in issues] == ["source_ranges", "tls"]
    assert endpoint_issues(spec, "aws", "dev") == []
    open_world = EndpointSpec.model_validate({**EXTERNAL, "source_ranges": ["0.0.0.0/0"]})
    assert [i[0] for i in endpoint_issues(open_world, "aws", "prod")] == ["source_ranges"]
    assert endpoint_issues(EndpointSpec.model_validate(EXTERNAL), "aws", "prod") == []
    # Internal endpoints need neither.
    assert endpoint_issues(EndpointSpec(), "gcp", "prod") == []


@pytest.mark.parametrize("cloud, good, bad", [
    ("aws", ACM, "triton-tls"),
    ("gcp", "triton-tls", ACM),
    ("azure", KV, "triton-tls"),
])
def test_certificate_reference_per_cloud(cloud, good, bad) -> None:
    ok = EndpointSpec.model_validate({**EXTERNAL, "tls": {"certificate": good}})
    assert endpoint_issues(ok, cloud, "prod") == []
    wrong = EndpointSpec.model_validate({**EXTERNAL, "tls": {"certificate": bad}})
    ((path, value, allowed),) = endpoint_issues(wrong, cloud, "prod")
    assert path == "tls.certificate" and value == bad and allowed


def test_rate_limit_rules_are_checked_against_the_models_and_each_other() -> None:
    spec = EndpointSpec.model_validate({"rate_limits": {"rules": [
        {"model": "ranker", "requests": 5}, {"model": "nope", "requests": 5}, {"model": "ranker", "requests": 9}]}})
    issues = endpoint_issues(spec, "aws", "dev", models=["ranker", "embedder"])
    assert [i[0] for i in issues] == ["rate_limits.rules[1].model", "rate_limits.rules[2]"]
    assert endpoint_issues(spec.model_copy(update={}), "aws", "dev", serving=False)[0][0] == "exposure"


def test_too_many_limits_on_one_route() -> None:
    rules = [{"tenant": f"t{i}", "requests": 5} for i in range(16)]
    spec = EndpointSpec.model_validate({"rate_limits": {"default": {"requests": 100}, "rules": rules}})
    assert policy_rule_counts(spec)["http"] == 17
    assert ("rate_limits.rules", 17) in [(p, v) for p, v, _ in endpoint_issues(spec, "aws", "dev")]


# --- failover_issues --------------------------------------------------------------------------


def test_failover_without_a_standby_region() -> None:
    f = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "Z1"})
    issues = failover_issues(f, [region("use1", endpoint=EXTERNAL)])
    assert issues == [("failover.standby", None, issues[0][2])]
    assert "standby" in issues[0][2]
    assert failover_issues(f.model_copy(update={"enabled": False}), [region("use1")]) == []
    named = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "Z1", "standby": "usw9"})
    assert failover_issues(named, [region("use1", endpoint=EXTERNAL)])[0][:2] == ("failover.standby", "usw9")


def test_failover_to_another_cloud_is_not_supported() -> None:
    f = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "Z1"})
    regions = [region("use1", endpoint=EXTERNAL), region("euw", cloud="gcp", role="standby", endpoint=EXTERNAL)]
    ((path, value, allowed),) = failover_issues(f, regions)
    assert (path, value) == ("failover.standby", "euw") and "cross-cloud" in allowed


def test_failover_needs_public_endpoints_on_aws_and_azure_and_endpoints_everywhere() -> None:
    f = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "Z1"})
    regions = [region("use1", endpoint={}), region("usw2", role="standby")]
    issues = failover_issues(f, regions)
    assert [i[0] for i in issues] == ["regions[0].endpoint.exposure", "regions[1].endpoint"]
    ok = [region("use1", endpoint=EXTERNAL), region("usw2", role="standby", endpoint=EXTERNAL)]
    assert failover_issues(f, ok) == []
    azure = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "Not_Valid"})
    az = [region("eus", "azure", endpoint={}), region("wus", "azure", "standby", endpoint={})]
    assert [i[0] for i in failover_issues(azure, az)] == [
        "regions[0].endpoint.exposure", "regions[1].endpoint.exposure", "failover.zone"]


def test_gcp_failover_rules() -> None:
    f = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "example-com",
                                     "health_check": {"interval_seconds": 10}})
    ext = {**EXTERNAL, "tls": {"certificate": "triton-tls"}}
    regions = [region("usc1", "gcp", endpoint=ext), region("use4", "gcp", "standby", endpoint={})]
    assert [i[0] for i in failover_issues(f, regions)] == ["failover.health_check.interval_seconds",
                                                          "regions[1].endpoint.exposure"]
    internal = [region("usc1", "gcp", endpoint={}), region("use4", "gcp", "standby", endpoint={})]
    assert failover_issues(f, internal) == []  # internal LBs: Cloud DNS uses their backend health


def test_failover_summary_detection_time_and_path() -> None:
    f = FailoverSpec.model_validate({"dns_name": "infer.example.com", "zone": "Z1",
                                     "health_check": {"interval_seconds": 10, "failure_threshold": 3}})
    regions = [region("use1", endpoint=EXTERNAL, cloud_region="us-east-1"),
               region("usw2", role="standby", endpoint=EXTERNAL, cloud_region="us-west-2")]
    s = failover_summary(f, regions)
    assert s["path"] == "infer.example.com: use1 (us-east-1) -> usw2 (us-west-2)"
    assert s["detectionSeconds"] == 30 and s["worstCaseSwitchSeconds"] == 90
    assert s["healthCheck"] == {"protocol": "HTTPS", "port": 443, "path": "/v2/health/ready", "intervalSeconds": 10,
                                "failureThreshold": 3}
    assert s["mechanism"] == "route53-failover-records"
    assert failover_line(s) == (
        "failover: infer.example.com: use1 (us-east-1) -> usw2 (us-west-2) via route53-failover-records; HTTPS "
        "/v2/health/ready on port 443 every 10 s, unhealthy after 3 failures: detected in ~30 s (clients switch "
        "within ~90 s incl. TTL 60 s)")
    assert failover_summary(f.model_copy(update={"enabled": False}), regions) == {"enabled": False}


# --- pure builders ----------------------------------------------------------------------------


def test_service_annotations_per_cloud() -> None:
    ext = EndpointSpec.model_validate(EXTERNAL)
    aws = service_annotations("aws", ext)
    assert aws["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert aws["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "443,8001"
    internal = EndpointSpec()
    assert service_annotations("aws", internal)["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert "service.beta.kubernetes.io/aws-load-balancer-ssl-cert" not in service_annotations("aws", internal)
    assert service_annotations("gcp", internal) == {
        "networking.gke.io/load-balancer-type": "Internal",
        "networking.gke.io/internal-load-balancer-allow-global-access": "true"}
    assert service_annotations("gcp", EndpointSpec(exposure="external")) == {}
    az = service_annotations("azure", internal)
    assert az["service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
    assert az["service.beta.kubernetes.io/port_80_health-probe_port"] == "8000"
    # User annotations never override gpufleet's.
    mine = EndpointSpec.model_validate({"annotations": {"service.beta.kubernetes.io/aws-load-balancer-scheme": "x",
                                                        "example.com/team": "ml"}})
    got = service_annotations("aws", mine)
    assert got["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal" and got["example.com/team"] == "ml"


def test_service_ports_and_spec() -> None:
    plain = EndpointSpec()
    assert [(p["name"], p["port"], p["targetPort"]) for p in service_ports("aws", plain)] == [
        ("http", 80, 8000), ("grpc", 8001, 8001)]
    tls_gcp = EndpointSpec.model_validate({**EXTERNAL, "tls": {"certificate": "triton-tls"}})
    assert [(p["port"], p["targetPort"]) for p in service_ports("gcp", tls_gcp)] == [(443, 8443), (8001, 8001)]
    tls_az = EndpointSpec.model_validate({**EXTERNAL, "tls": {"certificate": KV}})
    assert [(p["name"], p["port"]) for p in service_ports("azure", tls_az)] == [("https", 443), ("grpcs", 8001),
                                                                               ("health", 8000)]
    no_grpc = EndpointSpec(grpc=False)
    assert [p["name"] for p in service_ports("aws", no_grpc)] == ["http"]
    spec = service_spec("gcp", EndpointSpec.model_validate(EXTERNAL), "triton-edge", "gpufleet-serving")
    assert spec["externalTrafficPolicy"] == "Local" and spec["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert spec["selector"] == {"gateway.envoyproxy.io/owning-gateway-name": "triton-edge",
                                "gateway.envoyproxy.io/owning-gateway-namespace": "gpufleet-serving"}


def test_rate_limit_rules_per_route_split_over_replicas() -> None:
    spec = EndpointSpec.model_validate({"rate_limits": {
        "default": {"requests": 101}, "per_tenant": {"requests": 10, "unit": "Minute"},
        "rules": [{"model": "ranker", "requests": 7}, {"model": "ranker", "tenant": "acme", "requests": 3},
                  {"tenant": "acme", "requests": 50}]}})
    http = rate_limit_rules(spec, "http", 2)
    assert http == [
        {"limit": {"requests": 25, "unit": "Second"},
         "clientSelectors": [{"headers": [{"name": "x-tenant-id", "type": "Exact", "value": "acme"}]}]},
        {"limit": {"requests": 5, "unit": "Minute"},
         "clientSelectors": [{"headers": [{"name": "x-tenant-id", "type": "Distinct"}]}]},
        {"limit": {"requests": 51, "unit": "Second"}},
    ]
    ranker = rate_limit_rules(spec, "model:ranker", 2)
    assert {"limit": {"requests": 4, "unit": "Second"}} in ranker  # ceil(7 / 2)
    assert {"limit": {"requests": 2, "unit": "Second"},
            "clientSelectors": [{"headers": [{"name": "x-tenant-id", "type": "Exact", "value": "acme"}]}]} in ranker
    assert len(ranker) == 5


def test_route_names_are_dns_labels_and_unique() -> None:
    names = route_key_names(["ranker", "Ranker_v2", "ranker.v2"])
    assert names["ranker"] == "ranker"
    assert len(set(names.values())) == 3
    assert all(n == n.lower() and "_" not in n and "." not in n for n in names.values())
