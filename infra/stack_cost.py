"""The whole stack's $/h: GPU pools plus what every region pays for besides them.

Pure (no Pulumi): the plan's capacity section (`infra.pools.capacity_section`) adds these lines to
the GPU pool rows. Per region: the control-plane fee, each non-GPU node pool (system and general,
from the cluster config's pool list), NAT and the endpoint's load balancer, each priced from the
dated tables in `infra/catalog/data/platform.yaml`. A line with no price is shown as unknown and
left out of the total (the total says how many lines it lacks). Only hourly charges are counted:
per-GB processing and egress depend on traffic.

Price warnings: a table older than a quarter (relative to the plan date, `plan_date()`, which
GPUFLEET_PLAN_DATE overrides) or one that gives no region (a "*" table).
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any

from infra.catalog import platform as prices

STALE_AFTER_DAYS = 91  # a quarter
PLAN_DATE_ENV = "GPUFLEET_PLAN_DATE"


@dataclass(frozen=True)
class NodePool:
    """A non-GPU node pool as sized for the estimate (totals over all zones), always on demand."""

    role: str
    instance_type: str
    min_nodes: int
    max_nodes: int


@dataclass(frozen=True)
class RegionFootprint:
    """What a region creates besides its GPU pools, as far as its bill goes."""

    name: str
    cloud: str
    cloud_region: str
    cluster_created: bool
    control_plane_tier: str | None  # aws standard, gcp regional, azure Free/Standard/Premium
    node_pools: tuple[NodePool, ...] = ()
    nat_gateways: int = 0  # aws: NAT gateways; gcp: Cloud NAT gateways; azure: 0 (outbound via the LB)
    endpoint: str | None = None  # "internal" | "external" | None
    gpu_nodes: tuple[int, int] = (0, 0)  # (min, max) GPU nodes: they use the NAT too (GCP bills per VM)
    notes: tuple[str, ...] = field(default=())


def plan_date() -> _dt.date:
    """The plan's "today": GPUFLEET_PLAN_DATE (YYYY-MM-DD) when set, else the current UTC date."""
    raw = os.environ.get(PLAN_DATE_ENV)
    if raw:
        return _dt.date.fromisoformat(raw)
    return _dt.datetime.now(_dt.timezone.utc).date()


def node_pools_of(pool_sizes: list[Any]) -> tuple[NodePool, ...]:
    """Any pool list with role/instance_type/min_nodes/max_nodes (the cluster config's NodePoolSize)."""
    return tuple(NodePool(p.role, p.instance_type, p.min_nodes, p.max_nodes) for p in pool_sizes)


def region_footprint(region: Any, environment: str, gpu_nodes: tuple[int, int] = (0, 0)) -> RegionFootprint:
    """From a validated RegionConfig: read every node pool the cluster config defines."""
    from components.cluster import args as cluster_args

    create = region.cluster.create
    endpoint = region.endpoint.exposure if region.endpoint is not None else None
    if create is None:
        return RegionFootprint(name=region.name, cloud=region.cloud, cloud_region=region.region, cluster_created=False,
                               control_plane_tier=None, endpoint=endpoint, gpu_nodes=gpu_nodes,
                               notes=("adopted cluster: its control plane, node pools and NAT are not this stack's "
                                      "resources and are not counted",))
    sizes = [cluster_args.system_pool_size(create, region.cloud)]
    if hasattr(cluster_args, "general_pool_size") and getattr(create, "general_pool", None) is not None:
        sizes.append(cluster_args.general_pool_size(create, region.cloud, environment))
    network_created = create.network.existing is None
    tier = {"aws": "standard", "gcp": "regional"}.get(region.cloud)
    if region.cloud == "azure":
        tier = (create.azure or cluster_args.AzureClusterOptions()).sku_tier
    nat = 0
    if network_created and region.cloud == "aws":
        # components/cluster/aws.py: one NAT per zone in prod, one shared NAT elsewhere.
        nat = max(1, len(create.zones)) if environment == "prod" else 1
    elif network_created and region.cloud == "gcp":
        nat = 1
    return RegionFootprint(name=region.name, cloud=region.cloud, cloud_region=region.region, cluster_created=True,
                           control_plane_tier=tier, node_pools=node_pools_of(sizes), nat_gateways=nat,
                           endpoint=endpoint, gpu_nodes=gpu_nodes)


