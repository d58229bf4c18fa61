"""The plan's $/h covers the whole stack: control planes, system/general pools, NAT, load balancers."""

from __future__ import annotations

import pytest

from components.cluster.args import general_pool_size, system_pool_size
from infra.config import read_stack_file, validate_platform

from .conftest import SHIPPED, plan_for


def test_prod_total_includes_every_region_platform_line_and_adds_up():
    cap = plan_for("prod").document["capacity"]
    items = {(ln["region"], ln["item"]) for ln in cap["platform"]}
    for region in ("usc1", "use1"):  # the standby's cluster, NAT and endpoint cost money too
        for item in ("control-plane", "system-pool", "general-pool", "nat", "endpoint-lb"):
            assert (region, item) in items
    t = cap["total"]
    priced = [r["cost"] for r in [*cap["pools"], *cap["platform"]] if r["cost"]]
    assert t["perHourAtMax"] == pytest.approx(sum(c["perHourAtMax"] for c in priced), abs=1e-3)
    assert t["perHourAtMin"] == pytest.approx(t["gpuPools"]["perHourAtMin"] + t["platform"]["perHourAtMin"], abs=1e-3)
    assert t["platform"]["perHourAtMin"] > 0.2  # two GKE fees alone are $0.20/h
    for ln in cap["platform"]:
        assert (ln["cost"] is None) == (ln["price"] is None)
        if ln["price"]:
            assert ln["price"]["source"] and ln["price"]["as_of"]


def test_prod_standby_is_priced_and_the_prod_total_is_complete():
    cap = plan_for("prod").document["capacity"]
    standby = next(r for r in cap["pools"] if r["region"] == "use1")
    assert standby["cost"] is not None and standby["price"]["as_of"] and "skypilot" in standby["price"]["source"]
    assert cap["total"]["complete"] and cap["total"]["pricedPools"] == 2
    assert cap["total"]["gpuPools"]["perHourAtMin"] > next(r for r in cap["pools"] if r["region"] == "usc1")["cost"]["perHourAtMin"]


@pytest.mark.parametrize("stack", sorted(SHIPPED))
def test_every_shipped_stack_total_is_complete_and_says_so(stack):
    plan = plan_for(stack)
    t = plan.document["capacity"]["total"]
    assert t["complete"] and t["unpriced"] == []
    assert "stack total:" in plan.text and "NOT in the total" not in plan.text


def test_a_line_without_a_price_is_named_in_the_plan_text():
    from infra.stack_cost import render_platform

    section = {"platform": [{"region": "r", "item": "system-pool", "detail": "2..4 x x9.large on demand", "cost": None,
                             "price": None, "notes": ["no dated on-demand price"]}],
               "total": {"perHourAtMin": 0, "perHourAtMax": 0, "gpuPools": {"perHourAtMin": 0, "perHourAtMax": 0},
                         "platform": {"perHourAtMin": 0, "perHourAtMax": 0}, "unpriced": ["r/system-pool"]},
               "priceWarnings": []}
    text = render_platform(section)
    assert "unknown" in text and "NOT in the total" in text and "r/system-pool" in text


@pytest.mark.parametrize("stack", sorted(SHIPPED))
def test_node_pool_lines_are_the_cluster_config_pools(stack):
    cfg = validate_platform(read_stack_file(SHIPPED[stack]))
    lines = plan_for(stack).document["capacity"]["platform"]
    for region in cfg.regions:
        create = region.cluster.create
        want = [system_pool_size(create, region.cloud), general_pool_size(create, region.cloud, cfg.environment)]
        got = [ln for ln in lines if ln["region"] == region.name and ln["item"].endswith("-pool")]
        assert [ln["detail"] for ln in got] == [f"{p.min_nodes}..{p.max_nodes} x {p.instance_type} on demand" for p in want]


def test_staging_shares_one_nat_gateway_and_prices_eks():
    lines = {ln["item"]: ln for ln in plan_for("staging").document["capacity"]["platform"]}
    assert lines["nat"]["detail"].startswith("1 NAT gateway")
    assert lines["control-plane"]["cost"]["perHourAtMax"] == pytest.approx(0.10)


def test_plan_warns_about_stale_and_non_regional_price_tables():
    prod = plan_for("prod").document["capacity"]["priceWarnings"]
    assert any("g2-standard-4 (us-central1)" in w and "older than a quarter" in w for w in prod)  # as of 2025-03-06
    dev = plan_for("dev").document["capacity"]["priceWarnings"]
    assert any("Standard_NC4as_T4_v3 (eastus)" in w and '("*")' in w for w in dev)
    assert "warning: " in plan_for("dev").text
