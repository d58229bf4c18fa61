"""Karpenter on EKS: the controller, its IAM, its interruption queue, and each pool's
EC2NodeClass and NodePools.

`KarpenterController` (once per cluster, before the pools) creates:

- the node role Karpenter's nodes run as (EKS worker, CNI, ECR pull-only and SSM policies, as the
  upstream getting-started template) with an EC2_LINUX access entry, so the nodes can join;
- the interruption queue (SQS, SSE, 5-minute retention, TLS only) and the EventBridge rules of
  the upstream template (spot interruption, rebalance, instance state change, AWS Health
  scheduled change, capacity reservation interruption), which replace the Node Termination
  Handler: Karpenter taints, drains and replaces the node itself;
- the controller's IRSA role with the upstream controller policy (scoped to this cluster's tags,
  region and account; `controller_policy` below, checked against the vendored template);
- the Helm releases karpenter-crd (the CRDs, upgraded with each chart version) and karpenter
  (oci://public.ecr.aws/karpenter/karpenter 1.14.1, `skip_crds`) on the system node group.

`build_pool` creates a pool's EC2NodeClass and NodePools (`components.gpu_pool.karpenter.node_pools`). Subnets and the
cluster security group are selected by the `karpenter.sh/discovery: <cluster>` tag, which the
cluster component puts on them when the engine is karpenter.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws
from pydantic import ConfigDict, Field

from ..._model import Args
from ...cluster.aws import KARPENTER_DISCOVERY_TAG, partition
from .. import SYSTEM_NAMESPACE, PoolBuild
from ..aws import _irsa_role, _release, interruption_queue
from . import EC2NODECLASS_API, KARPENTER_CHART, KARPENTER_CRD_CHART, ec2_node_class
from .objects import node_class_and_pools

if TYPE_CHECKING:  # pragma: no cover
    from .. import GpuNodePoolArgs

CONTROLLER_TOKEN = "gpufleet:gpu_pool:KarpenterController"
KARPENTER_SA = "karpenter"
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly",
                 "AmazonSSMManagedInstanceCore")

# The upstream template's rules (website/content/en/v1.13/getting-started/getting-started-with-
# karpenter/cloudformation.yaml): every event Karpenter acts on.
INTERRUPTION_EVENTS: dict[str, dict[str, Any]] = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "reservation-interruption": {"source": ["aws.ec2"],
                                 "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"]},
}


def controller_policy(*, pfx: str, region: str, account: str, cluster: str, node_role_arn: str,
                      queue_arn: str) -> dict[str, Any]:
    """Pure: the Karpenter controller's policy, statement for statement the upstream template's
    six managed policies (NodeLifecycle, IAMIntegration, EKSIntegration, Interruption, ZonalShift,
    ResourceDiscovery) in one document."""
    ec2 = f"arn:{pfx}:ec2:{region}"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}
    req_owned = {f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned", "aws:RequestTag/eks:eks-cluster-name": cluster}
    any_pool = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    tagged = [f"{ec2}:*:{kind}/*" for kind in
              ("fleet", "instance", "volume", "network-interface", "launch-template", "spot-instances-request")]
    profiles = f"arn:{pfx}:iam::{account}:instance-profile/*"
    cluster_arn = f"arn:{pfx}:eks:{region}:{account}:cluster/{cluster}"
    region_tag = {"aws:ResourceTag/topology.kubernetes.io/region": region}
    req_region = {"aws:RequestTag/topology.kubernetes.io/region": region}
    statements = [
        {"Sid": "AllowScopedEC2InstanceAccessActions", "Effect": "Allow",
         "Resource": [f"{ec2}::image/*", f"{ec2}::snapshot/*", f"{ec2}:*:security-group/*", f"{ec2}:*:subnet/*",
                      f"{ec2}:*:capacity-reservation/*", f"{ec2}:*:placement-group/*"],
         "Action": ["ec2:RunInstances", "ec2:CreateFleet"]},
        {"Sid": "AllowScopedEC2LaunchTemplateAccessActions", "Effect": "Allow",
         "Resource": f"{ec2}:*:launch-template/*", "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
         "Condition": {"StringEquals": owned, "StringLike": any_pool}},
        {"Sid": "AllowScopedEC2InstanceActionsWithTags", "Effect": "Allow", "Resource": tagged,
         "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
         "Condition": {"StringEquals": req_owned, "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
        {"Sid": "AllowScopedResourceCreationTagging", "Effect": "Allow", "Resource": tagged, "Action": "ec2:CreateTags",
         "Condition": {"StringEquals": {**req_owned, "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]},
                       "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}},
        {"Sid": "AllowScopedResourceTagging", "Effect": "Allow", "Resource": f"{ec2}:*:instance/*",
         "Action": "ec2:CreateTags",
         "Condition": {"StringEquals": owned, "StringLike": any_pool,
                       "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]}}},
        {"Sid": "AllowScopedDeletion", "Effect": "Allow",
         "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
         "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
         "Condition": {"StringEquals": owned, "StringLike": any_pool}},
        {"Sid": "AllowPassingInstanceRole", "Effect": "Allow", "Resource": node_role_arn, "Action": "iam:PassRole",
         "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}}},
        {"Sid": "AllowScopedInstanceProfileCreationActions", "Effect": "Allow", "Resource": profiles,
         "Action": ["iam:CreateInstanceProfile"],
         "Condition": {"StringEquals": {**req_owned, **req_region},
                       "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        {"Sid": "AllowScopedInstanceProfileTagActions", "Effect": "Allow", "Resource": profiles,
         "Action": ["iam:TagInstanceProfile"],
         "Condition": {"StringEquals": {**owned, **region_tag, **req_owned, **req_region},
                       "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                                      "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        {"Sid": "AllowScopedInstanceProfileActions", "Effect": "Allow", "Resource": profiles,
         "Action": ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
         "Condition": {"StringEquals": {**owned, **region_tag},
                       "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"}}},
        {"Sid": "AllowAPIServerEndpointDiscovery", "Effect": "Allow", "Resource": cluster_arn, "Action": "eks:DescribeCluster"},
        {"Sid": "AllowInterruptionQueueActions", "Effect": "Allow", "Resource": queue_arn,
         "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]},
        {"Sid": "AllowZonalShiftStatusReadOnly", "Effect": "Allow", "Resource": "*",
         "Action": ["arc-zonal-shift:GetManagedResource"],
         "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}}},
        {"Sid": "AllowRegionalReadActions", "Effect": "Allow", "Resource": "*",
         "Action": ["ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
                    "ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets"],
         "Condition": {"StringEquals": {"aws:RequestedRegion": region}}},
        {"Sid": "AllowSSMReadActions", "Effect": "Allow", "Resource": f"arn:{pfx}:ssm:{region}::parameter/aws/service/*",
         "Action": "ssm:GetParameter"},
        {"Sid": "AllowPricingReadActions", "Effect": "Allow", "Resource": "*", "Action": "pricing:GetProducts"},
        {"Sid": "AllowUnscopedInstanceProfileListAction", "Effect": "Allow", "Resource": "*",
         "Action": "iam:ListInstanceProfiles"},
        {"Sid": "AllowInstanceProfileReadActions", "Effect": "Allow", "Resource": profiles,
         "Action": "iam:GetInstanceProfile"},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def controller_values(*, cluster_name: Any, queue_name: Any, role_arn: Any) -> dict[str, Any]:
    """Pure: the chart values gpufleet sets (each path exists in the chart's values.yaml at 1.14.1)."""
    return {
        "settings": {
            "clusterName": cluster_name,
            "interruptionQueue": queue_name,
            "featureGates": {
                # Beta, on by default since v1.6; stated so a chart default change cannot drop the
                # reserved NodePools silently.
                "reservedCapacity": True,
            },
        },
        "serviceAccount": {"name": KARPENTER_SA, "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        # On the system node group (never on a node Karpenter launched: the chart's default
        # affinity already requires karpenter.sh/nodepool DoesNotExist).
        "nodeSelector": {"kubernetes.io/os": "linux", "gpufleet.io/pool": "system"},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "replicas": 2,
        "controller": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"},
                                     "limits": {"cpu": "1", "memory": "1Gi"}}},
    }


