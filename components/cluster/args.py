"""Cloud-neutral cluster spec: create a cluster, or adopt one that already exists.

Pure: no Pulumi or cloud SDK import. Cross-field rules that need the region's cloud live in
`cluster_issues`, so a config loader can report them together with field errors.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .._contracts import Cloud
from .._model import Args

# Minor versions offered by all three managed services (standard support) when last checked;
# see README "Kubernetes versions". The validation schemas used in tests are pinned to 1.33.
SUPPORTED_VERSIONS: tuple[str, ...] = ("1.31", "1.32", "1.33", "1.34")
KubernetesVersion = Literal["1.31", "1.32", "1.33", "1.34"]

DEFAULT_SYSTEM_INSTANCE_TYPE: dict[str, str] = {
    "aws": "m6i.large",
    "gcp": "e2-standard-4",
    "azure": "Standard_D4s_v5",
}

# The general pool hosts the platform add-ons (kube-prometheus-stack, prometheus-adapter, Envoy
# Gateway and its proxies, the AWS load balancer controller and cluster autoscaler): 4 vCPU /
# 16 GiB nodes, on demand, untainted.
DEFAULT_GENERAL_INSTANCE_TYPE: dict[str, str] = {
    "aws": "m6i.xlarge",
    "gcp": "e2-standard-4",
    "azure": "Standard_D4s_v5",
}
# (min, max) nodes of the general pool per environment, counted over the whole pool (all zones):
# one node in dev, two in staging so a node loss keeps add-ons up, one per zone of three in prod.
DEFAULT_GENERAL_NODES: dict[str, tuple[int, int]] = {"dev": (1, 3), "staging": (2, 4), "prod": (3, 6)}
# GKE spreads a regional pool over three of the region's zones unless node_locations says otherwise.
GKE_DEFAULT_ZONE_COUNT = 3
GENERAL_POOL_LABELS = {"gpufleet.io/pool": "general"}
# AKS system pools take only pods tolerating this (CoreDNS, metrics-server, konnectivity ...).
AKS_SYSTEM_POOL_TAINT = "CriticalAddonsOnly=true:NoSchedule"


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"expected a CIDR block such as 10.0.0.0/16 ({exc})") from None
    if net.version != 4:
        raise ValueError("expected an IPv4 CIDR block")
    return str(net)


class NetworkCreate(Args):
    """A new network (VPC / VPC network / VNet) dedicated to the cluster."""

    cidr: str = Field(
        "10.0.0.0/16",
        description="Address space of the new network; split into one private (and one public, AWS) "
        "subnet per zone. Default 10.0.0.0/16.",
    )

    @field_validator("cidr")
    @classmethod
    def _check_cidr(cls, v: str) -> str:
        v = _cidr(v)
        if not 16 <= ipaddress.ip_network(v).prefixlen <= 20:
            raise ValueError("prefix length must be between /16 and /20 so each zone gets a /20 or larger")
        return v


class NetworkExisting(Args):
    """Place the cluster in a network that already exists; nothing network-related is created."""

    network_id: str = Field(
        ...,
        min_length=1,
        description="AWS VPC id, GCP VPC network self link or name, or Azure VNet resource id.",
    )
    subnet_ids: list[str] = Field(
        ...,
        min_length=1,
        description="AWS: private subnet ids in at least two zones. GCP: one subnetwork (with "
        "secondary ranges named 'pods' and 'services'). Azure: one subnet resource id.",
    )


class NetworkSpec(Args):
    """Network placement: create a new one (default) or use an existing one, never both."""

    create: NetworkCreate | None = Field(None, description="Settings for a new network; default 10.0.0.0/16.")
    existing: NetworkExisting | None = Field(None, description="Use this network instead; nothing is created.")

    @model_validator(mode="after")
    def _not_both(self) -> "NetworkSpec":
        if self.create is not None and self.existing is not None:
            raise ValueError("set at most one of create or existing")
        return self

    @property
    def new(self) -> NetworkCreate | None:
        """The network to create, or None when an existing one is used."""
        if self.existing is not None:
            return None
        return self.create or NetworkCreate()


class SystemPool(Args):
    """Small on-demand pool for cluster add-ons (CoreDNS, metrics, controllers). Never GPU."""

    instance_type: str | None = Field(
        None,
        description="Instance/machine/VM size. Default: m6i.large (AWS), e2-standard-4 (GCP), "
        "Standard_D4s_v5 (Azure).",
    )
    min_nodes: int = Field(2, ge=1, le=10, description="Minimum nodes; default 2 so add-ons survive a node loss.")
    max_nodes: int = Field(4, ge=1, le=20, description="Maximum nodes; default 4.")
    disk_size_gib: int = Field(100, ge=30, le=2000, description="OS disk per node; default 100 GiB.")

    @model_validator(mode="after")
    def _bounds(self) -> "SystemPool":
        if self.max_nodes < self.min_nodes:
            raise ValueError(f"max_nodes ({self.max_nodes}) must be >= min_nodes ({self.min_nodes})")
        return self


class GeneralPool(Args):
    """Untainted on-demand pool for the platform add-ons; never GPU. Created on every cloud, next
    to the system pool (which AKS taints CriticalAddonsOnly, so nothing else could run there)."""

    instance_type: str | None = Field(
        None,
        description="Instance/machine/VM size. Default: m6i.xlarge (AWS), e2-standard-4 (GCP), "
        "Standard_D4s_v5 (Azure): 4 vCPU, 16 GiB.",
    )
    min_nodes: int | None = Field(
        None, ge=1, le=50,
        description="Minimum nodes of the whole pool (all zones, on GKE too). Default per environment: "
        "dev 1, staging 2, prod 3.",
    )
    max_nodes: int | None = Field(
        None, ge=1, le=100,
        description="Maximum nodes of the whole pool. Default per environment: dev 3, staging 4, prod 6 "
        "(and never below min_nodes).",
    )
    disk_size_gib: int = Field(100, ge=30, le=2000, description="OS disk per node; default 100 GiB.")

    @model_validator(mode="after")
    def _bounds(self) -> "GeneralPool":
        if self.min_nodes is not None and self.max_nodes is not None and self.max_nodes < self.min_nodes:
            raise ValueError(f"max_nodes ({self.max_nodes}) must be >= min_nodes ({self.min_nodes})")
        return self


class AwsClusterOptions(Args):
    kms_key_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$",
        description="Existing KMS key for envelope encryption of Kubernetes secrets. Default: a new "
        "customer-managed key with yearly rotation.",
    )
    admin_role_arns: list[str] = Field(
        default_factory=list,
        description="IAM role ARNs given cluster-admin through EKS access entries; list the role that "
        "runs `pulumi up`. Default: none, in which case the identity that creates the cluster gets an "
        "admin access entry so it can deploy the in-cluster components.",
    )

    @field_validator("admin_role_arns")
    @classmethod
    def _arns(cls, v: list[str]) -> list[str]:
        import re

        bad = [a for a in v if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", a)]
        if bad:
            raise ValueError(f"not IAM role ARNs: {bad} (expected arn:aws:iam::<12 digits>:role/<name>)")
        return sorted(set(v))


class GcpClusterOptions(Args):
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(
        "REGULAR", description="GKE release channel; default REGULAR (use STABLE for prod if preferred)."
    )
    master_ipv4_cidr: str = Field(
        "172.16.0.0/28", description="/28 for the private control-plane endpoint; default 172.16.0.0/28."
    )
    pods_cidr: str = Field("10.64.0.0/14", description="Secondary range for pods (VPC-native); default 10.64.0.0/14.")
    services_cidr: str = Field("10.68.0.0/20", description="Secondary range for services; default 10.68.0.0/20.")
    database_encryption_key: str | None = Field(
        None,
        description="Cloud KMS key (projects/.../cryptoKeys/...) for application-layer secrets "
        "encryption. Default: a new key ring and key with 90-day rotation.",
    )

    @field_validator("master_ipv4_cidr", "pods_cidr", "services_cidr")
    @classmethod
    def _cidrs(cls, v: str) -> str:
        return _cidr(v)

    @field_validator("master_ipv4_cidr")
    @classmethod
    def _master28(cls, v: str) -> str:
        if ipaddress.ip_network(v).prefixlen != 28:
            raise ValueError("GKE requires a /28 for the control-plane range")
        return v


class AzureClusterOptions(Args):
    network_policy: Literal["azure", "calico", "cilium"] = Field(
        "cilium", description="Network policy engine; default cilium (Azure CNI powered by Cilium)."
    )
    sku_tier: Literal["Free", "Standard", "Premium"] = Field(
        "Standard", description="AKS control-plane tier; default Standard (financially backed SLA)."
    )
    admin_group_object_ids: list[str] = Field(
        default_factory=list,
        description="Entra group object ids given cluster-admin through Entra RBAC. Default: none.",
    )

    @field_validator("admin_group_object_ids")
    @classmethod
    def _uuids(cls, v: list[str]) -> list[str]:
        import uuid

        bad = []
        for item in v:
            try:
                uuid.UUID(item)
            except ValueError:
                bad.append(item)
        if bad:
            raise ValueError(f"not Entra object ids (UUIDs): {bad}")
        return sorted(set(v))


CapacityEngine = Literal["node_groups", "karpenter", "node_auto_provisioning"]
# Engines each cloud offers; node_groups (the cloud's node groups/pools + cluster autoscaler) everywhere.
ENGINES: dict[str, tuple[str, ...]] = {
    "aws": ("node_groups", "karpenter"),
    "gcp": ("node_groups",),
    "azure": ("node_groups", "node_auto_provisioning"),
}


class ClusterCreate(Args):
    """Create a managed cluster (EKS, GKE or AKS) with secure defaults."""

    version: KubernetesVersion = Field(..., description="Kubernetes minor version, e.g. '1.33'. Required.")
    zones: list[str] = Field(
        default_factory=list,
        description="Zones for nodes and subnets. AWS requires at least two when the network is "
        "created; GCP/Azure default to the region's zones chosen by the service.",
    )
    endpoint_access: Literal["private", "public_and_private"] = Field(
        "private",
        description="API server reachability. Default private (reachable from the network only); "
        "public_and_private also exposes it to public_access_cidrs.",
    )
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="Source ranges allowed to reach a public endpoint. Required with public_and_private.",
    )
    network: NetworkSpec = Field(
        default_factory=NetworkSpec,
        description="A new network (default, 10.0.0.0/16) or an existing one.",
    )
    control_plane_logging: bool = Field(
        True, description="Ship all control-plane log types (API, audit, authenticator, scheduler, controller-manager). Default on."
    )
    secrets_encryption: bool = Field(
        True, description="Envelope-encrypt Kubernetes secrets with a customer-managed key. Default on."
    )
    system_pool: SystemPool = Field(default_factory=SystemPool, description="Add-on node pool; default 2-4 small on-demand nodes.")
    general_pool: GeneralPool = Field(
        default_factory=GeneralPool,
        description="Untainted on-demand pool for the platform add-ons (monitoring, gateway, controllers); "
        "default 4 vCPU / 16 GiB nodes, dev 1-3, staging 2-4, prod 3-6.",
    )
    aws: AwsClusterOptions | None = Field(None, description="EKS-only settings; only allowed when cloud is aws.")
    gcp: GcpClusterOptions | None = Field(None, description="GKE-only settings; only allowed when cloud is gcp.")
    azure: AzureClusterOptions | None = Field(None, description="AKS-only settings; only allowed when cloud is azure.")
    capacity_engine: CapacityEngine = Field(
        "node_groups",
        description="What provisions the GPU nodes. node_groups (default, every cloud): EKS managed node groups, GKE "
        "node pools or AKS agent pools scaled by the cluster autoscaler. karpenter (AWS): Karpenter 1.14 NodePools and "
        "an EC2NodeClass per pool, Karpenter installed by gpufleet with its interruption queue. "
        "node_auto_provisioning (Azure): AKS node auto-provisioning (managed Karpenter) NodePools and an "
        "AKSNodeClass per pool; the system and general agent pools become fixed-size. The capacity mix, floor and "
        "cost are the same for every engine.",
    )
    keep_node_groups: bool = Field(
        False,
        description="AWS, while moving an existing cluster from node_groups to karpenter: keep the GPU node groups "
        "(and their floor) running beside the new NodePools until the workloads have moved, then set it back to "
        "false. Default false.",
    )

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidr_list(cls, v: list[str]) -> list[str]:
        return sorted({_cidr(c) for c in v})

    @field_validator("zones")
    @classmethod
    def _zones_unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"zones must be unique, got {v}")
        return v


class ClusterAdopt(Args):
    """Use a cluster that exists already (created elsewhere); nothing is created for it."""

    name: str | None = Field(None, min_length=1, description="Existing cluster name, looked up in the region.")
    stack_reference: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$",
        description="Pulumi stack (org/project/stack) whose outputs describe the cluster. Outputs read: "
        "clusterName, kubeconfig (secret), oidcIssuerUrl, endpoint (optional; default the kubeconfig's "
        "server), and per cloud oidcProviderArn (aws) or workloadPool (gcp). The referenced stack exports "
        "them at top level (e.g. a cluster-only stack built with KubernetesCluster).",
    )
    resource_group: str | None = Field(None, description="Azure resource group of the cluster; required on Azure with name.")
    project_id: str | None = Field(None, description="GCP project of the cluster; default the region's project_id.")
    # What GPU pools need to attach to a cluster gpufleet did not create (only needed with gpu_pools).
    node_role_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
        description="AWS: IAM role for GPU nodes (needs the EKS worker, CNI and ECR read-only policies). Required for gpu_pools.",
    )
    subnet_ids: list[str] = Field(
        default_factory=list,
        description="AWS: private subnet ids for GPU nodes, one per entry of zones; Azure: the node subnet id. Required for gpu_pools.",
    )
    zones: list[str] = Field(default_factory=list, description="AWS: the zones of subnet_ids, in the same order.")
    node_service_account: str | None = Field(
        None, description="GCP: node service account email for GPU pools. Required for gpu_pools."
    )
    cluster_autoscaler: Literal["existing", "install"] = Field(
        "existing",
        description="AWS: existing (default): the adopted cluster runs its own cluster autoscaler, so gpufleet "
        "installs none (a second one would act on the same node groups) and exports the priority expander "
        "document to merge into its ConfigMap; its auto-discovery must include the GPU node groups' ASGs (EKS tags "
        "them k8s.io/cluster-autoscaler/enabled and /<cluster>). install: the cluster runs none; gpufleet installs "
        "it with the priority expander. GKE and AKS use their managed autoscaler (existing only).",
    )
    priority_expander: bool | None = Field(
        None,
        description="Azure: states that the adopted cluster's autoscaler profile uses the priority expander "
        "(`az aks update --cluster-autoscaler-profile expander=priority`), which gpufleet's priority ConfigMap "
        "(reserved, then spot, then on-demand) needs; gpufleet never changes an adopted cluster's settings. "
        "Required true for gpu_pools on Azure, and verified against the cluster at deploy (adopted by name). "
        "Default: not stated.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> "ClusterAdopt":
        if (self.name is None) == (self.stack_reference is None):
            raise ValueError("set exactly one of name or stack_reference")
        return self


class ClusterSpec(Args):
    """Exactly one of create or adopt."""

    create: ClusterCreate | None = Field(None, description="Create a new managed cluster.")
    adopt: ClusterAdopt | None = Field(None, description="Adopt an existing cluster; creates nothing.")

    @model_validator(mode="after")
    def _exactly_one(self) -> "ClusterSpec":
        if (self.create is None) == (self.adopt is None):
            raise ValueError("set exactly one of create or adopt")
        return self


@dataclass(frozen=True)
class NodePoolSize:
    """A non-GPU pool as it is deployed: what the cost estimate and the compilation both read."""

    role: Literal["system", "general"]
    instance_type: str
    min_nodes: int  # whole pool, all zones
    max_nodes: int  # whole pool, all zones
    zone_count: int | None  # zones the nodes spread over; None: one zoneless (regional) group on AKS
    disk_size_gib: int
    taints: tuple[str, ...]  # "key=value:Effect"
    labels: tuple[tuple[str, str], ...]


def _zone_count(create: ClusterCreate, cloud: str) -> int | None:
    if create.zones:
        return len(create.zones)
    if cloud == "gcp":
        return GKE_DEFAULT_ZONE_COUNT
    if cloud == "aws" and create.network.existing is not None:
        return len(create.network.existing.subnet_ids)  # at most one zone per subnet
    return None


def system_pool_size(create: ClusterCreate, cloud: str) -> NodePoolSize:
    """The system pool; GKE counts it per zone (`min_node_count`), so its totals multiply."""
    pool = create.system_pool
    zones = _zone_count(create, cloud)
    per_zone = zones if cloud == "gcp" and zones else 1
    return NodePoolSize(
        role="system",
        instance_type=pool.instance_type or DEFAULT_SYSTEM_INSTANCE_TYPE[cloud],
        min_nodes=pool.min_nodes * per_zone,
        # AKS NAP allows fixed-size agent pools only: the system pool stays at its minimum.
        max_nodes=(pool.min_nodes if create.capacity_engine == "node_auto_provisioning" else pool.max_nodes) * per_zone,
        zone_count=zones,
        disk_size_gib=pool.disk_size_gib,
        taints=(AKS_SYSTEM_POOL_TAINT,) if cloud == "azure" else (),
        labels=(("gpufleet.io/pool", "system"),),
    )


def general_pool_size(create: ClusterCreate, cloud: str, environment: str) -> NodePoolSize:
    """The general pool with the environment's defaults applied (totals over all zones)."""
    pool = create.general_pool
    lo, hi = DEFAULT_GENERAL_NODES[environment]
    low = pool.min_nodes if pool.min_nodes is not None else lo
    high = pool.max_nodes if pool.max_nodes is not None else max(hi, low)
    return NodePoolSize(
        role="general",
        instance_type=pool.instance_type or DEFAULT_GENERAL_INSTANCE_TYPE[cloud],
        min_nodes=low,
        max_nodes=high,
        zone_count=_zone_count(create, cloud),
        disk_size_gib=pool.disk_size_gib,
        taints=(),
        labels=tuple(sorted(GENERAL_POOL_LABELS.items())),
    )


