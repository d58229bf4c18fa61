"""GKE GPU pools and their ComputeClass, run under the recording mocks (no cloud, no CLI).

Plans are built by hand (no catalog): a g2-standard-4 with one L4.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.gpu_pool.args import (
    CAPACITY_LABEL,
    GPU_LABEL,
    POOL_LABEL,
    CapacityMix,
    GpuDriver,
    GpuPoolSpec,
    GpuSpec,
    Reservation,
    Taint,
    resolve_capacity,
)
from components.gpu_pool.gcp import COMPUTE_CLASS_SCHEMA, compute_class_name
from components.gpu_pool.plan_types import CapacityRange, InstanceOffer, PoolCapacity, PoolPlan
from components.gpu_pool.planner import plan_capacity
from infra.plan.runner import ProgramRun, run_program
from tests.support import REGIONS, TAGS, assert_explicit_providers

NODE_POOL = "gcp:container/nodePool:NodePool"
COMPUTE_CLASS = "kubernetes:cloud.google.com/v1:ComputeClass"
PROJECT = "gpufleet-test"
REGION = REGIONS["gcp"]
ZONES = ["us-central1-a", "us-central1-b", "us-central1-c"]
SA_EMAIL = "<computed:serviceaccount:r1-nodes:email>"
CLUSTER_ID = "r1-gke-id"

L4 = InstanceOffer(
    instance_type="g2-standard-4", gpu_model="L4", gpus=1, gpu_memory_gib=24, vcpu=4, memory_gib=16,
    accelerator="nvidia-l4",
)
L4_X2 = InstanceOffer(
    instance_type="g2-standard-24", gpu_model="L4", gpus=2, gpu_memory_gib=24, vcpu=24, memory_gib=96,
    accelerator="nvidia-l4",
)
T4_N1 = InstanceOffer(
    instance_type="n1-standard-8", gpu_model="T4", gpus=1, gpu_memory_gib=16, vcpu=8, memory_gib=30,
    accelerator="nvidia-tesla-t4",
)
RESERVATION = Reservation(id="l4-serving", instance_type="g2-standard-4", zone="us-central1-b")


def make_plan(
    name: str = "l4",
    *,
    environment: str = "prod",
    capacity: dict[str, Any] | None = None,
    instance: InstanceOffer = L4,
    spot_extra: tuple[InstanceOffer, ...] = (),
    zones: list[str] | None = None,
    **spec: Any,
) -> PoolPlan:
    """A decided pool, the way infra.pools would decide it, without the catalog."""
    mix = CapacityMix.model_validate(capacity if capacity is not None else {"reservation": RESERVATION, "reserved_nodes": 2,
                                                                           "max_nodes": 10})
    pool = GpuPoolSpec(name=name, gpu=GpuSpec(model=instance.gpu_model), capacity=mix, zones=zones or ZONES, **spec)
    resolved = resolve_capacity(mix, environment)
    decided = plan_capacity(
        min_nodes=resolved.min_nodes, max_nodes=resolved.max_nodes, reserved_nodes=resolved.reserved_nodes,
        on_demand_base_nodes=resolved.on_demand_base_nodes, spot_percent=resolved.spot_percent,
    )
    return PoolPlan(
        name=name, cloud="gcp", region=REGION, environment=environment, spec=pool, capacity_input=resolved,
        capacity=PoolCapacity(
            reserved=CapacityRange(min=decided.reserved.min, max=decided.reserved.max),
            on_demand=CapacityRange(min=decided.on_demand.min, max=decided.on_demand.max),
            spot=CapacityRange(min=decided.spot.min, max=decided.spot.max),
            floor=decided.floor,
        ),
        instance=instance, spot_instances=[instance, *spot_extra], zones=list(pool.zones),
        reservation=mix.reservation, spot_notice_seconds=30,
    )


def run_pools(*plans: PoolPlan, environment: str = "prod", cluster_spec: dict | None = None,
              addons: bool = True) -> ProgramRun:
    """A real GKE cluster ("r1"), the GPU pools ("r1-<pool>") and the cluster's GPU add-ons."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components.gpu_pool import GpuClusterAddons, GpuClusterAddonsArgs, GpuNodePool, GpuNodePoolArgs

    def program() -> None:
        provider = cloud_provider("r1-gcp", cloud="gcp", region=REGION, tags=TAGS, project_id=PROJECT)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="gcp", region=REGION, environment=environment,
                spec=ClusterSpec.model_validate(cluster_spec or {"create": {"version": "1.33"}}),
                tags=TAGS, cluster_name=f"gpufleet-{environment}-r1", project_id=PROJECT,
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        opts = pulumi.ResourceOptions(providers=[provider, cluster.target.provider])
        pools = [
            GpuNodePool(f"r1-{p.name}", GpuNodePoolArgs(plan=p, tags=TAGS, cluster=cluster.build), opts=opts)
            for p in plans
        ]
        if addons:
            GpuClusterAddons(
                "r1-gpu-addons",
                GpuClusterAddonsArgs(pools=pools, target=cluster.target, cluster=cluster.build, tags=TAGS,
                                     environment=environment),
                opts=opts,
            )

    return run_program(program, stack=environment)


