"""GCS flavour of ModelStore under the recording mocks: hardening, reader scope, data safety, upload."""

from __future__ import annotations

import pytest

from infra.plan.runner import ProgramRun
from tests.components.test_storage_common import FIXTURE_REPO, PROJECT, WORKLOAD_POOL, options, run_store
from tests.support import TAGS

BUCKET = "gcp:storage/bucket:Bucket"
RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
GSA = "gcp:serviceaccount/account:Account"
GSA_IAM = "gcp:serviceaccount/iAMMember:IAMMember"
OBJECT = "gcp:storage/bucketObject:BucketObject"
GIVEN_KEY = "projects/keys-prj/locations/us-central1/keyRings/models/cryptoKeys/store"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_store("gcp", "dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_store("gcp", "prod")


def test_bucket_private_versioned_and_labelled(dev: ProgramRun) -> None:
    b = dev.one(BUCKET).inputs
    assert b["name"].startswith("gpufleet-dev-r1-models-") and b["project"] == PROJECT
    assert b["location"] == "US-CENTRAL1" and b["storageClass"] == "STANDARD"
    assert b["uniformBucketLevelAccess"] is True
    assert b["publicAccessPrevention"] == "enforced"
    assert b["versioning"] == {"enabled": True}
    assert b["labels"] == TAGS
    assert "customPlacementConfig" not in b and "rpo" not in b


def test_lifecycle_deletes_noncurrent_versions_and_aborts_uploads(dev: ProgramRun) -> None:
    rules = dev.one(BUCKET).inputs["lifecycleRules"]
    assert {
        "action": {"type": "Delete"},
        "condition": {"daysSinceNoncurrentTime": 30, "withState": "ARCHIVED"},
    } in rules
    assert {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}} in rules
    assert len(rules) == 2


def test_unversioned_dev_bucket_has_no_noncurrent_rule() -> None:
    b = run_store("gcp", "dev", {"versioning": False, "abort_incomplete_upload_days": 3}).one(BUCKET).inputs
    assert b["versioning"] == {"enabled": False}
    assert b["lifecycleRules"] == [{"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 3}}]


def test_prod_uses_cmek_granted_to_the_storage_agent_first(prod: ProgramRun) -> None:
    ring, key, grant, bucket = prod.one(RING), prod.one(KEY), prod.one(KEY_GRANT), prod.one(BUCKET)
    assert ring.inputs == {"location": "us-central1", "project": PROJECT}
    assert key.inputs["rotationPeriod"] == "7776000s" and key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert key.inputs["keyRing"] == f"{ring.name}-id" and key.inputs["labels"] == TAGS
    assert grant.inputs["cryptoKeyId"] == f"{key.name}-id"
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant.inputs["member"].startswith("serviceAccount:service-") and grant.inputs["member"].endswith(
        "@gs-project-accounts.iam.gserviceaccount.com"
    )
    assert bucket.inputs["encryption"] == {"defaultKmsKeyName": f"{key.name}-id"}
    assert grant.urn in bucket.options["dependsOn"]
    assert any(i.token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount" for i in prod.invokes)


def test_dev_uses_google_managed_encryption(dev: ProgramRun) -> None:
    assert dev.by_type(KEY) == [] and dev.by_type(RING) == []
    assert "encryption" not in dev.one(BUCKET).inputs


def test_given_key_is_used_and_none_created() -> None:
    run = run_store("gcp", "prod", {"encryption": {"kms_key": GIVEN_KEY}})
    assert run.by_type(KEY) == [] and run.by_type(KEY_GRANT) == []
    assert run.one(BUCKET).inputs["encryption"] == {"defaultKmsKeyName": GIVEN_KEY}


def test_dual_region_with_turbo_replication() -> None:
    run = run_store("gcp", "prod", dual_region_with="us-east1")
    b = run.one(BUCKET).inputs
    assert b["location"] == "US"
    assert b["customPlacementConfig"] == {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}
    assert b["rpo"] == "ASYNC_TURBO"
    # A dual-region bucket's CMEK key lives in the multi-region.
    assert run.one(RING).inputs["location"] == "us"


def test_dual_region_needs_a_valid_pair() -> None:
    with pytest.raises(Exception, match="dual_region_with: got 'europe-west1'"):
        run_store("gcp", "dev", dual_region_with="europe-west1")


def test_reader_reads_this_bucket_only_through_workload_identity(dev: ProgramRun) -> None:
    gsa = dev.one(GSA)
    assert gsa.inputs["accountId"] == "gf-dev-r1-models" and gsa.inputs["project"] == PROJECT
    email = f"<computed:serviceaccount:{gsa.name}:email>"
    (viewer,) = dev.by_type(BUCKET_IAM)
    assert viewer.inputs == {
        "bucket": dev.one(BUCKET).inputs["name"],
        "role": "roles/storage.objectViewer",
        "member": f"serviceAccount:{email}",
    }
    wi = dev.one(GSA_IAM).inputs
    assert wi["role"] == "roles/iam.workloadIdentityUser"
    assert wi["serviceAccountId"] == f"{gsa.name}-id"
    assert wi["member"] == f"serviceAccount:{WORKLOAD_POOL}[gpufleet-serving/triton]"
    # Nothing project-wide: no project IAM bindings at all.
    assert not [r for r in dev.resources if r.type.startswith("gcp:projects/")]
    assert dev.outputs["storeReader"] == email


def test_prod_protects_and_retains_bucket_and_key(prod: ProgramRun) -> None:
    for typ in (BUCKET, RING, KEY):
        assert options(prod, typ) == (True, True), typ
    assert options(prod, GSA) == (False, False)


def test_dev_protects_nothing(dev: ProgramRun) -> None:
    assert all(
        not r.options["protect"] and not r.options["retainOnDelete"]
        for r in dev.resources
        if r.custom and not r.type.startswith("pulumi:")
    )


@pytest.mark.parametrize("env, expected", [("dev", True), ("staging", False), ("prod", False)])
def test_force_destroy_only_outside_prod(env: str, expected: bool) -> None:
    assert run_store("gcp", env).one(BUCKET).inputs["forceDestroy"] is expected


def test_access_logging() -> None:
    b = run_store("gcp", "dev", {"access_logging": {"target": "central-logs", "prefix": "models/"}}).one(BUCKET).inputs
    assert b["logging"] == {"logBucket": "central-logs", "logObjectPrefix": "models/"}


def test_publish_uploads_objects_with_md5() -> None:
    from components.storage import model_repository_files

    run = run_store("gcp", "dev", publish=FIXTURE_REPO)
    files = {f.key: f for f in model_repository_files(FIXTURE_REPO, "models")}
    objects = {o.inputs["name"]: o.inputs for o in run.by_type(OBJECT)}
    assert sorted(objects) == sorted(files)
    for key, obj in objects.items():
        assert obj["bucket"] == run.one(BUCKET).inputs["name"]
        assert obj["detectMd5hash"] == files[key].md5_base64
        assert obj["contentType"] == files[key].content_type
    assert run.outputs["repoUri"] == f"gs://{run.one(BUCKET).inputs['name']}/models"
