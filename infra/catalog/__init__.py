"""GPU catalog: which instance/machine/VM types carry which GPUs, where they are offered, and
dated prices, per cloud. Data lives in YAML under ``data/`` (one file per cloud plus
``gpus.yaml``); nothing here touches the network.

Pure: no Pulumi and no cloud SDK is imported here. The files are parsed once (cached) into
pydantic models with ``extra="forbid"``, so a typo in a data file fails loudly, and then
cross-checked (every GPU model known, every region/price table names only known types, zones
belong to their region).

Pricing rules (see ``price``):

- a regional price table wins over the ``"*"`` table (a list price given without a region);
- a spot ``[low, high]`` range is priced at its HIGH end (conservative);
- ``reserved`` is ``on_demand * (1 - discount)`` for a ``1y``/``3y`` commitment when the catalog
  records a committed-use discount for that type (GCP CUDs); otherwise it is the on-demand rate.
  That is also the truth for AWS On-Demand Capacity Reservations and Azure capacity reservation
  groups: they bill at the on-demand rate unless a Savings Plan or Reserved Instance covers them,
  and this catalog records no such discount.

AWS zones: offerings are recorded by AZ ID (account-independent). ``zones_offering`` returns
the region's zone *names* (what stack configs use) whenever the type is offered in the region;
because names map to AZ IDs per account, it cannot say which names lack the type when only some
AZ IDs offer it. ``zone_ids_offering`` gives the exact AZ IDs, ``offering_notes`` the caveats.
``zone_availability`` answers for one zone: offered / not offered / unknown, taking the account's
zone-name -> AZ-ID mapping when the stack gives it (AWS) and the zone lists' verification (Azure).

Capacity Blocks for ML (AWS): ``capacity_block_regions`` says where a type is sold as a block,
``capacity_block_price`` the dated per-instance hourly rate of the block's reservation fee.
"""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.gpu_pool.args import GPU_MODELS
from components.gpu_pool.plan_types import InstanceOffer, PriceQuote

