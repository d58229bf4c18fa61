"""GCS flavour of `ModelStore`, plus the GCS building blocks the DR replica reuses.

Every child is parented to the component and inherits the region's explicit gcp provider unless
a building block is handed another one (the DR standby's). Nested inputs are typed *Args.
"""

from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_gcp as gcp

from .._contracts import WorkloadIdentity
from ._options import child
from .args import ModelStoreArgs, ModelStoreConfig, ServiceAccountRef, StoreEncryption
from .locations import DualRegion, gcs_dual_region
from .naming import gcp_account_id
from .ref import BucketRef, StoreHandle, bucket_ref
from .repository import RepositoryFile

KMS_ROTATION_PERIOD = "7776000s"  # 90 days
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
# storage.objects.get + storage.objects.list: all Triton's GCS client needs to pull a repository.
OBJECT_VIEWER = "roles/storage.objectViewer"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


def _invoke(parent: pulumi.Resource, provider: pulumi.ProviderResource | None) -> pulumi.InvokeOptions:
    return pulumi.InvokeOptions(parent=parent, provider=provider)


def gcs_agent_email(parent: pulumi.Resource, project: str, provider: pulumi.ProviderResource | None = None):
    """The project's Cloud Storage service agent (it encrypts with CMEK and publishes notifications)."""
    return gcp.storage.get_project_service_account_output(project=project, opts=_invoke(parent, provider)).email_address


def store_key(
    parent: pulumi.Resource,
    name: str,
    *,
    encryption: StoreEncryption,
    environment: str,
    project: str,
    kms_location: str,
    tags: dict[str, str],
    provider: pulumi.ProviderResource | None = None,
) -> tuple[pulumi.Input[str] | None, list[pulumi.Resource]]:
    """(CMEK key name or None, what the bucket must wait for). The Cloud Storage service agent is
    granted encrypt/decrypt on a key created here; a given key's owner grants it themselves."""
    if encryption.kms_key is not None:
        return encryption.kms_key, []
    if not encryption.customer_managed(environment):
        return None, []
    keep = environment == "prod"
    # Key rings and keys can never be deleted in GCP and their names are never freed, so they
    # take Pulumi's suffixed auto-names: a destroyed dev stack can be re-created.
    ring = gcp.kms.KeyRing(
        f"{name}-keyring",
        gcp.kms.KeyRingArgs(project=project, location=kms_location),
        opts=child(parent, provider=provider, keep=keep),
    )
    key = gcp.kms.CryptoKey(
        f"{name}-key",
        gcp.kms.CryptoKeyArgs(
            key_ring=ring.id, purpose="ENCRYPT_DECRYPT", rotation_period=KMS_ROTATION_PERIOD, labels=tags
        ),
        # In prod, even a deliberate delete must not schedule destruction of the versions that
        # decrypt every model in the bucket.
        opts=child(parent, provider=provider, keep=keep),
    )
    grant = gcp.kms.CryptoKeyIAMMember(
        f"{name}-key-gcs-agent",
        gcp.kms.CryptoKeyIAMMemberArgs(
            crypto_key_id=key.id,
            role=ENCRYPTER_DECRYPTER,
            member=gcs_agent_email(parent, project, provider).apply(lambda e: f"serviceAccount:{e}"),
        ),
        opts=child(parent, provider=provider),
    )
    # Bucket creation with a default key fails unless the service agent can already use it.
    return key.id, [grant]


def lifecycle_rules(config: ModelStoreConfig) -> list[gcp.storage.BucketLifecycleRuleArgs]:
    rules = [
        gcp.storage.BucketLifecycleRuleArgs(
            action=gcp.storage.BucketLifecycleRuleActionArgs(type="AbortIncompleteMultipartUpload"),
            condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=config.abort_incomplete_upload_days),
        )
    ]
    if config.versioning:
        rules.append(
            gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                    days_since_noncurrent_time=config.noncurrent_version_retention_days,
                    with_state="ARCHIVED",  # noncurrent versions only, never the live objects
                ),
            )
        )
    return rules


def secure_bucket(
    parent: pulumi.Resource,
    name: str,
    *,
    bucket_name: str,
    project: str,
    region: str,
    dual_region: DualRegion | None,
    config: ModelStoreConfig,
    environment: str,
    kms_key_name: pulumi.Input[str] | None,
    tags: dict[str, str],
    depends_on: Sequence[pulumi.Resource] = (),
    provider: pulumi.ProviderResource | None = None,
) -> gcp.storage.Bucket:
    """A private (uniform access, public access prevention enforced), versioned bucket with lifecycle
    hygiene; a configurable dual-region with turbo replication when `dual_region` is given."""
    logging = config.access_logging
    return gcp.storage.Bucket(
        f"{name}-bucket",
        gcp.storage.BucketArgs(
            name=bucket_name,
            project=project,
            # GCS reports locations upper-case; matching it avoids a perpetual diff.
            location=dual_region.location if dual_region else region.upper(),
            custom_placement_config=(
                gcp.storage.BucketCustomPlacementConfigArgs(data_locations=list(dual_region.data_locations))
                if dual_region
                else None
            ),
            # Turbo replication: 100% of new objects in both regions within 15 minutes (SLA-backed).
            rpo="ASYNC_TURBO" if dual_region else None,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning=gcp.storage.BucketVersioningArgs(enabled=config.versioning),
            lifecycle_rules=lifecycle_rules(config),
            encryption=(
                gcp.storage.BucketEncryptionArgs(default_kms_key_name=kms_key_name)
                if kms_key_name is not None
                else None
            ),
            logging=(
                gcp.storage.BucketLoggingArgs(
                    log_bucket=logging.target, log_object_prefix=logging.prefix or bucket_name
                )
                if logging is not None
                else None
            ),
            force_destroy=config.destroy_with_objects(environment),
            labels=tags,
        ),
        opts=child(parent, provider=provider, keep=environment == "prod", depends_on=depends_on),
    )


