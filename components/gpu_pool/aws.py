"""EKS flavour of the GPU pools: managed node groups per capacity type, and the cluster add-ons
that make the reserved -> spot -> on-demand mix work.

`build_pool` compiles one `PoolPlan` into up to three EKS managed node groups (one per capacity
type with max > 0), each with its own launch template:

- reserved: ON_DEMAND nodes launched into the pool's EC2 On-Demand Capacity Reservation (a
  targeted ODCR), only in the reservation's zone. A Capacity Block for ML needs more: the node
  group's capacity type is CAPACITY_BLOCK and the launch template carries the instance type and
  `instance_market_options.market_type = "capacity-block"`
  (https://docs.aws.amazon.com/eks/latest/userguide/capacity-blocks-mng.html). pulumi-aws 7 wraps
  terraform-provider-aws 6, which accepts CAPACITY_BLOCK since 5.57 (hashicorp/terraform-provider-
  aws#38216) although the SDK docstring still lists ON_DEMAND and SPOT only.
- on-demand: ON_DEMAND, min/max from the plan.
- spot: SPOT with every diversity type of the plan (EKS uses price-capacity-optimized allocation
  across them and enables Capacity Rebalancing on the node group's Auto Scaling group).

Every node group uses the AL2023 NVIDIA AMI (driver, CUDA user-mode driver and container toolkit
included) pinned to `spec.driver.eks_ami_release_version` when set. That AMI does NOT ship the
Kubernetes device plugin (https://docs.aws.amazon.com/eks/latest/userguide/ml-eks-k8s-device-plugin.html),
so `build_addons` installs it.

Scale from zero. The cluster autoscaler builds a template node for an empty node group from the
Auto Scaling group's tags. EKS tags the ASG it creates for auto-discovery itself
(k8s.io/cluster-autoscaler/enabled, k8s.io/cluster-autoscaler/<cluster>) but does not copy the node
group's own tags to the ASG (aws/containers-roadmap#608). The autoscaler can read labels and taints
from the EKS DescribeNodegroup API, but only for a group that never had a node since it started
(kubernetes/autoscaler cloudprovider/aws README); after a scale-up and back down to 0 it relies
on ASG tags again. So the node-template tags (labels, taints, nvidia.com/gpu) are written onto
the ASG as `aws.autoscaling.Tag` resources (propagate_at_launch false: they describe the group,
not instances) and, for the record and for DescribeNodegroup, onto the node group as well.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import pulumi
import pulumi_aws as aws
import yaml

from ..cluster.aws import ami_type, partition
from . import SYSTEM_NAMESPACE, PoolBuild, pool_labels
from .args import GPU_LABEL

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..cluster._build import ClusterBuild
    from . import GpuClusterAddonsArgs, GpuNodePoolArgs
    from .plan_types import PoolPlan

# --- node groups -----------------------------------------------------------------------------

# Capacity type (the value of gpufleet.io/capacity-type) -> field of PoolCapacity.
CAPACITY_FIELDS: dict[str, str] = {"reserved": "reserved", "on-demand": "on_demand", "spot": "spot"}

# Autoscaler priority per capacity type: higher wins (pre-paid reservation, then cheap spot, then
# on-demand as the fallback that is always there).
PRIORITIES: dict[str, int] = {"reserved": 30, "spot": 20, "on-demand": 10}
# The priority expander does not use a node group no entry matches ("node group ... not found in
# priority expander configuration. The group won't be used", kubernetes/autoscaler#2446): the
# catch-all keeps the system and general-purpose groups (and any foreign group) scalable.
CATCH_ALL_PRIORITY = 1

TAINT_EFFECTS: dict[str, str] = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}

CA_PREFIX = "k8s.io/cluster-autoscaler"
NODE_TEMPLATE = f"{CA_PREFIX}/node-template"
GPU_RESOURCE = "nvidia.com/gpu"

# The label the cluster autoscaler's AWS provider reads to know a node (or a template node built
# from ASG tags) carries GPUs (cloudprovider/aws GPULabel, kubernetes/autoscaler aws_cloud_provider.go);
# without it the autoscaler treats a GPU node whose device plugin is not ready yet as unneeded, and
# a scale-from-zero template as GPU-less. Values as the provider's availableGPUTypes spell them.
ACCELERATOR_LABEL = "k8s.amazonaws.com/accelerator"
ACCELERATOR_VALUES: dict[str, str] = {
    "T4": "nvidia-tesla-t4", "A10G": "nvidia-a10g", "L4": "nvidia-l4", "L40S": "nvidia-l40s",
    "A100-40GB": "nvidia-tesla-a100", "A100-80GB": "nvidia-tesla-a100", "H100": "nvidia-h100", "H200": "nvidia-h200",
}

# Node Termination Handler (queue mode) acts only on instances carrying this tag (its chart's
# default `managedTag` with `checkTagBeforeDraining: true`); the GPU launch templates set it.
NTH_MANAGED_TAG = "aws-node-termination-handler/managed"


def nvidia_ami_type(instance_type: str) -> str:
    """EKS AL2023 NVIDIA AMI family for a GPU instance type (g5g/p6e-gb200 are Graviton)."""
    return "AL2023_ARM_64_NVIDIA" if ami_type(instance_type) == "AL2023_ARM_64_STANDARD" else "AL2023_x86_64_NVIDIA"


def eks_node_labels(plan: "PoolPlan", capacity_type: str) -> dict[str, str]:
    """Pure: node labels of one EKS node group: gpufleet's labels plus the autoscaler's GPU label."""
    return {**pool_labels(plan, capacity_type), ACCELERATOR_LABEL: ACCELERATOR_VALUES[plan.instance.gpu_model]}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def tag_resource_names(keys: Sequence[str]) -> dict[str, str]:
    """Pure: a short, unique, stable resource-name suffix per node-template tag key."""
    out: dict[str, str] = {}
    for key in keys:
        short = _slug(key.removeprefix(NODE_TEMPLATE + "/"))
        if short in out.values():  # e.g. labels a.b and a-b: keep both, disambiguated by content
            short = f"{short}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        out[key] = short
    return out


@dataclass(frozen=True)
class _Group:
    """One native node group to build (pure description, decided before any resource)."""

    capacity_type: str  # reserved | on-demand | spot
    eks_capacity_type: str  # ON_DEMAND | SPOT | CAPACITY_BLOCK
    instance_types: list[str]
    zones: list[str]
    min_size: int
    max_size: int
    reservation_id: str | None = None
    capacity_block: bool = False


def plan_groups(plan: "PoolPlan") -> list[_Group]:
    """Pure: the node groups of a pool, in the order reserved, on-demand, spot (max > 0 only)."""
    groups: list[_Group] = []
    cap = plan.capacity
    main = plan.instance.instance_type
    if cap.reserved.max > 0:
        res = plan.reservation
        if res is None:
            raise ValueError(f"pool {plan.name!r}: {cap.reserved.max} reserved node(s) but no reservation to run them on")
        if res.instance_type != main:
            raise ValueError(
                f"pool {plan.name!r}: reservation {res.id} holds {res.instance_type}, the pool runs {main}"
            )
        if res.zone not in plan.zones:
            raise ValueError(f"pool {plan.name!r}: reservation zone {res.zone} is not one of the pool's zones {plan.zones}")
        block = res.kind == "capacity_block"
        groups.append(
            _Group(
                capacity_type="reserved",
                eks_capacity_type="CAPACITY_BLOCK" if block else "ON_DEMAND",
                instance_types=[main],
                zones=[res.zone],
                # A Capacity Block launches nothing before its start date (creating the node group
                # with nodes would fail then) and EKS requires desired 0 to upgrade such a group,
                # so it starts empty and the autoscaler fills it (it is preferred over everything).
                min_size=0 if block else cap.reserved.min,
                max_size=cap.reserved.max,
                reservation_id=res.id,
                capacity_block=block,
            )
        )
    if cap.on_demand.max > 0:
        groups.append(_Group("on-demand", "ON_DEMAND", [main], list(plan.zones), cap.on_demand.min, cap.on_demand.max))
    if cap.spot.max > 0:
        types = list(dict.fromkeys([main, *(o.instance_type for o in plan.spot_instances)]))
        groups.append(_Group("spot", "SPOT", types, list(plan.zones), cap.spot.min, cap.spot.max))
    return groups


def node_template_tags(plan: "PoolPlan", group: _Group) -> dict[str, str]:
    """Pure: the cluster-autoscaler node-template tags (scale from zero) of one node group."""
    tags = {f"{NODE_TEMPLATE}/label/{k}": v for k, v in sorted(eks_node_labels(plan, group.capacity_type).items())}
    # Set by EKS on every managed node; workloads may select on it.
    tags[f"{NODE_TEMPLATE}/label/eks.amazonaws.com/capacityType"] = group.eks_capacity_type
    for t in plan.spec.taints:
        tags[f"{NODE_TEMPLATE}/taint/{t.key}"] = f"{t.value}:{t.effect}"
    tags[f"{NODE_TEMPLATE}/resources/{GPU_RESOURCE}"] = str(plan.instance.gpus)
    return tags


def _discovery_tags(cluster_name: str) -> dict[str, str]:
    return {f"{CA_PREFIX}/enabled": "true", f"{CA_PREFIX}/{cluster_name}": "owned"}


def _subnets(parent: pulumi.Resource, plan: "PoolPlan", cluster: "ClusterBuild", zones: list[str]) -> pulumi.Input[list[str]]:
    """The cluster's private subnets in `zones`, in the order of `zones`."""
    if cluster.subnet_ids is None:
        raise ValueError(
            f"pool {plan.name!r}: the cluster exposes no subnet ids for GPU nodes; for an adopted cluster set "
            "cluster.adopt.subnet_ids (and zones)"
        )
    known = list(cluster.zones)
    if known:
        missing = [z for z in zones if z not in known]
        if missing:
            raise ValueError(f"pool {plan.name!r}: zones {missing} have no cluster subnet (cluster zones: {known})")
        index = [known.index(z) for z in zones]

        def pick(ids: list[str]) -> list[str]:
            if len(ids) != len(known):
                raise ValueError(f"cluster subnet_ids {ids} do not line up with its zones {known}")
            return [ids[i] for i in index]

        return pulumi.Output.from_input(cluster.subnet_ids).apply(pick)
    # Existing subnets whose zones are not known offline: keep those in the pool's zones.
    found = aws.ec2.get_subnets_output(
        filters=[
            aws.ec2.GetSubnetsFilterArgs(name="subnet-id", values=cluster.subnet_ids),
            aws.ec2.GetSubnetsFilterArgs(name="availability-zone", values=list(zones)),
        ],
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    def chosen(ids: list[str] | None) -> list[str]:
        if not ids:
            raise ValueError(f"pool {plan.name!r}: none of the cluster's subnets is in zones {zones}")
        return sorted(ids)

    return found.ids.apply(chosen)


def _launch_template(parent: pulumi.Resource, name: str, plan: "PoolPlan", group: _Group, tags: dict[str, str],
                     cluster_name: pulumi.Output[str]) -> aws.ec2.LaunchTemplate:
    role = group.capacity_type

    def instance_tags(cn: str) -> dict[str, str]:
        # Provider default tags do not reach instances EKS launches; the template tags them.
        return {**tags, "Name": f"{cn}-gpu-{plan.name}-{role}", NTH_MANAGED_TAG: "true"}

    node_tags = cluster_name.apply(instance_tags)
    reservation = None
    market = None
    if group.reservation_id is not None:
        # Targeted: nodes launch only into this reservation (none beyond it, no open matching of
        # other reservations), so reserved capacity is exactly what was bought.
        reservation = aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
            capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=group.reservation_id
            )
        )
    if group.capacity_block:
        market = aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="capacity-block")
    return aws.ec2.LaunchTemplate(
        f"{name}-{role}-lt",
        aws.ec2.LaunchTemplateArgs(
            description=f"GPU pool {plan.name} ({role}) nodes",
            # IMDSv2 only, hop limit 1: pods cannot reach IMDS and borrow the node role; they get
            # AWS credentials through IRSA.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # root device of the AL2023 EKS AMIs
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=plan.spec.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            # Capacity Blocks need the instance type in the template (EKS rejects it in both places).
            instance_type=plan.instance.instance_type if group.capacity_block else None,
            capacity_reservation_specification=reservation,
            instance_market_options=market,
            # No network_interfaces block: nodes take the private subnets' addressing, no public IP.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=rt, tags=node_tags)
                for rt in ("instance", "network-interface", "volume")
            ],
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_pool(parent: pulumi.ComponentResource, name: str, args: "GpuNodePoolArgs") -> PoolBuild:
    plan = args.plan
    cluster: ClusterBuild = args.cluster
    if cluster.node_role_arn is None:
        raise ValueError(
            f"pool {plan.name!r}: the cluster has no node role for GPU nodes (an adopted cluster). Set "
            "cluster.adopt.node_role_arn to an IAM role trusted by ec2.amazonaws.com with the "
            "AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly policies."
        )
    groups = plan_groups(plan)
    tags = dict(args.tags)
    cluster_name = pulumi.Output.from_input(cluster.cluster_name)
    opts = pulumi.ResourceOptions(parent=parent)
    release = plan.spec.driver.eks_ami_release_version
    ami = nvidia_ami_type(plan.instance.instance_type)
    update = plan.spec.update

    autoscaler_groups: dict[str, list[pulumi.Input[str]]] = {}
    native: dict[str, pulumi.Resource] = {}
    for group in groups:
        role = group.capacity_type
        subnets = _subnets(parent, plan, cluster, group.zones)
        lt = _launch_template(parent, name, plan, group, tags, cluster_name)
        template = node_template_tags(plan, group)
        ng_tags = cluster_name.apply(lambda cn, t=template: {**tags, **_discovery_tags(cn), **t})
        ng = aws.eks.NodeGroup(
            f"{name}-{role}",
            aws.eks.NodeGroupArgs(
                cluster_name=cluster.cluster_name,
                # A prefix, not a fixed name: node-group changes EKS cannot make in place (instance
                # types, subnets, capacity type) replace the group create-before-delete.
                node_group_name_prefix=f"{plan.name}-{role}-",
                node_role_arn=cluster.node_role_arn,
                subnet_ids=subnets,
                capacity_type=group.eks_capacity_type,
                instance_types=None if group.capacity_block else group.instance_types,
                ami_type=ami,
                release_version=release,
                labels=eks_node_labels(plan, role),
                taints=[
                    aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value or None, effect=TAINT_EFFECTS[t.effect])
                    for t in plan.spec.taints
                ],
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=group.min_size, max_size=group.max_size, desired_size=group.min_size
                ),
                # EKS has no surge count: DEFAULT launches replacements before draining (a surge
                # sized by EKS), MINIMAL drains first. maxUnavailable must be >= 1. A reservation has
                # no spare room for surge nodes, so reserved groups always update MINIMAL.
                update_config=aws.eks.NodeGroupUpdateConfigArgs(
                    max_unavailable=max(1, update.max_unavailable),
                    update_strategy="MINIMAL" if role == "reserved" or update.max_surge == 0 else "DEFAULT",
                ),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=lt.id, version=lt.latest_version.apply(str)),
                tags=ng_tags,
            ),
            opts=pulumi.ResourceOptions(
                parent=parent,
                # The cluster autoscaler owns the live size; re-applying min would scale it back.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        asg_name = ng.resources.apply(lambda rs: rs[0].autoscaling_groups[0].name)
        suffixes = tag_resource_names(list(template))
        for key, value in template.items():
            aws.autoscaling.Tag(
                f"{name}-{role}-asg-{suffixes[key]}",
                aws.autoscaling.TagArgs(
                    autoscaling_group_name=asg_name,
                    tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                ),
                opts=opts,
            )
        # The autoscaler's node group id on AWS is the ASG name (eks-<node group>-<uuid>).
        autoscaler_groups[role] = [asg_name.apply(lambda n: f"^{n}$")]
        native[role] = ng
        if group.capacity_block:
            capacity_block_drain(parent, f"{name}-{role}", plan, asg_name, tags)
    return PoolBuild(autoscaler_groups=autoscaler_groups, native_pools=native)


# --- Capacity Block drain ----------------------------------------------------------------------
#
# EC2 starts terminating a Capacity Block's instances 30 minutes before the block ends. Ahead of
# that, an EventBridge Scheduler one-time schedule sets the block's Auto Scaling group to
# min/max/desired 0: the ASG scales in (EKS drains managed nodes through the node group's
# lifecycle hook, pods reschedule onto spot/on-demand) and, with max 0, the cluster autoscaler
# cannot put nodes back into the ending block. The node termination handler is installed for
# such pools even without spot (see build_addons).

# EventBridge Scheduler universal target (any AWS API): Auto Scaling UpdateAutoScalingGroup.
DRAIN_TARGET_ACTION = "aws-sdk:autoscaling:updateAutoScalingGroup"


def drain_time(plan: "PoolPlan") -> str:
    """Pure: when the block's nodes are scaled to zero, as the UTC time of an at() expression."""
    res = plan.reservation
    if res is None or res.kind != "capacity_block" or res.ends_at is None:
        raise ValueError(f"pool {plan.name!r}: no Capacity Block end time (reservation.ends_at) to drain before")
    at = res.ends_at.astimezone(_dt.timezone.utc) - _dt.timedelta(minutes=res.drain_before_end_minutes)
    return at.strftime("%Y-%m-%dT%H:%M:%S")


def drain_input(asg_name: str) -> str:
    """Pure: the UpdateAutoScalingGroup request of the drain (max 0 keeps the autoscaler out)."""
    return json.dumps({"AutoScalingGroupName": asg_name, "MinSize": 0, "MaxSize": 0, "DesiredCapacity": 0},
                      sort_keys=True)


def drain_role_trust(region: str) -> str:
    """Pure: EventBridge Scheduler may assume the drain role, for schedules of this region only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:{partition(region)}:scheduler:{region}:*:schedule/*"}},
            }],
        },
        sort_keys=True,
    )


def drain_policy(region: str, asg_name: str) -> str:
    """Pure: the drain role may resize this one Auto Scaling group and nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "ScaleBlockGroupToZero",
                "Effect": "Allow",
                "Action": ["autoscaling:UpdateAutoScalingGroup"],
                "Resource": f"arn:{partition(region)}:autoscaling:{region}:*:autoScalingGroup:*:autoScalingGroupName/{asg_name}",
            }],
        },
        sort_keys=True,
    )


