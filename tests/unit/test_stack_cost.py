"""The whole stack's $/h (pure): platform lines, totals, price warnings."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.catalog import platform as prices
from infra.stack_cost import (NodePool, RegionFootprint, platform_lines, plan_date, price_warnings, stack_total)

TODAY = dt.date(2026, 12, 4)


def _fp(cloud="gcp", region="us-central1", **kw) -> RegionFootprint:
    base = dict(name="r1", cloud=cloud, cloud_region=region, cluster_created=True,
                control_plane_tier={"aws": "standard", "gcp": "regional", "azure": "Standard"}[cloud],
                node_pools=(NodePool("system", "e2-standard-4", 6, 12), NodePool("general", "e2-standard-4", 3, 6)),
                nat_gateways=1, endpoint="external", gpu_nodes=(3, 20))
    base.update(kw)
    return RegionFootprint(**base)


def _by_item(lines):
    return {ln["item"]: ln for ln in lines}


def test_every_platform_table_is_dated_and_sourced():
    f = prices.load_platform()
    tables = [*f.control_plane, *f.nat, *f.load_balancer, *f.node_prices]
    assert {t.cloud for t in f.control_plane} == {"aws", "gcp", "azure"}
    for t in tables:
        assert t.source.strip() and t.as_of <= TODAY, t


def test_gke_regional_cluster_pays_the_fee_and_the_free_tier_is_not_deducted():
    cp = _by_item(platform_lines(_fp()))["control-plane"]
    assert cp["cost"]["perHourAtMin"] == cp["cost"]["perHourAtMax"] == pytest.approx(0.10)
    assert any("zonal" in n and "regional cluster pays" in n for n in cp["notes"])


@pytest.mark.parametrize("tier, fee", [("Free", 0.0), ("Standard", 0.10), ("Premium", 0.60)])
def test_aks_control_plane_follows_the_sku_tier(tier, fee):
    fp = _fp("azure", "eastus", control_plane_tier=tier, nat_gateways=0, node_pools=())
    assert _by_item(platform_lines(fp))["control-plane"]["cost"]["perHourAtMax"] == pytest.approx(fee)


def test_eks_fee_and_one_nat_with_its_elastic_ip_per_gateway():
    fp = _fp("aws", "us-east-1", node_pools=(NodePool("system", "m6i.large", 2, 4),), nat_gateways=3)
    lines = _by_item(platform_lines(fp))
    assert lines["system-pool"]["cost"]["perHourAtMin"] == pytest.approx(2 * 0.096)
    assert lines["system-pool"]["cost"]["perHourAtMax"] == pytest.approx(4 * 0.096)
    assert lines["control-plane"]["cost"]["perHourAtMax"] == pytest.approx(0.10)
    assert lines["nat"]["cost"]["perHourAtMin"] == pytest.approx(3 * (0.045 + 0.005))
    assert lines["endpoint-lb"]["cost"]["perHourAtMax"] == pytest.approx(0.0225)


def test_cloud_nat_bills_per_vm_using_it_up_to_its_cap():
    nat = _by_item(platform_lines(_fp()))["nat"]
    # 12 nodes at min (3 GPU + 6 system + 3 general), 38 at max. The dearest count on the way is 32
    # (32 x 0.0014 = 0.0448; from 33 VMs the gateway bills its 0.044 cap).
    assert nat["cost"]["perHourAtMin"] == pytest.approx(12 * 0.0014 + 0.005)
    assert nat["cost"]["perHourAtMax"] == pytest.approx(32 * 0.0014 + 0.005)
    capped = _by_item(platform_lines(_fp(node_pools=(NodePool("big", "e2-standard-4", 40, 50),))))["nat"]
    assert capped["cost"]["perHourAtMin"] == capped["cost"]["perHourAtMax"] == pytest.approx(0.044 + 0.005)


def test_a_node_type_without_a_price_is_unknown_and_not_in_the_total():
    fp = _fp("aws", "us-east-1", node_pools=(NodePool("system", "m6i.metal", 2, 4),))
    lines = platform_lines(fp)
    pool = _by_item(lines)["system-pool"]
    assert pool["cost"] is None and pool["price"] is None
    assert any("unknown" in n for n in pool["notes"])
    total = stack_total([], lines)
    assert "r1/system-pool" in total["unpriced"] and total["complete"] is False


def test_adopted_cluster_pays_only_for_what_the_stack_creates():
    fp = _fp(cluster_created=False, control_plane_tier=None, node_pools=(), nat_gateways=0)
    assert [ln["item"] for ln in platform_lines(fp)] == ["endpoint-lb"]


def test_azure_external_endpoint_rides_on_the_outbound_lb_internal_one_adds_an_lb():
    ext = _by_item(platform_lines(_fp("azure", "eastus", nat_gateways=0, node_pools=())))
    internal = _by_item(platform_lines(_fp("azure", "eastus", nat_gateways=0, node_pools=(), endpoint="internal")))
    assert ext["outbound-lb"]["cost"]["perHourAtMax"] == pytest.approx(0.025)
    assert ext["endpoint-lb"]["cost"]["perHourAtMax"] == 0.0
    assert internal["endpoint-lb"]["cost"]["perHourAtMax"] == pytest.approx(0.025)
    assert "nat" not in ext  # AKS egress goes through the load balancer's outbound rule


def _gpu_row(lo, hi, od, region="r1", pool="p"):
    return {"region": region, "pool": pool, "cloud": "gcp", "cloudRegion": "us-central1", "instanceType": "g2-standard-4",
            "cost": {"perHourAtMin": lo, "perHourAtMax": hi, "allOnDemandAtMax": od}, "price": None}


money = st.floats(min_value=0, max_value=500, allow_nan=False)
pool_sizes = st.tuples(st.integers(0, 20), st.integers(0, 20)).map(sorted)


@given(gpu=st.lists(st.tuples(money, money, money).map(sorted), max_size=4),
       pools=st.lists(pool_sizes, max_size=3), nat=st.integers(0, 3), endpoint=st.sampled_from([None, "internal", "external"]),
       cloud=st.sampled_from([("gcp", "us-central1"), ("aws", "us-east-1"), ("azure", "eastus")]))
def test_total_is_the_sum_of_its_lines_and_floor_cost_never_exceeds_max(gpu, pools, nat, endpoint, cloud):
    node_type = {"gcp": "e2-standard-4", "aws": "m6i.large", "azure": "Standard_D4s_v5"}[cloud[0]]
    fp = _fp(*cloud, node_pools=tuple(NodePool(f"p{i}", node_type, lo, hi) for i, (lo, hi) in enumerate(pools)),
             nat_gateways=nat, endpoint=endpoint, gpu_nodes=(0, 0))
    lines = platform_lines(fp)
    rows = [_gpu_row(*c, pool=f"g{i}") for i, c in enumerate(gpu)]
    t = stack_total(rows, lines)
    priced = [r["cost"] for r in [*rows, *lines] if r["cost"]]
    for m in ("perHourAtMin", "perHourAtMax", "allOnDemandAtMax"):
        assert t[m] == pytest.approx(sum(c[m] for c in priced), abs=1e-3)
        assert t[m] == pytest.approx(t["gpuPools"][m] + t["platform"].get(m, t["platform"]["perHourAtMax"]), abs=1e-3)
    assert t["perHourAtMin"] <= t["perHourAtMax"] + 1e-9 <= t["allOnDemandAtMax"] + 2e-9
    for ln in lines:
        if ln["cost"]:
            assert 0 <= ln["cost"]["perHourAtMin"] <= ln["cost"]["perHourAtMax"]
    assert len(t["unpriced"]) == sum(1 for r in [*rows, *lines] if not r["cost"])


def test_stale_and_non_regional_tables_are_warned_relative_to_the_plan_date():
    lines = platform_lines(_fp())
    fresh = price_warnings([], lines, TODAY)
    assert not any("older than a quarter" in w for w in fresh)
    assert any('control-plane (gcp us-central1) comes from a table that names no region ("*")' in w for w in fresh)
    assert not any("system-pool" in w for w in fresh)  # e2-standard-4 has a us-central1 table
    later = price_warnings([], lines, TODAY + dt.timedelta(days=92))
    assert any("control-plane" in w and "92 days old" in w and "older than a quarter" in w for w in later)
    assert not any("older than a quarter" in w for w in price_warnings([], lines, TODAY + dt.timedelta(days=91)))


def test_gpu_price_from_a_star_table_is_warned():
    row = {**_gpu_row(0, 1, 2), "cloud": "azure", "cloudRegion": "eastus", "instanceType": "Standard_NC4as_T4_v3",
           "price": {"as_of": "2026-11-27", "source": "s"}}
    warnings = price_warnings([row], [], TODAY)
    assert any("Standard_NC4as_T4_v3 (eastus)" in w and '("*")' in w for w in warnings)
    assert not any("older than a quarter" in w for w in warnings)


def test_plan_date_is_injectable(monkeypatch):
    monkeypatch.setenv("GPUFLEET_PLAN_DATE", "2027-05-01")
    assert plan_date() == dt.date(2027, 5, 1)
