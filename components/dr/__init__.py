"""`ModelStoreReplication`: replicate a region's model store to the stack's standby region with
the cloud's native mechanism (S3 CRR with RTC, GCS dual-region turbo or event-driven transfer,
Azure object replication or RA-GZRS), plus the pure DR config checks and plan summary.

The per-cloud module is imported only when a replication of that cloud is built.
"""

from __future__ import annotations

import importlib

import pulumi

from .._contracts import KubernetesTarget, WorkloadIdentity
from ..storage import reader_workload_identity
from ..storage.ref import BucketRef, StoreHandle
from ._build import ReplicationBuild
from .args import (
    REPLICA_PATHS,
    DrConfig,
    ModelStoreReplicationArgs,
    ReplicationPath,
    dr_issues,
    replication_path,
    resolve_sites,
)
from .plan import PROMISES, ReplicationPlan, describe, plan_replication, replication_summary

__all__ = [
    "ModelStoreReplication",
    "ModelStoreReplicationArgs",
    "DrConfig",
    "ReplicationPath",
    "ReplicationPlan",
    "PROMISES",
    "dr_issues",
    "describe",
    "plan_replication",
    "replication_path",
    "replication_summary",
    "resolve_sites",
]

TYPE_TOKEN = "gpufleet:dr:ModelStoreReplication"

PATH_CLOUD: dict[str, str] = {
    "s3-crr-rtc": "aws",
    "gcs-dual-region-turbo": "gcp",
    "gcs-transfer-event-driven": "gcp",
    "azure-object-replication": "azure",
    "azure-ra-gzrs": "azure",
}


class ModelStoreReplication(pulumi.ComponentResource):
    """Replication of one `ModelStore` (`source`: the store or its `handle`) to the standby region.

    Pass the SOURCE region's provider in `opts.providers` (the replication rule, role, Pub/Sub
    topic and source-side policy live there) and the STANDBY region's provider as
    `standby_provider`: the replica bucket/account, its key and its reader are created on it.
    With `standby_identity` (the standby cluster's `KubernetesTarget` or `WorkloadIdentity`) a
    read-only reader for `args.reader` is created on the replica (on the dual-region bucket or
    RA-GZRS account itself for those paths) and `replica_ref` carries its annotations.

    Outputs: `path`, `rpo` (text), `replica_bucket` and `replica_ref` (a `BucketRef` in the standby
    region). In prod the replica bucket/account/container and key are protected and retained.
    """

    path: str
    rpo: str
    replica_bucket: pulumi.Output[str]
    replica_ref: BucketRef

    def __init__(
        self,
        name: str,
        args: ModelStoreReplicationArgs,
        source,
        opts: pulumi.ResourceOptions | None = None,
        *,
        standby_provider: pulumi.ProviderResource | None = None,
        standby_identity: WorkloadIdentity | KubernetesTarget | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        handle: StoreHandle = getattr(source, "handle", source)
        cloud = PATH_CLOUD[args.path]
        if handle.cloud != cloud:
            raise ValueError(
                f"{name}: path {args.path} replicates {cloud} stores, the source store is on {handle.cloud}"
            )
        if not handle.versioned:
            raise ValueError(f"{name}: the source store {handle.name} is not versioned; replication needs versioning")
        if args.target_region == handle.region:
            raise ValueError(f"{name}: the standby region must differ from the source region {handle.region}")
        if args.path in REPLICA_PATHS and standby_provider is None:
            raise ValueError(
                f"{name}: path {args.path} builds a replica in {args.target_region}; pass standby_provider"
            )
        identity = reader_workload_identity(cloud, standby_identity)
        impl = importlib.import_module(f"{__name__}.{cloud}")
        built: ReplicationBuild = impl.build(self, name, args, handle, standby_provider, identity)
        self.path = args.path
        self.rpo = PROMISES[args.path].rpo
        self.replica_bucket = built.replica_bucket
        self.replica_ref = built.ref
        self.register_outputs(
            {
                "path": self.path,
                "rpo": self.rpo,
                "replicaBucket": self.replica_bucket,
                "replicaUri": built.ref.uri,
                "replicaReader": built.ref.reader,
            }
        )
