"""Shared helpers for tests that run components under the recording mocks."""

from __future__ import annotations

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


def custom_resource_schemas() -> dict[tuple[str, str], dict]:
    """Published CRD schemas kept as test data (source and version noted where defined)."""
    from components.gpu_pool.gcp import COMPUTE_CLASS_SCHEMA

    return {("cloud.google.com/v1", "ComputeClass"): COMPUTE_CLASS_SCHEMA}


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
