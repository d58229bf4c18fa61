"""The plan's capacity table: per-pool figures, stack totals, and the prod cost goal."""

from __future__ import annotations

from tests.plan.conftest import plan_for


def test_prod_blended_cost_at_max_is_at_least_55pct_below_all_on_demand_with_floor_covering_serving():
    cap = plan_for("prod").document["capacity"]
    primary = next(r for r in cap["pools"] if r["region"] == "usc1")
    assert primary["cost"]["savingAtMax"] >= 0.55, primary["cost"]
    assert primary["floorAfterSpotLoss"] >= primary["servingMinNodes"] == 3
    # The spot saving is a GPU capacity goal; the whole stack's total adds fixed platform costs.
    assert cap["total"]["gpuPools"]["savingAtMax"] >= 0.55
    text = plan_for("prod").text
    assert "cheaper" in text and "all on-demand" in text


def test_capacity_rows_add_up(shipped_plan):
    cap = shipped_plan.document["capacity"]
    assert cap["pools"], "every shipped stack has GPU pools"
    for row in cap["pools"]:
        n = row["nodes"]
        assert n["maxNodes"] == n["reserved"]["max"] + n["on_demand"]["max"] + n["spot"]["max"]
        assert row["floorAfterSpotLoss"] == n["floor"] <= n["reserved"]["min"] + n["on_demand"]["min"]
        if row["cost"]:
            assert row["cost"]["perHourAtMin"] <= row["cost"]["perHourAtMax"] <= row["cost"]["allOnDemandAtMax"]
            assert row["price"]["source"] and row["price"]["as_of"]


def test_dev_preset_is_all_spot_scaling_to_zero():
    row = plan_for("dev").document["capacity"]["pools"][0]
    n = row["nodes"]
    assert n["minNodes"] == 0 and n["reserved"]["max"] == 0 and n["on_demand"]["max"] == 0
    assert n["spot"]["max"] == n["maxNodes"] > 0


def test_pool_components_match_capacity_rows(shipped_plan):
    pools = shipped_plan.run.by_type("gpufleet:gpu_pool:GpuNodePool")
    assert sorted(p.name for p in pools) == sorted(
        f"{r['region']}-{r['pool']}" for r in shipped_plan.document["capacity"]["pools"])
