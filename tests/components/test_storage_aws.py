"""S3 flavour of ModelStore under the recording mocks: hardening, reader scope, data safety, upload."""

from __future__ import annotations

import pytest

from infra.plan.runner import ProgramRun
from tests.components.test_storage_common import (
    FIXTURE_REPO,
    ISSUERS,
    OIDC_ARN,
    actions,
    options,
    run_store,
    statements,
)
from tests.support import assert_explicit_providers

BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
GIVEN_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-1111-2222-333344445555"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_store("aws", "dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_store("aws", "prod")


def bucket_arn(run: ProgramRun) -> str:
    return f"<computed:s3.Bucket:{run.one(BUCKET).name}:arn>"


def test_bucket_named_deterministically(dev: ProgramRun) -> None:
    name = dev.one(BUCKET).inputs["bucket"]
    assert name.startswith("gpufleet-dev-r1-models-") and name == run_store("aws", "dev").one(BUCKET).inputs["bucket"]
    # Every configuration resource targets this bucket by name.
    for typ in (SSE, PAB, VERSIONING, LIFECYCLE, POLICY, "aws:s3/bucketOwnershipControls:BucketOwnershipControls"):
        assert dev.one(typ).inputs["bucket"] == name


def test_prod_encrypts_with_a_rotating_customer_key_and_bucket_key(prod: ProgramRun) -> None:
    key = prod.one(KEY)
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    (rule,) = prod.one(SSE).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": f"<computed:kms.Key:{key.name}:arn>",
    }
    assert rule["bucketKeyEnabled"] is True
    assert prod.one("aws:kms/alias:Alias").inputs["name"].startswith("alias/gpufleet/gpufleet-prod-r1-models-")


def test_dev_uses_sse_kms_with_the_aws_managed_key(dev: ProgramRun) -> None:
    assert dev.by_type(KEY) == []
    (rule,) = dev.one(SSE).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    assert rule["bucketKeyEnabled"] is True


def test_given_key_is_used_and_none_created() -> None:
    run = run_store("aws", "prod", {"encryption": {"kms_key": GIVEN_KEY}})
    assert run.by_type(KEY) == []
    (rule,) = run.one(SSE).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == GIVEN_KEY
    decrypt = [s for s in statements(run.one(ROLE_POLICY)) if s["Sid"] == "DecryptModels"]
    assert decrypt[0]["Resource"] == GIVEN_KEY


def test_customer_key_can_be_asked_for_outside_prod() -> None:
    run = run_store("aws", "dev", {"encryption": {"customer_managed_key": True}})
    assert len(run.by_type(KEY)) == 1


