"""Azure Blob flavour of ModelStore under the recording mocks: hardening, reader scope, data safety,
upload."""

from __future__ import annotations

import pytest

from infra.plan.runner import ProgramRun
from tests.components.test_storage_common import FIXTURE_REPO, ISSUERS, options, run_store
from tests.support import TAGS

ACCOUNT = "azure-native:storage:StorageAccount"
SERVICE = "azure-native:storage:BlobServiceProperties"
CONTAINER = "azure-native:storage:BlobContainer"
POLICY = "azure-native:storage:ManagementPolicy"
RG = "azure-native:resources:ResourceGroup"
UAI = "azure-native:managedidentity:UserAssignedIdentity"
FIC = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE = "azure-native:authorization:RoleAssignment"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
BLOB = "azure-native:storage:Blob"
READER_ROLE = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
GIVEN_KEY = "https://ops-keys.vault.azure.net/keys/models"
GIVEN_VAULT = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-keys/providers/"
    "Microsoft.KeyVault/vaults/ops-keys"
)


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_store("azure", "dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_store("azure", "prod")


def test_account_accepts_only_entra_https_tls12(dev: ProgramRun) -> None:
    a = dev.one(ACCOUNT).inputs
    assert a["kind"] == "StorageV2" and a["sku"] == {"name": "Standard_ZRS"}
    assert a["enableHttpsTrafficOnly"] is True
    assert a["minimumTlsVersion"] == "TLS1_2"
    assert a["allowBlobPublicAccess"] is False
    assert a["allowSharedKeyAccess"] is False
    assert a["defaultToOAuthAuthentication"] is True
    assert a["allowCrossTenantReplication"] is False
    assert a["isLocalUserEnabled"] is False
    # Open network by default (Entra-only access); see the module docstring for why.
    assert a["networkRuleSet"] == {"defaultAction": "Allow", "bypass": "AzureServices"}
    assert a["tags"] == TAGS
    name = a["accountName"]
    assert 3 <= len(name) <= 24 and name.isalnum() and name.islower()


def test_blob_service_versioning_change_feed_soft_delete(dev: ProgramRun) -> None:
    s = dev.one(SERVICE).inputs
    assert s["isVersioningEnabled"] is True
    assert s["changeFeed"] == {"enabled": True, "retentionInDays": 30}
    assert s["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert s["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}


def test_private_container_and_noncurrent_version_policy(dev: ProgramRun) -> None:
    c = dev.one(CONTAINER).inputs
    assert c["containerName"] == "models" and c["publicAccess"] == "None"
    (rule,) = dev.one(POLICY).inputs["policy"]["rules"]
    assert rule["definition"]["actions"] == {"version": {"delete": {"daysAfterCreationGreaterThan": 30}}}
    assert rule["enabled"] is True and rule["type"] == "Lifecycle"


def test_dev_uses_microsoft_managed_keys(dev: ProgramRun) -> None:
    enc = dev.one(ACCOUNT).inputs["encryption"]
    assert enc == {"keySource": "Microsoft.Storage", "services": {"blob": {"enabled": True, "keyType": "Account"}}}
    assert dev.by_type(VAULT) == [] and dev.by_type(KEY) == []


def test_prod_uses_a_rotating_key_vault_key_through_its_identity(prod: ProgramRun) -> None:
    vault, key, account = prod.one(VAULT), prod.one(KEY), prod.one(ACCOUNT)
    props = vault.inputs["properties"]
    assert props["enablePurgeProtection"] is True and props["enableRbacAuthorization"] is True
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    assert key.inputs["properties"]["rotationPolicy"]["lifetimeActions"][0] == {
        "action": {"type": "rotate"},
        "trigger": {"timeAfterCreate": "P1Y"},
    }
    identity = prod.one(UAI, "-key-identity")
    enc = account.inputs["encryption"]
    assert enc["keySource"] == "Microsoft.Keyvault"
    assert enc["keyVaultProperties"] == {
        "keyVaultUri": f"https://{vault.inputs['vaultName']}.vault.azure.net/",
        "keyName": "model-store",
    }
    assert enc["encryptionIdentity"] == {"encryptionUserAssignedIdentity": f"{identity.name}-id"}
    assert account.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [f"{identity.name}-id"]}
    grant = prod.one(ROLE, "-key-access").inputs
    assert grant["scope"] == f"{vault.name}-id"
    assert grant["roleDefinitionId"].endswith("/e147488a-f6f5-4113-8e2d-b22465e65bf6")
    assert prod.one(ROLE, "-key-access").urn in account.options["dependsOn"]


