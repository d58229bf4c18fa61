"""From a region's `GpuPoolSpec`s to decided `PoolPlan`s: catalog lookups + the capacity planner.

Pure (no Pulumi): used by config validation (problems with their paths, before any resource),
by the program (what the GPU pool components compile) and by the plan's capacity table.
"""

from __future__ import annotations

import re
from typing import Any

from datetime import datetime, timedelta, timezone

from components.gpu_pool.args import GpuPoolSpec, Reservation, capacity_issues, resolve_capacity
from components.gpu_pool.support import engine_support_issues, field_support_issues
from components.gpu_pool.plan_types import CapacityRange, InstanceOffer, PoolCapacity, PoolPlan, PriceQuote
from components.gpu_pool.planner import CapacityPlan, CostEstimate, Prices, Range, estimate_cost, plan_capacity

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


def _cloud_rules(cloud: str, pool: GpuPoolSpec, engine: str = "node_groups", keep: bool = False) -> list[Problem]:
    # Fields this cloud (or its capacity engine) would ignore are refused
    # (components.gpu_pool.support.FIELD_SUPPORT / ENGINE_SUPPORT).
    out: list[Problem] = list(field_support_issues(cloud, pool)) + list(engine_support_issues(engine, pool))
    res = pool.capacity.reservation
    if res is not None:
        pattern, allowed = RESERVATION_ID[cloud]
        if not pattern.match(res.id):
            out.append(("capacity.reservation.id", res.id, allowed))
    if cloud == "aws" and pool.update.max_surge > 1 and (engine == "node_groups" or keep):
        # EKS surges by its own rule (up to twice the zone count, or max unavailable): the only
        # choice a node group takes is whether to surge (update strategy DEFAULT) or not (MINIMAL).
        out.append(("update.max_surge", pool.update.max_surge,
                    "0 (EKS update strategy MINIMAL: no extra nodes) or 1 (DEFAULT: EKS picks the surge size); "
                    "EKS managed node groups take no surge count"))
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


def _zone_allowed(cloud: str, region: str, instance_type: str, zone_ids: dict[str, str]) -> str:
    """What a zone of a pool offering ``instance_type`` may be, with where the answer comes from."""
    offered = [z for z in catalog.region_zones(cloud, region)
               if catalog.zone_availability(cloud, region, instance_type, z, zone_ids) != "not_offered"]
    as_of, source = catalog.zone_source(cloud, region) or ("", "")
    where = f"a zone of {region} offering {instance_type}: {offered}"
    if cloud == "aws":
        ids = catalog.zone_ids_offering(cloud, region, instance_type)
        where += f" (AZ IDs {ids} by this stack's aws_zone_ids)" if zone_ids else f" (AZ IDs {ids})"
    return f"{where}; per-zone data: {source} (as of {as_of})"


def _aws_zone_notes(region: str, instance_type: str, zones: list[str], zone_ids: dict[str, str]) -> list[str]:
    """The plan states which zone names it could not check against AZ IDs, and how to fix that."""
    unknown = [z for z in zones if catalog.zone_availability("aws", region, instance_type, z, zone_ids) == "unknown"]
    if not unknown:
        return []
    ids = catalog.zone_ids_offering("aws", region, instance_type)
    return [f"{instance_type} in {region}: zones {unknown} NOT checked: the type is offered only in AZ IDs "
            f"{ids} and this stack gives no zone-name -> AZ-ID mapping for them (set aws_zone_ids on the region from "
            f"`aws ec2 describe-availability-zones --region {region} --query 'AvailabilityZones[].[ZoneName,ZoneId]'`)"]


def _offering_notes(cloud: str, region: str, instance_type: str, zone_ids: dict[str, str]) -> list[str]:
    notes = catalog.offering_notes(cloud, region, instance_type)
    if cloud == "aws":  # replaced by the explicit per-zone answer of _aws_zone_notes
        notes = [n for n in notes if "depends on the account" not in n]
    return notes


