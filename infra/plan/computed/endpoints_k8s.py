"""Computed-output placeholders for the endpoint load balancer Services (see package docstring).

A Service of type LoadBalancer gets `status.loadBalancer.ingress[0]` from the cloud once the load
balancer exists: a hostname on AWS (NLB DNS name), an IP on GCP and Azure. The endpoint and DNS
failover components read it back; under the mocks it is a `<computed:...>` placeholder. The cloud is
told by the Service itself: AWS load balancer annotations or class -> hostname, else IP.
"""

from __future__ import annotations

from typing import Any


def _service(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    spec = inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return {}
    annotations = (inputs.get("metadata") or {}).get("annotations") or {}
    aws = str(spec.get("loadBalancerClass", "")).startswith("service.k8s.aws/") or any(
        k.startswith("service.beta.kubernetes.io/aws-load-balancer-") for k in annotations)
    ingress = ({"hostname": f"<computed:kubernetes:Service:{name}:hostname>.elb.amazonaws.com"} if aws
               else {"ip": f"<computed:kubernetes:Service:{name}:ip>"})
    return {"status": {"loadBalancer": {"ingress": [ingress]}}}


RESOURCES: dict[str, Any] = {"kubernetes:core/v1:Service": _service}
CALLS: dict[str, Any] = {}
