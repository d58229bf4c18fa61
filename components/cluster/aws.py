"""EKS flavour of `KubernetesCluster`: create a hardened cluster (and its VPC) or adopt one.

Every child is parented to the facade, so it inherits the region's explicit aws provider;
nothing here passes a provider or could fall back to a default one.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .._contracts import WorkloadIdentity
from ._build import ClusterBuild
from ._kubeconfig import eks_kubeconfig
from .args import AwsClusterOptions, KubernetesClusterArgs, NodePoolSize, general_pool_size, system_pool_size

# All five control-plane log types; audit and authenticator are the ones incident response needs.
LOG_TYPES: list[str] = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

# Fixed subnet layout: the VPC is cut into 8 equal slots whatever the zone count, so appending a
# zone never moves the CIDRs of existing subnets (which would replace them and their nodes).
# Slots 0..6 are the zones' private subnets (large: the VPC CNI gives every pod a VPC address);
# slot 7 is cut into 8 small public subnets that only hold NAT gateways and load balancers.
_SLOT_BITS = 3
MAX_ZONES = 2**_SLOT_BITS - 1

CLUSTER_POLICIES = ["AmazonEKSClusterPolicy"]
NODE_POLICIES = ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"]


@dataclass(frozen=True)
class ZoneSubnets:
    zone: str
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, zones: list[str]) -> list[ZoneSubnets]:
    """Pure: one private and one public IPv4 subnet per zone, in the order given.

    A /16 gives /19 private and /22 public subnets; a /20 gives /23 and /26.
    """
    if len(zones) > MAX_ZONES:
        raise ValueError(f"at most {MAX_ZONES} zones fit the subnet layout, got {len(zones)}")
    net = ipaddress.ip_network(vpc_cidr, strict=True)
    if net.version != 4 or net.prefixlen + 2 * _SLOT_BITS > 28:
        raise ValueError(f"{vpc_cidr}: need an IPv4 block of /22 or larger (AWS subnets are /28 at smallest)")
    slots = list(net.subnets(prefixlen_diff=_SLOT_BITS))
    public = list(slots[-1].subnets(prefixlen_diff=_SLOT_BITS))
    return [ZoneSubnets(z, str(slots[i]), str(public[i])) for i, z in enumerate(zones)]


KARPENTER_DISCOVERY_TAG = "karpenter.sh/discovery"


def partition(region: str) -> str:
    """AWS partition of a region, for building ARNs of AWS-managed policies without an invoke."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("eu-isoe-"):
        return "aws-iso-e"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


def ami_type(instance_type: str) -> str:
    """AL2023 AMI family for an instance type: Graviton families carry a 'g' after the generation
    digit (m7g, c6gn, r8gd); GPU families (g5, p5) do not, so they stay x86_64."""
    family = instance_type.split(".", 1)[0]
    return "AL2023_ARM_64_STANDARD" if re.match(r"^[a-z]+\d+g", family) else "AL2023_x86_64_STANDARD"


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        },
        sort_keys=True,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-")


@dataclass(frozen=True)
class _Network:
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]