def _spot_mix_price(cloud: str, region: str, quote: PriceQuote, spot_types: list[InstanceOffer],
                    notes: list[str]) -> PriceQuote:
    """Price spot nodes at the dearest diversity type (any of them may be launched): each type at
    its own spot price, or its on-demand price (the most a spot node costs) where the catalog has no
    spot figure."""
    own: dict[str, float | None] = {}
    quotes = [quote]
    for o in spot_types:
        q = quote if o.instance_type == spot_types[0].instance_type else catalog.price(cloud, region, o.instance_type)
        own[o.instance_type] = None if q is None else (q.spot if q.spot is not None else q.on_demand)
        if q is not None and q is not quote:
            quotes.append(q)
    known = {t: v for t, v in own.items() if v is not None}
    worst = max(known.values())
    missing = sorted(t for t, v in own.items() if v is None)
    rule = ", ".join(f"{t} {v:g}" for t, v in own.items() if v is not None)
    notes.append(f"spot $/h: the dearest spot diversity type, {worst:g} (own spot price, or on-demand where the "
                 f"catalog has no spot figure: {rule})")
    if missing:
        notes.append(f"spot $/h: no price in the catalog for {missing}; spot nodes are priced at the dearest priced type")
    sources = list(dict.fromkeys(q.source for q in quotes))
    return quote.model_copy(update={
        "spot": worst, "spot_by_type": own, "as_of": min(q.as_of for q in quotes),
        "source": sources[0] if len(sources) == 1 else "; ".join(sources),
    })


def _capacity_block_price(region: str, res: Reservation, quote: PriceQuote, notes: list[str]) -> PriceQuote:
    """A Capacity Block's nodes cost the block's price, paid for the whole block."""
    if res.hourly_price_usd is not None:
        return quote.model_copy(update={
            "reserved": res.hourly_price_usd, "reserved_paid_whole": True,
            "source": f"{quote.source}; Capacity Block price from capacity.reservation.hourly_price_usd"})
    found = catalog.capacity_block_price(region, res.instance_type)
    if found is None:
        notes.append(f"Capacity Block {res.id}: no block price for {res.instance_type} in {region} in the catalog; its "
                     "nodes are priced at on-demand (set capacity.reservation.hourly_price_usd)")
        return quote.model_copy(update={"reserved": quote.on_demand, "reserved_paid_whole": True})
    block_price, as_of, source = found
    notes.append(f"Capacity Block {res.id}: priced at the catalog's block rate {block_price:g}/h per instance "
                 f"(as of {as_of}); set capacity.reservation.hourly_price_usd to the price you paid")
    return quote.model_copy(update={
        "reserved": block_price, "reserved_paid_whole": True, "as_of": min(quote.as_of, as_of),
        "source": f"{quote.source}; Capacity Block: {source} [as of {as_of}]"})


def _capacity_block_problems(region: str, pool: GpuPoolSpec, res: Reservation, base_nodes: int,
                             now: datetime) -> list[Problem]:
    out: list[Problem] = []
    sold_here = catalog.capacity_block_types(region)
    if res.instance_type not in sold_here:
        elsewhere = catalog.capacity_block_regions(res.instance_type)
        out.append(("capacity.reservation.instance_type", res.instance_type,
                    f"a type sold as Capacity Blocks for ML in {region}: {sold_here or 'none in the catalog'}"
                    + (f" ({res.instance_type} is sold as blocks in {elsewhere})" if elsewhere else "")
                    + " (AWS EC2 User Guide, Capacity Blocks for ML, supported instance types and Regions)"))
    assert res.ends_at is not None  # the Reservation model requires it for a capacity_block
    drain_at = res.ends_at - timedelta(minutes=res.drain_before_end_minutes)
    if drain_at <= now:
        out.append(("capacity.reservation.ends_at", res.ends_at.isoformat(),
                    f"a block whose drain time (ends_at - {res.drain_before_end_minutes} min = {drain_at.isoformat()}) is "
                    f"still ahead (now {now.replace(microsecond=0).isoformat()}); remove a block that has ended"))
    if pool.serving_min_nodes > base_nodes:
        out.append(("serving_min_nodes", pool.serving_min_nodes,
                    f"at most the on-demand base ({base_nodes}): a Capacity Block's nodes start empty, are scaled to "
                    "zero before the block ends and so are not part of the floor"))
    return out


