"""Small Pulumi programs for the CLI tests (`python -m infra plan --program tests.policy.programs:...`)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

TAGS = {"environment": "dev", "owner": "ml-platform", "cost-center": "cc-1"}


def one_mandatory_violation() -> None:
    """Exactly one finding: a launch template letting pods reach IMDS (hop limit 2)."""
    p = aws.Provider("aws", region="us-east-1")
    aws.ec2.LaunchTemplate(
        "nodes",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=2),
        tags=TAGS,
        opts=pulumi.ResourceOptions(provider=p),
    )


def failing() -> None:
    raise RuntimeError("boom")
