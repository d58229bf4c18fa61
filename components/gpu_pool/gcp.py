"""GKE flavour of the GPU pools: node pools per capacity type, and a custom ComputeClass per pool.

`build_pool` compiles one `PoolPlan` into GKE Standard node pools (`gcp.container.NodePool`):

- reserved: consumes the plan's specific Compute Engine reservation (SPECIFIC_RESERVATION, placed
  only in the reservation's zone);
- on-demand: the on-demand base plus burst;
- spot: Spot VMs, one node pool per spot machine type (the main type first, then the extra types
  of `capacity.spot_instance_types`), the plan's spot range split between them.

Sizes use GKE's *total* autoscaling limits (`total_min_node_count`/`total_max_node_count`), which
count nodes across all `node_locations`; the per-zone `min_node_count`/`max_node_count` would
multiply the plan's numbers by the zone count.

`build_addons` installs the autoscaler preference reserved -> spot -> on-demand as one GKE custom
ComputeClass per pool (`priorities` of `nodepools` rules, in that order). Everything else the
other clouds install as add-ons GKE does itself (see `build_addons`).

Every child takes `parent=parent`: node pools get the region's gcp provider through the parent's
`providers=[...]`; Kubernetes objects name the cluster's provider explicitly. Nested inputs use
the SDK's typed `*Args` classes (the CustomResource `spec` is the one plain dict: it has no SDK
type; `COMPUTE_CLASS_SCHEMA` below pins the fields it may use).
"""

from __future__ import annotations

import math
import re
from typing import Any

import pulumi
import pulumi_gcp as gcp

from . import GpuClusterAddonsArgs, GpuNodePoolArgs, PoolBuild, pool_labels
from .args import GPU_TAINT_KEY, Taint
from .plan_types import InstanceOffer, PoolPlan

# Same scope as the cluster's nodes: access is governed by the node service account's IAM roles.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

# --- GKE custom ComputeClass ---------------------------------------------------------------------
#
# A Pod selects the class with the node selector `cloud.google.com/compute-class: <class>`; GKE
# adds the matching toleration for the class taint itself.
# Manually created node pools serve a ComputeClass only when they carry both the node label
# `cloud.google.com/compute-class=<class>` and the taint `cloud.google.com/compute-class=<class>:NoSchedule`
# ("Configure manually-created node pools for ComputeClass use",
# https://docs.cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes#manual-node-pools).
# Each node pool can be associated with one ComputeClass, hence one class per GPU pool.
COMPUTE_CLASS_API_VERSION = "cloud.google.com/v1"
COMPUTE_CLASS_KIND = "ComputeClass"
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
COMPUTE_CLASS_PREFIX = "gpufleet-"

# The fields of the ComputeClass CRD this module writes, with their published types. Source: the
# ComputeClass CRD reference, https://docs.cloud.google.com/kubernetes-engine/docs/reference/crds/computeclass
# (read 2026; `priorities[].nodepools` and `nodePoolAutoCreation` need GKE 1.30.3-gke.1451000 or
# later, the cluster runs 1.33). The published CRD has many more fields; this subset is closed
# (additionalProperties: false) so that a field gpufleet starts using has to be added here, with
# its source, first. Published constraints kept: `nodepools` may not be combined with any other
# field of the same priority rule; whenUnsatisfiable is ScaleUpAnyway | DoNotScaleUp.
COMPUTE_CLASS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": COMPUTE_CLASS_API_VERSION},
        "kind": {"const": COMPUTE_CLASS_KIND},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["priorities"],
            "additionalProperties": False,
            "properties": {
                # spec.priorities[] (required): tried in order when the cluster scales up.
                "priorities": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["nodepools"],
                        "additionalProperties": False,  # nodepools is incompatible with every other rule field
                        "properties": {
                            "nodepools": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                        },
                    },
                },
                # spec.nodePoolAutoCreation.enabled: may GKE create node pools for the class.
                "nodePoolAutoCreation": {
                    "type": "object",
                    "required": ["enabled"],
                    "additionalProperties": False,
                    "properties": {"enabled": {"type": "boolean"}},
                },
                # spec.activeMigration.optimizeRulePriority: move Pods up the priority list.
                "activeMigration": {
                    "type": "object",
                    "required": ["optimizeRulePriority"],
                    "additionalProperties": False,
                    "properties": {"optimizeRulePriority": {"type": "boolean"}},
                },
                "whenUnsatisfiable": {"enum": ["ScaleUpAnyway", "DoNotScaleUp"]},
            },
        },
    },
}

