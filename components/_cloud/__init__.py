"""Explicit per-region cloud providers (default providers are disabled in Pulumi.yaml).

`cloud_provider` imports only the SDK of the cloud asked for.
"""

from __future__ import annotations

import importlib

import pulumi

from .._contracts import Cloud


def cloud_provider(
    name: str,
    *,
    cloud: Cloud,
    region: str,
    tags: dict[str, str],
    project_id: str | None = None,
    subscription_id: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> pulumi.ProviderResource:
    """A provider pinned to one region (and project/subscription) that stamps cost tags where the
    provider supports default tags (AWS default_tags, GCP default_labels)."""
    module = importlib.import_module(f"{__name__}.{cloud}")
    return module.provider(name, region=region, tags=tags, project_id=project_id, subscription_id=subscription_id, opts=opts)
