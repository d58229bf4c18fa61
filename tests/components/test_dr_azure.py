"""Azure Blob replication of a model store under the recording mocks: object replication and RA-GZRS."""

from __future__ import annotations

import pytest

from infra.plan.runner import ProgramRun
from tests.components.test_storage_common import STANDBY_ISSUERS, assert_cost_tags, options, run_dr
from tests.support import assert_explicit_providers

ACCOUNT = "azure-native:storage:StorageAccount"
SERVICE = "azure-native:storage:BlobServiceProperties"
CONTAINER = "azure-native:storage:BlobContainer"
ORP = "azure-native:storage:ObjectReplicationPolicy"
RG = "azure-native:resources:ResourceGroup"
KEY = "azure-native:keyvault:Key"
FIC = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE = "azure-native:authorization:RoleAssignment"
OR = "azure-object-replication"
GZRS = "azure-ra-gzrs"


def provider_of(r) -> str:
    return r.provider.split("::")[-2]


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_dr("azure", OR, "prod")


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_dr("azure", OR, "dev")


def test_policy_created_on_the_destination_first_then_the_source(prod: ProgramRun) -> None:
    dest, src = prod.one(ORP, "-destination"), prod.one(ORP, "-source")
    source_account, replica_account = prod.one(ACCOUNT, "r1-models-account"), prod.one(ACCOUNT, "dr-replica-account")
    assert dest.inputs["objectReplicationPolicyId"] == "default"
    assert dest.inputs["accountName"] == replica_account.inputs["accountName"]
    assert src.inputs["accountName"] == source_account.inputs["accountName"]
    for policy in (dest, src):
        # Full resource ids (cross-tenant replication is off).
        assert policy.inputs["sourceAccount"] == f"{source_account.name}-id"
        assert policy.inputs["destinationAccount"] == f"{replica_account.name}-id"
        assert policy.inputs["metrics"] == {"enabled": True}
        (rule,) = policy.inputs["rules"]
        assert rule["sourceContainer"] == "models" and rule["destinationContainer"] == "models"
        assert rule["filters"] == {"minCreationTime": "1601-01-01T00:00:00Z"}  # existing blobs too
    assert src.inputs["objectReplicationPolicyId"] == f"<computed:azure-orp:{dest.name}:policyId>"
    assert src.inputs["rules"][0]["ruleId"] == f"<computed:azure-orp:{dest.name}:rules[0].ruleId>"
    assert dest.urn in src.options["dependsOn"]
    assert provider_of(dest) == "r2-azure" and provider_of(src) == "r1-azure"


def test_versioning_and_change_feed_in_place_before_the_policy(prod: ProgramRun) -> None:
    source_service = prod.one(SERVICE, "r1-models-blob-service")
    replica_service = prod.one(SERVICE, "dr-replica-blob-service")
    assert (
        source_service.inputs["isVersioningEnabled"] is True and source_service.inputs["changeFeed"]["enabled"] is True
    )
    assert replica_service.inputs["isVersioningEnabled"] is True
    deps = prod.one(ORP, "-destination").options["dependsOn"]
    assert source_service.urn in deps and replica_service.urn in deps


def test_standby_account_hardened_like_the_store(prod: ProgramRun) -> None:
    a = prod.one(ACCOUNT, "dr-replica-account")
    assert provider_of(a) == "r2-azure" and a.inputs["location"] == "westus"
    for field, value in {
        "enableHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "allowCrossTenantReplication": False,
    }.items():
        assert a.inputs[field] == value, field
    assert a.inputs["encryption"]["keySource"] == "Microsoft.Keyvault"  # its own key in the standby
    assert prod.one(CONTAINER, "dr-replica-container").inputs["publicAccess"] == "None"
    assert prod.one(RG, "dr-replica-rg").inputs == {
        "resourceGroupName": "rg-gpufleet-prod-r2-replica",
        "location": "westus",
        "tags": a.inputs["tags"],
    }
    assert_cost_tags(prod)
    assert_explicit_providers(prod)


def test_standby_reader_on_the_replica_container(prod: ProgramRun) -> None:
    fic = prod.one(FIC, "dr-replica-reader-federation").inputs
    assert fic["issuer"] == STANDBY_ISSUERS["azure"]
    assert fic["subject"] == "system:serviceaccount:gpufleet-serving:triton"
    grant = prod.one(ROLE, "dr-replica-reader-blob-data-reader").inputs
    assert grant["scope"] == "dr-replica-container-id"
    account = prod.one(ACCOUNT, "dr-replica-account").inputs["accountName"]
    assert prod.outputs["replicaUri"] == f"as://{account}/models"
    assert prod.outputs["replicaPodLabels"] == {"azure.workload.identity/use": "true"}


def test_outputs(dev: ProgramRun) -> None:
    assert dev.outputs["path"] == OR and "no SLA" in dev.outputs["rpo"]


def test_prod_protects_and_retains_the_replica(prod: ProgramRun, dev: ProgramRun) -> None:
    for typ, suffix in (
        (ACCOUNT, "dr-replica-account"),
        (CONTAINER, "dr-replica-container"),
        (RG, "dr-replica-rg"),
        (KEY, "dr-replica-key"),
    ):
        assert options(prod, typ, suffix) == (True, True), suffix
    assert options(dev, ACCOUNT, "dr-replica-account") == (False, False)
    assert dev.by_type(KEY) == []  # provider-managed source -> provider-managed replica


def test_ra_gzrs_replicates_the_source_account_itself() -> None:
    run = run_dr("azure", GZRS, "prod", store={"geo_redundant": True})
    (account,) = run.by_type(ACCOUNT)
    assert account.inputs["sku"] == {"name": "Standard_RAGZRS"}
    assert run.by_type(ORP) == []
    grant = run.one(ROLE, "dr-replica-reader-blob-data-reader").inputs
    assert grant["scope"] == "r1-models-container-id"
    assert run.outputs["path"] == GZRS and "15 minutes or less" in run.outputs["rpo"]
    assert run.outputs["replicaUri"] == f"as://{account.inputs['accountName']}/models"


def test_ra_gzrs_needs_a_geo_redundant_source() -> None:
    with pytest.raises(Exception, match="geo_redundant=True"):
        run_dr("azure", GZRS, "dev")


def test_object_replication_needs_a_standby_provider() -> None:
    import pulumi

    from components.dr import ModelStoreReplication, ModelStoreReplicationArgs
    from infra.plan.runner import run_program
    from tests.components.test_storage_common import build_store

    def program() -> None:
        store = build_store("azure")
        ModelStoreReplication(
            "dr",
            ModelStoreReplicationArgs(environment="dev", path=OR, target_region="westus", target_region_name="r2"),
            store,
            opts=pulumi.ResourceOptions(parent=store),
        )

    with pytest.raises(Exception, match="pass standby_provider"):
        run_program(program)
