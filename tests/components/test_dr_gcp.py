"""GCS replication of a model store under the recording mocks: dual-region turbo and event-driven
Storage Transfer Service."""

from __future__ import annotations

import pytest

from infra.plan.runner import ProgramRun
from tests.components.test_storage_common import (
    GCP_FAR_STANDBY,
    PROJECT,
    WORKLOAD_POOL,
    assert_cost_tags,
    options,
    run_dr,
)
from tests.support import assert_explicit_providers

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
TOPIC = "gcp:pubsub/topic:Topic"
SUB = "gcp:pubsub/subscription:Subscription"
NOTIFICATION = "gcp:storage/notification:Notification"
JOB = "gcp:storage/transferJob:TransferJob"
RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
TURBO = "gcs-dual-region-turbo"
TRANSFER = "gcs-transfer-event-driven"


def provider_of(r) -> str:
    return r.provider.split("::")[-2]


@pytest.fixture(scope="module")
def turbo() -> ProgramRun:
    return run_dr("gcp", TURBO, "prod", store={"dual_region_with": "us-east1"})


@pytest.fixture(scope="module")
def transfer_dev() -> ProgramRun:
    return run_dr("gcp", TRANSFER, "dev", standby_region=GCP_FAR_STANDBY)


@pytest.fixture(scope="module")
def transfer_prod() -> ProgramRun:
    return run_dr("gcp", TRANSFER, "prod", standby_region=GCP_FAR_STANDBY)


# --- dual-region turbo -------------------------------------------------------------------------


def test_turbo_is_the_source_bucket_itself(turbo: ProgramRun) -> None:
    (bucket,) = turbo.by_type(BUCKET)
    assert bucket.inputs["rpo"] == "ASYNC_TURBO"
    assert bucket.inputs["customPlacementConfig"] == {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}
    assert turbo.by_type(JOB) == [] and turbo.by_type(TOPIC) == []
    assert turbo.outputs["replicaUri"] == f"gs://{bucket.inputs['name']}"
    assert turbo.outputs["path"] == TURBO and "15 minutes" in turbo.outputs["rpo"]
    assert options(turbo, BUCKET) == (True, True)


def test_turbo_standby_reader_on_the_same_bucket(turbo: ProgramRun) -> None:
    viewers = [r for r in turbo.by_type(BUCKET_IAM) if r.name == "dr-replica-reader-object-viewer"]
    (viewer,) = viewers
    assert viewer.inputs["bucket"] == turbo.one(BUCKET).inputs["name"]
    assert viewer.inputs["role"] == "roles/storage.objectViewer"
    wi = [r for r in turbo.by_type("gcp:serviceaccount/iAMMember:IAMMember") if r.name.startswith("dr-")]
    assert wi[0].inputs["member"] == f"serviceAccount:{WORKLOAD_POOL}[gpufleet-serving/triton]"
    assert turbo.outputs["replicaAnnotations"] == {
        "iam.gke.io/gcp-service-account": "<computed:serviceaccount:dr-replica-reader:email>"
    }


def test_turbo_needs_a_dual_region_source() -> None:
    with pytest.raises(Exception, match="dual_region_with='us-east1'"):
        run_dr("gcp", TURBO, "dev")


# --- event-driven transfer ---------------------------------------------------------------------


def test_replica_bucket_in_the_standby_region_is_hardened(transfer_prod: ProgramRun) -> None:
    replica = transfer_prod.one(BUCKET, "dr-replica-bucket")
    b = replica.inputs
    assert b["location"] == "EUROPE-WEST1" and b["name"].startswith("gpufleet-prod-r2-replica-")
    assert b["uniformBucketLevelAccess"] is True and b["publicAccessPrevention"] == "enforced"
    assert b["versioning"] == {"enabled": True}
    assert provider_of(replica) == "r2-gcp"
    # The source has a CMEK key, so the replica gets its own, in its own region.
    ring = transfer_prod.one(RING, "dr-replica-keyring")
    assert ring.inputs["location"] == GCP_FAR_STANDBY and provider_of(ring) == "r2-gcp"
    assert b["encryption"] == {"defaultKmsKeyName": "dr-replica-key-id"}
    assert_cost_tags(transfer_prod)
    assert_explicit_providers(transfer_prod)