def capacity_block_drain(parent: pulumi.Resource, name: str, plan: "PoolPlan", asg_name: pulumi.Output[str],
                         tags: dict[str, str]) -> "aws.scheduler.Schedule":
    """An IAM role and a one-time EventBridge Scheduler schedule that scale the Capacity Block's node
    group to zero `drain_before_end_minutes` before the block ends."""
    opts = pulumi.ResourceOptions(parent=parent)
    res = plan.reservation
    assert res is not None and res.ends_at is not None
    role = aws.iam.Role(
        f"{name}-drain-role",
        aws.iam.RoleArgs(
            assume_role_policy=drain_role_trust(plan.region),
            description=f"EventBridge Scheduler: scale GPU pool {plan.name}'s Capacity Block {res.id} to zero before it ends",
            tags=tags,
        ),
        opts=opts,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-drain-policy",
        aws.iam.RolePolicyArgs(role=role.name, policy=asg_name.apply(lambda n: drain_policy(plan.region, n))),
        opts=opts,
    )
    return aws.scheduler.Schedule(
        f"{name}-drain",
        aws.scheduler.ScheduleArgs(
            description=(f"Drain GPU pool {plan.name}: Capacity Block {res.id} ends {res.ends_at.isoformat()}; "
                         f"scale its node group to zero {res.drain_before_end_minutes} min before"),
            schedule_expression=f"at({drain_time(plan)})",
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            target=aws.scheduler.ScheduleTargetArgs(
                arn=f"arn:{partition(plan.region)}:scheduler:::{DRAIN_TARGET_ACTION}",
                role_arn=role.arn,
                input=asg_name.apply(drain_input),
                # Retry for up to 15 minutes: later than that the drain would meet EC2's own termination.
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=900, maximum_retry_attempts=10),
            ),
            # Kept after it ran, so the next `pulumi up` does not recreate it.
            action_after_completion="NONE",
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]),
    )