__all__ = [
    "DATA_DIR", "CLOUDS", "CatalogError", "Catalog", "load_catalog", "load_catalog_from",
    "gpu_models", "gpu_models_on", "regions", "known_region", "region_zones", "offers", "instance",
    "instance_types", "zones_offering", "zone_ids_offering", "offering_notes", "price",
    "spot_notice_seconds", "spot_pod_shutdown_seconds", "catalog_summary", "zone_availability", "capacity_block_regions",
    "capacity_block_price", "capacity_block_types", "zone_source", "region_zone_ids",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
CLOUDS: tuple[str, ...] = ("aws", "gcp", "azure")
ANY_REGION = "*"

Commitment = Literal["none", "1y", "3y"]


class CatalogError(ValueError):
    """A data file is missing, malformed, or inconsistent with the rest of the catalog."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------------------------- file models


class GpuModelSpec(_Strict):
    memory_gib: int = Field(..., ge=1, description="Nominal memory per GPU")
    note: str | None = None


class GpuFile(_Strict):
    as_of: _dt.date
    source: str = Field(..., min_length=1)
    models: dict[str, GpuModelSpec]

    @field_validator("models")
    @classmethod
    def _known_models(cls, v: dict[str, GpuModelSpec]) -> dict[str, GpuModelSpec]:
        unknown = sorted(set(v) - set(GPU_MODELS))
        if unknown:
            raise ValueError(f"GPU models {unknown} are not gpufleet GpuModel values {list(GPU_MODELS)}")
        return v


class InstanceSpec(_Strict):
    gpu: str = Field(..., description="GPU model, a key of gpus.yaml")
    gpus: int = Field(..., ge=1, description="GPUs per node")
    vcpu: int = Field(..., ge=1)
    memory_gib: float = Field(..., gt=0)
    accelerator: str | None = Field(None, description="GCP accelerator type name; None elsewhere")
    attached: bool = Field(False, description="GCP N1: the GPU is attached as a guest accelerator")
    note: str | None = None


class InstanceTable(_Strict):
    as_of: _dt.date
    source: str = Field(..., min_length=1)
    types: dict[str, InstanceSpec]


class Offering(_Strict):
    """Where in a region one type is offered: zone names (GCP, Azure) or AZ IDs (AWS)."""

    zones: list[str] | None = None
    zone_ids: list[str] | None = None
    verified: bool = Field(True, description="False: the region-level offering is not verified")
    zones_verified: bool = Field(True, description="False: the zone list is not verified")
    note: str | None = None

    @model_validator(mode="after")
    def _one_zone_form(self) -> "Offering":
        if (self.zones is None) == (self.zone_ids is None):
            raise ValueError("give exactly one of zones (GCP, Azure) or zone_ids (AWS)")
        listed = self.zones if self.zones is not None else self.zone_ids
        if not listed:
            raise ValueError("an offering lists at least one zone")
        if len(set(listed)) != len(listed):
            raise ValueError(f"duplicate zones in {listed}")
        return self


class Region(_Strict):
    as_of: _dt.date
    source: str = Field(..., min_length=1)
    zones: list[str] = Field(..., min_length=1)
    zone_ids: list[str] | None = Field(None, description="AWS only: the region's AZ IDs")
    zones_verified: bool = True
    zones_as_of: _dt.date | None = Field(None, description="Date of the per-zone lists when they come from another source")
    zones_source: str | None = Field(None, description="Where the per-zone lists come from, when not `source`")
    offerings: dict[str, Offering]


class CommitmentDiscount(_Strict):
    one_year: float | None = Field(None, alias="1y", ge=0, lt=1)
    three_year: float | None = Field(None, alias="3y", ge=0, lt=1)

    def for_term(self, commitment: str) -> float | None:
        return {"1y": self.one_year, "3y": self.three_year}.get(commitment)


SpotValue = Union[float, tuple[float, float]]


class PriceTable(_Strict):
    region: str = Field(..., min_length=1, description='A region of this cloud, or "*" (no region given)')
    as_of: _dt.date
    source: str = Field(..., min_length=1)
    note: str | None = None
    on_demand: dict[str, float] = Field(default_factory=dict)
    spot: dict[str, SpotValue] = Field(default_factory=dict)
    commitment_discount: dict[str, CommitmentDiscount] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sane(self) -> "PriceTable":
        if not (self.on_demand or self.spot or self.commitment_discount):
            raise ValueError("a price table holds at least one price")
        for t, p in self.on_demand.items():
            if p <= 0:
                raise ValueError(f"on_demand[{t}] must be > 0, got {p}")
        for t, s in self.spot.items():
            lo, hi = (s, s) if isinstance(s, (int, float)) else s
            if lo <= 0 or hi < lo:
                raise ValueError(f"spot[{t}] must be > 0 and a range must be [low, high], got {s}")
        return self

    def spot_high(self, instance_type: str) -> float | None:
        s = self.spot.get(instance_type)
        if s is None:
            return None
        return float(s) if isinstance(s, (int, float)) else float(s[1])


class CapacityBlockPrices(_Strict):
    as_of: _dt.date
    source: str = Field(..., min_length=1)
    note: str | None = None
    hourly: dict[str, dict[str, float]] = Field(..., description="region -> type -> USD per instance-hour of the block")


class CapacityBlocks(_Strict):
    """AWS Capacity Blocks for ML: the types sold as blocks per region, and block prices."""

    as_of: _dt.date
    source: str = Field(..., min_length=1)
    note: str | None = None
    offerings: dict[str, list[str]] = Field(..., description="instance type -> catalog regions selling it as a block")
    price_tables: list[CapacityBlockPrices] = Field(default_factory=list)


class CloudFile(_Strict):
    cloud: Literal["aws", "gcp", "azure"]
    spot_notice_seconds: int = Field(..., ge=1, le=600)
    spot_notice_source: str = Field(..., min_length=1)
    spot_pod_shutdown_seconds: int = Field(..., ge=1, le=600, description="What an ordinary pod on a reclaimed "
                                           "spot node has from being told to stop until the node goes")
    spot_pod_shutdown_source: str = Field(..., min_length=1)
    instances: InstanceTable
    regions: dict[str, Region]
    price_tables: list[PriceTable] = Field(default_factory=list)
    capacity_blocks: CapacityBlocks | None = Field(None, description="AWS only")


# ------------------------------------------------------------------------------ loaded catalog


class Catalog(_Strict):
    """The validated catalog: GPU models plus one CloudFile per cloud."""

    gpus: GpuFile
    clouds: dict[str, CloudFile]

    @model_validator(mode="after")
    def _consistent(self) -> "Catalog":
        problems: list[str] = []
        for name, cf in self.clouds.items():
            problems += _cloud_problems(name, cf, self.gpus)
        if problems:
            raise ValueError("inconsistent catalog:\n  " + "\n  ".join(problems))
        return self


def _cloud_problems(name: str, cf: CloudFile, gpus: GpuFile) -> list[str]:
    out: list[str] = []
    where = f"{name}.yaml"
    if cf.cloud != name:
        out.append(f"{where}: cloud is {cf.cloud!r}, expected {name!r}")
    types = cf.instances.types
    for t, spec in types.items():
        if spec.gpu not in gpus.models:
            out.append(f"{where}: instances.types.{t}.gpu {spec.gpu!r} is not in gpus.yaml")
        if name == "gcp" and not spec.accelerator:
            out.append(f"{where}: instances.types.{t} needs the GCP accelerator type name")
        if name != "gcp" and (spec.accelerator or spec.attached):
            out.append(f"{where}: instances.types.{t}: accelerator/attached are GCP-only fields")
    for r, reg in cf.regions.items():
        if len(set(reg.zones)) != len(reg.zones):
            out.append(f"{where}: regions.{r}.zones has duplicates")
        if name == "aws" and not reg.zone_ids:
            out.append(f"{where}: regions.{r} needs zone_ids (AWS offerings are recorded by AZ ID)")
        if name != "aws" and reg.zone_ids is not None:
            out.append(f"{where}: regions.{r}.zone_ids is AWS-only")
        for t, off in reg.offerings.items():
            at = f"{where}: regions.{r}.offerings.{t}"
            if t not in types:
                out.append(f"{at}: not an instance type of this cloud")
            if name == "aws":
                if off.zone_ids is None:
                    out.append(f"{at}: AWS offerings list zone_ids (AZ IDs), not zone names")
                elif reg.zone_ids and set(off.zone_ids) - set(reg.zone_ids):
                    out.append(f"{at}: AZ IDs {sorted(set(off.zone_ids) - set(reg.zone_ids))} are not in the region")
            else:
                if off.zones is None:
                    out.append(f"{at}: list zones (zone names)")
                elif set(off.zones) - set(reg.zones):
                    out.append(f"{at}: zones {sorted(set(off.zones) - set(reg.zones))} are not in the region")
    out += _capacity_block_problems(name, cf)
    seen: dict[tuple[str, str, str], int] = {}
    for i, tab in enumerate(cf.price_tables):
        at = f"{where}: price_tables[{i}]"
        if tab.region != ANY_REGION and tab.region not in cf.regions:
            out.append(f"{at}: region {tab.region!r} is neither a catalog region nor '*'")
        for field in ("on_demand", "spot", "commitment_discount"):
            for t in getattr(tab, field):
                if t not in types:
                    out.append(f"{at}.{field}: {t!r} is not an instance type of this cloud")
                key = (tab.region, field, t)
                if key in seen:
                    out.append(f"{at}.{field}.{t}: also priced by price_tables[{seen[key]}] for the same region")
                seen.setdefault(key, i)
    return out


def _capacity_block_problems(name: str, cf: CloudFile) -> list[str]:
    cb = cf.capacity_blocks
    if cb is None:
        return []
    where = f"{name}.yaml: capacity_blocks"
    if name != "aws":
        return [f"{where}: Capacity Blocks are AWS-only"]
    out: list[str] = []
    for t, regs in cb.offerings.items():
        if t not in cf.instances.types:
            out.append(f"{where}.offerings.{t}: not an instance type of this cloud")
        for r in regs:
            if r not in cf.regions:
                out.append(f"{where}.offerings.{t}: {r!r} is not a catalog region")
            elif t not in cf.regions[r].offerings:
                out.append(f"{where}.offerings.{t}: {t} is not offered in {r} at all")
    for i, tab in enumerate(cb.price_tables):
        for r, prices in tab.hourly.items():
            for t, p in prices.items():
                if r not in cb.offerings.get(t, []):
                    out.append(f"{where}.price_tables[{i}].hourly.{r}.{t}: not sold as a Capacity Block there")
                if p <= 0:
                    out.append(f"{where}.price_tables[{i}].hourly.{r}.{t}: must be > 0, got {p}")
    return out


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"catalog file missing: {path}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML: {exc}") from exc


def load_catalog_from(data_dir: Path | str) -> Catalog:
    """Parse and validate the catalog in ``data_dir`` (uncached; for tests and tooling)."""
    data_dir = Path(data_dir)
    try:
        gpus = GpuFile.model_validate(_read_yaml(data_dir / "gpus.yaml"))
    except ValidationError as exc:
        raise CatalogError(f"gpus.yaml: {exc}") from exc
    clouds: dict[str, CloudFile] = {}
    for cloud in CLOUDS:
        try:
            clouds[cloud] = CloudFile.model_validate(_read_yaml(data_dir / f"{cloud}.yaml"))
        except ValidationError as exc:
            raise CatalogError(f"{cloud}.yaml: {exc}") from exc
    try:
        return Catalog(gpus=gpus, clouds=clouds)
    except ValidationError as exc:
        raise CatalogError(str(exc)) from exc


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The shipped catalog, parsed once per process."""
    return load_catalog_from(DATA_DIR)


# ------------------------------------------------------------------------------------ queries


def _cloud(cloud: str) -> CloudFile:
    cat = load_catalog()
    if cloud not in cat.clouds:
        raise ValueError(f"unknown cloud {cloud!r}; one of {list(CLOUDS)}")
    return cat.clouds[cloud]


def _region(cloud: str, region: str) -> Region | None:
    return _cloud(cloud).regions.get(region)


def _offering(cloud: str, region: str, instance_type: str) -> Offering | None:
    reg = _region(cloud, region)
    return reg.offerings.get(instance_type) if reg else None


def gpu_models() -> dict[str, int]:
    """GPU model -> nominal memory per GPU (GiB), in gpufleet's GpuModel order."""
    models = load_catalog().gpus.models
    return {m: models[m].memory_gib for m in GPU_MODELS if m in models}


def gpu_models_on(cloud: str) -> list[str]:
    """GPU models the cloud offers in at least one catalog region (GpuModel order)."""
    cf = _cloud(cloud)
    offered = {cf.instances.types[t].gpu for reg in cf.regions.values() for t in reg.offerings}
    return [m for m in GPU_MODELS if m in offered]


def regions(cloud: str) -> list[str]:
    """The cloud's catalog regions, sorted."""
    return sorted(_cloud(cloud).regions)


def known_region(cloud: str, region: str) -> bool:
    return _region(cloud, region) is not None


def region_zones(cloud: str, region: str) -> list[str]:
    """All zones of a catalog region (names); empty for an unknown region."""
    reg = _region(cloud, region)
    return list(reg.zones) if reg else []


def region_zone_ids(cloud: str, region: str) -> list[str]:
    """AWS: the region's AZ IDs; [] elsewhere or for an unknown region."""
    reg = _region(cloud, region)
    return list(reg.zone_ids) if reg and reg.zone_ids else []


def instance_types(cloud: str) -> list[str]:
    """Every instance/machine/VM type of the cloud's catalog, sorted."""
    return sorted(_cloud(cloud).instances.types)


def instance(cloud: str, instance_type: str) -> InstanceOffer | None:
    """The type's shape, or None when the catalog does not know it (any region)."""
    spec = _cloud(cloud).instances.types.get(instance_type)
    if spec is None:
        return None
    return InstanceOffer(
        instance_type=instance_type,
        gpu_model=spec.gpu,
        gpus=spec.gpus,
        gpu_memory_gib=load_catalog().gpus.models[spec.gpu].memory_gib,
        vcpu=spec.vcpu,
        memory_gib=spec.memory_gib,
        accelerator=spec.accelerator,
    )


def offers(cloud: str, region: str, gpu_model: str, gpus: int | None = None) -> list[InstanceOffer]:
    """Types carrying ``gpu_model`` offered in ``region`` (optionally with exactly ``gpus`` GPUs),
    smallest first: sorted by GPUs per node, then vCPU, then name. Unknown region -> []."""
    reg = _region(cloud, region)
    if reg is None:
        return []
    found = [o for t in reg.offerings if (o := instance(cloud, t)) is not None and o.gpu_model == gpu_model]
    if gpus is not None:
        found = [o for o in found if o.gpus == gpus]
    return sorted(found, key=lambda o: (o.gpus, o.vcpu, o.instance_type))


def zones_offering(cloud: str, region: str, instance_type: str) -> list[str]:
    """Zone names of ``region`` where ``instance_type`` is offered; [] when it is not offered.

    AWS: the region's zone names whenever any AZ ID offers the type (names map to AZ IDs per
    account; see ``zone_ids_offering`` and ``offering_notes``)."""
    reg = _region(cloud, region)
    off = reg.offerings.get(instance_type) if reg else None
    if reg is None or off is None:
        return []
    if off.zones is not None:
        return [z for z in reg.zones if z in off.zones]
    return list(reg.zones)


def zone_ids_offering(cloud: str, region: str, instance_type: str) -> list[str]:
    """AWS: the AZ IDs offering the type in ``region``; [] elsewhere or when not offered."""
    off = _offering(cloud, region, instance_type)
    return list(off.zone_ids) if off is not None and off.zone_ids is not None else []


def offering_notes(cloud: str, region: str, instance_type: str) -> list[str]:
    """Caveats about an offering a plan should surface: unverified data, partial AZ coverage."""
    reg = _region(cloud, region)
    off = reg.offerings.get(instance_type) if reg else None
    if reg is None or off is None:
        return []
    notes: list[str] = []
    if not off.verified:
        notes.append(f"{instance_type} in {region}: regional availability not verified")
    if not off.zones_verified or not reg.zones_verified:
        notes.append(f"{instance_type} in {region}: zone list not verified")
    if off.zone_ids is not None and reg.zone_ids and set(off.zone_ids) != set(reg.zone_ids):
        notes.append(
            f"{instance_type} in {region}: offered in {len(off.zone_ids)} of {len(reg.zone_ids)} AZ IDs "
            f"({', '.join(off.zone_ids)}); which zone names those are depends on the account"
        )
    if off.note:
        notes.append(f"{instance_type} in {region}: {off.note}")
    return notes


ZoneAvailability = Literal["offered", "not_offered", "unknown"]


def zone_availability(cloud: str, region: str, instance_type: str, zone: str,
                      zone_ids: dict[str, str] | None = None) -> ZoneAvailability:
    """Whether ``instance_type`` is offered in one zone of ``region``.

    AWS records offerings by AZ ID: with the account's zone-name -> AZ-ID mapping (``zone_ids``)
    the answer is exact; without it, a type offered in every AZ ID of the region is offered in
    every zone name, and one offered in only some is "unknown" for each name. Elsewhere the zone
    must be listed; a zone missing from an unverified list is "unknown" rather than refused."""
    reg = _region(cloud, region)
    off = reg.offerings.get(instance_type) if reg else None
    if reg is None or off is None or zone not in reg.zones:
        return "not_offered"
    if off.zone_ids is not None:
        az_id = (zone_ids or {}).get(zone)
        if az_id is not None:
            return "offered" if az_id in off.zone_ids else "not_offered"
        return "offered" if reg.zone_ids and set(off.zone_ids) >= set(reg.zone_ids) else "unknown"
    if off.zones is not None and zone in off.zones:
        return "offered"
    return "not_offered" if off.zones_verified and reg.zones_verified else "unknown"


def zone_source(cloud: str, region: str) -> tuple[str, str] | None:
    """(as_of, source) of the region's per-zone lists, or None for an unknown region."""
    reg = _region(cloud, region)
    if reg is None:
        return None
    return ((reg.zones_as_of or reg.as_of).isoformat(), reg.zones_source or reg.source)


def capacity_block_regions(instance_type: str) -> list[str]:
    """AWS catalog regions where ``instance_type`` is sold as a Capacity Block for ML ([] if none)."""
    cb = _cloud("aws").capacity_blocks
    return sorted(cb.offerings.get(instance_type, [])) if cb else []


def capacity_block_types(region: str) -> list[str]:
    """Instance types sold as Capacity Blocks in an AWS catalog region, sorted."""
    cb = _cloud("aws").capacity_blocks
    return sorted(t for t, regs in cb.offerings.items() if region in regs) if cb else []


def capacity_block_price(region: str, instance_type: str) -> tuple[float, str, str] | None:
    """(USD per instance-hour, as_of, source) of a Capacity Block from the newest table pricing it."""
    cb = _cloud("aws").capacity_blocks
    if cb is None:
        return None
    for tab in sorted(cb.price_tables, key=lambda t: t.as_of, reverse=True):
        p = tab.hourly.get(region, {}).get(instance_type)
        if p is not None:
            return float(p), tab.as_of.isoformat(), tab.source
    return None


def price(cloud: str, region: str, instance_type: str, commitment: str = "none") -> PriceQuote | None:
    """USD per node-hour for a type offered in ``region``, or None when the catalog has no
    on-demand price for it there (the plan prints n/a).

    Each figure is taken from the region's table first, then from the ``"*"`` table. Spot ranges
    use their high end. ``reserved`` = on_demand * (1 - discount) for ``1y``/``3y`` where a
    commitment discount is recorded, else on_demand (AWS ODCRs and Azure capacity reservations
    bill on-demand unless a Savings Plan/RI covers them). ``as_of`` is the oldest date among
    the tables used; ``source`` names each of them."""
    if commitment not in ("none", "1y", "3y"):
        raise ValueError(f"commitment must be none, 1y or 3y, not {commitment!r}")
    if _offering(cloud, region, instance_type) is None:
        return None
    cf = _cloud(cloud)
    tables = [t for t in cf.price_tables if t.region == region] + [t for t in cf.price_tables if t.region == ANY_REGION]
    used: list[PriceTable] = []

    def first(field: str) -> PriceTable | None:
        for tab in tables:
            if instance_type in getattr(tab, field):
                if not any(tab is u for u in used):
                    used.append(tab)
                return tab
        return None

    od_tab = first("on_demand")
    if od_tab is None:
        return None
    on_demand = float(od_tab.on_demand[instance_type])
    spot_tab = first("spot")
    spot = spot_tab.spot_high(instance_type) if spot_tab else None
    reserved = on_demand
    if commitment != "none":
        disc_tab = first("commitment_discount")
        discount = disc_tab.commitment_discount[instance_type].for_term(commitment) if disc_tab else None
        if discount is not None:
            reserved = round(on_demand * (1 - discount), 6)
    if len(used) == 1:
        source = used[0].source
    else:
        source = "; ".join(f"{t.source} [as of {t.as_of.isoformat()}]" for t in used)
    return PriceQuote(
        on_demand=on_demand,
        spot=spot,
        reserved=reserved,
        as_of=min(t.as_of for t in used).isoformat(),
        source=source,
    )


def spot_notice_seconds(cloud: str) -> int:
    """Seconds of warning before the cloud reclaims a spot node (AWS 120, GCP 30, Azure 30)."""
    return _cloud(cloud).spot_notice_seconds


def spot_pod_shutdown_seconds(cloud: str) -> int:
    """Seconds an ordinary pod on a reclaimed spot node has to shut down (AWS 110, GCP 15, Azure 25):
    the notice less what the cloud's drain path takes first (see the catalog's source per cloud)."""
    return _cloud(cloud).spot_pod_shutdown_seconds


def catalog_summary() -> dict[str, Any]:
    """For docs: per cloud, every dated table with its source (GPU models, instance shapes,
    regional availability, price tables)."""
    cat = load_catalog()
    out: dict[str, Any] = {
        "gpus": {"as_of": cat.gpus.as_of.isoformat(), "source": cat.gpus.source, "models": gpu_models()},
    }
    for cloud in CLOUDS:
        cf = cat.clouds[cloud]
        out[cloud] = {
            "spot_notice_seconds": cf.spot_notice_seconds,
            "spot_notice_source": cf.spot_notice_source,
            "spot_pod_shutdown_seconds": cf.spot_pod_shutdown_seconds,
            "spot_pod_shutdown_source": cf.spot_pod_shutdown_source,
            "instances": {
                "as_of": cf.instances.as_of.isoformat(),
                "source": cf.instances.source,
                "types": sorted(cf.instances.types),
            },
            "regions": [
                {
                    "region": r,
                    "as_of": reg.as_of.isoformat(),
                    "source": reg.source,
                    "instance_types": sorted(reg.offerings),
                    "zones_as_of": (reg.zones_as_of or reg.as_of).isoformat(),
                    "zones_source": reg.zones_source or reg.source,
                    "unverified": sorted(t for t, o in reg.offerings.items()
                                         if not o.verified or not o.zones_verified or not reg.zones_verified),
                }
                for r, reg in sorted(cf.regions.items())
            ],
            "price_tables": [
                {
                    "region": tab.region,
                    "as_of": tab.as_of.isoformat(),
                    "source": tab.source,
                    "instance_types": sorted(set(tab.on_demand) | set(tab.spot) | set(tab.commitment_discount)),
                }
                for tab in cf.price_tables
            ],
        }
        if cf.capacity_blocks is not None:
            cb = cf.capacity_blocks
            out[cloud]["capacity_blocks"] = {
                "as_of": cb.as_of.isoformat(), "source": cb.source, "offerings": dict(sorted(cb.offerings.items())),
                "price_tables": [{"as_of": t.as_of.isoformat(), "source": t.source} for t in cb.price_tables],
            }
    return out
