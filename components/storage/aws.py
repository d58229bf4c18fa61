"""S3 flavour of `ModelStore`, plus the S3 building blocks the DR replica reuses.

Every child is parented to the component. Store children take no provider and inherit the
region's explicit aws provider; the DR component passes its standby provider to the same
building blocks. pulumi-aws 7: the bucket is `aws.s3.Bucket` with the separate configuration
resources (the inline versioning/encryption/lifecycle arguments and the *V2 classes are
deprecated), and nested inputs are the SDK's typed *Args classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws

from .._contracts import WorkloadIdentity
from ._options import child
from .args import ModelStoreArgs, ModelStoreConfig, ServiceAccountRef, StoreEncryption
from .ref import BucketRef, StoreHandle, bucket_ref
from .repository import RepositoryFile

KMS_DELETION_WINDOW_DAYS = 30
STS_AUDIENCE = "sts.amazonaws.com"

# --- policy documents (pure) -------------------------------------------------------------------


def _doc(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def tls_only_policy(bucket_arn: str) -> str:
    """Deny every request that is not over TLS 1.2+, whoever makes it (the bucket's own admins too)."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return _doc(
        [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOutdatedTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
        ]
    )


def reader_policy(bucket_arn: str, key_arn: str | None) -> str:
    """Read-only access to this bucket (list, locate, get) and decrypt with this key only."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ListModels",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
            "Resource": bucket_arn,
        },
        {"Sid": "ReadModels", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{bucket_arn}/*"},
    ]
    if key_arn:
        # Provider-managed (aws/s3) keys need no statement: their key policy admits S3 callers of
        # the account.
        statements.append({"Sid": "DecryptModels", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key_arn})
    return _doc(statements)


def irsa_trust_policy(provider_arn: str, issuer_url: str, account: ServiceAccountRef) -> str:
    """Only this Kubernetes service account of this cluster, with an STS-audience token, may assume."""
    issuer = issuer_url.removeprefix("https://")
    return _doc(
        [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{issuer}:sub": account.subject, f"{issuer}:aud": STS_AUDIENCE}},
            }
        ]
    )


# --- building blocks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Bucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    # What object writes and replication rules must wait for: versioning, default encryption
    # (an object written before it is encrypted with S3-managed keys) and the access block.
    ready: list[pulumi.Resource]


def kms_key(
    parent: pulumi.Resource,
    name: str,
    *,
    description: str,
    alias: str,
    tags: dict[str, str],
    keep: bool,
    provider: pulumi.ProviderResource | None = None,
) -> aws.kms.Key:
    """A symmetric customer-managed key with yearly rotation; losing it loses every object it encrypts."""
    key = aws.kms.Key(
        name,
        aws.kms.KeyArgs(
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
            tags=tags,
        ),
        opts=child(parent, provider=provider, keep=keep),
    )
    aws.kms.Alias(
        f"{name}-alias",
        aws.kms.AliasArgs(name=alias, target_key_id=key.key_id),
        opts=child(parent, provider=provider),
    )
    return key


def store_key(
    parent: pulumi.Resource,
    name: str,
    *,
    encryption: StoreEncryption,
    environment: str,
    label: str,
    tags: dict[str, str],
    provider: pulumi.ProviderResource | None = None,
    always: bool = False,
) -> pulumi.Output[str] | None:
    """The key ARN a bucket encrypts with: the configured one, a new one, or None (aws/s3)."""
    if encryption.kms_key is not None:
        return pulumi.Output.from_input(encryption.kms_key)
    if not (always or encryption.customer_managed(environment)):
        return None
    key = kms_key(
        parent,
        f"{name}-key",
        description=f"gpufleet model store {label}",
        # Alias names allow [A-Za-z0-9/_-]; bucket names may also hold dots.
        alias=f"alias/gpufleet/{label.replace('.', '-')}",
        tags=tags,
        keep=environment == "prod",
        provider=provider,
    )
    return key.arn


def secure_bucket(
    parent: pulumi.Resource,
    name: str,
    *,
    bucket_name: str,
    config: ModelStoreConfig,
    environment: str,
    key_arn: pulumi.Input[str] | None,
    tags: dict[str, str],
    provider: pulumi.ProviderResource | None = None,
) -> S3Bucket:
    """A private, versioned, SSE-KMS bucket that refuses plain HTTP, with lifecycle hygiene."""
    keep = environment == "prod"
    bucket = aws.s3.Bucket(
        f"{name}-bucket",
        aws.s3.BucketArgs(bucket=bucket_name, force_destroy=config.destroy_with_objects(environment), tags=tags),
        opts=child(parent, provider=provider, keep=keep),
    )
    opts = child(parent, provider=provider)
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        aws.s3.BucketOwnershipControlsArgs(
            bucket=bucket.bucket,
            # ACLs disabled: the bucket owner owns every object, access is by policy only.
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        ),
        opts=opts,
    )
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        aws.s3.BucketPublicAccessBlockArgs(
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        opts=opts,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        aws.s3.BucketVersioningInitArgs(
            bucket=bucket.bucket,
            # "Suspended" rather than no resource: turning versioning off (dev only) must be an
            # explicit change the plan shows, not a silently dropped setting.
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled" if config.versioning else "Suspended"
            ),
        ),
        opts=opts,
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms",
                        # None: the AWS-managed aws/s3 key (provider-managed).
                        kms_master_key_id=key_arn,
                    ),
                    # Bucket keys cut KMS requests (and their cost) by orders of magnitude when
                    # Triton pulls many files.
                    bucket_key_enabled=True,
                )
            ],
        ),
        opts=opts,
    )
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=config.abort_incomplete_upload_days
            ),
        )
    ]
    if config.versioning:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=config.noncurrent_version_retention_days
                ),
                # Delete markers left with no versions behind them only slow down listings.
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
            )
        )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        aws.s3.BucketLifecycleConfigurationArgs(bucket=bucket.bucket, rules=rules),
        # Noncurrent-version rules only make sense once versioning is in place.
        opts=child(parent, provider=provider, depends_on=[versioning]),
    )
    logging = config.access_logging
    if logging is not None:
        # The target bucket is the caller's: with ACLs disabled there it needs a bucket policy
        # admitting logging.s3.amazonaws.com.
        aws.s3.BucketLogging(
            f"{name}-logging",
            aws.s3.BucketLoggingInitArgs(
                bucket=bucket.bucket,
                target_bucket=logging.target,
                target_prefix=logging.prefix or f"{bucket_name}/",
            ),
            opts=opts,
        )
    aws.s3.BucketPolicy(
        f"{name}-tls-policy",
        aws.s3.BucketPolicyArgs(bucket=bucket.bucket, policy=bucket.arn.apply(tls_only_policy)),
        # With block_public_policy set first, no later policy edit can make the bucket public.
        opts=child(parent, provider=provider, depends_on=[block]),
    )
    return S3Bucket(bucket=bucket, versioning=versioning, ready=[versioning, encryption, block, ownership])


def irsa_reader(
    parent: pulumi.Resource,
    name: str,
    *,
    identity: WorkloadIdentity,
    account: ServiceAccountRef,
    bucket_arn: pulumi.Output[str],
    key_arn: pulumi.Input[str] | None,
    tags: dict[str, str],
    provider: pulumi.ProviderResource | None = None,
) -> aws.iam.Role:
    """An IRSA role Triton's service account assumes: read-only on this bucket and key."""
    if identity.oidc_provider_arn is None or identity.oidc_issuer_url is None:
        raise ValueError("IRSA reader needs the cluster's oidc_provider_arn and oidc_issuer_url")
    trust = pulumi.Output.all(identity.oidc_provider_arn, identity.oidc_issuer_url).apply(
        lambda a: irsa_trust_policy(a[0], a[1], account)
    )
    role = aws.iam.Role(
        name,
        aws.iam.RoleArgs(
            assume_role_policy=trust,
            description=f"Read-only model store access for {account.namespace}/{account.name}",
            tags=tags,
        ),
        opts=child(parent, provider=provider),
    )
    aws.iam.RolePolicy(
        f"{name}-policy",
        aws.iam.RolePolicyArgs(
            role=role.name,
            policy=pulumi.Output.all(bucket_arn, key_arn).apply(lambda a: reader_policy(a[0], a[1])),
        ),
        opts=child(parent, provider=provider),
    )
    return role


