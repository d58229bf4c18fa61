"""EKS flavour of KubernetesCluster, run under the recording mocks (plus its pure helpers)."""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import json

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.cluster.aws import MAX_ZONES, ami_type, partition, plan_subnets
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers, run_cluster

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
ADMINS = ["arn:aws:iam::123456789012:role/platform-admin", "arn:aws:iam::210987654321:role/ops/BreakGlass"]
CLUSTER = "aws:eks/cluster:Cluster"
KEY = "aws:kms/key:Key"


def create_spec(**overrides) -> dict:
    spec = {"version": "1.33", "zones": ZONES}
    spec.update(overrides)
    return {"create": spec}


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_cluster("aws", create_spec(aws={"admin_role_arns": ADMINS}))


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_cluster("aws", create_spec(), environment="prod")


def aws_resources(run: ProgramRun):
    return [r for r in run.resources if r.type.startswith("aws:")]


def run_with_build(spec: dict, **kw) -> ProgramRun:
    """Like run_cluster, but also exports the ClusterBuild ids and the plaintext kubeconfig."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs

    def program() -> None:
        provider = cloud_provider("r1-aws", cloud="aws", region=REGIONS["aws"], tags=TAGS)
        c = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="aws",
                region=REGIONS["aws"],
                environment="dev",
                spec=ClusterSpec.model_validate(spec),
                tags=TAGS,
                cluster_name="gpufleet-dev-r1",
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        b = c.build
        pulumi.export("kubeconfigPlain", pulumi.Output.unsecret(c.kubeconfig))
        pulumi.export("oidcProviderArn", b.identity.oidc_provider_arn)
        pulumi.export("networkId", b.network_id)
        pulumi.export("subnetIds", b.subnet_ids)
        pulumi.export("nodeRoleArn", b.node_role_arn)
        pulumi.export("created", b.created)

    return run_program(program, stack="dev", **kw)


# --- pure helpers ----------------------------------------------------------------------------


@given(
    prefix=st.integers(16, 20),
    base=st.integers(0, 2**32 - 1),
    n=st.integers(1, MAX_ZONES),
)
def test_subnet_plan_disjoint_and_inside_vpc(prefix: int, base: int, n: int) -> None:
    vpc = ipaddress.ip_network((base >> (32 - prefix) << (32 - prefix), prefix))
    zones = [f"z{i}" for i in range(n)]
    plan = plan_subnets(str(vpc), zones)
    assert [p.zone for p in plan] == zones
    nets = [ipaddress.ip_network(c) for p in plan for c in (p.private_cidr, p.public_cidr)]
    assert all(s.subnet_of(vpc) for s in nets)
    assert all(s.prefixlen <= 28 for s in nets)  # AWS's smallest subnet
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    # Appending a zone never moves existing subnets (that would replace them and their nodes).
    if n < MAX_ZONES:
        assert plan_subnets(str(vpc), zones + ["new"])[:n] == plan


def test_subnet_plan_sizes_for_default_vpc() -> None:
    plan = plan_subnets("10.0.0.0/16", ZONES)
    assert [p.private_cidr for p in plan] == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert [p.public_cidr for p in plan] == ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"]
    with pytest.raises(ValueError):
        plan_subnets("10.0.0.0/16", [f"z{i}" for i in range(MAX_ZONES + 1)])


def test_partition_and_ami_type() -> None:
    assert partition("us-east-1") == "aws"
    assert partition("cn-north-1") == "aws-cn"
    assert partition("us-gov-west-1") == "aws-us-gov"
    assert ami_type("m6i.large") == "AL2023_x86_64_STANDARD"
    assert ami_type("g5.xlarge") == "AL2023_x86_64_STANDARD"
    assert ami_type("m7g.large") == "AL2023_ARM_64_STANDARD"
    assert ami_type("c6gn.xlarge") == "AL2023_ARM_64_STANDARD"


# --- create ----------------------------------------------------------------------------------


def test_every_child_is_parented_and_uses_the_explicit_provider(dev: ProgramRun) -> None:
    assert_explicit_providers(dev)
    comp = dev.one("gpufleet:cluster:KubernetesCluster")
    for r in aws_resources(dev):
        assert r.parent == comp.urn, r.name
        assert r.name.startswith("r1-"), r.name
        assert r.provider.split("::")[-2] == "r1-aws", (r.name, r.provider)


def test_private_endpoint_by_default(dev: ProgramRun) -> None:
    vpc = dev.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_public_and_private_sets_public_cidrs() -> None:
    run = run_cluster("aws", create_spec(endpoint_access="public_and_private", public_access_cidrs=["203.0.113.0/24"]))
    vpc = run.one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_cluster_core_settings(dev: ProgramRun) -> None:
    inputs = dev.one(CLUSTER).inputs
    assert inputs["name"] == "gpufleet-dev-r1"
    assert inputs["version"] == "1.33"
    assert inputs["roleArn"] == "<computed:iam.Role:r1-cluster-role:arn>"
    assert sorted(inputs["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    )
    # Admin roles listed: only they are admins, the deploying identity gets no implicit entry.
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}


def test_without_admin_roles_the_deployer_gets_an_access_entry(prod: ProgramRun) -> None:
    access = prod.one(CLUSTER).inputs["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}
    assert prod.by_type("aws:eks/accessEntry:AccessEntry") == []


def test_secrets_encrypted_with_rotating_customer_key(dev: ProgramRun) -> None:
    key = dev.one(KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    enc = dev.one(CLUSTER).inputs["encryptionConfig"]
    assert enc == {"resources": ["secrets"], "provider": {"keyArn": "<computed:kms.Key:r1-secrets-key:arn>"}}
    alias = dev.one("aws:kms/alias:Alias")
    assert alias.inputs["targetKeyId"] == "<computed:kms.Key:r1-secrets-key:keyId>"
    # The cluster role may use exactly this key.
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", "cluster-role-kms").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == "<computed:kms.Key:r1-secrets-key:arn>"


def test_given_kms_key_is_used_and_none_created() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-1111-2222-333344445555"
    run = run_cluster("aws", create_spec(aws={"kms_key_arn": arn}))
    assert run.by_type(KEY) == [] and run.by_type("aws:kms/alias:Alias") == []
    assert run.one(CLUSTER).inputs["encryptionConfig"]["provider"]["keyArn"] == arn


def test_no_encryption_or_logging_when_disabled() -> None:
    run = run_cluster("aws", create_spec(secrets_encryption=False, control_plane_logging=False))
    inputs = run.one(CLUSTER).inputs
    assert "encryptionConfig" not in inputs
    assert "enabledClusterLogTypes" not in inputs
    assert run.by_type(KEY) == [] and run.by_type("aws:cloudwatch/logGroup:LogGroup") == []


def test_log_group_precreated_with_retention(dev: ProgramRun, prod: ProgramRun) -> None:
    for run, days in ((dev, 30), (prod, 365)):
        logs = run.one("aws:cloudwatch/logGroup:LogGroup")
        cluster_name = run.one(CLUSTER).inputs["name"]
        assert logs.inputs["name"] == f"/aws/eks/{cluster_name}/cluster"
        assert logs.inputs["retentionInDays"] == days
        assert logs.urn in run.one(CLUSTER).options["dependsOn"]
    assert prod.one("aws:cloudwatch/logGroup:LogGroup").options["retainOnDelete"] is True


def test_iam_roles_trust_and_policies(dev: ProgramRun) -> None:
    def trust(role):
        return json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]

    assert trust(dev.one("aws:iam/role:Role", "cluster-role")) == "eks.amazonaws.com"
    assert trust(dev.one("aws:iam/role:Role", "node-role")) == "ec2.amazonaws.com"
    attached = {
        (a.inputs["role"].split(":")[2], a.inputs["policyArn"])
        for a in dev.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    p = "arn:aws:iam::aws:policy/"
    assert attached == {
        ("r1-cluster-role", p + "AmazonEKSClusterPolicy"),
        ("r1-node-role", p + "AmazonEKSWorkerNodePolicy"),
        ("r1-node-role", p + "AmazonEKS_CNI_Policy"),
        ("r1-node-role", p + "AmazonEC2ContainerRegistryReadOnly"),
    }
    # EKS must not start (or finish deleting) before the role can do its job.
    deps = dev.one(CLUSTER).options["dependsOn"]
    cluster_attachments = [
        a for a in dev.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "cluster-role" in a.name
    ]
    assert cluster_attachments and all(a.urn in deps for a in cluster_attachments)


def test_oidc_provider_for_irsa(dev: ProgramRun) -> None:
    oidc = dev.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"] == "https://<computed:eks.Cluster:r1-eks:oidcIssuer>"
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert dev.outputs["oidcIssuerUrl"] == oidc.inputs["url"]


def test_admin_access_entries(dev: ProgramRun) -> None:
    entries = dev.by_type("aws:eks/accessEntry:AccessEntry")
    assert sorted(e.inputs["principalArn"] for e in entries) == sorted(ADMINS)
    assert all(e.inputs["clusterName"] == "gpufleet-dev-r1" for e in entries)
    assocs = dev.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert sorted(a.inputs["principalArn"] for a in assocs) == sorted(ADMINS)
    for a in assocs:
        assert a.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert a.inputs["accessScope"] == {"type": "cluster"}
    assert {e.name for e in entries} == {"r1-admin-123456789012-platform-admin", "r1-admin-210987654321-BreakGlass"}


def test_no_admins_by_default(prod: ProgramRun) -> None:
    assert prod.by_type("aws:eks/accessEntry:AccessEntry") == []


def test_system_node_group_hardened(dev: ProgramRun) -> None:
    lt = dev.one("aws:ec2/launchTemplate:LaunchTemplate", "-system-lt")
    md = lt.inputs["metadataOptions"]
    assert md["httpTokens"] == "required" and md["httpPutResponseHopLimit"] == 1
    (bdm,) = lt.inputs["blockDeviceMappings"]
    assert bdm["ebs"] == {"volumeSize": 100, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"}
    assert "networkInterfaces" not in lt.inputs  # no public IP association

    ng = dev.one("aws:eks/nodeGroup:NodeGroup", "-system")
    private_ids = sorted(f"{s.name}-id" for s in dev.by_type("aws:ec2/subnet:Subnet") if "-private-" in s.name)
    assert sorted(ng.inputs["subnetIds"]) == private_ids and len(private_ids) == 3
    assert ng.inputs["capacityType"] == "ON_DEMAND"
    assert ng.inputs["instanceTypes"] == ["m6i.large"]
    assert ng.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert ng.inputs["labels"] == {"gpufleet.io/pool": "system"}
    assert ng.inputs["launchTemplate"] == {"id": f"{lt.name}-id", "version": "1"}
    assert ng.inputs["nodeRoleArn"] == "<computed:iam.Role:r1-node-role:arn>"
    assert "scalingConfig.desiredSize" in ng.options["ignoreChanges"]
    # The cluster's control plane ENIs also go to private subnets only.
    assert sorted(dev.one(CLUSTER).inputs["vpcConfig"]["subnetIds"]) == private_ids


def test_system_pool_overrides() -> None:
    run = run_cluster(
        "aws",
        create_spec(system_pool={"instance_type": "m7g.xlarge", "min_nodes": 3, "max_nodes": 6, "disk_size_gib": 200}),
    )
    ng = run.one("aws:eks/nodeGroup:NodeGroup", "-system").inputs
    assert ng["instanceTypes"] == ["m7g.xlarge"] and ng["amiType"] == "AL2023_ARM_64_STANDARD"
    assert ng["scalingConfig"] == {"minSize": 3, "maxSize": 6, "desiredSize": 3}
    lt = run.one("aws:ec2/launchTemplate:LaunchTemplate", "-system-lt").inputs
    assert lt["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 200


def test_general_node_group_untainted_hardened_and_sized_per_environment(dev: ProgramRun, prod: ProgramRun) -> None:
    for run, scaling in ((dev, {"minSize": 1, "maxSize": 3, "desiredSize": 1}),
                         (prod, {"minSize": 3, "maxSize": 6, "desiredSize": 3})):
        ng = run.one("aws:eks/nodeGroup:NodeGroup", "-general")
        assert ng.inputs["scalingConfig"] == scaling
        assert ng.inputs["labels"] == {"gpufleet.io/pool": "general"} and "taints" not in ng.inputs
        assert ng.inputs["capacityType"] == "ON_DEMAND" and ng.inputs["instanceTypes"] == ["m6i.xlarge"]
        lt = run.one("aws:ec2/launchTemplate:LaunchTemplate", "-general-lt")
        assert ng.inputs["launchTemplate"]["id"] == f"{lt.name}-id"
        # Same IMDS rule as the system nodes: pods cannot borrow the node role.
        assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert lt.inputs["metadataOptions"]["httpTokens"] == "required"


def test_general_pool_overrides() -> None:
    run = run_cluster("aws", create_spec(general_pool={"instance_type": "m7i.2xlarge", "min_nodes": 5}))
    ng = run.one("aws:eks/nodeGroup:NodeGroup", "-general").inputs
    # max_nodes follows a min_nodes above the environment's default maximum.
    assert ng["instanceTypes"] == ["m7i.2xlarge"] and ng["scalingConfig"]["minSize"] == 5
    assert ng["scalingConfig"]["maxSize"] == 5


def _accepts_tags(type_token: str) -> bool:
    """The SDK's own *Args signature decides whether a type takes tags (aws:ec2/vpc:Vpc -> ec2.VpcArgs)."""
    module, cls = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    args_cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), f"{cls}Args")
    return "tags" in inspect.signature(args_cls.__init__).parameters


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_cost_tags_on_every_taggable_resource(env: str, dev: ProgramRun, prod: ProgramRun) -> None:
    run = dev if env == "dev" else prod
    taggable = [r for r in aws_resources(run) if _accepts_tags(r.type)]
    assert len(taggable) > 10
    for r in taggable:
        tags = r.inputs.get("tags", {})
        assert {k: tags.get(k) for k in TAGS} == TAGS, f"{r.type} {r.name} lacks cost tags: {tags}"
    # Instances and volumes EKS launches do not get provider default tags; the template tags them.
    specs = run.one("aws:ec2/launchTemplate:LaunchTemplate", "-system-lt").inputs["tagSpecifications"]
    assert {s["resourceType"] for s in specs} >= {"instance", "volume"}
    assert all(TAGS.items() <= s["tags"].items() for s in specs)


