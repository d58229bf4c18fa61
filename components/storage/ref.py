"""What a model store hands to its consumers: `BucketRef` (Triton) and `StoreHandle` (DR).

Neutral: no cloud SDK import. The URI forms are Triton's, from the Triton server docs
(triton-inference-server/server, docs/user_guide/model_repository.md, "Model Repository
Locations"): ``gs://bucket/path``, ``s3://bucket/path`` and
``as://account_name/container_name/path``. The same page documents Entra authentication for
Azure Storage through ``AZURE_STORAGE_AUTH_TYPE`` (``default`` runs the DefaultAzureCredential
chain, which includes AKS workload identity) with ``AZURE_STORAGE_ACCOUNT``; older Triton
releases only read an account key, so the Triton image must be recent enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pulumi

from .._contracts import Cloud

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .args import ModelStoreConfig, ServiceAccountRef

URI_SCHEME: dict[str, str] = {"aws": "s3", "gcp": "gs", "azure": "as"}
IDENTITY_KIND: dict[str, str] = {"aws": "irsa", "gcp": "gke", "azure": "azure"}
# The annotation each cloud's workload-identity integration reads on the Kubernetes service account.
SERVICE_ACCOUNT_ANNOTATION: dict[str, str] = {
    "aws": "eks.amazonaws.com/role-arn",
    "gcp": "iam.gke.io/gcp-service-account",
    "azure": "azure.workload.identity/client-id",
}
# Azure's mutating webhook only injects the federated token into pods carrying this label.
POD_LABELS: dict[str, dict[str, str]] = {"azure": {"azure.workload.identity/use": "true"}}


@dataclass(frozen=True)
class BucketRef:
    """A model store as Triton sees it.

    `uri` is the repository root in Triton's form; `path("models")` appends a prefix. `reader` is
    the identity pods assume (IAM role ARN, GCP service account email, managed identity client
    id), or "" when the store was built without a reader. Put `service_account_annotations` on
    the serving pods' service account, `pod_labels` on the pods and `env` in Triton's container.
    """

    cloud: Cloud
    region: str
    bucket: pulumi.Output[str]  # S3/GCS bucket; Azure blob container
    uri: pulumi.Output[str]
    reader: pulumi.Output[str]
    service_account_annotations: dict[str, pulumi.Output[str]]
    pod_labels: dict[str, str]
    env: dict[str, pulumi.Input[str]]
    account: pulumi.Output[str] | None = None  # Azure storage account

    def path(self, prefix: str) -> pulumi.Output[str]:
        clean = prefix.strip("/")
        return self.uri.apply(lambda u: f"{u}/{clean}" if clean else u)


def bucket_ref(
    cloud: Cloud,
    region: str,
    bucket: pulumi.Output[str],
    reader: pulumi.Output[str] | None,
    *,
    account: pulumi.Output[str] | None = None,
) -> BucketRef:
    scheme = URI_SCHEME[cloud]
    if cloud == "azure":
        assert account is not None
        uri = pulumi.Output.all(account, bucket).apply(lambda a: f"{scheme}://{a[0]}/{a[1]}")
        env: dict[str, pulumi.Input[str]] = {"AZURE_STORAGE_ACCOUNT": account, "AZURE_STORAGE_AUTH_TYPE": "default"}
    else:
        uri = bucket.apply(lambda b: f"{scheme}://{b}")
        # Triton's S3 client needs the bucket's region; IRSA supplies only the credentials.
        env = {"AWS_DEFAULT_REGION": region, "AWS_REGION": region} if cloud == "aws" else {}
    annotations = {SERVICE_ACCOUNT_ANNOTATION[cloud]: reader} if reader is not None else {}
    return BucketRef(
        cloud=cloud,
        region=region,
        bucket=bucket,
        uri=uri,
        reader=reader if reader is not None else pulumi.Output.from_input(""),
        service_account_annotations=annotations,
        pod_labels=dict(POD_LABELS.get(cloud, {})) if reader is not None else {},
        env=env,
        account=account,
    )


@dataclass(frozen=True)
class StoreHandle:
    """Cloud-side facts about a built store that replication needs (not for Triton).

    `ready` lists resources a replication rule must wait for (S3 versioning, Azure blob service
    properties with versioning and change feed). Keys: `key_id` is the KMS key ARN (aws), the
    Cloud KMS key name (gcp) or the Key Vault key URL (azure); None means provider-managed.
    """

    cloud: Cloud
    region: str
    region_name: str
    environment: str
    name: str  # deterministic cloud-side name: bucket (aws/gcp) or storage account (azure)
    config: "ModelStoreConfig"
    reader_account: "ServiceAccountRef"
    tags: dict[str, str]
    bucket: pulumi.Output[str]  # bucket name (aws/gcp) or container name (azure)
    bucket_id: pulumi.Output[str]  # bucket id (aws/gcp) or container resource id (azure)
    versioned: bool
    customer_managed_key: bool
    key_id: pulumi.Output[str] | None = None
    bucket_arn: pulumi.Output[str] | None = None  # aws
    project_id: str | None = None  # gcp
    location: str | None = None  # gcp: bucket location (region or multi-region code)
    dual_region: tuple[str, str] | None = None  # gcp: the two regions of a dual-region bucket
    account_name: pulumi.Output[str] | None = None  # azure
    account_id: pulumi.Output[str] | None = None  # azure
    resource_group_name: pulumi.Output[str] | None = None  # azure
    sku: str | None = None  # azure
    ready: list[pulumi.Resource] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
