"""AKS flavour of KubernetesCluster under the recording mocks (no cloud, no Pulumi CLI)."""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import re

import pytest
import yaml

from components.cluster import azure as aks
from infra.plan.computed.azure import exec_kubeconfig_placeholder
from tests.support import TAGS, assert_explicit_providers, run_cluster

AGENT_POOL = "azure-native:containerservice:AgentPool"
CLUSTER = "azure-native:containerservice:ManagedCluster"
RG = "azure-native:resources:ResourceGroup"
VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
WORKSPACE = "azure-native:operationalinsights:Workspace"
DIAG = "azure-native:monitor:DiagnosticSetting"
VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
COMPONENT = "gpufleet:cluster:KubernetesCluster"

BASE = {"create": {"version": "1.33", "zones": ["1", "2", "3"]}}
EXISTING = {
    "network_id": "/subscriptions/1111/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub",
    "subnet_ids": ["/subscriptions/1111/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks"],
}


def create(**overrides) -> dict:
    return {"create": {**BASE["create"], **overrides}}


@pytest.fixture(scope="module")
def dev():
    return run_cluster("azure", BASE)


@pytest.fixture(scope="module")
def prod():
    return run_cluster("azure", BASE, environment="prod")


def azure_resources(run):
    return [r for r in run.resources if r.type.startswith("azure-native:")]


# --- cluster security baseline ----------------------------------------------------------------


def test_entra_only_access(dev):
    mc = dev.one(CLUSTER).inputs
    assert mc["resourceName"] == "gpufleet-dev-r1"
    assert mc["disableLocalAccounts"] is True
    assert mc["enableRBAC"] is True
    assert mc["aadProfile"]["managed"] is True
    assert mc["aadProfile"]["enableAzureRBAC"] is True


def test_admin_groups_and_sku_tier_from_options():
    gid = "6f1c3f0e-8c5e-4c8e-9a43-2f9d4c1b7a10"
    run = run_cluster("azure", create(azure={"admin_group_object_ids": [gid], "sku_tier": "Premium"}))
    mc = run.one(CLUSTER).inputs
    assert mc["aadProfile"]["adminGroupObjectIDs"] == [gid]
    assert mc["sku"] == {"name": "Base", "tier": "Premium"}


def test_workload_identity_and_oidc_issuer(dev):
    mc = dev.one(CLUSTER).inputs
    assert mc["oidcIssuerProfile"] == {"enabled": True}
    assert mc["securityProfile"]["workloadIdentity"] == {"enabled": True}
    # The facade exports the issuer read back from the cluster (a computed placeholder here).
    assert dev.outputs["oidcIssuerUrl"] == "<computed:aks:gpufleet-dev-r1:oidcIssuerURL>"


def test_user_assigned_control_plane_identity(dev):
    mc = dev.one(CLUSTER).inputs
    identity = dev.one(IDENTITY)
    assert mc["identity"]["type"] == "UserAssigned"
    assert mc["identity"]["userAssignedIdentities"] == [f"{identity.name}-id"]
    assert identity.inputs["resourceName"] == "id-gpufleet-dev-r1"


def test_network_profile_overlay_with_cilium_by_default(dev):
    net = dev.one(CLUSTER).inputs["networkProfile"]
    assert net["networkPlugin"] == "azure"
    assert net["networkPluginMode"] == "overlay"
    assert net["networkPolicy"] == "cilium"
    assert net["networkDataplane"] == "cilium"
    assert net["loadBalancerSku"] == "standard"
    assert net["outboundType"] == "loadBalancer"
    assert net["podCidr"] == aks.POD_CIDR and net["serviceCidr"] == aks.SERVICE_CIDR


@pytest.mark.parametrize("policy", ["azure", "calico"])
def test_non_cilium_policies_run_on_the_azure_dataplane(policy):
    net = run_cluster("azure", create(azure={"network_policy": policy})).one(CLUSTER).inputs["networkProfile"]
    assert net["networkPolicy"] == policy
    assert net["networkDataplane"] == "azure"


def test_private_cluster_by_default(dev):
    api = dev.one(CLUSTER).inputs["apiServerAccessProfile"]
    assert api["enablePrivateCluster"] is True
    assert "authorizedIPRanges" not in api
    assert dev.outputs["endpoint"] == "https://<computed:aks:gpufleet-dev-r1:privateFQDN>"


def test_public_and_private_restricts_to_authorized_ranges():
    run = run_cluster(
        "azure", create(endpoint_access="public_and_private", public_access_cidrs=["203.0.113.0/24", "198.51.100.7/32"])
    )
    api = run.one(CLUSTER).inputs["apiServerAccessProfile"]
    assert api["enablePrivateCluster"] is False
    assert api["authorizedIPRanges"] == ["198.51.100.7/32", "203.0.113.0/24"]
    assert run.outputs["endpoint"] == "https://<computed:aks:gpufleet-dev-r1:fqdn>"


