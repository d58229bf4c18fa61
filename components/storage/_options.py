"""Resource options shared by store and replica children (neutral)."""

from __future__ import annotations

from typing import Sequence

import pulumi


def child(
    parent: pulumi.Resource,
    *,
    provider: pulumi.ProviderResource | None = None,
    keep: bool = False,
    depends_on: Sequence[pulumi.Resource] | None = None,
    **kwargs,
) -> pulumi.ResourceOptions:
    """Options of one child: parented, on `provider` when given (else the parent's), and with
    `keep` (stateful resources in prod) both protected and retained on delete, so neither a
    `pulumi destroy` nor removing the component from the program deletes the data."""
    return pulumi.ResourceOptions(
        parent=parent,
        provider=provider,
        protect=keep,
        retain_on_delete=keep,
        depends_on=list(depends_on) if depends_on else None,
        **kwargs,
    )
