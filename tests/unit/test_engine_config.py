"""Issue 15: config errors for capacity engines name the path, the value and what is allowed, all
at once, before anything is registered."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, read_stack_file, validate_platform
from tests.plan.conftest import ALL


def cfg(name: str) -> dict:
    return copy.deepcopy(read_stack_file(ALL[name]))


def problems(raw: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        validate_platform(raw)
    return {p.path: f"{p.value!r} -> {p.allowed}" for p in exc.value.problems}


CREATE = "platform.regions[0].cluster.create"
POOL = "platform.regions[0].gpu_pools[0]"


def test_karpenter_on_gke_and_nap_on_eks_are_refused():
    gke = cfg("prod")
    gke["regions"][0]["cluster"]["create"]["capacity_engine"] = "karpenter"
    found = problems(gke)
    assert "karpenter" in found[f"{CREATE}.capacity_engine"]
    assert "node_groups" in found[f"{CREATE}.capacity_engine"]
    eks = cfg("staging")
    eks["regions"][0]["cluster"]["create"]["capacity_engine"] = "node_auto_provisioning"
    assert "aws offers: node_groups | karpenter" in problems(eks)[f"{CREATE}.capacity_engine"]


def test_an_unknown_engine_is_refused_with_the_choices():
    raw = cfg("staging")
    raw["regions"][0]["cluster"]["create"]["capacity_engine"] = "autopilot"
    found = problems(raw)
    assert any(p.startswith(f"{CREATE}.capacity_engine") and "karpenter" in v for p, v in found.items())


def test_nap_cannot_target_a_reservation():
    raw = cfg("azure-nap")
    raw["regions"][0]["gpu_pools"][0]["capacity"].update({
        "reserved_nodes": 1,
        "reservation": {"id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
                              "Microsoft.Compute/capacityReservationGroups/crg",
                        "instance_type": "Standard_NC4as_T4_v3", "zone": "1"}})
    found = problems(raw)
    assert "cannot target a capacity reservation group" in found[f"{POOL}.capacity.reservation"]


def test_nap_refuses_fields_it_would_ignore_all_at_once():
    raw = cfg("azure-nap")
    raw["regions"][0]["gpu_pools"][0]["capacity"].update({"spot_eviction": "deallocate",
                                                          "spot_max_price_per_hour": 0.2})
    raw["regions"][0]["gpu_pools"][0]["update"] = {"max_surge": 1, "max_unavailable": 1}
    found = problems(raw)
    assert "delete only" in found[f"{POOL}.capacity.spot_eviction"]
    assert "no price cap" in found[f"{POOL}.capacity.spot_max_price_per_hour"]
    assert "one at a time" in found[f"{POOL}.update.max_unavailable"]


def test_nap_needs_the_cilium_dataplane():
    raw = cfg("azure-nap")
    raw["regions"][0]["cluster"]["create"]["azure"] = {"network_policy": "calico"}
    assert "Cilium" in problems(raw)[f"{CREATE}.azure.network_policy"]


def test_limits_below_the_floor_are_refused_for_karpenter():
    raw = cfg("aws-karpenter")
    raw["regions"][0]["gpu_pools"][0]["capacity"]["max_nodes"] = 1  # floor is reserved 1 + on-demand 1
    found = problems(raw)
    # The generic capacity rule and the engine's own say it, at the pool's capacity paths.
    assert any(p.startswith(f"{POOL}.capacity") for p in found)
    assert "reserved + on-demand base at most max_nodes" in found[f"{POOL}.capacity"]


def test_engine_limit_check_names_the_nodepool_limits():
    # Called directly: a plan whose non-spot NodePools hold less than serving needs.
    from components.gpu_pool.args import GpuPoolSpec
    from infra.pools import engine_limit_problems, plan_pool

    spec = GpuPoolSpec.model_validate({"name": "p", "gpu": {"model": "L4"},
                                       "capacity": {"max_nodes": 4, "on_demand_base_nodes": 2, "spot_percent": 100}})
    plan, _ = plan_pool("aws", "us-east-1", "staging", spec, ["us-east-1a", "us-east-1b"], engine="karpenter")
    assert plan is not None and engine_limit_problems(plan, spec) == []
    starved = plan.model_copy(update={"capacity": plan.capacity.model_copy(
        update={"on_demand": plan.capacity.on_demand.model_copy(update={"max": 0})})})
    (found,) = engine_limit_problems(starved, spec)
    assert found[0] == "capacity.max_nodes" and "gpu-p-spot" in found[2] and "floor needs 2" in found[2]


def test_keep_node_groups_only_while_moving_to_karpenter():
    raw = cfg("dev")
    raw["regions"][0]["cluster"]["create"].update({"capacity_engine": "node_auto_provisioning",
                                                   "keep_node_groups": True})
    assert "AKS refuses autoscaling agent pools" in problems(raw)[f"{CREATE}.keep_node_groups"]
    raw = cfg("staging")
    raw["regions"][0]["cluster"]["create"]["keep_node_groups"] = True
    assert f"{CREATE}.keep_node_groups" in problems(raw)


def test_karpenter_refuses_the_block_drain_it_does_itself():
    raw = cfg("aws-karpenter")
    raw["regions"][0]["gpu_pools"][0]["capacity"]["reservation"].update({})
    raw["regions"][0]["gpu_pools"][0]["update"] = {"max_surge": 1, "max_unavailable": 1}
    assert "one at a time" in problems(raw)[f"{POOL}.update.max_unavailable"]