def test_auto_upgrade_patch_and_node_image(dev):
    mc = dev.one(CLUSTER).inputs
    assert mc["kubernetesVersion"] == "1.33"
    assert mc["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}


# --- system pool --------------------------------------------------------------------------------


def test_system_pool_is_tainted_private_and_autoscaled(dev):
    (pool,) = dev.one(CLUSTER).inputs["agentPoolProfiles"]
    assert pool["name"] == "system"
    assert pool["mode"] == "System"
    assert pool["type"] == "VirtualMachineScaleSets"
    assert pool["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert pool["nodeLabels"] == {"gpufleet.io/pool": "system"}
    assert pool["enableNodePublicIP"] is False
    assert pool["vmSize"] == "Standard_D4s_v5"
    assert (pool["enableAutoScaling"], pool["minCount"], pool["maxCount"]) == (True, 2, 4)
    assert pool["osDiskSizeGB"] == 100
    assert pool["availabilityZones"] == ["1", "2", "3"]
    assert pool["vnetSubnetID"] == "r1-subnet-id"
    # The autoscaler owns the count once the cluster exists.
    assert "agentPoolProfiles[0].count" in dev.one(CLUSTER).options["ignoreChanges"]


def test_system_pool_overrides_and_no_zones():
    system_pool = {"instance_type": "Standard_D8s_v5", "min_nodes": 3, "max_nodes": 6, "disk_size_gib": 200}
    spec = {"create": {"version": "1.32", "system_pool": system_pool}}
    (pool,) = run_cluster("azure", spec).one(CLUSTER).inputs["agentPoolProfiles"]
    assert (pool["vmSize"], pool["minCount"], pool["maxCount"], pool["osDiskSizeGB"]) == ("Standard_D8s_v5", 3, 6, 200)
    assert "availabilityZones" not in pool


def test_general_pool_is_an_untainted_user_pool_sized_per_environment(dev, prod):
    for run, env, (lo, hi) in ((dev, "dev", (1, 3)), (prod, "prod", (3, 6))):
        pool = run.one(AGENT_POOL, "-general")
        p = pool.inputs
        assert p["agentPoolName"] == "general" and p["mode"] == "User"
        # No taint: the add-ons that tolerate nothing (monitoring, gateway) land here.
        assert "nodeTaints" not in p and p["nodeLabels"] == {"gpufleet.io/pool": "general"}
        assert (p["enableAutoScaling"], p["count"], p["minCount"], p["maxCount"]) == (True, lo, lo, hi), env
        assert p["vmSize"] == "Standard_D4s_v5" and p["enableNodePublicIP"] is False
        assert p["resourceName"] == "gpufleet-" + env + "-r1" and p["vnetSubnetID"] == "r1-subnet-id"
        assert "count" in pool.options["ignoreChanges"]


# --- network --------------------------------------------------------------------------------------


def test_new_network_and_network_contributor_on_subnet(dev):
    vnet = dev.one(VNET).inputs
    subnet = dev.one(SUBNET).inputs
    assert vnet["addressSpace"]["addressPrefixes"] == ["10.0.0.0/16"]
    assert subnet["addressPrefix"] == "10.0.0.0/20"
    assert subnet["virtualNetworkName"] == vnet["virtualNetworkName"]

    grant = dev.one(ROLE, "-subnet-network-contributor")
    assert grant.inputs["scope"] == "r1-subnet-id"
    assert grant.inputs["principalId"] == "<computed:azure-identity:r1-identity:principalId>"
    assert grant.inputs["principalType"] == "ServicePrincipal"
    assert grant.inputs["roleDefinitionId"] == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/"
        "roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"
    )
    # AKS validates the subnet permission at creation time.
    assert grant.urn in dev.one(CLUSTER).options["dependsOn"]


def test_custom_cidr_gets_first_20():
    run = run_cluster("azure", create(network={"create": {"cidr": "10.32.0.0/18"}}))
    assert run.one(SUBNET).inputs["addressPrefix"] == "10.32.0.0/20"


def test_vnet_overlapping_pod_range_is_refused():
    with pytest.raises(Exception, match="overlaps the AKS pod range"):
        run_cluster("azure", create(network={"create": {"cidr": "10.244.0.0/16"}}))


def test_existing_network_creates_no_network_resources():
    run = run_cluster("azure", create(network={"existing": EXISTING}))
    assert not [r for r in run.resources if r.type.startswith("azure-native:network:")]
    # The network's owner grants the identity Network Contributor; we do not touch their network.
    assert all("network-contributor" not in r.name for r in run.by_type(ROLE))
    (pool,) = run.one(CLUSTER).inputs["agentPoolProfiles"]
    assert pool["vnetSubnetID"] == EXISTING["subnet_ids"][0]


# --- logging ------------------------------------------------------------------------------------


def test_control_plane_logs_go_to_workspace(dev):
    ws = dev.one(WORKSPACE)
    diag = dev.one(DIAG).inputs
    assert ws.inputs["retentionInDays"] == 30
    assert diag["workspaceId"] == f"{ws.name}-id"
    assert diag["resourceUri"] == "r1-aks-id"
    logs = {entry["category"]: entry["enabled"] for entry in diag["logs"]}
    assert logs == {c: True for c in aks.CONTROL_PLANE_LOG_CATEGORIES}
    assert {"kube-audit-admin", "kube-apiserver", "guard"} <= set(logs)


def test_prod_keeps_logs_a_year(prod):
    assert prod.one(WORKSPACE).inputs["retentionInDays"] == 365


def test_logging_off_creates_no_workspace():
    run = run_cluster("azure", create(control_plane_logging=False))
    assert not run.by_type(WORKSPACE) and not run.by_type(DIAG)


# --- secrets encryption -------------------------------------------------------------------------


def test_kms_with_key_vault_key(dev):
    vault = dev.one(VAULT)
    key = dev.one(KEY)
    props = vault.inputs["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["softDeleteRetentionInDays"] == 7
    assert "enablePurgeProtection" not in props
    assert re.fullmatch(r"kv-[a-z0-9-]{1,14}-[0-9a-f]{6}", vault.inputs["vaultName"])
    assert key.inputs["properties"]["kty"] == "RSA"

    kms = dev.one(CLUSTER).inputs["securityProfile"]["azureKeyVaultKms"]
    assert kms == {
        "enabled": True,
        "keyId": "<computed:azure-key:r1-kms-key:keyUriWithVersion>",
        "keyVaultNetworkAccess": "Public",
    }
    grant = dev.one(ROLE, "-kv-crypto-user")
    assert grant.inputs["scope"] == f"{vault.name}-id"
    assert grant.inputs["roleDefinitionId"].endswith("/roleDefinitions/12338af0-0e69-4776-bea7-57ae8d297424")
    assert grant.urn in dev.one(CLUSTER).options["dependsOn"]


def test_prod_vault_has_purge_protection(prod):
    props = prod.one(VAULT).inputs["properties"]
    assert props["enablePurgeProtection"] is True
    assert props["softDeleteRetentionInDays"] == 90


def test_secrets_encryption_off_has_no_vault():
    run = run_cluster("azure", create(secrets_encryption=False))
    assert not run.by_type(VAULT) and not run.by_type(KEY)
    assert "azureKeyVaultKms" not in run.one(CLUSTER).inputs["securityProfile"]


# --- cross-cutting ------------------------------------------------------------------------------


def _sdk_accepts(typ: str, prop: str) -> bool:
    """Whether the SDK resource class for `typ` takes input `prop` (e.g. tags, location)."""
    _, module, cls = typ.split(":")
    klass = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls)
    return prop in inspect.signature(klass._internal_init).parameters


def test_tags_on_every_taggable_resource(dev):
    taggable = [r for r in azure_resources(dev) if _sdk_accepts(r.type, "tags")]
    assert {r.type for r in taggable} >= {RG, VNET, IDENTITY, WORKSPACE, VAULT, KEY, CLUSTER}
    for r in taggable:
        assert r.inputs.get("tags") == TAGS, f"{r.type} {r.name} is missing cost tags"
    (pool,) = dev.one(CLUSTER).inputs["agentPoolProfiles"]
    assert pool["tags"] == TAGS


def test_explicit_providers_parents_and_names(dev):
    assert_explicit_providers(dev)
    component = dev.one(COMPONENT).urn
    for r in azure_resources(dev):
        assert r.parent == component, r.name
        assert r.name.startswith("r1-"), r.name
        assert r.provider.split("::")[-2] == "r1-azure", r.provider
    for inv in dev.invokes:
        assert "r1-azure" in inv.provider, inv.token


def test_location_and_resource_group(dev):
    assert dev.one(RG).inputs == {"resourceGroupName": "rg-gpufleet-dev-r1", "location": "eastus", "tags": TAGS}
    for r in azure_resources(dev):
        if _sdk_accepts(r.type, "location"):
            assert r.inputs["location"] == "eastus", r.name


def test_prod_protects_stateful_resources(prod):
    protected = {r.type for r in azure_resources(prod) if r.options["protect"]}
    assert protected == {CLUSTER, RG, VAULT, KEY, WORKSPACE}


def test_dev_protects_nothing(dev):
    assert not [r.name for r in dev.resources if r.options.get("protect")]


def test_kubeconfig_is_exec_and_secret(dev):
    (inv,) = [i for i in dev.invokes if i.token.endswith(":listManagedClusterUserCredentials")]
    assert inv.args == {"resourceGroupName": "rg-gpufleet-dev-r1", "resourceName": "gpufleet-dev-r1", "format": "exec"}
    assert "kubeconfig" in dev.secret_outputs
    k8s = dev.one("pulumi:providers:kubernetes")
    assert k8s.inputs["kubeconfig"] == "[secret]"


# --- kubeconfig rewrite (pure) --------------------------------------------------------------------


def test_kubeconfig_uses_azurecli_not_device_code():
    doc = json.loads(aks.kubelogin_kubeconfig(exec_kubeconfig_placeholder("c1")))
    user = doc["users"][0]["user"]
    assert "token" not in user and "client-key-data" not in user
    args = user["exec"]["args"]
    assert user["exec"]["command"] == "kubelogin"
    assert args[args.index("--login") + 1] == "azurecli"
    assert "devicecode" not in args
    assert "--server-id" in args
    assert doc["clusters"][0]["cluster"]["server"].startswith("https://")


def test_kubeconfig_with_static_credentials_is_refused():
    static = yaml.safe_dump(
        {
            "clusters": [{"name": "c1", "cluster": {"server": "https://c1:443"}}],
            "users": [{"name": "u", "user": {"token": "abc"}}],
        }
    )
    with pytest.raises(ValueError, match="kubelogin"):
        aks.kubelogin_kubeconfig(static)


def test_login_flag_forms_are_all_replaced():
    assert aks._set_flag(["get-token", "-l", "devicecode", "--login=spn"], "--login", "azurecli") == [
        "get-token",
        "--login",
        "azurecli",
    ]


# --- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "subnet"), [("10.0.0.0/16", "10.0.0.0/20"), ("10.8.0.0/20", "10.8.0.0/20"), ("172.20.64.0/18", "172.20.64.0/20")]
)
def test_node_subnet_cidr(cidr, subnet):
    assert aks.node_subnet_cidr(cidr) == subnet


