"""Pure model-store and DR settings: defaults, per-cloud key shapes, config errors with paths,
replication paths and the plan summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel, ValidationError

from components.dr import DrConfig, dr_issues, plan_replication, replication_path, replication_summary
from components.dr.plan import PROMISES, describe
from components.storage import ModelStoreArgs, ModelStoreConfig, StoreEncryption, storage_issues, store_name
from components.storage.args import AccessLogging, AzureStoreOptions, ServiceAccountRef
from components.storage.keys import key_reference_problem
from components.storage.locations import AZURE_GEO_PAIR, azure_geo_pair, gcs_dual_region

AWS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-1111-2222-333344445555"
AWS_MRK = "arn:aws:kms:us-west-2:123456789012:key/mrk-1234567890abcdef1234567890abcdef"
GCP_KEY = "projects/my-project/locations/us-central1/keyRings/ring/cryptoKeys/key"
AZ_KEY = "https://my-vault.vault.azure.net/keys/models"
AZ_KEY_V = "https://my-vault.vault.azure.net/keys/models/0123456789abcdef0123456789abcdef"
AZ_VAULT = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/my-vault"
)


def paths(issues) -> dict[str, str]:
    return {p: allowed for p, _, allowed in issues}


# --- store config ---------------------------------------------------------------------------------


def test_defaults() -> None:
    c = ModelStoreConfig()
    assert c.versioning is True
    assert c.noncurrent_version_retention_days == 30 and c.abort_incomplete_upload_days == 7
    assert c.access_logging is None and c.force_destroy is None and c.azure is None
    assert ServiceAccountRef().subject == "system:serviceaccount:gpufleet-serving:triton"


@pytest.mark.parametrize(
    "model",
    [ModelStoreConfig, StoreEncryption, AccessLogging, AzureStoreOptions, ServiceAccountRef, ModelStoreArgs, DrConfig],
)
def test_every_field_describes_its_default(model: type[BaseModel]) -> None:
    for name, f in model.model_fields.items():
        assert f.description and len(f.description) > 10, f"{model.__name__}.{name}"


def test_unknown_keys_rejected_and_models_frozen() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ModelStoreConfig.model_validate({"versioning": True, "retention_days": 3})
    c = ModelStoreConfig()
    with pytest.raises(ValidationError):
        c.versioning = False  # type: ignore[misc]


@pytest.mark.parametrize("env, expected", [("dev", False), ("staging", False), ("prod", True)])
def test_customer_managed_key_defaults_to_prod(env: str, expected: bool) -> None:
    assert StoreEncryption().customer_managed(env) is expected
    assert StoreEncryption(customer_managed_key=True).customer_managed("dev") is True
    assert StoreEncryption(kms_key=AWS_KEY).customer_managed("dev") is True


@pytest.mark.parametrize(
    "env, force, expected",
    [("dev", None, True), ("staging", None, False), ("staging", True, True), ("prod", True, False)],
)
def test_force_destroy_defaults(env: str, force, expected: bool) -> None:
    assert ModelStoreConfig(force_destroy=force).destroy_with_objects(env) is expected


def test_prod_rejects_force_destroy_and_unversioned_stores() -> None:
    issues = paths(storage_issues(ModelStoreConfig(force_destroy=True, versioning=False), "aws", "prod"))
    assert set(issues) == {"force_destroy", "versioning"}
    assert storage_issues(ModelStoreConfig(force_destroy=True, versioning=False), "aws", "dev") == []


@pytest.mark.parametrize(
    "cloud, good, bad",
    [
        ("aws", [AWS_KEY, AWS_MRK], ["alias/models", "arn:aws:kms:us-east-1:123456789012:alias/models", GCP_KEY]),
        ("gcp", [GCP_KEY], [GCP_KEY + "/cryptoKeyVersions/1", "projects/p/keyRings/r/cryptoKeys/k", AWS_KEY]),
        ("azure", [AZ_KEY, AZ_KEY_V], ["https://my-vault.vault.azure.net/secrets/x", "my-vault/models", GCP_KEY]),
    ],
)
def test_key_references_are_checked_per_cloud(cloud: str, good: list[str], bad: list[str]) -> None:
    for ref in good:
        assert key_reference_problem(cloud, ref) is None, ref
        extra = {"azure_key_vault_id": AZ_VAULT} if cloud == "azure" else {}
        config = ModelStoreConfig(encryption=StoreEncryption(kms_key=ref, **extra))
        assert storage_issues(config, cloud, "prod") == []
    for ref in bad:
        config = ModelStoreConfig(encryption=StoreEncryption(kms_key=ref))
        issues = paths(storage_issues(config, cloud, "prod"))
        assert "encryption.kms_key" in issues, ref
        assert {"aws": "KMS key ARN", "gcp": "Cloud KMS key name", "azure": "Key Vault key URL"}[cloud] in issues[
            "encryption.kms_key"
        ]


def test_azure_key_needs_the_vault_it_lives_in() -> None:
    no_vault = ModelStoreConfig(encryption=StoreEncryption(kms_key=AZ_KEY))
    assert "encryption.azure_key_vault_id" in paths(storage_issues(no_vault, "azure", "prod"))
    other = AZ_VAULT.replace("my-vault", "other-vault")
    mismatch = ModelStoreConfig(encryption=StoreEncryption(kms_key=AZ_KEY, azure_key_vault_id=other))
    assert (
        "https://my-vault.vault.azure.net/"
        in paths(storage_issues(mismatch, "azure", "prod"))["encryption.azure_key_vault_id"]
    )
    on_aws = ModelStoreConfig(encryption=StoreEncryption(kms_key=AWS_KEY, azure_key_vault_id=AZ_VAULT))
    assert paths(storage_issues(on_aws, "aws", "prod")) == {
        "encryption.azure_key_vault_id": "only on azure, together with kms_key"
    }


def test_key_with_customer_managed_false_is_contradictory() -> None:
    config = ModelStoreConfig(encryption=StoreEncryption(kms_key=AWS_KEY, customer_managed_key=False))
    assert "encryption.customer_managed_key" in paths(storage_issues(config, "aws", "dev"))


@pytest.mark.parametrize(
    "cloud, good, bad",
    [
        ("aws", "central-logs.use1", "Central_Logs"),
        ("gcp", "central_logs", "goog-logs"),
        (
            "azure",
            "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/logs01",
            "logs01",
        ),
    ],
)
def test_access_log_targets_per_cloud(cloud: str, good: str, bad: str) -> None:
    assert storage_issues(ModelStoreConfig(access_logging=AccessLogging(target=good)), cloud, "dev") == []
    assert "access_logging.target" in paths(
        storage_issues(ModelStoreConfig(access_logging=AccessLogging(target=bad)), cloud, "dev")
    )


def test_azure_block_only_on_azure() -> None:
    assert paths(storage_issues(ModelStoreConfig(azure=AzureStoreOptions()), "gcp", "dev")) == {
        "azure": "only on azure regions"
    }


def test_store_args_collect_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        ModelStoreArgs(
            cloud="gcp",
            region="us-central1",
            environment="prod",
            region_name="usc1",
            config=ModelStoreConfig(force_destroy=True, encryption=StoreEncryption(kms_key="nope")),
            bucket_name="Bad_Name",
            geo_redundant=True,
        )
    text = str(info.value)
    for expected in ("config.force_destroy", "config.encryption.kms_key", "project_id", "bucket_name", "geo_redundant"):
        assert expected in text, expected


def test_store_args_default_name_and_override() -> None:
    args = ModelStoreArgs(cloud="azure", region="eastus", environment="dev", region_name="eus", name_seed="o/p/s")
    assert args.name == store_name("azure", "dev", "eus", "o/p/s") and len(args.name) <= 24
    assert (
        ModelStoreArgs(
            cloud="aws", region="us-east-1", environment="dev", region_name="use1", bucket_name="my-models"
        ).name
        == "my-models"
    )


# --- locations ---------------------------------------------------------------------------------


def test_gcs_dual_regions() -> None:
    pair = gcs_dual_region("us-central1", "us-east1")
    assert pair is not None
    assert (pair.location, pair.data_locations, pair.kms_location) == ("US", ("US-CENTRAL1", "US-EAST1"), "us")
    assert gcs_dual_region("europe-west1", "europe-west4").location == "EU"  # type: ignore[union-attr]
    assert gcs_dual_region("us-central1", "europe-west1") is None  # another continent
    assert gcs_dual_region("us-central1", "us-central1") is None
    assert gcs_dual_region("europe-west2", "europe-west1") is None  # London is outside the EU multi-region


def test_azure_pairs() -> None:
    assert azure_geo_pair("eastus") == "westus" and azure_geo_pair("westus") == "eastus"
    assert azure_geo_pair("eastus2") == "centralus"
    assert azure_geo_pair("westus3") == "eastus" and azure_geo_pair("italynorth") is None
    two_way = {a: b for a, b in AZURE_GEO_PAIR.items() if a not in ("westus3", "brazilsouth", "westindia")}
    assert all(AZURE_GEO_PAIR[b] == a for a, b in two_way.items())


# --- DR config --------------------------------------------------------------------------------------


@dataclass
class Region:
    name: str
    cloud: str
    region: str
    role: str = "primary"
    storage: ModelStoreConfig = field(default_factory=ModelStoreConfig)


def aws_pair(**standby) -> list[Region]:
    return [
        Region("use1", "aws", "us-east-1"),
        Region(**{"name": "usw2", "cloud": "aws", "region": "us-west-2", "role": "standby", **standby}),
    ]


def test_valid_dr_has_no_issues() -> None:
    assert dr_issues(DrConfig(), aws_pair(), "prod") == []


def test_dr_without_a_standby_region() -> None:
    issues = dr_issues(DrConfig(), [Region("use1", "aws", "us-east-1")], "prod")
    assert [(p, v) for p, v, _ in issues] == [("dr.target", None)]
    assert "role: standby" in issues[0][2]
    assert dr_issues(DrConfig(enabled=False), [Region("use1", "aws", "us-east-1")], "prod") == []


def test_dr_standby_in_the_same_region() -> None:
    regions = [Region("a", "aws", "us-east-1"), Region("b", "aws", "us-east-1", role="standby")]
    (issue,) = dr_issues(DrConfig(), regions, "prod")
    assert issue[0] == "dr.target" and issue[1] == "b" and "another aws region" in issue[2]


def test_dr_standby_on_another_cloud() -> None:
    regions = [Region("use1", "aws", "us-east-1"), Region("usc1", "gcp", "us-central1", role="standby")]
    (issue,) = dr_issues(DrConfig(), regions, "prod")
    assert issue[:2] == ("dr.target", "usc1") and "cross-cloud replication is not supported" in issue[2]


def test_dr_from_an_unversioned_store() -> None:
    regions = aws_pair()
    regions[0].storage = ModelStoreConfig(versioning=False)
    (issue,) = dr_issues(DrConfig(), regions, "dev")
    assert issue[:2] == ("regions[0].storage.versioning", False)
    # Explicit source: the path points at that region.
    regions = [Region("x", "aws", "us-west-2", role="standby"), *aws_pair()]
    regions[2].storage = ModelStoreConfig(versioning=False)
    issues = dr_issues(DrConfig(source="usw2", target="use1"), regions, "dev")
    assert [p for p, _, _ in issues] == ["regions[2].storage.versioning"]


def test_dr_malformed_replica_key() -> None:
    issues = paths(dr_issues(DrConfig(replica_encryption=StoreEncryption(kms_key="alias/replica")), aws_pair(), "prod"))
    assert "KMS key ARN" in issues["dr.replica_encryption.kms_key"]
    # A well-formed key in the wrong region is wrong too: the replica lives in the standby.
    issues = paths(dr_issues(DrConfig(replica_encryption=StoreEncryption(kms_key=AWS_KEY)), aws_pair(), "prod"))
    assert issues == {"dr.replica_encryption.kms_key": "a key in us-west-2, where the replica lives"}
    assert dr_issues(DrConfig(replica_encryption=StoreEncryption(kms_key=AWS_MRK)), aws_pair(), "prod") == []


def test_dr_unknown_region_names() -> None:
    issues = paths(dr_issues(DrConfig(source="nope", target="usw2"), aws_pair(), "prod"))
    assert issues == {"dr.source": "the name of a configured region: use1, usw2"}
    issues = paths(dr_issues(DrConfig(target="use1"), aws_pair(), "prod"))
    assert issues == {"dr.target": "a region other than the source (use1)"}


def test_gcp_modes() -> None:
    near = [Region("usc1", "gcp", "us-central1"), Region("use1", "gcp", "us-east1", role="standby")]
    far = [Region("usc1", "gcp", "us-central1"), Region("euw1", "gcp", "europe-west1", role="standby")]
    assert replication_path("gcp", "us-central1", "us-east1", DrConfig()) == "gcs-dual-region-turbo"
    assert replication_path("gcp", "us-central1", "europe-west1", DrConfig()) == "gcs-transfer-event-driven"
    assert (
        replication_path("gcp", "us-central1", "us-east1", DrConfig(gcp_mode="transfer")) == "gcs-transfer-event-driven"
    )
    assert dr_issues(DrConfig(gcp_mode="dual_region"), near, "prod") == []
    (issue,) = dr_issues(DrConfig(gcp_mode="dual_region"), far, "prod")
    assert issue[0] == "dr.gcp_mode" and "do not form a GCS configurable dual-region" in issue[2]
    # Dual-region CMEK keys live in the multi-region.
    key = "projects/my-project/locations/us/keyRings/r/cryptoKeys/k"
    assert dr_issues(DrConfig(replica_encryption=StoreEncryption(kms_key=key)), near, "prod") == []
    assert paths(dr_issues(DrConfig(replica_encryption=StoreEncryption(kms_key=key)), far, "prod")) == {
        "dr.replica_encryption.kms_key": "a key in europe-west1, where the replica lives"
    }


def test_azure_ra_gzrs_needs_the_paired_region() -> None:
    paired = [Region("eus", "azure", "eastus"), Region("wus", "azure", "westus", role="standby")]
    other = [Region("eus", "azure", "eastus"), Region("cus", "azure", "centralus", role="standby")]
    assert dr_issues(DrConfig(azure_mode="ra_gzrs"), paired, "prod") == []
    (issue,) = dr_issues(DrConfig(azure_mode="ra_gzrs"), other, "prod")
    assert issue[0] == "dr.azure_mode" and "a standby in westus" in issue[2]
    assert dr_issues(DrConfig(), other, "prod") == []  # object replication goes anywhere


# --- plan ------------------------------------------------------------------------------------------------


def test_plan_replication_and_store_overrides() -> None:
    plan = plan_replication(
        DrConfig(), [Region("usc1", "gcp", "us-central1"), Region("use1", "gcp", "us-east1", role="standby")]
    )
    assert plan is not None and plan.path == "gcs-dual-region-turbo"
    assert plan.store_overrides == {"dual_region_with": "us-east1"} and not plan.creates_replica
    plan = plan_replication(
        DrConfig(azure_mode="ra_gzrs"),
        [Region("eus", "azure", "eastus"), Region("wus", "azure", "westus", role="standby")],
    )
    assert plan is not None and plan.store_overrides == {"geo_redundant": True}
    plan = plan_replication(DrConfig(), aws_pair())
    assert plan is not None and plan.store_overrides == {} and plan.creates_replica
    assert (plan.source.name, plan.target.name) == ("use1", "usw2")
    assert plan_replication(None, aws_pair()) is None
    assert plan_replication(DrConfig(), [Region("use1", "aws", "us-east-1")]) is None


def test_replication_summary_per_path() -> None:
    s3 = replication_summary(DrConfig(), aws_pair(), "prod")
    assert s3["enabled"] is True and s3["path"] == "s3-crr-rtc"
    assert s3["rpo"].startswith("99.99% of new objects replicated within 15 minutes") and s3["rpoMinutes"] == 15
    assert s3["sla"] is True and s3["source"] == {"name": "use1", "cloud": "aws", "region": "us-east-1"}
    assert s3["target"]["region"] == "us-west-2"
    turbo = replication_summary(
        DrConfig(), [Region("a", "gcp", "us-central1"), Region("b", "gcp", "us-east1", role="standby")]
    )
    assert turbo["path"] == "gcs-dual-region-turbo" and turbo["rpoMinutes"] == 15 and "15 minutes" in turbo["rpo"]
    orp = replication_summary(
        DrConfig(), [Region("a", "azure", "eastus"), Region("b", "azure", "westus", role="standby")]
    )
    assert orp["path"] == "azure-object-replication" and orp["rpo"].startswith("asynchronous, no SLA")
    assert orp["rpoMinutes"] is None and orp["sla"] is False
    assert "us-east-1" in describe(s3) and "99.99%" in describe(s3)
    assert all(p.reference.startswith("https://") for p in PROMISES.values())


def test_replication_summary_when_off() -> None:
    assert replication_summary(None, aws_pair()) == {"enabled": False, "reason": "no dr block in the stack config"}
    assert replication_summary(DrConfig(enabled=False), aws_pair())["reason"] == "dr.enabled is false"
    bad = replication_summary(DrConfig(), [Region("use1", "aws", "us-east-1")])
    assert bad["enabled"] is False and "does not validate" in bad["reason"]
    assert describe(bad).startswith("replication: off")
