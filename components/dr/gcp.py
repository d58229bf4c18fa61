"""GCS replication of a model store.

- gcs-dual-region-turbo: the source store already is a configurable dual-region bucket of both
  regions with turbo replication (built with `ModelStoreArgs.dual_region_with`); nothing is
  copied, the standby reads the same bucket, served from its own region.
- gcs-transfer-event-driven: a bucket in the standby region (the store's building blocks on the
  standby provider) kept in sync by an event-driven Storage Transfer Service job that listens to
  a Pub/Sub subscription of the source bucket's object notifications.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from .._contracts import WorkloadIdentity
from ..storage import gcp as gcsstore
from ..storage._options import child
from ..storage.naming import gcp_account_id
from ..storage.ref import StoreHandle, bucket_ref
from ._build import ReplicationBuild, replica_config, replica_encryption, replica_name
from .args import ModelStoreReplicationArgs

# Event-driven transfers act on new and updated objects; deletions in the source are not copied
# (a deleted model stays recoverable in the standby).
EVENT_TYPES = ["OBJECT_FINALIZE", "OBJECT_METADATA_UPDATE"]
# Source: read objects and bucket metadata. Sink: write objects and read them to compare.
SOURCE_ROLES = ("roles/storage.legacyBucketReader", "roles/storage.objectViewer")
SINK_ROLES = ("roles/storage.legacyBucketWriter", "roles/storage.objectViewer")
ACK_DEADLINE_SECONDS = 300  # transfers of large model files outlast the 10 s default
MESSAGE_RETENTION = "604800s"  # 7 days: a paused job catches up on a week of uploads


def _member(email: pulumi.Output[str]) -> pulumi.Output[str]:
    return email.apply(lambda e: f"serviceAccount:{e}")


def _standby_reader(
    component: pulumi.ComponentResource,
    name: str,
    args: ModelStoreReplicationArgs,
    project: str,
    bucket: pulumi.Input[str],
    identity: WorkloadIdentity | None,
    standby: pulumi.ProviderResource | None,
):
    if identity is None:
        return None
    return gcsstore.gke_reader(
        component,
        f"{name}-replica-reader",
        project=project,
        account_id=gcp_account_id(f"gf-{args.environment}-{args.target_region_name}-replica"),
        bucket=bucket,
        identity=identity,
        account=args.reader,
        provider=standby,
    )


def build(
    component: pulumi.ComponentResource,
    name: str,
    args: ModelStoreReplicationArgs,
    source: StoreHandle,
    standby: pulumi.ProviderResource | None,
    identity: WorkloadIdentity | None,
) -> ReplicationBuild:
    project = source.project_id
    assert project is not None
    target_project = args.target_project_id or project
    if args.path == "gcs-dual-region-turbo":
        if source.dual_region != (source.region, args.target_region):
            raise ValueError(
                f"{name}: turbo replication needs the source store to be a dual-region of {source.region} and "
                f"{args.target_region}; build it with ModelStoreArgs(dual_region_with={args.target_region!r}) "
                "(plan_replication(...).store_overrides)"
            )
        gsa = _standby_reader(component, name, args, target_project, source.bucket, identity, standby)
        ref = bucket_ref("gcp", args.target_region, source.bucket, gsa.email if gsa is not None else None)
        return ReplicationBuild(replica_bucket=source.bucket, ref=ref)

    env, tags = args.environment, dict(args.tags)
    bucket_name = replica_name(args, source)
    encryption = replica_encryption(args, source)
    key_name, key_deps = gcsstore.store_key(
        component,
        f"{name}-replica",
        encryption=encryption,
        environment=env,
        project=target_project,
        kms_location=args.target_region,
        tags=tags,
        provider=standby,
    )
    replica = gcsstore.secure_bucket(
        component,
        f"{name}-replica",
        bucket_name=bucket_name,
        project=target_project,
        region=args.target_region,
        dual_region=None,
        config=replica_config(source, encryption),
        environment=env,
        kms_key_name=key_name,
        tags=tags,
        depends_on=key_deps,
        provider=standby,
    )

    # Source side (component provider): notifications -> topic -> subscription.
    topic = gcp.pubsub.Topic(
        f"{name}-events",
        gcp.pubsub.TopicArgs(project=project, labels=tags),
        opts=child(component),
    )
    publisher = gcp.pubsub.TopicIAMMember(
        f"{name}-events-gcs-publisher",
        gcp.pubsub.TopicIAMMemberArgs(
            project=project,
            topic=topic.name,
            role="roles/pubsub.publisher",
            member=_member(gcsstore.gcs_agent_email(component, project)),
        ),
        opts=child(component),
    )
    gcp.storage.Notification(
        f"{name}-notification",
        gcp.storage.NotificationArgs(
            bucket=source.bucket, topic=topic.id, payload_format="JSON_API_V1", event_types=list(EVENT_TYPES)
        ),
        # Cloud Storage checks it may publish when the notification is created.
        opts=child(component, depends_on=[publisher]),
    )
    subscription = gcp.pubsub.Subscription(
        f"{name}-events",
        gcp.pubsub.SubscriptionArgs(
            project=project,
            topic=topic.id,
            ack_deadline_seconds=ACK_DEADLINE_SECONDS,
            message_retention_duration=MESSAGE_RETENTION,
            # Subscriptions expire after 31 idle days by default; weeks without a model upload
            # would silently end replication.
            expiration_policy=gcp.pubsub.SubscriptionExpirationPolicyArgs(ttl=""),
            labels=tags,
        ),
        opts=child(component),
    )

    transfer_agent = _member(
        gcp.storage.get_transfer_project_service_account_output(
            project=project, opts=pulumi.InvokeOptions(parent=component)
        ).email
    )
    grants: list[pulumi.Resource] = [
        gcp.pubsub.SubscriptionIAMMember(
            f"{name}-events-transfer-subscriber",
            gcp.pubsub.SubscriptionIAMMemberArgs(
                project=project, subscription=subscription.name, role="roles/pubsub.subscriber", member=transfer_agent
            ),
            opts=child(component),
        )
    ]
    for role in SOURCE_ROLES:
        grants.append(
            gcp.storage.BucketIAMMember(
                f"{name}-transfer-source-{role.split('.')[-1]}",
                gcp.storage.BucketIAMMemberArgs(bucket=source.bucket, role=role, member=transfer_agent),
                opts=child(component),
            )
        )
    for role in SINK_ROLES:
        grants.append(
            gcp.storage.BucketIAMMember(
                f"{name}-transfer-sink-{role.split('.')[-1]}",
                gcp.storage.BucketIAMMemberArgs(bucket=replica.name, role=role, member=transfer_agent),
                opts=child(component, provider=standby),
            )
        )
    gcp.storage.TransferJob(
        f"{name}-transfer",
        gcp.storage.TransferJobArgs(
            project=project,
            description=f"gpufleet DR: {source.name} -> {bucket_name}",
            transfer_spec=gcp.storage.TransferJobTransferSpecArgs(
                gcs_data_source=gcp.storage.TransferJobTransferSpecGcsDataSourceArgs(bucket_name=source.bucket),
                gcs_data_sink=gcp.storage.TransferJobTransferSpecGcsDataSinkArgs(bucket_name=replica.name),
                transfer_options=gcp.storage.TransferJobTransferSpecTransferOptionsArgs(
                    overwrite_when="DIFFERENT", delete_objects_unique_in_sink=False
                ),
            ),
            event_stream=gcp.storage.TransferJobEventStreamArgs(name=subscription.id),
            logging_config=gcp.storage.TransferJobLoggingConfigArgs(
                log_actions=["COPY", "DELETE"], log_action_states=["FAILED"]
            ),
            status="ENABLED",
        ),
        # The service agent must be able to pull events and read/write both buckets first.
        opts=child(component, depends_on=[*grants, *source.ready]),
    )

    gsa = _standby_reader(component, name, args, target_project, replica.name, identity, standby)
    ref = bucket_ref("gcp", args.target_region, replica.name, gsa.email if gsa is not None else None)
    return ReplicationBuild(replica_bucket=replica.name, ref=ref)