# --- names ---------------------------------------------------------------------------------------

# Capacity label values (components.gpu_pool.args.CAPACITY_LABEL) and child-name roles. Roles stay
# short: GKE node pool names are at most 40 characters and Pulumi's auto-name adds 8 ("-" + 7 hex).
CAPACITY_ORDER = ("reserved", "on-demand", "spot")
_ROLE = {"reserved": "reserved", "on-demand": "ondemand", "spot": "spot"}
GKE_NODE_POOL_NAME_MAX = 40
AUTONAME_SUFFIX_LEN = 8
_NODE_POOL_NAME = re.compile(r"^[a-z][-a-z0-9]*$")

# Effects as the GKE API spells them.
_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
# The value GKE gives the nvidia.com/gpu taint it adds to GPU node pools itself.
GKE_GPU_TAINT_VALUE = "present"

# Machine series whose boot disk can only be Hyperdisk (no Persistent Disk): A3 Ultra, A4, A4X, G4.
_HYPERDISK_ONLY = ("a3-ultragpu-", "a4-", "a4x-", "g4-")


def compute_class_name(plan: PoolPlan) -> str:
    """The ComputeClass a pool's Pods select (`nodeSelector: {cloud.google.com/compute-class: ...}`)."""
    return f"{COMPUTE_CLASS_PREFIX}{plan.name}"


def _node_pool_resource_name(name: str, role: str) -> str:
    """`<name>-<role>`, checked so that the auto-named GKE node pool stays a valid name."""
    child = f"{name}-{role}"
    limit = GKE_NODE_POOL_NAME_MAX - AUTONAME_SUFFIX_LEN
    if len(child) > limit or not _NODE_POOL_NAME.match(child):
        raise ValueError(
            f"GKE node pool {child!r}: the name must start with a lowercase letter, use only [a-z0-9-] and be at "
            f"most {limit} characters (GKE allows {GKE_NODE_POOL_NAME_MAX}; Pulumi's auto-name suffix takes "
            f"{AUTONAME_SUFFIX_LEN}); use a shorter GpuNodePool name"
        )
    return child


# --- sizing --------------------------------------------------------------------------------------


def floor_layout(total_min: int, total_max: int, zones: list[str], *, avoid: str | None = None) -> tuple[list[str], int]:
    """Pure: (node_locations, initial nodes per location) so that the pool runs at least its
    minimum from creation, never more than its maximum.

    GKE's `initial_node_count` is per node location, and its autoscaler applies the minimum only
    when it scales down ("the autoscaler uses the minimum number of nodes parameter only when it
    needs to determine a scaling down", https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-autoscaler),
    so a floor that does not exist at creation is never brought up: 1 on-demand node over 3 zones
    would start at 0 nodes. Rule: ceil(min / zones) per zone in every zone when that fits the
    maximum (up to zones-1 nodes above the minimum, removed once idle); otherwise the largest
    number of zones that fits (1 node over 3 zones with max 1 -> one zone). `avoid` (the
    reservation's zone) is tried last, so an on-demand floor lands next to the reserved nodes
    rather than in the same zone.
    """
    ordered = [z for z in zones if z != avoid] + [z for z in zones if z == avoid]
    if total_min <= 0 or not ordered:
        return list(zones), 0
    for k in range(len(ordered), 0, -1):
        per_zone = math.ceil(total_min / k)
        if per_zone * k <= total_max:
            chosen = ordered[:k]
            return [z for z in zones if z in chosen], per_zone
    raise ValueError(f"minimum {total_min} above maximum {total_max}")


def _split(total: int, parts: int) -> list[int]:
    """`total` split into `parts` integers differing by at most one, larger ones first."""
    q, r = divmod(total, parts)
    return [q + 1 if i < r else q for i in range(parts)]


def _spot_shares(plan: PoolPlan) -> list[tuple[InstanceOffer, int, int]]:
    """(offer, min, max) per spot machine type. The plan's spot range is split between the types so
    the pools together are bounded by exactly the plan's numbers; a type whose share would be 0
    nodes gets no pool."""
    spot = plan.capacity.spot
    offers = list(plan.spot_instances) or [plan.instance]
    used = offers[: max(1, min(len(offers), spot.max))]
    return [
        (offer, lo, hi)
        for offer, lo, hi in zip(used, _split(spot.min, len(used)), _split(spot.max, len(used)))
        if hi > 0
    ]


