"""S3 cross-region replication of a model store under the recording mocks."""

from __future__ import annotations

import pytest

from infra.plan.runner import ProgramRun
from tests.components.test_storage_common import (
    STANDBY_ISSUERS,
    STANDBY_OIDC_ARN,
    actions,
    assert_cost_tags,
    options,
    run_dr,
    statements,
)
from tests.support import assert_explicit_providers

RULE = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PATH = "s3-crr-rtc"
GIVEN_REPLICA_KEY = "arn:aws:kms:us-west-2:123456789012:key/0b1c2d3e-0000-1111-2222-333344445555"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_dr("aws", PATH, "dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_dr("aws", PATH, "prod")


def arn(run: ProgramRun, name: str) -> str:
    return f"<computed:s3.Bucket:{name}:arn>"


def key_arn(name: str) -> str:
    return f"<computed:kms.Key:{name}:arn>"


def provider_of(r) -> str:
    return r.provider.split("::")[-2]  # the provider's logical name


def test_rule_with_rtc_metrics_delete_markers_and_replica_key(prod: ProgramRun) -> None:
    cfg = prod.one(RULE).inputs
    assert cfg["bucket"] == prod.one(BUCKET, "r1-models-bucket").inputs["bucket"]
    assert cfg["role"] == "<computed:iam.Role:dr-role:arn>"
    (rule,) = cfg["rules"]
    assert rule["status"] == "Enabled" and rule["filter"] == {} and rule["id"] == "dr-to-r2"
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    dest = rule["destination"]
    assert dest["bucket"] == arn(prod, "dr-replica-bucket")
    assert dest["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert dest["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
    assert dest["encryptionConfiguration"] == {"replicaKmsKeyId": key_arn("dr-replica-key")}


def test_rule_waits_for_versioning_at_both_ends_and_the_role_policy(dev: ProgramRun) -> None:
    deps = dev.one(RULE).options["dependsOn"]
    assert dev.one(VERSIONING, "r1-models-versioning").urn in deps
    assert dev.one(VERSIONING, "dr-replica-versioning").urn in deps
    assert dev.one(ROLE_POLICY, "dr-role-policy").urn in deps


def test_replica_key_in_the_standby_region_even_in_dev(dev: ProgramRun) -> None:
    (key,) = dev.by_type(KEY)  # the dev store uses aws/s3; the replica still needs its own key
    assert key.name == "dr-replica-key" and key.inputs["enableKeyRotation"] is True
    assert provider_of(key) == "r2-aws"


def test_given_replica_key_is_used() -> None:
    run = run_dr("aws", PATH, "prod", replica_encryption={"kms_key": GIVEN_REPLICA_KEY})
    assert [k.name for k in run.by_type(KEY)] == ["r1-models-key"]
    assert run.one(RULE).inputs["rules"][0]["destination"]["encryptionConfiguration"] == {
        "replicaKmsKeyId": GIVEN_REPLICA_KEY
    }


def test_replica_children_use_the_standby_provider_the_rest_the_primary(prod: ProgramRun) -> None:
    assert_explicit_providers(prod)
    for r in prod.resources:
        if not r.custom or r.type.startswith("pulumi:"):
            continue
        expected = "r2-aws" if r.name.startswith("dr-replica") else "r1-aws"
        assert provider_of(r) == expected, (r.type, r.name)
    assert provider_of(prod.one(RULE)) == "r1-aws" and provider_of(prod.one(ROLE, "dr-role")) == "r1-aws"


def test_replica_is_hardened_like_the_store(prod: ProgramRun) -> None:
    replica = prod.one(BUCKET, "dr-replica-bucket").inputs
    assert replica["bucket"].startswith("gpufleet-prod-r2-replica-")
    pab = prod.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "dr-replica-public-access-block").inputs
    assert all(
        pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert prod.one(VERSIONING, "dr-replica-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    (rule,) = prod.one(SSE, "dr-replica-encryption").inputs["rules"]
    assert rule == {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn("dr-replica-key")},
        "bucketKeyEnabled": True,
    }
    tls = statements(prod.one("aws:s3/bucketPolicy:BucketPolicy", "dr-replica-tls-policy"))
    assert tls[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert_cost_tags(prod)


def test_replication_role_is_least_privilege(prod: ProgramRun) -> None:
    (trust,) = statements(prod.one(ROLE, "dr-role"), "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    src, dst = arn(prod, "r1-models-bucket"), arn(prod, "dr-replica-bucket")
    by_sid = {s["Sid"]: s for s in statements(prod.one(ROLE_POLICY, "dr-role-policy"))}
    assert set(by_sid) == {"SourceBucket", "SourceObjects", "ReplicaObjects", "DecryptSource", "EncryptReplica"}
    assert actions(by_sid["SourceBucket"]) == {"s3:GetReplicationConfiguration", "s3:ListBucket"}
    assert by_sid["SourceBucket"]["Resource"] == src
    assert actions(by_sid["SourceObjects"]) == {
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
    }
    assert by_sid["SourceObjects"]["Resource"] == f"{src}/*"
    assert actions(by_sid["ReplicaObjects"]) == {"s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"}
    assert by_sid["ReplicaObjects"]["Resource"] == f"{dst}/*"
    decrypt, encrypt = by_sid["DecryptSource"], by_sid["EncryptReplica"]
    assert actions(decrypt) == {"kms:Decrypt"} and decrypt["Resource"] == key_arn("r1-models-key")
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert actions(encrypt) == {"kms:Encrypt", "kms:GenerateDataKey"} and encrypt["Resource"] == key_arn(
        "dr-replica-key"
    )
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}
    assert encrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [dst, f"{dst}/*"]}
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in by_sid.values())


def test_dev_source_with_aws_managed_key_needs_no_decrypt_statement(dev: ProgramRun) -> None:
    sids = {s["Sid"] for s in statements(dev.one(ROLE_POLICY, "dr-role-policy"))}
    assert "DecryptSource" not in sids and "EncryptReplica" in sids


def test_standby_reader_reads_the_replica(prod: ProgramRun) -> None:
    (trust,) = statements(prod.one(ROLE, "dr-replica-reader"), "assumeRolePolicy")
    assert trust["Principal"] == {"Federated": STANDBY_OIDC_ARN}
    host = STANDBY_ISSUERS["aws"].removeprefix("https://")
    assert trust["Condition"]["StringEquals"][f"{host}:sub"] == "system:serviceaccount:gpufleet-serving:triton"
    stmts = statements(prod.one(ROLE_POLICY, "dr-replica-reader-policy"))
    assert {s["Resource"] for s in stmts} == {
        arn(prod, "dr-replica-bucket"),
        f"{arn(prod, 'dr-replica-bucket')}/*",
        key_arn("dr-replica-key"),
    }
    replica = prod.one(BUCKET, "dr-replica-bucket").inputs["bucket"]
    assert prod.outputs["replicaUri"] == f"s3://{replica}"
    assert prod.outputs["replicaAnnotations"] == {
        "eks.amazonaws.com/role-arn": "<computed:iam.Role:dr-replica-reader:arn>"
    }
    assert prod.outputs["replicaEnv"]["AWS_DEFAULT_REGION"] == "us-west-2"


def test_path_and_rpo_outputs(dev: ProgramRun) -> None:
    assert dev.outputs["path"] == PATH
    assert "99.99%" in dev.outputs["rpo"] and "15 minutes" in dev.outputs["rpo"]
    assert dev.one("gpufleet:dr:ModelStoreReplication").name == "dr"


def test_prod_protects_and_retains_the_replica(prod: ProgramRun, dev: ProgramRun) -> None:
    assert options(prod, BUCKET, "dr-replica-bucket") == (True, True)
    assert options(prod, KEY, "dr-replica-key") == (True, True)
    assert options(dev, BUCKET, "dr-replica-bucket") == (False, False)
    assert options(dev, KEY, "dr-replica-key") == (False, False)
    assert prod.one(BUCKET, "dr-replica-bucket").inputs["forceDestroy"] is False
    assert dev.one(BUCKET, "dr-replica-bucket").inputs["forceDestroy"] is True


def test_without_standby_identity_no_reader() -> None:
    run = run_dr("aws", PATH, "dev", standby_identity=False)
    assert run.outputs["replicaReader"] == ""
    assert sorted(r.name for r in run.by_type(ROLE)) == ["dr-role", "r1-models-reader"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(store={}, config={"versioning": False}), "not versioned"),
        (dict(standby_region="us-east-1"), "must differ"),
    ],
)
def test_refuses_impossible_replications(kwargs: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        run_dr("aws", PATH, "dev", **kwargs)


def test_path_of_another_cloud_is_refused() -> None:
    with pytest.raises(Exception, match="replicates gcp stores"):
        run_dr("aws", "gcs-transfer-event-driven", "dev")