def plan_pool(cloud: str, region: str, environment: str, pool: GpuPoolSpec, default_zones: list[str], *,
              zone_ids: dict[str, str] | None = None, now: datetime | None = None, engine: str = "node_groups",
              keep_node_groups: bool = False) -> tuple[PoolPlan | None, list[Problem]]:
    """Decide one pool, or return every problem found (paths relative to the pool).

    ``zone_ids`` (AWS): the account's zone-name -> AZ-ID mapping; with it every zone is checked
    against the AZ IDs offering the type, without it the plan says which zone names it could not
    check. ``now`` (default: the current UTC time) dates Capacity Block checks. ``engine`` is the
    cluster's capacity engine (node_groups, karpenter, node_auto_provisioning); with
    ``keep_node_groups`` the pool's node groups run beside it, so their rules apply too."""
    from components.cluster.args import ENGINES

    if engine not in ENGINES.get(cloud, ()):
        engine, keep_node_groups = "node_groups", False  # the cluster's own check reports the engine
    problems: list[Problem] = list(capacity_issues(pool, environment)) + _cloud_rules(cloud, pool, engine, keep_node_groups)
    groups = engine == "node_groups" or keep_node_groups
    if not catalog.known_region(cloud, region):
        return None, problems + [("gpu.model", pool.gpu.model, f"a region in the {cloud} GPU catalog (not {region})")]
    inst, found = _choose_instance(cloud, region, pool)
    problems += found
    if inst is None:
        return None, problems
    ids = dict(zone_ids or {})
    main = inst.instance_type
    notes = _offering_notes(cloud, region, main, ids)

    def avail(instance_type: str, zone: str) -> str:
        return catalog.zone_availability(cloud, region, instance_type, zone, ids)

    if pool.zones:
        zones = list(pool.zones)
        for i, z in enumerate(zones):
            if avail(main, z) == "not_offered":
                problems.append((f"zones[{i}]", z, _zone_allowed(cloud, region, main, ids)))
    else:
        zones = [z for z in default_zones if avail(main, z) != "not_offered"]
        if not zones and default_zones and cloud == "aws":
            # EKS nodes need the cluster's subnets: no other zone will do.
            problems.append(("zones", list(default_zones), f"the cluster's zones offer no {main}: "
                             + _zone_allowed(cloud, region, main, ids)))
        elif not zones:
            zones = [z for z in catalog.region_zones(cloud, region) if avail(main, z) != "not_offered"]
    if cloud == "aws":
        notes += _aws_zone_notes(region, main, zones, ids)
    zsrc = catalog.zone_source(cloud, region)
    if cloud == "azure" and zsrc and not any("zone list not verified" in n for n in notes):
        notes.append(f"{main} in {region}: zones as listed by {zsrc[1]} (as of {zsrc[0]}); Azure zone numbers are "
                     "logical per subscription: check yours with `az vm list-skus --location "
                     f"{region} --size {main} --zone`")
    spot_types = [inst]
    for i, t in enumerate(pool.capacity.spot_instance_types):
        at = f"capacity.spot_instance_types[{i}]"
        extra = catalog.instance(cloud, t)
        same = [o for o in catalog.offers(cloud, region, inst.gpu_model, inst.gpus) if o.instance_type != main]
        if extra is None or not catalog.zones_offering(cloud, region, t):
            problems.append((at, t, f"a {inst.gpu_model} type offered in {region}"))
        elif (extra.gpu_model, extra.gpus) != (inst.gpu_model, inst.gpus):
            problems.append((at, t, f"a type with the pool's GPUs, {inst.gpus} x {inst.gpu_model} per node ({t} has "
                             f"{extra.gpus} x {extra.gpu_model}): {[o.instance_type for o in same] or 'none other in the catalog'}"))
        elif cloud == "aws" and groups and (extra.vcpu, extra.memory_gib) != (inst.vcpu, inst.memory_gib):
            # One EKS node group holds every spot type; the cluster autoscaler builds its template
            # node from one of them, so mixed shapes break scale-up decisions and bin packing.
            alike = [o.instance_type for o in same if (o.vcpu, o.memory_gib) == (inst.vcpu, inst.memory_gib)]
            problems.append((at, t, f"a type with {main}'s vCPU and memory ({inst.vcpu} vCPU, {inst.memory_gib:g} GiB; "
                             f"{t} has {extra.vcpu} vCPU, {extra.memory_gib:g} GiB): the cluster autoscaler sizes an EKS "
                             f"node group from one type; put {t} in a pool of its own. Same shape here: "
                             f"{alike or 'none other in the catalog'}"))
        else:
            missing = [z for z in zones if avail(t, z) == "not_offered"]
            if missing:
                problems.append((at, t, f"a type offered in every zone of the pool ({t} is not offered in {missing})"))
            elif t != main:
                spot_types.append(extra)
                notes += [n for n in _offering_notes(cloud, region, t, ids) if n not in notes]
                if cloud == "aws":
                    notes += _aws_zone_notes(region, t, zones, ids)
    cap_in = resolve_capacity(pool.capacity, environment)
    res = pool.capacity.reservation
    block = res is not None and res.kind == "capacity_block"
    if res is not None:
        if res.instance_type != main:
            problems.append(("capacity.reservation.instance_type", res.instance_type,
                             f"the pool's instance type {main}"))
        if res.zone not in zones:
            problems.append(("capacity.reservation.zone", res.zone, f"one of the pool's zones {zones}"))
        elif avail(main, res.zone) == "not_offered":
            problems.append(("capacity.reservation.zone", res.zone, _zone_allowed(cloud, region, main, ids)))
        if block and cloud != "aws":
            problems.append(("capacity.reservation.kind", res.kind, f"capacity_reservation (Capacity Blocks are AWS only, not {cloud})"))
        elif block:
            problems += _capacity_block_problems(region, pool, res, cap_in.on_demand_base_nodes,
                                                 now or datetime.now(timezone.utc))
    if problems:
        return None, problems
    cp = plan_capacity(min_nodes=cap_in.min_nodes, max_nodes=cap_in.max_nodes, reserved_nodes=cap_in.reserved_nodes,
                       on_demand_base_nodes=cap_in.on_demand_base_nodes, spot_percent=cap_in.spot_percent)
    reserved, floor = CapacityRange(min=cp.reserved.min, max=cp.reserved.max), cp.floor
    if block:
        assert res is not None and res.ends_at is not None
        # The block's node group starts empty (nothing launches before the block starts; the
        # autoscaler fills it) and is scaled to zero before the end: its nodes are no floor.
        reserved, floor = CapacityRange(min=0, max=cp.reserved.max), cp.floor - cp.reserved.max
        drain_at = res.ends_at - timedelta(minutes=res.drain_before_end_minutes)
        if not groups:
            notes.append(f"Capacity Block {res.id}: {cp.reserved.max} node(s) while the block is active; Karpenter "
                         f"drains them when EC2 marks the block expiring before its end at {res.ends_at.isoformat()} "
                         "(its interruption queue); not part of the floor, and paid for whole: $/h at min includes them")
        else:
            notes.append(f"Capacity Block {res.id}: {cp.reserved.max} node(s) while the block is active, scaled to zero "
                         f"at {drain_at.isoformat()} ({res.drain_before_end_minutes} min before it ends at "
                         f"{res.ends_at.isoformat()}); not part of the floor, and paid for whole: $/h at min includes them")
    price = catalog.price(cloud, region, main, res.commitment if res else "none")
    if res is not None and res.commitment != "none" and (price is None or price.reserved in (None, price.on_demand)):
        # A commitment the catalog records no discount for would change nothing: refused.
        return None, problems + [("capacity.reservation.commitment", res.commitment,
                                  f"none: the {cloud} catalog records no {res.commitment} discount for {main} in {region}")]
    if price is not None and len(spot_types) > 1 and cp.spot.max > 0:
        price = _spot_mix_price(cloud, region, price, spot_types, notes)
    if price is not None and block:
        assert res is not None
        price = _capacity_block_price(region, res, price, notes)
    plan = PoolPlan(
        name=pool.name, cloud=cloud, region=region, environment=environment, spec=pool,  # type: ignore[arg-type]
        capacity_input=cap_in,
        capacity=PoolCapacity(
            reserved=reserved,
            on_demand=CapacityRange(min=cp.on_demand.min, max=cp.on_demand.max),
            spot=CapacityRange(min=cp.spot.min, max=cp.spot.max),
            floor=floor,
        ),
        instance=inst, spot_instances=spot_types, zones=zones, reservation=res, price=price,
        spot_notice_seconds=catalog.spot_notice_seconds(cloud),
        spot_shutdown_seconds=catalog.spot_pod_shutdown_seconds(cloud), notes=list(dict.fromkeys(notes)),
    )
    if engine != "node_groups":
        found = engine_limit_problems(plan, pool)
        if found:
            return None, found
    return plan, []


