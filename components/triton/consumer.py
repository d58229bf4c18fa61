"""For consumer stacks: a model store another stack owns, usable for publishing and serving.

A team stack that adds its own `TritonService` to an existing platform reads the platform's
outputs through a `pulumi.StackReference`; `ModelStoreReference` turns those outputs into the
`.handle` (for `publish_model_repository` / `publish_serving_repositories`) and `.ref` (the
`BucketRef` `TritonService` reads) that a `ModelStore` would have, without owning the store.
It registers no cloud resources itself; pass the cloud provider in `opts.providers` so the
uploaded objects use it.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pydantic import ConfigDict, Field, model_validator

from .._model import Args

TYPE_TOKEN = "gpufleet:triton:ModelStoreReference"


class ModelStoreReferenceArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    cloud: Literal["aws", "gcp", "azure"] = Field(..., description="The store's cloud.")
    region: str = Field(..., description="The store's region (AWS: Triton's S3 client needs it).")
    bucket: Any = Field(..., description="S3/GCS bucket name or Azure blob container (Input[str]).")
    reader: Any = Field(
        None, description="The store's reader identity (role ARN, GCP SA email, client id; Input[str]). Default: "
        "none (no identity annotation; Azure pods still get the workload-identity label).",
    )
    account: Any = Field(None, description="Azure storage account name (Input[str]); required on azure.")
    resource_group: Any = Field(None, description="Azure resource group of the account (Input[str]); required on azure.")
    kms_key_arn: Any = Field(None, description="AWS: the bucket's KMS key ARN for uploads (Input[str]). Default: aws/s3.")
    shared_key_access: bool = Field(
        True, description="Azure: the account allows shared-key uploads (needed by Pulumi-managed blobs); default true.",
    )
    environment: Literal["dev", "staging", "prod"] = Field("prod", description="The owning stack's environment.")

    @model_validator(mode="after")
    def _azure(self) -> "ModelStoreReferenceArgs":
        if self.cloud == "azure" and (self.account is None or self.resource_group is None):
            raise ValueError("azure stores need account and resource_group")
        return self


class ModelStoreReference(pulumi.ComponentResource):
    """A store owned elsewhere. Outputs: `bucket_name`, `uri`, `ref` (BucketRef), `handle` (StoreHandle)."""

    def __init__(self, name: str, args: ModelStoreReferenceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        from components.storage.args import AzureStoreOptions, ModelStoreConfig, ServiceAccountRef
        from components.storage.ref import StoreHandle, bucket_ref

        out = pulumi.Output.from_input
        bucket = out(args.bucket)
        account = out(args.account) if args.account is not None else None
        reader = out(args.reader) if args.reader is not None else None
        self.ref = bucket_ref(args.cloud, args.region, bucket, reader, account=account)
        if args.cloud == "azure" and not self.ref.pod_labels:
            import dataclasses

            from components.storage.ref import POD_LABELS

            # Serving pods need the webhook label even when this stack does not know the reader.
            self.ref = dataclasses.replace(self.ref, pod_labels=dict(POD_LABELS["azure"]))
        config = ModelStoreConfig(
            azure=AzureStoreOptions(shared_key_access=args.shared_key_access) if args.cloud == "azure" else None)
        self.handle = StoreHandle(
            cloud=args.cloud, region=args.region, region_name=name, environment=args.environment, name=name,
            config=config, reader_account=ServiceAccountRef(), tags={}, bucket=bucket, bucket_id=bucket,
            versioned=True, customer_managed_key=args.kms_key_arn is not None,
            key_id=out(args.kms_key_arn) if args.kms_key_arn is not None else None,
            account_name=account,
            resource_group_name=out(args.resource_group) if args.resource_group is not None else None,
        )
        self.bucket_name = bucket
        self.uri = self.ref.uri
        self.register_outputs({"cloud": args.cloud, "region": args.region, "bucketName": bucket, "uri": self.uri})