def pools_by_role(run: ProgramRun, pool: str = "l4") -> dict[str, dict[str, Any]]:
    """NodePool inputs keyed by role (reserved, ondemand, spot, spot2 ...)."""
    prefix = f"r1-{pool}-"
    return {r.name.removeprefix(prefix): r.inputs for r in run.by_type(NODE_POOL) if r.name.startswith(prefix)}


def nodepool_name(pool: str, role: str) -> str:
    """The auto-name placeholder the mocks give a node pool (infra/plan/computed/gpu_pool_gcp.py)."""
    return f"<computed:gke-nodepool:r1-{pool}-{role}:name>"


def taints(inputs: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((t["key"], t["value"], t["effect"]) for t in inputs["nodeConfig"]["taints"])


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    # prod preset: reservation (2 nodes), 1 on-demand base, 100% spot above the floor, max 10.
    return run_pools(make_plan())


# --- sizes ---------------------------------------------------------------------------------------


def test_capacity_types_and_total_sizes(prod: ProgramRun) -> None:
    pools = pools_by_role(prod)
    assert set(pools) == {"reserved", "ondemand", "spot"}
    sizes = {role: (p["autoscaling"]["totalMinNodeCount"], p["autoscaling"]["totalMaxNodeCount"]) for role, p in pools.items()}
    # reserved 2, on-demand base 1, spot the remaining 7 (10 - floor 3).
    assert sizes == {"reserved": (2, 2), "ondemand": (1, 1), "spot": (0, 7)}
    for p in pools.values():
        # Totals only: per-zone limits would multiply the plan by the zone count.
        assert "minNodeCount" not in p["autoscaling"] and "maxNodeCount" not in p["autoscaling"]
        assert p["cluster"] == CLUSTER_ID and p["location"] == REGION
        assert "name" not in p  # auto-named: replacements are created before the old pool is deleted
    assert pools["spot"]["autoscaling"]["locationPolicy"] == "ANY"
    assert pools["reserved"]["autoscaling"]["locationPolicy"] == "BALANCED"
    assert pools["ondemand"]["autoscaling"]["locationPolicy"] == "BALANCED"


def created_nodes(pool: dict[str, Any]) -> int:
    """Nodes GKE creates for a node pool: initialNodeCount in each of its node locations."""
    return int(pool["initialNodeCount"]) * len(pool["nodeLocations"])


def test_the_floor_runs_from_creation_without_passing_the_max(prod: ProgramRun) -> None:
    pools = pools_by_role(prod)
    # The floor (2 reserved + 1 on-demand base) exists after `pulumi up`: GKE applies the
    # autoscaling minimum only on scale-down, so nothing would bring a 0-node start up to it.
    assert created_nodes(pools["reserved"]) == 2 and pools["reserved"]["nodeLocations"] == ["us-central1-b"]
    # 1 on-demand node over 3 zones cannot be 1 per zone (max 1): one zone, not the reservation's.
    assert pools["ondemand"]["nodeLocations"] == ["us-central1-a"] and pools["ondemand"]["initialNodeCount"] == 1
    assert created_nodes(pools["spot"]) == 0 and pools["spot"]["nodeLocations"] == ZONES
    for p in pools.values():
        assert p["autoscaling"]["totalMinNodeCount"] <= created_nodes(p) <= p["autoscaling"]["totalMaxNodeCount"]
    for r in prod.by_type(NODE_POOL):
        if r.name.startswith("r1-l4-"):
            assert r.options["ignoreChanges"] == ["initialNodeCount"]
    # Stockouts do not fail creation, except on the reservation (capacity held for us).
    assert pools["ondemand"]["bestEffortProvisioning"] == {"enabled": True, "minProvisionNodes": 0}
    assert pools["spot"]["bestEffortProvisioning"] == {"enabled": True, "minProvisionNodes": 0}
    assert "bestEffortProvisioning" not in pools["reserved"]


def test_floor_layout() -> None:
    from components.gpu_pool.gcp import floor_layout

    assert floor_layout(2, 2, ["a"]) == (["a"], 2)
    assert floor_layout(3, 9, ZONES) == (ZONES, 1)
    assert floor_layout(4, 9, ZONES) == (ZONES, 2)  # rounds up to reach the minimum
    assert floor_layout(1, 1, ZONES) == (["us-central1-a"], 1)  # fewer zones rather than no floor
    assert floor_layout(1, 1, ZONES, avoid="us-central1-a") == (["us-central1-b"], 1)
    assert floor_layout(2, 2, ZONES) == (ZONES[:2], 1)
    assert floor_layout(0, 8, ZONES) == (ZONES, 0)


@settings(max_examples=300, deadline=None)
@given(zones=st.integers(1, 4), lo=st.integers(0, 40), extra=st.integers(0, 40), avoid=st.integers(0, 4))
def test_floor_layout_always_reaches_the_min_within_the_max(zones: int, lo: int, extra: int, avoid: int) -> None:
    from components.gpu_pool.gcp import floor_layout

    names = [f"z{i}" for i in range(zones)]
    hi = max(1, lo + extra)
    locations, per_zone = floor_layout(lo, hi, names, avoid=f"z{avoid}")
    assert locations and set(locations) <= set(names) and locations == [z for z in names if z in locations]
    assert lo <= per_zone * len(locations) <= hi
    if lo == 0:
        assert per_zone == 0 and locations == names


def test_dev_is_spot_only_and_scales_to_zero() -> None:
    run = run_pools(make_plan(environment="dev", capacity={}), environment="dev")
    pools = pools_by_role(run)
    assert set(pools) == {"spot"}
    assert pools["spot"]["autoscaling"]["totalMinNodeCount"] == 0
    assert pools["spot"]["autoscaling"]["totalMaxNodeCount"] == 4


def test_staging_mix_sizes() -> None:
    # staging preset: 1 on-demand base, 70% of the 7 above it on spot (5), the rest on-demand burst.
    run = run_pools(make_plan(environment="staging", capacity={}), environment="staging")
    pools = pools_by_role(run)
    assert set(pools) == {"ondemand", "spot"}
    assert (pools["ondemand"]["autoscaling"]["totalMinNodeCount"], pools["ondemand"]["autoscaling"]["totalMaxNodeCount"]) == (1, 3)
    assert (pools["spot"]["autoscaling"]["totalMinNodeCount"], pools["spot"]["autoscaling"]["totalMaxNodeCount"]) == (0, 5)


def test_extra_spot_types_share_the_spot_range_exactly() -> None:
    plan = make_plan(capacity={"reservation": RESERVATION, "reserved_nodes": 2, "max_nodes": 10, "min_nodes": 6},
                     spot_extra=(L4_X2,))
    assert (plan.capacity.spot.min, plan.capacity.spot.max) == (3, 7)
    run = run_pools(plan)
    pools = pools_by_role(run)
    assert set(pools) == {"reserved", "ondemand", "spot", "spot2"}
    spot, spot2 = pools["spot"], pools["spot2"]
    assert spot["nodeConfig"]["machineType"] == "g2-standard-4"
    assert spot2["nodeConfig"]["machineType"] == "g2-standard-24"
    assert spot2["nodeConfig"]["guestAccelerators"][0]["count"] == 2
    assert spot2["nodeConfig"]["spot"] is True
    mins = spot["autoscaling"]["totalMinNodeCount"] + spot2["autoscaling"]["totalMinNodeCount"]
    maxs = spot["autoscaling"]["totalMaxNodeCount"] + spot2["autoscaling"]["totalMaxNodeCount"]
    assert (mins, maxs) == (3, 7)
    assert (spot["autoscaling"]["totalMaxNodeCount"], spot2["autoscaling"]["totalMaxNodeCount"]) == (4, 3)
    # Both spot types are one ComputeClass rule: GKE picks whichever has capacity.
    cc = run.one(COMPUTE_CLASS).inputs["spec"]
    assert cc["priorities"][1] == {"nodepools": [nodepool_name("l4", "spot"), nodepool_name("l4", "spot2")]}


# --- placement and reservation -------------------------------------------------------------------


def test_reserved_pool_consumes_the_specific_reservation_in_its_zone(prod: ProgramRun) -> None:
    pools = pools_by_role(prod)
    reserved = pools["reserved"]
    assert reserved["nodeConfig"]["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION",
        "key": "compute.googleapis.com/reservation-name",
        "values": ["l4-serving"],
    }
    assert reserved["nodeLocations"] == ["us-central1-b"]
    for role in ("ondemand", "spot"):
        assert "reservationAffinity" not in pools[role]["nodeConfig"]
    assert pools["spot"]["nodeLocations"] == ZONES  # the on-demand floor's zones: test_the_floor_runs_from_creation


def test_shared_reservation_path_is_passed_through() -> None:
    shared = Reservation(id="projects/capacity-host/reservations/l4", instance_type="g2-standard-4", zone="us-central1-a")
    run = run_pools(make_plan(capacity={"reservation": shared, "reserved_nodes": 1, "max_nodes": 4}))
    reserved = pools_by_role(run)["reserved"]
    assert reserved["nodeConfig"]["reservationAffinity"]["values"] == ["projects/capacity-host/reservations/l4"]
    assert reserved["nodeLocations"] == ["us-central1-a"]


def test_spot_only_on_the_spot_pool(prod: ProgramRun) -> None:
    pools = pools_by_role(prod)
    assert pools["spot"]["nodeConfig"]["spot"] is True
    assert "spot" not in pools["reserved"]["nodeConfig"]
    assert "spot" not in pools["ondemand"]["nodeConfig"]
    assert all("preemptible" not in p["nodeConfig"] for p in pools.values())


# --- node configuration --------------------------------------------------------------------------


def test_labels_carry_pool_gpu_capacity_type_and_compute_class(prod: ProgramRun) -> None:
    pools = pools_by_role(prod)
    for role, capacity in (("reserved", "reserved"), ("ondemand", "on-demand"), ("spot", "spot")):
        assert pools[role]["nodeConfig"]["labels"] == {
            POOL_LABEL: "l4",
            GPU_LABEL: "L4",
            CAPACITY_LABEL: capacity,
            "cloud.google.com/compute-class": "gpufleet-l4",
        }
        # GCE labels on the VMs: the cost tags.
        assert pools[role]["nodeConfig"]["resourceLabels"] == TAGS


def test_user_labels_are_kept() -> None:
    run = run_pools(make_plan(labels={"team": "search"}))
    assert pools_by_role(run)["spot"]["nodeConfig"]["labels"]["team"] == "search"


def test_taints_leave_the_gpu_taint_to_gke_and_add_the_compute_class_taint(prod: ProgramRun) -> None:
    for inputs in pools_by_role(prod).values():
        # The default spec taint nvidia.com/gpu=present:NoSchedule is GKE's own on GPU pools:
        # setting it again is rejected by GKE ("more than one taint with key nvidia.com/gpu").
        assert taints(inputs) == [("cloud.google.com/compute-class", "gpufleet-l4", "NO_SCHEDULE")]


def test_other_taints_are_translated_to_gke_effects() -> None:
    plan = make_plan(taints=[
        Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),
        Taint(key="nvidia.com/gpu", value="present", effect="NoExecute"),
        Taint(key="dedicated", value="inference", effect="PreferNoSchedule"),
    ])
    run = run_pools(plan)
    assert taints(pools_by_role(run)["ondemand"]) == [
        ("cloud.google.com/compute-class", "gpufleet-l4", "NO_SCHEDULE"),
        ("dedicated", "inference", "PREFER_NO_SCHEDULE"),
        ("nvidia.com/gpu", "present", "NO_EXECUTE"),
    ]