def _cost(lo: float, hi: float) -> dict[str, float]:
    # Non-GPU lines are all on demand: "all on-demand at max" is their max.
    return {"perHourAtMin": round(lo, 4), "perHourAtMax": round(hi, 4), "allOnDemandAtMax": round(hi, 4)}


def _line(fp: RegionFootprint, item: str, detail: str, quote: prices.Quote | None, cost: dict[str, float] | None,
          notes: list[str]) -> dict[str, Any]:
    return {
        "region": fp.name, "cloud": fp.cloud, "cloudRegion": fp.cloud_region, "item": item, "detail": detail,
        "cost": cost if quote is not None else None,
        "price": None if quote is None else {"as_of": quote.as_of, "source": quote.source, "region": quote.region},
        "notes": notes,
    }


def _control_plane(fp: RegionFootprint) -> dict[str, Any]:
    q = prices.control_plane(fp.cloud, fp.cloud_region)
    tier = fp.control_plane_tier or ""
    rate = None if q is None else q.figures["per_cluster_hour"].get(tier)
    notes: list[str] = []
    if q is not None and rate is None:
        notes.append(f"no {tier} control-plane rate in the catalog: unknown")
    if fp.cloud == "aws":
        extended = q.figures["per_cluster_hour"].get("extended") if q else None
        notes.append(f"priced at standard support; a Kubernetes version in extended support costs {extended}/h")
    if fp.cloud == "gcp" and q is not None and q.figures.get("free_tier_usd_per_month"):
        applies = q.figures.get("free_tier_applies_to") or []
        if tier in applies:
            notes.append(f"the GKE free tier (${q.figures['free_tier_usd_per_month']}/month per billing account) may "
                         "cover one such cluster; not deducted here (it is per billing account, not per stack)")
        else:
            notes.append(f"the GKE free tier (${q.figures['free_tier_usd_per_month']}/month per billing account) "
                         f"applies to {' and '.join(applies)} clusters only: this {tier} cluster pays the full fee")
    quote = q if rate is not None else None
    return _line(fp, "control-plane", f"{fp.cloud} {tier} tier", quote,
                 _cost(rate, rate) if rate is not None else None, notes)


def _node_pool(fp: RegionFootprint, pool: NodePool) -> dict[str, Any]:
    q = prices.node_price(fp.cloud, fp.cloud_region, pool.instance_type)
    detail = f"{pool.min_nodes}..{pool.max_nodes} x {pool.instance_type} on demand"
    if q is None:
        return _line(fp, f"{pool.role}-pool", detail, None, None,
                     [f"no dated on-demand price for {pool.instance_type} in {fp.cloud_region} in the catalog: "
                      "unknown, not in the total"])
    p = q.figures["on_demand"]
    return _line(fp, f"{pool.role}-pool", detail, q, _cost(pool.min_nodes * p, pool.max_nodes * p), [])


def _nodes(fp: RegionFootprint) -> tuple[int, int]:
    lo = fp.gpu_nodes[0] + sum(p.min_nodes for p in fp.node_pools)
    hi = fp.gpu_nodes[1] + sum(p.max_nodes for p in fp.node_pools)
    return lo, hi