# --- node configuration --------------------------------------------------------------------------


def _boot_disk_type(machine_type: str) -> str:
    return "hyperdisk-balanced" if machine_type.startswith(_HYPERDISK_ONLY) else "pd-balanced"


def _taints(plan: PoolPlan, class_name: str) -> list[gcp.container.NodePoolNodeConfigTaintArgs]:
    """The spec's taints in GKE's shape, plus the ComputeClass taint.

    GKE itself taints GPU node pools with nvidia.com/gpu=present:NoSchedule, and rejects a node
    pool that sets that key and effect again ("Found more than one taint with key nvidia.com/gpu
    and effect NO_SCHEDULE", hashicorp/terraform-provider-google#7928), so that taint is left to
    GKE. GKE adds it only when the cluster has a non-GPU node pool at the time; the ComputeClass
    taint keeps every Pod that does not select the class off these nodes either way.
    """
    out: list[gcp.container.NodePoolNodeConfigTaintArgs] = []
    for t in plan.spec.taints:
        if t.key == COMPUTE_CLASS_LABEL:
            raise ValueError(f"pool {plan.name!r}: the taint key {COMPUTE_CLASS_LABEL} is set by gpufleet on GKE")
        if t.key == GPU_TAINT_KEY and t.effect == "NoSchedule":
            if t.value != GKE_GPU_TAINT_VALUE:
                raise ValueError(
                    f"pool {plan.name!r}: on GKE the {GPU_TAINT_KEY}:NoSchedule taint is set by GKE with value "
                    f"{GKE_GPU_TAINT_VALUE!r}; use that value (or drop the taint), not {t.value!r}"
                )
            continue
        out.append(_taint(t))
    out.append(_taint(Taint(key=COMPUTE_CLASS_LABEL, value=class_name, effect="NoSchedule")))
    return out


def _taint(t: Taint) -> gcp.container.NodePoolNodeConfigTaintArgs:
    return gcp.container.NodePoolNodeConfigTaintArgs(key=t.key, value=t.value, effect=_TAINT_EFFECT[t.effect])


def _node_config(
    plan: PoolPlan,
    offer: InstanceOffer,
    capacity_type: str,
    service_account: pulumi.Input[str],
    tags: dict[str, str],
) -> gcp.container.NodePoolNodeConfigArgs:
    if not offer.accelerator:
        raise ValueError(
            f"pool {plan.name!r}: machine type {offer.instance_type} has no GCP accelerator type in the catalog "
            "(InstanceOffer.accelerator, e.g. nvidia-l4)"
        )
    class_name = compute_class_name(plan)
    reservation = None
    if capacity_type == "reserved":
        assert plan.reservation is not None
        reservation = gcp.container.NodePoolNodeConfigReservationAffinityArgs(
            consume_reservation_type="SPECIFIC_RESERVATION",
            key="compute.googleapis.com/reservation-name",
            # A name in the cluster's project, or projects/<p>/reservations/<n> for a shared one.
            values=[plan.reservation.id],
        )
    return gcp.container.NodePoolNodeConfigArgs(
        machine_type=offer.instance_type,
        # G2/A2/A3 machine types come with their GPUs, N1 attaches T4s: both are declared the same way.
        guest_accelerators=[
            gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                type=offer.accelerator,
                count=offer.gpus,
                # DEFAULT: the driver version GKE tested with the node's GKE version, upgraded with
                # the node. LATEST floats (the policy pack refuses it in prod); INSTALLATION_DISABLED
                # leaves the driver to the operator.
                gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(
                    gpu_driver_version=plan.spec.driver.gke_version
                ),
            )
        ],
        spot=True if capacity_type == "spot" else None,
        reservation_affinity=reservation,
        image_type="COS_CONTAINERD",
        disk_size_gb=plan.spec.disk_size_gib,
        disk_type=_boot_disk_type(offer.instance_type),
        service_account=service_account,
        oauth_scopes=[CLOUD_PLATFORM_SCOPE],
        labels={**pool_labels(plan, capacity_type), COMPUTE_CLASS_LABEL: class_name},
        taints=_taints(plan, class_name),
        resource_labels=dict(tags),
        metadata={"disable-legacy-endpoints": "true"},
        gvnic=gcp.container.NodePoolNodeConfigGvnicArgs(enabled=True),
        shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_integrity_monitoring=True
        ),
        workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
    )


