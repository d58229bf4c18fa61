"""`DnsFailover`: one DNS name, served by the primary region's endpoint and failed over to the
standby's when the DNS service's health check of the primary fails.

- aws: Route53 health checks (HTTP/HTTPS on the endpoint path) of both NLB hostnames, and two
  CNAME failover records PRIMARY/SECONDARY, each tied to its health check.
- gcp: a Cloud DNS record set with a primary-backup routing policy. External endpoints: the load
  balancer IPs as external endpoints, checked by a global HTTP(S) health check with three source
  regions (Cloud DNS health checking of public IPs). Internal endpoints: the internal load
  balancers themselves (Cloud DNS uses their backend health: the node/Envoy health of the GKE
  passthrough LB, not the HTTP path); the zone must then be a private zone.
- azure: a Traffic Manager profile with Priority routing, endpoint monitoring (HTTP/HTTPS, path,
  interval, tolerated failures = threshold - 1) and the two load balancer IPs as external endpoints
  with priority 1 and 2. Clients use <zone>.trafficmanager.net or a CNAME to it.

Detection time = interval x failure threshold (see `args.failover_summary` for the plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import ConfigDict, Field

from .._model import Args
from .args import FailoverSpec, failover_summary  # noqa: F401 - failover_summary re-exported

TYPE_TOKEN = "gpufleet:load_balancer:DnsFailover"


@dataclass(frozen=True)
class FailoverSide:
    """One side of the failover as the per-cloud builders need it."""

    role: str  # primary | standby
    region_name: str
    cloud_region: str
    address: pulumi.Output[str]  # LB hostname (aws) or IP (gcp, azure)
    port: int  # the endpoint's HTTP port (80, or 443 with TLS)
    tls: bool
    internal: bool
    network_id: Any = None  # gcp internal: the VPC network (ClusterBuild.network_id)
    project_id: str | None = None


def side(role: str, region_name: str, endpoint: Any, *, network_id: Any = None,
         project_id: str | None = None) -> FailoverSide:
    spec = endpoint.args.spec
    return FailoverSide(role=role, region_name=region_name, cloud_region=endpoint.args.target.region,
                        address=endpoint.address, port=endpoint.ports["http"], tls=spec.tls is not None,
                        internal=spec.exposure == "internal", network_id=network_id, project_id=project_id)


class DnsFailoverArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    failover: FailoverSpec = Field(..., description="The stack's failover block.")
    cloud: str = Field(..., pattern="^(aws|gcp|azure)$", description="The cloud of both regions.")
    primary: Any = Field(..., description="FailoverSide of the primary region (see `side`).")
    standby: Any = Field(..., description="FailoverSide of the standby region.")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags / labels.")
    project_id: str | None = Field(None, description="gcp: project of the managed zone and health check.")
    resource_group_name: Any = Field(None, description="azure: resource group of the Traffic Manager profile.")


class DnsFailover(pulumi.ComponentResource):
    """Outputs: `dns_name`, `detection_seconds`, `summary` (the plan's dict), and the children
    `health_checks` and `records` (aws), `record_set` / `health_check` (gcp), `profile` (azure)."""

    def __init__(self, name: str, args: DnsFailoverArgs, provider: pulumi.ProviderResource,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        f = args.failover
        sides = [args.primary, args.standby]
        self.dns_name = f.dns_name
        self.detection_seconds = f.detection_seconds()
        self.children: dict[str, Any]
        if args.cloud == "aws":
            from .aws import build_failover

            self.children = build_failover(self, name, f, sides, dict(args.tags), provider)
        elif args.cloud == "gcp":
            from .gcp import build_failover

            self.children = build_failover(self, name, f, sides, args.project_id, provider)
        else:
            from .azure import build_failover

            self.children = build_failover(self, name, f, sides, args.resource_group_name, dict(args.tags), provider)
        self.fqdn = (f"{f.zone}.trafficmanager.net" if args.cloud == "azure" else f.dns_name)
        self.register_outputs({
            "dnsName": f.dns_name,
            "fqdn": self.fqdn,
            "primary": args.primary.region_name,
            "standby": args.standby.region_name,
            "detectionSeconds": self.detection_seconds,
        })
