"""Azure Blob flavour of `ModelStore` (a storage account with one private container), plus the
building blocks the DR replica reuses.

Every child is parented to the component and inherits the region's explicit azure-native
provider unless a building block is handed another one (the DR standby's). azure-native has no
provider-level default tags, so `tags` go on every resource that takes them. Resources whose
Azure property is called `resource_name` take keyword arguments (`resource_name_=`): their
*Args form clashes with the logical name in this SDK's constructors.

Network: the account firewall stays open by default (access is Entra-only: no shared key, no
public blobs, HTTPS with TLS 1.2). Denying by default would also block the deployer's uploads and
the AKS nodes unless they sit on allowed subnets with a Microsoft.Storage service endpoint or a
private endpoint; `azure.allowed_subnet_ids` switches to deny-by-default with those subnets and
trusted Azure services (object replication, Key Vault) allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_azure_native as azure_native

from .._contracts import WorkloadIdentity
from ._options import child
from .args import ModelStoreArgs, ModelStoreConfig, ServiceAccountRef, StoreEncryption
from .keys import azure_key_parts
from .naming import azure_vault_name, resource_group_name
from .ref import BucketRef, StoreHandle, bucket_ref
from .repository import RepositoryFile

storage = azure_native.storage

CONTAINER = "models"
# Built-in role definition GUIDs (the same in every subscription).
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
SOFT_DELETE_MAX_DAYS = 365
LOG_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")


def client_config(parent: pulumi.Resource, provider: pulumi.ProviderResource | None = None):
    return azure_native.authorization.get_client_config_output(
        opts=pulumi.InvokeOptions(parent=parent, provider=provider)
    )


def role_definition(client, guid: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", client.subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", guid
    )


def resource_group(
    parent: pulumi.Resource,
    name: str,
    *,
    given: str | None,
    default_name: str,
    location: str,
    tags: dict[str, str],
    keep: bool,
    provider: pulumi.ProviderResource | None = None,
) -> pulumi.Output[str]:
    """The given resource group's name, or a new group (protected in prod: deleting a group
    deletes everything in it)."""
    if given is not None:
        return pulumi.Output.from_input(given)
    rg = azure_native.resources.ResourceGroup(
        f"{name}-rg",
        azure_native.resources.ResourceGroupArgs(resource_group_name=default_name, location=location, tags=tags),
        opts=child(parent, provider=provider, keep=keep),
    )
    return rg.name


@dataclass(frozen=True)
class AccountKey:
    """A customer-managed key as the storage account consumes it."""

    identity_id: pulumi.Output[str]  # user-assigned identity the account reads the key with
    vault_uri: pulumi.Input[str]
    key_name: pulumi.Input[str]
    key_id: pulumi.Output[str]  # the unversioned key URL
    deps: list[pulumi.Resource]  # the account must wait for the identity's key permission


def store_key(
    parent: pulumi.Resource,
    name: str,
    *,
    encryption: StoreEncryption,
    environment: str,
    label: str,
    resource_group_name: pulumi.Input[str],
    location: str,
    tags: dict[str, str],
    client,
    provider: pulumi.ProviderResource | None = None,
) -> AccountKey | None:
    """The account's customer-managed key (a given one, or a new Key Vault and key), or None."""
    if not encryption.customer_managed(environment):
        return None
    keep = environment == "prod"
    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-key-identity",
        resource_group_name=resource_group_name,
        resource_name_=f"id-{label}-cmk",
        location=location,
        tags=tags,
        opts=child(parent, provider=provider),
    )
    if encryption.kms_key is not None:
        vault_uri, key_name, _ = azure_key_parts(encryption.kms_key)
        scope: pulumi.Input[str] = encryption.azure_key_vault_id or ""
        key_id: pulumi.Output[str] = pulumi.Output.from_input(encryption.kms_key)
        deps: list[pulumi.Resource] = []
    else:
        vault_name = azure_vault_name(label)
        vault = azure_native.keyvault.Vault(
            f"{name}-vault",
            azure_native.keyvault.VaultArgs(
                resource_group_name=resource_group_name,
                vault_name=vault_name,
                location=location,
                tags=tags,
                properties=azure_native.keyvault.VaultPropertiesArgs(
                    tenant_id=client.tenant_id,
                    sku=azure_native.keyvault.SkuArgs(family="A", name=azure_native.keyvault.SkuName.STANDARD),
                    enable_rbac_authorization=True,
                    # Storage refuses a customer-managed key from a vault without purge protection
                    # (irreversible; a destroyed vault holds its name for the retention period).
                    enable_soft_delete=True,
                    enable_purge_protection=True,
                    soft_delete_retention_in_days=90 if keep else 7,
                    # Storage reaches the vault as a trusted service; everything else is denied.
                    network_acls=azure_native.keyvault.NetworkRuleSetArgs(
                        default_action="Deny", bypass="AzureServices"
                    ),
                ),
            ),
            opts=child(parent, provider=provider, keep=keep),
        )
        key = azure_native.keyvault.Key(
            f"{name}-key",
            azure_native.keyvault.KeyArgs(
                resource_group_name=resource_group_name,
                vault_name=vault.name,
                key_name="model-store",
                properties=azure_native.keyvault.KeyPropertiesArgs(
                    kty=azure_native.keyvault.JsonWebKeyType.RSA,
                    key_size=3072,
                    # Yearly rotation; the account references the unversioned key, so Azure
                    # Storage picks up each new version by itself.
                    rotation_policy=azure_native.keyvault.RotationPolicyArgs(
                        attributes=azure_native.keyvault.KeyRotationPolicyAttributesArgs(expiry_time="P2Y"),
                        lifetime_actions=[
                            azure_native.keyvault.LifetimeActionArgs(
                                action=azure_native.keyvault.ActionArgs(type="rotate"),
                                trigger=azure_native.keyvault.TriggerArgs(time_after_create="P1Y"),
                            )
                        ],
                    ),
                ),
                tags=tags,
            ),
            opts=child(parent, provider=provider, keep=keep),
        )
        vault_uri, key_name, scope = f"https://{vault_name}.vault.azure.net/", "model-store", vault.id
        key_id = key.key_uri
        deps = [key]
    grant = azure_native.authorization.RoleAssignment(
        f"{name}-key-access",
        azure_native.authorization.RoleAssignmentArgs(
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(client, KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER),
            scope=scope,
        ),
        opts=child(parent, provider=provider),
    )
    return AccountKey(identity.id, vault_uri, key_name, key_id, deps + [grant])


