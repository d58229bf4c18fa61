"""AKS flavour of `KubernetesCluster`: create a private, Entra-only AKS cluster, or adopt one.

Every child is parented to the component, so it inherits the region's explicit azure-native
provider; nothing here names a provider or relies on a default one. azure-native has no
provider-level default tags, so `args.tags` is put on every resource that accepts tags.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re

import pulumi
import pulumi_azure_native as azure_native
import yaml

from .._contracts import WorkloadIdentity
from ._build import ClusterBuild
from ._kubeconfig import exec_kubeconfig
from .args import (
    AKS_SYSTEM_POOL_TAINT,
    DEFAULT_SYSTEM_INSTANCE_TYPE,
    AzureClusterOptions,
    KubernetesClusterArgs,
    general_pool_size,
)

cs = azure_native.containerservice

# Built-in role definition GUIDs (the same in every subscription).
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"

# Overlay address spaces: pods and services never take VNet addresses, but must not overlap it.
# A /14 pod range gives 1024 nodes a /24 each (AKS overlay's per-node block).
POD_CIDR = "10.244.0.0/14"
SERVICE_CIDR = "10.248.0.0/16"
DNS_SERVICE_IP = "10.248.0.10"

# Control-plane log categories. kube-audit-admin (writes only) rather than kube-audit keeps the
# audit trail of changes without the volume and cost of every get/list/watch.
CONTROL_PLANE_LOG_CATEGORIES: tuple[str, ...] = (
    "kube-apiserver",
    "kube-audit-admin",
    "kube-controller-manager",
    "kube-scheduler",
    "cluster-autoscaler",
    "guard",
)

SYSTEM_POOL_TAINT = AKS_SYSTEM_POOL_TAINT
GENERAL_POOL_NAME = "general"
SYSTEM_POOL_LABELS = {"gpufleet.io/pool": "system"}


# --- pure helpers -----------------------------------------------------------------------------


def node_subnet_cidr(vnet_cidr: str) -> str:
    """The node subnet: the first /20 of the VNet (the whole VNet when it is a /20).

    With Azure CNI Overlay only nodes and internal load balancers take VNet addresses, so a
    /20 (4091 usable) is ample; the rest of the VNet stays free for GPU pools or endpoints.
    """
    net = ipaddress.ip_network(vnet_cidr)
    return str(next(net.subnets(new_prefix=max(net.prefixlen, 20))))


def check_overlay_ranges(vnet_cidr: str) -> None:
    """AKS rejects a VNet that overlaps the pod or service range; say so before deploying."""
    vnet = ipaddress.ip_network(vnet_cidr)
    for label, cidr in (("pod", POD_CIDR), ("service", SERVICE_CIDR)):
        if vnet.overlaps(ipaddress.ip_network(cidr)):
            raise ValueError(
                f"network.create.cidr {vnet_cidr} overlaps the AKS {label} range {cidr}; choose a VNet "
                "range outside 10.244.0.0/14 and 10.248.0.0/16"
            )


def key_vault_name(cluster_name: str, scope: str) -> str:
    """A Key Vault name (3-24 chars, globally unique): 'kv-' + name prefix + hash of scope.

    `scope` (subscription and resource group) goes into the hash because vault names are global:
    two subscriptions using the same cluster name must not collide.
    """
    digest = hashlib.sha256(f"{scope}/{cluster_name}".encode()).hexdigest()[:6]
    stem = re.sub(r"-+", "-", cluster_name)[:14].strip("-")
    return f"kv-{stem}-{digest}"


def _set_flag(args: list[str], flag: str, value: str) -> list[str]:
    out: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in (flag, "-l"):
            skip = True
            continue
        if a.startswith(flag + "="):
            continue
        out.append(a)
    return out + [flag, value]


def kubelogin_kubeconfig(raw: str) -> str:
    """Re-render AKS's exec kubeconfig so it never prompts.

    AKS returns a kubelogin exec user with `--login devicecode`, which would block a
    non-interactive `pulumi up`. Switch it to `azurecli` (the token of whoever runs Pulumi, the
    way EKS uses `aws eks get-token`), keeping server, CA and the server/tenant ids from AKS.
    A kubeconfig without a kubelogin exec user means the cluster hands out static credentials
    (no Entra integration); refuse it rather than store a long-lived secret.
    """
    doc = yaml.safe_load(raw)
    cluster = doc["clusters"][0]
    user = (doc.get("users") or [{}])[0].get("user") or {}
    exec_ = user.get("exec") or {}
    if "kubelogin" not in str(exec_.get("command", "")):
        raise ValueError(
            f"AKS cluster {cluster.get('name')!r} returned a kubeconfig without kubelogin exec "
            "authentication; enable AKS-managed Entra ID integration (and disable local accounts)"
        )
    return exec_kubeconfig(
        cluster_name=cluster["name"],
        server=cluster["cluster"]["server"],
        ca_data=cluster["cluster"].get("certificate-authority-data", ""),
        command="kubelogin",
        args=_set_flag(list(exec_.get("args") or []), "--login", "azurecli"),
    )


def _user_kubeconfig(parent: pulumi.Resource, resource_group_name, cluster_name) -> pulumi.Output[str]:
    """The cluster-user kubeconfig in exec format (no static token: local accounts are off)."""
    creds = cs.list_managed_cluster_user_credentials_output(
        resource_group_name=resource_group_name,
        resource_name=cluster_name,
        format="exec",
        opts=pulumi.InvokeOptions(parent=parent),
    )
    return creds.kubeconfigs.apply(lambda ks: kubelogin_kubeconfig(base64.b64decode(ks[0].value).decode()))


def adopted_principal(cluster: str, identity) -> str:
    """Principal id of an adopted AKS cluster's control-plane identity (system- or user-assigned)."""
    if identity is None:
        raise ValueError(
            f"adopted AKS cluster {cluster!r} has no managed identity (service principal clusters are not "
            "supported): capacity reservation groups are granted to the control-plane identity"
        )
    uais = getattr(identity, "user_assigned_identities", None) or {}
    if uais:
        if len(uais) != 1:
            raise ValueError(f"adopted AKS cluster {cluster!r}: expected one user-assigned control-plane identity, "
                             f"found {len(uais)}")
        return next(iter(uais.values())).principal_id
    if not getattr(identity, "principal_id", None):
        raise ValueError(f"adopted AKS cluster {cluster!r} reports no control-plane principal id")
    return identity.principal_id