# --- cluster add-ons ---------------------------------------------------------------------------

# Pinned charts (bump deliberately, with the cluster's Kubernetes version).
CLUSTER_AUTOSCALER_CHART = ("cluster-autoscaler", "9.50.1", "https://kubernetes.github.io/autoscaler")  # app 1.33.0
NVIDIA_DEVICE_PLUGIN_CHART = ("nvidia-device-plugin", "0.17.4", "https://nvidia.github.io/k8s-device-plugin")
# NTH left the eks-charts repo (aws/eks-charts#1155; its last chart there, 0.21.0, is NTH 1.19):
# upstream publishes the chart to public ECR as an OCI artifact only.
NTH_CHART = ("oci://public.ecr.aws/aws-ec2/helm/aws-node-termination-handler", "0.27.1")  # app 1.25.1

CLUSTER_AUTOSCALER_SA = "cluster-autoscaler"
NTH_SA = "aws-node-termination-handler"
PRIORITY_CONFIGMAP = "cluster-autoscaler-priority-expander"

# EventBridge rules feeding NTH's queue (queue processor mode). Not routed: ASG "EC2
# Instance-terminate Lifecycle Action"; EKS drains its managed node groups through its own
# lifecycle hooks and NTH must not complete them.
NTH_EVENTS: dict[str, dict[str, Any]] = {
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "scheduled-change": {
        "source": ["aws.health"],
        "detail-type": ["AWS Health Event"],
        "detail": {"service": ["EC2"], "eventTypeCategory": ["scheduledChange"]},
    },
}


