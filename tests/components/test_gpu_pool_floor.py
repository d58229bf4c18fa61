"""The floor (reserved + on-demand base) runs after `pulumi up`, on every cloud, for every stack.

What each cloud creates at deploy time, read from the recorded inputs:
- GKE: `initialNodeCount` per node location (the autoscaler applies the minimum only on
  scale-down, so a floor missing at creation is never brought up);
- EKS: the node group's `scalingConfig.desiredSize` (the ASG's desired capacity at creation);
- AKS: the agent pool's `count`;
- Karpenter / AKS node auto-provisioning: NodePools have no size, nodes come for pods: the nodes
  the serving floor Deployment's pods need on the pool (replicas x GPUs per pod / GPUs per node),
  which the non-spot NodePools must be allowed to launch (their GPU limits).
Each pool's native pools together must create at least the pool's floor, and never more than its
maximum. The stacks: the shipped ones, the test configs and the policy pack's prod configs
(one prod stack per cloud).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from infra.config import read_stack_file
from infra.plan import Plan, make_plan

ROOT = Path(__file__).resolve().parents[2]
STACKS = {
    p.name[len("Pulumi."):-len(".yaml")]: p
    for d in ("stacks", "tests/configs", "tests/policy/configs")
    for p in sorted((ROOT / d).glob("Pulumi.*.yaml"))
    if not p.name.startswith("Pulumi.bad-")
}
POOL_TOKEN = "gpufleet:gpu_pool:GpuNodePool"


@lru_cache(maxsize=None)
def plan_for(stack: str) -> Plan:
    return make_plan(read_stack_file(STACKS[stack]), stack=stack)


def created_nodes(r: Any) -> int:
    """Nodes one native pool resource creates at deploy time (0 for other resources)."""
    i = r.inputs
    if r.type == "gcp:container/nodePool:NodePool":
        return int(i.get("initialNodeCount", 0)) * len(i["nodeLocations"])
    if r.type == "aws:eks/nodeGroup:NodeGroup":
        return int(i["scalingConfig"]["desiredSize"])
    if r.type == "azure-native:containerservice:AgentPool":
        return int(i["count"])
    return 0


NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"


def _floor_pod_nodes(plan: Plan, pool: str, gpus_per_node: int) -> int:
    """Nodes the serving floor's pods need on `pool` (Karpenter launches them at deploy)."""
    need = 0
    for r in plan.run.resources:
        if r.type != "kubernetes:apps/v1:Deployment" or not r.name.endswith("-floor"):
            continue
        spec = r.inputs["spec"]["template"]["spec"]
        if spec.get("nodeSelector", {}).get("gpufleet.io/pool") != pool:
            continue
        gpus = sum(int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0)) for c in spec["containers"])
        need += -(-int(r.inputs["spec"]["replicas"]) * gpus // gpus_per_node)
    return need


def deployed_per_pool(plan: Plan) -> dict[str, int]:
    """GpuNodePool component name -> nodes its native pools create at deploy time."""
    by_urn = {r.urn: r for r in plan.run.resources}
    out: dict[str, int] = {}
    for r in plan.run.resources:
        parent = by_urn.get(r.parent)
        if parent is not None and parent.type == POOL_TOKEN:
            out[parent.name] = out.get(parent.name, 0) + created_nodes(r)
    rows = {f"{row['region']}-{row['pool']}": row for row in plan.document["capacity"]["pools"]}
    for r in plan.run.resources:
        parent = by_urn.get(r.parent)
        if r.type == NODEPOOL and parent is not None and parent.type == POOL_TOKEN \
                and r.inputs["spec"]["template"]["spec"]["requirements"][0]["values"] != ["spot"]:
            row = rows[parent.name]
            limit = int(r.inputs["spec"]["limits"]["nvidia.com/gpu"]) // int(row["gpusPerNode"])
            need = _floor_pod_nodes(plan, row["pool"], int(row["gpusPerNode"])) - out.get(parent.name, 0)
            out[parent.name] = out.get(parent.name, 0) + min(max(need, 0), limit)
    return out


def test_every_cloud_is_covered() -> None:
    clouds = {row["cloud"] for s in STACKS for row in plan_for(s).document["capacity"]["pools"]
              if row["floorAfterSpotLoss"] > 0}
    assert clouds == {"aws", "gcp", "azure"}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_floor_runs_after_deploy(stack: str) -> None:
    plan = plan_for(stack)
    deployed = deployed_per_pool(plan)
    rows = plan.document["capacity"]["pools"]
    if not rows:
        pytest.skip(f"{stack} has no GPU pools")
    for row in rows:
        pool = f"{row['region']}-{row['pool']}"
        floor, most = row["floorAfterSpotLoss"], row["nodes"]["maxNodes"]
        assert floor <= deployed[pool] <= most, (
            f"{stack} {pool}: {deployed[pool]} node(s) created at deploy, floor {floor}, max {most}")
