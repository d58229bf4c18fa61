"""What a per-cloud replication module hands back, and the replica settings they share (neutral)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from ..storage.args import ModelStoreConfig, StoreEncryption
from ..storage.naming import store_name
from ..storage.ref import BucketRef, StoreHandle
from .args import ModelStoreReplicationArgs


@dataclass(frozen=True)
class ReplicationBuild:
    replica_bucket: pulumi.Output[str]  # bucket (aws/gcp) or container (azure) Triton reads in the standby
    ref: BucketRef


def replica_name(args: ModelStoreReplicationArgs, source: StoreHandle) -> str:
    return args.replica_name or store_name(
        source.cloud, args.environment, args.target_region_name, args.name_seed, role="replica"
    )


def replica_encryption(args: ModelStoreReplicationArgs, source: StoreHandle) -> StoreEncryption:
    """The configured replica encryption, else the source's choice (a new key in the standby region
    when the source has a customer-managed key)."""
    return args.replica_encryption or StoreEncryption(customer_managed_key=source.customer_managed_key)


def replica_config(source: StoreHandle, encryption: StoreEncryption) -> ModelStoreConfig:
    """The source store's settings for its replica: always versioned (every service requires it on
    the destination), no access logging (log targets are regional) and the replica's own key."""
    return source.config.model_copy(update={"versioning": True, "access_logging": None, "encryption": encryption})
