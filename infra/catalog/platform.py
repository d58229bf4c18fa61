"""Dated prices of a stack's non-GPU line items: control-plane fees, NAT, load balancers and the
non-GPU node types (``data/platform.yaml``). Pure: no Pulumi, no network.

Lookups return a ``Quote`` (the figures, the table's date, source and region) or None when the
catalog has no table for the cloud/region: the plan then shows the line as unknown.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import CatalogError

PLATFORM_FILE = Path(__file__).resolve().parent / "data" / "platform.yaml"
ANY_REGION = "*"
Cloud = Literal["aws", "gcp", "azure"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cloud: Cloud
    region: str = Field(..., min_length=1, description='A region of the cloud, or "*" (no region given)')
    as_of: _dt.date
    source: str = Field(..., min_length=1)
    note: str | None = None


class ControlPlaneTable(_Table):
    per_cluster_hour: dict[str, float] = Field(..., description="tier -> USD per cluster-hour")
    free_tier_usd_per_month: float | None = None
    free_tier_applies_to: list[str] = Field(default_factory=list)


class NatTable(_Table):
    per_gateway_hour: float | None = None
    per_vm_hour: float | None = None
    per_gateway_hour_cap: float | None = None
    vm_cap: int | None = None
    per_public_ip_hour: float = 0.0


class LoadBalancerTable(_Table):
    per_hour: float = Field(..., gt=0)


class NodePriceTable(_Table):
    on_demand: dict[str, float] = Field(..., description="instance type -> USD per node-hour")


class PlatformFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    control_plane: list[ControlPlaneTable]
    nat: list[NatTable]
    load_balancer: list[LoadBalancerTable]
    node_prices: list[NodePriceTable] = Field(default_factory=list)


@dataclass(frozen=True)
class Quote:
    """One table's figures for a line, with where they come from."""

    figures: dict[str, Any]
    as_of: str
    source: str
    region: str  # the table's region, "*" when the source gives none


def load_platform_from(path: Path | str) -> PlatformFile:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return PlatformFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise CatalogError(f"{Path(path).name}: {exc}") from exc


@lru_cache(maxsize=1)
def load_platform() -> PlatformFile:
    return load_platform_from(PLATFORM_FILE)


def _pick(tables: list[Any], cloud: str, region: str, has: Any = None) -> Any:
    """The regional table first, then the "*" one; the newest of each."""
    for want in (region, ANY_REGION):
        found = [t for t in tables if t.cloud == cloud and t.region == want and (has is None or has(t))]
        if found:
            return max(found, key=lambda t: t.as_of)
    return None


def _quote(table: Any, figures: dict[str, Any]) -> Quote:
    return Quote(figures=figures, as_of=table.as_of.isoformat(), source=table.source, region=table.region)


def control_plane(cloud: str, region: str) -> Quote | None:
    t = _pick(load_platform().control_plane, cloud, region)
    if t is None:
        return None
    return _quote(t, {"per_cluster_hour": dict(t.per_cluster_hour), "free_tier_usd_per_month": t.free_tier_usd_per_month,
                      "free_tier_applies_to": list(t.free_tier_applies_to)})


def nat(cloud: str, region: str) -> Quote | None:
    t = _pick(load_platform().nat, cloud, region)
    return None if t is None else _quote(t, t.model_dump(exclude={"cloud", "region", "as_of", "source", "note"}))


def load_balancer(cloud: str, region: str) -> Quote | None:
    t = _pick(load_platform().load_balancer, cloud, region)
    return None if t is None else _quote(t, {"per_hour": t.per_hour})


def node_price(cloud: str, region: str, instance_type: str) -> Quote | None:
    t = _pick(load_platform().node_prices, cloud, region, has=lambda t: instance_type in t.on_demand)
    return None if t is None else _quote(t, {"on_demand": t.on_demand[instance_type]})
