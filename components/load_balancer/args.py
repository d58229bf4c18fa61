"""Neutral endpoint settings: the per-region `endpoint` block, the stack-level `failover` block, their
cross-field checks, and the pure helpers the components and the plan share.

Pure: pydantic only (no Pulumi, no cloud SDK). Checks that need the cloud, the environment or the
stack's regions live in `endpoint_issues` / `failover_issues` and return
`(path, value, allowed)` tuples, so a config loader reports them with the field errors:
`endpoint_issues` paths are relative to the endpoint block (`tls`, `rate_limits.rules[0].model`),
`failover_issues` paths are relative to the platform block (`failover.standby`,
`regions[1].endpoint.exposure`).

The edge, per region (see components/load_balancer/endpoint.py):

    client -> cloud L4 load balancer (a Service of type LoadBalancer, in envoy-gateway-system)
           -> Envoy proxy pods (Envoy Gateway data plane: local rate limits per model / tenant)
           -> the TritonService's ClusterIP Service (http 8000, grpc 8001)

Rate limiting is done by Envoy Gateway (Gateway API implementation, CNCF Envoy project) rather than
ingress-nginx: ingress-nginx is retired upstream (best-effort maintenance ended March 2026, no
further releases or security fixes), while Envoy Gateway is actively released, Gateway API native,
and expresses per-header / per-route local rate limits as a typed CRD (BackendTrafficPolicy) that
can be schema-validated here.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Literal, Mapping, Protocol, Sequence

from pydantic import Field, field_validator, model_validator

from .._model import Args

Issue = tuple[str, object, str]

HTTP_PORT, GRPC_PORT = 8000, 8001  # = components.triton.args (the Triton Service's ports)
HEALTH_PATH = "/v2/health/ready"  # Triton readiness (--strict-readiness: every model loaded)
TENANT_HEADER = "x-tenant-id"
# Envoy Gateway local rate limits: at most 16 rules per policy (LocalRateLimit.rules MaxItems=16).
MAX_RULES_PER_POLICY = 16

_ACM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KEY_VAULT_SECRET = re.compile(
    r"^https://[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]\.vault\.azure\.net/(secrets|certificates)/[A-Za-z0-9-]{1,127}(/[0-9a-f]{32})?/?$"
)
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MODEL = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_HEADER_VALUE = re.compile(r"^[\x21-\x7e]{1,256}$")
_HEADER_NAME = re.compile(r"^[a-z0-9!#$%&'*+.^_`|~-]{1,256}$")


def _cidr(v: str) -> str:
    try:
        return str(ipaddress.ip_network(v, strict=True))
    except ValueError as exc:
        raise ValueError(f"a CIDR such as 203.0.113.0/24, got {v!r} ({exc})") from None


class TlsSpec(Args):
    """TLS for the endpoint's HTTP (443) and gRPC (8001) listeners."""

    certificate: str = Field(
        ...,
        description="aws: an ACM certificate ARN (the NLB terminates TLS with it). gcp: the name of a "
        "kubernetes.io/tls Secret in the serving namespace (Envoy terminates TLS; e.g. issued by cert-manager). "
        "azure: the Key Vault secret/certificate id https://<vault>.vault.azure.net/secrets/<name> that the AKS "
        "Key Vault Secrets Provider add-on syncs into `secret_name` (Envoy terminates TLS).",
    )
    secret_name: str | None = Field(
        None,
        pattern=_K8S_NAME.pattern,
        max_length=253,
        description="azure: the kubernetes.io/tls Secret in the serving namespace that holds the Key Vault "
        "certificate (synced by a SecretProviderClass with secretObjects; not created here). Default: "
        "<service>-tls. Ignored on aws (ACM at the NLB) and gcp (`certificate` is the Secret).",
    )
    ssl_policy: str = Field(
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        description="aws: the NLB TLS negotiation policy; default ELBSecurityPolicy-TLS13-1-2-2021-06 "
        "(TLS 1.3 and 1.2 only).",
    )