def test_notifications_feed_a_never_expiring_subscription(transfer_dev: ProgramRun) -> None:
    topic, sub, note = transfer_dev.one(TOPIC), transfer_dev.one(SUB), transfer_dev.one(NOTIFICATION)
    source = transfer_dev.one(BUCKET, "r1-models-bucket").inputs["name"]
    assert note.inputs == {
        "bucket": source,
        "topic": f"{topic.name}-id",
        "payloadFormat": "JSON_API_V1",
        "eventTypes": ["OBJECT_FINALIZE", "OBJECT_METADATA_UPDATE"],
    }
    publisher = transfer_dev.one("gcp:pubsub/topicIAMMember:TopicIAMMember")
    assert publisher.inputs["role"] == "roles/pubsub.publisher"
    assert publisher.inputs["member"].endswith("@gs-project-accounts.iam.gserviceaccount.com")
    assert publisher.urn in note.options["dependsOn"]
    assert sub.inputs["topic"] == f"{topic.name}-id"
    assert sub.inputs["expirationPolicy"] == {"ttl": ""}
    assert sub.inputs["ackDeadlineSeconds"] == 300


def test_transfer_job_is_event_driven_from_source_to_replica(transfer_dev: ProgramRun) -> None:
    job = transfer_dev.one(JOB)
    source = transfer_dev.one(BUCKET, "r1-models-bucket").inputs["name"]
    replica = transfer_dev.one(BUCKET, "dr-replica-bucket").inputs["name"]
    spec = job.inputs["transferSpec"]
    assert spec["gcsDataSource"] == {"bucketName": source}
    assert spec["gcsDataSink"] == {"bucketName": replica}
    assert spec["transferOptions"] == {"overwriteWhen": "DIFFERENT", "deleteObjectsUniqueInSink": False}
    assert job.inputs["eventStream"] == {"name": f"{transfer_dev.one(SUB).name}-id"}
    assert job.inputs["status"] == "ENABLED" and job.inputs["project"] == PROJECT
    assert "schedule" not in job.inputs
    assert provider_of(job) == "r1-gcp"


def test_transfer_agent_gets_exactly_what_it_needs(transfer_dev: ProgramRun) -> None:
    agent = "serviceAccount:project-"
    source = transfer_dev.one(BUCKET, "r1-models-bucket").inputs["name"]
    replica = transfer_dev.one(BUCKET, "dr-replica-bucket").inputs["name"]
    grants = {
        (g.inputs["bucket"], g.inputs["role"])
        for g in transfer_dev.by_type(BUCKET_IAM)
        if g.inputs["member"].startswith(agent)
    }
    assert grants == {
        (source, "roles/storage.legacyBucketReader"),
        (source, "roles/storage.objectViewer"),
        (replica, "roles/storage.legacyBucketWriter"),
        (replica, "roles/storage.objectViewer"),
    }
    sub_grant = transfer_dev.one("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember").inputs
    assert sub_grant["role"] == "roles/pubsub.subscriber" and sub_grant["member"].startswith(agent)
    deps = transfer_dev.one(JOB).options["dependsOn"]
    agent_grants = [g for g in transfer_dev.resources if g.name.startswith(("dr-transfer-", "dr-events-transfer"))]
    assert len(agent_grants) == 5 and all(g.urn in deps for g in agent_grants)


def test_transfer_outputs(transfer_dev: ProgramRun) -> None:
    replica = transfer_dev.one(BUCKET, "dr-replica-bucket").inputs["name"]
    assert transfer_dev.outputs["path"] == TRANSFER
    assert "no SLA" in transfer_dev.outputs["rpo"]
    assert transfer_dev.outputs["replicaUri"] == f"gs://{replica}"


def test_prod_protects_and_retains_the_replica(transfer_prod: ProgramRun, transfer_dev: ProgramRun) -> None:
    assert options(transfer_prod, BUCKET, "dr-replica-bucket") == (True, True)
    assert options(transfer_prod, KEY, "dr-replica-key") == (True, True)
    assert options(transfer_dev, BUCKET, "dr-replica-bucket") == (False, False)
    assert transfer_dev.one(BUCKET, "dr-replica-bucket").inputs["forceDestroy"] is True
    assert transfer_prod.one(BUCKET, "dr-replica-bucket").inputs["forceDestroy"] is False