def _nat(fp: RegionFootprint) -> dict[str, Any] | None:
    if fp.cloud == "azure" or fp.nat_gateways == 0:
        return None
    q = prices.nat(fp.cloud, fp.cloud_region)
    notes = ["per-GB data processing is not counted"]
    if q is None:
        return _line(fp, "nat", f"{fp.nat_gateways} gateway(s)", None, None,
                     notes + [f"no NAT price for {fp.cloud_region} in the catalog: unknown"])
    f = q.figures
    if fp.cloud == "aws":
        each = f["per_gateway_hour"] + f["per_public_ip_hour"]
        return _line(fp, "nat", f"{fp.nat_gateways} NAT gateway(s), one Elastic IP each", q,
                     _cost(fp.nat_gateways * each, fp.nat_gateways * each), notes)

    def gcp_hourly(vms: int) -> float:  # Cloud NAT bills per VM using it, capped, plus its external IP
        gateway = f["per_gateway_hour_cap"] if vms > f["vm_cap"] else vms * f["per_vm_hour"]
        return fp.nat_gateways * (gateway + f["per_public_ip_hour"])

    lo, hi = _nodes(fp)
    notes.append("one auto-allocated external IP counted; Cloud NAT adds IPs as ports run out")
    return _line(fp, "nat", f"{fp.nat_gateways} Cloud NAT gateway(s) for {lo}..{hi} nodes", q,
                 # The tariff is not monotonic (32 VMs bill 0.0448, 33 the 0.044 cap): the cost at max
                 # is the dearest count the pool sizes can reach, so it never falls below the cost at min.
                 _cost(gcp_hourly(lo), max(gcp_hourly(v) for v in range(lo, hi + 1))), notes)


def _load_balancers(fp: RegionFootprint) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if fp.cloud == "azure" and fp.cluster_created:
        # outbound_type loadBalancer: AKS creates a Standard LB with an outbound rule for egress.
        q = prices.load_balancer(fp.cloud, fp.cloud_region)
        rate = q.figures["per_hour"] if q else 0.0
        out.append(_line(fp, "outbound-lb", "AKS Standard Load Balancer (outbound rule, egress SNAT)", q,
                         _cost(rate, rate), ["data processed is not counted"]))
    if fp.endpoint is None:
        return out
    q = prices.load_balancer(fp.cloud, fp.cloud_region)
    rate = q.figures["per_hour"] if q else 0.0
    notes = ["data processed is not counted"]
    detail = {"aws": "Network Load Balancer", "gcp": "passthrough Network Load Balancer forwarding rule",
              "azure": "Standard Load Balancer"}[fp.cloud]
    if fp.cloud == "azure" and fp.endpoint == "external" and fp.cluster_created:
        # The public Service's rules land on the cluster's outbound LB: no second base charge while under 5 rules.
        rate = 0.0
        detail = "rules on the cluster's public Standard Load Balancer"
        notes.append("within the first 5 rules already paid for by the outbound LB")
    out.append(_line(fp, "endpoint-lb", f"{fp.endpoint} {detail}", q, _cost(rate, rate), notes))
    return out


def platform_lines(fp: RegionFootprint) -> list[dict[str, Any]]:
    """The region's non-GPU lines, in a stable order."""
    lines: list[dict[str, Any]] = []
    if fp.cluster_created:
        lines.append(_control_plane(fp))
        lines += [_node_pool(fp, p) for p in fp.node_pools]
        nat = _nat(fp)
        if nat is not None:
            lines.append(nat)
    lines += _load_balancers(fp)
    for line in lines:
        line["notes"] = list(fp.notes) + line["notes"] if fp.notes else line["notes"]
    return lines


