"""Neutral GPU pool spec: one typed description of a GPU node pool for EKS, GKE and AKS.

Pure: pydantic only. The capacity fields a user leaves out come from the environment preset
(`PRESETS`): dev is all spot scaling to zero; staging an on-demand node plus spot; prod a
reservation, an on-demand floor and spot burst.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .._contracts import Cloud
from .._model import Args

GpuModel = Literal["T4", "L4", "A10G", "L40S", "A100-40GB", "A100-80GB", "H100", "H200"]
GPU_MODELS: tuple[str, ...] = ("T4", "L4", "A10G", "L40S", "A100-40GB", "A100-80GB", "H100", "H200")

GPU_TAINT_KEY = "nvidia.com/gpu"
POOL_LABEL = "gpufleet.io/pool"
GPU_LABEL = "gpufleet.io/gpu"
CAPACITY_LABEL = "gpufleet.io/capacity-type"  # reserved | on-demand | spot, on every cloud


class GpuSpec(Args):
    """Which GPU, how many per node, and optionally the exact instance type per cloud."""

    model: GpuModel = Field(..., description="GPU model. Required. The catalog maps it to instance types per cloud.")
    gpus_per_node: Literal[1, 2, 4, 8] = Field(1, description="GPUs per node; default 1.")
    instance_type: dict[Cloud, str] = Field(
        default_factory=dict,
        description="Per-cloud override of the catalog's instance/machine/VM type, e.g. {aws: g6.2xlarge}. "
        "Default: the catalog's smallest type with gpus_per_node GPUs of this model.",
    )


class Reservation(Args):
    """Capacity bought ahead: an AWS On-Demand Capacity Reservation or Capacity Block, a GCP
    specific reservation, or an Azure capacity reservation group."""

    id: str = Field(
        ...,
        min_length=1,
        description="AWS: cr-<hex> (ODCR or Capacity Block); GCP: reservation name (or projects/<p>/reservations/<n>); "
        "Azure: capacity reservation group resource id.",
    )
    instance_type: str = Field(..., description="Instance type the reservation holds; must match the pool's type.")
    zone: str = Field(..., description="Zone the reservation is in; must be one of the pool's zones.")
    kind: Literal["capacity_reservation", "capacity_block"] = Field(
        "capacity_reservation", description="AWS only: capacity_block targets an EC2 Capacity Block for ML."
    )
    commitment: Literal["none", "1y", "3y"] = Field(
        "none",
        description="Pricing commitment behind the reservation (GCP committed use, AWS/Azure savings). Default "
        "none: reserved nodes are priced on-demand.",
    )
    ends_at: datetime | None = Field(
        None,
        description="capacity_block only, required there: when the block ends, as a UTC time "
        "(Capacity Blocks end at 11:30 UTC), e.g. 2027-01-15T11:30:00Z. The pool drains and scales the block's "
        "nodes to zero drain_before_end_minutes before it.",
    )
    drain_before_end_minutes: int = Field(
        60, ge=45, le=1440,
        description="capacity_block only: how long before ends_at the block's node group is scaled to zero "
        "(EKS drains the nodes). Default 60; at least 45 because EC2 starts terminating a block's instances "
        "30 minutes before its end and EKS gives a drain up to 15 minutes.",
    )
    hourly_price_usd: float | None = Field(
        None, gt=0,
        description="capacity_block only: the block's price per instance-hour (its up-front fee / instances / "
        "hours). Default: the catalog's dated Capacity Block rate for the type and region.",
    )

    @field_validator("ends_at")
    @classmethod
    def _utc_half_past_eleven(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        if v.tzinfo is None:
            raise ValueError("ends_at needs a time zone, e.g. 2027-01-15T11:30:00Z")
        v = v.astimezone(timezone.utc)
        if (v.hour, v.minute, v.second, v.microsecond) != (11, 30, 0, 0):
            raise ValueError(f"Capacity Blocks end at 11:30 UTC; got {v.isoformat()}")
        return v

    @model_validator(mode="after")
    def _block_fields(self) -> "Reservation":
        if self.kind == "capacity_block" and self.ends_at is None:
            raise ValueError("a capacity_block needs ends_at (its end time, UTC) so the pool drains before it ends")
        if self.kind != "capacity_block":
            given = [f for f in ("ends_at", "hourly_price_usd", "drain_before_end_minutes") if f in self.model_fields_set]
            if given:
                raise ValueError(f"{given} apply to kind capacity_block only")
        return self


class CapacityMix(Args):
    """Order: reserved -> on-demand base -> the rest, spot_percent of it on spot. Every field not
    set falls back to the environment preset."""

    min_nodes: int | None = Field(None, ge=0, le=1000, description="Minimum nodes. Preset: the floor (0 in dev).")
    max_nodes: int | None = Field(None, ge=1, le=1000, description="Maximum nodes. Preset: 4 dev, 8 staging, 16 prod.")
    reserved_nodes: int | None = Field(
        None, ge=0, le=1000,
        description="Nodes run on the reservation; required with a reservation. Default 0; in prod leave it unset "
        "only with a reservation, or set 0 to opt out of reserved capacity.",
    )
    reservation: Reservation | None = Field(None, description="The reservation reserved_nodes run on.")
    on_demand_base_nodes: int | None = Field(None, ge=0, le=1000, description="On-demand nodes always kept. Preset: 0 dev, 1 staging/prod.")
    spot_percent: int | None = Field(None, ge=0, le=100, description="Share (0-100) of capacity above the base on spot. Preset: 100 dev/prod, 70 staging.")
    spot_instance_types: list[str] = Field(
        default_factory=list, description="Extra instance types with the same GPU for spot diversity. Default: none."
    )
    spot_max_price_per_hour: float | None = Field(
        None, gt=0, description="Highest spot price (USD/h) to pay. Default: up to the on-demand price."
    )
    spot_eviction: Literal["delete", "deallocate"] = Field(
        "delete", description="What Azure does with an evicted spot node; delete (default) stops paying for disks."
    )

    @field_validator("spot_instance_types")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"spot_instance_types must be unique, got {v}")
        return v


class Taint(Args):
    key: str = Field(..., pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9_.-]{1,63}$", description="Taint key.")
    value: str = Field("", max_length=63, description="Taint value.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field("NoSchedule", description="Taint effect.")


DEFAULT_TAINTS = (Taint(key=GPU_TAINT_KEY, value="present", effect="NoSchedule"),)


class UpdatePolicy(Args):
    max_surge: int = Field(1, ge=0, le=100, description="Extra nodes during an upgrade; default 1. EKS takes 0 (no surge) or 1 (EKS sizes the surge itself).")
    max_unavailable: int = Field(0, ge=0, le=100, description="Nodes down at once during an upgrade; default 0 (serving keeps capacity).")

    @model_validator(mode="after")
    def _progress(self) -> "UpdatePolicy":
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("max_surge and max_unavailable cannot both be 0 (the upgrade could never progress)")
        return self


class GpuDriver(Args):
    gke_version: Literal["DEFAULT", "LATEST", "INSTALLATION_DISABLED"] = Field(
        "DEFAULT",
        description="GKE driver: DEFAULT pins the driver to the one tested with the node version (recommended); "
        "LATEST floats and is refused by the policy pack in prod.",
    )
    eks_ami_release_version: str | None = Field(
        None, description="Pin the EKS NVIDIA AMI release (driver included). Default: the release current at creation, "
        "kept until changed (node groups do not float).",
    )
    aks_install: bool = Field(True, description="Let AKS install the NVIDIA driver on GPU nodes; default true.")


class GpuPoolSpec(Args):
    """One GPU pool of a region."""

    name: str = Field(..., pattern=r"^[a-z][a-z0-9]{0,9}$", description="Pool key, 1-10 [a-z0-9] (AKS pool names are short).")
    gpu: GpuSpec = Field(..., description="GPU model and count per node.")
    capacity: CapacityMix = Field(default_factory=CapacityMix, description="Capacity mix; unset fields come from the environment preset.")
    zones: list[str] = Field(
        default_factory=list, description="Zones to place nodes in. Default: the cluster's zones (or the catalog's zones offering the GPU)."
    )
    disk_size_gib: int = Field(200, ge=50, le=4000, description="OS/image disk per node; default 200 GiB (GPU images are large).")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra node labels; gpufleet adds pool, GPU and capacity-type labels.")
    taints: list[Taint] = Field(
        default_factory=lambda: list(DEFAULT_TAINTS),
        description="Node taints; default nvidia.com/gpu=present:NoSchedule so only GPU workloads land here.",
    )
    update: UpdatePolicy = Field(default_factory=UpdatePolicy, description="Upgrade surge; default surge 1, unavailable 0.")
    serving_min_nodes: int = Field(
        0, ge=0, le=1000,
        description="Nodes serving needs even after every spot node is reclaimed; the floor (reserved + on-demand "
        "base) must cover it. Default 0.",
    )
    driver: GpuDriver = Field(default_factory=GpuDriver, description="GPU driver pinning per cloud.")

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not re.fullmatch(r"([a-z0-9.-]+/)?[A-Za-z0-9_.-]{1,63}", k)]
        if bad:
            raise ValueError(f"invalid label keys {bad}")
        reserved = [k for k in v if k in (POOL_LABEL, GPU_LABEL, CAPACITY_LABEL)]
        if reserved:
            raise ValueError(f"{reserved} are set by gpufleet")
        return dict(sorted(v.items()))


# Presets per environment: the values used for every capacity field the user leaves unset.
PRESETS: dict[str, dict[str, int]] = {
    "dev": {"max_nodes": 4, "reserved_nodes": 0, "on_demand_base_nodes": 0, "spot_percent": 100},
    "staging": {"max_nodes": 8, "reserved_nodes": 0, "on_demand_base_nodes": 1, "spot_percent": 70},
    "prod": {"max_nodes": 16, "reserved_nodes": 0, "on_demand_base_nodes": 1, "spot_percent": 100},
}


class ResolvedCapacity(Args):
    """A CapacityMix with every number decided (preset applied)."""

    min_nodes: int
    max_nodes: int
    reserved_nodes: int
    on_demand_base_nodes: int
    spot_percent: int

    @property
    def floor(self) -> int:
        return self.reserved_nodes + self.on_demand_base_nodes


def resolve_capacity(mix: CapacityMix, environment: str) -> ResolvedCapacity:
    """Fill unset fields from the preset. Does not validate (see `capacity_issues`)."""
    preset = PRESETS[environment]
    reserved = mix.reserved_nodes if mix.reserved_nodes is not None else preset["reserved_nodes"]
    base = mix.on_demand_base_nodes if mix.on_demand_base_nodes is not None else preset["on_demand_base_nodes"]
    max_nodes = mix.max_nodes if mix.max_nodes is not None else max(preset["max_nodes"], reserved + base)
    floor = reserved + base
    min_nodes = mix.min_nodes if mix.min_nodes is not None else floor
    return ResolvedCapacity(
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        reserved_nodes=reserved,
        on_demand_base_nodes=base,
        spot_percent=mix.spot_percent if mix.spot_percent is not None else preset["spot_percent"],
    )


def capacity_issues(pool: GpuPoolSpec, environment: str) -> list[tuple[str, object, str]]:
    """Cross-field capacity problems as (path relative to the pool, value, allowed)."""
    mix = pool.capacity
    cap = resolve_capacity(mix, environment)
    out: list[tuple[str, object, str]] = []
    if cap.min_nodes > cap.max_nodes:
        out.append(("capacity.min_nodes", cap.min_nodes, f"at most max_nodes ({cap.max_nodes})"))
    if cap.floor > cap.max_nodes:
        out.append(("capacity", {"reserved_nodes": cap.reserved_nodes, "on_demand_base_nodes": cap.on_demand_base_nodes},
                    f"reserved + on-demand base at most max_nodes ({cap.max_nodes})"))
    if cap.min_nodes < cap.floor:
        out.append(("capacity.min_nodes", cap.min_nodes, f"at least the floor reserved + on-demand base ({cap.floor})"))
    if cap.reserved_nodes > 0 and mix.reservation is None:
        out.append(("capacity.reservation", None, "a reservation when reserved_nodes > 0"))
    if mix.reservation is not None and not mix.reserved_nodes:
        out.append(("capacity.reserved_nodes", mix.reserved_nodes, "at least 1 (how many nodes run on the reservation)"))
    if environment == "prod" and mix.reservation is None and mix.reserved_nodes is None:
        out.append(("capacity.reservation", None,
                    "a reservation in prod (reserved + on-demand floor + spot burst), or reserved_nodes: 0 to opt out"))
    if cap.floor < pool.serving_min_nodes:
        out.append(("capacity", {"floor": cap.floor},
                    f"a floor (reserved + on-demand base) of at least serving_min_nodes ({pool.serving_min_nodes}) "
                    "so serving survives losing every spot node"))
    if mix.spot_instance_types and cap.spot_percent == 0:
        out.append(("capacity.spot_instance_types", mix.spot_instance_types, "empty when spot_percent is 0"))
    return out
