"""Karpenter / AKS NAP NodePools compiled from the capacity plan (pure): the floor survives losing
every spot node for any mix, and the engines plan the same capacity and cost as node groups."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from components.gpu_pool.args import GpuPoolSpec
from components.gpu_pool.karpenter import (
    CAPACITY_TYPE_KEY, GPU_RESOURCE, WEIGHTS, ec2_node_class, floor_after_spot_loss, node_pools,
)
from infra.pools import plan_pool, pool_cost

AWS = ("aws", "us-east-1", ["us-east-1a", "us-east-1b", "us-east-1c"], "L4", "karpenter")
AZURE = ("azure", "eastus", ["1", "2", "3"], "T4", "node_auto_provisioning")


def _spec(cloud: str, model: str, reserved: int, base: int, extra: int, spot: int, serving: int,
          surge: int = 1) -> GpuPoolSpec:
    capacity: dict = {"reserved_nodes": reserved, "on_demand_base_nodes": base,
                      "max_nodes": max(1, reserved + base + extra), "spot_percent": spot}
    if reserved:
        capacity["reservation"] = {"id": "cr-0123456789abcdef0", "instance_type": "g6.xlarge", "zone": "us-east-1a"}
    return GpuPoolSpec.model_validate({"name": "p", "gpu": {"model": model}, "capacity": capacity,
                                       "serving_min_nodes": serving,
                                       "update": {"max_surge": surge, "max_unavailable": 0}})


def _plan(cloud, region, zones, spec, engine):
    plan, problems = plan_pool(cloud, region, "staging", spec, zones, engine=engine)
    assert problems == [] and plan is not None, problems
    return plan


mixes = st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 12), st.integers(0, 100),
                  st.integers(0, 6), st.integers(1, 3))


@settings(max_examples=60, deadline=None)
@given(mix=mixes, azure=st.booleans())
def test_the_floor_survives_losing_every_spot_node(mix, azure):
    reserved, base, extra, spot, serving, surge = mix
    cloud, region, zones, model, engine = AZURE if azure else AWS
    if azure:
        reserved = 0  # NAP cannot target a reservation (refused at config time)
    serving = min(serving, reserved + base)
    plan = _plan(cloud, region, zones, _spec(cloud, model, reserved, base, extra, spot, serving, surge), engine)
    docs = node_pools(plan, "azure" if azure else "aws")
    per_node = plan.instance.gpus
    kept = floor_after_spot_loss(docs, per_node)
    assert kept >= plan.capacity.floor >= serving
    # Steady-state max: the GPU limits cover the plan's max (plus the on-demand replacement headroom).
    total = sum(int(d.spec["limits"][GPU_RESOURCE]) for d in docs)
    cap = plan.capacity
    assert total == (cap.reserved.max + cap.on_demand.max + cap.spot.max
                     + (surge if cap.on_demand.max > 0 else 0)) * per_node
    for d in docs:
        reqs = {r["key"]: r for r in d.spec["template"]["spec"]["requirements"]}
        assert reqs[CAPACITY_TYPE_KEY]["values"] == [d.capacity_type]
        assert d.spec["weight"] == WEIGHTS[d.capacity_type]
        budgets = d.spec["disruption"]["budgets"]
        if d.capacity_type == "spot":
            assert d.spec["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
        else:
            # Floor nodes: never consolidated away, never expired, rotated one at a time on drift.
            assert {"nodes": "0", "reasons": ["Empty", "Underutilized"]} in budgets
            assert {"nodes": "1", "reasons": ["Drifted"]} in budgets
            assert d.spec["template"]["spec"]["expireAfter"] == "Never"
            assert d.capacity_type in ("reserved", "on-demand")
    # The floor is placed on non-spot NodePools only; spot has none of it.
    non_spot = [d for d in docs if d.capacity_type != "spot"]
    assert bool(non_spot) == (plan.capacity.floor > 0 or cap.on_demand.max > 0)


def test_a_consolidating_floor_nodepool_keeps_nothing():
    # Guards floor_after_spot_loss itself: a non-spot NodePool that may be consolidated holds no floor.
    plan = _plan(*AWS[:3], _spec("aws", "L4", 0, 2, 2, 50, 2), "karpenter")
    docs = node_pools(plan, "aws")
    assert floor_after_spot_loss(docs, 1) >= 2
    for d in docs:
        d.spec["disruption"]["budgets"] = [{"nodes": "10%"}]
    assert floor_after_spot_loss(docs, 1) == 0


@settings(max_examples=40, deadline=None)
@given(mix=mixes)
def test_every_engine_plans_the_same_capacity_and_cost(mix):
    reserved, base, extra, spot, serving, surge = mix
    serving = min(serving, reserved + base)
    for cloud, region, zones, model, engine in (AWS, AZURE):
        r = 0 if cloud == "azure" else reserved
        # EKS node groups take a surge of 0 or 1 only.
        spec = _spec(cloud, model, r, base, extra, spot, min(serving, r + base), 1 if cloud == "aws" else surge)
        groups = _plan(cloud, region, zones, spec, "node_groups")
        other = _plan(cloud, region, zones, spec, engine)
        assert other.capacity == groups.capacity
        assert pool_cost(other) == pool_cost(groups)


def test_reserved_nodes_target_the_reservation_in_its_zone():
    plan = _plan(*AWS[:3], _spec("aws", "L4", 2, 1, 3, 100, 1), "karpenter")
    reserved = next(d for d in node_pools(plan, "aws") if d.capacity_type == "reserved")
    reqs = {r["key"]: r["values"] for r in reserved.spec["template"]["spec"]["requirements"]}
    assert reqs["topology.kubernetes.io/zone"] == ["us-east-1a"]
    assert reserved.spec["limits"][GPU_RESOURCE] == "2"  # no surge room inside a reservation
    cls = ec2_node_class(plan, role="r", cluster_name="c", tags={})
    assert cls["capacityReservationSelectorTerms"] == [{"id": "cr-0123456789abcdef0"}]


def test_spot_diversity_becomes_instance_type_requirements_of_any_shape():
    # g6.2xlarge has twice g6.xlarge's vCPU and memory: refused for one EKS node group, fine for Karpenter.
    spec = GpuPoolSpec.model_validate({"name": "p", "gpu": {"model": "L4"},
                                       "capacity": {"max_nodes": 6, "spot_instance_types": ["g6.2xlarge"]}})
    _, problems = plan_pool(*AWS[:2], "staging", spec, AWS[2])
    assert [p[0] for p in problems] == ["capacity.spot_instance_types[0]"]
    plan, problems = plan_pool(*AWS[:2], "staging", spec, AWS[2], engine="karpenter")
    assert problems == []
    spot = next(d for d in node_pools(plan, "aws") if d.capacity_type == "spot")
    reqs = {r["key"]: r["values"] for r in spot.spec["template"]["spec"]["requirements"]}
    assert reqs["node.kubernetes.io/instance-type"] == ["g6.2xlarge", "g6.xlarge"]


def test_azure_zones_are_the_node_labels_aks_sets():
    plan = _plan(*AZURE[:3], _spec("azure", "T4", 0, 1, 2, 50, 0), "node_auto_provisioning")
    for d in node_pools(plan, "azure"):
        reqs = {r["key"]: r["values"] for r in d.spec["template"]["spec"]["requirements"]}
        assert reqs["topology.kubernetes.io/zone"] == ["eastus-1", "eastus-2", "eastus-3"]