def test_subnets_tagged_for_load_balancers(dev: ProgramRun) -> None:
    subnets = dev.by_type("aws:ec2/subnet:Subnet")
    assert len(subnets) == 6
    for s in subnets:
        role = "kubernetes.io/role/internal-elb" if "-private-" in s.name else "kubernetes.io/role/elb"
        assert s.inputs["tags"][role] == "1"
        assert s.inputs.get("mapPublicIpOnLaunch", False) is False
        assert ipaddress.ip_network(s.inputs["cidrBlock"]).subnet_of(ipaddress.ip_network("10.0.0.0/16"))
    vpc = dev.one("aws:ec2/vpc:Vpc").inputs
    assert vpc["enableDnsSupport"] is True and vpc["enableDnsHostnames"] is True


def test_nat_per_zone_in_prod_one_in_dev(dev: ProgramRun, prod: ProgramRun) -> None:
    def private_routes(run):
        return {r.name: r.inputs["natGatewayId"] for r in run.by_type("aws:ec2/route:Route") if "private" in r.name}

    assert [n.name for n in dev.by_type("aws:ec2/natGateway:NatGateway")] == ["r1-nat-us-east-1a"]
    assert len(dev.by_type("aws:ec2/eip:Eip")) == 1
    assert set(private_routes(dev).values()) == {"r1-nat-us-east-1a-id"}

    assert sorted(n.name for n in prod.by_type("aws:ec2/natGateway:NatGateway")) == [f"r1-nat-{z}" for z in ZONES]
    assert len(prod.by_type("aws:ec2/eip:Eip")) == 3
    assert private_routes(prod) == {f"r1-private-default-{z}": f"r1-nat-{z}-id" for z in ZONES}
    # Each NAT sits in its own zone's public subnet.
    for n in prod.by_type("aws:ec2/natGateway:NatGateway"):
        zone = n.name.removeprefix("r1-nat-")
        assert n.inputs["subnetId"] == f"r1-public-{zone}-id"


