"""Which input changes make the engine replace a resource instead of updating it in place.

A maintained table, per Pulumi type token, of the input paths (camelCase, as plan.json records
them) whose change forces replacement, with the provider source each entry was read from:
ForceNew in the Terraform schemas the bridged aws/gcp providers wrap, the azure-native provider's
force-new list plus its rule that URL path parameters replace, and the Kubernetes provider's
force-new table. A path matches a change at that path or below it (`nodeConfig.guestAccelerators`
covers `nodeConfig.guestAccelerators[0].type`); `[*]` matches any list index. Per-resource
`replaceOnChanges` options recorded in plan.json are honoured on top of this table.

Types that are not listed are compared input by input and reported as updates: the table covers
the types gpufleet creates whose replacement matters (clusters, node pools, networks, buckets,
keys, identities); extend it, with its source, when a new type joins the program.
Update the table when the provider versions in constraints.txt move (the sources are pinned
to the commits they were read at).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

TF_GOOGLE = "https://github.com/hashicorp/terraform-provider-google/blob/e03b7622a26cf4e878f90bdccaca6aa3d03a7999/google/services/"
TF_AWS = "https://github.com/hashicorp/terraform-provider-aws/blob/{commit}/internal/service/"
AZ_NATIVE = ("https://github.com/pulumi/pulumi-azure-native/blob/1b7112af33c62b247daed1028686bf279f4d5e69/"
             "provider/pkg/gen/replacement.go (forceNewMap) and provider/pkg/provider/diff.go (path parameters)")
K8S = ("https://github.com/pulumi/pulumi-kubernetes/blob/94977969d64112b04e19945818a7d5d5f38f631d/"
       "provider/pkg/provider/diff.go (forceNew) and provider.go (.metadata.name/.metadata.namespace)")


@dataclass(frozen=True)
class ReplaceRule:
    paths: tuple[str, ...]
    source: str


def _r(source: str, *paths: str) -> ReplaceRule:
    return ReplaceRule(paths=tuple(paths), source=source)


REPLACE_ON_CHANGE: dict[str, ReplaceRule] = {
    # --- GCP (ForceNew in terraform-provider-google) ---
    "gcp:container/cluster:Cluster": _r(
        TF_GOOGLE + "container/resource_container_cluster.go",
        "name", "location", "project", "network", "subnetwork", "networkingMode", "ipAllocationPolicy",
        "clusterIpv4Cidr", "datapathProvider", "defaultMaxPodsPerNode", "description", "enableAutopilot",
        "enableKubernetesAlpha", "enableTpu", "initialNodeCount", "nodePools", "confidentialNodes"),
    "gcp:container/nodePool:NodePool": _r(
        TF_GOOGLE + "container/resource_container_node_pool.go and container/node_config.go (schemaNodeConfig)",
        "name", "namePrefix", "cluster", "location", "project", "initialNodeCount", "maxPodsPerNode",
        "placementPolicy", "queuedProvisioning", "networkConfig.podRange", "networkConfig.podIpv4CidrBlock",
        "networkConfig.createPodRange", "nodeConfig.guestAccelerators", "nodeConfig.spot", "nodeConfig.preemptible",
        "nodeConfig.reservationAffinity", "nodeConfig.serviceAccount", "nodeConfig.oauthScopes", "nodeConfig.metadata",
        "nodeConfig.localSsdCount", "nodeConfig.minCpuPlatform", "nodeConfig.bootDiskKmsKey",
        "nodeConfig.shieldedInstanceConfig", "nodeConfig.sandboxConfig", "nodeConfig.advancedMachineFeatures",
        "nodeConfig.ephemeralStorageLocalSsdConfig", "nodeConfig.localNvmeSsdBlockConfig", "nodeConfig.hostMaintenancePolicy",
        "nodeConfig.soleTenantConfig", "nodeConfig.nodeGroup", "nodeConfig.flexStart", "nodeConfig.maxRunDuration",
        "nodeConfig.secondaryBootDisks", "nodeConfig.enableConfidentialStorage"),
    "gcp:compute/network:Network": _r(
        TF_GOOGLE + "compute/resource_compute_network.go",
        "name", "project", "autoCreateSubnetworks", "description", "internalIpv6Range", "networkProfile", "params"),
    "gcp:compute/subnetwork:Subnetwork": _r(
        TF_GOOGLE + "compute/resource_compute_subnetwork.go",
        "name", "project", "network", "region", "description", "externalIpv6Prefix", "internalIpv6Prefix", "params",
        "reservedInternalRange"),
    "gcp:compute/router:Router": _r(
        TF_GOOGLE + "compute/resource_compute_router.go",
        "name", "project", "network", "region", "encryptedInterconnectRouter", "params"),
    "gcp:compute/routerNat:RouterNat": _r(
        TF_GOOGLE + "compute/resource_compute_router_nat.go",
        "name", "project", "router", "region", "endpointTypes", "initialNatIps", "type"),
    "gcp:compute/healthCheck:HealthCheck": _r(TF_GOOGLE + "compute/resource_compute_health_check.go", "name", "project"),
    "gcp:storage/bucket:Bucket": _r(
        TF_GOOGLE + "storage/resource_storage_bucket.go",
        "name", "project", "location", "enableObjectRetention", "hierarchicalNamespace"),
    "gcp:storage/bucketObject:BucketObject": _r(
        TF_GOOGLE + "storage/resource_storage_bucket_object.go",
        "bucket", "name", "source", "content", "cacheControl", "contentDisposition", "contentEncoding", "contentLanguage",
        "contentType", "storageClass", "kmsKeyName", "metadata"),
    "gcp:kms/keyRing:KeyRing": _r(TF_GOOGLE + "kms/resource_kms_key_ring.go", "name", "location", "project"),
    "gcp:kms/cryptoKey:CryptoKey": _r(
        TF_GOOGLE + "kms/resource_kms_crypto_key.go",
        "name", "keyRing", "purpose", "importOnly", "destroyScheduledDuration", "cryptoKeyBackend"),
    "gcp:serviceaccount/account:Account": _r(
        TF_GOOGLE + "resourcemanager/resource_google_service_account.go", "accountId", "project"),
    "gcp:dns/recordSet:RecordSet": _r(TF_GOOGLE + "dns/resource_dns_record_set.go", "managedZone", "name", "project"),
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": _r(
        TF_GOOGLE + "logging/resource_logging_project_bucket_config.go", "bucketId", "location", "project"),
    "gcp:monitoring/alertPolicy:AlertPolicy": _r(TF_GOOGLE + "monitoring/resource_monitoring_alert_policy.go", "project"),
    # --- AWS (ForceNew in terraform-provider-aws) ---
    "aws:eks/cluster:Cluster": _r(
        TF_AWS.format(commit="00555dc5b38f92abbfa230badea0ed0754cea81e") + "eks/cluster.go",
        "name", "roleArn", "bootstrapSelfManagedAddons", "accessConfig.bootstrapClusterCreatorAdminPermissions",
        "kubernetesNetworkConfig.ipFamily", "kubernetesNetworkConfig.serviceIpv4Cidr", "outpostConfig",
        "remoteNetworkConfig"),
    "aws:eks/nodeGroup:NodeGroup": _r(
        TF_AWS.format(commit="012e0a32f0686212f447447fd3d81c3d0ce256ad") + "eks/node_group.go",
        "clusterName", "nodeGroupName", "nodeGroupNamePrefix", "nodeRoleArn", "subnetIds", "amiType", "capacityType",
        "diskSize", "instanceTypes", "launchTemplate.id", "launchTemplate.name", "remoteAccess"),
    "aws:ec2/vpc:Vpc": _r(TF_AWS.format(commit="00081ce41cc691433ac19bf42227cdabffd0454d") + "ec2/vpc_.go",
                         "cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength"),
    "aws:ec2/subnet:Subnet": _r(
        TF_AWS.format(commit="00cda125a19d31754cb0d073cf551264c57955cb") + "ec2/vpc_subnet.go",
        "vpcId", "availabilityZone", "availabilityZoneId", "cidrBlock", "ipv4IpamPoolId", "ipv4NetmaskLength",
        "ipv6IpamPoolId", "ipv6Native", "ipv6NetmaskLength", "outpostArn"),
    "aws:kms/key:Key": _r(
        TF_AWS.format(commit="00a35305dc1b297a6fcdecdfbba33f1e63c3da39") + "kms/key.go",
        "customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "xksKeyId"),
    "aws:s3/bucket:Bucket": _r(TF_AWS.format(commit="main") + "s3/bucket.go", "bucket", "bucketPrefix", "objectLockEnabled"),
    # --- Azure (azure-native: forceNewMap, location, and every URL path parameter) ---
    "azure-native:resources:ResourceGroup": _r(AZ_NATIVE, "resourceGroupName", "location"),
    "azure-native:containerservice:ManagedCluster": _r(
        AZ_NATIVE, "resourceGroupName", "resourceName", "location", "dnsPrefix", "fqdnSubdomain", "diskEncryptionSetID",
        "linuxProfile", "windowsProfile", "nodeResourceGroup", "networkProfile.serviceCidr", "networkProfile.serviceCidrs",
        "networkProfile.dnsServiceIP", "networkProfile.networkMode", "networkProfile.networkPlugin",
        "networkProfile.networkPluginMode", "networkProfile.podCidr", "networkProfile.networkDataplane",
        "networkProfile.networkPolicy", "networkProfile.outboundType"),
    "azure-native:containerservice:AgentPool": _r(
        AZ_NATIVE, "resourceGroupName", "resourceName", "agentPoolName", "vmSize", "gpuInstanceProfile",
        "networkProfile.nodePublicIPTags"),
    "azure-native:storage:StorageAccount": _r(AZ_NATIVE, "resourceGroupName", "accountName", "location", "isHnsEnabled"),
    "azure-native:storage:BlobContainer": _r(AZ_NATIVE, "resourceGroupName", "accountName", "containerName"),
    "azure-native:network:VirtualNetwork": _r(AZ_NATIVE, "resourceGroupName", "virtualNetworkName", "location"),
    "azure-native:network:Subnet": _r(AZ_NATIVE, "resourceGroupName", "virtualNetworkName", "subnetName"),
    "azure-native:authorization:RoleAssignment": _r(AZ_NATIVE, "scope", "roleAssignmentName", "principalId"),
    "azure-native:keyvault:Vault": _r(AZ_NATIVE, "resourceGroupName", "vaultName", "location"),
    "azure-native:keyvault:Key": _r(AZ_NATIVE, "resourceGroupName", "vaultName", "keyName"),
    "azure-native:managedidentity:UserAssignedIdentity": _r(AZ_NATIVE, "resourceGroupName", "resourceName", "location"),
    "azure-native:managedidentity:FederatedIdentityCredential": _r(
        AZ_NATIVE, "resourceGroupName", "resourceName", "federatedIdentityCredentialResourceName"),
    # --- Kubernetes (pulumi-kubernetes forceNew table; metadata.name/namespace apply to every kind) ---
    "kubernetes:apps/v1:Deployment": _r(K8S, "spec.selector"),
    "kubernetes:apps/v1:DaemonSet": _r(K8S, "spec.selector"),
    "kubernetes:apps/v1:StatefulSet": _r(
        K8S, "spec.selector", "spec.podManagementPolicy", "spec.revisionHistoryLimit", "spec.serviceName",
        "spec.volumeClaimTemplates"),
    "kubernetes:batch/v1:Job": _r(K8S, "spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "kubernetes:core/v1:Service": _r(K8S, "spec.clusterIP"),
    "kubernetes:core/v1:ResourceQuota": _r(K8S, "spec.scopes"),
    "kubernetes:core/v1:Secret": _r(K8S, "type"),
    "kubernetes:core/v1:PersistentVolumeClaim": _r(
        K8S, "spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": _r(K8S, "roleRef"),
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": _r(K8S, "roleRef"),
    "kubernetes:storage.k8s.io/v1:StorageClass": _r(K8S, "parameters", "provisioner"),
    # Helm releases: helm_release.go forceNewFields
    "kubernetes:helm.sh/v3:Release": _r(
        "https://github.com/pulumi/pulumi-kubernetes/blob/94977969d64112b04e19945818a7d5d5f38f631d/"
        "provider/pkg/provider/helm_release.go", "name", "namespace"),
}

KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")
# Immutable ConfigMaps/Secrets unless the provider sets enableConfigMapMutable/enableSecretMutable.
KUBERNETES_CONFIGMAP = ("data", "binaryData")
KUBERNETES_SECRET = ("type", "stringData", "data")


def normalise(path: str) -> str:
    """`a[3].b` -> `a[*].b`, so list positions match rules written with or without indices."""
    return re.sub(r"\[\d+\]", "[*]", path)


def covers(rule_path: str, changed: str) -> bool:
    """True when a change at the leaf path `changed` falls at or under `rule_path`.

    Changes are leaf paths (see `diff.flatten`), so a parent object that appears or vanishes shows
    up as changes of its leaves; a bare parent path is only an empty {} or [] and forces nothing.
    """
    rule, path = normalise(rule_path), normalise(changed)
    if rule in ("*", ""):
        return True
    return path == rule or path.startswith(rule + ".") or path.startswith(rule + "[")


def _provider_flag(resource: Mapping[str, Any], providers: Mapping[str, Mapping[str, Any]], flag: str) -> bool:
    ref = str(resource.get("provider") or "")
    prov = providers.get(ref.rsplit("::", 1)[0]) if ref else None
    value = ((prov or {}).get("inputs") or {}).get(flag)
    return str(value).lower() == "true"


def replace_paths(resource: Mapping[str, Any], providers: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[str, ...]:
    """Every input path whose change replaces `resource` (a plan.json resource entry)."""
    typ = str(resource.get("type", ""))
    paths: list[str] = list(REPLACE_ON_CHANGE[typ].paths) if typ in REPLACE_ON_CHANGE else []
    if typ.startswith("kubernetes:") and not typ.startswith(("kubernetes:helm.sh", "pulumi:providers")):
        paths += KUBERNETES_IDENTITY
        if typ == "kubernetes:core/v1:ConfigMap" and not _provider_flag(resource, providers or {}, "enableConfigMapMutable"):
            paths += KUBERNETES_CONFIGMAP
        if typ == "kubernetes:core/v1:Secret" and not _provider_flag(resource, providers or {}, "enableSecretMutable"):
            paths += KUBERNETES_SECRET
    paths += list((resource.get("options") or {}).get("replaceOnChanges") or [])
    return tuple(dict.fromkeys(paths))


def forcing(changed: Iterable[str], rules: Iterable[str]) -> list[str]:
    """The changed paths that force replacement under `rules`."""
    rules = list(rules)
    return [p for p in changed if any(covers(r, p) for r in rules)]