def gke_reader(
    parent: pulumi.Resource,
    name: str,
    *,
    project: str,
    account_id: str,
    bucket: pulumi.Input[str],
    identity: WorkloadIdentity,
    account: ServiceAccountRef,
    provider: pulumi.ProviderResource | None = None,
) -> gcp.serviceaccount.Account:
    """A GCP service account with object read on this bucket only, impersonable by exactly one
    Kubernetes service account through GKE workload identity."""
    if identity.workload_pool is None:
        raise ValueError("GKE reader needs the cluster's workload_pool")
    gsa = gcp.serviceaccount.Account(
        name,
        gcp.serviceaccount.AccountArgs(
            account_id=account_id,
            project=project,
            display_name=f"Model store reader ({account.namespace}/{account.name})",
            description="Read-only access to one gpufleet model bucket; managed by gpufleet.",
        ),
        opts=child(parent, provider=provider),
    )
    # Bucket-level IAMMember: additive, and scoped to this bucket rather than the project.
    gcp.storage.BucketIAMMember(
        f"{name}-object-viewer",
        gcp.storage.BucketIAMMemberArgs(
            bucket=bucket, role=OBJECT_VIEWER, member=gsa.email.apply(lambda e: f"serviceAccount:{e}")
        ),
        opts=child(parent, provider=provider),
    )
    gcp.serviceaccount.IAMMember(
        f"{name}-workload-identity",
        gcp.serviceaccount.IAMMemberArgs(
            # The account's id is its full resource name (projects/<p>/serviceAccounts/<email>).
            service_account_id=gsa.id,
            role=WORKLOAD_IDENTITY_USER,
            member=identity.workload_pool.apply(
                lambda pool: f"serviceAccount:{pool}[{account.namespace}/{account.name}]"
            ),
        ),
        opts=child(parent, provider=provider),
    )
    return gsa


def build(
    component: pulumi.ComponentResource, name: str, args: ModelStoreArgs, identity: WorkloadIdentity | None
) -> tuple[StoreHandle, BucketRef]:
    cfg = args.config
    project = args.project_id
    assert project is not None  # enforced by ModelStoreArgs on gcp
    tags = dict(args.tags)
    dual = gcs_dual_region(args.region, args.dual_region_with) if args.dual_region_with else None
    key_name, key_deps = store_key(
        component,
        name,
        encryption=cfg.encryption,
        environment=args.environment,
        project=project,
        # A CMEK key must live where the bucket does: the region, or the dual-region's multi-region.
        kms_location=dual.kms_location if dual else args.region,
        tags=tags,
    )
    bucket = secure_bucket(
        component,
        name,
        bucket_name=args.name,
        project=project,
        region=args.region,
        dual_region=dual,
        config=cfg,
        environment=args.environment,
        kms_key_name=key_name,
        tags=tags,
        depends_on=key_deps,
    )
    gsa = None
    if identity is not None:
        gsa = gke_reader(
            component,
            f"{name}-reader",
            project=project,
            account_id=gcp_account_id(f"gf-{args.environment}-{args.region_name}-models"),
            bucket=bucket.name,
            identity=identity,
            account=args.reader,
        )
    handle = StoreHandle(
        cloud="gcp",
        region=args.region,
        region_name=args.region_name,
        environment=args.environment,
        name=args.name,
        config=cfg,
        reader_account=args.reader,
        tags=tags,
        bucket=bucket.name,
        bucket_id=bucket.id,
        versioned=cfg.versioning,
        customer_managed_key=key_name is not None,
        key_id=pulumi.Output.from_input(key_name) if key_name is not None else None,
        project_id=project,
        location=dual.location if dual else args.region.upper(),
        dual_region=(args.region, args.dual_region_with) if dual else None,
        ready=[bucket],
    )
    return handle, bucket_ref("gcp", args.region, bucket.name, gsa.email if gsa is not None else None)


def publish(
    parent: pulumi.Resource, name: str, handle: StoreHandle, files: Sequence[RepositoryFile]
) -> list[pulumi.Resource]:
    """One GCS object per file; `detect_md5hash` (base64 MD5) makes an unchanged file a no-op. The
    bucket's default CMEK key, if any, applies without naming it here."""
    return [
        gcp.storage.BucketObject(
            f"{name}-{f.key}",
            gcp.storage.BucketObjectArgs(
                bucket=handle.bucket,
                name=f.key,
                source=pulumi.FileAsset(str(f.path)),
                content_type=f.content_type,
                detect_md5hash=f.md5_base64,
            ),
            opts=child(parent, depends_on=handle.ready),
        )
        for f in files
    ]