# CloudWatch Logs accepts only these retention periods; Log Analytics 30..730 days.
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                             2922, 3288, 3653)


def retention_issue(cloud: str, days: int) -> str | None:
    """What is allowed, when `days` is not a retention the cloud accepts; else None."""
    if cloud == "aws" and days not in CLOUDWATCH_RETENTION_DAYS:
        return f"a CloudWatch Logs retention: {', '.join(map(str, CLOUDWATCH_RETENTION_DAYS))}"
    if cloud == "azure" and not 30 <= days <= 730:
        return "30 to 730 days (Log Analytics workspace retention)"
    if cloud == "gcp" and not 1 <= days <= 3650:
        return "1 to 3650 days (Cloud Logging bucket retention)"
    return None


def cluster_issues(spec: ClusterSpec, cloud: Cloud, region: str, environment: str) -> list[tuple[str, object, str]]:
    """Cross-field problems as (relative path, value received, what is allowed)."""
    issues: list[tuple[str, object, str]] = []
    c = spec.create
    if c is not None:
        for other in ("aws", "gcp", "azure"):
            if other != cloud and getattr(c, other) is not None:
                issues.append((f"create.{other}", "<block>", f"only the '{cloud}' block is allowed for a {cloud} region"))
        if c.endpoint_access == "public_and_private" and not c.public_access_cidrs:
            issues.append(
                ("create.public_access_cidrs", [], "at least one CIDR when endpoint_access is public_and_private")
            )
        if c.endpoint_access == "private" and c.public_access_cidrs:
            issues.append(
                ("create.public_access_cidrs", c.public_access_cidrs, "empty when endpoint_access is private")
            )
        if environment == "prod" and any(ipaddress.ip_network(x).prefixlen == 0 for x in c.public_access_cidrs):
            issues.append(("create.public_access_cidrs", c.public_access_cidrs, "no 0.0.0.0/0 in prod"))
        for i, z in enumerate(c.zones):
            if cloud == "azure" and z not in ("1", "2", "3"):
                issues.append((f"create.zones[{i}]", z, "an Azure zone number: '1', '2' or '3'"))
            elif cloud != "azure" and not z.startswith(region):
                issues.append((f"create.zones[{i}]", z, f"a zone of region {region} (e.g. {region}-a / {region}a)"))
        if cloud == "aws" and c.network.new is not None and len(c.zones) < 2:
            issues.append(("create.zones", c.zones, "at least two zones of the region (EKS needs subnets in two AZs)"))
        if c.capacity_engine not in ENGINES[cloud]:
            issues.append(("create.capacity_engine", c.capacity_engine,
                           f"an engine {cloud} offers: {' | '.join(ENGINES[cloud])} (karpenter is AWS only, "
                           "node_auto_provisioning Azure only)"))
        if c.keep_node_groups and (c.capacity_engine != "karpenter" or cloud != "aws"):
            issues.append(("create.keep_node_groups", True,
                           "false unless capacity_engine is karpenter on AWS (AKS refuses autoscaling agent pools once "
                           "node auto-provisioning is on, so they cannot run side by side)"))
        if cloud == "azure" and c.capacity_engine == "node_auto_provisioning":
            policy = (c.azure or AzureClusterOptions()).network_policy
            if policy != "cilium":
                issues.append(("create.azure.network_policy", policy,
                               "cilium with node_auto_provisioning (AKS NAP needs Azure CNI overlay with the Cilium "
                               "dataplane; it does not support Calico)"))
        ex = c.network.existing
        if ex is not None and cloud in ("gcp", "azure") and len(ex.subnet_ids) != 1:
            issues.append(("create.network.existing.subnet_ids", ex.subnet_ids, f"exactly one subnet on {cloud}"))
    a = spec.adopt
    if a is not None:
        if cloud == "azure" and a.name is not None and not a.resource_group:
            issues.append(("adopt.resource_group", None, "the cluster's resource group (required to adopt by name on Azure)"))
        if cloud != "azure" and a.resource_group is not None:
            issues.append(("adopt.resource_group", a.resource_group, "only on Azure"))
        if cloud != "gcp" and a.project_id is not None:
            issues.append(("adopt.project_id", a.project_id, "only on GCP"))
        if cloud != "aws" and a.cluster_autoscaler != "existing":
            issues.append(("adopt.cluster_autoscaler", a.cluster_autoscaler,
                           f"existing on {cloud} (its managed cluster autoscaler); install is AWS only"))
        if cloud != "azure" and a.priority_expander is not None:
            issues.append(("adopt.priority_expander", a.priority_expander, "only on Azure"))
    return issues


