"""S3 cross-region replication of a model store: replica bucket and key in the standby region
(built from the store's own building blocks, on the standby provider), a least-privilege
replication role, and a replication rule with Replication Time Control.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from .._contracts import WorkloadIdentity
from ..storage import aws as s3store
from ..storage._options import child
from ..storage.ref import StoreHandle, bucket_ref
from ._build import ReplicationBuild, replica_config, replica_encryption, replica_name
from .args import ModelStoreReplicationArgs

RTC_MINUTES = 15  # the only value S3 Replication Time Control accepts


def replication_trust_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        sort_keys=True,
    )


def _kms(action: list[str], key: str, bucket_arn: str, region: str) -> dict[str, Any]:
    # Only through S3 in that region and only for this bucket's objects (with S3 Bucket Keys the
    # encryption context is the bucket ARN, otherwise the object ARN).
    return {
        "Effect": "Allow",
        "Action": action,
        "Resource": key,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
        },
    }


def replication_role_policy(
    source_arn: str, replica_arn: str, source_key: str | None, replica_key: str, source_region: str, replica_region: str
) -> str:
    """Read replication metadata and object versions of the source, write replicas (and delete
    markers and tags) to the replica, decrypt with the source key, encrypt with the replica key."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "SourceBucket",
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": source_arn,
        },
        {
            "Sid": "SourceObjects",
            "Effect": "Allow",
            "Action": ["s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging"],
            "Resource": f"{source_arn}/*",
        },
        {
            "Sid": "ReplicaObjects",
            "Effect": "Allow",
            "Action": ["s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"],
            "Resource": f"{replica_arn}/*",
        },
    ]
    if source_key:
        # A provider-managed (aws/s3) source key admits S3 callers of the account by key policy.
        statements.append({"Sid": "DecryptSource", **_kms(["kms:Decrypt"], source_key, source_arn, source_region)})
    statements.append(
        {
            "Sid": "EncryptReplica",
            **_kms(["kms:Encrypt", "kms:GenerateDataKey"], replica_key, replica_arn, replica_region),
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def build(
    component: pulumi.ComponentResource,
    name: str,
    args: ModelStoreReplicationArgs,
    source: StoreHandle,
    standby: pulumi.ProviderResource | None,
    identity: WorkloadIdentity | None,
) -> ReplicationBuild:
    assert standby is not None and source.bucket_arn is not None
    env, tags = args.environment, dict(args.tags)
    bucket_name = replica_name(args, source)
    encryption = replica_encryption(args, source)
    # SSE-KMS objects can only be replicated into a bucket with a replica key: always have one.
    replica_key = s3store.store_key(
        component,
        f"{name}-replica",
        encryption=encryption,
        environment=env,
        label=bucket_name,
        tags=tags,
        provider=standby,
        always=True,
    )
    assert replica_key is not None
    replica = s3store.secure_bucket(
        component,
        f"{name}-replica",
        bucket_name=bucket_name,
        config=replica_config(source, encryption),
        environment=env,
        key_arn=replica_key,
        tags=tags,
        provider=standby,
    )

    # IAM is global: the role and its policy live with the source, on the component's provider.
    role = aws.iam.Role(
        f"{name}-role",
        aws.iam.RoleArgs(
            assume_role_policy=replication_trust_policy(),
            description=f"S3 replication of {source.name} to {bucket_name}",
            tags=tags,
        ),
        opts=child(component),
    )
    src_region, dst_region = source.region, args.target_region
    policy = aws.iam.RolePolicy(
        f"{name}-role-policy",
        aws.iam.RolePolicyArgs(
            role=role.name,
            policy=pulumi.Output.all(source.bucket_arn, replica.bucket.arn, source.key_id, replica_key).apply(
                lambda a: replication_role_policy(a[0], a[1], a[2], a[3], src_region, dst_region)
            ),
        ),
        opts=child(component),
    )
    rule = aws.s3.BucketReplicationConfigRuleArgs(
        id=f"dr-to-{args.target_region_name}",
        status="Enabled",
        # An empty filter selects the whole bucket and makes this a V2 rule (needed for
        # delete-marker replication).
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(),
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Enabled"),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status="Enabled"
            )
        ),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=replica.bucket.arn,
            storage_class="STANDARD",
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=replica_key
            ),
            replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled",
                time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=RTC_MINUTES),
            ),
            # RTC requires metrics; the threshold raises an event for every object later than 15 min.
            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status="Enabled",
                event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                    minutes=RTC_MINUTES
                ),
            ),
        ),
    )
    aws.s3.BucketReplicationConfig(
        f"{name}-rule",
        aws.s3.BucketReplicationConfigArgs(bucket=source.bucket, role=role.arn, rules=[rule]),
        # S3 rejects a replication configuration until versioning is on at both ends, and it
        # cannot replicate before the role may act.
        opts=child(component, depends_on=[*source.ready, *replica.ready, policy]),
    )

    reader = None
    if identity is not None:
        reader = s3store.irsa_reader(
            component,
            f"{name}-replica-reader",
            identity=identity,
            account=args.reader,
            bucket_arn=replica.bucket.arn,
            key_arn=replica_key,
            tags=tags,
            provider=standby,
        )
    ref = bucket_ref("aws", args.target_region, replica.bucket.bucket, reader.arn if reader is not None else None)
    return ReplicationBuild(replica_bucket=replica.bucket.bucket, ref=ref)