def _upgrade_settings(plan: PoolPlan, capacity_type: str) -> gcp.container.NodePoolUpgradeSettingsArgs:
    update = plan.spec.update
    if capacity_type == "reserved":
        # A surge node would have to come from the same reservation, which holds exactly the
        # reserved nodes: surging would stall the upgrade. Replace one node at a time instead;
        # its Pods fall back to spot/on-demand through the ComputeClass meanwhile.
        return gcp.container.NodePoolUpgradeSettingsArgs(
            strategy="SURGE", max_surge=0, max_unavailable=max(1, update.max_unavailable)
        )
    return gcp.container.NodePoolUpgradeSettingsArgs(
        strategy="SURGE", max_surge=update.max_surge, max_unavailable=update.max_unavailable
    )


# --- build ---------------------------------------------------------------------------------------


def build_pool(parent: pulumi.ComponentResource, name: str, args: GpuNodePoolArgs) -> PoolBuild:
    """GKE node pools for one `PoolPlan`: reserved, on-demand and spot, each only when its max > 0."""
    plan: PoolPlan = args.plan
    cluster = args.cluster
    missing = []
    if cluster.node_service_account is None:
        # GPU nodes never fall back to the Compute Engine default service account (Editor).
        missing.append("a node service account configured (ClusterBuild.node_service_account)")
    if cluster.cluster_id is None:
        missing.append("the cluster id node pools attach to (ClusterBuild.cluster_id)")
    if missing:
        raise ValueError(
            f"GPU pool {plan.name!r}: GKE GPU node pools need " + " and ".join(missing) + "; gpufleet-created "
            "clusters provide both, adopted clusters need a node service account configured and the cluster id"
        )

    cap = plan.capacity
    # capacity type -> [(offer, total min, total max, zones)]
    layout: dict[str, list[tuple[InstanceOffer, int, int, list[str]]]] = {}
    if cap.reserved.max > 0:
        if plan.reservation is None:
            raise ValueError(f"GPU pool {plan.name!r}: {cap.reserved.max} reserved nodes planned but no reservation")
        # A zonal reservation serves only its own zone.
        layout["reserved"] = [(plan.instance, cap.reserved.min, cap.reserved.max, [plan.reservation.zone])]
    if cap.on_demand.max > 0:
        layout["on-demand"] = [(plan.instance, cap.on_demand.min, cap.on_demand.max, list(plan.zones))]
    if cap.spot.max > 0:
        layout["spot"] = [(offer, lo, hi, list(plan.zones)) for offer, lo, hi in _spot_shares(plan)]

    groups: dict[str, list[pulumi.Input[str]]] = {}
    native: dict[str, pulumi.Resource] = {}
    for capacity_type in CAPACITY_ORDER:
        for i, (offer, lo, hi, zones) in enumerate(layout.get(capacity_type, [])):
            role = _ROLE[capacity_type] + (str(i + 1) if i else "")
            pool = _node_pool(parent, _node_pool_resource_name(name, role), plan, args, capacity_type, offer, lo, hi, zones)
            groups.setdefault(capacity_type, []).append(pool.name)
            native.setdefault(capacity_type, pool)
    return PoolBuild(autoscaler_groups=groups, native_pools=native,
                     node_selector={COMPUTE_CLASS_LABEL: compute_class_name(plan)})


def _node_pool(
    parent: pulumi.Resource,
    resource_name: str,
    plan: PoolPlan,
    args: GpuNodePoolArgs,
    capacity_type: str,
    offer: InstanceOffer,
    total_min: int,
    total_max: int,
    zones: list[str],
) -> gcp.container.NodePool:
    cluster = args.cluster
    avoid = plan.reservation.zone if plan.reservation is not None and capacity_type != "reserved" else None
    locations, initial = floor_layout(total_min, total_max, zones, avoid=avoid)
    return gcp.container.NodePool(
        resource_name,
        gcp.container.NodePoolArgs(
            # No fixed `name`: the auto-name lets a replacement be created before the old pool goes.
            cluster=cluster.cluster_id,  # projects/<p>/locations/<l>/clusters/<n>: project comes with it
            location=plan.region,
            node_locations=locations,
            # The floor runs from creation (GKE never scales up to the minimum by itself).
            initial_node_count=initial,
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                # Totals across node_locations, so the plan's numbers hold whatever the zone count.
                total_min_node_count=total_min,
                total_max_node_count=total_max,
                # ANY chases whichever zone has spot capacity; BALANCED spreads the floor.
                location_policy="ANY" if capacity_type == "spot" else "BALANCED",
            ),
            # A GPU stockout in one zone must not fail the pool's creation: GKE creates what it can
            # and brings up the rest later. A reservation is capacity held for us, so a shortfall
            # there is an error worth failing on.
            best_effort_provisioning=(
                gcp.container.NodePoolBestEffortProvisioningArgs(enabled=True, min_provision_nodes=0)
                if capacity_type != "reserved"
                else None
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            upgrade_settings=_upgrade_settings(plan, capacity_type),
            node_config=_node_config(plan, offer, capacity_type, cluster.node_service_account, args.tags),
        ),
        # initial_node_count forces a replacement when changed; the autoscaler owns the size.
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["initialNodeCount"]),
    )