class Limit(Args):
    """A token bucket: `requests` per `unit`, enforced by each Envoy replica."""

    requests: int = Field(
        ..., gt=0, le=1_000_000_000,
        description="Requests allowed per unit across the endpoint (split evenly over the Envoy replicas). "
        "Must be > 0: a zero limit would reject every request.",
    )
    unit: Literal["Second", "Minute", "Hour"] = Field(
        "Second",
        description="The bucket's refill interval; default Second. Envoy local rate limits have no separate burst: "
        "the bucket holds `requests` tokens, so a Minute unit allows bursts of up to a minute's budget.",
    )


class RateLimitRule(Limit):
    """A limit for one model, one tenant, or one tenant on one model."""

    model: str | None = Field(
        None, description="Triton model name: requests under /v2/models/<model> (HTTP). gRPC carries the model in "
        "the message body, so model limits apply to HTTP only. Default: any model.",
    )
    tenant: str | None = Field(
        None, description="Value of the tenant header (rate_limits.tenant_header). Default: any tenant.",
    )

    @model_validator(mode="after")
    def _selects(self) -> "RateLimitRule":
        if self.model is None and self.tenant is None:
            raise ValueError("a rule needs a model, a tenant or both (use rate_limits.default for all traffic)")
        if self.model is not None and not _MODEL.match(self.model):
            raise ValueError(f"model must be a Triton model name ([A-Za-z0-9_.-], 1-128), got {self.model!r}")
        if self.tenant is not None and not _HEADER_VALUE.match(self.tenant):
            raise ValueError(f"tenant must be a printable header value without spaces, got {self.tenant!r}")
        return self


