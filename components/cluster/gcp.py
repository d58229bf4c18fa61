"""GKE flavour of `KubernetesCluster`: create a private, VPC-native regional cluster, or adopt one.

Every child takes `parent=parent` and no provider: the region's explicit gcp provider arrives
through the parent's `providers=[...]` (default providers are disabled in Pulumi.yaml).
Nested inputs use the SDK's typed `*Args` classes, never dicts, so a misspelled field fails at
construction instead of being silently dropped.
"""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_gcp as gcp

from .._contracts import WorkloadIdentity
from ._build import ClusterBuild
from ._kubeconfig import gke_kubeconfig
from .args import (
    GKE_DEFAULT_ZONE_COUNT,
    GcpClusterOptions,
    KubernetesClusterArgs,
    NodePoolSize,
    general_pool_size,
    system_pool_size,
)

# Secondary range names on the node subnetwork; an existing subnetwork must use the same names.
PODS_RANGE = "pods"
SERVICES_RANGE = "services"

# Least privilege for nodes: ship logs/metrics and pull images, nothing else. The Compute
# default service account (Editor on the project) is never used.
NODE_ROLES: tuple[str, ...] = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
# Access is governed by the service account's IAM roles; the scope only has to not restrict it.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

ALL_LOG_COMPONENTS = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]
KMS_ROTATION_PERIOD = "7776000s"  # 90 days


def _workload_pool(project: str) -> str:
    return f"{project}.svc.id.goog"


def _node_account_id(cluster_name: str) -> str:
    """Service account ids are 6-30 chars; long cluster names keep a hash so ids stay unique."""
    plain = f"{cluster_name}-nodes"
    if len(plain) <= 30:
        return plain
    digest = hashlib.sha256(cluster_name.encode()).hexdigest()[:6]
    return f"{cluster_name[:17].rstrip('-')}-{digest}-nodes"


def _control_plane_log_bucket(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs) -> None:
    """Keep this cluster's control-plane logs for `log_retention_days` in a dedicated log bucket.

    GKE writes them to the project's _Default bucket (30 days, shared by everything in the
    project); a sink copies this cluster's control-plane entries into a bucket whose retention
    this stack owns, without changing the project-wide default.
    """
    project = args.project_id
    bucket_id = f"{args.cluster_name}-control-plane"
    bucket = gcp.logging.ProjectBucketConfig(
        f"{name}-cp-logs",
        gcp.logging.ProjectBucketConfigArgs(
            project=project, location="global", bucket_id=bucket_id, retention_days=args.log_retention_days,
            description=f"Control-plane logs of GKE cluster {args.cluster_name} (gpufleet)",
        ),
        opts=_child(parent, retain_on_delete=args.environment == "prod"),
    )
    gcp.logging.ProjectSink(
        f"{name}-cp-logs-sink",
        gcp.logging.ProjectSinkArgs(
            project=project,
            name=f"{args.cluster_name}-control-plane",
            destination=f"logging.googleapis.com/projects/{project}/locations/global/buckets/{bucket_id}",
            filter=(f'resource.type="k8s_control_plane_component" AND resource.labels.cluster_name="{args.cluster_name}" '
                    f'AND resource.labels.location="{args.region}"'),
            unique_writer_identity=True,
        ),
        opts=_child(parent, depends_on=[bucket]),
    )


def _child(parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, **kwargs)


