from __future__ import annotations

import pulumi_azure_native as azure_native


def provider(name: str, *, region: str, tags: dict[str, str], project_id=None, subscription_id=None, opts=None):
    # azure-native has no provider-level default tags: components pass `tags` on each resource.
    return azure_native.Provider(
        name,
        azure_native.ProviderArgs(location=region, subscription_id=subscription_id),
        opts=opts,
    )
