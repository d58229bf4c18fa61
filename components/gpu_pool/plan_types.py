"""The fully decided plan of one GPU pool (pure): what the per-cloud modules compile.

Produced from a `GpuPoolSpec` by `infra.catalog.plan_pool` (catalog lookup + capacity planner);
consumers that bypass the catalog can build one by hand.
"""

from __future__ import annotations

from pydantic import Field

from .._contracts import Cloud
from .._model import Args
from .args import GpuPoolSpec, Reservation, ResolvedCapacity


class InstanceOffer(Args):
    """One instance/machine/VM type carrying GPUs."""

    instance_type: str = Field(..., description="e.g. g6.xlarge, g2-standard-4, Standard_NC4as_T4_v3")
    gpu_model: str = Field(..., description="Catalog GPU model, e.g. L4")
    gpus: int = Field(..., ge=1, description="GPUs per node")
    gpu_memory_gib: int = Field(..., ge=1, description="Memory per GPU")
    vcpu: int = Field(..., ge=1)
    memory_gib: float = Field(..., gt=0)
    accelerator: str | None = Field(None, description="GCP accelerator type (nvidia-l4); None elsewhere")


class PriceQuote(Args):
    """USD per node-hour for the pool's instance type in its region, with provenance."""

    on_demand: float
    spot: float | None = None
    reserved: float | None = None  # effective hourly price given the reservation's commitment
    as_of: str = Field(..., description="Date of the price table (YYYY-MM-DD)")
    source: str = Field(..., description="Where the figures come from")
    spot_by_type: dict[str, float | None] = Field(
        default_factory=dict,
        description="Spot diversity: each type's own spot price (its on-demand price where the catalog has no "
        "spot figure; None where it has neither). `spot` is then the dearest of them (worst case).",
    )
    reserved_paid_whole: bool = Field(
        False,
        description="True for an AWS Capacity Block: its nodes are paid for the block's whole duration, running "
        "or not, so the cost at min includes every block node at `reserved`.",
    )


class CapacityRange(Args):
    min: int
    max: int


class PoolCapacity(Args):
    """Node counts per capacity type, and the floor left after every spot node is reclaimed."""

    reserved: CapacityRange
    on_demand: CapacityRange
    spot: CapacityRange
    floor: int


class PoolPlan(Args):
    """Everything a per-cloud module needs to compile one GPU pool."""

    name: str
    cloud: Cloud
    region: str
    environment: str
    spec: GpuPoolSpec
    capacity_input: ResolvedCapacity
    capacity: PoolCapacity
    instance: InstanceOffer
    spot_instances: list[InstanceOffer] = Field(description="Types for the spot pool: the main type first, then extras")
    zones: list[str]
    reservation: Reservation | None = None
    price: PriceQuote | None = None
    spot_notice_seconds: int
    spot_shutdown_seconds: int | None = Field(
        None, description="What an ordinary pod on a reclaimed spot node has to shut down (the notice less the "
        "cloud's drain path); None = unknown, the notice is used.",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Caveats the plan prints for this pool (unverified catalog data, zones not checked, prices).",
    )