@dataclass(frozen=True)
class AzureAccount:
    account: storage.StorageAccount
    service: storage.BlobServiceProperties
    container: storage.BlobContainer
    ready: list[pulumi.Resource]


def _encryption(key: AccountKey | None) -> storage.EncryptionArgs:
    services = storage.EncryptionServicesArgs(blob=storage.EncryptionServiceArgs(enabled=True, key_type="Account"))
    if key is None:
        return storage.EncryptionArgs(key_source="Microsoft.Storage", services=services)
    return storage.EncryptionArgs(
        key_source="Microsoft.Keyvault",
        services=services,
        key_vault_properties=storage.KeyVaultPropertiesArgs(key_vault_uri=key.vault_uri, key_name=key.key_name),
        encryption_identity=storage.EncryptionIdentityArgs(encryption_user_assigned_identity=key.identity_id),
    )


def _network(config: ModelStoreConfig) -> storage.NetworkRuleSetArgs:
    subnets = config.azure_options.allowed_subnet_ids
    return storage.NetworkRuleSetArgs(
        default_action="Deny" if subnets else "Allow",
        bypass="AzureServices",
        virtual_network_rules=[storage.VirtualNetworkRuleArgs(virtual_network_resource_id=s) for s in subnets] or None,
    )


def secure_account(
    parent: pulumi.Resource,
    name: str,
    *,
    account_name: str,
    resource_group_name: pulumi.Input[str],
    location: str,
    sku: str,
    config: ModelStoreConfig,
    environment: str,
    key: AccountKey | None,
    tags: dict[str, str],
    provider: pulumi.ProviderResource | None = None,
) -> AzureAccount:
    """A StorageV2 account accepting only Entra-authenticated HTTPS (TLS 1.2+), with versioning,
    change feed, blob and container soft delete, a noncurrent-version policy and one private
    container."""
    keep = environment == "prod"
    retention = min(config.noncurrent_version_retention_days, SOFT_DELETE_MAX_DAYS)
    account = storage.StorageAccount(
        f"{name}-account",
        storage.StorageAccountArgs(
            account_name=account_name,
            resource_group_name=resource_group_name,
            location=location,
            kind="StorageV2",
            sku=storage.SkuArgs(name=sku),
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=config.azure_options.shared_key_access,
            default_to_o_auth_authentication=True,
            # Object replication stays inside this tenant; it then needs full resource ids.
            allow_cross_tenant_replication=False,
            is_local_user_enabled=False,
            network_rule_set=_network(config),
            encryption=_encryption(key),
            identity=(
                storage.IdentityArgs(type="UserAssigned", user_assigned_identities=[key.identity_id])
                if key is not None
                else None
            ),
            tags=tags,
        ),
        opts=child(parent, provider=provider, keep=keep, depends_on=key.deps if key else None),
    )
    service = storage.BlobServiceProperties(
        f"{name}-blob-service",
        storage.BlobServicePropertiesArgs(
            account_name=account.name,
            resource_group_name=resource_group_name,
            blob_services_name="default",
            is_versioning_enabled=config.versioning,
            # Object replication needs the change feed on the source (and versioning on both sides).
            change_feed=storage.ChangeFeedArgs(enabled=True, retention_in_days=retention),
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=retention),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=retention),
        ),
        opts=child(parent, provider=provider),
    )
    container = storage.BlobContainer(
        f"{name}-container",
        storage.BlobContainerArgs(
            account_name=account.name,
            resource_group_name=resource_group_name,
            container_name=CONTAINER,
            public_access="None",
        ),
        opts=child(parent, provider=provider, keep=keep, depends_on=[service]),
    )
    if config.versioning:
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            storage.ManagementPolicyArgs(
                account_name=account.name,
                resource_group_name=resource_group_name,
                management_policy_name="default",
                policy=storage.ManagementPolicySchemaArgs(
                    rules=[
                        storage.ManagementPolicyRuleArgs(
                            name="expire-noncurrent-versions",
                            enabled=True,
                            type="Lifecycle",
                            definition=storage.ManagementPolicyDefinitionArgs(
                                filters=storage.ManagementPolicyFilterArgs(blob_types=["blockBlob"]),
                                actions=storage.ManagementPolicyActionArgs(
                                    version=storage.ManagementPolicyVersionArgs(
                                        delete=storage.DateAfterCreationArgs(
                                            days_after_creation_greater_than=config.noncurrent_version_retention_days
                                        )
                                    )
                                ),
                            ),
                        )
                    ]
                ),
            ),
            opts=child(parent, provider=provider, depends_on=[service]),
        )
    logging = config.access_logging
    if logging is not None:
        to_account = "/microsoft.storage/" in logging.target.lower()
        azure_native.monitor.DiagnosticSetting(
            f"{name}-access-logs",
            azure_native.monitor.DiagnosticSettingArgs(
                name="gpufleet-access-logs",
                resource_uri=account.id.apply(lambda i: f"{i}/blobServices/default"),
                logs=[
                    azure_native.monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in LOG_CATEGORIES
                ],
                storage_account_id=logging.target if to_account else None,
                workspace_id=None if to_account else logging.target,
            ),
            opts=child(parent, provider=provider, depends_on=[service]),
        )
    return AzureAccount(account=account, service=service, container=container, ready=[service, container])


