"""From a region's `GpuPoolSpec`s to decided `PoolPlan`s: catalog lookups + the capacity planner.

Pure (no Pulumi): used by config validation (problems with their paths, before any resource),
by the program (what the GPU pool components compile) and by the plan's capacity table.
"""

from __future__ import annotations

import re
from typing import Any

from components.gpu_pool.args import GpuPoolSpec, capacity_issues, resolve_capacity
from components.gpu_pool.plan_types import CapacityRange, InstanceOffer, PoolCapacity, PoolPlan
from components.gpu_pool.planner import Prices, estimate_cost, plan_capacity

from . import catalog

Problem = tuple[str, Any, str]  # (path relative to the pool, value received, what is allowed)

RESERVATION_ID = {
    "aws": (re.compile(r"^cr-[0-9a-f]{8,17}$"), "an EC2 capacity reservation id cr-<hex> (ODCR or Capacity Block)"),
    "gcp": (re.compile(r"^(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/reservations/)?[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"),
            "a reservation name, or projects/<project>/reservations/<name>"),
    "azure": (re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
                         r"capacityReservationGroups/[^/]+$", re.IGNORECASE),
              "a capacity reservation group id /subscriptions/<id>/resourceGroups/<rg>/providers/"
              "Microsoft.Compute/capacityReservationGroups/<name>"),
}
MAX_AKS_SPOT_SIZES = 9  # pool names <pool>s, <pool>s2 .. <pool>s9 fit AKS's 12 characters


def _cloud_rules(cloud: str, pool: GpuPoolSpec) -> list[Problem]:
    out: list[Problem] = []
    res = pool.capacity.reservation
    if res is not None:
        pattern, allowed = RESERVATION_ID[cloud]
        if not pattern.match(res.id):
            out.append(("capacity.reservation.id", res.id, allowed))
    if cloud == "azure":
        for k, taint in enumerate(pool.taints):
            if not taint.value:
                out.append((f"taints[{k}].value", taint.value, "a non-empty value (AKS taints are key=value:Effect)"))
        if len(pool.capacity.spot_instance_types) + 1 > MAX_AKS_SPOT_SIZES:
            out.append(("capacity.spot_instance_types", pool.capacity.spot_instance_types,
                        f"at most {MAX_AKS_SPOT_SIZES - 1} extra types on Azure (one agent pool each)"))
    return out


def _choose_instance(cloud: str, region: str, pool: GpuPoolSpec) -> tuple[InstanceOffer | None, list[Problem]]:
    override = pool.gpu.instance_type.get(cloud)  # type: ignore[call-overload]
    offered = catalog.offers(cloud, region, pool.gpu.model)
    if override:
        inst = catalog.instance(cloud, override)
        if inst is None:
            return None, [(f"gpu.instance_type.{cloud}", override, f"an instance type in the {cloud} catalog")]
        if inst.gpu_model != pool.gpu.model:
            return None, [(f"gpu.instance_type.{cloud}", override,
                           f"a type carrying {pool.gpu.model} GPUs ({override} carries {inst.gpu_model})")]
        if not catalog.zones_offering(cloud, region, override):
            return None, [(f"gpu.instance_type.{cloud}", override, f"a type offered in {region}")]
        return inst, []
    if not offered:
        where = [r for r in catalog.regions(cloud) if catalog.offers(cloud, r, pool.gpu.model)]
        here = sorted({o.gpu_model for m in catalog.gpu_models_on(cloud) for o in catalog.offers(cloud, region, m)})
        allowed = f"a GPU offered by {cloud} in {region} ({', '.join(here)}); " + (
            f"{pool.gpu.model} is offered in: {', '.join(where)}" if where else f"{cloud} does not offer {pool.gpu.model}")
        return None, [("gpu.model", pool.gpu.model, allowed)]
    matching = [o for o in offered if o.gpus == pool.gpu.gpus_per_node]
    if not matching:
        counts = sorted({o.gpus for o in offered})
        return None, [("gpu.gpus_per_node", pool.gpu.gpus_per_node,
                       f"a count {cloud} offers for {pool.gpu.model} in {region}: {counts}")]
    return matching[0], []