def _network(parent: pulumi.Resource, name: str, args: KubernetesClusterArgs) -> _Network:
    create = args.spec.create
    assert create is not None
    new = create.network.new
    if new is None:
        ex = create.network.existing
        assert ex is not None
        if create.capacity_engine == "karpenter":
            # Karpenter selects node subnets by tag; on subnets gpufleet does not manage, a
            # standalone tag (the subnet's other tags stay untouched).
            for sid in ex.subnet_ids:
                aws.ec2.Tag(f"{name}-discovery-{sid}",
                            aws.ec2.TagArgs(resource_id=sid, key=KARPENTER_DISCOVERY_TAG, value=args.cluster_name),
                            opts=pulumi.ResourceOptions(parent=parent))
        return _Network(pulumi.Output.from_input(ex.network_id), [pulumi.Output.from_input(s) for s in ex.subnet_ids])

    opts = pulumi.ResourceOptions(parent=parent)
    cn = args.cluster_name

    def tags(label: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**args.tags, **(extra or {}), "Name": f"{cn}-{label}"}

    vpc = aws.ec2.Vpc(
        f"{name}-vpc",
        aws.ec2.VpcArgs(cidr_block=new.cidr, enable_dns_support=True, enable_dns_hostnames=True, tags=tags("vpc")),
        opts=opts,
    )
    igw = aws.ec2.InternetGateway(f"{name}-igw", aws.ec2.InternetGatewayArgs(vpc_id=vpc.id, tags=tags("igw")), opts=opts)

    public_rt = aws.ec2.RouteTable(
        f"{name}-public-rt", aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags=tags("public")), opts=opts
    )
    # Separate Route resources, not inline routes: inline and standalone routes fight each other.
    aws.ec2.Route(
        f"{name}-public-default",
        aws.ec2.RouteArgs(route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id),
        opts=opts,
    )

    plan = plan_subnets(new.cidr, list(create.zones))
    # Karpenter selects the nodes' subnets by this tag (EC2NodeClass subnetSelectorTerms).
    discovery = {KARPENTER_DISCOVERY_TAG: cn} if create.capacity_engine == "karpenter" else {}
    # Prod pays for a NAT per zone so losing one zone does not cut egress for the others; dev and
    # staging share one NAT in the first zone.
    per_zone_nat = args.environment == "prod"
    privates: list[pulumi.Output[str]] = []
    nat: aws.ec2.NatGateway | None = None
    for z in plan:
        public = aws.ec2.Subnet(
            f"{name}-public-{z.zone}",
            aws.ec2.SubnetArgs(
                vpc_id=vpc.id,
                availability_zone=z.zone,
                cidr_block=z.public_cidr,
                # Only NAT gateways and load balancers live here; nothing should get a public IP implicitly.
                map_public_ip_on_launch=False,
                tags=tags(f"public-{z.zone}", {"kubernetes.io/role/elb": "1"}),
            ),
            opts=opts,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-public-rta-{z.zone}",
            aws.ec2.RouteTableAssociationArgs(route_table_id=public_rt.id, subnet_id=public.id),
            opts=opts,
        )
        if nat is None or per_zone_nat:
            eip = aws.ec2.Eip(f"{name}-nat-eip-{z.zone}", aws.ec2.EipArgs(domain="vpc", tags=tags(f"nat-{z.zone}")), opts=opts)
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{z.zone}",
                aws.ec2.NatGatewayArgs(allocation_id=eip.id, subnet_id=public.id, tags=tags(f"nat-{z.zone}")),
                # A NAT gateway needs the VPC to have an internet gateway before it can pass traffic.
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[igw]),
            )
        private = aws.ec2.Subnet(
            f"{name}-private-{z.zone}",
            aws.ec2.SubnetArgs(
                vpc_id=vpc.id,
                availability_zone=z.zone,
                cidr_block=z.private_cidr,
                map_public_ip_on_launch=False,
                tags=tags(f"private-{z.zone}", {"kubernetes.io/role/internal-elb": "1", **discovery}),
            ),
            opts=opts,
        )
        # One private route table per zone in every environment: only the NAT target differs.
        rt = aws.ec2.RouteTable(
            f"{name}-private-rt-{z.zone}", aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags=tags(f"private-{z.zone}")), opts=opts
        )
        aws.ec2.Route(
            f"{name}-private-default-{z.zone}",
            aws.ec2.RouteArgs(route_table_id=rt.id, destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat.id),
            opts=opts,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-private-rta-{z.zone}",
            aws.ec2.RouteTableAssociationArgs(route_table_id=rt.id, subnet_id=private.id),
            opts=opts,
        )
        privates.append(private.id)
    return _Network(vpc.id, privates)