class KarpenterControllerArgs(Args):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    target: Any = Field(..., description="The cluster's KubernetesTarget (IRSA identity, k8s provider, region).")
    cluster: Any = Field(..., description="The cluster's ClusterBuild (name).")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags on every taggable child.")


class KarpenterController(pulumi.ComponentResource):
    """Karpenter for one EKS cluster. Outputs: `node_role_name`, `queue_name`, and `release` (what
    NodePools wait for: the chart brings the CRDs)."""

    def __init__(self, name: str, args: KarpenterControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CONTROLLER_TOKEN, name, None, opts)
        self._name = name
        target, tags = args.target, dict(args.tags)
        identity = target.identity
        if identity is None or identity.oidc_provider_arn is None or identity.oidc_issuer_url is None:
            raise ValueError("Karpenter needs the cluster's IRSA OIDC provider (oidc_provider_arn and oidc_issuer_url)")
        region = target.region
        pfx = partition(region)
        cluster_name = pulumi.Output.from_input(args.cluster.cluster_name)
        child = pulumi.ResourceOptions(parent=self)

        node_role = aws.iam.Role(
            f"{name}-node-role",
            aws.iam.RoleArgs(
                assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    sort_keys=True),
                description="Nodes launched by Karpenter",
                tags=tags,
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{p}",
                aws.iam.RolePolicyAttachmentArgs(role=node_role.name, policy_arn=f"arn:{pfx}:iam::aws:policy/{p}"),
                opts=child,
            )
            for p in NODE_POLICIES
        ]
        # Nodes of a role not used by a managed node group need their own access entry to join.
        access = aws.eks.AccessEntry(
            f"{name}-node-access",
            aws.eks.AccessEntryArgs(cluster_name=cluster_name, principal_arn=node_role.arn, type="EC2_LINUX", tags=tags),
            opts=child,
        )

        q = interruption_queue(self, name, INTERRUPTION_EVENTS, consumer="Karpenter interruption queue",
                               target_id="karpenter-queue", tags=tags)
        queue = q.queue
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        policy = pulumi.Output.all(cluster_name, node_role.arn, queue.arn, account).apply(
            lambda a: json.dumps(controller_policy(pfx=pfx, region=region, account=a[3], cluster=a[0],
                                                   node_role_arn=a[1], queue_arn=a[2]),
                                 sort_keys=True, separators=(",", ":")))
        role, role_policy = _irsa_role(self, name, "controller", identity, KARPENTER_SA, policy, tags)
        crd_chart, version = KARPENTER_CRD_CHART
        crds = _release(self, name, "crds", target.provider, chart=crd_chart, version=version, repo=None,
                        release_name="karpenter-crd", values={}, depends_on=[])
        chart, version = KARPENTER_CHART
        self.release = _release(
            self, name, "chart", target.provider, chart=chart, version=version, repo=None, release_name="karpenter",
            values=controller_values(cluster_name=cluster_name, queue_name=queue.name, role_arn=role.arn),
            depends_on=[crds, role_policy, access, *attachments, *q.ready],
            skip_crds=True,  # the karpenter-crd release owns them
        )
        self.node_role_name = node_role.name
        self.queue_name = queue.name
        self._target = target
        self.register_outputs({"nodeRoleName": node_role.name, "queueName": queue.name, "controllerRoleArn": role.arn,
                               "chartVersion": version})

    def monitor(self, monitor_labels: dict[str, str], depends_on: list[pulumi.Resource]) -> Any:
        """A ServiceMonitor on the controller's metrics Service (kube-system/karpenter, port
        http-metrics), labelled for the stack's Prometheus. Ours rather than the chart's: the chart
        renders its own only if the monitoring CRDs already exist when it is installed, which the
        order of one `pulumi up` does not guarantee. `karpenter_nodeclaims_disrupted_total` (reason
        spot_interrupted) feeds the GpuSpotNodeLost alert."""
        import pulumi_kubernetes as k8s

        return k8s.apiextensions.CustomResource(
            f"{self._name}-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="karpenter", namespace=SYSTEM_NAMESPACE,
                                                labels={**monitor_labels, "app.kubernetes.io/managed-by": "gpufleet"}),
            spec={
                # The chart's selector labels (karpenter.selectorLabels: chart name, release name).
                "selector": {"matchLabels": {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}},
                "endpoints": [{"port": "http-metrics", "path": "/metrics", "scheme": "http", "interval": "30s"}],
            },
            opts=pulumi.ResourceOptions(parent=self, provider=self._target.provider,
                                        depends_on=[self.release, *depends_on]),
        )


def build_pool(parent: pulumi.ComponentResource, name: str, args: "GpuNodePoolArgs") -> PoolBuild:
    """The pool's EC2NodeClass and NodePools (cluster-scoped), after the Karpenter release."""
    plan, target, controller = args.plan, args.target, args.karpenter
    if target is None or controller is None:
        raise ValueError(f"pool {plan.name!r}: the karpenter engine needs the cluster's target and KarpenterController")
    spec = ec2_node_class(plan, role=controller.node_role_name, cluster_name=args.cluster.cluster_name,
                          tags=dict(args.tags), discovery_key=KARPENTER_DISCOVERY_TAG)
    native = node_class_and_pools(parent, name, plan, "aws", provider=target.provider, api_version=EC2NODECLASS_API,
                                  class_spec=spec, depends_on=[controller.release])
    return PoolBuild(autoscaler_groups={}, node_pools=native)
