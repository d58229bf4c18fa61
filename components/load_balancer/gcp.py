"""GCP: Cloud DNS primary-backup failover between two regions' endpoints (imported lazily).

External endpoints: a global health check with exactly three `source_regions` (what Cloud DNS needs
to health-check public IPs; then HTTP/HTTPS only, interval >= 30 s) probing the endpoint path, and a
record set whose primary is the primary LB IP and whose backup (geo = the standby region) is the
standby LB IP. Internal endpoints: the internal passthrough load balancers are listed as
`internal_load_balancers`; Cloud DNS then follows their backend health (no HTTP path), and the zone
must be private to the VPC.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from .args import gcp_probe_regions

_DNS = gcp.dns


def _ilb(cls: Any, s: Any, project: str | None) -> Any:
    return cls(ip_address=s.address, ip_protocol="tcp", network_url=s.network_id, port=str(s.port),
               project=s.project_id or project, load_balancer_type="regionalL4ilb", region=s.cloud_region)


def build_failover(parent: pulumi.Resource, name: str, failover: Any, sides: list[Any], project: str | None,
                   provider: pulumi.ProviderResource) -> dict[str, Any]:
    primary, standby = sides
    hc = failover.health_check
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    internal = primary.internal
    health_check = None
    if internal:
        if primary.network_id is None or standby.network_id is None:
            raise ValueError("gcp internal failover needs each region's VPC network (ClusterBuild.network_id)")
        primary_targets = _DNS.RecordSetRoutingPolicyPrimaryBackupPrimaryArgs(internal_load_balancers=[
            _ilb(_DNS.RecordSetRoutingPolicyPrimaryBackupPrimaryInternalLoadBalancerArgs, primary, project)])
        backup_targets = _DNS.RecordSetRoutingPolicyPrimaryBackupBackupGeoHealthCheckedTargetsArgs(
            internal_load_balancers=[_ilb(
                _DNS.RecordSetRoutingPolicyPrimaryBackupBackupGeoHealthCheckedTargetsInternalLoadBalancerArgs,
                standby, project)])
    else:
        probe = {"port": primary.port, "request_path": hc.path}
        health_check = gcp.compute.HealthCheck(
            f"{name}-check",
            gcp.compute.HealthCheckArgs(
                project=project,
                description=f"gpufleet failover {failover.dns_name}: {hc.path} through the load balancers",
                check_interval_sec=hc.interval_seconds,
                timeout_sec=5,
                unhealthy_threshold=hc.failure_threshold,
                healthy_threshold=2,
                source_regions=gcp_probe_regions(failover, primary.cloud_region, standby.cloud_region),
                https_health_check=gcp.compute.HealthCheckHttpsHealthCheckArgs(**probe) if primary.tls else None,
                http_health_check=None if primary.tls else gcp.compute.HealthCheckHttpHealthCheckArgs(**probe),
            ),
            opts=opts,
        )
        primary_targets = _DNS.RecordSetRoutingPolicyPrimaryBackupPrimaryArgs(external_endpoints=[primary.address])
        backup_targets = _DNS.RecordSetRoutingPolicyPrimaryBackupBackupGeoHealthCheckedTargetsArgs(
            external_endpoints=[standby.address])
    record_set = _DNS.RecordSet(
        f"{name}-record",
        _DNS.RecordSetArgs(
            project=project,
            managed_zone=failover.zone,
            name=f"{failover.dns_name}.",
            type="A",
            ttl=failover.ttl_seconds,
            routing_policy=_DNS.RecordSetRoutingPolicyArgs(
                health_check=health_check.id if health_check is not None else None,
                primary_backup=_DNS.RecordSetRoutingPolicyPrimaryBackupArgs(
                    primary=primary_targets,
                    backup_geos=[_DNS.RecordSetRoutingPolicyPrimaryBackupBackupGeoArgs(
                        location=standby.cloud_region, health_checked_targets=backup_targets)],
                    # All traffic to the primary while it is healthy.
                    trickle_ratio=0.0,
                ),
            ),
        ),
        opts=opts,
    )
    return {"healthCheck": health_check, "recordSet": record_set}
