"""AKS GPU pools and cluster add-ons under the recording mocks (no cloud, no Pulumi CLI)."""

from __future__ import annotations

import pulumi
import pytest
import yaml

import kubernetes_validate
from components.gpu_pool import GpuClusterAddons, GpuClusterAddonsArgs, GpuNodePool, GpuNodePoolArgs
from components.gpu_pool import azure as aks_gpu
from components.gpu_pool.args import GpuPoolSpec, resolve_capacity
from components.gpu_pool.plan_types import CapacityRange, InstanceOffer, PoolCapacity, PoolPlan
from components.gpu_pool.planner import plan_capacity
from infra.plan.runner import run_program
from tests.support import TAGS, assert_explicit_providers

AGENT_POOL = "azure-native:containerservice:AgentPool"
CLUSTER = "azure-native:containerservice:ManagedCluster"
ROLE = "azure-native:authorization:RoleAssignment"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
RELEASE = "kubernetes:helm.sh/v3:Release"
POOL_COMPONENT = "gpufleet:gpu_pool:GpuNodePool"
ADDONS_COMPONENT = "gpufleet:gpu_pool:GpuClusterAddons"

REGION = "eastus"
T4 = InstanceOffer(
    instance_type="Standard_NC4as_T4_v3", gpu_model="T4", gpus=1, gpu_memory_gib=16, vcpu=4, memory_gib=28
)
T4_8 = InstanceOffer(
    instance_type="Standard_NC8as_T4_v3", gpu_model="T4", gpus=1, gpu_memory_gib=16, vcpu=8, memory_gib=56
)
CRG = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-capacity/providers/"
    "Microsoft.Compute/capacityReservationGroups/crg-t4"
)
CLUSTER_SPEC = {"create": {"version": "1.33", "zones": ["1", "2", "3"]}}


def make_plan(spec: dict, environment: str = "prod", spot_instances: list[InstanceOffer] | None = None) -> PoolPlan:
    pool = GpuPoolSpec.model_validate({"gpu": {"model": "T4"}, "zones": ["1", "2", "3"], **spec})
    cap_in = resolve_capacity(pool.capacity, environment)
    cp = plan_capacity(**cap_in.model_dump())
    capacity = PoolCapacity(
        reserved=CapacityRange(min=cp.reserved.min, max=cp.reserved.max),
        on_demand=CapacityRange(min=cp.on_demand.min, max=cp.on_demand.max),
        spot=CapacityRange(min=cp.spot.min, max=cp.spot.max),
        floor=cp.floor,
    )
    return PoolPlan(
        name=pool.name,
        cloud="azure",
        region=REGION,
        environment=environment,
        spec=pool,
        capacity_input=cap_in,
        capacity=capacity,
        instance=T4,
        spot_instances=spot_instances or [T4],
        zones=list(pool.zones),
        reservation=pool.capacity.reservation,
        spot_notice_seconds=30,
    )


PROD_MIX = {
    "name": "t4",
    "capacity": {
        "max_nodes": 6,
        "reserved_nodes": 1,
        "reservation": {"id": CRG, "instance_type": "Standard_NC4as_T4_v3", "zone": "2"},
        "on_demand_base_nodes": 1,
        "spot_percent": 75,
        "spot_max_price_per_hour": 0.35,
    },
}
DEV_SPOT = {"name": "dev", "capacity": {"spot_eviction": "deallocate"}}
# All spot in prod too: no reservation, no on-demand base.
PROD_SPOT = {"name": "l4", "capacity": {"spot_eviction": "deallocate", "reserved_nodes": 0, "on_demand_base_nodes": 0}}