class RateLimitSpec(Args):
    """Edge request-rate limits protecting GPU capacity (Envoy Gateway local rate limits)."""

    tenant_header: str = Field(
        TENANT_HEADER, description=f"Request header naming the tenant; default {TENANT_HEADER}.",
    )
    default: Limit | None = Field(
        None, description="Limit on all traffic of each route (HTTP, each rate-limited model's route, gRPC). "
        "Default: none.",
    )
    per_tenant: Limit | None = Field(
        None, description="Limit for each distinct tenant header value (its own bucket per tenant). Default: none.",
    )
    rules: list[RateLimitRule] = Field(
        default_factory=list, description="Limits per model and/or tenant; the strictest matching limit applies.",
    )

    @field_validator("tenant_header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not _HEADER_NAME.match(v):
            raise ValueError(f"a lowercase HTTP header name, got {v!r}")
        return v


class EndpointSpec(Args):
    """How one region's TritonService is reached (the region's `endpoint` block)."""

    exposure: Literal["internal", "external"] = Field(
        "internal",
        description="internal (default): a load balancer on the private network only. external: internet-facing "
        "(prod requires source_ranges and tls).",
    )
    source_ranges: list[str] = Field(
        default_factory=list,
        description="Client CIDRs allowed to reach the load balancer (loadBalancerSourceRanges). Default: none "
        "(no restriction; not allowed for external endpoints in prod). With DNS failover, the DNS service's "
        "health checkers must be allowed too (Route53 health-checker ranges, Cloud DNS probers; Azure Traffic "
        "Manager is allowed through its service tag).",
    )
    tls: TlsSpec | None = Field(None, description="TLS on the HTTP and gRPC listeners. Default: none (plain HTTP, h2c).")
    grpc: bool = Field(True, description="Expose Triton's gRPC API on port 8001 too; default true.")
    rate_limits: RateLimitSpec = Field(
        default_factory=RateLimitSpec, description="Edge rate limits per model / tenant. Default: none.",
    )
    proxy_replicas: int | None = Field(
        None, ge=1, le=20,
        description="Envoy proxy pods (a PodDisruptionBudget keeps one up). Default: 2 in prod and staging, 1 in dev.",
    )
    request_timeout_seconds: int = Field(
        300, ge=1, le=3600,
        description="Longest request (HTTP and gRPC) Envoy waits for; default 300 s (Envoy's own default of 15 s "
        "would cut long generations).",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Extra annotations for the load balancer Service (e.g. a subnet choice); they cannot override "
        "the ones gpufleet sets. Default: none.",
    )

    @field_validator("source_ranges")
    @classmethod
    def _ranges(cls, v: list[str]) -> list[str]:
        out = [_cidr(c) for c in v]
        dupes = sorted({c for c in out if out.count(c) > 1})
        if dupes:
            raise ValueError(f"repeated source ranges: {dupes}")
        return out

    def replicas(self, environment: str) -> int:
        return self.proxy_replicas or (1 if environment == "dev" else 2)


def tls_problem(cloud: str, certificate: str) -> str | None:
    """What `tls.certificate` must be on `cloud`, or None when it fits."""
    if cloud == "aws" and not _ACM_ARN.match(certificate):
        return "an ACM certificate ARN arn:aws:acm:<region>:<account>:certificate/<id> (the NLB terminates TLS)"
    if cloud == "gcp" and not (_K8S_NAME.match(certificate) and len(certificate) <= 253):
        return ("the name of a kubernetes.io/tls Secret in the serving namespace (Envoy terminates TLS: a GKE "
                "passthrough load balancer cannot use Google-managed certificates)")
    if cloud == "azure" and not _KEY_VAULT_SECRET.match(certificate):
        return "a Key Vault secret id https://<vault>.vault.azure.net/secrets/<name>[/<version>]"
    return None


def limited_models(spec: EndpointSpec) -> list[str]:
    """Models with a rule of their own, sorted (each gets an HTTPRoute and a policy)."""
    return sorted({r.model for r in spec.rate_limits.rules if r.model is not None})


def policy_rule_counts(spec: EndpointSpec) -> dict[str, int]:
    """Rules each BackendTrafficPolicy will carry: route key (http, grpc, model:<name>) -> count."""
    rl = spec.rate_limits
    common = sum(1 for r in rl.rules if r.model is None) + (rl.default is not None) + (rl.per_tenant is not None)
    counts = {"http": common}
    if spec.grpc:
        counts["grpc"] = common
    for m in limited_models(spec):
        counts[f"model:{m}"] = common + sum(1 for r in rl.rules if r.model == m)
    return counts


def endpoint_issues(spec: EndpointSpec, cloud: str, environment: str, *,
                    models: Sequence[str] | None = None, serving: bool = True) -> list[Issue]:
    """Cross-field problems of an endpoint block as (path relative to the block, value, allowed).

    `models`: the Triton model names the region serves (rules naming others are reported);
    `serving`: whether the region has a serving block (an endpoint exposes its TritonService).
    """
    out: list[Issue] = []
    if not serving:
        out.append(("exposure", spec.exposure, "a region with a serving block: the endpoint exposes its TritonService"))
    if spec.exposure == "external" and environment == "prod":
        if not spec.source_ranges:
            out.append(("source_ranges", [], "at least one client CIDR for an external endpoint in prod "
                                             "(an open inference endpoint burns GPU capacity)"))
        elif any(ipaddress.ip_network(c).prefixlen == 0 for c in spec.source_ranges):
            out.append(("source_ranges", spec.source_ranges, "client CIDRs narrower than 0.0.0.0/0 or ::/0 in prod"))
        if spec.tls is None:
            out.append(("tls", None, "a TLS certificate for an external endpoint in prod"))
    if spec.tls is not None:
        problem = tls_problem(cloud, spec.tls.certificate)
        if problem:
            out.append(("tls.certificate", spec.tls.certificate, problem))
    known = set(models) if models is not None else None
    seen: dict[tuple[str | None, str | None], int] = {}
    for i, rule in enumerate(spec.rate_limits.rules):
        if known is not None and rule.model is not None and rule.model not in known:
            out.append((f"rate_limits.rules[{i}].model", rule.model,
                        f"a model the region serves: {', '.join(sorted(known)) or '(none)'}"))
        key = (rule.model, rule.tenant)
        if key in seen:
            out.append((f"rate_limits.rules[{i}]", {"model": rule.model, "tenant": rule.tenant},
                        f"a model/tenant pair not already limited by rate_limits.rules[{seen[key]}]"))
        seen.setdefault(key, i)
    for route, count in policy_rule_counts(spec).items():
        if count > MAX_RULES_PER_POLICY:
            out.append(("rate_limits.rules", count, f"at most {MAX_RULES_PER_POLICY} limits applying to one route "
                                                    f"({route}): Envoy Gateway's LocalRateLimit.rules limit"))
    return out


# --- failover ---------------------------------------------------------------------------------


class HealthCheckSpec(Args):
    """The DNS service's health check of each region's endpoint."""

    path: str = Field(HEALTH_PATH, pattern=r"^/[\x21-\x7e]{0,254}$",
                      description=f"HTTP path probed through the load balancer and Envoy; default {HEALTH_PATH} "
                      "(200 only while a Triton pod is ready).")
    interval_seconds: Literal[10, 30] = Field(
        30, description="Seconds between probes: 10 or 30 (what Route53 and Traffic Manager offer; Cloud DNS "
        "health checks of external endpoints need 30). Default 30.",
    )
    failure_threshold: int = Field(
        3, ge=1, le=10, description="Consecutive failed probes that mark an endpoint unhealthy (1-10); default 3.",
    )


class FailoverSpec(Args):
    """A DNS name that fails over from the primary region's endpoint to the standby's (the `failover` block)."""

    enabled: bool = Field(True, description="Build the failover DNS. Default true.")
    dns_name: str = Field(..., description="The name clients use, e.g. infer.example.com (a subdomain: the AWS "
                                           "records are CNAMEs, which cannot sit at a zone apex).")
    zone: str = Field(
        ...,
        description="aws: the Route53 hosted zone id (Z...). gcp: the Cloud DNS managed zone name. azure: the "
        "Traffic Manager profile's relative DNS name (<zone>.trafficmanager.net; point dns_name at it with a CNAME).",
    )
    primary: str | None = Field(None, description="Region name served first. Default: the region with role primary.")
    standby: str | None = Field(None, description="Region name failed over to. Default: the first region with role standby.")
    ttl_seconds: int = Field(60, ge=5, le=3600, description="TTL of the failover answers; default 60 s.")
    health_check: HealthCheckSpec = Field(default_factory=HealthCheckSpec, description="Probe settings.")
    gcp_probe_regions: list[str] | None = Field(
        None, min_length=3, max_length=3,
        description="gcp: exactly three regions the Cloud DNS health checker probes from. Default: the primary, "
        "the standby and one more US/EU region.",
    )

    @field_validator("dns_name")
    @classmethod
    def _fqdn(cls, v: str) -> str:
        v = v.rstrip(".").lower()
        if not _DNS_NAME.match(v):
            raise ValueError(f"a fully qualified DNS name such as infer.example.com, got {v!r}")
        return v

    def detection_seconds(self) -> int:
        """Expected time from an endpoint failing to the DNS service marking it unhealthy."""
        return self.health_check.interval_seconds * self.health_check.failure_threshold


class RegionLike(Protocol):
    """What `failover_issues` reads of a configured region (infra.config.RegionConfig plus `endpoint`)."""

    name: str
    cloud: str
    region: str
    role: str


def resolve_pair(failover: FailoverSpec, regions: Sequence[Any]) -> tuple[int, int] | None:
    """Indexes of the (primary, standby) regions, or None when they cannot be resolved."""
    names = [r.name for r in regions]
    if failover.primary is not None:
        if failover.primary not in names:
            return None
        p = names.index(failover.primary)
    else:
        primaries = [i for i, r in enumerate(regions) if r.role == "primary"]
        if not primaries:
            return None
        p = primaries[0]
    if failover.standby is not None:
        if failover.standby not in names:
            return None
        s = names.index(failover.standby)
    else:
        standbys = [i for i, r in enumerate(regions) if r.role == "standby" and i != p]
        if not standbys:
            return None
        s = standbys[0]
    return p, s


_EXTRA_PROBE_REGIONS = ("us-central1", "us-east1", "europe-west1", "europe-west4")


def gcp_probe_regions(failover: FailoverSpec, primary_region: str, standby_region: str) -> list[str]:
    if failover.gcp_probe_regions is not None:
        return list(failover.gcp_probe_regions)
    picked = list(dict.fromkeys([primary_region, standby_region]))
    picked += [r for r in _EXTRA_PROBE_REGIONS if r not in picked]
    return picked[:3]


def failover_issues(failover: FailoverSpec, regions: Sequence[Any]) -> list[Issue]:
    """Problems of a `failover` block as (path relative to the platform block, value, allowed)."""
    if not failover.enabled:
        return []
    out: list[Issue] = []
    names = [r.name for r in regions]
    for field in ("primary", "standby"):
        value = getattr(failover, field)
        if value is not None and value not in names:
            out.append((f"failover.{field}", value, f"the name of a configured region: {', '.join(names)}"))
    if out:
        return out
    pair = resolve_pair(failover, regions)
    if pair is None:
        if failover.primary is None and not any(r.role == "primary" for r in regions):
            return []  # the platform check reports the missing primary
        return [("failover.standby", None, "a standby region to fail over to: add a region with role: standby "
                                           "(or set failover.standby), or set failover.enabled: false")]
    pi, si = pair
    primary, standby = regions[pi], regions[si]
    if pi == si:
        return [("failover.standby", standby.name, f"a region other than the primary ({primary.name})")]
    if primary.cloud != standby.cloud:
        return [("failover.standby", standby.name,
                 f"a {primary.cloud} region like the primary ({primary.name}): cross-cloud failover is not supported "
                 "(the record set and its health checks live in one cloud's DNS service, built with that cloud's "
                 "provider; pointing it at another cloud's load balancer needs both clouds' outputs in one stack and "
                 "leaves the standby's health to a foreign checker)")]
    cloud = primary.cloud
    for i in (pi, si):
        r = regions[i]
        ep = getattr(r, "endpoint", None)
        if ep is None:
            out.append((f"regions[{i}].endpoint", None, "an endpoint block: failover points the DNS name at the "
                                                        "primary's and the standby's endpoints"))
            continue
        if getattr(r, "serving", True) is None:
            out.append((f"regions[{i}].serving", None, "a serving block: the standby must serve the same models"))
        if cloud in ("aws", "azure") and ep.exposure != "external":
            checker = "Route53 health checkers" if cloud == "aws" else "Traffic Manager probes"
            out.append((f"regions[{i}].endpoint.exposure", ep.exposure,
                        f"external: {checker} reach endpoints from the internet, not a private load balancer"))
    if cloud == "gcp" and failover.health_check.interval_seconds != 30:
        eps = [getattr(regions[i], "endpoint", None) for i in (pi, si)]
        if any(ep is not None and ep.exposure == "external" for ep in eps):
            out.append(("failover.health_check.interval_seconds", failover.health_check.interval_seconds,
                        "30: Cloud DNS health checks of external endpoints run at least every 30 s"))
    if cloud == "gcp":
        eps = [getattr(regions[i], "endpoint", None) for i in (pi, si)]
        kinds = {ep.exposure for ep in eps if ep is not None}
        if len(kinds) > 1:
            out.append((f"regions[{si}].endpoint.exposure", eps[1].exposure if eps[1] else None,
                        f"{eps[0].exposure if eps[0] else 'the same'} like the primary: a Cloud DNS record is either "
                        "public (external endpoints) or private (internal load balancers)"))
    zone_ok = {"aws": r"^Z[A-Z0-9]{1,32}$", "gcp": r"^[a-z][a-z0-9-]{0,62}$",
               "azure": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}[cloud]
    if not re.match(zone_ok, failover.zone):
        what = {"aws": "a Route53 hosted zone id (Z...)", "gcp": "a Cloud DNS managed zone name",
                "azure": "a Traffic Manager relative DNS name (lowercase letters, digits, '-')"}[cloud]
        out.append(("failover.zone", failover.zone, what))
    if cloud == "gcp" and failover.gcp_probe_regions is not None:
        if len(set(failover.gcp_probe_regions)) != 3:
            out.append(("failover.gcp_probe_regions", failover.gcp_probe_regions, "three different GCP regions"))
    return out


def endpoint_ports(spec: EndpointSpec) -> dict[str, int]:
    """Client-facing ports: http (80, or 443 with TLS) and grpc (8001)."""
    ports = {"http": 443 if spec.tls is not None else 80}
    if spec.grpc:
        ports["grpc"] = GRPC_PORT
    return ports


def failover_summary(failover: FailoverSpec, regions: Sequence[Any]) -> dict[str, Any]:
    """The failover path for the plan (plan.json `endpoints.failover`): which region serves the DNS name,
    where it fails over to, how it is checked and the expected detection time (interval x threshold).
    Call it only when `failover_issues` found nothing."""
    pair = resolve_pair(failover, regions)
    if not failover.enabled or pair is None:
        return {"enabled": False}
    primary, standby = regions[pair[0]], regions[pair[1]]
    cloud = primary.cloud
    ep = getattr(primary, "endpoint", None)
    tls = ep is not None and ep.tls is not None
    hc = failover.health_check
    mechanism = {"aws": "route53-failover-records", "gcp": "cloud-dns-primary-backup",
                 "azure": "traffic-manager-priority"}[cloud]
    internal_gcp = cloud == "gcp" and ep is not None and ep.exposure == "internal"
    detection = failover.detection_seconds()
    return {
        "enabled": True,
        "dnsName": failover.dns_name,
        "cloud": cloud,
        "mechanism": mechanism,
        "primary": {"region": primary.name, "cloudRegion": primary.region},
        "standby": {"region": standby.name, "cloudRegion": standby.region},
        "path": f"{failover.dns_name}: {primary.name} ({primary.region}) -> {standby.name} ({standby.region})",
        "healthCheck": {
            "protocol": "HTTPS" if tls else "HTTP",
            "port": 443 if tls else 80,
            "path": hc.path,
            "intervalSeconds": hc.interval_seconds,
            "failureThreshold": hc.failure_threshold,
            **({"checkedBy": "Cloud DNS internal load balancer health (backend health, not the HTTP path)"}
               if internal_gcp else {}),
        },
        "detectionSeconds": detection,
        "ttlSeconds": failover.ttl_seconds,
        # Clients holding the old answer keep it until the TTL runs out.
        "worstCaseSwitchSeconds": detection + failover.ttl_seconds,
        **({"trafficManagerFqdn": f"{failover.zone}.trafficmanager.net"} if cloud == "azure" else {}),
    }


def per_replica(limit: Limit, replicas: int) -> int:
    """A limit's share per Envoy replica (local buckets are per proxy; the NLB/LB spreads connections)."""
    return max(1, math.ceil(limit.requests / replicas))


def slug(text: str) -> str:
    """A DNS-label-safe form of a model name (lowercase, '-' for other characters)."""
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return s or "x"


def route_key_names(models: Sequence[str]) -> Mapping[str, str]:
    """model -> unique DNS-label suffix (a short hash breaks collisions such as a_b / a.b)."""
    import hashlib

    out: dict[str, str] = {}
    used: set[str] = set()
    for m in sorted(models):
        s = slug(m)[:40]
        if s in used or s != m.lower():
            s = f"{s[:33]}-{hashlib.sha256(m.encode()).hexdigest()[:6]}"
        used.add(s)
        out[m] = s
    return out


def failover_line(summary: Mapping[str, Any]) -> str:
    """One line for the plan's text output, from `failover_summary`."""
    if not summary.get("enabled"):
        return "failover: none"
    hc = summary["healthCheck"]
    return (f"failover: {summary['path']} via {summary['mechanism']}; {hc['protocol']} {hc['path']} on port "
            f"{hc['port']} every {hc['intervalSeconds']} s, unhealthy after {hc['failureThreshold']} failures: "
            f"detected in ~{summary['detectionSeconds']} s (clients switch within "
            f"~{summary['worstCaseSwitchSeconds']} s incl. TTL {summary['ttlSeconds']} s)")