def test_public_access_blocked_and_acls_disabled(dev: ProgramRun) -> None:
    pab = dev.one(PAB).inputs
    assert all(
        pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = dev.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert "acl" not in dev.one(BUCKET).inputs and "policy" not in dev.one(BUCKET).inputs


def test_versioning_enabled_by_its_own_resource(dev: ProgramRun) -> None:
    assert dev.one(VERSIONING).inputs["versioningConfiguration"] == {"status": "Enabled"}
    # v7: no deprecated inline versioning/lifecycle/encryption on the bucket itself.
    inline = {
        "versioning",
        "lifecycleRules",
        "serverSideEncryptionConfiguration",
        "logging",
        "replicationConfiguration",
    }
    assert not inline & set(dev.one(BUCKET).inputs)


def test_lifecycle_expires_noncurrent_versions_and_aborts_uploads(dev: ProgramRun) -> None:
    lifecycle = dev.one(LIFECYCLE)
    rules = {r["id"]: r for r in lifecycle.inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert all(r["status"] == "Enabled" and r["filter"] == {} for r in rules.values())
    assert dev.one(VERSIONING).urn in lifecycle.options["dependsOn"]


def test_lifecycle_days_follow_config() -> None:
    run = run_store("aws", "dev", {"noncurrent_version_retention_days": 90, "abort_incomplete_upload_days": 2})
    rules = {r["id"]: r for r in run.one(LIFECYCLE).inputs["rules"]}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 2


def test_unversioned_dev_store_suspends_versioning_and_keeps_no_versions() -> None:
    run = run_store("aws", "dev", {"versioning": False})
    assert run.one(VERSIONING).inputs["versioningConfiguration"] == {"status": "Suspended"}
    assert [r["id"] for r in run.one(LIFECYCLE).inputs["rules"]] == ["abort-incomplete-uploads"]


def test_bucket_policy_denies_non_tls_after_the_access_block(dev: ProgramRun) -> None:
    bp = dev.one(POLICY)
    arn = bucket_arn(dev)
    deny = {s["Sid"]: s for s in statements(bp)}
    insecure = deny["DenyInsecureTransport"]
    assert insecure["Effect"] == "Deny" and insecure["Principal"] == "*" and insecure["Action"] == "s3:*"
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(insecure["Resource"]) == sorted([arn, f"{arn}/*"])
    assert deny["DenyOutdatedTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert all(s["Effect"] == "Deny" for s in statements(bp))
    assert dev.one(PAB).urn in bp.options["dependsOn"]


def test_reader_trusts_only_the_triton_service_account(dev: ProgramRun) -> None:
    role = dev.one(ROLE, "-reader")
    (stmt,) = statements(role, "assumeRolePolicy")
    assert stmt["Effect"] == "Allow" and stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Principal"] == {"Federated": OIDC_ARN}
    host = ISSUERS["aws"].removeprefix("https://")
    assert stmt["Condition"] == {
        "StringEquals": {
            f"{host}:sub": "system:serviceaccount:gpufleet-serving:triton",
            f"{host}:aud": "sts.amazonaws.com",
        }
    }


def test_reader_service_account_is_configurable() -> None:
    from components.storage import ServiceAccountRef

    run = run_store("aws", "dev", reader_account=ServiceAccountRef(namespace="serving", name="triton-a"))
    (stmt,) = statements(run.one(ROLE, "-reader"), "assumeRolePolicy")
    assert "system:serviceaccount:serving:triton-a" in stmt["Condition"]["StringEquals"].values()


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_reader_policy_is_read_only_on_this_bucket_and_key(env: str, dev: ProgramRun, prod: ProgramRun) -> None:
    run = dev if env == "dev" else prod
    arn = bucket_arn(run)
    stmts = statements(run.one(ROLE_POLICY, "-reader-policy"))
    granted = set().union(*(actions(s) for s in stmts))
    expected = {"s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"}
    if env == "prod":
        expected.add("kms:Decrypt")
    assert granted == expected
    assert all(s["Effect"] == "Allow" for s in stmts)
    resources = {s["Sid"]: s["Resource"] for s in stmts}
    assert resources["ListModels"] == arn and resources["ReadModels"] == f"{arn}/*"
    if env == "prod":
        assert resources["DecryptModels"] == f"<computed:kms.Key:{run.one(KEY).name}:arn>"
    assert not any("*" == s["Resource"] or "Condition" in s for s in stmts)
    assert (
        run.one(ROLE_POLICY, "-reader-policy").inputs["role"]
        == f"<computed:iam.Role:{run.one(ROLE, '-reader').name}:name>"
    )


def test_prod_protects_and_retains_bucket_and_key(prod: ProgramRun) -> None:
    assert options(prod, BUCKET) == (True, True)
    assert options(prod, KEY) == (True, True)
    # Configuration children are replaceable: protecting them would only block legitimate edits.
    assert options(prod, LIFECYCLE) == (False, False)


def test_dev_protects_nothing(dev: ProgramRun) -> None:
    assert all(
        r.options["protect"] is False and r.options["retainOnDelete"] is False
        for r in dev.resources
        if r.custom and not r.type.startswith("pulumi:")
    )


@pytest.mark.parametrize(
    "env, config, expected",
    [
        ("dev", {}, True),
        ("staging", {}, False),
        ("staging", {"force_destroy": True}, True),
        ("dev", {"force_destroy": False}, False),
        ("prod", {}, False),
    ],
)
def test_force_destroy_only_outside_prod(env: str, config: dict, expected: bool) -> None:
    assert run_store("aws", env, config).one(BUCKET).inputs["forceDestroy"] is expected


def test_force_destroy_in_prod_is_rejected() -> None:
    with pytest.raises(Exception, match=r"config.force_destroy: got True, allowed: false \(or unset\) in prod"):
        run_store("aws", "prod", {"force_destroy": True})


def test_access_logging() -> None:
    run = run_store("aws", "dev", {"access_logging": {"target": "central-logs-use1"}})
    logging = run.one("aws:s3/bucketLogging:BucketLogging").inputs
    assert logging["targetBucket"] == "central-logs-use1"
    assert logging["targetPrefix"] == f"{run.one(BUCKET).inputs['bucket']}/"
    assert run_store("aws", "dev").by_type("aws:s3/bucketLogging:BucketLogging") == []


def test_publish_uploads_one_encrypted_object_per_file() -> None:
    run = run_store("aws", "prod", publish=FIXTURE_REPO)
    assert_explicit_providers(run)
    objects = {o.inputs["key"]: o for o in run.by_type(OBJECT)}
    assert (
        sorted(objects)
        == run.outputs["repoKeys"]
        == [
            "models/echo_text/1/model.py",
            "models/echo_text/config.pbtxt",
            "models/echo_text/labels.txt",
            "models/identity/1/model.py",
            "models/identity/config.pbtxt",
        ]
    )
    from components.storage import model_repository_files

    files = {f.key: f for f in model_repository_files(FIXTURE_REPO, "models")}
    key_arn = f"<computed:kms.Key:{run.one(KEY).name}:arn>"
    for key, obj in objects.items():
        assert obj.inputs["sourceHash"] == files[key].md5
        assert obj.inputs["contentType"] == files[key].content_type
        assert obj.inputs["serverSideEncryption"] == "aws:kms" and obj.inputs["kmsKeyId"] == key_arn
        assert obj.inputs["bucket"] == run.one(BUCKET).inputs["bucket"]
        # Written only once default encryption and versioning are in place.
        assert run.one(SSE).urn in obj.options["dependsOn"] and run.one(VERSIONING).urn in obj.options["dependsOn"]
        assert obj.parent.endswith("gpufleet:storage:ModelRepository::r1-repo")
    assert run.outputs["repoUri"] == f"s3://{run.one(BUCKET).inputs['bucket']}/models"
    assert objects["models/identity/config.pbtxt"].inputs["contentType"] == "text/plain; charset=utf-8"
