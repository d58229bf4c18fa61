"""Azure: a Traffic Manager profile with Priority routing between two regions' endpoints (imported
lazily). Endpoint monitoring probes the endpoint path through each load balancer's public IP;
Traffic Manager marks an endpoint degraded after `tolerated_number_of_failures + 1` failed probes,
so tolerated = failure_threshold - 1. TLS: HTTPS probes (Traffic Manager does not validate the
certificate). The endpoints' Services allow the AzureTrafficManager service tag through their
source ranges (InferenceEndpointArgs.traffic_manager).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure_native

_TM = azure_native.trafficmanager
EXTERNAL_ENDPOINT = "Microsoft.Network/trafficManagerProfiles/externalEndpoints"


def build_failover(parent: pulumi.Resource, name: str, failover: Any, sides: list[Any], resource_group_name: Any,
                   tags: dict[str, str], provider: pulumi.ProviderResource) -> dict[str, Any]:
    if resource_group_name is None:
        raise ValueError("azure failover needs a resource group for the Traffic Manager profile")
    hc = failover.health_check
    primary = sides[0]
    profile = _TM.Profile(
        f"{name}-profile",
        _TM.ProfileArgs(
            resource_group_name=resource_group_name,
            profile_name=failover.zone,
            location="global",
            profile_status="Enabled",
            traffic_routing_method="Priority",
            dns_config=_TM.DnsConfigArgs(relative_name=failover.zone, ttl=failover.ttl_seconds),
            monitor_config=_TM.MonitorConfigArgs(
                protocol="HTTPS" if primary.tls else "HTTP",
                port=primary.port,
                path=hc.path,
                interval_in_seconds=hc.interval_seconds,
                # 10 s probing allows 5-9 s timeouts, 30 s probing 5-10 s.
                timeout_in_seconds=5 if hc.interval_seconds == 10 else 10,
                tolerated_number_of_failures=hc.failure_threshold - 1,
                expected_status_code_ranges=[_TM.MonitorConfigExpectedStatusCodeRangesItemArgs(min=200, max=299)],
            ),
            endpoints=[
                _TM.EndpointArgs(
                    name=f"{s.region_name}-{s.role}",
                    type=EXTERNAL_ENDPOINT,
                    target=s.address,
                    endpoint_status="Enabled",
                    priority=i + 1,
                    endpoint_location=s.cloud_region,
                )
                for i, s in enumerate(sides)
            ],
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return {"profile": profile}