def expander_issue(cluster: str, profile) -> str | None:
    """Why an adopted cluster's autoscaler would ignore gpufleet's priorities; None when it would not."""
    expander = getattr(profile, "expander", None) if profile is not None else None
    if expander == "priority":
        return None
    return (
        f"adopted AKS cluster {cluster!r}: adopt.priority_expander is true but the cluster autoscaler's expander is "
        f"{expander or 'random (the AKS default)'!r}; run `az aks update --cluster-autoscaler-profile "
        "expander=priority` (GPU pools prefer reserved, then spot, then on-demand only with it), then deploy again"
    )


# --- create -----------------------------------------------------------------------------------


def create(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs) -> ClusterBuild:
    c = args.spec.create
    assert c is not None
    az = c.azure or AzureClusterOptions()
    prod = args.environment == "prod"
    nap = c.capacity_engine == "node_auto_provisioning"
    tags = dict(sorted(args.tags.items()))
    loc = args.region
    child = pulumi.ResourceOptions(parent=parent)
    # Stateful or hard-to-recreate resources are protected in production only.
    kept = pulumi.ResourceOptions(parent=parent, protect=prod)
    client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=parent))

    def role_definition(guid: str) -> pulumi.Output[str]:
        return pulumi.Output.concat(
            "/subscriptions/", client.subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", guid
        )

    rg_name = args.resource_group_name or f"rg-{args.cluster_name}"
    rg = azure_native.resources.ResourceGroup(
        f"{name}-rg",
        azure_native.resources.ResourceGroupArgs(resource_group_name=rg_name, location=loc, tags=tags),
        opts=kept,
    )

    # Control-plane identity. User-assigned (not system-assigned) so its role assignments can
    # exist before the cluster does: AKS checks subnet and key permissions at creation.
    # Resources with an Azure `resource_name` property (identity, cluster) take keyword arguments
    # (`resource_name_=`): their *Args form clashes with the logical name in this SDK's
    # constructors. Keywords are checked just as strictly; nested inputs stay typed *Args.
    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-identity",
        resource_group_name=rg.name,
        resource_name_=f"id-{args.cluster_name}",
        location=loc,
        tags=tags,
        opts=child,
    )
    grants: list[pulumi.Resource] = []

    new = c.network.new
    if new is not None:
        check_overlay_ranges(new.cidr)
        vnet = azure_native.network.VirtualNetwork(
            f"{name}-vnet",
            azure_native.network.VirtualNetworkInitArgs(
                resource_group_name=rg.name,
                virtual_network_name=f"vnet-{args.cluster_name}",
                location=loc,
                address_space=azure_native.network.AddressSpaceArgs(address_prefixes=[new.cidr]),
                tags=tags,
            ),
            opts=child,
        )
        # Standalone subnet (never inline `subnets` on the VNet: mixing the two deletes subnets).
        subnet = azure_native.network.Subnet(
            f"{name}-subnet",
            azure_native.network.SubnetInitArgs(
                resource_group_name=rg.name,
                virtual_network_name=vnet.name,
                subnet_name="nodes",
                address_prefix=node_subnet_cidr(new.cidr),
            ),
            opts=child,
        )
        # In a bring-your-own subnet AKS needs Network Contributor to place load balancers/IPs.
        grants.append(
            azure_native.authorization.RoleAssignment(
                f"{name}-subnet-network-contributor",
                azure_native.authorization.RoleAssignmentArgs(
                    principal_id=identity.principal_id,
                    principal_type="ServicePrincipal",
                    role_definition_id=role_definition(NETWORK_CONTRIBUTOR),
                    scope=subnet.id,
                ),
                opts=child,
            )
        )
        network_id: pulumi.Output[str] = vnet.id
        subnet_id: pulumi.Output[str] = subnet.id
    else:
        # Existing network: nothing is created; its owner grants the identity Network Contributor
        # on the subnet, and keeps the VNet clear of the pod/service ranges (only ids are known here).
        existing = c.network.existing
        assert existing is not None
        network_id = pulumi.Output.from_input(existing.network_id)
        subnet_id = pulumi.Output.from_input(existing.subnet_ids[0])

    # Secrets encryption: KMS v2 envelope encryption of etcd with a customer-managed Key Vault key
    # (on top of the platform-key encryption AKS always applies).
    kms = None
    if c.secrets_encryption:
        vault = azure_native.keyvault.Vault(
            f"{name}-kv",
            azure_native.keyvault.VaultArgs(
                resource_group_name=rg.name,
                vault_name=pulumi.Output.all(client.subscription_id, rg_name).apply(
                    lambda a: key_vault_name(args.cluster_name, f"{a[0]}/{a[1]}")
                ),
                location=loc,
                tags=tags,
                properties=azure_native.keyvault.VaultPropertiesArgs(
                    tenant_id=client.tenant_id,
                    sku=azure_native.keyvault.SkuArgs(family="A", name=azure_native.keyvault.SkuName.STANDARD),
                    # Entra RBAC, not access policies; the cluster identity gets one data-plane role.
                    enable_rbac_authorization=True,
                    soft_delete_retention_in_days=90 if prod else 7,
                    # Purge protection is irreversible (the API refuses false), so set it only in prod.
                    # A destroyed vault stays soft-deleted and holds its name for the retention
                    # period: purge it before re-creating the same dev/staging stack.
                    enable_purge_protection=True if prod else None,
                    # KMS with keyVaultNetworkAccess=Public needs the vault reachable by the AKS
                    # control plane; access is still gated by Entra RBAC.
                    public_network_access="Enabled",
                ),
            ),
            opts=kept,
        )
        # No rotation policy: AKS pins a versioned key id, so a rotated version is only used after
        # the next `pulumi up` re-reads it; rotate by creating a new version, then update.
        key = azure_native.keyvault.Key(
            f"{name}-kms-key",
            azure_native.keyvault.KeyArgs(
                resource_group_name=rg.name,
                vault_name=vault.name,
                key_name="etcd-kms",
                properties=azure_native.keyvault.KeyPropertiesArgs(
                    kty=azure_native.keyvault.JsonWebKeyType.RSA, key_size=2048
                ),
                tags=tags,
            ),
            opts=kept,
        )
        grants.append(
            azure_native.authorization.RoleAssignment(
                f"{name}-kv-crypto-user",
                azure_native.authorization.RoleAssignmentArgs(
                    principal_id=identity.principal_id,
                    principal_type="ServicePrincipal",
                    role_definition_id=role_definition(KEY_VAULT_CRYPTO_USER),
                    scope=vault.id,
                ),
                opts=child,
            )
        )
        kms = cs.AzureKeyVaultKmsArgs(
            enabled=True,
            key_id=key.key_uri_with_version,
            key_vault_network_access=cs.KeyVaultNetworkAccessTypes.PUBLIC,
        )

    private = c.endpoint_access == "private"
    pool = c.system_pool
    cluster = cs.ManagedCluster(
        f"{name}-aks",
        resource_group_name=rg.name,
        resource_name_=args.cluster_name,
        location=loc,
        tags=tags,
        kubernetes_version=c.version,
        dns_prefix=args.cluster_name,
        sku=cs.ManagedClusterSKUArgs(name=cs.ManagedClusterSKUName.BASE, tier=az.sku_tier),
        identity=cs.ManagedClusterIdentityArgs(
            type=cs.ResourceIdentityType.USER_ASSIGNED, user_assigned_identities=[identity.id]
        ),
        # Entra ID only: no static admin kubeconfig, Kubernetes authorization via Azure RBAC.
        disable_local_accounts=True,
        enable_rbac=True,
        aad_profile=cs.ManagedClusterAADProfileArgs(
            managed=True,
            enable_azure_rbac=True,
            admin_group_object_ids=az.admin_group_object_ids or None,
        ),
        oidc_issuer_profile=cs.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
        security_profile=cs.ManagedClusterSecurityProfileArgs(
            workload_identity=cs.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
            # GPU images are large; weekly cleanup of unused (and vulnerable) images frees disk.
            image_cleaner=cs.ManagedClusterSecurityProfileImageCleanerArgs(enabled=True, interval_hours=168),
            azure_key_vault_kms=kms,
        ),
        network_profile=cs.ContainerServiceNetworkProfileArgs(
            network_plugin=cs.NetworkPlugin.AZURE,
            network_plugin_mode=cs.NetworkPluginMode.OVERLAY,
            # Cilium policy requires the Cilium dataplane; azure/calico run on the Azure one.
            network_dataplane=(
                cs.NetworkDataplane.CILIUM if az.network_policy == "cilium" else cs.NetworkDataplane.AZURE
            ),
            network_policy=az.network_policy,
            pod_cidr=POD_CIDR,
            service_cidr=SERVICE_CIDR,
            dns_service_ip=DNS_SERVICE_IP,
            # A bring-your-own subnet rules out the AKS-managed NAT gateway; the standard load
            # balancer gives outbound SNAT and backs Services of type LoadBalancer.
            outbound_type=cs.OutboundType.LOAD_BALANCER,
            load_balancer_sku=cs.LoadBalancerSku.STANDARD,
        ),
        api_server_access_profile=cs.ManagedClusterAPIServerAccessProfileArgs(
            enable_private_cluster=private,
            # The cluster's own outbound IP is added by AKS; these are the operator ranges.
            authorized_ip_ranges=None if private else list(c.public_access_cidrs),
        ),
        # The managed cluster autoscaler picks node pools by the priorities in the
        # kube-system/cluster-autoscaler-priority-expander ConfigMap (GPU pools: reserved, then
        # spot, then on-demand). Without that ConfigMap it falls back to random.
        # (Unused under NAP, where no agent pool autoscales.)
        auto_scaler_profile=None if nap else cs.ManagedClusterPropertiesAutoScalerProfileArgs(expander=cs.Expander.PRIORITY),
        # node_auto_provisioning: AKS runs Karpenter and serves its CRDs; no default NodePools (each
        # would launch any VM size for any pending pod), gpufleet writes its own.
        node_provisioning_profile=cs.ManagedClusterNodeProvisioningProfileArgs(
            mode=cs.NodeProvisioningMode.AUTO, default_node_pools=cs.NodeProvisioningDefaultNodePools.NONE,
        ) if nap else None,
        auto_upgrade_profile=cs.ManagedClusterAutoUpgradeProfileArgs(
            upgrade_channel=cs.UpgradeChannel.PATCH,
            node_os_upgrade_channel=cs.NodeOSUpgradeChannel.NODE_IMAGE,
        ),
        agent_pool_profiles=[
            cs.ManagedClusterAgentPoolProfileArgs(
                name="system",
                mode=cs.AgentPoolMode.SYSTEM,
                type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
                os_type=cs.OSType.LINUX,
                vm_size=pool.instance_type or DEFAULT_SYSTEM_INSTANCE_TYPE["azure"],
                orchestrator_version=c.version,
                # NAP: AKS refuses autoscaling agent pools ("fixed size node pools can still be
                # created, but autoscaling node pools cannot be"), so the pool keeps its minimum.
                enable_auto_scaling=not nap,
                count=pool.min_nodes,
                min_count=None if nap else pool.min_nodes,
                max_count=None if nap else pool.max_nodes,
                os_disk_size_gb=pool.disk_size_gib,
                availability_zones=list(c.zones) or None,
                vnet_subnet_id=subnet_id,
                # Add-ons only: GPU and app pods must not land on the system pool.
                node_taints=[SYSTEM_POOL_TAINT],
                node_labels=dict(SYSTEM_POOL_LABELS),
                enable_node_public_ip=False,
                tags=tags,
            )
        ],
        opts=pulumi.ResourceOptions(
            parent=parent,
            protect=prod,
            # AKS checks subnet/key permissions at creation, so the grants must exist first.
            depends_on=grants,
            # The autoscaler owns the node count after creation (under NAP the count is fixed: ours).
            ignore_changes=[] if nap else ["agentPoolProfiles[0].count"],
        ),
    )

    # The system pool takes only CriticalAddonsOnly pods and GPU pools are tainted: the platform
    # add-ons (monitoring, gateway, controllers) need an untainted User pool of their own.
    size = general_pool_size(c, "azure", args.environment)
    general = cs.AgentPool(
        f"{name}-general",
        resource_group_name=rg.name,
        resource_name_=cluster.name,
        agent_pool_name=GENERAL_POOL_NAME,
        mode=cs.AgentPoolMode.USER,
        type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
        os_type=cs.OSType.LINUX,
        vm_size=size.instance_type,
        orchestrator_version=c.version,
        # NAP: fixed at the minimum; the cluster's `general` NodePool adds nodes above it.
        enable_auto_scaling=not nap,
        count=size.min_nodes,
        min_count=None if nap else size.min_nodes,
        max_count=None if nap else size.max_nodes,
        os_disk_size_gb=size.disk_size_gib,
        availability_zones=list(c.zones) or None,
        vnet_subnet_id=subnet_id,
        node_labels=dict(size.labels),
        enable_node_public_ip=False,
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            # The cluster autoscaler owns the node count after creation (under NAP it is fixed: ours).
            ignore_changes=[] if nap else ["count"],
            # Agent pool names are fixed, so a replacement must delete the old pool first.
            delete_before_replace=True,
        ),
    )

    if c.control_plane_logging:
        workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            azure_native.operationalinsights.WorkspaceArgs(
                resource_group_name=rg.name,
                workspace_name=f"log-{args.cluster_name}",
                location=loc,
                sku=azure_native.operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                # Audit logs: a year in prod, a month elsewhere.
                retention_in_days=args.log_retention_days,
                tags=tags,
            ),
            opts=kept,
        )
        azure_native.monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            azure_native.monitor.DiagnosticSettingArgs(
                name="gpufleet-control-plane",
                resource_uri=cluster.id,
                workspace_id=workspace.id,
                # Resource-specific tables (AKSAudit, AKSControlPlane ...) rather than AzureDiagnostics.
                log_analytics_destination_type="Dedicated",
                logs=[
                    azure_native.monitor.DiagnosticsLogSettingsArgs(category=cat, enabled=True)
                    for cat in CONTROL_PLANE_LOG_CATEGORIES
                ],
            ),
            opts=child,
        )

    fqdn = cluster.private_fqdn if private else cluster.fqdn
    return ClusterBuild(
        cluster_name=cluster.name,
        endpoint=pulumi.Output.concat("https://", fqdn),
        kubeconfig=_user_kubeconfig(parent, rg.name, cluster.name),
        identity=WorkloadIdentity(
            kind="azure",
            oidc_issuer_url=cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else ""),
        ),
        created=True,
        network_id=network_id,
        subnet_ids=subnet_id.apply(lambda s: [s]),
        resource_group_name=rg.name,
        cluster_id=cluster.id,
        cluster_resource=cluster,
        node_pools=(general,),
    )