def create(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs) -> ClusterBuild:
    c = args.spec.create
    assert c is not None
    g = c.gcp or GcpClusterOptions()
    project = args.project_id
    assert project is not None  # enforced by KubernetesClusterArgs on gcp
    region = args.region
    tags = dict(args.tags)
    prod = args.environment == "prod"

    network_id, subnet_id = _network(parent, name, args, g)
    node_sa, grants = _node_service_account(parent, name, args)
    key_name, key_deps = _secrets_key(parent, name, args, g)

    private = c.endpoint_access == "private"
    if private:
        # The control plane answers on its private endpoint only; the nodes' subnetwork is
        # always allowed, and no external range is.
        authorized = gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[], gcp_public_cidrs_access_enabled=False
        )
    else:
        authorized = gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
            cidr_blocks=[
                gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr, display_name=cidr)
                for cidr in c.public_access_cidrs
            ],
            gcp_public_cidrs_access_enabled=False,
        )

    cluster = gcp.container.Cluster(
        f"{name}-gke",
        gcp.container.ClusterArgs(
            name=args.cluster_name,
            project=project,
            location=region,  # regional: control plane replicated across the region's zones
            node_locations=list(c.zones) or None,
            min_master_version=c.version,
            release_channel=gcp.container.ClusterReleaseChannelArgs(channel=g.release_channel),
            deletion_protection=prod,
            resource_labels=tags,
            network=network_id,
            subnetwork=subnet_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                cluster_secondary_range_name=PODS_RANGE,
                services_secondary_range_name=SERVICES_RANGE,
            ),
            private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                enable_private_nodes=True,
                enable_private_endpoint=private,
                master_ipv4_cidr_block=g.master_ipv4_cidr,
            ),
            master_authorized_networks_config=authorized,
            master_auth=gcp.container.ClusterMasterAuthArgs(
                client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                    issue_client_certificate=False
                )
            ),
            workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                workload_pool=_workload_pool(project)
            ),
            enable_shielded_nodes=True,
            # Dataplane V2 (Cilium) enforces NetworkPolicy itself; the legacy Calico
            # `network_policy` block must stay unset with it.
            datapath_provider="ADVANCED_DATAPATH",
            logging_config=gcp.container.ClusterLoggingConfigArgs(
                enable_components=ALL_LOG_COMPONENTS if c.control_plane_logging else ["SYSTEM_COMPONENTS"]
            ),
            # The in-cluster monitoring stack comes later; Managed Prometheus stays off until then.
            monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                enable_components=["SYSTEM_COMPONENTS"],
                managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(enabled=False),
            ),
            database_encryption=(
                gcp.container.ClusterDatabaseEncryptionArgs(state="ENCRYPTED", key_name=key_name)
                if key_name is not None
                else None
            ),
            # No default node pool: GKE insists on creating one, so make it a single hardened
            # node (our SA, shielded, metadata server) that is deleted right after creation.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=gcp.container.ClusterNodeConfigArgs(
                service_account=node_sa.email,
                oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                resource_labels=tags,
                shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_integrity_monitoring=True
                ),
                workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(
                    mode="GKE_METADATA"
                ),
            ),
        ),
        opts=_child(
            parent,
            protect=prod,
            # The default pool's node_config only matters at creation; once the pool is gone,
            # editing it would otherwise plan a cluster replacement.
            ignore_changes=["nodeConfig"],
            depends_on=key_deps,
        ),
    )

    system = c.system_pool
    system_pool = gcp.container.NodePool(
        f"{name}-system",
        gcp.container.NodePoolArgs(
            # No fixed `name`: Pulumi's suffixed auto-name lets a replacement (e.g. a new machine
            # type) be created before the old pool is removed.
            cluster=cluster.id,
            location=region,
            project=project,
            # GKE counts are per zone of a regional pool.
            initial_node_count=system.min_nodes,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                min_node_count=system.min_nodes, max_node_count=system.max_nodes
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=_node_config(system_pool_size(c, "gcp"), node_sa, tags),
        ),
        # Nodes need their log/metric/image roles from first boot. initial_node_count forces a
        # replacement when changed; the autoscaler owns the size after creation.
        opts=_child(parent, depends_on=grants, ignore_changes=["initialNodeCount"]),
    )
    general = general_pool_size(c, "gcp", args.environment)
    zones = general.zone_count or GKE_DEFAULT_ZONE_COUNT
    general_pool = gcp.container.NodePool(
        f"{name}-general",
        gcp.container.NodePoolArgs(
            cluster=cluster.id,
            location=region,
            project=project,
            # initial_node_count is per zone: enough in every zone that the minimum runs at once
            # (GKE applies an autoscaling minimum only when it scales down).
            initial_node_count=-(-general.min_nodes // zones),
            # Totals over the pool's zones, as the general pool's sizes are stated.
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=general.min_nodes, total_max_node_count=general.max_nodes,
                location_policy="BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=_node_config(general, node_sa, tags),
        ),
        opts=_child(parent, depends_on=grants, ignore_changes=["initialNodeCount"]),
    )

    if c.control_plane_logging:
        _control_plane_log_bucket(parent, name, args)

    # Private clusters are reached on the private endpoint (from inside the VPC).
    endpoint = cluster.private_cluster_config.private_endpoint if private else cluster.endpoint
    endpoint = endpoint.apply(lambda e: e or "")
    ca = cluster.master_auth.cluster_ca_certificate
    kubeconfig = pulumi.Output.all(cluster.name, endpoint, ca).apply(lambda a: gke_kubeconfig(a[0], a[1], a[2]))
    return ClusterBuild(
        cluster_name=cluster.name,
        endpoint=endpoint,
        kubeconfig=kubeconfig,
        identity=WorkloadIdentity(
            kind="gke",
            workload_pool=pulumi.Output.from_input(_workload_pool(project)),
            oidc_issuer_url=pulumi.Output.from_input(
                f"https://container.googleapis.com/v1/projects/{project}/locations/{region}/clusters/{args.cluster_name}"
            ),
        ),
        created=True,
        network_id=network_id,
        subnet_ids=subnet_id.apply(lambda s: [s]),
        cluster_id=cluster.id,
        node_service_account=node_sa.email,
        cluster_resource=cluster,
        node_pools=(system_pool, general_pool),
    )


def _node_config(
    size: NodePoolSize, node_sa: gcp.serviceaccount.Account, tags: dict[str, str]
) -> gcp.container.NodePoolNodeConfigArgs:
    """Hardened nodes of a non-GPU pool: our least-privilege SA, shielded, GKE metadata server."""
    return gcp.container.NodePoolNodeConfigArgs(
        machine_type=size.instance_type,
        disk_size_gb=size.disk_size_gib,
        disk_type="pd-balanced",
        image_type="COS_CONTAINERD",
        service_account=node_sa.email,
        oauth_scopes=[CLOUD_PLATFORM_SCOPE],
        labels=dict(size.labels),
        resource_labels=tags,
        metadata={"disable-legacy-endpoints": "true"},
        shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
    )


def _network(
    parent: pulumi.Resource, name: str, args: KubernetesClusterArgs, g: GcpClusterOptions
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """A custom-mode VPC with one regional subnetwork and NAT egress, or the existing one."""
    c = args.spec.create
    assert c is not None
    existing = c.network.existing
    if existing is not None:
        return pulumi.Output.from_input(existing.network_id), pulumi.Output.from_input(existing.subnet_ids[0])
    new = c.network.new
    assert new is not None
    project, region, prefix = args.project_id, args.region, args.cluster_name

    vpc = gcp.compute.Network(
        f"{name}-network",
        gcp.compute.NetworkArgs(
            name=f"{prefix}-vpc",
            project=project,
            auto_create_subnetworks=False,  # custom mode: no subnet in every region
            routing_mode="REGIONAL",
        ),
        opts=_child(parent),
    )
    subnet = gcp.compute.Subnetwork(
        f"{name}-subnet",
        gcp.compute.SubnetworkArgs(
            name=f"{prefix}-nodes",
            project=project,
            region=region,
            network=vpc.id,
            ip_cidr_range=new.cidr,
            # Private nodes reach Google APIs (Artifact Registry, logging) without public IPs.
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=g.pods_cidr),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE, ip_cidr_range=g.services_cidr),
            ],
            log_config=gcp.compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC", flow_sampling=0.5, metadata="INCLUDE_ALL_METADATA"
            ),
        ),
        opts=_child(parent),
    )
    # Private nodes have no external IPs: Cloud NAT gives them egress for public images.
    router = gcp.compute.Router(
        f"{name}-router",
        gcp.compute.RouterArgs(name=f"{prefix}-router", project=project, region=region, network=vpc.id),
        opts=_child(parent),
    )
    gcp.compute.RouterNat(
        f"{name}-nat",
        gcp.compute.RouterNatArgs(
            name=f"{prefix}-nat",
            project=project,
            region=region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                gcp.compute.RouterNatSubnetworkArgs(name=subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"])
            ],
            log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
        ),
        opts=_child(parent),
    )
    return vpc.id, subnet.id


