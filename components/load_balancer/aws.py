"""AWS: the AWS Load Balancer Controller (NLB for the endpoint Service) and Route53 failover.

Imported lazily, only for stacks with an AWS region.

Controller: chart aws-load-balancer-controller 1.15.0 (app v2.15.0) from https://aws.github.io/eks-charts,
in kube-system, with an IRSA role (gpu_pool.aws helpers). Values: clusterName, region and vpcId (the
controller would otherwise read the VPC from IMDS, which the nodes' hop limit of 1 blocks for pods).

Its IAM policy is the controller's published policy (kubernetes-sigs/aws-load-balancer-controller
docs/install/iam_policy.json, v2.13-v2.15 revision) reduced to what NLB Services need: the Cognito,
WAF, WAF Regional, Shield and IAM server-certificate actions and the ALB listener-rule actions are
left out (ALB Ingress features; the chart's enableShield/enableWaf/enableWafv2 are turned off to
match). Re-check it against the published file when bumping the chart.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

LBC_CHART = ("aws-load-balancer-controller", "1.15.0", "https://aws.github.io/eks-charts")  # app v2.15.0
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
_TAG = "elbv2.k8s.aws/cluster"


def _null(key: str, value: str) -> dict[str, Any]:
    return {"Null": {key: value}}


def load_balancer_controller_policy() -> str:
    """The controller's published IAM policy, NLB subset (see module docstring)."""
    lb_arns = ["arn:aws:elasticloadbalancing:*:*:targetgroup/*/*", "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
               "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*"]
    statements = [
        {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole"], "Resource": "*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools",
            "ec2:GetSecurityGroupsForVpc",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeSSLPolicies", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeCapacityReservation",
        ]},
        # ssl-cert annotation: the controller looks the ACM certificate up.
        {"Effect": "Allow", "Action": ["acm:ListCertificates", "acm:DescribeCertificate"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": "arn:aws:ec2:*:*:security-group/*",
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                       **_null(f"aws:RequestTag/{_TAG}", "false")}},
        {"Effect": "Allow", "Action": ["ec2:CreateTags", "ec2:DeleteTags"], "Resource": "arn:aws:ec2:*:*:security-group/*",
         "Condition": {"Null": {f"aws:RequestTag/{_TAG}": "true", f"aws:ResourceTag/{_TAG}": "false"}}},
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                                       "ec2:DeleteSecurityGroup"], "Resource": "*",
         "Condition": _null(f"aws:ResourceTag/{_TAG}", "false")},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
         "Resource": "*", "Condition": _null(f"aws:RequestTag/{_TAG}", "false")},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener"],
         "Resource": "*"},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": lb_arns,
         "Condition": {"Null": {f"aws:RequestTag/{_TAG}": "true", f"aws:ResourceTag/{_TAG}": "false"}}},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": ["arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*"]},
        {"Effect": "Allow", "Resource": "*", "Condition": _null(f"aws:ResourceTag/{_TAG}", "false"), "Action": [
            "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
            "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyCapacityReservation",
        ]},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:AddTags"], "Resource": lb_arns,
         "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                       **_null(f"aws:RequestTag/{_TAG}", "false")}},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
         "Resource": "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*"},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:ModifyListener", "elasticloadbalancing:AddListenerCertificates",
                                       "elasticloadbalancing:RemoveListenerCertificates"], "Resource": "*"},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def load_balancer_controller(parent: pulumi.Resource, name: str, target: Any, cluster: Any,
                             tags: dict[str, str]) -> pulumi.Resource:
    """IRSA role + Helm release of the controller; returns the release (Services depend on it)."""
    from ..gpu_pool.aws import _irsa_role, _release

    role, policy = _irsa_role(parent, name, "aws-lb-controller", target.identity, LBC_SERVICE_ACCOUNT,
                              load_balancer_controller_policy(), dict(tags))
    chart, version, repo = LBC_CHART
    return _release(
        parent, name, "aws-lb-controller", target.provider, chart=chart, version=version, repo=repo,
        release_name="aws-load-balancer-controller",
        values={
            "clusterName": cluster.cluster_name,
            "region": target.region,
            "vpcId": cluster.network_id,
            "replicaCount": 2,
            "serviceAccount": {"create": True, "name": LBC_SERVICE_ACCOUNT,
                               "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
            # NLB Services only: the ALB add-ons need actions the policy above leaves out.
            "enableShield": False,
            "enableWaf": False,
            "enableWafv2": False,
        },
        depends_on=[policy],
    )


def build_failover(parent: pulumi.Resource, name: str, failover: Any, sides: list[Any], tags: dict[str, str],
                   provider: pulumi.ProviderResource) -> dict[str, Any]:
    """Route53: an HTTP(S) health check per endpoint and PRIMARY/SECONDARY failover CNAME records."""
    hc = failover.health_check
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    checks: dict[str, aws.route53.HealthCheck] = {}
    records: dict[str, aws.route53.Record] = {}
    for side in sides:
        check = aws.route53.HealthCheck(
            f"{name}-{side.role}-check",
            aws.route53.HealthCheckArgs(
                type="HTTPS" if side.tls else "HTTP",
                fqdn=side.address,
                port=side.port,
                resource_path=hc.path,
                request_interval=hc.interval_seconds,
                failure_threshold=hc.failure_threshold,
                # HTTPS checks send SNI = the fqdn; Route53 does not validate the certificate.
                enable_sni=True if side.tls else None,
                tags={**tags, "Name": f"{failover.dns_name}-{side.region_name}"},
            ),
            opts=opts,
        )
        checks[side.role] = check
        records[side.role] = aws.route53.Record(
            f"{name}-{side.role}-record",
            aws.route53.RecordArgs(
                zone_id=failover.zone,
                name=failover.dns_name,
                type="CNAME",
                ttl=failover.ttl_seconds,
                records=[side.address],
                set_identifier=f"{side.region_name}-{side.role}",
                failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(
                    type="PRIMARY" if side.role == "primary" else "SECONDARY")],
                health_check_id=check.id,
            ),
            opts=opts,
        )
    return {"healthChecks": checks, "records": records}