def test_prod_protects_cluster_and_key_dev_does_not(dev: ProgramRun, prod: ProgramRun) -> None:
    assert prod.one(CLUSTER).options["protect"] is True
    assert prod.one(KEY).options["protect"] is True
    assert prod.one(KEY).options["retainOnDelete"] is True
    assert dev.one(CLUSTER).options["protect"] is False
    assert dev.one(KEY).options["protect"] is False
    assert dev.one(KEY).options["retainOnDelete"] is False


def test_existing_network_creates_no_network() -> None:
    spec = create_spec(network={"existing": {"network_id": "vpc-0abc", "subnet_ids": ["subnet-2", "subnet-1"]}})
    run = run_with_build(spec)
    assert [r for r in run.resources if r.type.startswith("aws:ec2/") and "launchTemplate" not in r.type] == []
    assert run.one(CLUSTER).inputs["vpcConfig"]["subnetIds"] == ["subnet-2", "subnet-1"]
    assert run.one("aws:eks/nodeGroup:NodeGroup", "-system").inputs["subnetIds"] == ["subnet-2", "subnet-1"]
    assert run.outputs["networkId"] == "vpc-0abc"
    assert run.outputs["subnetIds"] == ["subnet-2", "subnet-1"]


def test_created_build_and_kubeconfig() -> None:
    run = run_with_build(create_spec())
    assert run.outputs["created"] is True
    assert run.outputs["networkId"] == "r1-vpc-id"
    assert run.outputs["subnetIds"] == [f"r1-private-{z}-id" for z in ZONES]
    assert run.outputs["nodeRoleArn"] == "<computed:iam.Role:r1-node-role:arn>"
    assert run.outputs["oidcProviderArn"] == "<computed:iam.OpenIdConnectProvider:r1-oidc:arn>"
    kc = json.loads(run.outputs["kubeconfigPlain"])
    assert kc["clusters"][0]["cluster"] == {
        "server": "<computed:eks.Cluster:r1-eks:endpoint>",
        "certificate-authority-data": "<computed:eks.Cluster:r1-eks:certificateAuthority.data>",
    }
    assert kc["users"][0]["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "gpufleet-dev-r1"]


def test_create_kubeconfig_is_secret(dev: ProgramRun) -> None:
    assert "kubeconfig" in dev.secret_outputs


# --- adopt -----------------------------------------------------------------------------------


def test_adopt_by_name_registers_no_aws_resources() -> None:
    run = run_cluster("aws", {"adopt": {"name": "legacy"}})
    assert aws_resources(run) == []
    assert "kubeconfig" in run.secret_outputs
    assert run.outputs["clusterName"] == "legacy"
    assert run.outputs["endpoint"] == "<computed:eks.getCluster:legacy:endpoint>"
    tokens = {i.token: i for i in run.invokes}
    assert tokens["aws:eks/getCluster:getCluster"].args["name"] == "legacy"
    oidc = tokens["aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider"]
    assert oidc.args["url"] == run.outputs["oidcIssuerUrl"]
    # Invokes go through the region's explicit provider too.
    assert all(i.provider.split("::")[-2] == "r1-aws" for i in run.invokes)


def test_adopt_by_name_kubeconfig_uses_exec_token() -> None:
    run = run_with_build({"adopt": {"name": "legacy"}})
    assert run.outputs["created"] is False
    assert run.outputs["oidcProviderArn"].startswith("<computed:iam.getOpenIdConnectProvider:")
    assert run.outputs["networkId"] == "<computed:eks.getCluster:legacy:vpcConfig.vpcId>"
    kc = json.loads(run.outputs["kubeconfigPlain"])
    user = kc["users"][0]["user"]
    assert "token" not in user and "client-key-data" not in user
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"] == [
        "eks", "get-token", "--cluster-name", "legacy", "--region", "us-east-1", "--output", "json"
    ]
    assert kc["clusters"][0]["cluster"]["certificate-authority-data"].startswith("<computed:eks.getCluster:legacy:")


