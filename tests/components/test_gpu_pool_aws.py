"""EKS GPU pools (managed node groups per capacity type) and their cluster add-ons, run under the
recording mocks inside a real EKS cluster program (plus the module's pure helpers)."""

from __future__ import annotations

import importlib
import inspect
import json

import kubernetes_validate
import pulumi
import pytest
import yaml

from components.gpu_pool import GpuPoolSpec
from components.gpu_pool.args import resolve_capacity
from components.gpu_pool.aws import (
    CA_PREFIX,
    NODE_TEMPLATE,
    NTH_EVENTS,
    NTH_MANAGED_TAG,
    nvidia_ami_type,
    plan_groups,
    priorities_yaml,
    tag_resource_names,
)
from components.gpu_pool.plan_types import CapacityRange, InstanceOffer, PoolCapacity, PoolPlan
from components.gpu_pool.planner import plan_capacity
from infra.plan.report import is_kubernetes_object, manifest
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers

REGION = REGIONS["aws"]
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
CLUSTER_NAME = "gpufleet-prod-r1"
KUBERNETES_VERSION = "1.33"

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG_TAG = "aws:autoscaling/tag:Tag"
RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"

G6_XL = InstanceOffer(instance_type="g6.xlarge", gpu_model="L4", gpus=1, gpu_memory_gib=24, vcpu=4, memory_gib=16)
G6_2XL = InstanceOffer(instance_type="g6.2xlarge", gpu_model="L4", gpus=1, gpu_memory_gib=24, vcpu=8, memory_gib=32)
GR6_4XL = InstanceOffer(instance_type="gr6.4xlarge", gpu_model="L4", gpus=1, gpu_memory_gib=24, vcpu=16, memory_gib=128)
P5 = InstanceOffer(instance_type="p5.48xlarge", gpu_model="H100", gpus=8, gpu_memory_gib=80, vcpu=192, memory_gib=2048)
G5G = InstanceOffer(instance_type="g5g.xlarge", gpu_model="T4", gpus=1, gpu_memory_gib=16, vcpu=4, memory_gib=8)


def make_plan(spec: dict, environment: str, instance: InstanceOffer = G6_XL, spot_extra: list[InstanceOffer] = (),
              zones: list[str] | None = None) -> PoolPlan:
    """A hand-built PoolPlan: resolve the mix, split it with the real planner (no catalog)."""
    pool = GpuPoolSpec.model_validate(spec)
    cap = resolve_capacity(pool.capacity, environment)
    cp = plan_capacity(min_nodes=cap.min_nodes, max_nodes=cap.max_nodes, reserved_nodes=cap.reserved_nodes,
                       on_demand_base_nodes=cap.on_demand_base_nodes, spot_percent=cap.spot_percent)
    return PoolPlan(
        name=pool.name, cloud="aws", region=REGION, environment=environment, spec=pool, capacity_input=cap,
        capacity=PoolCapacity(
            reserved=CapacityRange(min=cp.reserved.min, max=cp.reserved.max),
            on_demand=CapacityRange(min=cp.on_demand.min, max=cp.on_demand.max),
            spot=CapacityRange(min=cp.spot.min, max=cp.spot.max),
            floor=cp.floor,
        ),
        instance=instance, spot_instances=[instance, *spot_extra], zones=zones or list(ZONES),
        reservation=pool.capacity.reservation, spot_notice_seconds=120,
    )