def aad_reader(
    parent: pulumi.Resource,
    name: str,
    *,
    identity: WorkloadIdentity,
    account: ServiceAccountRef,
    resource_group_name: pulumi.Input[str],
    location: str,
    identity_name: str,
    scope: pulumi.Input[str],
    tags: dict[str, str],
    client,
    provider: pulumi.ProviderResource | None = None,
) -> azure_native.managedidentity.UserAssignedIdentity:
    """A user-assigned identity federated with exactly one Kubernetes service account of the AKS
    cluster, holding Storage Blob Data Reader on the container (`scope`) only."""
    if identity.oidc_issuer_url is None:
        raise ValueError("Azure workload-identity reader needs the cluster's oidc_issuer_url")
    uai = azure_native.managedidentity.UserAssignedIdentity(
        name,
        resource_group_name=resource_group_name,
        resource_name_=identity_name,
        location=location,
        tags=tags,
        opts=child(parent, provider=provider),
    )
    azure_native.managedidentity.FederatedIdentityCredential(
        f"{name}-federation",
        resource_group_name=resource_group_name,
        resource_name_=uai.name,
        federated_identity_credential_resource_name=f"{account.namespace}-{account.name}",
        issuer=identity.oidc_issuer_url,
        subject=account.subject,
        audiences=[TOKEN_EXCHANGE_AUDIENCE],
        opts=child(parent, provider=provider),
    )
    azure_native.authorization.RoleAssignment(
        f"{name}-blob-data-reader",
        azure_native.authorization.RoleAssignmentArgs(
            principal_id=uai.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(client, STORAGE_BLOB_DATA_READER),
            scope=scope,
        ),
        opts=child(parent, provider=provider),
    )
    return uai