def priorities_yaml(groups: dict[str, Sequence[str]]) -> str:
    """Pure: the priority expander's `priorities` document (highest number wins)."""
    doc: dict[int, list[str]] = {}
    for capacity_type in sorted(PRIORITIES, key=PRIORITIES.__getitem__, reverse=True):
        regexes = sorted(set(groups.get(capacity_type, ())))
        if regexes:
            doc[PRIORITIES[capacity_type]] = regexes
    doc[CATCH_ALL_PRIORITY] = [".*"]
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def _irsa_trust(identity: Any, service_account: str) -> pulumi.Output[str]:
    def render(a: list[str]) -> str:
        provider_arn, issuer = a
        host = issuer.removeprefix("https://")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": provider_arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{host}:sub": f"system:serviceaccount:{SYSTEM_NAMESPACE}:{service_account}",
                                f"{host}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(identity.oidc_provider_arn, identity.oidc_issuer_url).apply(render)


def _irsa_role(parent: pulumi.Resource, name: str, role: str, identity: Any, service_account: str,
               policy: pulumi.Input[str], tags: dict[str, str]) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    r = aws.iam.Role(
        f"{name}-{role}-irsa",
        aws.iam.RoleArgs(
            assume_role_policy=_irsa_trust(identity, service_account),
            description=f"IRSA role of {SYSTEM_NAMESPACE}/{service_account}",
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    p = aws.iam.RolePolicy(
        f"{name}-{role}-irsa-policy",
        aws.iam.RolePolicyArgs(role=r.name, policy=policy),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return r, p


def cluster_autoscaler_policy(cluster_name: str, region: str) -> str:
    """Pure: least-privilege policy of the cluster autoscaler (kubernetes/autoscaler aws README).

    Reads are account-wide (the Describe APIs take no resource); writes only reach ASGs tagged as
    this cluster's autoscaled groups (EKS tags its managed node groups' ASGs that way).
    """
    pfx = partition(region)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Discover",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "ReadNodeGroups",
                    "Effect": "Allow",
                    "Action": ["eks:DescribeNodegroup"],
                    "Resource": f"arn:{pfx}:eks:{region}:*:nodegroup/{cluster_name}/*",
                },
                {
                    "Sid": "ScaleOwnGroups",
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            f"aws:ResourceTag/{CA_PREFIX}/{cluster_name}": "owned",
                            f"aws:ResourceTag/{CA_PREFIX}/enabled": "true",
                        }
                    },
                },
            ],
        },
        sort_keys=True,
    )