# --- the component's body ------------------------------------------------------------------------


def build(
    component: pulumi.ComponentResource, name: str, args: ModelStoreArgs, identity: WorkloadIdentity | None
) -> tuple[StoreHandle, BucketRef]:
    cfg = args.config
    tags = dict(args.tags)
    key_arn = store_key(
        component, name, encryption=cfg.encryption, environment=args.environment, label=args.name, tags=tags
    )
    s3 = secure_bucket(
        component,
        name,
        bucket_name=args.name,
        config=cfg,
        environment=args.environment,
        key_arn=key_arn,
        tags=tags,
    )
    role = None
    if identity is not None:
        role = irsa_reader(
            component,
            f"{name}-reader",
            identity=identity,
            account=args.reader,
            bucket_arn=s3.bucket.arn,
            key_arn=key_arn,
            tags=tags,
        )
    handle = StoreHandle(
        cloud="aws",
        region=args.region,
        region_name=args.region_name,
        environment=args.environment,
        name=args.name,
        config=cfg,
        reader_account=args.reader,
        tags=tags,
        bucket=s3.bucket.bucket,
        bucket_id=s3.bucket.id,
        bucket_arn=s3.bucket.arn,
        versioned=cfg.versioning,
        customer_managed_key=key_arn is not None,
        key_id=key_arn,
        ready=list(s3.ready),
    )
    return handle, bucket_ref("aws", args.region, s3.bucket.bucket, role.arn if role is not None else None)


def publish(
    parent: pulumi.Resource, name: str, handle: StoreHandle, files: Sequence[RepositoryFile]
) -> list[pulumi.Resource]:
    """One S3 object per file. `source_hash` (the MD5) drives updates: with SSE-KMS the ETag is
    not the content MD5, so an unchanged file is recognised by this hash instead of churning."""
    return [
        aws.s3.BucketObjectv2(
            f"{name}-{f.key}",
            aws.s3.BucketObjectv2Args(
                bucket=handle.bucket,
                key=f.key,
                source=pulumi.FileAsset(str(f.path)),
                content_type=f.content_type,
                source_hash=f.md5,
                server_side_encryption="aws:kms",
                kms_key_id=handle.key_id,
                bucket_key_enabled=True,
                tags=handle.tags,
            ),
            opts=child(parent, depends_on=handle.ready),
        )
        for f in files
    ]