class KubernetesClusterArgs(Args):
    """Inputs of the `KubernetesCluster` component (one region)."""

    cloud: Cloud = Field(..., description="aws, gcp or azure.")
    region: str = Field(..., min_length=1, description="Cloud region, e.g. us-east-1, us-central1, eastus.")
    environment: Literal["dev", "staging", "prod"] = Field(..., description="Drives retention/protection defaults.")
    spec: ClusterSpec = Field(..., description="Create or adopt.")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags put on every taggable child.")
    cluster_name: str = Field(
        ...,
        pattern=r"^[a-z][a-z0-9-]{1,38}$",
        description="Cloud-side name for a created cluster (adopted clusters keep their own name).",
    )
    project_id: str | None = Field(None, description="GCP project; required on GCP.")
    resource_group_name: str | None = Field(
        None, description="Azure resource group to create the cluster in. Default: a new group named after the cluster."
    )
    log_retention_days: int = Field(
        30, ge=1, le=3653,
        description="Control-plane log retention: CloudWatch log group (AWS), a dedicated log bucket (GCP), Log "
        "Analytics workspace (Azure). Default 30; the platform passes 365 in prod.",
    )

    @model_validator(mode="after")
    def _cloud_fields(self) -> "KubernetesClusterArgs":
        if self.cloud == "gcp" and not self.project_id:
            raise ValueError("project_id is required on gcp")
        problems = cluster_issues(self.spec, self.cloud, self.region, self.environment)
        if problems:
            raise ValueError("; ".join(f"spec.{p}: got {v!r}, allowed: {a}" for p, v, a in problems))
        return self