def nth_policy(queue_arn: str) -> str:
    """Pure: least-privilege policy of NTH in queue mode. No autoscaling:CompleteLifecycleAction:
    no lifecycle-hook events are routed to the queue (EKS owns its node groups' hooks)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ConsumeQueue",
                    "Effect": "Allow",
                    "Action": ["sqs:DeleteMessage", "sqs:ReceiveMessage"],
                    "Resource": queue_arn,
                },
                {
                    "Sid": "Describe",
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeInstances",
                    ],
                    "Resource": "*",
                },
            ],
        },
        sort_keys=True,
    )


def queue_policy(queue_arn: str, rule_arns: list[str]) -> str:
    """Pure: who may send to NTH's queue (EventBridge, only from our rules; SQS), TLS only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EventBridgeRules",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
                },
                {
                    "Sid": "Sqs",
                    "Effect": "Allow",
                    "Principal": {"Service": "sqs.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"}


def _release(parent: pulumi.Resource, name: str, role: str, provider: pulumi.ProviderResource, *, chart: str,
             version: str, repo: str | None, release_name: str, values: dict[str, Any],
             depends_on: list[pulumi.Resource], skip_crds: bool = False) -> Any:
    import pulumi_kubernetes as k8s

    return k8s.helm.v3.Release(
        f"{name}-{role}",
        k8s.helm.v3.ReleaseArgs(
            name=release_name,
            chart=chart,
            version=version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repo) if repo else None,
            namespace=SYSTEM_NAMESPACE,
            values=values,
            # Roll back a failed upgrade instead of leaving a half-applied release.
            atomic=True,
            cleanup_on_fail=True,
            skip_crds=skip_crds or None,
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on),
    )