REF = "org/proj/stack"
REF_OUTPUTS = {
    "clusterName": "shared-eks",
    "endpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
    "kubeconfig": '{"apiVersion": "v1", "clusters": []}',
    "oidcIssuerUrl": "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
    "oidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
}


def test_adopt_by_stack_reference_registers_only_the_reference() -> None:
    run = run_cluster("aws", {"adopt": {"stack_reference": REF}}, stack_reference_outputs={REF: REF_OUTPUTS})
    assert [r.type for r in run.resources if r.custom and not r.type.startswith("pulumi:providers:")] == [
        "pulumi:pulumi:StackReference"
    ]
    assert run.one("pulumi:pulumi:StackReference").inputs["name"] == REF
    assert run.invokes == []
    assert run.outputs["clusterName"] == "shared-eks"
    assert run.outputs["endpoint"] == REF_OUTPUTS["endpoint"]
    assert run.outputs["oidcIssuerUrl"] == REF_OUTPUTS["oidcIssuerUrl"]
    assert "kubeconfig" in run.secret_outputs


def test_adopt_by_stack_reference_values_flow() -> None:
    run = run_with_build({"adopt": {"stack_reference": REF}}, stack_reference_outputs={REF: REF_OUTPUTS})
    assert run.outputs["kubeconfigPlain"] == REF_OUTPUTS["kubeconfig"]
    assert run.outputs["oidcProviderArn"] == REF_OUTPUTS["oidcProviderArn"]
    assert run.outputs["created"] is False


def test_adopt_by_stack_reference_endpoint_falls_back_to_kubeconfig() -> None:
    outs = dict(REF_OUTPUTS, kubeconfig="apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'https://k.example'}\n")
    del outs["endpoint"]
    run = run_cluster("aws", {"adopt": {"stack_reference": REF}}, stack_reference_outputs={REF: outs})
    assert run.outputs["endpoint"] == "https://k.example"


def test_adopt_by_stack_reference_without_kubeconfig_fails() -> None:
    outs = {k: v for k, v in REF_OUTPUTS.items() if k != "kubeconfig"}
    with pytest.raises(Exception, match="has no output 'kubeconfig'"):
        run_cluster("aws", {"adopt": {"stack_reference": REF}}, stack_reference_outputs={REF: outs})


def test_the_vpc_cni_enforces_network_policies(dev: ProgramRun) -> None:
    # Without the VPC CNI's network policy agent EKS ignores every NetworkPolicy gpufleet writes.
    (addon,) = [r for r in dev.resources if r.type == "aws:eks/addon:Addon"]
    assert addon.inputs["addonName"] == "vpc-cni"
    assert json.loads(addon.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
