"""Shared helpers for tests that run components under the recording mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from components.monitoring.args import DEFAULT_LOG_RETENTION
from infra.plan.runner import ProgramRun, run_program

REGIONS = {"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}
TAGS = {"cost-center": "cc-1234", "environment": "dev", "managed-by": "gpufleet", "owner": "ml-platform"}


def run_cluster(
    cloud: str,
    spec: dict[str, Any],
    *,
    environment: str = "dev",
    region: str | None = None,
    stack_reference_outputs: dict[str, dict[str, Any]] | None = None,
    project_id: str | None = "gpufleet-test",
) -> ProgramRun:
    """Build one `KubernetesCluster` (named "r1") with an explicit provider and record it."""
    from components._cloud import cloud_provider
    from components.cluster import KubernetesCluster, KubernetesClusterArgs, ClusterSpec

    region = region or REGIONS[cloud]

    def program() -> None:
        provider = cloud_provider(
            f"r1-{cloud}", cloud=cloud, region=region, tags=TAGS, project_id=project_id if cloud == "gcp" else None
        )
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud=cloud,
                region=region,
                environment=environment,
                spec=ClusterSpec.model_validate(spec),
                tags=TAGS,
                cluster_name=f"gpufleet-{environment}-r1",
                project_id=project_id if cloud == "gcp" else None,
                log_retention_days=DEFAULT_LOG_RETENTION[environment],
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.export("clusterName", cluster.cluster_name)
        pulumi.export("endpoint", cluster.endpoint)
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("oidcIssuerUrl", cluster.oidc_issuer_url)

    return run_program(program, stack=environment, stack_reference_outputs=stack_reference_outputs)


def assert_explicit_providers(run: ProgramRun) -> None:
    """Every custom resource (except providers themselves) names an explicit, non-default provider."""
    for r in run.resources:
        if r.custom and not r.type.startswith("pulumi:providers:") and r.type != "pulumi:pulumi:StackReference":
            assert r.provider, f"{r.type} {r.name} has no explicit provider"
            assert "::default" not in r.provider, f"{r.type} {r.name} uses a default provider: {r.provider}"


KUBERNETES_VERSION = "1.33"  # pinned: the version the shipped stacks run


CRD_DIR = Path(__file__).resolve().parent / "data" / "crds"


def strict_schema(schema: Any) -> Any:
    """A CRD schema as the API server applies it with strict field validation: an object with
    listed properties accepts no others (structural schemas reject unknown fields)."""
    import copy

    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def custom_resource_schemas() -> dict[tuple[str, str], dict]:
    """Published CRD schemas kept as test data (source and version noted in each file/module)."""
    import json

    from components.gpu_pool.gcp import COMPUTE_CLASS_SCHEMA

    schemas = {("cloud.google.com/v1", "ComputeClass"): COMPUTE_CLASS_SCHEMA}
    files = {("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
             ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
             ("gateway.networking.k8s.io/v1", "GatewayClass"): "gateway.networking.k8s.io_v1_gatewayclass.json",
             ("gateway.networking.k8s.io/v1", "Gateway"): "gateway.networking.k8s.io_v1_gateway.json",
             ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io_v1_httproute.json",
             ("gateway.networking.k8s.io/v1", "GRPCRoute"): "gateway.networking.k8s.io_v1_grpcroute.json",
             ("gateway.envoyproxy.io/v1alpha1", "EnvoyProxy"): "envoy_gateway.envoyproxy.io_v1alpha1_envoyproxy.json",
             ("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy"):
                 "envoy_gateway.envoyproxy.io_v1alpha1_backendtrafficpolicy.json",
             # Whole published schemas (Karpenter v1.14.1 / karpenter-provider-azure v1.14.2).
             ("karpenter.sh/v1", "NodePool"): "karpenter.sh_v1_nodepool.json",
             ("karpenter.k8s.aws/v1", "EC2NodeClass"): "karpenter.k8s.aws_v1_ec2nodeclass.json",
             ("karpenter.azure.com/v1beta1", "AKSNodeClass"): "karpenter.azure.com_v1beta1_aksnodeclass.json"}
    for key, filename in files.items():
        path = CRD_DIR / filename
        if path.exists():
            schemas[key] = strict_schema(json.loads(path.read_text()))
    return schemas


def validate_kubernetes_object(obj: dict) -> None:
    """Strict upstream OpenAPI validation for built-in kinds; the CRD's schema for custom ones.
    Raises on any problem (unknown kinds included)."""
    import jsonschema
    import kubernetes_validate

    schema = custom_resource_schemas().get((obj.get("apiVersion"), obj.get("kind")))
    if schema is not None:
        jsonschema.validate(obj, schema)
        return
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