# --- adopt ------------------------------------------------------------------------------------


def adopt(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs) -> ClusterBuild:
    """Read an existing cluster; registers no Azure resources (a StackReference at most)."""
    a = args.spec.adopt
    assert a is not None
    if a.stack_reference is not None:
        ref = pulumi.StackReference(
            f"{name}-ref", stack_name=a.stack_reference, opts=pulumi.ResourceOptions(parent=parent)
        )
        return ClusterBuild(
            # The cluster name and kubeconfig are required: without them the cluster is unusable.
            cluster_name=ref.require_output("clusterName"),
            endpoint=ref.get_output("endpoint").apply(lambda v: v or ""),
            kubeconfig=ref.require_output("kubeconfig"),
            identity=WorkloadIdentity(
                kind="azure", oidc_issuer_url=ref.get_output("oidcIssuerUrl").apply(lambda v: v or "")
            ),
            created=False,
        )

    assert a.name is not None and a.resource_group is not None
    found = cs.get_managed_cluster_output(
        resource_group_name=a.resource_group, resource_name=a.name, opts=pulumi.InvokeOptions(parent=parent)
    )

    def endpoint(mc) -> str:
        private = bool(mc.api_server_access_profile and mc.api_server_access_profile.enable_private_cluster)
        return "https://" + ((mc.private_fqdn if private else mc.fqdn) or mc.fqdn or "")

    def checked_name(mc) -> str:
        # Stated in config and checked here: a wrong claim fails the deploy before any pool changes.
        if a.priority_expander and (issue := expander_issue(a.name, mc.auto_scaler_profile)) is not None:
            raise ValueError(issue)
        return a.name

    return ClusterBuild(
        cluster_name=found.apply(checked_name),
        endpoint=found.apply(endpoint),
        kubeconfig=_user_kubeconfig(parent, a.resource_group, a.name),
        identity=WorkloadIdentity(
            kind="azure",
            oidc_issuer_url=found.apply(lambda mc: mc.oidc_issuer_profile.issuer_url if mc.oidc_issuer_profile else ""),
        ),
        created=False,
        resource_group_name=pulumi.Output.from_input(a.resource_group),
        cluster_id=found.id,
        control_plane_principal_id=found.identity.apply(lambda ident: adopted_principal(a.name, ident)),
    )


