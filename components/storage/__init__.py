"""`ModelStore`: a hardened, versioned model bucket (S3, GCS) or storage account + container
(Azure Blob), with read-only workload-identity access for Triton, yielding a `BucketRef`.

The per-cloud module (aws.py, gcp.py, azure.py) is imported only when a store of that cloud is
built, so a one-cloud stack never loads the other clouds' SDKs.
"""

from __future__ import annotations

import importlib

import pulumi

from .._contracts import KubernetesTarget, WorkloadIdentity
from .args import (
    AccessLogging,
    AzureStoreOptions,
    ModelStoreArgs,
    ModelStoreConfig,
    ServiceAccountRef,
    StoreEncryption,
    storage_issues,
)
from .naming import store_name
from .ref import IDENTITY_KIND, BucketRef, StoreHandle
from .repository import RepositoryFile, model_repository_files
from .upload import ModelRepository, publish_model_repository

__all__ = [
    "ModelStore",
    "ModelStoreArgs",
    "ModelStoreConfig",
    "StoreEncryption",
    "AccessLogging",
    "AzureStoreOptions",
    "ServiceAccountRef",
    "BucketRef",
    "StoreHandle",
    "storage_issues",
    "store_name",
    "ModelRepository",
    "RepositoryFile",
    "model_repository_files",
    "publish_model_repository",
]

TYPE_TOKEN = "gpufleet:storage:ModelStore"


def reader_workload_identity(cloud: str, reader: WorkloadIdentity | KubernetesTarget | None) -> WorkloadIdentity | None:
    """The cluster identity to trust, from a `WorkloadIdentity` or a `KubernetesTarget`."""
    identity = reader.identity if isinstance(reader, KubernetesTarget) else reader
    if identity is not None and identity.kind != IDENTITY_KIND[cloud]:
        raise ValueError(
            f"a {cloud} store needs a {IDENTITY_KIND[cloud]!r} workload identity, got {identity.kind!r} "
            "(the reader's cluster must be on the store's cloud)"
        )
    return identity


class ModelStore(pulumi.ComponentResource):
    """The model store of one region.

    Pass the region's cloud provider in `opts.providers`; every child inherits it. Pass the
    serving cluster's identity as `reader_identity` (`KubernetesCluster.target` or its
    `.identity`) to create the read-only reader (IRSA role, GCP service account, or user-assigned
    managed identity) for `args.reader` (default gpufleet-serving/triton); without it no reader
    is created and `ref.reader` is "".

    Outputs: `bucket_name`, `uri` (Triton form), `reader`, `ref` (`BucketRef`) and `handle`
    (`StoreHandle`, for `ModelStoreReplication`). In prod the bucket/account/container and the
    key are protected and retained on delete.
    """

    bucket_name: pulumi.Output[str]
    uri: pulumi.Output[str]
    reader: pulumi.Output[str]
    ref: BucketRef
    handle: StoreHandle

    def __init__(
        self,
        name: str,
        args: ModelStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        reader_identity: WorkloadIdentity | KubernetesTarget | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        identity = reader_workload_identity(args.cloud, reader_identity)
        impl = importlib.import_module(f"{__name__}.{args.cloud}")
        self.handle, self.ref = impl.build(self, name, args, identity)
        self.bucket_name = self.ref.bucket
        self.uri = self.ref.uri
        self.reader = self.ref.reader
        self.register_outputs(
            {
                "cloud": args.cloud,
                "region": args.region,
                "bucketName": self.bucket_name,
                "uri": self.uri,
                "reader": self.reader,
            }
        )