def compute_class_spec(groups: dict[str, list[pulumi.Input[str]]]) -> dict[str, Any]:
    """The ComputeClass spec for one pool: reserved, then spot, then on-demand node pools.

    Each capacity type is its own `nodepools` rule: GKE tries the rules in order, and within one
    rule picks any listed pool (the spot machine types share a rule). The reservation is bound on
    the reserved node pool itself (reservation affinity), which is how the docs consume a
    reservation from manually created node pools ("Consume reservations in manually created node
    pools"); a declarative `reservations` rule would need node pool auto-creation, which stays off
    so that only the pools sized here ever run.
    """
    order = ("reserved", "spot", "on-demand")
    return {
        "priorities": [{"nodepools": list(groups[c])} for c in order if groups.get(c)],
        "nodePoolAutoCreation": {"enabled": False},
        # Pods wait for one of the pools rather than landing on some default machine.
        "whenUnsatisfiable": "DoNotScaleUp",
        # No eviction of running serving Pods just because a higher rule has room again; the
        # autoscaler still drains under-used lower-priority nodes on its own.
        "activeMigration": {"optimizeRulePriority": False},
    }


def build_addons(parent: pulumi.ComponentResource, name: str, args: GpuClusterAddonsArgs) -> None:
    """GKE's share of the per-cluster GPU add-ons: one custom ComputeClass per GPU pool.

    What the other clouds install as add-ons, GKE does itself:
    - NVIDIA device plugin: GKE deploys and manages it on GPU nodes
      (https://cloud.google.com/kubernetes-engine/docs/how-to/gpus); the node label
      `gke-no-default-nvidia-gpu-device-plugin=true` is the documented way to opt out, which
      gpufleet never sets.
    - NVIDIA driver: installed by GKE because each GPU node pool sets
      `gpu_driver_installation_config` (GPUDriverVersion DEFAULT: "Default GPU driver in COS and
      Ubuntu"; LATEST: "Latest GPU driver in COS"; GKE API reference,
      https://docs.cloud.google.com/ruby/docs/reference/google-cloud-container-v1/latest/Google-Cloud-Container-V1-GPUDriverInstallationConfig-GPUDriverVersion).
    - Spot preemption: GKE's kubelet graceful node shutdown is on by default; on a preemption
      notice Pods get 30 s, the first 15 s for ordinary Pods and the rest for system Pods
      (https://docs.cloud.google.com/kubernetes-engine/docs/concepts/spot-vms, "Termination and
      graceful shutdown of Spot VMs"). No termination handler is deployed.
    - Autoscaler priority: GKE's cluster autoscaler has no priority expander to configure; a
      custom ComputeClass is its fallback list (this function).
    """
    import pulumi_kubernetes as k8s

    target = args.target
    managed = {"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"}
    cost = {k: v for k, v in args.tags.items() if k in ("environment", "owner", "cost-center")}
    for pool in sorted(args.pools, key=lambda p: p.plan.name):
        plan: PoolPlan = pool.plan
        k8s.apiextensions.CustomResource(
            f"{name}-{plan.name}-computeclass",
            api_version=COMPUTE_CLASS_API_VERSION,
            kind=COMPUTE_CLASS_KIND,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=compute_class_name(plan),  # cluster-scoped
                labels={**managed, **cost, "gpufleet.io/pool": plan.name},
            ),
            spec=compute_class_spec(pool.build.autoscaler_groups),
            opts=pulumi.ResourceOptions(parent=parent, provider=target.provider),
        )