def _role(
    parent: pulumi.Resource, name: str, role: str, service: str, policies: list[str], pfx: str, tags: dict[str, str]
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """A service role plus attachments of AWS-managed policies (attachments rather than the
    deprecated managed_policy_arns, so other code may attach more without a fight)."""
    r = aws.iam.Role(
        f"{name}-{role}",
        aws.iam.RoleArgs(assume_role_policy=_trust(service), tags=tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    attachments: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{role}-{p}",
            aws.iam.RolePolicyAttachmentArgs(role=r.name, policy_arn=f"arn:{pfx}:iam::aws:policy/{p}"),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for p in sorted(policies)
    ]
    return r, attachments


def create(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs) -> ClusterBuild:
    c = args.spec.create
    assert c is not None
    opt = c.aws or AwsClusterOptions()
    prod = args.environment == "prod"
    pfx = partition(args.region)
    tags = dict(args.tags)
    opts = pulumi.ResourceOptions(parent=parent)

    net = _network(parent, name, args)

    cluster_role, cluster_deps = _role(parent, name, "cluster-role", "eks.amazonaws.com", CLUSTER_POLICIES, pfx, tags)
    node_role, node_deps = _role(parent, name, "node-role", "ec2.amazonaws.com", NODE_POLICIES, pfx, tags)

    encryption = None
    if c.secrets_encryption:
        key_arn: pulumi.Input[str]
        if opt.kms_key_arn:
            key_arn = opt.kms_key_arn
        else:
            key = aws.kms.Key(
                f"{name}-secrets-key",
                aws.kms.KeyArgs(
                    description=f"EKS secrets envelope encryption for {args.cluster_name}",
                    enable_key_rotation=True,
                    deletion_window_in_days=30,
                    tags=tags,
                ),
                # Losing the key makes every secret in etcd (and its backups) unreadable.
                opts=pulumi.ResourceOptions(parent=parent, protect=prod, retain_on_delete=prod),
            )
            aws.kms.Alias(
                f"{name}-secrets-key-alias",
                aws.kms.AliasArgs(name=f"alias/gpufleet/{args.cluster_name}/eks-secrets", target_key_id=key.key_id),
                opts=opts,
            )
            key_arn = key.arn
        # The control plane uses the key through the cluster role (the default key policy
        # delegates to IAM), so the role is granted exactly this key and nothing broader.
        cluster_deps.append(
            aws.iam.RolePolicy(
                f"{name}-cluster-role-kms",
                aws.iam.RolePolicyArgs(
                    role=cluster_role.name,
                    policy=pulumi.Output.from_input(key_arn).apply(
                        lambda arn: json.dumps(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"],
                                        "Resource": arn,
                                    }
                                ],
                            },
                            sort_keys=True,
                        )
                    ),
                ),
                opts=opts,
            )
        )
        encryption = aws.eks.ClusterEncryptionConfigArgs(
            resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key_arn)
        )

    if c.control_plane_logging:
        # Created here rather than implicitly by EKS so retention is bounded and the group is
        # owned (and retained in prod) by this stack.
        logs = aws.cloudwatch.LogGroup(
            f"{name}-cluster-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/eks/{args.cluster_name}/cluster",
                retention_in_days=args.log_retention_days,
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=prod),
        )
        cluster_deps.append(logs)

    public = c.endpoint_access == "public_and_private"
    cluster = aws.eks.Cluster(
        f"{name}-eks",
        aws.eks.ClusterArgs(
            name=args.cluster_name,
            version=c.version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=net.private_subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(c.public_access_cidrs) if public else None,
            ),
            enabled_cluster_log_types=list(LOG_TYPES) if c.control_plane_logging else None,
            encryption_config=encryption,
            # Access entries only, no aws-auth ConfigMap. With admin roles listed, only they are
            # admins; without, the identity running `pulumi up` gets a (visible, removable) access
            # entry so it can deploy the in-cluster components.
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=not (c.aws and c.aws.admin_role_arns),
            ),
            tags=tags,
        ),
        # The role's policies must exist before EKS uses the role and until it is done deleting.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=cluster_deps, protect=prod),
    )

    issuer = cluster.identities[0].oidcs[0].issuer
    # No thumbprint_lists: optional in pulumi-aws 7 and in the IAM API since 2024. IAM verifies
    # the EKS issuer against its own trusted root CAs, and a pinned thumbprint would only go
    # stale when the certificate rotates.
    oidc = aws.iam.OpenIdConnectProvider(
        f"{name}-oidc",
        aws.iam.OpenIdConnectProviderArgs(url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags),
        opts=opts,
    )

    for arn in opt.admin_role_arns:  # sorted and deduplicated by the args model
        account, role_name = arn.split(":")[4], arn.split("/")[-1]
        label = f"{name}-admin-{account}-{_slug(role_name)}"
        entry = aws.eks.AccessEntry(
            label,
            aws.eks.AccessEntryArgs(cluster_name=cluster.name, principal_arn=arn, type="STANDARD", tags=tags),
            opts=opts,
        )
        aws.eks.AccessPolicyAssociation(
            f"{label}-policy",
            aws.eks.AccessPolicyAssociationArgs(
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=f"arn:{pfx}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            ),
            opts=opts,
        )

    # The VPC CNI as a managed add-on with its network policy agent on: without it EKS enforces no
    # NetworkPolicy (gpufleet's default-deny and allow policies would be inert). The add-on takes
    # over the aws-node DaemonSet EKS bootstraps (OVERWRITE); its version is EKS's default for the
    # cluster version unless upgraded through the add-on.
    aws.eks.Addon(
        f"{name}-vpc-cni",
        aws.eks.AddonArgs(
            cluster_name=cluster.name,
            addon_name="vpc-cni",
            configuration_values=json.dumps({"enableNetworkPolicy": "true"}, sort_keys=True),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )

    if c.capacity_engine == "karpenter":
        # Karpenter's nodes join the security group EKS created for the cluster (as managed node
        # groups' nodes do), selected by tag; EKS owns the group, so a standalone tag.
        aws.ec2.Tag(
            f"{name}-sg-discovery",
            aws.ec2.TagArgs(resource_id=cluster.vpc_config.cluster_security_group_id, key=KARPENTER_DISCOVERY_TAG,
                            value=args.cluster_name),
            opts=pulumi.ResourceOptions(parent=parent),
        )

    system = system_pool_size(c, "aws")
    general = general_pool_size(c, "aws", args.environment)
    pools = [
        _node_group(parent, name, args, cluster, node_role, net, node_deps, size, f"{label} node group of {args.cluster_name}")
        for size, label in ((system, "System"), (general, "General-purpose"))
    ]

    region = args.region
    kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
        lambda a: eks_kubeconfig(a[0], a[1], a[2], region)
    )
    return ClusterBuild(
        cluster_name=cluster.name,
        endpoint=cluster.endpoint,
        kubeconfig=kubeconfig,
        identity=WorkloadIdentity(kind="irsa", oidc_issuer_url=issuer, oidc_provider_arn=oidc.arn),
        created=True,
        network_id=net.vpc_id,
        subnet_ids=pulumi.Output.all(*net.private_subnet_ids).apply(list),
        node_role_arn=node_role.arn,
        zones=tuple(c.zones) if c.network.new is not None else (),
        cluster_resource=cluster,
        node_pools=tuple(pools),
    )


def _node_group(
    parent: pulumi.Resource,
    name: str,
    args: KubernetesClusterArgs,
    cluster: aws.eks.Cluster,
    node_role: aws.iam.Role,
    net: _Network,
    node_deps: list[pulumi.Resource],
    size: NodePoolSize,
    description: str,
) -> aws.eks.NodeGroup:
    """An on-demand managed node group (system or general) with a hardened launch template."""
    role = size.role
    opts = pulumi.ResourceOptions(parent=parent)
    tags = dict(args.tags)
    node_tags = {**tags, "Name": f"{args.cluster_name}-{role}"}
    lt = aws.ec2.LaunchTemplate(
        f"{name}-{role}-lt",
        aws.ec2.LaunchTemplateArgs(
            description=description,
            # IMDSv2 only, hop limit 1: pods sit one network hop behind the node, so they cannot
            # reach IMDS and borrow the node role; they get AWS credentials through IRSA instead.
            # hostNetwork add-ons (VPC CNI, kube-proxy) still reach it.
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # root device of the AL2023 EKS AMIs
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=size.disk_size_gib, volume_type="gp3", encrypted="true", delete_on_termination="true"
                    ),
                )
            ],
            # Provider default tags do not reach instances EKS launches; tag them here for cost reports.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=rt, tags=node_tags)
                for rt in ("instance", "network-interface", "volume")
            ],
            tags=tags,
        ),
        opts=opts,
    )
    return aws.eks.NodeGroup(
        f"{name}-{role}",
        aws.eks.NodeGroupArgs(
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=net.private_subnet_ids,
            capacity_type="ON_DEMAND",
            instance_types=[size.instance_type],
            ami_type=ami_type(size.instance_type),
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=size.min_nodes, max_size=size.max_nodes, desired_size=size.min_nodes
            ),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=lt.id, version=lt.latest_version.apply(str)),
            labels=dict(size.labels),
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(
            parent=parent,
            # Nodes need their policies to join, and to drain cleanly on delete.
            depends_on=node_deps,
            # The cluster autoscaler owns the live size; re-applying min would scale it back down.
            ignore_changes=["scalingConfig.desiredSize"],
        ),
    )