def _cluster_autoscaler(parent: pulumi.Resource, name: str, args: "GpuClusterAddonsArgs") -> pulumi.Input[str]:
    """The autoscaler with the priority expander and its ConfigMap; returns the priorities document.

    With `cluster_autoscaler: existing` (an adopted cluster running its own) nothing is installed:
    a second autoscaler would act on the same node groups, and the expander's ConfigMap name is
    fixed, so gpufleet's would collide with the existing one. The document is returned for the
    operator to merge into the running autoscaler's ConfigMap.
    """
    import pulumi_kubernetes as k8s

    target = args.target
    provider = target.provider
    region = target.region
    cluster_name = pulumi.Output.from_input(args.cluster.cluster_name)
    tags = dict(args.tags)

    groups: dict[str, list[pulumi.Input[str]]] = {}
    for pool in args.pools:
        for capacity_type, regexes in pool.build.autoscaler_groups.items():
            groups.setdefault(capacity_type, []).extend(regexes)
    rendered: pulumi.Input[str] = (
        pulumi.Output.all(**{ct: pulumi.Output.all(*rx) for ct, rx in sorted(groups.items())}).apply(priorities_yaml)
        if groups else priorities_yaml({})
    )
    if args.cluster_autoscaler == "existing":
        return rendered
    # Must exist before the autoscaler starts with the priority expander (it is watched, so
    # later edits apply without a restart).
    priorities = k8s.core.v1.ConfigMap(
        f"{name}-autoscaler-priority",
        k8s.core.v1.ConfigMapInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(name=PRIORITY_CONFIGMAP, namespace=SYSTEM_NAMESPACE, labels=_labels()),
            data={"priorities": rendered},
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    role, policy = _irsa_role(
        parent, name, "cluster-autoscaler", target.identity, CLUSTER_AUTOSCALER_SA,
        cluster_name.apply(lambda cn: cluster_autoscaler_policy(cn, region)), tags,
    )
    chart, version, repo = CLUSTER_AUTOSCALER_CHART
    _release(
        parent, name, "cluster-autoscaler", provider, chart=chart, version=version, repo=repo,
        release_name="cluster-autoscaler",
        values={
            "cloudProvider": "aws",
            "awsRegion": region,
            "fullnameOverride": "cluster-autoscaler",
            "autoDiscovery": {"clusterName": cluster_name},
            "rbac": {
                "serviceAccount": {
                    "create": True,
                    "name": CLUSTER_AUTOSCALER_SA,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                }
            },
            "extraArgs": {
                # Priority first (reserved > spot > on-demand); ties go to the least waste.
                "expander": "priority,least-waste",
                # Zonal node groups of one capacity type are kept level.
                "balance-similar-node-groups": True,
                # kube-system DaemonSets (device plugin) must not pin idle GPU nodes; nor must
                # emptyDir model caches.
                "skip-nodes-with-system-pods": False,
                "skip-nodes-with-local-storage": False,
                # Bring a group below its minimum back up to it (the floor), e.g. after nodes were
                # lost or a minimum was raised; by default the autoscaler only scales for pods.
                "enforce-node-group-min-size": True,
            },
        },
        depends_on=[priorities, policy],
    )
    return rendered


@dataclass(frozen=True)
class InterruptionQueue:
    queue: aws.sqs.Queue
    rules: list[aws.cloudwatch.EventRule]
    targets: list[aws.cloudwatch.EventTarget]
    policy: aws.sqs.QueuePolicy

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What a consumer waits for: the queue policy and every rule's target."""
        return [self.policy, *self.targets]


def interruption_queue(parent: pulumi.Resource, prefix: str, events: dict[str, dict[str, Any]], *, consumer: str,
                       target_id: str, tags: dict[str, str]) -> InterruptionQueue:
    """An SQS queue (SSE, 5-minute retention, TLS only) fed by one EventBridge rule per event
    pattern, only from those rules: what NTH (queue mode) and Karpenter consume. Children are
    named `<prefix>-queue`, `<prefix>-<event>`, `<prefix>-<event>-target`, `<prefix>-queue-policy`."""
    opts = pulumi.ResourceOptions(parent=parent)
    queue = aws.sqs.Queue(
        f"{prefix}-queue",
        aws.sqs.QueueArgs(
            # Interruption notices are worthless after the 2-minute warning.
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            tags=tags,
        ),
        opts=opts,
    )
    rules, targets = [], []
    for event, pattern in events.items():
        rule = aws.cloudwatch.EventRule(
            f"{prefix}-{event}",
            aws.cloudwatch.EventRuleArgs(
                description=f"{pattern['detail-type'][0]} -> {consumer}",
                event_pattern=json.dumps(pattern, sort_keys=True),
                tags=tags,
            ),
            opts=opts,
        )
        rules.append(rule)
        targets.append(
            aws.cloudwatch.EventTarget(
                f"{prefix}-{event}-target",
                aws.cloudwatch.EventTargetArgs(rule=rule.name, arn=queue.arn, target_id=target_id),
                opts=opts,
            )
        )
    qp = aws.sqs.QueuePolicy(
        f"{prefix}-queue-policy",
        aws.sqs.QueuePolicyArgs(
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *(r.arn for r in rules)).apply(lambda a: queue_policy(a[0], list(a[1:]))),
        ),
        opts=opts,
    )
    return InterruptionQueue(queue, rules, targets, qp)


