"""GKE flavour of KubernetesCluster, run under the recording mocks (no cloud, no CLI)."""

from __future__ import annotations

import json

import pulumi
import pulumi_gcp as gcp
import pytest

from components.cluster.gcp import NODE_ROLES
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers, run_cluster

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
SA = "gcp:serviceaccount/account:Account"
PROJECT_IAM = "gcp:projects/iAMMember:IAMMember"
KEY_RING = "gcp:kms/keyRing:KeyRing"
KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_IAM = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
PROJECT = "gpufleet-test"
POOL = f"{PROJECT}.svc.id.goog"

BASE = {"create": {"version": "1.33"}}
PUBLIC = {
    "create": {
        "version": "1.33",
        "endpoint_access": "public_and_private",
        "public_access_cidrs": ["203.0.113.0/24", "198.51.100.0/24"],
    }
}
EXISTING = {
    "create": {
        "version": "1.33",
        "network": {
            "existing": {
                "network_id": "projects/shared/global/networks/corp",
                "subnet_ids": ["projects/shared/regions/us-central1/subnetworks/gke"],
            }
        },
    }
}
SR = "org/proj/stack"
SR_OUTPUTS = {
    SR: {
        "clusterName": "shared-gke",
        "endpoint": "https://10.1.2.3",
        "kubeconfig": "{\"kind\": \"Config\"}",
        "oidcIssuerUrl": "https://container.googleapis.com/v1/projects/p/locations/us-central1/clusters/shared-gke",
        "workloadPool": "p.svc.id.goog",
    }
}