def _required(value: Any, key: str, stack: str) -> Any:
    # Fail on a missing output instead of passing None on: a Kubernetes provider given no
    # kubeconfig falls back to the operator's ambient ~/.kube/config (whatever cluster that is),
    # and an IRSA trust policy built from None would be silently wrong.
    if value is None or value == "":
        raise ValueError(f"stack {stack!r} has no output {key!r} (needed to adopt its cluster)")
    return value


def _kubeconfig_server(kubeconfig: str, stack: str) -> str:
    import yaml  # kubeconfigs are YAML or JSON; JSON is YAML

    try:
        return str(yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["server"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        raise ValueError(f"stack {stack!r}: no 'endpoint' output and no server in its kubeconfig") from None


def adopt(parent: pulumi.ComponentResource, name: str, args: KubernetesClusterArgs) -> ClusterBuild:
    a = args.spec.adopt
    assert a is not None
    region = args.region
    if a.name is not None:
        inv = pulumi.InvokeOptions(parent=parent)
        found = aws.eks.get_cluster_output(name=a.name, opts=inv)
        issuer = found.identities[0].oidcs[0].issuer
        # Looked up by URL rather than assembled from get_caller_identity + issuer host: the
        # lookup returns the real ARN (no partition/account guessing) and fails at preview when
        # the cluster has no IRSA provider, instead of yielding an ARN that IAM then rejects in
        # every trust policy built on it.
        provider = aws.iam.get_open_id_connect_provider_output(url=issuer, opts=inv)
        kubeconfig = pulumi.Output.all(found.endpoint, found.certificate_authorities[0].data).apply(
            lambda x: eks_kubeconfig(a.name, x[0], x[1], region)
        )
        return ClusterBuild(
            cluster_name=pulumi.Output.from_input(a.name),
            endpoint=found.endpoint,
            kubeconfig=kubeconfig,
            identity=WorkloadIdentity(kind="irsa", oidc_issuer_url=issuer, oidc_provider_arn=provider.arn),
            created=False,
            network_id=found.vpc_config.vpc_id,
        )

    stack = a.stack_reference
    assert stack is not None
    ref = pulumi.StackReference(f"{name}-ref", stack_name=stack, opts=pulumi.ResourceOptions(parent=parent))

    def req(key: str) -> pulumi.Output[Any]:
        return ref.get_output(key).apply(lambda v: _required(v, key, stack))

    kubeconfig = req("kubeconfig")
    # `endpoint` is optional in the referenced stack: fall back to the kubeconfig's server. The
    # server URL is not secret even though the kubeconfig it is read from is.
    endpoint = pulumi.Output.unsecret(
        pulumi.Output.all(ref.get_output("endpoint"), kubeconfig).apply(lambda x: x[0] or _kubeconfig_server(x[1], stack))
    )
    return ClusterBuild(
        cluster_name=req("clusterName"),
        endpoint=endpoint,
        kubeconfig=kubeconfig,
        identity=WorkloadIdentity(
            kind="irsa", oidc_issuer_url=req("oidcIssuerUrl"), oidc_provider_arn=req("oidcProviderArn")
        ),
        created=False,
    )