# prod: 2 reserved (ODCR in us-east-1b) + 1 on-demand base + spot burst to 10.
PROD_L4 = make_plan(
    {
        "name": "l4",
        "gpu": {"model": "L4"},
        "labels": {"team": "ml"},
        "disk_size_gib": 300,
        "driver": {"eks_ami_release_version": "1.33.0-20250715"},
        "capacity": {
            "max_nodes": 10,
            "reserved_nodes": 2,
            "reservation": {"id": "cr-0123456789abcdef0", "instance_type": "g6.xlarge", "zone": "us-east-1b"},
            "on_demand_base_nodes": 1,
            "spot_percent": 100,
            "spot_instance_types": ["g6.2xlarge", "gr6.4xlarge"],
        },
    },
    "prod",
    spot_extra=[G6_2XL, GR6_4XL],
)
# staging-like: an on-demand node plus a 70/30 spot/on-demand burst; a custom taint, no surge.
MIXED = make_plan(
    {
        "name": "mix",
        "gpu": {"model": "L4"},
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
                   {"key": "gpufleet.io/serving", "value": "", "effect": "PreferNoSchedule"}],
        "update": {"max_surge": 0, "max_unavailable": 2},
        "capacity": {"max_nodes": 8, "reserved_nodes": 0, "on_demand_base_nodes": 1, "spot_percent": 70},
    },
    "prod",
    zones=["us-east-1a", "us-east-1c"],
)
# A Capacity Block for ML of two p5.48xlarge, nothing else.
BLOCK = make_plan(
    {
        "name": "h100",
        "gpu": {"model": "H100", "gpus_per_node": 8},
        "capacity": {
            "max_nodes": 2,
            "reserved_nodes": 2,
            "reservation": {"id": "cr-0fedcba9876543210", "instance_type": "p5.48xlarge", "zone": "us-east-1c",
                            "kind": "capacity_block", "ends_at": "2027-01-15T11:30:00Z"},
            "on_demand_base_nodes": 0,
            "spot_percent": 0,
        },
    },
    "prod",
    instance=P5,
)
# dev: all spot, scaling to zero.
DEV_SPOT = make_plan({"name": "t4", "gpu": {"model": "T4"}}, "dev", instance=G5G)
# on-demand only (no spot anywhere -> no interruption handling).
ON_DEMAND_ONLY = make_plan(
    {"name": "od", "gpu": {"model": "L4"}, "capacity": {"max_nodes": 3, "reserved_nodes": 0, "on_demand_base_nodes": 1,
                                                         "spot_percent": 0}},
    "prod",
)


