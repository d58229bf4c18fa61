"""Computed-output placeholders for aws resources and invokes (see package docstring).

Only attributes a component reads back are listed. Resource ids (VPC, subnet, EIP, launch
template ...) need no entry: the mock already returns `<name>-id` as the id.
"""

from __future__ import annotations

from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _issuer(kind: str, name: str) -> str:
    # Kept URL-shaped: consumers strip "https://" to build IRSA trust-policy condition keys.
    return f"https://{_ph(kind, name, 'oidcIssuer')}"


def _eks_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": _ph("eks.Cluster", name, "arn"),
        "endpoint": _ph("eks.Cluster", name, "endpoint"),
        "certificateAuthority": {"data": _ph("eks.Cluster", name, "certificateAuthority.data")},
        "identities": [{"oidcs": [{"issuer": _issuer("eks.Cluster", name)}]}],
        # The security group EKS creates for the cluster (Karpenter's discovery tag targets it).
        "vpcConfig": {"clusterSecurityGroupId": _ph("eks.Cluster", name, "vpcConfig.clusterSecurityGroupId")},
    }


def _arn(kind: str) -> Any:
    return lambda name, inputs: {"arn": _ph(kind, name, "arn")}


def _kms_key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"arn": _ph("kms.Key", name, "arn"), "keyId": _ph("kms.Key", name, "keyId")}


def _launch_template(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # A number on the wire (the SDK types it int); a new template starts at version 1.
    return {"latestVersion": 1}


def _get_cluster(args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name", "?"))
    return {
        "arn": _ph("eks.getCluster", name, "arn"),
        "endpoint": _ph("eks.getCluster", name, "endpoint"),
        "certificateAuthorities": [{"data": _ph("eks.getCluster", name, "certificateAuthorities[0].data")}],
        "identities": [{"oidcs": [{"issuer": _issuer("eks.getCluster", name)}]}],
        "vpcConfig": {"vpcId": _ph("eks.getCluster", name, "vpcConfig.vpcId")},
    }


def _get_oidc_provider(args: dict[str, Any]) -> dict[str, Any]:
    return {"arn": _ph("iam.getOpenIdConnectProvider", str(args.get("url", "?")), "arn")}


RESOURCES: dict[str, Any] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    # `name` is auto-named by the engine (random suffix), so it is computed too.
    "aws:iam/role:Role": lambda name, inputs: {"arn": _ph("iam.Role", name, "arn"), "name": _ph("iam.Role", name, "name")},
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _arn("iam.OpenIdConnectProvider"),
    "aws:kms/key:Key": _kms_key,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
}
CALLS: dict[str, Any] = {
    "aws:eks/getCluster:getCluster": _get_cluster,
    "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": _get_oidc_provider,
}