def _node_service_account(
    parent: pulumi.Resource, name: str, args: KubernetesClusterArgs
) -> tuple[gcp.serviceaccount.Account, list[pulumi.Resource]]:
    project = args.project_id
    sa = gcp.serviceaccount.Account(
        f"{name}-nodes",
        gcp.serviceaccount.AccountArgs(
            account_id=_node_account_id(args.cluster_name),
            project=project,
            display_name=f"GKE nodes of {args.cluster_name}",
            description="Least-privilege node identity (logs, metrics, image pulls); managed by gpufleet.",
        ),
        opts=_child(parent),
    )
    member = sa.email.apply(lambda e: f"serviceAccount:{e}")
    grants: list[pulumi.Resource] = [
        # IAMMember is additive: it never strips other members of the same role on the project.
        gcp.projects.IAMMember(
            f"{name}-nodes-{role.removeprefix('roles/').replace('.', '-')}",
            gcp.projects.IAMMemberArgs(project=project, role=role, member=member),
            opts=_child(parent),
        )
        for role in NODE_ROLES
    ]
    return sa, grants


def _secrets_key(
    parent: pulumi.Resource, name: str, args: KubernetesClusterArgs, g: GcpClusterOptions
) -> tuple[pulumi.Input[str] | None, list[pulumi.Resource]]:
    """The KMS key for application-layer secrets encryption, and what the cluster must wait for."""
    c = args.spec.create
    assert c is not None
    if not c.secrets_encryption:
        return None, []
    if g.database_encryption_key is not None:
        # A caller-owned key: granting the GKE service agent on it is the caller's job.
        return g.database_encryption_key, []

    project = args.project_id
    prod = args.environment == "prod"
    # KMS key rings and keys can never be deleted in GCP (destroy only schedules key-version
    # destruction and forgets the resource), and their names are never freed. So no fixed
    # `name`: Pulumi's suffixed auto-name lets a destroyed stack be re-created.
    ring = gcp.kms.KeyRing(
        f"{name}-keyring",
        gcp.kms.KeyRingArgs(project=project, location=args.region),  # GKE needs the key in its region
        opts=_child(parent, protect=prod),
    )
    key = gcp.kms.CryptoKey(
        f"{name}-secrets-key",
        gcp.kms.CryptoKeyArgs(
            key_ring=ring.id, purpose="ENCRYPT_DECRYPT", rotation_period=KMS_ROTATION_PERIOD, labels=dict(args.tags)
        ),
        # In prod, even a deliberate delete must not schedule destruction of the versions
        # that decrypt the cluster's secrets.
        opts=_child(parent, protect=prod, retain_on_delete=prod),
    )
    number = gcp.organizations.get_project_output(
        project_id=project, opts=pulumi.InvokeOptions(parent=parent)
    ).number
    grant = gcp.kms.CryptoKeyIAMMember(
        f"{name}-secrets-key-gke-agent",
        gcp.kms.CryptoKeyIAMMemberArgs(
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=number.apply(lambda n: f"serviceAccount:service-{n}@container-engine-robot.iam.gserviceaccount.com"),
        ),
        opts=_child(parent),
    )
    # Cluster creation fails unless the GKE service agent can already use the key.
    return key.id, [grant]