def run_pools(plans: list[PoolPlan], *, environment: str = "prod", cluster_spec: dict | None = None,
              stack_reference_outputs: dict | None = None):
    """A real AKS cluster ("r1"), the given GPU pools and the cluster's GPU add-ons."""
    from components._cloud import cloud_provider
    from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs

    def program() -> None:
        provider = cloud_provider("r1-azure", cloud="azure", region=REGION, tags=TAGS)
        cluster = KubernetesCluster(
            "r1",
            KubernetesClusterArgs(
                cloud="azure",
                region=REGION,
                environment=environment,
                spec=ClusterSpec.model_validate(cluster_spec or CLUSTER_SPEC),
                tags=TAGS,
                cluster_name=f"gpufleet-{environment}-r1",
            ),
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        providers = [provider, cluster.target.provider]
        pools = [
            GpuNodePool(
                f"r1-{plan.name}",
                GpuNodePoolArgs(plan=plan, tags=TAGS, cluster=cluster.build),
                opts=pulumi.ResourceOptions(providers=providers),
            )
            for plan in plans
        ]
        GpuClusterAddons(
            "r1-gpu",
            GpuClusterAddonsArgs(
                pools=pools, target=cluster.target, cluster=cluster.build, tags=TAGS, environment=environment
            ),
            opts=pulumi.ResourceOptions(providers=providers),
        )

    return run_program(program, stack=environment, stack_reference_outputs=stack_reference_outputs)


@pytest.fixture(scope="module")
def prod():
    return run_pools([make_plan(PROD_MIX), make_plan(PROD_SPOT)])


@pytest.fixture(scope="module")
def dev():
    return run_pools([make_plan(DEV_SPOT, environment="dev")], environment="dev")


def gpu_agent_pools(run) -> list:
    """Agent pools of the GPU pools (not the cluster's own general pool)."""
    return [r for r in run.by_type(AGENT_POOL) if "gpufleet:cluster:KubernetesCluster" not in r.urn]


def pools_by_name(run) -> dict[str, dict]:
    return {r.inputs["agentPoolName"]: r.inputs for r in gpu_agent_pools(run)}


# --- capacity types and sizes -----------------------------------------------------------------


def test_prod_mix_compiles_to_one_pool_per_capacity_type(prod):
    pools = pools_by_name(prod)
    assert set(pools) == {"t4r", "t4o", "t4s", "l4s"}
    # max 6 = reserved 1 + on-demand base 1 + 4 above the floor, 75 % of them (3) on spot.
    sizes = {n: (p["minCount"], p["maxCount"], p["count"]) for n, p in pools.items()}
    assert sizes["t4r"] == (1, 1, 1)
    assert sizes["t4o"] == (1, 2, 1)
    assert sizes["t4s"] == (0, 3, 0)
    for p in pools.values():
        assert p["enableAutoScaling"] is True
        assert p["mode"] == "User"
        assert p["type"] == "VirtualMachineScaleSets"
        assert (p["osType"], p["osSKU"]) == ("Linux", "Ubuntu")
        assert p["vmSize"] == "Standard_NC4as_T4_v3"
        assert p["resourceName"] == "gpufleet-prod-r1"
        assert p["resourceGroupName"] == "rg-gpufleet-prod-r1"
        assert p["vnetSubnetID"] == "r1-subnet-id"
        assert (p["osDiskSizeGB"], p["osDiskType"]) == (200, "Managed")
        assert p["tags"] == TAGS


def test_dev_all_spot_creates_only_a_spot_pool_scaling_to_zero(dev):
    pools = pools_by_name(dev)
    assert set(pools) == {"devs"}
    p = pools["devs"]
    assert (p["minCount"], p["maxCount"], p["count"]) == (0, 4, 0)


def test_priority_regular_vs_spot_eviction_and_price(prod, dev):
    pools = pools_by_name(prod)
    for name in ("t4r", "t4o"):
        assert pools[name]["scaleSetPriority"] == "Regular"
        assert "scaleSetEvictionPolicy" not in pools[name] and "spotMaxPrice" not in pools[name]
    spot = pools["t4s"]
    assert spot["scaleSetPriority"] == "Spot"
    assert spot["scaleSetEvictionPolicy"] == "Delete"
    assert spot["spotMaxPrice"] == 0.35
    # No max price: -1 means up to the on-demand price (never evicted for price).
    assert pools["l4s"]["spotMaxPrice"] == -1
    assert pools["l4s"]["scaleSetEvictionPolicy"] == "Deallocate"
    assert pools_by_name(dev)["devs"]["scaleSetEvictionPolicy"] == "Deallocate"


def test_capacity_reservation_only_on_reserved_pool_in_its_zone(prod):
    pools = pools_by_name(prod)
    assert pools["t4r"]["capacityReservationGroupID"] == CRG
    assert pools["t4r"]["availabilityZones"] == ["2"]
    for name in ("t4o", "t4s", "l4s"):
        assert "capacityReservationGroupID" not in pools[name]
        assert pools[name]["availabilityZones"] == ["1", "2", "3"]


def test_cluster_identity_may_use_the_reservation_group(prod):
    grant = prod.one(ROLE, "-crg-contributor")
    assert grant.name == "r1-t4-crg-contributor"
    assert grant.inputs["scope"] == CRG
    assert grant.inputs["principalType"] == "ServicePrincipal"
    assert grant.inputs["roleDefinitionId"] == (
        "/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.Authorization/"
        "roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
    )
    assert grant.inputs["principalId"] == "<computed:azure-identity:r1-identity-id:principalId>"
    reserved = next(r for r in gpu_agent_pools(prod) if r.inputs["agentPoolName"] == "t4r")
    assert grant.urn in reserved.options["dependsOn"]


def test_pools_of_one_gpu_pool_are_created_one_after_another(prod):
    by_name = {r.inputs["agentPoolName"]: r for r in gpu_agent_pools(prod)}
    assert by_name["t4r"].urn in by_name["t4o"].options["dependsOn"]
    assert by_name["t4o"].urn in by_name["t4s"].options["dependsOn"]


# --- labels, taints, driver, network ----------------------------------------------------------


def test_labels_include_pool_gpu_and_capacity_type(prod):
    pools = pools_by_name(prod)
    for name, capacity in (("t4r", "reserved"), ("t4o", "on-demand"), ("t4s", "spot")):
        assert pools[name]["nodeLabels"] == {
            "gpufleet.io/pool": "t4",
            "gpufleet.io/gpu": "T4",
            "gpufleet.io/capacity-type": capacity,
        }


def test_taints_include_gpu_taint_and_spot_taint(prod):
    pools = pools_by_name(prod)
    assert pools["t4r"]["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pools["t4o"]["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pools["t4s"]["nodeTaints"] == [
        "nvidia.com/gpu=present:NoSchedule",
        "kubernetes.azure.com/scalesetpriority=spot:NoSchedule",
    ]


def test_empty_taint_value_is_refused():
    plan = make_plan(DEV_SPOT | {"taints": [{"key": "gpu-only", "effect": "NoSchedule"}]}, environment="dev")
    with pytest.raises(Exception, match="empty value"):
        run_pools([plan], environment="dev")


def test_aks_installs_the_driver_by_default(prod):
    for p in pools_by_name(prod).values():
        assert p["gpuProfile"] == {"driver": "Install"}


def test_driver_install_can_be_skipped_and_device_plugin_follows():
    run = run_pools([make_plan(DEV_SPOT | {"driver": {"aks_install": False}}, environment="dev")], environment="dev")
    assert pools_by_name(run)["devs"]["gpuProfile"] == {"driver": "None"}
    # The GPU Operator brings its own device plugin for such pools.
    assert [r.inputs["chart"] for r in run.by_type(RELEASE)] == ["aks-node-termination-handler"]


def test_no_public_ips(prod):
    for p in pools_by_name(prod).values():
        assert p["enableNodePublicIP"] is False


def test_upgrade_surge_on_regular_pools_only(prod):
    pools = pools_by_name(prod)
    for name in ("t4r", "t4o"):
        assert pools[name]["upgradeSettings"] == {"maxSurge": "1", "maxUnavailable": "0"}
    # AKS refuses maxSurge/maxUnavailable on Spot pools.
    assert "upgradeSettings" not in pools["t4s"]


def test_autoscaler_owns_count_and_names_are_fixed(prod):
    for r in gpu_agent_pools(prod):
        assert r.options["ignoreChanges"] == ["count"]
        assert r.options["deleteBeforeReplace"] is True


# --- names ------------------------------------------------------------------------------------


def test_pool_names_are_valid_for_aks(prod):
    for name in pools_by_name(prod):
        assert aks_gpu.AKS_POOL_NAME.fullmatch(name), name
        assert len(name) <= 12


def test_longest_pool_key_still_fits():
    assert aks_gpu.aks_pool_name("abcdefghij", "on-demand") == "abcdefghijo"
    assert aks_gpu.aks_pool_name("abcdefghij", "spot", 9) == "abcdefghijs9"
    with pytest.raises(ValueError, match="invalid"):
        aks_gpu.aks_pool_name("abcdefghij", "spot", 10)


def test_child_names_parents_and_providers(prod):
    assert_explicit_providers(prod)
    components = {r.name: r.urn for r in prod.by_type(POOL_COMPONENT)}
    assert set(components) == {"r1-t4", "r1-l4"}
    for r in gpu_agent_pools(prod):
        owner = "r1-t4" if r.inputs["agentPoolName"].startswith("t4") else "r1-l4"
        assert r.parent == components[owner]
        assert r.name.startswith(owner + "-")
        assert r.provider.split("::")[-2] == "r1-azure"
    addons = prod.one(ADDONS_COMPONENT).urn
    for r in prod.by_type(CONFIGMAP) + prod.by_type(RELEASE):
        assert r.parent == addons
        assert r.name.startswith("r1-gpu-")
        assert r.provider.split("::")[-2] == "r1-k8s"


# --- spot diversity ---------------------------------------------------------------------------


def test_extra_spot_sizes_become_extra_pools_within_the_spot_maximum():
    plan = make_plan(
        {"name": "t4", "capacity": {"max_nodes": 5, "min_nodes": 3, "spot_instance_types": ["Standard_NC8as_T4_v3"]}},
        environment="dev",
        spot_instances=[T4, T4_8],
    )
    pools = pools_by_name(run_pools([plan], environment="dev"))
    assert set(pools) == {"t4s", "t4s2"}
    shape = {n: (p["vmSize"], p["minCount"], p["maxCount"]) for n, p in pools.items()}
    # min 3 / max 5 spot split across the two sizes, never above the planned spot maximum.
    assert shape == {"t4s": ("Standard_NC4as_T4_v3", 2, 3), "t4s2": ("Standard_NC8as_T4_v3", 1, 2)}
    assert all(p["scaleSetPriority"] == "Spot" for p in pools.values())


@pytest.mark.parametrize(
    ("total", "parts", "expected"), [(5, 2, [3, 2]), (1, 3, [1, 0, 0]), (0, 2, [0, 0]), (6, 3, [2, 2, 2])]
)
def test_split_counts(total, parts, expected):
    assert aks_gpu.split_counts(total, parts) == expected
    assert sum(aks_gpu.split_counts(total, parts)) == total


# --- add-ons ------------------------------------------------------------------------------------


def priorities(run) -> dict[int, list[str]]:
    cm = run.one(CONFIGMAP)
    return yaml.safe_load(cm.inputs["data"]["priorities"])


def test_cluster_uses_the_priority_expander(prod):
    assert prod.one(CLUSTER).inputs["autoScalerProfile"] == {"expander": "priority"}


def test_priority_expander_prefers_reserved_then_spot_then_on_demand(prod):
    cm = prod.one(CONFIGMAP)
    assert cm.inputs["metadata"]["name"] == "cluster-autoscaler-priority-expander"
    assert cm.inputs["metadata"]["namespace"] == "kube-system"
    prios = priorities(prod)
    assert list(prios) == [30, 20, 10, 1]
    assert prios[30] == [".*aks-t4r-.*"]
    assert prios[20] == [".*aks-l4s-.*", ".*aks-t4s-.*"]
    assert prios[10] == [".*aks-t4o-.*"]
    # Groups the ConfigMap does not match are never used by the expander: keep a catch-all.
    assert prios[1] == [".*"]


def test_priority_regexes_match_only_their_scale_set():
    import re

    regex = re.compile(aks_gpu.autoscaler_group_regex("t4s"))
    assert regex.fullmatch("aks-t4s-12345678-vmss")
    assert not regex.fullmatch("aks-t4s2-12345678-vmss")
    assert not regex.fullmatch("aks-system-12345678-vmss")
    assert not re.fullmatch(aks_gpu.autoscaler_group_regex("ks"), "aks-t4s-12345678-vmss")


def test_all_spot_cluster_has_no_empty_priorities(dev):
    assert priorities(dev) == {20: [".*aks-devs-.*"], 1: [".*"]}


def test_configmap_is_schema_valid(prod):
    cm = prod.one(CONFIGMAP).inputs
    obj = {"apiVersion": cm["apiVersion"], "kind": cm["kind"], "metadata": cm["metadata"], "data": cm["data"]}
    kubernetes_validate.validate(obj, "1.33", strict=True)


def test_device_plugin_chart_is_pinned_and_targets_gpu_nodes(prod):
    (rel,) = [r for r in prod.by_type(RELEASE) if r.inputs["chart"] == "nvidia-device-plugin"]
    assert rel.inputs["version"] == "0.18.2"
    assert rel.inputs["repositoryOpts"] == {"repo": "https://nvidia.github.io/k8s-device-plugin"}
    assert rel.inputs["namespace"] == "kube-system"
    values = rel.inputs["values"]
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert {"key": "gpufleet.io/gpu", "operator": "Exists"} in term["matchExpressions"]
    assert {"key": "gpufleet.io/pool", "operator": "In", "values": ["l4", "t4"]} in term["matchExpressions"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    assert {
        "key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"
    } in values["tolerations"]


def test_termination_handler_chart_is_pinned_and_tolerates_spot(prod):
    (rel,) = [r for r in prod.by_type(RELEASE) if r.inputs["chart"] == "aks-node-termination-handler"]
    assert rel.inputs["version"] == "1.2.0"
    assert rel.inputs["repositoryOpts"] == {"repo": "https://maksim-paskal.github.io/aks-node-termination-handler/"}
    values = rel.inputs["values"]
    assert values["priorityClassName"] == "system-node-critical"
    assert "-taint.node=true" in values["args"]
    keys = {t["key"] for t in values["tolerations"]}
    assert keys == {"nvidia.com/gpu", "kubernetes.azure.com/scalesetpriority"}


def test_helm_values_are_schema_valid_pod_fields(prod):
    """Affinity and tolerations are copied into pod specs: validate them inside a Pod."""
    for rel in prod.by_type(RELEASE):
        values = rel.inputs["values"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "affinity": values["affinity"],
                "tolerations": values["tolerations"],
                "priorityClassName": values["priorityClassName"],
            },
        }
        kubernetes_validate.validate(pod, "1.33", strict=True)


# --- adopted clusters and bad input -------------------------------------------------------------


def test_stack_reference_adoption_is_refused():
    with pytest.raises(Exception, match="stack reference"):
        run_pools(
            [make_plan(DEV_SPOT, environment="dev")],
            environment="dev",
            cluster_spec={"adopt": {"stack_reference": "org/platform/dev"}},
        )


def test_adopted_by_name_cluster_gets_pools_in_its_resource_group():
    run = run_pools(
        [make_plan(DEV_SPOT, environment="dev")],
        environment="dev",
        cluster_spec={"adopt": {"name": "legacy-aks", "resource_group": "rg-legacy"}},
    )
    p = pools_by_name(run)["devs"]
    assert (p["resourceGroupName"], p["resourceName"]) == ("rg-legacy", "legacy-aks")
    # No subnet id is known for an adopted cluster: AKS places the pool in the cluster's network.
    assert "vnetSubnetID" not in p


def test_reservation_must_be_a_capacity_reservation_group():
    bad = {**PROD_MIX, "capacity": {**PROD_MIX["capacity"], "reservation": {
        "id": "cr-0123456789abcdef0", "instance_type": "Standard_NC4as_T4_v3", "zone": "2"}}}
    with pytest.raises(Exception, match="capacity reservation group id"):
        run_pools([make_plan(bad)])