def plan_pool(cloud: str, region: str, environment: str, pool: GpuPoolSpec,
              default_zones: list[str]) -> tuple[PoolPlan | None, list[Problem]]:
    """Decide one pool, or return every problem found (paths relative to the pool)."""
    problems: list[Problem] = list(capacity_issues(pool, environment)) + _cloud_rules(cloud, pool)
    if not catalog.known_region(cloud, region):
        return None, problems + [("gpu.model", pool.gpu.model, f"a region in the {cloud} GPU catalog (not {region})")]
    inst, found = _choose_instance(cloud, region, pool)
    problems += found
    if inst is None:
        return None, problems
    offering = catalog.zones_offering(cloud, region, inst.instance_type)
    if pool.zones:
        zones = list(pool.zones)
        for i, z in enumerate(zones):
            if z not in offering:
                problems.append((f"zones[{i}]", z, f"a zone of {region} offering {inst.instance_type}: {offering}"))
    else:
        zones = [z for z in default_zones if z in offering] or list(offering)
    spot_types = [inst]
    for i, t in enumerate(pool.capacity.spot_instance_types):
        extra = catalog.instance(cloud, t)
        if extra is None or extra.gpu_model != inst.gpu_model or not catalog.zones_offering(cloud, region, t):
            problems.append((f"capacity.spot_instance_types[{i}]", t,
                             f"a {inst.gpu_model} type offered in {region}"))
        elif extra.instance_type != inst.instance_type:
            spot_types.append(extra)
    res = pool.capacity.reservation
    if res is not None:
        if res.instance_type != inst.instance_type:
            problems.append(("capacity.reservation.instance_type", res.instance_type,
                             f"the pool's instance type {inst.instance_type}"))
        if res.zone not in zones:
            problems.append(("capacity.reservation.zone", res.zone, f"one of the pool's zones {zones}"))
        if res.kind == "capacity_block" and cloud != "aws":
            problems.append(("capacity.reservation.kind", res.kind, "capacity_reservation (capacity blocks are AWS only)"))
    if problems:
        return None, problems
    cap_in = resolve_capacity(pool.capacity, environment)
    cp = plan_capacity(min_nodes=cap_in.min_nodes, max_nodes=cap_in.max_nodes, reserved_nodes=cap_in.reserved_nodes,
                       on_demand_base_nodes=cap_in.on_demand_base_nodes, spot_percent=cap_in.spot_percent)
    price = catalog.price(cloud, region, inst.instance_type, res.commitment if res else "none")
    plan = PoolPlan(
        name=pool.name, cloud=cloud, region=region, environment=environment, spec=pool,  # type: ignore[arg-type]
        capacity_input=cap_in,
        capacity=PoolCapacity(
            reserved=CapacityRange(min=cp.reserved.min, max=cp.reserved.max),
            on_demand=CapacityRange(min=cp.on_demand.min, max=cp.on_demand.max),
            spot=CapacityRange(min=cp.spot.min, max=cp.spot.max),
            floor=cp.floor,
        ),
        instance=inst, spot_instances=spot_types, zones=zones, reservation=res, price=price,
        spot_notice_seconds=catalog.spot_notice_seconds(cloud),
    )
    return plan, []


