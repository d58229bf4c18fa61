"""Issue 15: the node-pool rules of the pack cover Karpenter/NAP NodePools and EC2NodeClasses."""

from __future__ import annotations

from infra.policy.model import Provider
from infra.policy.nodepools import pools_of
from tests.policy.support import R, run

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
EC2NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
K8S = Provider(type="pulumi:providers:kubernetes", props={"clusterIdentifier": "c1"}, urn="urn:k8s", name="k8s")
FLOOR_BUDGETS = [{"nodes": "0", "reasons": ["Empty", "Underutilized"]}, {"nodes": "1", "reasons": ["Drifted"]}]


def nodepool(capacity: str, *, gpus: str = "4", taints=None, budgets=None, name: str = "np", stack: str = "dev"):
    spec = {
        "weight": 10,
        "limits": {"nvidia.com/gpu": gpus},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "10m",
                       "budgets": FLOOR_BUDGETS if budgets is None else budgets},
        "template": {
            "metadata": {"labels": {"gpufleet.io/pool": "l4", "gpufleet.io/gpu": "L4"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu-l4"},
                "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity]},
                                 {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g6.xlarge"]}],
                "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}] if taints is None
                else taints,
            },
        },
    }
    return R(NODEPOOL, {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": name}, "spec": spec},
             name=name, provider=K8S, stack=stack)


def test_a_nodepool_is_a_gpu_pool_with_its_limit_as_max():
    (pool,) = pools_of(nodepool("on-demand", gpus="4"))
    assert (pool.cloud, pool.is_gpu, pool.gpu_model, pool.gpus_per_node) == ("aws", True, "L4", 1.0)
    assert pool.max_nodes == 4 and pool.min_nodes == 4 and pool.spot is False and pool.cluster == "c1"
    (spot,) = pools_of(nodepool("spot", budgets=[{"nodes": "20%"}]))
    assert spot.spot is True and spot.min_nodes == 0


def test_an_untainted_gpu_nodepool_is_a_violation():
    assert run("gpu-pool-tainted", nodepool("spot", taints=[]))
    assert run("gpu-pool-tainted", nodepool("spot")) == []


def test_a_prod_gpu_pool_of_spot_nodepools_only_has_no_floor():
    spot = nodepool("spot", budgets=[{"nodes": "20%"}], stack="prod", name="s")
    assert run("prod-non-spot-floor", [spot], {"minNonSpotNodes": 1})
    floor = nodepool("on-demand", stack="prod", name="f")
    assert run("prod-non-spot-floor", [spot, floor], {"minNonSpotNodes": 1}) == []
    # A non-spot NodePool that may consolidate its nodes away holds no floor either.
    loose = nodepool("on-demand", stack="prod", name="f", budgets=[{"nodes": "10%"}])
    assert run("prod-non-spot-floor", [spot, loose], {"minNonSpotNodes": 1})


def node_class(**spec):
    base = {"role": "r", "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "c1"}}],
            "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "c1"}}],
            "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "200Gi", "encrypted": True}}]}
    base.update(spec)
    return R(EC2NODECLASS, {"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
                            "metadata": {"name": "gpu-l4"}, "spec": base})


def test_ec2nodeclass_imds_rules():
    assert run("ec2-imds-hop-limit", node_class()) == []
    assert run("ec2-imds-hop-limit", node_class(metadataOptions={"httpPutResponseHopLimit": 2}))
    assert run("ec2-imdsv2-required", node_class(metadataOptions={"httpTokens": "optional"}))
    # Unset options take the CRD's defaults (required, hop limit 1).
    assert run("ec2-imdsv2-required", node_class(metadataOptions=None)) == []
    assert run("ec2-imds-hop-limit", node_class(metadataOptions=None)) == []


def test_ec2nodeclass_volumes_are_encrypted():
    assert run("ebs-volumes-encrypted", node_class()) == []
    assert run("ebs-volumes-encrypted", node_class(blockDeviceMappings=[
        {"deviceName": "/dev/xvda", "ebs": {"volumeSize": "200Gi", "encrypted": False}}]))
    assert run("ebs-volumes-encrypted", node_class(blockDeviceMappings=None))