def engine_limit_problems(plan: PoolPlan, pool: GpuPoolSpec) -> list[Problem]:
    """Karpenter/NAP: the NodePools' GPU limits must hold the floor once every spot node is gone
    (the NodePools have no minimum: only their limits and budgets keep the floor)."""
    from components.gpu_pool.karpenter import GPU_RESOURCE, floor_after_spot_loss, node_pools

    docs = node_pools(plan, "aws" if plan.cloud == "aws" else "azure")
    kept = floor_after_spot_loss(docs, plan.instance.gpus)
    need = max(plan.capacity.floor, pool.serving_min_nodes)
    if kept >= need:
        return []
    limits = {d.name: d.spec["limits"][GPU_RESOURCE] for d in docs}
    return [("capacity.max_nodes", plan.capacity_input.max_nodes,
             f"NodePool limits that hold the floor: the non-spot NodePools' {GPU_RESOURCE} limits {limits} keep "
             f"{kept} node(s) after losing every spot node, the floor needs {need}")]


def pool_cost(plan: PoolPlan) -> CostEstimate | None:
    """$/h at min and max of one pool; a Capacity Block is paid whole, so at min as well."""
    if plan.price is None:
        return None
    c, p = plan.capacity, plan.price
    cp = CapacityPlan(reserved=Range(c.reserved.min, c.reserved.max), on_demand=Range(c.on_demand.min, c.on_demand.max),
                      spot=Range(c.spot.min, c.spot.max), floor=c.floor)
    cost = estimate_cost(cp, Prices(on_demand=p.on_demand, spot=p.spot, reserved=p.reserved))
    if p.reserved_paid_whole:
        idle = (c.reserved.max - c.reserved.min) * (p.reserved if p.reserved is not None else p.on_demand)
        cost = CostEstimate(per_hour_min=cost.per_hour_min + idle, per_hour_max=cost.per_hour_max,
                            all_on_demand_max=cost.all_on_demand_max)
    return cost


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
        "spotShutdownSeconds": plan.spot_shutdown_seconds,
        "cost": None, "price": None,
        "notes": list(plan.notes) or catalog.offering_notes(plan.cloud, plan.region, plan.instance.instance_type),
    }
    cost = pool_cost(plan)
    if plan.price is not None and cost is not None:
        row["cost"] = cost.to_json()
        row["price"] = plan.price.model_dump()
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


