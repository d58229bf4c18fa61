"""Worker nodes: instance metadata, public IPs and disk encryption."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..model import Resource, as_list, get, is_unknown, num, resource_rule, truthy
from ..nodepools import AKS_AGENTPOOL, AKS_CLUSTER, pools_of

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_CONFIG = "aws:ec2/launchConfiguration:LaunchConfiguration"
EBS_VOLUME = "aws:ebs/volume:Volume"
GKE_POOL = "gcp:container/nodePool:NodePool"
# Karpenter's node class: metadata options and block devices of every node it launches. Unset
# metadata options take the CRD's defaults (httpTokens required, hop limit 1; karpenter.k8s.aws/v1).
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
NODE_CLASS_METADATA_DEFAULTS = {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}


def _metadata_options(r: Resource) -> Any:
    if r.type != EC2_NODE_CLASS:
        return r.props.get("metadataOptions")
    meta = get(r.props, "spec.metadataOptions")
    if is_unknown(meta):
        return meta
    return {**NODE_CLASS_METADATA_DEFAULTS, **(meta if isinstance(meta, Mapping) else {})}


@resource_rule(
    "ec2-imdsv2-required",
    summary="EC2 nodes (launch templates, instances) require IMDSv2 session tokens.",
    area="node-pools", severity="high", level="mandatory", ids=("CKV_AWS_79",),
    types=(LAUNCH_TEMPLATE, INSTANCE, LAUNCH_CONFIG, EC2_NODE_CLASS),
    remediation='Set metadata_options http_tokens="required" (gpufleet launch templates do).',
)
def ec2_imdsv2_required(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    meta = _metadata_options(r)
    if is_unknown(meta):
        return
    endpoint, tokens = get(meta, "httpEndpoint"), get(meta, "httpTokens")
    if is_unknown(endpoint) or is_unknown(tokens) or endpoint == "disabled":
        return
    if tokens != "required":
        yield f"metadataOptions.httpTokens is {tokens or 'unset (IMDSv1 allowed)'}, not required"


@resource_rule(
    "ec2-imds-hop-limit",
    summary="EC2 nodes keep the IMDS response hop limit at 1, so pods cannot reach the node role's "
    "credentials through the instance metadata service.",
    area="node-pools", severity="medium", level="mandatory", ids=("CKV_AWS_341",),
    types=(LAUNCH_TEMPLATE, INSTANCE, LAUNCH_CONFIG, EC2_NODE_CLASS),
    config={"maxHopLimit": {"type": "integer", "default": 1, "description": "Highest hop limit allowed."}},
    remediation="Set metadata_options http_put_response_hop_limit=1 explicitly (EKS AL2023 AMIs default to 2).",
)
def ec2_imds_hop_limit(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    meta = _metadata_options(r)
    if is_unknown(meta):
        return
    endpoint, hops = get(meta, "httpEndpoint"), get(meta, "httpPutResponseHopLimit")
    if is_unknown(endpoint) or is_unknown(hops) or endpoint == "disabled":
        return
    limit = num(cfg.get("maxHopLimit"))
    limit = 1.0 if limit is None else limit
    value = num(hops)
    if value is None:
        yield "metadataOptions.httpPutResponseHopLimit is unset (the AMI decides; EKS AL2023 AMIs use 2)"
    elif value > limit:
        yield f"metadataOptions.httpPutResponseHopLimit is {value:g} (max {limit:g})"


@resource_rule(
    "node-pools-no-public-ip",
    summary="Worker nodes get no public IP: launch templates/instances do not associate one, AKS pools do not "
    "enable node public IPs, GKE pools do not opt out of private nodes.",
    area="node-pools", severity="high", level="mandatory", ids=("CKV_AWS_88",),
    types=(LAUNCH_TEMPLATE, INSTANCE, AKS_AGENTPOOL, AKS_CLUSTER, GKE_POOL),
    remediation="Place nodes in private subnets behind NAT; keep enable_node_public_ip false.",
)
def node_pools_no_public_ip(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == LAUNCH_TEMPLATE:
        for i, ni in enumerate(as_list(r.props.get("networkInterfaces"))):
            if truthy(get(ni, "associatePublicIpAddress")) is True:
                yield f"networkInterfaces[{i}].associatePublicIpAddress is true"
    elif r.type == INSTANCE:
        if truthy(r.props.get("associatePublicIpAddress")) is True:
            yield "associatePublicIpAddress is true"
    elif r.type == GKE_POOL:
        if truthy(get(r.props, "networkConfig.enablePrivateNodes")) is False:
            yield "networkConfig.enablePrivateNodes is false (nodes get public IPs)"
    else:
        for pool in pools_of(r):
            if pool.public_ip is True:
                yield f"agent pool {pool.name} has enableNodePublicIP true"


@resource_rule(
    "ebs-volumes-encrypted",
    summary="EBS volumes of nodes are encrypted (launch template block devices, instance disks, volumes).",
    area="node-pools", severity="high", level="mandatory", ids=("CKV_AWS_8", "CKV_AWS_3"),
    types=(LAUNCH_TEMPLATE, INSTANCE, LAUNCH_CONFIG, EBS_VOLUME, EC2_NODE_CLASS),
    remediation="Set encrypted=true on every block device mapping (gpufleet launch templates do).",
)
def ebs_volumes_encrypted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    checks: list[tuple[str, Any]] = []
    if r.type == EBS_VOLUME:
        checks.append(("encrypted", r.props.get("encrypted")))
    elif r.type == INSTANCE:
        if r.props.get("rootBlockDevice") is not None:
            checks.append(("rootBlockDevice.encrypted", get(r.props, "rootBlockDevice.encrypted")))
        for i, d in enumerate(as_list(r.props.get("ebsBlockDevices"))):
            checks.append((f"ebsBlockDevices[{i}].encrypted", get(d, "encrypted")))
    elif r.type == LAUNCH_CONFIG:
        if r.props.get("rootBlockDevice") is not None:
            checks.append(("rootBlockDevice.encrypted", get(r.props, "rootBlockDevice.encrypted")))
        for i, d in enumerate(as_list(r.props.get("ebsBlockDevices"))):
            checks.append((f"ebsBlockDevices[{i}].encrypted", get(d, "encrypted")))
    elif r.type == EC2_NODE_CLASS:
        # No mappings: the AMI's root volume, which Karpenter does not encrypt unless told.
        maps = get(r.props, "spec.blockDeviceMappings")
        if maps is None:
            checks.append(("spec.blockDeviceMappings", None))
        for i, m in enumerate(as_list(maps)):
            if get(m, "ebs") is not None and get(m, "ebs.snapshotID") is None:
                checks.append((f"spec.blockDeviceMappings[{i}].ebs.encrypted", get(m, "ebs.encrypted")))
    else:
        for i, m in enumerate(as_list(r.props.get("blockDeviceMappings"))):
            if get(m, "ebs") is not None and get(m, "ebs.snapshotId") is None:
                checks.append((f"blockDeviceMappings[{i}].ebs.encrypted", get(m, "ebs.encrypted")))
    for where, value in checks:
        if not is_unknown(value) and truthy(value) is not True:
            yield f"{where} is not true"
