from __future__ import annotations

import pulumi
import pulumi_aws as aws


def provider(name: str, *, region: str, tags: dict[str, str], project_id=None, subscription_id=None, opts=None):
    return aws.Provider(
        name,
        aws.ProviderArgs(region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=tags)),
        opts=opts,
    )
