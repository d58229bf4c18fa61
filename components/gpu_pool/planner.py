"""Capacity planner (pure): a pool's mix -> node counts per capacity type and $/h.

Order of capacity: reserved -> on-demand base -> the rest split between spot and on-demand
burst by `spot_percent`. The floor (reserved + on-demand base) is what survives losing every
spot node. No Pulumi import: this is property tested with hypothesis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal

CAPACITY_TYPES = ("reserved", "on_demand", "spot")


@dataclass(frozen=True)
class Range:
    min: int
    max: int


@dataclass(frozen=True)
class Prices:
    """USD per node-hour for one instance type in one region."""

    on_demand: float
    spot: float | None
    reserved: float | None  # effective hourly price of the committed/reserved capacity


@dataclass(frozen=True)
class CapacityPlan:
    reserved: Range
    on_demand: Range
    spot: Range
    floor: int  # nodes left after every spot node is reclaimed

    @property
    def min_nodes(self) -> int:
        return self.reserved.min + self.on_demand.min + self.spot.min

    @property
    def max_nodes(self) -> int:
        return self.reserved.max + self.on_demand.max + self.spot.max

    def to_json(self) -> dict:
        return {**{k: asdict(getattr(self, k)) for k in CAPACITY_TYPES}, "floor": self.floor,
                "minNodes": self.min_nodes, "maxNodes": self.max_nodes}


def _round_share(nodes: int, percent: int) -> int:
    """nodes * percent / 100 rounded half-to-even, exactly (no float drift)."""
    return int((Decimal(nodes) * Decimal(percent) / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def plan_capacity(*, min_nodes: int, max_nodes: int, reserved_nodes: int, on_demand_base_nodes: int,
                  spot_percent: int) -> CapacityPlan:
    """Split [min_nodes, max_nodes] across reserved, on-demand and spot.

    Preconditions (enforced by the `CapacityMix` model, asserted here as a last guard):
    0 <= min <= max, reserved + base <= max, 0 <= spot_percent <= 100.
    """
    floor = reserved_nodes + on_demand_base_nodes
    assert 0 <= min_nodes <= max_nodes and 0 <= floor <= max_nodes and 0 <= spot_percent <= 100
    above = max_nodes - floor
    spot_max = _round_share(above, spot_percent)
    burst_max = above - spot_max
    # Nodes the pool must run beyond the floor at minimum scale follow the same split.
    extra_min = max(0, min_nodes - floor)
    spot_min = min(spot_max, _round_share(extra_min, spot_percent))
    burst_min = extra_min - spot_min
    return CapacityPlan(
        reserved=Range(reserved_nodes, reserved_nodes),
        on_demand=Range(on_demand_base_nodes + burst_min, on_demand_base_nodes + burst_max),
        spot=Range(spot_min, spot_max),
        floor=floor,
    )


@dataclass(frozen=True)
class CostEstimate:
    per_hour_min: float
    per_hour_max: float
    all_on_demand_max: float

    @property
    def saving_at_max(self) -> float:
        """Fraction saved at max scale against running every node on-demand (0..1)."""
        if self.all_on_demand_max == 0:
            return 0.0
        # Rounded so float noise (55.60000000000001 / 55.6) does not read as a negative saving.
        return round(1 - self.per_hour_max / self.all_on_demand_max, 12)

    def to_json(self) -> dict:
        return {"perHourAtMin": round(self.per_hour_min, 4), "perHourAtMax": round(self.per_hour_max, 4),
                "allOnDemandAtMax": round(self.all_on_demand_max, 4), "savingAtMax": round(self.saving_at_max, 4)}


def node_cost(nodes_reserved: int, nodes_on_demand: int, nodes_spot: int, prices: Prices) -> float:
    reserved_price = prices.reserved if prices.reserved is not None else prices.on_demand
    spot_price = prices.spot if prices.spot is not None else prices.on_demand
    return nodes_reserved * reserved_price + nodes_on_demand * prices.on_demand + nodes_spot * spot_price


def estimate_cost(plan: CapacityPlan, prices: Prices) -> CostEstimate:
    return CostEstimate(
        per_hour_min=node_cost(plan.reserved.min, plan.on_demand.min, plan.spot.min, prices),
        per_hour_max=node_cost(plan.reserved.max, plan.on_demand.max, plan.spot.max, prices),
        all_on_demand_max=plan.max_nodes * prices.on_demand,
    )