def account_sku(args: ModelStoreArgs) -> str:
    return "Standard_RAGZRS" if args.geo_redundant else f"Standard_{args.config.azure_options.redundancy}"


def build(
    component: pulumi.ComponentResource, name: str, args: ModelStoreArgs, identity: WorkloadIdentity | None
) -> tuple[StoreHandle, BucketRef]:
    cfg = args.config
    tags = dict(sorted(args.tags.items()))
    keep = args.environment == "prod"
    client = client_config(component)
    rg_name = resource_group(
        component,
        name,
        given=args.resource_group_name,
        default_name=resource_group_name(args.environment, args.region_name),
        location=args.region,
        tags=tags,
        keep=keep,
    )
    key = store_key(
        component,
        name,
        encryption=cfg.encryption,
        environment=args.environment,
        label=args.name,
        resource_group_name=rg_name,
        location=args.region,
        tags=tags,
        client=client,
    )
    sku = account_sku(args)
    acct = secure_account(
        component,
        name,
        account_name=args.name,
        resource_group_name=rg_name,
        location=args.region,
        sku=sku,
        config=cfg,
        environment=args.environment,
        key=key,
        tags=tags,
    )
    uai = None
    if identity is not None:
        uai = aad_reader(
            component,
            f"{name}-reader",
            identity=identity,
            account=args.reader,
            resource_group_name=rg_name,
            location=args.region,
            identity_name=f"id-{args.name}-reader",
            scope=acct.container.id,
            tags=tags,
            client=client,
        )
    handle = StoreHandle(
        cloud="azure",
        region=args.region,
        region_name=args.region_name,
        environment=args.environment,
        name=args.name,
        config=cfg,
        reader_account=args.reader,
        tags=tags,
        bucket=acct.container.name,
        bucket_id=acct.container.id,
        versioned=cfg.versioning,
        customer_managed_key=key is not None,
        key_id=key.key_id if key is not None else None,
        account_name=acct.account.name,
        account_id=acct.account.id,
        resource_group_name=rg_name,
        sku=sku,
        ready=list(acct.ready),
    )
    ref = bucket_ref(
        "azure", args.region, acct.container.name, uai.client_id if uai is not None else None, account=acct.account.name
    )
    return handle, ref


def publish(
    parent: pulumi.Resource, name: str, handle: StoreHandle, files: Sequence[RepositoryFile]
) -> list[pulumi.Resource]:
    """One block blob per file; `content_md5` (base64 MD5) makes an unchanged file a no-op."""
    assert handle.account_name is not None and handle.resource_group_name is not None
    return [
        storage.Blob(
            f"{name}-{f.key}",
            storage.BlobArgs(
                account_name=handle.account_name,
                resource_group_name=handle.resource_group_name,
                container_name=handle.bucket,
                blob_name=f.key,
                type="Block",
                source=pulumi.FileAsset(str(f.path)),
                content_type=f.content_type,
                content_md5=f.md5_base64,
            ),
            opts=child(parent, depends_on=handle.ready),
        )
        for f in files
    ]