ENGINE_TEXT = {
    "node_groups": {"aws": "EKS managed node groups + cluster autoscaler (priority expander)",
                    "gcp": "GKE node pools + the GKE autoscaler (ComputeClass priorities)",
                    "azure": "AKS agent pools + the AKS cluster autoscaler (priority expander)"},
    "karpenter": {"aws": "Karpenter {version} NodePools + EC2NodeClass, interruption queue"},
    "node_auto_provisioning": {"azure": "AKS node auto-provisioning NodePools + AKSNodeClass"},
}


def engine_section(cfg: Any) -> list[dict[str, Any]]:
    """Per region: the capacity engine and, for Karpenter/NAP, each pool's NodePools (weight, GPU
    limit) and the nodes the pool keeps after losing every spot node."""
    from components.gpu_pool.karpenter import GPU_RESOURCE, KARPENTER_VERSION, floor_after_spot_loss, node_pools
    from infra.platform import capacity_engine, pool_plans

    out = []
    for region in cfg.regions:
        engine, keep = capacity_engine(region.cluster)
        entry: dict[str, Any] = {"region": region.name, "cloud": region.cloud, "engine": engine,
                                 "keepNodeGroups": keep,
                                 "text": ENGINE_TEXT[engine][region.cloud].format(version=KARPENTER_VERSION),
                                 "pools": []}
        if engine != "node_groups":
            for plan in pool_plans(cfg, region):
                docs = node_pools(plan, "aws" if region.cloud == "aws" else "azure")
                entry["pools"].append({
                    "pool": plan.name,
                    "nodePools": [{"name": d.name, "capacityType": d.capacity_type, "weight": d.spec["weight"],
                                   "gpuLimit": int(d.spec["limits"][GPU_RESOURCE])} for d in docs],
                    "floor": plan.capacity.floor,
                    "keptAfterSpotLoss": floor_after_spot_loss(docs, plan.instance.gpus),
                })
        out.append(entry)
    return out


def render_engines(section: list[dict[str, Any]]) -> str:
    lines = ["capacity engines (what provisions the GPU nodes)"]
    for e in section:
        keep = "; node groups kept during the migration" if e["keepNodeGroups"] else ""
        lines.append(f"  {e['region']}: {e['engine']} - {e['text']}{keep}")
        for p in e["pools"]:
            pools = ", ".join(f"{n['name']} (weight {n['weight']}, {n['gpuLimit']} GPU)" for n in p["nodePools"])
            lines.append(f"    {p['pool']}: {pools}; floor {p['floor']}, kept after losing every spot node "
                         f"{p['keptAfterSpotLoss']}")
    return "\n".join(lines) + "\n"
