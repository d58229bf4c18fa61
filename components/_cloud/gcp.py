from __future__ import annotations

import pulumi_gcp as gcp


def provider(name: str, *, region: str, tags: dict[str, str], project_id=None, subscription_id=None, opts=None):
    return gcp.Provider(
        name,
        gcp.ProviderArgs(project=project_id, region=region, default_labels=tags),
        opts=opts,
    )