def test_key_vault_name_is_valid_and_scoped():
    name = aks.key_vault_name("gpufleet-production--eastus-primary", "sub/rg")
    assert 3 <= len(name) <= 24
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name)
    assert name == aks.key_vault_name("gpufleet-production--eastus-primary", "sub/rg")
    assert name != aks.key_vault_name("gpufleet-production--eastus-primary", "other-sub/rg")


# --- adopt ----------------------------------------------------------------------------------------


def test_adopt_by_name_registers_no_azure_resources():
    run = run_cluster("azure", {"adopt": {"name": "legacy-aks", "resource_group": "rg-legacy"}})
    assert azure_resources(run) == []
    assert {r.type for r in run.resources} == {
        "pulumi:providers:azure-native",
        "gpufleet:cluster:KubernetesCluster",
        "pulumi:providers:kubernetes",
    }
    lookups = {i.token.split(":")[-1]: i.args for i in run.invokes}
    assert lookups["getManagedCluster"] == {"resourceGroupName": "rg-legacy", "resourceName": "legacy-aks"}
    assert lookups["listManagedClusterUserCredentials"]["format"] == "exec"
    assert run.outputs["clusterName"] == "legacy-aks"
    assert run.outputs["endpoint"] == "https://<computed:aks:legacy-aks:privateFQDN>"
    assert run.outputs["oidcIssuerUrl"] == "<computed:aks:legacy-aks:oidcIssuerURL>"
    assert "kubeconfig" in run.secret_outputs


def test_adopt_by_stack_reference_registers_only_the_reference():
    kubeconfig = base64.b64encode(b"apiVersion: v1").decode()
    run = run_cluster(
        "azure",
        {"adopt": {"stack_reference": "org/platform/prod"}},
        stack_reference_outputs={
            "org/platform/prod": {
                "clusterName": "shared-aks",
                "kubeconfig": kubeconfig,
                "endpoint": "https://shared.example",
                "oidcIssuerUrl": "https://issuer.example/",
            }
        },
    )
    assert azure_resources(run) == []
    (ref,) = run.by_type("pulumi:pulumi:StackReference")
    assert ref.name == "r1-ref" and ref.parent == run.one(COMPONENT).urn
    assert run.invokes == []
    assert run.outputs["clusterName"] == "shared-aks"
    assert run.outputs["endpoint"] == "https://shared.example"
    assert run.outputs["oidcIssuerUrl"] == "https://issuer.example/"
    assert "kubeconfig" in run.secret_outputs