def run_gpu(plans: list[PoolPlan], *, cluster: dict | None = None, environment: str = "prod",
            cluster_autoscaler: str = "install") -> ProgramRun:
    """A created EKS cluster ("r1"), one GpuNodePool per plan and the cluster's GPU add-ons."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.gpu_pool import GpuClusterAddons, GpuClusterAddonsArgs, GpuNodePool, GpuNodePoolArgs

    spec = cluster or {"create": {"version": KUBERNETES_VERSION, "zones": ZONES}}

    def program() -> None:
        provider = cloud_provider("r1-aws", cloud="aws", region=REGION, tags=TAGS)
        c = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(cloud="aws", region=REGION, environment=environment,
                                  spec=ClusterSpec.model_validate(spec), tags=TAGS, cluster_name=CLUSTER_NAME),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        opts = pulumi.ResourceOptions(providers=[provider, c.target.provider])
        pools = [GpuNodePool(f"r1-{p.name}", GpuNodePoolArgs(plan=p, tags=TAGS, cluster=c.build), opts=opts)
                 for p in plans]
        addons = GpuClusterAddons(
            "r1-gpu-addons",
            GpuClusterAddonsArgs(pools=pools, target=c.target, cluster=c.build, tags=TAGS, environment=environment,
                                 cluster_autoscaler=cluster_autoscaler),
            opts=opts,
        )
        pulumi.export("autoscalerPriorities", addons.autoscaler_priorities)
        for p in pools:
            pulumi.export(f"groups-{p.plan.name}", p.build.autoscaler_groups)

    return run_program(program, stack=environment)


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_gpu([PROD_L4, MIXED, BLOCK])


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_gpu([DEV_SPOT], environment="dev")


def node_groups(run: ProgramRun, pool: str) -> dict[str, object]:
    """capacity type -> recorded node group of one pool (the GpuNodePool named r1-<pool>)."""
    comp = run.one("gpufleet:gpu_pool:GpuNodePool", f"r1-{pool}")
    return {r.inputs["labels"]["gpufleet.io/capacity-type"]: r for r in run.by_type(NODE_GROUP) if r.parent == comp.urn}


def launch_template(run: ProgramRun, node_group) -> object:
    lt_id = node_group.inputs["launchTemplate"]["id"]
    (lt,) = [r for r in run.by_type(LAUNCH_TEMPLATE) if f"{r.name}-id" == lt_id]
    return lt


def asg(node_group) -> str:
    return f"<computed:eks.NodeGroup:{node_group.name}:asgName>"


def subnet(zone: str) -> str:
    return f"r1-private-{zone}-id"


def release(run: ProgramRun, role: str):
    return run.one(RELEASE, f"gpu-addons-{role}")


def policy_doc(run: ProgramRun, suffix: str) -> dict:
    return json.loads(run.one("aws:iam/rolePolicy:RolePolicy", suffix).inputs["policy"])


# --- pure helpers ----------------------------------------------------------------------------


def test_plan_groups_follow_the_capacity_plan() -> None:
    groups = {g.capacity_type: g for g in plan_groups(PROD_L4)}
    assert list(groups) == ["reserved", "on-demand", "spot"]
    assert (groups["reserved"].min_size, groups["reserved"].max_size) == (2, 2)
    assert (groups["on-demand"].min_size, groups["on-demand"].max_size) == (1, 1)
    assert (groups["spot"].min_size, groups["spot"].max_size) == (0, 7)
    assert [g.capacity_type for g in plan_groups(DEV_SPOT)] == ["spot"]
    assert [g.capacity_type for g in plan_groups(ON_DEMAND_ONLY)] == ["on-demand"]


def test_reserved_nodes_without_a_reservation_are_refused() -> None:
    broken = PROD_L4.model_copy(update={"reservation": None})
    with pytest.raises(ValueError, match="no reservation"):
        plan_groups(broken)


def test_nvidia_ami_type_per_architecture() -> None:
    assert nvidia_ami_type("g6.xlarge") == "AL2023_x86_64_NVIDIA"
    assert nvidia_ami_type("p5.48xlarge") == "AL2023_x86_64_NVIDIA"
    assert nvidia_ami_type("g5g.xlarge") == "AL2023_ARM_64_NVIDIA"


def test_priorities_yaml_orders_reserved_spot_on_demand() -> None:
    text = priorities_yaml({"on-demand": ["^b$"], "spot": ["^c$", "^a$"], "reserved": ["^r$"]})
    # Every group no entry matches (system, general-purpose, foreign) keeps the lowest priority: the
    # expander does not use an unmatched group at all.
    assert yaml.safe_load(text) == {30: ["^r$"], 20: ["^a$", "^c$"], 10: ["^b$"], 1: [".*"]}
    assert text.index("30:") < text.index("20:") < text.index("10:") < text.index("1:")
    assert yaml.safe_load(priorities_yaml({})) == {1: [".*"]}


def test_tag_resource_names_are_unique_and_stable() -> None:
    keys = [f"{NODE_TEMPLATE}/label/team.x", f"{NODE_TEMPLATE}/label/team-x", f"{NODE_TEMPLATE}/taint/nvidia.com/gpu"]
    names = tag_resource_names(keys)
    assert names[keys[0]] == "label-team-x" and names[keys[2]] == "taint-nvidia-com-gpu"
    assert len(set(names.values())) == 3 and names == tag_resource_names(keys)


# --- node groups -----------------------------------------------------------------------------


def test_one_node_group_per_capacity_type_with_planned_sizes(prod: ProgramRun, dev: ProgramRun) -> None:
    groups = node_groups(prod, "l4")
    assert set(groups) == {"reserved", "on-demand", "spot"}
    expected = {
        "reserved": ("ON_DEMAND", 2, 2),
        "on-demand": ("ON_DEMAND", 1, 1),
        "spot": ("SPOT", 0, 7),
    }
    for role, (capacity_type, lo, hi) in expected.items():
        ng = groups[role].inputs
        assert ng["capacityType"] == capacity_type, role
        assert ng["scalingConfig"] == {"minSize": lo, "maxSize": hi, "desiredSize": lo}, role
        assert ng["nodeGroupNamePrefix"] == f"l4-{role}-"
        assert ng["clusterName"] == CLUSTER_NAME
        assert ng["nodeRoleArn"] == "<computed:iam.Role:r1-node-role:arn>"
        assert "scalingConfig.desiredSize" in groups[role].options["ignoreChanges"]
    mixed = node_groups(prod, "mix")
    assert set(mixed) == {"on-demand", "spot"}  # no reservation -> no reserved group
    assert mixed["on-demand"].inputs["scalingConfig"] == {"minSize": 1, "maxSize": 3, "desiredSize": 1}
    assert mixed["spot"].inputs["scalingConfig"] == {"minSize": 0, "maxSize": 5, "desiredSize": 0}
    # dev: all spot, scaling from zero; nothing else.
    only = node_groups(dev, "t4")
    assert set(only) == {"spot"}
    assert only["spot"].inputs["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}


def test_labels_include_pool_gpu_and_capacity_type(prod: ProgramRun) -> None:
    for role, ng in node_groups(prod, "l4").items():
        assert ng.inputs["labels"] == {
            "team": "ml", "gpufleet.io/pool": "l4", "gpufleet.io/gpu": "L4", "gpufleet.io/capacity-type": role,
            # The GPU label the cluster autoscaler's AWS provider reads.
            "k8s.amazonaws.com/accelerator": "nvidia-l4",
        }
    assert {ng.inputs["labels"]["k8s.amazonaws.com/accelerator"] for ng in node_groups(prod, "h100").values()} == {
        "nvidia-h100"}


def test_taints_use_the_eks_effect_enum(prod: ProgramRun) -> None:
    for ng in node_groups(prod, "l4").values():
        assert ng.inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    for ng in node_groups(prod, "mix").values():
        assert ng.inputs["taints"] == [
            {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"},
            {"key": "gpufleet.io/serving", "effect": "PREFER_NO_SCHEDULE"},
        ]


def test_subnets_follow_the_pool_zones(prod: ProgramRun) -> None:
    groups = node_groups(prod, "l4")
    assert groups["on-demand"].inputs["subnetIds"] == [subnet(z) for z in ZONES]
    assert groups["spot"].inputs["subnetIds"] == [subnet(z) for z in ZONES]
    mixed = node_groups(prod, "mix")
    assert mixed["spot"].inputs["subnetIds"] == [subnet("us-east-1a"), subnet("us-east-1c")]


def test_reserved_group_targets_the_reservation_in_its_zone_only(prod: ProgramRun) -> None:
    reserved = node_groups(prod, "l4")["reserved"]
    assert reserved.inputs["subnetIds"] == [subnet("us-east-1b")]
    assert reserved.inputs["instanceTypes"] == ["g6.xlarge"]
    lt = launch_template(prod, reserved).inputs
    assert lt["capacityReservationSpecification"] == {
        "capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}
    }
    assert "instanceMarketOptions" not in lt
    # Reservations have no room for surge nodes: replace in place.
    assert reserved.inputs["updateConfig"]["updateStrategy"] == "MINIMAL"
    for role in ("on-demand", "spot"):
        other = launch_template(prod, node_groups(prod, "l4")[role]).inputs
        assert "capacityReservationSpecification" not in other


def test_capacity_block_group(prod: ProgramRun) -> None:
    groups = node_groups(prod, "h100")
    assert set(groups) == {"reserved"}
    ng = groups["reserved"].inputs
    assert ng["capacityType"] == "CAPACITY_BLOCK"
    assert "instanceTypes" not in ng  # the launch template carries the type
    assert ng["subnetIds"] == [subnet("us-east-1c")]
    # Starts empty: a block launches nothing before its start date; the autoscaler fills it.
    assert ng["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}
    lt = launch_template(prod, groups["reserved"]).inputs
    assert lt["instanceType"] == "p5.48xlarge"
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["capacityReservationSpecification"]["capacityReservationTarget"] == {
        "capacityReservationId": "cr-0fedcba9876543210"
    }


def test_spot_group_diversifies_over_every_type(prod: ProgramRun) -> None:
    spot = node_groups(prod, "l4")["spot"].inputs
    assert spot["instanceTypes"] == ["g6.xlarge", "g6.2xlarge", "gr6.4xlarge"]
    assert node_groups(prod, "l4")["on-demand"].inputs["instanceTypes"] == ["g6.xlarge"]


def test_gpu_ami_and_release_pin(prod: ProgramRun, dev: ProgramRun) -> None:
    for ng in node_groups(prod, "l4").values():
        assert ng.inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert ng.inputs["releaseVersion"] == "1.33.0-20250715"
    for ng in node_groups(prod, "mix").values():
        assert "releaseVersion" not in ng.inputs  # unpinned: kept until changed
    assert node_groups(dev, "t4")["spot"].inputs["amiType"] == "AL2023_ARM_64_NVIDIA"


def test_update_config(prod: ProgramRun) -> None:
    l4 = node_groups(prod, "l4")
    # Default spec: surge 1, unavailable 0 -> EKS launches replacements first; maxUnavailable >= 1.
    assert l4["spot"].inputs["updateConfig"] == {"maxUnavailable": 1, "updateStrategy": "DEFAULT"}
    mixed = node_groups(prod, "mix")
    assert mixed["spot"].inputs["updateConfig"] == {"maxUnavailable": 2, "updateStrategy": "MINIMAL"}


def test_launch_templates_are_hardened(prod: ProgramRun) -> None:
    lts = [r for r in prod.by_type(LAUNCH_TEMPLATE) if "gpufleet:cluster:KubernetesCluster" not in r.urn]  # GPU pools only
    assert len(lts) == 6  # l4: 3, mix: 2, h100: 1
    for lt in lts:
        md = lt.inputs["metadataOptions"]
        assert md == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
        (bdm,) = lt.inputs["blockDeviceMappings"]
        assert bdm["deviceName"] == "/dev/xvda"
        assert bdm["ebs"]["volumeType"] == "gp3" and bdm["ebs"]["encrypted"] == "true"
        assert "networkInterfaces" not in lt.inputs  # no public IP association
        specs = {s["resourceType"]: s["tags"] for s in lt.inputs["tagSpecifications"]}
        assert set(specs) == {"instance", "network-interface", "volume"}
        for tags in specs.values():
            assert TAGS.items() <= tags.items()
            assert tags[NTH_MANAGED_TAG] == "true"
    l4_disks = {launch_template(prod, ng).inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"]
                for ng in node_groups(prod, "l4").values()}
    assert l4_disks == {300}


def test_autoscaler_tags_on_node_groups_and_their_asgs(prod: ProgramRun) -> None:
    template = {
        f"{NODE_TEMPLATE}/label/team": "ml",
        f"{NODE_TEMPLATE}/label/gpufleet.io/pool": "l4",
        f"{NODE_TEMPLATE}/label/gpufleet.io/gpu": "L4",
        # Scale from zero: the template node carries the autoscaler's GPU label too.
        f"{NODE_TEMPLATE}/label/k8s.amazonaws.com/accelerator": "nvidia-l4",
        f"{NODE_TEMPLATE}/taint/nvidia.com/gpu": "present:NoSchedule",
        f"{NODE_TEMPLATE}/resources/nvidia.com/gpu": "1",
    }
    asg_tags = prod.by_type(ASG_TAG)
    for role, ng in node_groups(prod, "l4").items():
        tags = ng.inputs["tags"]
        assert TAGS.items() <= tags.items()
        assert tags[f"{CA_PREFIX}/enabled"] == "true"
        assert tags[f"{CA_PREFIX}/{CLUSTER_NAME}"] == "owned"
        expected = {**template, f"{NODE_TEMPLATE}/label/gpufleet.io/capacity-type": role,
                    f"{NODE_TEMPLATE}/label/eks.amazonaws.com/capacityType": ng.inputs["capacityType"]}
        assert expected.items() <= tags.items()
        # The same node-template tags land on the node group's ASG (EKS does not copy them there).
        on_asg = {t.inputs["tag"]["key"]: t for t in asg_tags if t.inputs["autoscalingGroupName"] == asg(ng)}
        assert {k: t.inputs["tag"]["value"] for k, t in on_asg.items()} == expected
        assert all(t.inputs["tag"]["propagateAtLaunch"] is False for t in on_asg.values())
    gpus = [t for t in asg_tags if t.inputs["tag"]["key"] == f"{NODE_TEMPLATE}/resources/nvidia.com/gpu"
            and t.inputs["autoscalingGroupName"] == asg(node_groups(prod, "h100")["reserved"])]
    assert [t.inputs["tag"]["value"] for t in gpus] == ["8"]


def test_pool_build_regexes_match_the_asgs(prod: ProgramRun) -> None:
    groups = node_groups(prod, "l4")
    assert prod.outputs["groups-l4"] == {role: [f"^{asg(ng)}$"] for role, ng in groups.items()}


# --- add-ons ---------------------------------------------------------------------------------


def test_priority_configmap_prefers_reserved_then_spot_then_on_demand(prod: ProgramRun) -> None:
    cm = prod.one(CONFIGMAP, "autoscaler-priority")
    assert cm.inputs["metadata"]["name"] == "cluster-autoscaler-priority-expander"
    assert cm.inputs["metadata"]["namespace"] == "kube-system"
    priorities = yaml.safe_load(cm.inputs["data"]["priorities"])
    by_role: dict[str, set[str]] = {}
    for pool in ("l4", "mix", "h100"):
        for role, ng in node_groups(prod, pool).items():
            by_role.setdefault(role, set()).add(f"^{asg(ng)}$")
    assert priorities == {30: sorted(by_role["reserved"]), 20: sorted(by_role["spot"]), 10: sorted(by_role["on-demand"]),
                          1: [".*"]}
    assert sorted(priorities, reverse=True) == [30, 20, 10, 1]
    # The expander's ConfigMap must exist before the autoscaler starts.
    assert cm.urn in release(prod, "cluster-autoscaler").options["dependsOn"]


def test_cluster_autoscaler_release_and_irsa(prod: ProgramRun) -> None:
    ca = release(prod, "cluster-autoscaler").inputs
    assert ca["chart"] == "cluster-autoscaler"
    assert ca["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    assert ca["namespace"] == "kube-system"
    values = ca["values"]
    assert values["autoDiscovery"] == {"clusterName": CLUSTER_NAME}
    assert values["awsRegion"] == REGION
    assert "priority" in values["extraArgs"]["expander"].split(",")
    assert values["extraArgs"]["expander"].split(",")[0] == "priority"
    assert values["extraArgs"]["balance-similar-node-groups"] is True
    assert values["extraArgs"]["skip-nodes-with-system-pods"] is False
    # A group below its minimum (the floor) is brought back up to it, pods pending or not.
    assert values["extraArgs"]["enforce-node-group-min-size"] is True
    sa = values["rbac"]["serviceAccount"]
    assert sa["name"] == "cluster-autoscaler"
    assert sa["annotations"] == {"eks.amazonaws.com/role-arn": "<computed:iam.Role:r1-gpu-addons-cluster-autoscaler-irsa:arn>"}

    trust = json.loads(prod.one("aws:iam/role:Role", "gpu-addons-cluster-autoscaler-irsa").inputs["assumeRolePolicy"])
    (stmt,) = trust["Statement"]
    assert stmt["Principal"] == {"Federated": "<computed:iam.OpenIdConnectProvider:r1-oidc:arn>"}
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    issuer = "<computed:eks.Cluster:r1-eks:oidcIssuer>"
    assert stmt["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    statements = {s["Sid"]: s for s in policy_doc(prod, "gpu-addons-cluster-autoscaler-irsa-policy")["Statement"]}
    scale = statements["ScaleOwnGroups"]
    assert sorted(scale["Action"]) == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert scale["Condition"]["StringEquals"] == {
        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{CLUSTER_NAME}": "owned",
        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
    }
    assert statements["ReadNodeGroups"]["Resource"] == f"arn:aws:eks:{REGION}:*:nodegroup/{CLUSTER_NAME}/*"
    assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in statements["Discover"]["Action"])


def test_termination_handler_queue_rules_and_iam(prod: ProgramRun) -> None:
    queue = prod.one("aws:sqs/queue:Queue", "nth-queue")
    assert queue.inputs["messageRetentionSeconds"] == 300
    assert queue.inputs["sqsManagedSseEnabled"] is True
    queue_arn = "<computed:sqs.Queue:r1-gpu-addons-nth-queue:arn>"
    queue_url = "https://<computed:sqs.Queue:r1-gpu-addons-nth-queue:url>"

    rules = {r.name.removeprefix("r1-gpu-addons-nth-"): r for r in prod.by_type("aws:cloudwatch/eventRule:EventRule")}
    assert set(rules) == set(NTH_EVENTS) == {"spot-interruption", "rebalance", "state-change", "scheduled-change"}
    patterns = {k: json.loads(r.inputs["eventPattern"]) for k, r in rules.items()}
    assert patterns["spot-interruption"]["detail-type"] == ["EC2 Spot Instance Interruption Warning"]
    assert patterns["rebalance"]["detail-type"] == ["EC2 Instance Rebalance Recommendation"]
    assert patterns["state-change"]["detail-type"] == ["EC2 Instance State-change Notification"]
    assert patterns["scheduled-change"] == {"source": ["aws.health"], "detail-type": ["AWS Health Event"],
                                            "detail": {"service": ["EC2"], "eventTypeCategory": ["scheduledChange"]}}
    targets = prod.by_type("aws:cloudwatch/eventTarget:EventTarget")
    assert sorted(t.inputs["rule"] for t in targets) == sorted(
        f"<computed:cloudwatch.EventRule:{r.name}:name>" for r in rules.values())
    assert {t.inputs["arn"] for t in targets} == {queue_arn}

    qp = prod.one("aws:sqs/queuePolicy:QueuePolicy")
    assert qp.inputs["queueUrl"] == queue_url
    stmts = {s["Sid"]: s for s in json.loads(qp.inputs["policy"])["Statement"]}
    assert stmts["EventBridgeRules"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert stmts["EventBridgeRules"]["Condition"]["ArnEquals"]["aws:SourceArn"] == sorted(
        f"<computed:cloudwatch.EventRule:{r.name}:arn>" for r in rules.values())
    assert stmts["Sqs"]["Principal"] == {"Service": "sqs.amazonaws.com"}
    assert all(s["Resource"] == queue_arn for s in stmts.values())

    trust = json.loads(prod.one("aws:iam/role:Role", "gpu-addons-nth-irsa").inputs["assumeRolePolicy"])
    cond = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-node-termination-handler" in cond.values()
    stmts = {s["Sid"]: s for s in policy_doc(prod, "gpu-addons-nth-irsa-policy")["Statement"]}
    assert stmts["ConsumeQueue"] == {"Sid": "ConsumeQueue", "Effect": "Allow",
                                     "Action": ["sqs:DeleteMessage", "sqs:ReceiveMessage"], "Resource": queue_arn}
    assert all(a.split(":")[1].startswith("Describe") for a in stmts["Describe"]["Action"])
    actions = [a for s in stmts.values() for a in s["Action"]]
    assert not any(a.endswith("*") for a in actions)

    nth = release(prod, "node-termination-handler").inputs
    assert nth["chart"] == "oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler"
    assert nth["namespace"] == "kube-system"
    v = nth["values"]
    assert v["enableSqsTerminationDraining"] is True
    assert v["queueURL"] == queue_url
    assert v["awsRegion"] == REGION
    assert v["checkTagBeforeDraining"] is True and v["managedTag"] == NTH_MANAGED_TAG
    assert v["serviceAccount"]["name"] == "aws-node-termination-handler"
    assert v["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "<computed:iam.Role:r1-gpu-addons-nth-irsa:arn>"}


def test_no_interruption_handling_without_spot() -> None:
    run = run_gpu([ON_DEMAND_ONLY])
    assert run.by_type("aws:sqs/queue:Queue") == []
    assert run.by_type("aws:cloudwatch/eventRule:EventRule") == []
    assert sorted(r.name for r in run.by_type(RELEASE)) == ["r1-gpu-addons-cluster-autoscaler", "r1-gpu-addons-nvidia-device-plugin"]
    priorities = yaml.safe_load(run.one(CONFIGMAP, "autoscaler-priority").inputs["data"]["priorities"])
    assert list(priorities) == [10, 1]


def test_nvidia_device_plugin(prod: ProgramRun) -> None:
    dp = release(prod, "nvidia-device-plugin").inputs
    assert dp["chart"] == "nvidia-device-plugin"
    assert dp["repositoryOpts"] == {"repo": "https://nvidia.github.io/k8s-device-plugin"}
    assert dp["namespace"] == "kube-system"
    terms = dp["values"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "gpufleet.io/gpu", "operator": "Exists"}]}]
    tolerations = dp["values"]["tolerations"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations
    assert {"key": "gpufleet.io/serving", "operator": "Exists", "effect": "PreferNoSchedule"} in tolerations


def test_helm_releases_are_pinned_and_target_the_cluster(prod: ProgramRun) -> None:
    releases = prod.by_type(RELEASE)
    assert len(releases) == 3
    k8s_provider = prod.one("pulumi:providers:kubernetes", "r1-k8s")
    for r in releases:
        version = r.inputs.get("version", "")
        assert version and version.lower() != "latest" and all(p.isdigit() for p in version.split(".")), r.name
        assert r.inputs["namespace"] == "kube-system"
        assert r.provider.startswith(k8s_provider.urn + "::"), (r.name, r.provider)
    assert {r.inputs["chart"].rsplit("/", 1)[-1]: r.inputs["version"] for r in releases} == {
        "cluster-autoscaler": "9.50.1", "aws-node-termination-handler": "0.27.1", "nvidia-device-plugin": "0.17.4",
    }


@pytest.mark.parametrize("env", ["prod", "dev"])
def test_kubernetes_objects_are_strictly_schema_valid(env: str, prod: ProgramRun, dev: ProgramRun) -> None:
    run = prod if env == "prod" else dev
    objects = [r for r in run.resources if is_kubernetes_object(r)]
    assert [r.type for r in objects] == [CONFIGMAP]
    for r in objects:
        kubernetes_validate.validate(manifest(r), KUBERNETES_VERSION, strict=True)


# --- structure -------------------------------------------------------------------------------


def test_children_parented_named_and_on_explicit_providers(prod: ProgramRun) -> None:
    assert_explicit_providers(prod)
    comps = {r.urn: r for r in prod.resources if r.type.startswith("gpufleet:gpu_pool:")}
    assert {c.name for c in comps.values()} == {"r1-l4", "r1-mix", "r1-h100", "r1-gpu-addons"}
    children = [r for r in prod.resources if r.parent in comps]
    assert children
    for r in children:
        assert r.name.startswith(comps[r.parent].name + "-"), r.name
        if r.type.startswith("aws:"):
            assert r.provider.split("::")[-2] == "r1-aws", (r.name, r.provider)
        else:
            assert r.type.startswith("kubernetes:"), r.type
            assert r.provider.split("::")[-2] == "r1-k8s", (r.name, r.provider)
    names = [r.name for r in prod.resources]
    assert len(names) == len(set(names)), "resource names must be unique"


def _accepts_tags(type_token: str) -> bool:
    module, cls = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    args_cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), f"{cls}Args")
    return "tags" in inspect.signature(args_cls.__init__).parameters


def test_cost_tags_on_every_taggable_resource(prod: ProgramRun) -> None:
    comps = {r.urn for r in prod.resources if r.type.startswith("gpufleet:gpu_pool:")}
    taggable = [r for r in prod.resources if r.parent in comps and r.type.startswith("aws:") and _accepts_tags(r.type)]
    assert {r.type for r in taggable} >= {NODE_GROUP, LAUNCH_TEMPLATE, "aws:iam/role:Role", "aws:sqs/queue:Queue",
                                          "aws:cloudwatch/eventRule:EventRule"}
    for r in taggable:
        assert TAGS.items() <= r.inputs.get("tags", {}).items(), (r.type, r.name)


# --- clusters gpufleet did not build the network or the node role for ------------------------


def test_existing_subnets_are_looked_up_by_zone() -> None:
    spec = {"create": {"version": KUBERNETES_VERSION, "zones": ZONES,
                       "network": {"existing": {"network_id": "vpc-0abc", "subnet_ids": ["subnet-1", "subnet-2"]}}}}
    run = run_gpu([MIXED], cluster=spec)
    lookups = [i for i in run.invokes if i.token == "aws:ec2/getSubnets:getSubnets"]
    assert lookups and all(i.provider.split("::")[-2] == "r1-aws" for i in lookups)
    filters = {f["name"]: f["values"] for f in lookups[0].args["filters"]}
    assert filters == {"subnet-id": ["subnet-1", "subnet-2"], "availability-zone": ["us-east-1a", "us-east-1c"]}
    spot = node_groups(run, "mix")["spot"].inputs
    assert spot["subnetIds"] == sorted(f"<computed:ec2.getSubnets:{z}:id>" for z in ("us-east-1a", "us-east-1c"))


def test_pool_zone_without_cluster_subnet_is_refused() -> None:
    stray = make_plan({"name": "x", "gpu": {"model": "L4"}, "capacity": {"max_nodes": 2, "reserved_nodes": 0,
                                                                        "on_demand_base_nodes": 1, "spot_percent": 0}},
                      "prod", zones=["us-east-1d"])
    with pytest.raises(Exception, match=r"zones \['us-east-1d'\] have no cluster subnet"):
        run_gpu([stray])


def test_no_second_autoscaler_where_the_cluster_runs_one() -> None:
    run = run_gpu([PROD_L4], cluster_autoscaler="existing")
    releases = {r.inputs["name"] for r in run.by_type(RELEASE)}
    assert "cluster-autoscaler" not in releases and "nvidia-device-plugin" in releases
    # No IRSA role and no expander ConfigMap (its name is fixed: it would collide with the running one's).
    assert not [r for r in run.by_type("aws:iam/role:Role") if "cluster-autoscaler" in r.name]
    assert not run.by_type(CONFIGMAP)
    # The priorities to merge into the running autoscaler's ConfigMap come back as an output.
    doc = yaml.safe_load(run.outputs["autoscalerPriorities"])
    assert sorted(doc, reverse=True) == [30, 20, 10, 1] and doc[1] == [".*"]


def test_cluster_autoscaler_choice_follows_adoption() -> None:
    from components.cluster.args import ClusterSpec
    from infra.platform import cluster_autoscaler_choice

    assert cluster_autoscaler_choice(ClusterSpec.model_validate({"create": {"version": "1.33"}})) == "install"
    # Safe default on an adopted cluster: it most likely runs an autoscaler already.
    assert cluster_autoscaler_choice(ClusterSpec.model_validate({"adopt": {"name": "shared"}})) == "existing"
    assert cluster_autoscaler_choice(
        ClusterSpec.model_validate({"adopt": {"name": "shared", "cluster_autoscaler": "install"}})) == "install"


def test_adopted_cluster_without_node_role_is_refused() -> None:
    with pytest.raises(Exception, match="cluster.adopt.node_role_arn"):
        run_gpu([ON_DEMAND_ONLY], cluster={"adopt": {"name": "legacy"}})
