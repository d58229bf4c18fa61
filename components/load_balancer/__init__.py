"""Inference endpoints: the cloud load balancer in front of a TritonService, edge rate limits
(Envoy Gateway), and DNS failover to a standby region.

Neutral facade: importing this package imports no cloud SDK (aws.py, gcp.py, azure.py are loaded
only for the clouds a stack uses). Config models and checks (`EndpointSpec`, `FailoverSpec`,
`endpoint_issues`, `failover_issues`, `failover_summary`) are pure and live in `args`.
"""

from __future__ import annotations

from typing import Any

from .args import (
    EndpointSpec,
    FailoverSpec,
    HealthCheckSpec,
    Limit,
    RateLimitRule,
    RateLimitSpec,
    TlsSpec,
    endpoint_issues,
    failover_issues,
    failover_line,
    failover_summary,
    resolve_pair,
)

__all__ = [
    "DnsFailover",
    "DnsFailoverArgs",
    "EndpointSpec",
    "FailoverSpec",
    "HealthCheckSpec",
    "InferenceEndpoint",
    "InferenceEndpointArgs",
    "Limit",
    "RateLimitRule",
    "RateLimitSpec",
    "TlsSpec",
    "endpoint_issues",
    "failover_issues",
    "failover_line",
    "failover_side",
    "failover_summary",
    "resolve_pair",
]


def __getattr__(name: str) -> Any:  # lazy: pulumi_kubernetes only when a component is built
    if name in ("InferenceEndpoint", "InferenceEndpointArgs"):
        from . import endpoint

        return getattr(endpoint, name)
    if name in ("DnsFailover", "DnsFailoverArgs"):
        from . import failover

        return getattr(failover, name)
    if name == "failover_side":
        from .failover import side

        return side
    raise AttributeError(name)
