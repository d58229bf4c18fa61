"""Item 7 of issue 16: Capacity Blocks for ML are refused for types they are not sold for, drain
and scale to zero before the block ends (an EventBridge Scheduler schedule, the node termination
handler even without spot), are priced at the block's price and shown at min as paid whole."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import pytest

from components.gpu_pool.args import GpuPoolSpec
from components.gpu_pool.aws import drain_input, drain_time
from infra.config import ConfigError, validate_platform
from infra.plan.runner import ProgramRun
from infra.pools import capacity_row, plan_pool
from tests.components.test_gpu_pool_aws import BLOCK, ON_DEMAND_ONLY, RELEASE, asg, node_groups, run_gpu

SCHEDULE = "aws:scheduler/schedule:Schedule"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
P = "platform.regions[0].gpu_pools[0]"


def block_pool(**reservation) -> dict:
    res = {"id": "cr-0fedcba9876543210", "instance_type": "p5.48xlarge", "zone": "us-east-1c",
           "kind": "capacity_block", "ends_at": "2027-01-15T11:30:00Z", **reservation}
    return {"name": "h100", "gpu": {"model": "H100", "gpus_per_node": 8},
            "capacity": {"max_nodes": 3, "reserved_nodes": 2, "on_demand_base_nodes": 1, "spot_percent": 0,
                         "reservation": res}}


PROD = {
    "environment": "prod",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "regions": [{
        "name": "use1", "cloud": "aws", "region": "us-east-1",
        "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b", "us-east-1c"]}},
        "gpu_pools": [block_pool()],
    }],
}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: p.allowed for p in info.value.problems}


def plan_of(spec: dict, now: datetime = NOW):
    return plan_pool("aws", "us-east-1", "prod", GpuPoolSpec.model_validate(spec),
                     ["us-east-1a", "us-east-1b", "us-east-1c"], now=now)


# --- config -----------------------------------------------------------------------------------


def test_a_type_capacity_blocks_are_not_sold_for_is_refused():
    raw = copy.deepcopy(PROD)
    raw["regions"][0]["gpu_pools"][0] = {
        **block_pool(instance_type="p4de.24xlarge"), "gpu": {"model": "A100-80GB", "gpus_per_node": 8}}
    allowed = problems(raw)[f"{P}.capacity.reservation.instance_type"]
    assert "sold as Capacity Blocks for ML in us-east-1: ['p5.48xlarge']" in allowed and "User Guide" in allowed


def test_a_type_sold_as_blocks_only_elsewhere_names_the_regions():
    pool = {**block_pool(instance_type="p4d.24xlarge"), "gpu": {"model": "A100-40GB", "gpus_per_node": 8}}
    _, found = plan_of(pool)
    (allowed,) = [a for p, _, a in found if p == "capacity.reservation.instance_type"]
    assert "['us-east-2', 'us-west-2']" in allowed


@pytest.mark.parametrize("changes, path, fragment", [
    ({"ends_at": None}, "capacity.reservation", "needs ends_at"),
    ({"ends_at": "2027-01-15T12:00:00Z"}, "capacity.reservation.ends_at", "end at 11:30 UTC"),
    ({"ends_at": "2027-01-15T11:30:00"}, "capacity.reservation.ends_at", "time zone"),
    ({"drain_before_end_minutes": 30}, "capacity.reservation.drain_before_end_minutes", "45"),
    ({"kind": "capacity_reservation"}, "capacity.reservation", "capacity_block only"),
])
def test_block_end_time_is_required_and_validated(changes, path, fragment):
    raw = copy.deepcopy(PROD)
    res = raw["regions"][0]["gpu_pools"][0]["capacity"]["reservation"]
    res.update(changes)
    if res.get("ends_at") is None:
        del res["ends_at"]
    found = problems(raw)
    assert fragment in found[f"{P}.{path}"], found


def test_a_block_past_its_drain_time_is_refused():
    _, found = plan_of(block_pool(), now=datetime(2027, 1, 15, 10, 45, tzinfo=timezone.utc))
    (allowed,) = [a for p, _, a in found if p == "capacity.reservation.ends_at"]
    assert "2027-01-15T10:30:00+00:00" in allowed


def test_serving_floor_cannot_rest_on_a_block():
    _, found = plan_of({**block_pool(), "serving_min_nodes": 2})
    assert any(p == "serving_min_nodes" and "not part of the floor" in a for p, _, a in found)


# --- plan figures -----------------------------------------------------------------------------


def test_block_nodes_are_not_the_floor_and_are_paid_whole_at_the_block_price():
    plan, found = plan_of(block_pool())
    assert found == []
    assert plan.capacity.reserved.model_dump() == {"min": 0, "max": 2}  # starts empty, drained before the end
    assert plan.capacity.floor == 1  # the on-demand base only
    assert plan.price.reserved == 39.33 and plan.price.reserved_paid_whole
    assert "Capacity Blocks for ML Pricing" in plan.price.source and plan.price.as_of == "2024-12-31"
    row = capacity_row(plan, "use1")
    on_demand = plan.price.on_demand
    assert row["cost"]["perHourAtMin"] == pytest.approx(2 * 39.33 + on_demand)  # idle block nodes cost too
    assert row["cost"]["perHourAtMax"] == pytest.approx(2 * 39.33 + on_demand)
    assert row["floorAfterSpotLoss"] == 1 and row["nodes"]["reserved"] == {"min": 0, "max": 2}
    assert any("scaled to zero at 2027-01-15T10:30:00+00:00" in n for n in row["notes"])


def test_the_blocks_own_price_wins():
    plan, _ = plan_of(block_pool(hourly_price_usd=31.5))
    assert plan.price.reserved == 31.5
    assert capacity_row(plan, "use1")["cost"]["perHourAtMin"] == pytest.approx(2 * 31.5 + plan.price.on_demand)


# --- compiled resources -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def block_only() -> ProgramRun:
    return run_gpu([BLOCK])  # two p5 nodes on a block, no spot anywhere


def test_pure_drain_helpers():
    assert drain_time(BLOCK) == "2027-01-15T10:30:00"
    assert json.loads(drain_input("eks-g")) == {"AutoScalingGroupName": "eks-g", "MinSize": 0, "MaxSize": 0,
                                                "DesiredCapacity": 0}
    with pytest.raises(ValueError, match="no Capacity Block end time"):
        drain_time(ON_DEMAND_ONLY)


def test_an_eventbridge_schedule_scales_the_block_group_to_zero_before_the_end(block_only: ProgramRun):
    (schedule,) = block_only.by_type(SCHEDULE)
    i = schedule.inputs
    assert i["scheduleExpression"] == "at(2027-01-15T10:30:00)" and i["scheduleExpressionTimezone"] == "UTC"
    assert i["flexibleTimeWindow"] == {"mode": "OFF"} and i["actionAfterCompletion"] == "NONE"
    target = i["target"]
    assert target["arn"] == "arn:aws:scheduler:::aws-sdk:autoscaling:updateAutoScalingGroup"
    group = node_groups(block_only, "h100")["reserved"]
    assert json.loads(target["input"]) == {"AutoScalingGroupName": asg(group), "MinSize": 0, "MaxSize": 0,
                                           "DesiredCapacity": 0}
    assert target["retryPolicy"]["maximumEventAgeInSeconds"] <= 1800  # done before EC2 terminates (end - 30 min)
    role = block_only.one("aws:iam/role:Role", "h100-reserved-drain-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert target["roleArn"] == f"<computed:iam.Role:{role.name}:arn>"
    policy = json.loads(block_only.one("aws:iam/rolePolicy:RolePolicy", "h100-reserved-drain-policy").inputs["policy"])
    (stmt,) = policy["Statement"]
    assert stmt["Action"] == ["autoscaling:UpdateAutoScalingGroup"]
    assert stmt["Resource"].endswith(f":autoScalingGroupName/{asg(group)}")


def test_the_termination_handler_is_installed_for_a_block_without_spot(block_only: ProgramRun):
    assert block_only.one(RELEASE, "gpu-addons-node-termination-handler")
    assert not run_gpu([ON_DEMAND_ONLY]).by_type(SCHEDULE)