def _run_details(spec: dict, environment: str = "dev") -> ProgramRun:
    """Like run_cluster, but also exports what the facade keeps internal or secret, in clear."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs

    def program() -> None:
        provider = cloud_provider("r1-gcp", cloud="gcp", region=REGIONS["gcp"], tags=TAGS, project_id=PROJECT)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="gcp",
                region=REGIONS["gcp"],
                environment=environment,
                spec=ClusterSpec.model_validate(spec),
                tags=TAGS,
                cluster_name=f"gpufleet-{environment}-r1",
                project_id=PROJECT,
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.export("kubeconfigText", pulumi.Output.unsecret(cluster.kubeconfig))
        pulumi.export("workloadPool", cluster.target.identity.workload_pool)
        pulumi.export("endpoint", cluster.endpoint)
        if cluster.build.subnet_ids is not None:
            pulumi.export("networkId", cluster.build.network_id)
            pulumi.export("subnetIds", cluster.build.subnet_ids)

    return run_program(program, stack=environment)


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_cluster("gcp", BASE, environment="dev", project_id=PROJECT)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_cluster("gcp", BASE, environment="prod", project_id=PROJECT)


# --- control plane -------------------------------------------------------------------------------


def test_private_nodes_and_private_endpoint_by_default(dev: ProgramRun) -> None:
    c = dev.one(CLUSTER).inputs
    assert c["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterIpv4CidrBlock": "172.16.0.0/28",
    }
    # Private: no external range is authorized, Google's public ranges included.
    assert c["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": False}


def test_public_endpoint_is_limited_to_authorized_networks() -> None:
    c = run_cluster("gcp", PUBLIC, project_id=PROJECT).one(CLUSTER).inputs
    assert c["privateClusterConfig"]["enablePrivateNodes"] is True
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is False
    blocks = c["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert sorted(b["cidrBlock"] for b in blocks) == ["198.51.100.0/24", "203.0.113.0/24"]
    assert c["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False


def test_cluster_security_and_platform_settings(dev: ProgramRun) -> None:
    c = dev.one(CLUSTER).inputs
    assert c["name"] == "gpufleet-dev-r1"
    assert c["location"] == "us-central1"  # regional control plane
    assert c["project"] == PROJECT
    assert c["minMasterVersion"] == "1.33"
    assert c["workloadIdentityConfig"] == {"workloadPool": POOL}
    assert c["releaseChannel"] == {"channel": "REGULAR"}
    assert c["enableShieldedNodes"] is True
    assert c["removeDefaultNodePool"] is True and c["initialNodeCount"] == 1
    assert c["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"
    assert "networkPolicy" not in c  # Dataplane V2 enforces policy; Calico must stay off
    assert c["networkingMode"] == "VPC_NATIVE"
    assert c["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert c["loggingConfig"]["enableComponents"] == [
        "SYSTEM_COMPONENTS",
        "APISERVER",
        "CONTROLLER_MANAGER",
        "SCHEDULER",
        "WORKLOADS",
    ]
    assert c["monitoringConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS"]
    # The throwaway default pool is hardened too, and never runs as the Compute default SA.
    nc = c["nodeConfig"]
    assert nc["serviceAccount"] == "<computed:serviceaccount:r1-nodes:email>"
    assert nc["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert "nodeConfig" in dev.one(CLUSTER).options["ignoreChanges"]


def test_release_channel_and_zones_follow_options() -> None:
    spec = {"create": {"version": "1.32", "zones": ["us-central1-a", "us-central1-b"], "gcp": {"release_channel": "STABLE"}}}
    c = run_cluster("gcp", spec, project_id=PROJECT).one(CLUSTER).inputs
    assert c["releaseChannel"] == {"channel": "STABLE"}
    assert c["nodeLocations"] == ["us-central1-a", "us-central1-b"]
    assert c["minMasterVersion"] == "1.32"


def test_control_plane_logging_off_keeps_system_components_only() -> None:
    spec = {"create": {"version": "1.33", "control_plane_logging": False}}
    c = run_cluster("gcp", spec, project_id=PROJECT).one(CLUSTER).inputs
    assert c["loggingConfig"]["enableComponents"] == ["SYSTEM_COMPONENTS"]


# --- secrets encryption --------------------------------------------------------------------------


def test_secrets_encrypted_with_new_rotating_key_usable_by_gke_agent(dev: ProgramRun) -> None:
    ring = dev.one(KEY_RING)
    key = dev.one(KEY)
    assert ring.inputs["location"] == "us-central1" and ring.inputs["project"] == PROJECT
    assert key.inputs["keyRing"] == "r1-keyring-id"
    assert key.inputs["rotationPeriod"] == "7776000s"
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"

    grant = dev.one(KEY_IAM)
    assert grant.inputs["cryptoKeyId"] == "r1-secrets-key-id"
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert [(i.token, i.args) for i in dev.invokes] == [("gcp:organizations/getProject:getProject", {"projectId": PROJECT})]
    number = grant.inputs["member"].removeprefix("serviceAccount:service-").split("@")[0]
    assert number.isdigit()
    assert grant.inputs["member"] == f"serviceAccount:service-{number}@container-engine-robot.iam.gserviceaccount.com"

    cluster = dev.one(CLUSTER)
    assert cluster.inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": "r1-secrets-key-id"}
    # GKE rejects the key unless its service agent can already use it.
    assert grant.urn in cluster.options["dependsOn"]


def test_given_key_is_used_and_no_kms_is_created() -> None:
    key = "projects/sec/locations/us-central1/keyRings/ring/cryptoKeys/gke"
    spec = {"create": {"version": "1.33", "gcp": {"database_encryption_key": key}}}
    run = run_cluster("gcp", spec, project_id=PROJECT)
    assert run.one(CLUSTER).inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": key}
    assert not [r for r in run.resources if r.type.startswith("gcp:kms/")]
    assert not run.invokes


def test_secrets_encryption_off() -> None:
    run = run_cluster("gcp", {"create": {"version": "1.33", "secrets_encryption": False}}, project_id=PROJECT)
    assert "databaseEncryption" not in run.one(CLUSTER).inputs
    assert not [r for r in run.resources if r.type.startswith("gcp:kms/")]


# --- nodes ---------------------------------------------------------------------------------------


def test_system_pool_is_hardened_and_sized(dev: ProgramRun) -> None:
    pool = dev.one(NODE_POOL, "-system")
    p = pool.inputs
    assert p["cluster"] == "r1-gke-id" and p["location"] == "us-central1"
    assert p["autoscaling"] == {"minNodeCount": 2, "maxNodeCount": 4}
    assert p["management"] == {"autoRepair": True, "autoUpgrade": True}
    nc = p["nodeConfig"]
    assert nc["machineType"] == "e2-standard-4"
    assert nc["diskSizeGb"] == 100 and nc["diskType"] == "pd-balanced"
    assert nc["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert nc["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert nc["labels"] == {"gpufleet.io/pool": "system"}
    # Nodes get their roles before they boot.
    grants = {r.urn for r in dev.by_type(PROJECT_IAM)}
    assert grants <= set(pool.options["dependsOn"])


def test_system_pool_options_are_honoured() -> None:
    spec = {"create": {"version": "1.33", "system_pool": {"instance_type": "n2-standard-8", "min_nodes": 1, "max_nodes": 3, "disk_size_gib": 200}}}
    p = run_cluster("gcp", spec, project_id=PROJECT).one(NODE_POOL, "-system").inputs
    assert p["nodeConfig"]["machineType"] == "n2-standard-8"
    assert p["nodeConfig"]["diskSizeGb"] == 200
    assert p["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 3}


@pytest.mark.parametrize("environment,initial,total", [("dev", 1, (1, 3)), ("prod", 1, (3, 6))])
def test_general_pool_is_untainted_sized_per_environment_and_running_at_deploy(environment, initial, total) -> None:
    run = run_cluster("gcp", BASE, environment=environment, project_id=PROJECT)
    pool = run.one(NODE_POOL, "-general")
    p = pool.inputs
    # Totals over the regional pool's zones, and enough initial nodes per zone that the minimum
    # runs right after `pulumi up` (GKE applies an autoscaling minimum only when scaling down).
    assert p["autoscaling"] == {"totalMinNodeCount": total[0], "totalMaxNodeCount": total[1],
                                "locationPolicy": "BALANCED"}
    assert p["initialNodeCount"] == initial and p["initialNodeCount"] * 3 >= total[0]
    nc = p["nodeConfig"]
    assert nc["labels"] == {"gpufleet.io/pool": "general"} and "taints" not in nc
    assert nc["machineType"] == "e2-standard-4" and "guestAccelerators" not in nc
    assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert nc["serviceAccount"] == "<computed:serviceaccount:r1-nodes:email>"


def test_node_service_account_is_dedicated_with_only_the_listed_roles(dev: ProgramRun) -> None:
    sa = dev.one(SA)
    assert sa.inputs["accountId"] == "gpufleet-dev-r1-nodes"
    email = "<computed:serviceaccount:r1-nodes:email>"
    for user in (dev.one(NODE_POOL, "-system").inputs["nodeConfig"], dev.one(CLUSTER).inputs["nodeConfig"]):
        assert user["serviceAccount"] == email
        assert not user["serviceAccount"].endswith("-compute@developer.gserviceaccount.com")
    grants = [r.inputs for r in dev.by_type(PROJECT_IAM)]
    assert all(g["member"] == f"serviceAccount:{email}" and g["project"] == PROJECT for g in grants)
    assert sorted(g["role"] for g in grants) == sorted(NODE_ROLES)
    assert set(NODE_ROLES) == {
        "roles/logging.logWriter",
        "roles/monitoring.metricWriter",
        "roles/monitoring.viewer",
        "roles/stackdriver.resourceMetadata.writer",
        "roles/artifactregistry.reader",
    }


def test_long_cluster_names_still_give_valid_account_ids() -> None:
    from components.cluster.gcp import _node_account_id

    for name in ("ab", "gpufleet-staging-r1", "a" * 39, "gpufleet-production-europe-west4-x"):
        account = _node_account_id(name)
        assert 6 <= len(account) <= 30, account
    assert _node_account_id("a" * 39) != _node_account_id("a" * 38 + "b")


# --- network -------------------------------------------------------------------------------------


def test_new_network_is_private_with_named_ranges_flow_logs_and_nat(dev: ProgramRun) -> None:
    vpc = dev.one("gcp:compute/network:Network", "-network").inputs
    assert vpc["autoCreateSubnetworks"] is False
    subnet = dev.one("gcp:compute/subnetwork:Subnetwork", "-subnet").inputs
    assert subnet["network"] == "r1-network-id"
    assert subnet["region"] == "us-central1"
    assert subnet["ipCidrRange"] == "10.0.0.0/16"
    assert subnet["privateIpGoogleAccess"] is True
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]} == {
        "pods": "10.64.0.0/14",
        "services": "10.68.0.0/20",
    }
    assert subnet["logConfig"]["aggregationInterval"] == "INTERVAL_5_SEC"
    router = dev.one("gcp:compute/router:Router").inputs
    assert router["network"] == "r1-network-id"
    nat = dev.one("gcp:compute/routerNat:RouterNat").inputs
    assert nat["router"] == router["name"]
    assert nat["subnetworks"] == [{"name": "r1-subnet-id", "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    c = dev.one(CLUSTER).inputs
    assert (c["network"], c["subnetwork"]) == ("r1-network-id", "r1-subnet-id")


def test_existing_network_creates_no_network_resources() -> None:
    run = run_cluster("gcp", EXISTING, project_id=PROJECT)
    assert not [r.type for r in run.resources if r.type.startswith("gcp:compute/")]
    c = run.one(CLUSTER).inputs
    assert c["network"] == "projects/shared/global/networks/corp"
    assert c["subnetwork"] == "projects/shared/regions/us-central1/subnetworks/gke"
    details = _run_details(EXISTING)
    assert details.outputs["networkId"] == "projects/shared/global/networks/corp"
    assert details.outputs["subnetIds"] == ["projects/shared/regions/us-central1/subnetworks/gke"]


# --- cross-cutting -------------------------------------------------------------------------------


def _args_class(token: str):
    """gcp:compute/network:Network -> pulumi_gcp.compute.NetworkArgs."""
    module = token.split(":")[1].split("/")[0]
    return getattr(getattr(gcp, module), token.split(":")[2] + "Args")


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_labels_on_every_resource_that_accepts_them(environment: str) -> None:
    import inspect

    run = run_cluster("gcp", BASE, environment=environment, project_id=PROJECT)
    labelled = []
    for r in run.resources:
        if not r.type.startswith("gcp:"):
            continue
        params = inspect.signature(_args_class(r.type).__init__).parameters
        for field, wire in (("labels", "labels"), ("resource_labels", "resourceLabels")):
            if field in params:
                assert r.inputs.get(wire) == TAGS, f"{r.type} {r.name} lacks {wire}"
                labelled.append(r.type)
    # Node VMs carry the cost labels too (GCE labels on the instances of each pool).
    assert run.one(NODE_POOL, "-system").inputs["nodeConfig"]["resourceLabels"] == TAGS
    assert run.one(CLUSTER).inputs["nodeConfig"]["resourceLabels"] == TAGS
    assert sorted(set(labelled)) == sorted({CLUSTER, KEY})


def test_every_child_is_parented_and_uses_the_explicit_provider(dev: ProgramRun) -> None:
    assert_explicit_providers(dev)
    component = dev.one("gpufleet:cluster:KubernetesCluster")
    gcp_children = [r for r in dev.resources if r.type.startswith("gcp:")]
    assert gcp_children and all(r.parent == component.urn for r in gcp_children)
    assert all(r.provider.split("::")[-2] == "r1-gcp" for r in gcp_children)
    assert all(r.name.startswith("r1-") for r in gcp_children)
    # Invokes resolve the same explicit provider through their parent.
    assert dev.invokes and all("r1-gcp" in i.provider for i in dev.invokes)


def test_prod_is_protected_and_dev_is_not(dev: ProgramRun, prod: ProgramRun) -> None:
    assert prod.one(CLUSTER).inputs["deletionProtection"] is True
    assert prod.one(CLUSTER).options["protect"] is True
    assert prod.one(KEY_RING).options["protect"] is True
    assert prod.one(KEY).options["protect"] is True
    assert prod.one(KEY).options["retainOnDelete"] is True

    assert dev.one(CLUSTER).inputs["deletionProtection"] is False
    for typ in (CLUSTER, KEY_RING, KEY):
        assert dev.one(typ).options["protect"] is False
    assert dev.one(KEY).options["retainOnDelete"] is False


def test_child_inventory_and_names(dev: ProgramRun) -> None:
    # Registration order depends on when inputs resolve; the set of (type, name) does not.
    assert sorted((r.type, r.name) for r in dev.resources if r.type.startswith("gcp:")) == sorted(
        [
            ("gcp:compute/network:Network", "r1-network"),
            ("gcp:logging/projectBucketConfig:ProjectBucketConfig", "r1-cp-logs"),
            ("gcp:logging/projectSink:ProjectSink", "r1-cp-logs-sink"),
            ("gcp:compute/subnetwork:Subnetwork", "r1-subnet"),
            ("gcp:compute/router:Router", "r1-router"),
            ("gcp:compute/routerNat:RouterNat", "r1-nat"),
            (SA, "r1-nodes"),
            *[(PROJECT_IAM, f"r1-nodes-{role.removeprefix('roles/').replace('.', '-')}") for role in NODE_ROLES],
            (KEY_RING, "r1-keyring"),
            (KEY, "r1-secrets-key"),
            (KEY_IAM, "r1-secrets-key-gke-agent"),
            (CLUSTER, "r1-gke"),
            (NODE_POOL, "r1-system"),
            (NODE_POOL, "r1-general"),
        ]
    )


# --- outputs -------------------------------------------------------------------------------------


def test_outputs_private_endpoint_kubeconfig_and_identity(dev: ProgramRun) -> None:
    assert "kubeconfig" in dev.secret_outputs
    assert dev.outputs["clusterName"] == "gpufleet-dev-r1"
    assert dev.outputs["endpoint"] == "<computed:gke:r1-gke:privateEndpoint>"
    assert dev.outputs["oidcIssuerUrl"] == (
        "https://container.googleapis.com/v1/projects/gpufleet-test/locations/us-central1/clusters/gpufleet-dev-r1"
    )
    details = _run_details(BASE)
    assert details.outputs["workloadPool"] == POOL
    kubeconfig = json.loads(details.outputs["kubeconfigText"])
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": "https://<computed:gke:r1-gke:privateEndpoint>",
        "certificate-authority-data": "<computed:gke:r1-gke:clusterCaCertificate>",
    }
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert details.outputs["subnetIds"] == ["r1-subnet-id"]


def test_public_cluster_kubeconfig_uses_public_endpoint() -> None:
    kubeconfig = json.loads(_run_details(PUBLIC).outputs["kubeconfigText"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://<computed:gke:r1-gke:endpoint>"


# --- adopt ---------------------------------------------------------------------------------------


def test_adopt_by_name_registers_no_gcp_resources() -> None:
    spec = {"adopt": {"name": "legacy", "project_id": "other-project"}}
    run = run_cluster("gcp", spec, project_id=PROJECT)
    assert not [r for r in run.resources if r.type.startswith("gcp:")]
    assert [(i.token, i.args) for i in run.invokes] == [
        (
            "gcp:container/getCluster:getCluster",
            {"name": "legacy", "location": "us-central1", "project": "other-project"},
        )
    ]
    assert "r1-gcp" in run.invokes[0].provider
    assert "kubeconfig" in run.secret_outputs
    assert run.outputs["clusterName"] == "legacy"
    assert run.outputs["oidcIssuerUrl"].endswith("/projects/other-project/locations/us-central1/clusters/legacy")

    details = _run_details({"adopt": {"name": "legacy"}})
    kubeconfig = json.loads(details.outputs["kubeconfigText"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert kubeconfig["clusters"][0]["cluster"] == {
        "server": "https://<computed:gke:legacy:endpoint>",
        "certificate-authority-data": "<computed:gke:legacy:clusterCaCertificate>",
    }
    assert details.outputs["workloadPool"] == "<computed:gke:legacy:workloadPool>"


def test_adopt_by_stack_reference_registers_only_the_reference() -> None:
    run = run_cluster("gcp", {"adopt": {"stack_reference": SR}}, project_id=PROJECT, stack_reference_outputs=SR_OUTPUTS)
    component = run.one("gpufleet:cluster:KubernetesCluster")
    children = sorted(r.type for r in run.children_of(component.urn))
    assert children == ["pulumi:providers:kubernetes", "pulumi:pulumi:StackReference"]
    assert run.one("pulumi:pulumi:StackReference").inputs == {"name": SR}
    assert not run.invokes
    assert run.outputs["clusterName"] == "shared-gke"
    assert run.outputs["endpoint"] == "https://10.1.2.3"
    assert run.outputs["oidcIssuerUrl"] == SR_OUTPUTS[SR]["oidcIssuerUrl"]
    assert "kubeconfig" in run.secret_outputs


def test_adopt_by_stack_reference_fails_loudly_on_missing_outputs() -> None:
    incomplete = {SR: {k: v for k, v in SR_OUTPUTS[SR].items() if k != "workloadPool"}}
    with pytest.raises(Exception, match="has no output 'workloadPool'"):
        _run_stack_ref_pool(incomplete)
    # A failed run must not poison the next one.
    assert _run_stack_ref_pool(SR_OUTPUTS).outputs["workloadPool"] == SR_OUTPUTS[SR]["workloadPool"]


def _run_stack_ref_pool(outputs: dict) -> ProgramRun:
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs

    def program() -> None:
        provider = cloud_provider("r1-gcp", cloud="gcp", region=REGIONS["gcp"], tags=TAGS, project_id=PROJECT)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="gcp",
                region=REGIONS["gcp"],
                environment="dev",
                spec=ClusterSpec.model_validate({"adopt": {"stack_reference": SR}}),
                cluster_name="gpufleet-dev-r1",
                project_id=PROJECT,
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        pulumi.export("workloadPool", cluster.target.identity.workload_pool)

    return run_program(program, stack="dev", stack_reference_outputs=outputs)


def test_control_plane_logs_kept_for_the_configured_retention(dev: ProgramRun, prod: ProgramRun) -> None:
    for run, days in ((dev, 30), (prod, 365)):
        bucket = run.one("gcp:logging/projectBucketConfig:ProjectBucketConfig")
        assert bucket.inputs["retentionDays"] == days and bucket.inputs["location"] == "global"
        sink = run.one("gcp:logging/projectSink:ProjectSink")
        assert sink.inputs["destination"].endswith(f"/buckets/{bucket.inputs['bucketId']}")
        assert 'resource.type="k8s_control_plane_component"' in sink.inputs["filter"]
        assert f'cluster_name="{run.one(CLUSTER).inputs["name"]}"' in sink.inputs["filter"]
    assert prod.one("gcp:logging/projectBucketConfig:ProjectBucketConfig").options["retainOnDelete"] is True