def capacity_row(plan: PoolPlan, region_name: str) -> dict[str, Any]:
    """One row of the plan's capacity table (also what plan.json `capacity.pools` holds)."""
    from components.gpu_pool.planner import CapacityPlan, Range

    c = plan.capacity
    cp = CapacityPlan(reserved=Range(c.reserved.min, c.reserved.max), on_demand=Range(c.on_demand.min, c.on_demand.max),
                      spot=Range(c.spot.min, c.spot.max), floor=c.floor)
    row: dict[str, Any] = {
        "region": region_name, "cloud": plan.cloud, "cloudRegion": plan.region, "pool": plan.name,
        "gpu": plan.instance.gpu_model, "gpusPerNode": plan.instance.gpus, "instanceType": plan.instance.instance_type,
        "zones": plan.zones, "nodes": cp.to_json(), "floorAfterSpotLoss": c.floor,
        "servingMinNodes": plan.spec.serving_min_nodes, "spotNoticeSeconds": plan.spot_notice_seconds,
        "cost": None, "price": None,
        "notes": catalog.offering_notes(plan.cloud, plan.region, plan.instance.instance_type),
    }
    if plan.price is not None:
        p = plan.price
        cost = estimate_cost(cp, Prices(on_demand=p.on_demand, spot=p.spot, reserved=p.reserved))
        row["cost"] = cost.to_json()
        row["price"] = p.model_dump()
    return row


def capacity_section(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """plan.json `capacity`: per pool rows and a stack total over the pools with known prices."""
    priced = [r for r in rows if r["cost"] is not None]
    total = {
        "pools": len(rows),
        "pricedPools": len(priced),
        "perHourAtMin": round(sum(r["cost"]["perHourAtMin"] for r in priced), 4),
        "perHourAtMax": round(sum(r["cost"]["perHourAtMax"] for r in priced), 4),
        "allOnDemandAtMax": round(sum(r["cost"]["allOnDemandAtMax"] for r in priced), 4),
        "floorNodes": sum(r["floorAfterSpotLoss"] for r in rows),
        "maxNodes": sum(r["nodes"]["maxNodes"] for r in rows),
    }
    total["savingAtMax"] = round(1 - total["perHourAtMax"] / total["allOnDemandAtMax"], 4) if total["allOnDemandAtMax"] else 0.0
    return {"pools": rows, "total": total}


def render_capacity(section: dict[str, Any]) -> str:
    rows = section["pools"]
    if not rows:
        return ""
    head = (f"{'region/pool':<16} {'cloud':<6} {'gpu':<10} {'type':<24} {'reserved':>8} {'on-dem':>7} {'spot':>7} "
            f"{'floor':>5} {'$/h min':>9} {'$/h max':>9} {'all-OD max':>10} {'saving':>7}")
    lines = ["capacity (nodes min..max per capacity type; floor = nodes left after losing every spot node)", head]

    def rng(r: dict[str, int]) -> str:
        return f"{r['min']}..{r['max']}"

    for r in rows:
        n, c = r["nodes"], r["cost"]
        money = (f"{c['perHourAtMin']:>9.2f} {c['perHourAtMax']:>9.2f} {c['allOnDemandAtMax']:>10.2f} {c['savingAtMax']:>7.1%}"
                 if c else f"{'n/a':>9} {'n/a':>9} {'n/a':>10} {'n/a':>7}")
        lines.append(f"{r['region'] + '/' + r['pool']:<16} {r['cloud']:<6} {r['gpu'] + 'x' + str(r['gpusPerNode']):<10} "
                     f"{r['instanceType']:<24} {rng(n['reserved']):>8} {rng(n['on_demand']):>7} {rng(n['spot']):>7} "
                     f"{r['floorAfterSpotLoss']:>5} {money}")
    t = section["total"]
    lines.append(f"total: {t['pools']} pool(s), max {t['maxNodes']} nodes, floor {t['floorNodes']}; priced pools "
                 f"{t['pricedPools']}: ${t['perHourAtMin']:.2f}/h at min, ${t['perHourAtMax']:.2f}/h at max vs "
                 f"${t['allOnDemandAtMax']:.2f}/h all on-demand ({t['savingAtMax']:.1%} cheaper)")
    for r in rows:
        if r["price"]:
            lines.append(f"  prices {r['instanceType']} ({r['cloudRegion']}): {r['price']['source']}, as of {r['price']['as_of']}")
        else:
            lines.append(f"  prices {r['instanceType']} ({r['cloudRegion']}): none in the catalog")
        lines += [f"  note: {n}" for n in r.get("notes", [])]
    return "\n".join(dict.fromkeys(lines)) + "\n"
