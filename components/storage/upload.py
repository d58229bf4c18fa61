"""Publish a local Triton model-repository folder into a model store, one object per file.

The file list comes from the pure `model_repository_files` (sorted keys, content types, MD5 and
SHA-256); the per-cloud module turns each file into an object resource whose update trigger is
the content hash, so a `pulumi up` with unchanged files changes nothing. The cloud module is
imported lazily, like the stores'.
"""

from __future__ import annotations

import importlib
import os

import pulumi

from .ref import StoreHandle
from .repository import RepositoryFile, model_repository_files, normalise_prefix

TYPE_TOKEN = "gpufleet:storage:ModelRepository"


class ModelRepository(pulumi.ComponentResource):
    """The objects of one published model repository. Outputs: `uri` (Triton's
    `--model-repository` value: the store URI plus the prefix) and `keys`."""

    uri: pulumi.Output[str]
    keys: list[str]
    files: list[RepositoryFile]

    def __init__(
        self,
        name: str,
        store,
        folder: str | os.PathLike[str],
        prefix: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        handle: StoreHandle = store.handle
        if handle.cloud == "azure" and not handle.config.azure_options.shared_key_access:
            raise ValueError(
                f"{name}: the Azure store {handle.name} has shared key access off, and azure-native Blob "
                "resources sign uploads with the account key (pulumi/pulumi-azure-native#2015). Set the "
                "store's azure.shared_key_access: true, or upload outside Pulumi with "
                "`az storage blob upload-batch --auth-mode login` / azcopy."
            )
        self.files = model_repository_files(folder, prefix)
        self.keys = [f.key for f in self.files]
        impl = importlib.import_module(f"{__package__}.{handle.cloud}")
        impl.publish(self, name, handle, self.files)
        clean = normalise_prefix(prefix)
        self.uri = store.ref.path(clean) if clean else store.ref.uri
        self.register_outputs({"uri": self.uri, "keys": self.keys})


def publish_model_repository(
    name: str,
    store,
    folder: str | os.PathLike[str],
    prefix: str = "",
    opts: pulumi.ResourceOptions | None = None,
) -> ModelRepository:
    """Upload every file under `folder` into `store` (a `ModelStore`) below `prefix`.

    The objects are children of a `ModelRepository` component, itself parented to the store by
    default so it uses the store's provider. Pass `opts=ResourceOptions(depends_on=[replication])`
    when a DR replication exists: S3 replication and event-driven transfers only copy objects
    written after they are in place.
    """
    defaults = pulumi.ResourceOptions(parent=store)
    return ModelRepository(name, store, folder, prefix, pulumi.ResourceOptions.merge(defaults, opts))
