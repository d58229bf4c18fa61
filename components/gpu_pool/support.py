"""Which `GpuPoolSpec` fields each cloud honours, and the config errors for the rest (pure).

Rule: no field is accepted and then ignored for a cloud. Every leaf field of the spec has a
decision per cloud in `FIELD_SUPPORT`: "honoured" (it changes what is deployed or planned) or a
reason it is refused there (a value other than the default is a config error naming the cloud).
tests/unit/test_pool_field_support.py walks the spec's fields recursively and fails for a field
without a decision, and proves each decision against the compiled resources.
"""

from __future__ import annotations

from typing import Any

from .args import GpuPoolSpec

HONOURED = "honoured"
CLOUDS = ("aws", "gcp", "azure")

_ALL = {c: HONOURED for c in CLOUDS}


def _only(cloud: str, **reasons: str) -> dict[str, str]:
    return {c: HONOURED if c == cloud else reasons[c] for c in CLOUDS}


# path (dots; dict/list fields are leaves) -> cloud -> "honoured" | reason for refusing it there.
FIELD_SUPPORT: dict[str, dict[str, str]] = {
    "name": _ALL,
    "gpu.model": _ALL,
    "gpu.gpus_per_node": _ALL,
    "gpu.instance_type": _ALL,  # the entry for the pool's cloud; entries for other clouds are refused
    "capacity.min_nodes": _ALL,
    "capacity.max_nodes": _ALL,
    "capacity.reserved_nodes": _ALL,
    "capacity.reservation.id": _ALL,
    "capacity.reservation.instance_type": _ALL,  # checked against the pool's type
    "capacity.reservation.zone": _ALL,
    "capacity.reservation.kind": _only(
        "aws", gcp="Capacity Blocks are an AWS offering", azure="Capacity Blocks are an AWS offering"),
    "capacity.reservation.commitment": _ALL,  # priced where the catalog records a discount, else refused
    "capacity.reservation.ends_at": _only(
        "aws", gcp="capacity_block only (AWS)", azure="capacity_block only (AWS)"),
    "capacity.reservation.drain_before_end_minutes": _only(
        "aws", gcp="capacity_block only (AWS)", azure="capacity_block only (AWS)"),
    "capacity.reservation.hourly_price_usd": _only(
        "aws", gcp="capacity_block only (AWS)", azure="capacity_block only (AWS)"),
    "capacity.on_demand_base_nodes": _ALL,
    "capacity.spot_percent": _ALL,
    "capacity.spot_instance_types": _ALL,
    "capacity.spot_max_price_per_hour": _only(
        "azure",
        aws="EKS managed node groups take no Spot max price (their launch template may not request Spot "
        "market options); Spot nodes pay the current Spot price, at most the on-demand price",
        gcp="GKE Spot VMs have no max price (no bidding); they pay the current Spot price"),
    "capacity.spot_eviction": _only(
        "azure", aws="EC2 always terminates an interrupted Spot node in a node group",
        gcp="Compute Engine always deletes a preempted Spot node of a node pool"),
    "zones": _ALL,
    "disk_size_gib": _ALL,
    "labels": _ALL,
    "taints": _ALL,
    "update.max_surge": _ALL,
    "update.max_unavailable": _ALL,
    "serving_min_nodes": _ALL,  # a floor check at config time on every cloud
    "driver.gke_version": _only(
        "gcp", aws="the EKS NVIDIA AMI ships its driver (pin it with driver.eks_ami_release_version)",
        azure="AKS installs its own driver (driver.aks_install)"),
    "driver.eks_ami_release_version": _only(
        "aws", gcp="GKE picks the node image with the GKE version (driver.gke_version)",
        azure="AKS picks the node image (driver.aks_install)"),
    "driver.aks_install": _only(
        "azure", aws="the EKS NVIDIA AMI always carries the driver",
        gcp="use driver.gke_version: INSTALLATION_DISABLED"),
}

# Refused fields that other rules already report (kind/capacity-block fields: infra.pools and the
# Reservation model), so they are not reported twice.
_REPORTED_ELSEWHERE = frozenset({
    "capacity.reservation.kind", "capacity.reservation.ends_at", "capacity.reservation.drain_before_end_minutes",
    "capacity.reservation.hourly_price_usd",
})


def _value(spec: Any, path: str) -> tuple[bool, Any, Any]:
    """(present, value, default) of a dotted path; not present when a parent is None."""
    node, parts = spec, path.split(".")
    for part in parts[:-1]:
        node = getattr(node, part)
        if node is None:
            return False, None, None
    field = type(node).model_fields[parts[-1]]
    default = field.get_default(call_default_factory=True)
    return True, getattr(node, parts[-1]), default


def field_support_issues(cloud: str, pool: GpuPoolSpec) -> list[tuple[str, Any, str]]:
    """Config problems (path relative to the pool, value, allowed) for fields `cloud` does not honour."""
    out: list[tuple[str, Any, str]] = []
    for path, decision in FIELD_SUPPORT.items():
        reason = decision[cloud]
        if reason == HONOURED or path in _REPORTED_ELSEWHERE:
            continue
        present, value, default = _value(pool, path)
        if present and value != default:
            out.append((path, value, f"unset on {cloud}: {reason}"))
    for other, value in sorted(pool.gpu.instance_type.items()):
        if other != cloud:
            out.append((f"gpu.instance_type.{other}", value,
                        f"only a {cloud} entry: this pool is in a {cloud} region, a {other} type would be ignored"))
    return out


# Fields a capacity engine other than node_groups does not honour (refused with it): path -> engine -> reason.
_KARPENTER_ROTATION = ("Karpenter replaces floor nodes one at a time on drift (the NodePool's Drifted budget), "
                       "launching the replacement first; there is no unavailable count to set")
ENGINE_SUPPORT: dict[str, dict[str, str]] = {
    "update.max_unavailable": {"karpenter": _KARPENTER_ROTATION, "node_auto_provisioning": _KARPENTER_ROTATION},
    "capacity.reservation.drain_before_end_minutes": {
        "karpenter": "Karpenter drains a Capacity Block's nodes itself when EC2 marks the block expiring"},
    "capacity.spot_max_price_per_hour": {
        "node_auto_provisioning": "AKS node auto-provisioning launches Spot VMs with no price cap (up to on-demand)"},
    "capacity.spot_eviction": {
        "node_auto_provisioning": "AKS node auto-provisioning deletes evicted Spot VMs (delete only)"},
}


def engine_support_issues(engine: str, pool: GpuPoolSpec) -> list[tuple[str, Any, str]]:
    """Config problems for fields the cluster's capacity engine does not honour, and for a
    reservation node auto-provisioning cannot target."""
    if engine == "node_groups":
        return []
    out: list[tuple[str, Any, str]] = []
    for path, reasons in ENGINE_SUPPORT.items():
        reason = reasons.get(engine)
        if reason is None:
            continue
        present, value, default = _value(pool, path)
        if present and value != default and (path, value) not in ((p, v) for p, v, _ in out):
            out.append((path, value, f"unset with capacity_engine {engine}: {reason}"))
    res = pool.capacity.reservation
    if engine == "node_auto_provisioning" and (res is not None or (pool.capacity.reserved_nodes or 0) > 0):
        out.append(("capacity.reservation", res.id if res is not None else None,
                    "none with capacity_engine node_auto_provisioning: AKS NAP launches on-demand and spot capacity "
                    "only (karpenter-provider-azure v1.14.2), it cannot target a capacity reservation group; use "
                    "capacity_engine node_groups for reserved capacity, or reserved_nodes: 0"))
    return out