def stack_total(gpu_rows: list[dict[str, Any]], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole stack: GPU pools and platform lines, each summed over the lines with a price."""

    def total(rows: list[dict[str, Any]]) -> dict[str, float]:
        priced = [r["cost"] for r in rows if r.get("cost")]
        return {m: round(sum(c[m] for c in priced), 4) for m in ("perHourAtMin", "perHourAtMax", "allOnDemandAtMax")}

    gpu, platform = total(gpu_rows), total(lines)
    whole = {m: round(gpu[m] + platform[m], 4) for m in gpu}

    def saving(t: dict[str, float]) -> float:
        return round(1 - t["perHourAtMax"] / t["allOnDemandAtMax"], 4) if t["allOnDemandAtMax"] else 0.0

    unknown = [f"{r['region']}/{r['pool']}" for r in gpu_rows if not r.get("cost")]
    unknown += [f"{r['region']}/{r['item']}" for r in lines if not r.get("cost")]
    return {**whole, "savingAtMax": saving(whole),
            "gpuPools": {**gpu, "savingAtMax": saving(gpu)},
            "platform": {m: platform[m] for m in ("perHourAtMin", "perHourAtMax")},
            "unpriced": unknown, "complete": not unknown}


def _age_days(as_of: str, today: _dt.date) -> int:
    return (today - _dt.date.fromisoformat(as_of)).days


def price_warnings(gpu_rows: list[dict[str, Any]], lines: list[dict[str, Any]], today: _dt.date) -> list[str]:
    """Stale (older than a quarter on `today`) and non-regional ("*") price tables, once each."""
    from infra.catalog import load_catalog

    out: list[str] = []
    for r in gpu_rows:
        if not r.get("price"):
            continue
        label = f"{r['instanceType']} ({r['cloudRegion']})"
        age = _age_days(r["price"]["as_of"], today)
        if age > STALE_AFTER_DAYS:
            out.append(f"price of {label} is {age} days old (as of {r['price']['as_of']}), older than a quarter: "
                       "re-date it (infra/catalog/README.md)")
        tables = load_catalog().clouds[r["cloud"]].price_tables
        regional = any(t.region == r["cloudRegion"] and r["instanceType"] in t.on_demand for t in tables)
        if not regional:
            out.append(f"price of {label} comes from a table that names no region (\"*\"): the {r['cloudRegion']} "
                       "price may differ")
    for ln in lines:
        p = ln.get("price")
        if not p:
            continue
        label = f"{ln['item']} ({ln['cloud']} {ln['cloudRegion']})"
        age = _age_days(p["as_of"], today)
        if age > STALE_AFTER_DAYS:
            out.append(f"price of {label} is {age} days old (as of {p['as_of']}), older than a quarter: re-date it "
                       "(infra/catalog/data/platform.yaml)")
        if p["region"] == prices.ANY_REGION:
            out.append(f"price of {label} comes from a table that names no region (\"*\"): the {ln['cloudRegion']} "
                       "price may differ")
    return list(dict.fromkeys(out))


def whole_capacity_section(gpu_section: dict[str, Any], lines: list[dict[str, Any]], today: _dt.date) -> dict[str, Any]:
    """plan.json `capacity`: the GPU pool section (`infra.pools.capacity_section`) with the platform
    lines added, `total` over the whole stack (`total.gpuPools` keeps the GPU pools alone) and the
    price warnings as of `today`."""
    rows = gpu_section["pools"]
    total = {**gpu_section["total"], **stack_total(rows, lines)}
    return {**gpu_section, "platform": lines, "total": total, "planDate": today.isoformat(),
            "priceWarnings": price_warnings(rows, lines, today)}


def render_platform(section: dict[str, Any]) -> str:
    """The platform lines, the stack total and the price warnings, for the plan's text report."""
    lines = section.get("platform") or []
    t = section["total"]
    out = ["platform (non-GPU, on demand; hourly charges only, no per-GB data)",
           f"{'region/item':<24} {'detail':<58} {'$/h min':>9} {'$/h max':>9}"]
    for ln in lines:
        c = ln["cost"]
        money = f"{c['perHourAtMin']:>9.3f} {c['perHourAtMax']:>9.3f}" if c else f"{'unknown':>9} {'unknown':>9}"
        out.append(f"{ln['region'] + '/' + ln['item']:<24} {ln['detail'][:58]:<58} {money}")
    for ln in lines:
        where = f"  {ln['region']}/{ln['item']}"
        out.append(f"{where}: {ln['price']['source']}, as of {ln['price']['as_of']}" if ln["price"]
                   else f"{where}: no price in the catalog")
        out += [f"    note: {n}" for n in ln["notes"]]
    g, p = t["gpuPools"], t["platform"]
    out.append(f"stack total: ${t['perHourAtMin']:.2f}/h at min (floor), ${t['perHourAtMax']:.2f}/h at max "
               f"(GPU pools ${g['perHourAtMin']:.2f}..${g['perHourAtMax']:.2f}, platform "
               f"${p['perHourAtMin']:.2f}..${p['perHourAtMax']:.2f})")
    if t["unpriced"]:
        out.append(f"  NOT in the total (no price in the catalog, shown as unknown): {', '.join(t['unpriced'])}")
    for w in section.get("priceWarnings") or []:
        out.append(f"  warning: {w}")
    return "\n".join(out) + "\n"