def nap_general_pool(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs,
                     provider: pulumi.ProviderResource, built: ClusterBuild) -> None:
    """node_auto_provisioning: the general agent pool is fixed at its minimum; a NAP NodePool
    (same VM size, on-demand, untainted) adds nodes above it up to its maximum."""
    import pulumi_kubernetes as k8s

    from ..gpu_pool.karpenter import AKSNODECLASS_API, GENERAL_NODE_POOL, NODEPOOL_API, general_node_pool

    c = args.spec.create
    assert c is not None
    size = general_pool_size(c, "azure", args.environment)
    spec = general_node_pool(vm_size=size.instance_type, min_nodes=size.min_nodes, max_nodes=size.max_nodes,
                             zones=list(c.zones), region=args.region, labels=dict(size.labels))
    if spec is None:
        return
    deps = [built.cluster_resource] if built.cluster_resource is not None else []
    labels = {"app.kubernetes.io/managed-by": "gpufleet", "gpufleet.io/pool": GENERAL_NODE_POOL}
    node_class = k8s.apiextensions.CustomResource(
        f"{name}-general-nodeclass",
        api_version=AKSNODECLASS_API,
        kind="AKSNodeClass",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=GENERAL_NODE_POOL, labels=labels),
        spec={"imageFamily": "Ubuntu2204", "osDiskSizeGB": size.disk_size_gib,
              "tags": dict(sorted(args.tags.items()))},
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=deps),
    )
    k8s.apiextensions.CustomResource(
        f"{name}-general-nodepool",
        api_version=NODEPOOL_API,
        kind="NodePool",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=GENERAL_NODE_POOL, labels=labels),
        spec=spec,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[*deps, node_class]),
    )
