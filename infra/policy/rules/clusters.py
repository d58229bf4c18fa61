"""Kubernetes control planes: EKS, GKE and AKS hardening."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from ..model import Resource, as_list, get, is_unknown, resource_rule, truthy

EKS = "aws:eks/cluster:Cluster"
GKE = "gcp:container/cluster:Cluster"
GKE_POOL = "gcp:container/nodePool:NodePool"
AKS = "azure-native:containerservice:ManagedCluster"
EKS_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def world_open(cidrs: Any) -> bool | None:
    """True when a CIDR list admits the whole internet; None when unknown."""
    if is_unknown(cidrs):
        return None
    for c in as_list(cidrs):
        if is_unknown(c):
            return None
        if not isinstance(c, str):
            continue
        if c.strip().lower() in ("*", "internet", "any"):
            return True
        try:
            if ipaddress.ip_network(c.strip(), strict=False).prefixlen == 0:
                return True
        except ValueError:
            continue
    return False


# --- EKS -----------------------------------------------------------------------------------------

@resource_rule(
    "eks-public-endpoint-restricted",
    summary="The EKS API endpoint is private, or public only to listed CIDRs (never 0.0.0.0/0); with "
    "allowPublicEndpoint false, no public endpoint at all.",
    area="clusters", severity="high", level="mandatory", ids=("CKV_AWS_38", "CKV_AWS_39"), types=(EKS,),
    config={"allowPublicEndpoint": {"type": "boolean", "default": True,
                                    "description": "Allow a public endpoint restricted by publicAccessCidrs "
                                    "(false: CKV_AWS_39, private only)."}},
    remediation="endpoint_access: private (default), or public_and_private with public_access_cidrs.",
)
def eks_public_endpoint_restricted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    public = get(r.props, "vpcConfig.endpointPublicAccess")
    if is_unknown(public):
        return
    if truthy(public) is False:
        return
    # Absent: EKS defaults to a public endpoint open to 0.0.0.0/0.
    if not cfg.get("allowPublicEndpoint", True):
        yield "the API endpoint is public (endpointPublicAccess is not false)"
        return
    cidrs = get(r.props, "vpcConfig.publicAccessCidrs")
    if cidrs is None or (isinstance(cidrs, list) and not cidrs):
        yield "the public API endpoint admits 0.0.0.0/0 (no publicAccessCidrs)"
    elif world_open(cidrs):
        yield f"the public API endpoint admits the whole internet ({cidrs})"


@resource_rule(
    "eks-secrets-encryption",
    summary="EKS envelope-encrypts Kubernetes secrets with a KMS key.",
    area="clusters", severity="high", level="mandatory", ids=("CKV_AWS_58",), types=(EKS,),
    remediation="Keep secrets_encryption: true (default) or pass aws.kms_key_arn.",
)
def eks_secrets_encryption(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    enc = r.props.get("encryptionConfig")
    if is_unknown(enc):
        return
    resources = get(enc, "resources")
    if is_unknown(resources):
        return
    if "secrets" not in as_list(resources) or get(enc, "provider.keyArn") is None:
        yield "secrets are not envelope-encrypted (encryptionConfig with resources [secrets] and a KMS key)"


@resource_rule(
    "eks-control-plane-logging",
    summary="EKS sends every control-plane log type (api, audit, authenticator, controllerManager, scheduler) "
    "to CloudWatch.",
    area="clusters", severity="medium", level="mandatory", ids=("CKV_AWS_37",), types=(EKS,),
    config={"requiredLogTypes": {"type": "array", "items": {"type": "string"}, "default": EKS_LOG_TYPES,
                                 "description": "Control-plane log types that must be enabled."}},
    remediation="Keep control_plane_logging: true (default).",
)
def eks_control_plane_logging(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    types = r.props.get("enabledClusterLogTypes")
    if is_unknown(types) or any(is_unknown(t) for t in as_list(types)):
        return
    missing = [t for t in cfg.get("requiredLogTypes") or EKS_LOG_TYPES if t not in as_list(types)]
    if missing:
        yield f"control-plane log types not enabled: {', '.join(missing)}"


# --- GKE -----------------------------------------------------------------------------------------

@resource_rule(
    "gke-private-nodes",
    summary="GKE nodes have private IPs only (private cluster, private nodes).",
    area="clusters", severity="high", level="mandatory", ids=("CKV_GCP_25", "CKV_GCP_64"), types=(GKE,),
    remediation="Set private_cluster_config.enable_private_nodes=True (gpufleet always does).",
)
def gke_private_nodes(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = get(r.props, "privateClusterConfig.enablePrivateNodes")
    nv = get(r.props, "networkConfig.enablePrivateNodes")
    if is_unknown(v) or is_unknown(nv):
        return
    if truthy(v) is not True and truthy(nv) is not True:
        yield "nodes get public IPs (privateClusterConfig.enablePrivateNodes is not true)"


@resource_rule(
    "gke-control-plane-restricted",
    summary="The GKE control plane is reachable on its private endpoint only, or from authorized networks that "
    "exclude 0.0.0.0/0.",
    area="clusters", severity="high", level="mandatory", ids=("CKV_GCP_20",), types=(GKE,),
    remediation="endpoint_access: private (default), or public_and_private with public_access_cidrs.",
)
def gke_control_plane_restricted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    private = get(r.props, "privateClusterConfig.enablePrivateEndpoint")
    if is_unknown(private) or truthy(private) is True:
        return
    man = r.props.get("masterAuthorizedNetworksConfig")
    if is_unknown(man):
        return
    if man is None:
        yield "the public control-plane endpoint accepts any network (no masterAuthorizedNetworksConfig)"
        return
    blocks = [get(b, "cidrBlock") for b in as_list(get(man, "cidrBlocks"))]
    if world_open(blocks):
        yield "an authorized network is 0.0.0.0/0"
    if truthy(get(man, "gcpPublicCidrsAccessEnabled")) is True:
        yield "gcpPublicCidrsAccessEnabled admits every Google Cloud public IP"


@resource_rule(
    "gke-shielded-nodes",
    summary="GKE clusters use Shielded GKE Nodes.",
    area="clusters", severity="medium", level="mandatory", ids=("CKV_GCP_71",), types=(GKE,),
    remediation="Leave enable_shielded_nodes at its default (true).",
)
def gke_shielded_nodes(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    # Absent: GKE's default is on.
    if truthy(r.props.get("enableShieldedNodes")) is False:
        yield "enableShieldedNodes is false"


def _node_configs(r: Resource) -> list[tuple[str, Any]]:
    """(where, nodeConfig) of a cluster (its default-pool config and inline pools) or a node pool."""
    out: list[tuple[str, Any]] = []
    if r.type == GKE_POOL:
        out.append(("nodeConfig", r.props.get("nodeConfig")))
    else:
        if r.props.get("nodeConfig") is not None:
            out.append(("nodeConfig", r.props.get("nodeConfig")))
        for i, pool in enumerate(as_list(r.props.get("nodePools"))):
            out.append((f"nodePools[{i}].nodeConfig", get(pool, "nodeConfig")))
    return out


@resource_rule(
    "gke-metadata-server",
    summary="GKE nodes run the GKE metadata server (workload identity; node credentials hidden from pods).",
    area="clusters", severity="high", level="mandatory", ids=("CKV_GCP_69",), types=(GKE, GKE_POOL),
    remediation="Set node_config.workload_metadata_config.mode=GKE_METADATA.",
)
def gke_metadata_server(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    configs = _node_configs(r)
    if r.type == GKE and not configs:
        return  # no node config on the cluster: its pools are checked on their own
    for where, node in configs:
        mode = get(node, "workloadMetadataConfig.mode")
        if is_unknown(node) or is_unknown(mode):
            continue
        if mode != "GKE_METADATA":
            yield f"{where}.workloadMetadataConfig.mode is {mode or 'unset'}, not GKE_METADATA"


@resource_rule(
    "gke-secure-boot",
    summary="GKE nodes boot with Secure Boot (shielded instance config).",
    area="clusters", severity="medium", level="mandatory", ids=("CKV_GCP_68",), types=(GKE, GKE_POOL),
    remediation="Set node_config.shielded_instance_config.enable_secure_boot=True.",
)
def gke_secure_boot(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for where, node in _node_configs(r):
        sb = get(node, "shieldedInstanceConfig.enableSecureBoot")
        if is_unknown(node) or is_unknown(sb):
            continue
        if truthy(sb) is not True:
            yield f"{where}.shieldedInstanceConfig.enableSecureBoot is not true (default: off)"


@resource_rule(
    "gke-release-channel",
    summary="GKE clusters are enrolled in a release channel (RAPID, REGULAR or STABLE).",
    area="clusters", severity="medium", level="advisory", ids=("CKV_GCP_70",), types=(GKE,),
    remediation="Set release_channel (gpufleet default: REGULAR; prod stacks use STABLE).",
)
def gke_release_channel(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    ch = get(r.props, "releaseChannel.channel")
    if is_unknown(ch):
        return
    if ch not in ("RAPID", "REGULAR", "STABLE", "EXTENDED"):
        yield f"release channel is {ch or 'unset'}"


@resource_rule(
    "gke-network-policy",
    summary="GKE enforces NetworkPolicy (Dataplane V2 or the network policy add-on).",
    area="clusters", severity="medium", level="mandatory", ids=("CKV_GCP_12",), types=(GKE,),
    remediation='Use datapath_provider="ADVANCED_DATAPATH" (gpufleet default).',
)
def gke_network_policy(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    dp = r.props.get("datapathProvider")
    np = get(r.props, "networkPolicy.enabled")
    if is_unknown(dp) or is_unknown(np):
        return
    if dp != "ADVANCED_DATAPATH" and truthy(np) is not True:
        yield "no NetworkPolicy enforcement (datapathProvider not ADVANCED_DATAPATH, networkPolicy not enabled)"


@resource_rule(
    "gke-no-client-certificate",
    summary="GKE issues no legacy client certificate.",
    area="clusters", severity="high", level="mandatory", ids=("CKV_GCP_13",), types=(GKE,),
    remediation="Leave master_auth.client_certificate_config.issue_client_certificate false.",
)
def gke_no_client_certificate(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if truthy(get(r.props, "masterAuth.clientCertificateConfig.issueClientCertificate")) is True:
        yield "issueClientCertificate is true"


# --- AKS -----------------------------------------------------------------------------------------

@resource_rule(
    "aks-local-accounts-disabled",
    summary="AKS has local accounts disabled (Entra ID only).",
    area="clusters", severity="high", level="mandatory", ids=("CKV_AZURE_141",), types=(AKS,),
    remediation="Set disable_local_accounts=True (gpufleet default).",
)
def aks_local_accounts_disabled(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = r.props.get("disableLocalAccounts")
    if not is_unknown(v) and truthy(v) is not True:
        yield "disableLocalAccounts is not true (the static cluster-admin credential stays available)"


@resource_rule(
    "aks-network-policy",
    summary="AKS enforces NetworkPolicy (azure, calico or cilium).",
    area="clusters", severity="medium", level="mandatory", ids=("CKV_AZURE_7",), types=(AKS,),
    remediation="Set network_profile.network_policy (gpufleet default: cilium).",
)
def aks_network_policy(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = get(r.props, "networkProfile.networkPolicy")
    if not is_unknown(v) and v not in ("azure", "calico", "cilium"):
        yield f"networkProfile.networkPolicy is {v or 'unset'}"


@resource_rule(
    "aks-rbac-enabled",
    summary="AKS has Kubernetes RBAC enabled.",
    area="clusters", severity="high", level="mandatory", ids=("CKV_AZURE_5",), types=(AKS,),
    remediation="Leave enable_rbac at its default (true).",
)
def aks_rbac_enabled(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    # Absent: AKS enables RBAC by default.
    if truthy(r.props.get("enableRBAC")) is False:
        yield "enableRBAC is false"


@resource_rule(
    "aks-api-server-restricted",
    summary="The AKS API server is private, or restricted to authorized IP ranges that exclude 0.0.0.0/0.",
    area="clusters", severity="high", level="mandatory", ids=("CKV_AZURE_6", "CKV_AZURE_115"), types=(AKS,),
    remediation="endpoint_access: private (default), or public_and_private with public_access_cidrs.",
)
def aks_api_server_restricted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    prof = r.props.get("apiServerAccessProfile")
    if is_unknown(prof):
        return
    private = get(prof, "enablePrivateCluster")
    if is_unknown(private) or truthy(private) is True:
        return
    ranges = get(prof, "authorizedIPRanges")
    if is_unknown(ranges):
        return
    if not ranges:
        yield "the public API server accepts any network (no authorizedIPRanges)"
    elif world_open(ranges):
        yield "an authorized IP range is 0.0.0.0/0"


@resource_rule(
    "gke-aks-secrets-encryption",
    summary="GKE and AKS encrypt Kubernetes secrets with a customer-managed key (GKE application-layer "
    "secrets encryption; AKS Key Vault KMS).",
    area="clusters", severity="medium", level="mandatory", types=(GKE, AKS),
    note="EKS has its own rule (CKV_AWS_58); no Checkov ID is mapped for GKE/AKS",
    remediation="Keep secrets_encryption: true (default).",
)
def cluster_secrets_encryption(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == GKE:
        state = get(r.props, "databaseEncryption.state")
        if not is_unknown(state) and state != "ENCRYPTED":
            yield f"databaseEncryption.state is {state or 'unset'} (Google-managed keys only)"
    else:
        on = get(r.props, "securityProfile.azureKeyVaultKms.enabled")
        if not is_unknown(on) and truthy(on) is not True:
            yield "securityProfile.azureKeyVaultKms is not enabled"