def test_given_key_needs_its_vault_and_is_used() -> None:
    run = run_store("azure", "prod", {"encryption": {"kms_key": GIVEN_KEY, "azure_key_vault_id": GIVEN_VAULT}})
    assert run.by_type(VAULT) == [] and run.by_type(KEY) == []
    enc = run.one(ACCOUNT).inputs["encryption"]
    assert enc["keyVaultProperties"] == {"keyVaultUri": "https://ops-keys.vault.azure.net/", "keyName": "models"}
    assert run.one(ROLE, "-key-access").inputs["scope"] == GIVEN_VAULT
    with pytest.raises(Exception, match="azure_key_vault_id"):
        run_store("azure", "prod", {"encryption": {"kms_key": GIVEN_KEY}})


def test_reader_is_a_federated_identity_with_blob_data_reader_on_the_container(dev: ProgramRun) -> None:
    uai = dev.one(UAI, "-reader")
    fic = dev.one(FIC).inputs
    assert fic["issuer"] == ISSUERS["azure"]
    assert fic["subject"] == "system:serviceaccount:gpufleet-serving:triton"
    assert fic["audiences"] == ["api://AzureADTokenExchange"]
    assert fic["resourceName"] == uai.inputs["resourceName"]
    (reader,) = [r for r in dev.by_type(ROLE) if r.name.endswith("-blob-data-reader")]
    assert reader.inputs["scope"] == f"{dev.one(CONTAINER).name}-id"  # the container, not the account
    assert reader.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{READER_ROLE}")
    assert reader.inputs["principalId"] == f"<computed:azure-identity:{uai.name}:principalId>"
    assert len(dev.by_type(ROLE)) == 1  # nothing else is granted in dev
    assert dev.outputs["storeReader"] == f"<computed:azure-identity:{uai.name}:clientId>"


def test_resource_group_created_unless_given(dev: ProgramRun) -> None:
    assert dev.one(RG).inputs["resourceGroupName"] == "rg-gpufleet-dev-r1-models"
    assert dev.one(ACCOUNT).inputs["resourceGroupName"] == "rg-gpufleet-dev-r1-models"
    run = run_store("azure", "dev", resource_group_name="rg-existing")
    assert run.by_type(RG) == [] and run.one(ACCOUNT).inputs["resourceGroupName"] == "rg-existing"


def test_prod_protects_and_retains_account_container_group_and_key(prod: ProgramRun) -> None:
    for typ in (ACCOUNT, CONTAINER, RG, VAULT, KEY):
        assert options(prod, typ) == (True, True), typ
    assert options(prod, SERVICE) == (False, False)


def test_dev_protects_nothing(dev: ProgramRun) -> None:
    assert all(
        not r.options["protect"] and not r.options["retainOnDelete"]
        for r in dev.resources
        if r.custom and not r.type.startswith("pulumi:")
    )


def test_redundancy_and_network_options() -> None:
    subnet = (
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-net/providers/"
        "Microsoft.Network/virtualNetworks/vnet/subnets/aks"
    )
    a = run_store("azure", "dev", {"azure": {"redundancy": "LRS", "allowed_subnet_ids": [subnet]}}).one(ACCOUNT).inputs
    assert a["sku"] == {"name": "Standard_LRS"}
    assert a["networkRuleSet"] == {
        "defaultAction": "Deny",
        "bypass": "AzureServices",
        "virtualNetworkRules": [{"virtualNetworkResourceId": subnet, "action": "Allow"}],
    }
    assert run_store("azure", "dev", geo_redundant=True).one(ACCOUNT).inputs["sku"] == {"name": "Standard_RAGZRS"}


def test_access_logging_to_a_workspace() -> None:
    ws = (
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-logs/providers/"
        "Microsoft.OperationalInsights/workspaces/central-logs"
    )
    run = run_store("azure", "dev", {"access_logging": {"target": ws}})
    diag = run.one("azure-native:monitor:DiagnosticSetting").inputs
    assert diag["workspaceId"] == ws and "storageAccountId" not in diag
    assert {log["category"] for log in diag["logs"]} == {"StorageRead", "StorageWrite", "StorageDelete"}
    assert diag["resourceUri"] == f"{run.one(ACCOUNT).name}-id/blobServices/default"


def test_publish_needs_shared_key_access() -> None:
    with pytest.raises(Exception, match="shared key access off"):
        run_store("azure", "dev", publish=FIXTURE_REPO)


def test_publish_uploads_block_blobs_with_content_md5() -> None:
    from components.storage import model_repository_files

    run = run_store("azure", "dev", {"azure": {"shared_key_access": True}}, publish=FIXTURE_REPO)
    assert run.one(ACCOUNT).inputs["allowSharedKeyAccess"] is True
    files = {f.key: f for f in model_repository_files(FIXTURE_REPO, "models")}
    blobs = {b.inputs["blobName"]: b.inputs for b in run.by_type(BLOB)}
    assert sorted(blobs) == sorted(files)
    for key, blob in blobs.items():
        assert blob["containerName"] == "models" and blob["type"] == "Block"
        assert blob["contentMd5"] == files[key].md5_base64
        assert blob["contentType"] == files[key].content_type
    account = run.one(ACCOUNT).inputs["accountName"]
    assert run.outputs["repoUri"] == f"as://{account}/models/models"
