"""Property tests of the pure capacity planner."""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from components.gpu_pool.planner import Prices, estimate_cost, node_cost, plan_capacity


@st.composite
def mixes(draw):
    max_nodes = draw(st.integers(1, 500))
    reserved = draw(st.integers(0, max_nodes))
    base = draw(st.integers(0, max_nodes - reserved))
    min_nodes = draw(st.integers(reserved + base, max_nodes))
    pct = draw(st.integers(0, 100))
    return dict(min_nodes=min_nodes, max_nodes=max_nodes, reserved_nodes=reserved, on_demand_base_nodes=base,
                spot_percent=pct)


prices = st.builds(
    lambda od, spot_frac, res_frac: Prices(on_demand=od, spot=od * spot_frac, reserved=od * res_frac),
    st.floats(0.05, 120), st.floats(0.05, 1.0), st.floats(0.2, 1.0),
)


@given(mixes())
def test_maxima_add_up_and_minimum_is_honoured(mix):
    plan = plan_capacity(**mix)
    assert plan.max_nodes == mix["max_nodes"]
    assert plan.min_nodes == mix["min_nodes"]


@given(mixes())
def test_floor_is_reserved_plus_base_and_survives_losing_all_spot(mix):
    plan = plan_capacity(**mix)
    assert plan.floor == mix["reserved_nodes"] + mix["on_demand_base_nodes"]
    assert plan.reserved.min + plan.on_demand.min >= plan.floor


@given(mixes())
def test_spot_share_of_capacity_above_base_is_honoured_within_rounding(mix):
    plan = plan_capacity(**mix)
    above = mix["max_nodes"] - plan.floor
    assert abs(plan.spot.max - above * mix["spot_percent"] / 100) <= 0.5


@given(mixes())
def test_no_negative_sizes_and_min_le_max(mix):
    plan = plan_capacity(**mix)
    for r in (plan.reserved, plan.on_demand, plan.spot):
        assert 0 <= r.min <= r.max


@given(mixes(), prices)
def test_cost_bounds(mix, p):
    plan = plan_capacity(**mix)
    cost = estimate_cost(plan, p)
    assert 0 <= cost.per_hour_min <= cost.per_hour_max + 1e-9
    # Spot and reserved are never priced above on-demand here, so the mix never costs more.
    assert cost.per_hour_max <= cost.all_on_demand_max + 1e-9
    assert 0 <= cost.saving_at_max <= 1


@given(mixes(), prices, st.sampled_from(["reserved", "on_demand", "spot"]))
def test_cost_is_monotonic_in_nodes(mix, p, kind):
    plan = plan_capacity(**mix)
    counts = {"reserved": plan.reserved.max, "on_demand": plan.on_demand.max, "spot": plan.spot.max}
    before = node_cost(counts["reserved"], counts["on_demand"], counts["spot"], p)
    counts[kind] += 1
    after = node_cost(counts["reserved"], counts["on_demand"], counts["spot"], p)
    assert after >= before


@given(mixes())
def test_more_spot_percent_never_means_fewer_spot_nodes(mix):
    assume(mix["spot_percent"] < 100)
    a = plan_capacity(**mix)
    b = plan_capacity(**{**mix, "spot_percent": mix["spot_percent"] + 1})
    assert b.spot.max >= a.spot.max


def test_worked_example():
    plan = plan_capacity(min_nodes=3, max_nodes=20, reserved_nodes=2, on_demand_base_nodes=1, spot_percent=90)
    assert (plan.reserved.max, plan.on_demand.max, plan.spot.max, plan.floor) == (2, 3, 15, 3)
    assert (plan.reserved.min, plan.on_demand.min, plan.spot.min) == (2, 1, 0)
    cost = estimate_cost(plan, Prices(on_demand=1.0, spot=0.4, reserved=0.6))
    assert round(cost.per_hour_max, 6) == round(2 * 0.6 + 3 * 1.0 + 15 * 0.4, 6)
    assert round(cost.all_on_demand_max, 6) == 20.0