def _termination_handler(parent: pulumi.Resource, name: str, args: "GpuClusterAddonsArgs") -> None:
    target = args.target
    tags = dict(args.tags)
    q = interruption_queue(parent, f"{name}-nth", NTH_EVENTS, consumer="node termination handler queue",
                           target_id="nth-queue", tags=tags)
    queue = q.queue
    role, policy = _irsa_role(parent, name, "nth", target.identity, NTH_SA, queue.arn.apply(nth_policy), tags)
    chart, version = NTH_CHART
    _release(
        parent, name, "node-termination-handler", target.provider, chart=chart, version=version, repo=None,
        release_name="aws-node-termination-handler",
        values={
            "fullnameOverride": "aws-node-termination-handler",
            "enableSqsTerminationDraining": True,
            # Taint (not only cordon) nodes being reclaimed, so the GpuNodeInterruptionNotice alert
            # and schedulers see the notice.
            "taintNode": True,
            "queueURL": queue.url,
            "awsRegion": target.region,
            "checkTagBeforeDraining": True,
            "managedTag": NTH_MANAGED_TAG,
            # The EventBridge rules see every instance of the account and region (other clusters
            # too): drop events for instances that are not nodes of this cluster at once.
            "deleteSqsMsgIfNodeNotFound": True,
            "serviceAccount": {
                "create": True,
                "name": NTH_SA,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
        },
        depends_on=[policy, *q.ready],
    )


def _device_plugin(parent: pulumi.Resource, name: str, args: "GpuClusterAddonsArgs") -> None:
    taints = sorted({(t.key, t.effect) for pool in args.pools for t in pool.plan.spec.taints})
    tolerations = [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    tolerations += [{"key": key, "operator": "Exists", "effect": effect} for key, effect in taints]
    chart, version, repo = NVIDIA_DEVICE_PLUGIN_CHART
    _release(
        parent, name, "nvidia-device-plugin", args.target.provider, chart=chart, version=version, repo=repo,
        release_name="nvidia-device-plugin",
        values={
            "fullnameOverride": "nvidia-device-plugin",
            # The chart's default affinity needs Node Feature Discovery labels; gpufleet's GPU
            # nodes carry their own label instead.
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{"key": GPU_LABEL, "operator": "Exists"}]}]
                    }
                }
            },
            "tolerations": tolerations,
        },
        depends_on=[],
    )


def _capacity_block(plan: "PoolPlan") -> bool:
    return plan.reservation is not None and plan.reservation.kind == "capacity_block" and plan.capacity.reserved.max > 0


def build_addons(parent: pulumi.ComponentResource, name: str, args: "GpuClusterAddonsArgs") -> dict[str, Any]:
    identity = args.target.identity
    if identity is None or identity.oidc_provider_arn is None or identity.oidc_issuer_url is None:
        raise ValueError("EKS GPU add-ons need the cluster's IRSA OIDC provider (oidc_provider_arn and oidc_issuer_url)")
    priorities = _cluster_autoscaler(parent, name, args)
    # Spot nodes get interruption notices; Capacity Block nodes are terminated at the block's end.
    # Under Karpenter its interruption queue does this for its own nodes.
    if args.node_groups and any(pool.plan.capacity.spot.max > 0 or _capacity_block(pool.plan) for pool in args.pools):
        _termination_handler(parent, name, args)
    _device_plugin(parent, name, args)
    return {"autoscalerPriorities": priorities, "clusterAutoscaler": args.cluster_autoscaler}