def adopt(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs) -> ClusterBuild:
    a = args.spec.adopt
    assert a is not None
    project = a.project_id or args.project_id
    if a.stack_reference is not None:
        return _adopt_stack_reference(parent, name, a.stack_reference, project, args.region)

    found = gcp.container.get_cluster_output(
        name=a.name, location=args.region, project=project, opts=pulumi.InvokeOptions(parent=parent)
    )
    endpoint = found.endpoint.apply(lambda e: e or "")
    ca = found.master_auths.apply(lambda auths: auths[0].cluster_ca_certificate if auths else "")

    def pool(configs) -> str:
        value = configs[0].workload_pool if configs else ""
        if not value:
            # Pods get cloud access only through workload identity; static keys are not an option.
            raise ValueError(
                f"adopted GKE cluster {a.name!r} in {project}/{args.region} has workload identity disabled; "
                "enable it (workload pool <project>.svc.id.goog) before adopting"
            )
        return value

    cluster_name = found.name.apply(lambda n: n or a.name)
    return ClusterBuild(
        cluster_name=cluster_name,
        endpoint=endpoint,
        kubeconfig=pulumi.Output.all(cluster_name, endpoint, ca).apply(lambda v: gke_kubeconfig(v[0], v[1], v[2])),
        identity=WorkloadIdentity(
            kind="gke",
            workload_pool=found.workload_identity_configs.apply(pool),
            oidc_issuer_url=pulumi.Output.from_input(
                f"https://container.googleapis.com/v1/projects/{project}/locations/{args.region}/clusters/{a.name}"
            ),
        ),
        created=False,
        cluster_id=found.id,
        network_id=found.network,
        subnet_ids=found.subnetwork.apply(lambda s: [s] if s else []),
    )


def _adopt_stack_reference(
    parent: pulumi.ComponentResource, name: str, stack_name: str, project: str | None, region: str
) -> ClusterBuild:
    """The cluster's own stack publishes what consumers need; a missing output fails loudly.

    GPU node pools attach by cluster id, which follows from the project, the region (gpufleet's
    GKE clusters are regional) and the published cluster name.
    """
    ref = pulumi.StackReference(f"{name}-ref", stack_name=stack_name, opts=_child(parent))

    def require(key: str) -> pulumi.Output[str]:
        def check(value):
            if value in (None, ""):
                raise ValueError(f"stack {stack_name!r} has no output {key!r}, needed to adopt its GKE cluster")
            return value

        # get_output keeps the output's secretness (the kubeconfig stays secret).
        return ref.get_output(key).apply(check)

    cluster_name = require("clusterName")
    return ClusterBuild(
        cluster_name=cluster_name,
        endpoint=require("endpoint"),
        kubeconfig=require("kubeconfig"),
        identity=WorkloadIdentity(
            kind="gke", workload_pool=require("workloadPool"), oidc_issuer_url=require("oidcIssuerUrl")
        ),
        created=False,
        cluster_id=pulumi.Output.concat("projects/", project or "", "/locations/", region, "/clusters/", cluster_name),
    )