def test_a_gpu_taint_gke_would_contradict_is_refused() -> None:
    plan = make_plan(taints=[Taint(key="nvidia.com/gpu", value="true", effect="NoSchedule")])
    with pytest.raises(Exception, match="set by GKE with value 'present'"):
        run_pools(plan)


def test_guest_accelerator_and_default_driver(prod: ProgramRun) -> None:
    for inputs in pools_by_role(prod).values():
        nc = inputs["nodeConfig"]
        assert nc["machineType"] == "g2-standard-4"
        assert nc["guestAccelerators"] == [
            {"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
        ]


def test_latest_driver_only_when_asked() -> None:
    run = run_pools(make_plan(driver=GpuDriver(gke_version="LATEST")))
    for inputs in pools_by_role(run).values():
        assert inputs["nodeConfig"]["guestAccelerators"][0]["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "LATEST"}


def test_n1_with_attached_t4_uses_the_same_accelerator_block() -> None:
    plan = make_plan("t4", environment="dev", capacity={}, instance=T4_N1)
    run = run_pools(plan, environment="dev")
    nc = pools_by_role(run, "t4")["spot"]["nodeConfig"]
    assert nc["machineType"] == "n1-standard-8"
    assert nc["guestAccelerators"] == [
        {"type": "nvidia-tesla-t4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
    ]


def test_nodes_are_hardened_and_run_as_the_cluster_node_account(prod: ProgramRun) -> None:
    for inputs in pools_by_role(prod).values():
        nc = inputs["nodeConfig"]
        assert nc["serviceAccount"] == SA_EMAIL
        assert nc["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
        assert nc["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert nc["metadata"] == {"disable-legacy-endpoints": "true"}
        assert nc["imageType"] == "COS_CONTAINERD"
        assert nc["diskSizeGb"] == 200 and nc["diskType"] == "pd-balanced"
        assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_hyperdisk_only_machine_series_get_hyperdisk() -> None:
    from components.gpu_pool.gcp import _boot_disk_type

    assert _boot_disk_type("a3-ultragpu-8g") == "hyperdisk-balanced"
    assert _boot_disk_type("a3-highgpu-1g") == "pd-balanced"
    assert _boot_disk_type("g2-standard-4") == "pd-balanced"


def test_upgrade_settings_follow_the_spec_except_on_the_reservation(prod: ProgramRun) -> None:
    pools = pools_by_role(prod)
    assert pools["ondemand"]["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0}
    assert pools["spot"]["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0}
    # No surge node can come from a reservation that holds exactly the reserved nodes.
    assert pools["reserved"]["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 0, "maxUnavailable": 1}


# --- ComputeClass --------------------------------------------------------------------------------


def test_compute_class_prefers_reserved_then_spot_then_on_demand(prod: ProgramRun) -> None:
    cc = prod.one(COMPUTE_CLASS)
    assert cc.inputs["apiVersion"] == "cloud.google.com/v1" and cc.inputs["kind"] == "ComputeClass"
    assert cc.inputs["metadata"]["name"] == "gpufleet-l4" == compute_class_name(make_plan())
    assert cc.inputs["spec"] == {
        "priorities": [
            {"nodepools": [nodepool_name("l4", "reserved")]},
            {"nodepools": [nodepool_name("l4", "spot")]},
            {"nodepools": [nodepool_name("l4", "ondemand")]},
        ],
        "nodePoolAutoCreation": {"enabled": False},
        "whenUnsatisfiable": "DoNotScaleUp",
        "activeMigration": {"optimizeRulePriority": False},
    }
    # The class names the node pools: it is created after them.
    pool_urns = {r.urn for r in prod.by_type(NODE_POOL) if r.name.startswith("r1-l4-")}
    assert pool_urns <= set(cc.options["dependsOn"])


def test_compute_class_matches_the_published_schema(prod: ProgramRun) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from infra.plan.report import manifest

    jsonschema.validate(manifest(prod.one(COMPUTE_CLASS)), COMPUTE_CLASS_SCHEMA)
    # The schema is closed: a misspelled field is caught.
    bad = manifest(prod.one(COMPUTE_CLASS))
    bad["spec"] = {**bad["spec"], "whenUnsatisfiable": "ScaleUp"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, COMPUTE_CLASS_SCHEMA)


def test_compute_class_labels(prod: ProgramRun) -> None:
    labels = prod.one(COMPUTE_CLASS).inputs["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "gpufleet"
    assert labels["gpufleet.io/pool"] == "l4"
    assert {k: labels[k] for k in ("environment", "owner", "cost-center")} == {
        k: TAGS[k] for k in ("environment", "owner", "cost-center")
    }


def test_one_compute_class_per_pool_with_only_its_capacity_types() -> None:
    run = run_pools(make_plan(), make_plan("t4", capacity={"reserved_nodes": 0, "max_nodes": 3}, instance=T4_N1))
    classes = {r.inputs["metadata"]["name"]: r.inputs["spec"]["priorities"] for r in run.by_type(COMPUTE_CLASS)}
    assert set(classes) == {"gpufleet-l4", "gpufleet-t4"}
    assert classes["gpufleet-t4"] == [
        {"nodepools": [nodepool_name("t4", "spot")]},
        {"nodepools": [nodepool_name("t4", "ondemand")]},
    ]
    assert {r.name for r in run.by_type(COMPUTE_CLASS)} == {"r1-gpu-addons-l4-computeclass", "r1-gpu-addons-t4-computeclass"}
    # Each class's node pools carry that class's label and taint, and no other's.
    for inputs in pools_by_role(run, "t4").values():
        assert inputs["nodeConfig"]["labels"]["cloud.google.com/compute-class"] == "gpufleet-t4"


def test_no_device_plugin_driver_installer_or_termination_handler_on_gke(prod: ProgramRun) -> None:
    # GKE installs the device plugin and (gpu_driver_installation_config) the driver itself, and
    # handles spot preemption with graceful node shutdown: the only addon is the ComputeClass.
    addons = prod.one("gpufleet:gpu_pool:GpuClusterAddons")
    assert [r.type for r in prod.children_of(addons.urn)] == [COMPUTE_CLASS]


# --- cross-cutting -------------------------------------------------------------------------------


def test_explicit_providers_parents_and_names(prod: ProgramRun) -> None:
    assert_explicit_providers(prod)
    component = prod.one("gpufleet:gpu_pool:GpuNodePool")
    assert component.name == "r1-l4"
    children = prod.children_of(component.urn)
    assert sorted((r.type, r.name) for r in children) == sorted(
        [(NODE_POOL, "r1-l4-reserved"), (NODE_POOL, "r1-l4-ondemand"), (NODE_POOL, "r1-l4-spot")]
    )
    assert all(r.provider.split("::")[-2] == "r1-gcp" for r in children)
    cc = prod.one(COMPUTE_CLASS)
    assert cc.parent == prod.one("gpufleet:gpu_pool:GpuClusterAddons").urn
    assert cc.provider.split("::")[-2] == "r1-k8s"


def test_pool_outputs_through_the_facade() -> None:
    from components.gpu_pool import GpuNodePool, GpuNodePoolArgs
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs
    from components._cloud import cloud_provider

    def program() -> None:
        provider = cloud_provider("r1-gcp", cloud="gcp", region=REGION, tags=TAGS, project_id=PROJECT)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(cloud="gcp", region=REGION, environment="prod",
                                  spec=ClusterSpec.model_validate({"create": {"version": "1.33"}}),
                                  tags=TAGS, cluster_name="gpufleet-prod-r1", project_id=PROJECT),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        pool = GpuNodePool("r1-l4", GpuNodePoolArgs(plan=make_plan(), tags=TAGS, cluster=cluster.build),
                           opts=pulumi.ResourceOptions(providers=[provider, cluster.target.provider]))
        pulumi.export("groups", pool.build.autoscaler_groups)
        pulumi.export("native", sorted(pool.build.native_pools))

    run = run_program(program, stack="prod")
    assert run.outputs["groups"] == {
        "reserved": [nodepool_name("l4", "reserved")],
        "on-demand": [nodepool_name("l4", "ondemand")],
        "spot": [nodepool_name("l4", "spot")],
    }
    assert run.outputs["native"] == ["on-demand", "reserved", "spot"]


# --- errors --------------------------------------------------------------------------------------


def test_adopted_cluster_without_node_service_account_is_refused() -> None:
    with pytest.raises(Exception, match="adopted clusters need a node service account configured"):
        run_pools(make_plan(), cluster_spec={"adopt": {"name": "legacy"}}, addons=False)


def test_names_too_long_for_gke_are_refused() -> None:
    from components.gpu_pool.gcp import _node_pool_resource_name

    assert _node_pool_resource_name("use1abcdefgh-pool123456", "ondemand") == "use1abcdefgh-pool123456-ondemand"
    with pytest.raises(ValueError, match="at most 32 characters"):
        _node_pool_resource_name("use1abcdefgh-pool1234567", "ondemand")
    with pytest.raises(ValueError, match="start with a lowercase letter"):
        _node_pool_resource_name("1use-l4", "spot")
