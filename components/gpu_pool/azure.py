"""AKS flavour of `GpuNodePool` and `GpuClusterAddons`.

One `PoolPlan` compiles into AKS user agent pools, one per capacity type with a maximum above
zero (plus one per extra spot VM size):

- reserved: Regular priority, associated with the plan's capacity reservation group and pinned
  to the reservation's zone; the cluster identity gets Contributor on the group (AKS requires it,
  https://learn.microsoft.com/azure/aks/use-capacity-reservation-groups);
- on-demand: Regular priority across the plan's zones;
- spot: Spot priority, eviction policy and max price from the capacity mix.

AKS pool names are 1-12 lowercase alphanumerics starting with a letter, so each native pool is
named `<pool><suffix>` (`t4r`, `t4o`, `t4s`, `t4s2` ...): pool keys are at most 10 characters.

`build_addons` installs, once per cluster, what AKS does not do itself:

- the priority-expander ConfigMap `kube-system/cluster-autoscaler-priority-expander` (reserved
  30, spot 20, on-demand 10, everything else 1). AKS's managed cluster autoscaler reads it when
  the cluster's `autoScalerProfile.expander` is `priority` (set by the cluster module); see
  https://blog.aks.azure.com/2025/07/17/Scaling-safely-with-spot-on-aks and Azure/AKS#1931;
- the NVIDIA device plugin (Helm): AKS installs the NVIDIA driver on GPU nodes but not the
  device plugin that advertises `nvidia.com/gpu`
  (https://learn.microsoft.com/azure/aks/use-nvidia-gpu);
- aks-node-termination-handler (Helm, community maintained): it polls Azure Scheduled Events
  from each GPU node and taints, cordons and drains the node when a Preempt (spot eviction,
  at least 30 s notice), Reboot, Redeploy or Terminate event is announced.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import yaml

from . import GPU_LABEL, POOL_LABEL, SYSTEM_NAMESPACE, GpuClusterAddonsArgs, GpuNodePoolArgs, PoolBuild, pool_labels
from .plan_types import InstanceOffer, PoolPlan

cs = azure_native.containerservice

# --- constants ------------------------------------------------------------------------------

# Capacity type (the gpufleet.io/capacity-type label value) -> AKS pool-name suffix.
CAPACITY_SUFFIX: dict[str, str] = {"reserved": "r", "on-demand": "o", "spot": "s"}

# Linux agent pool names: https://learn.microsoft.com/azure/aks/create-node-pools (limitations).
AKS_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")

# AKS taints every Spot node with this (and labels it kubernetes.azure.com/scalesetpriority=spot).
SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"
SPOT_TAINT = f"{SPOT_TAINT_KEY}=spot:NoSchedule"

# spot_max_price -1: pay up to the on-demand price and never be evicted for price.
SPOT_PRICE_UP_TO_ON_DEMAND = -1.0

# Ubuntu, not Azure Linux: AKS does not apply automatic security patches to Azure Linux GPU
# pools (https://learn.microsoft.com/azure/aks/use-nvidia-gpu, limitations), and Ubuntu is the
# image every NVIDIA stack (AKS driver, GPU Operator) supports.
GPU_OS_SKU = cs.OSSKU.UBUNTU

# Managed OS disks: ephemeral OS disks must fit the VM's cache/temp disk (Standard_NC4as_T4_v3
# has 180 GiB, below the 200 GiB default disk_size_gib) and do not support the Deallocate spot
# eviction policy; managed disks honour disk_size_gib on every GPU size.
GPU_OS_DISK_TYPE = cs.OSDiskType.MANAGED

# Cluster autoscaler priority expander (higher wins). Every group the ConfigMap does not match is
# "not used" by the expander, so a catch-all keeps the system pool and foreign pools scalable.
EXPANDER_CONFIGMAP = "cluster-autoscaler-priority-expander"
PRIORITIES: dict[str, int] = {"reserved": 30, "spot": 20, "on-demand": 10}
CATCH_ALL_PRIORITY = 1

# Built-in Contributor role (same GUID in every subscription).
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
CRG_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/[^/]+/providers/Microsoft\.Compute/"
    r"capacityReservationGroups/[^/]+$",
    re.IGNORECASE,
)

# Helm charts, pinned (bump deliberately; chart values are checked in tests).
DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
DEVICE_PLUGIN_REPO = "https://nvidia.github.io/k8s-device-plugin"
DEVICE_PLUGIN_VERSION = "0.18.2"
TERMINATION_HANDLER_CHART = "aks-node-termination-handler"
TERMINATION_HANDLER_REPO = "https://maksim-paskal.github.io/aks-node-termination-handler/"
TERMINATION_HANDLER_VERSION = "1.2.0"  # newest in the repo's index.yaml; 1.4.0 exists only in a fork


# --- pure helpers ---------------------------------------------------------------------------


def aks_pool_name(pool: str, capacity_type: str, index: int = 1) -> str:
    """Deterministic AKS agent pool name: `<pool><r|o|s>[index]` (index only from 2 on)."""
    name = f"{pool}{CAPACITY_SUFFIX[capacity_type]}{index if index > 1 else ''}"
    if not AKS_POOL_NAME.fullmatch(name):
        raise ValueError(
            f"GPU pool {pool!r}: AKS agent pool name {name!r} is invalid (1-12 lowercase letters/digits, "
            "starting with a letter); shorten the pool name or use fewer spot_instance_types"
        )
    return name


def autoscaler_group_regex(agent_pool: str) -> str:
    """Regex for the autoscaler's node group of one agent pool.

    The group id is the pool's scale set, `aks-<agentpool>-<hash>-vmss`. The `aks-` prefix and the
    trailing dash keep `t4s` from matching `t4s2`, and a short pool such as `ks` from matching
    every `aks-...` scale set.
    """
    return f".*aks-{agent_pool}-.*"


def taint_string(key: str, value: str, effect: str, *, pool: str) -> str:
    """AKS node taint `key=value:Effect`; AKS (and az aks) require a non-empty value."""
    if not value:
        raise ValueError(
            f"GPU pool {pool!r}: taint {key!r} has an empty value; AKS node taints need key=value:Effect "
            "(set a value, e.g. 'present')"
        )
    return f"{key}={value}:{effect}"


def split_counts(total: int, parts: int) -> list[int]:
    """`total` split across `parts` as evenly as possible, the remainder on the first parts."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def priorities_yaml(groups: dict[str, list[str]]) -> str:
    """The priority expander's `priorities` document: highest priority first, then a catch-all."""
    doc: dict[int, list[str]] = {}
    for capacity_type, prio in sorted(PRIORITIES.items(), key=lambda kv: -kv[1]):
        regexes = sorted(set(groups.get(capacity_type, [])))
        if regexes:
            doc[prio] = regexes
    doc[CATCH_ALL_PRIORITY] = [".*"]
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def spot_pools(plan: PoolPlan) -> list[tuple[str, InstanceOffer, int, int]]:
    """(agent pool name, VM size, min, max) per spot VM size with a max above zero.

    Extra sizes (spot_instance_types) become extra pools; the plan's spot min/max are split
    across them so the pool never exceeds its planned spot maximum.
    """
    offers = list(plan.spot_instances) or [plan.instance]
    mins = split_counts(plan.capacity.spot.min, len(offers))
    maxes = split_counts(plan.capacity.spot.max, len(offers))
    out = []
    for i, (offer, lo, hi) in enumerate(zip(offers, mins, maxes), start=1):
        if hi > 0:
            out.append((aks_pool_name(plan.name, "spot", i), offer, lo, hi))
    return out


# --- pools ----------------------------------------------------------------------------------


def _control_plane_principal(cluster_resource: Any) -> pulumi.Output[str] | None:
    """Principal id of the created cluster's (single) user-assigned control-plane identity."""
    identity = getattr(cluster_resource, "identity", None)
    if identity is None:
        return None

    def principal(ident) -> str:
        uais = getattr(ident, "user_assigned_identities", None) or {}
        if len(uais) != 1:
            raise ValueError(f"expected one user-assigned cluster identity, found {len(uais)}")
        return next(iter(uais.values())).principal_id

    return identity.apply(principal)


def build_pool(parent: pulumi.ComponentResource, name: str, args: GpuNodePoolArgs) -> PoolBuild:
    plan: PoolPlan = args.plan
    cluster = args.cluster
    if cluster.resource_group_name is None:
        raise ValueError(
            f"GPU pool {plan.name!r}: the AKS cluster was adopted through a stack reference, which gives no "
            "resource group; adopt it by name and resource_group to add GPU pools"
        )
    spec = plan.spec
    mix = spec.capacity
    tags = dict(sorted(args.tags.items()))
    base_taints = [taint_string(t.key, t.value, t.effect, pool=plan.name) for t in spec.taints]
    zones = list(plan.zones) or None
    subnet = cluster.subnet_ids.apply(lambda ids: ids[0]) if cluster.subnet_ids is not None else None
    upgrade = cs.AgentPoolUpgradeSettingsArgs(
        max_surge=str(spec.update.max_surge), max_unavailable=str(spec.update.max_unavailable)
    )
    driver = cs.GPUProfileArgs(driver=cs.GPUDriver.INSTALL if spec.driver.aks_install else cs.GPUDriver.NONE)

    groups: dict[str, list[pulumi.Input[str]]] = {}
    native: dict[str, pulumi.Resource] = {}
    # AKS runs one agent pool operation per cluster at a time ("Another agentpool operation is in
    # progress"), so the pools of one GpuNodePool are chained.
    # AKS refuses concurrent agent-pool operations on one cluster: chain after the pools of the
    # region's earlier GpuNodePools too (args.after).
    previous: list[pulumi.Resource] = list(args.after)

    def agent_pool(role: str, capacity_type: str, pool_name: str, vm_size: str, lo: int, hi: int,
                   extra: dict[str, Any], depends_on: list[pulumi.Resource]) -> cs.AgentPool:
        spot = capacity_type == "spot"
        pool_zones = extra.pop("availability_zones", zones)
        pool = cs.AgentPool(
            f"{name}-{role}",
            resource_group_name=cluster.resource_group_name,
            resource_name_=cluster.cluster_name,
            agent_pool_name=pool_name,
            mode=cs.AgentPoolMode.USER,
            type=cs.AgentPoolType.VIRTUAL_MACHINE_SCALE_SETS,
            os_type=cs.OSType.LINUX,
            os_sku=GPU_OS_SKU,
            vm_size=vm_size,
            enable_auto_scaling=True,
            count=lo,
            min_count=lo,
            max_count=hi,
            availability_zones=pool_zones,
            vnet_subnet_id=subnet,
            os_disk_size_gb=spec.disk_size_gib,
            os_disk_type=GPU_OS_DISK_TYPE,
            enable_node_public_ip=False,
            node_labels=pool_labels(plan, capacity_type),
            # AKS adds the spot taint itself; stating it keeps the recorded spec truthful and
            # avoids a diff against what AKS reports back.
            node_taints=base_taints + ([SPOT_TAINT] if spot else []),
            gpu_profile=driver,
            # AKS refuses maxSurge/maxUnavailable on Spot pools (spot nodes are never surged).
            upgrade_settings=None if spot else upgrade,
            tags=tags,
            **extra,
            opts=pulumi.ResourceOptions(
                parent=parent,
                depends_on=depends_on,
                # The cluster autoscaler owns the node count after creation.
                ignore_changes=["count"],
                # Agent pool names are fixed, so a replacement must delete the old pool first.
                delete_before_replace=True,
            ),
        )
        groups.setdefault(capacity_type, []).append(autoscaler_group_regex(pool_name))
        return pool

    cap = plan.capacity
    if cap.reserved.max > 0:
        res = plan.reservation
        if res is None:
            raise ValueError(f"GPU pool {plan.name!r}: reserved nodes need a capacity reservation group")
        match = CRG_ID.fullmatch(res.id)
        if match is None:
            raise ValueError(
                f"GPU pool {plan.name!r}: capacity.reservation.id {res.id!r} is not a capacity reservation group id "
                "(/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Compute/capacityReservationGroups/<name>)"
            )
        grants: list[pulumi.Resource] = []
        # Adopted clusters: looked up by the cluster module; created ones: read from the cluster.
        principal = cluster.control_plane_principal_id or _control_plane_principal(cluster.cluster_resource)
        if principal is not None:
            # AKS associates the pool's scale set with the group as the cluster identity.
            grants.append(azure_native.authorization.RoleAssignment(
                f"{name}-crg-contributor",
                azure_native.authorization.RoleAssignmentArgs(
                    principal_id=principal,
                    principal_type="ServicePrincipal",
                    role_definition_id=f"/subscriptions/{match['sub']}/providers/Microsoft.Authorization/"
                    f"roleDefinitions/{CONTRIBUTOR}",
                    scope=res.id,
                ),
                opts=pulumi.ResourceOptions(parent=parent),
            ))
        pool = agent_pool(
            "reserved", "reserved", aks_pool_name(plan.name, "reserved"), plan.instance.instance_type,
            cap.reserved.min, cap.reserved.max,
            {"scale_set_priority": cs.ScaleSetPriority.REGULAR, "capacity_reservation_group_id": res.id,
             "availability_zones": [res.zone]},
            previous + grants,
        )
        native["reserved"] = pool
        previous = [pool]

    if cap.on_demand.max > 0:
        pool = agent_pool(
            "on-demand", "on-demand", aks_pool_name(plan.name, "on-demand"), plan.instance.instance_type,
            cap.on_demand.min, cap.on_demand.max,
            {"scale_set_priority": cs.ScaleSetPriority.REGULAR},
            previous,
        )
        native["on-demand"] = pool
        previous = [pool]

    eviction = (
        cs.ScaleSetEvictionPolicy.DEALLOCATE if mix.spot_eviction == "deallocate" else cs.ScaleSetEvictionPolicy.DELETE
    )
    price = mix.spot_max_price_per_hour
    if price is None:
        price = SPOT_PRICE_UP_TO_ON_DEMAND
    for i, (pool_name, offer, lo, hi) in enumerate(spot_pools(plan), start=1):
        key = "spot" if i == 1 else f"spot-{i}"
        pool = agent_pool(
            key, "spot", pool_name, offer.instance_type, lo, hi,
            {"scale_set_priority": cs.ScaleSetPriority.SPOT, "scale_set_eviction_policy": eviction,
             "spot_max_price": price},
            previous,
        )
        native[key] = pool
        previous = [pool]

    return PoolBuild(autoscaler_groups=groups, native_pools=native)


# --- addons ---------------------------------------------------------------------------------


def _tolerations(pools: list[Any]) -> list[dict[str, str]]:
    """Tolerate every GPU pool taint (by key and effect) and the AKS spot taint."""
    seen = sorted({(t.key, t.effect) for p in pools for t in p.plan.spec.taints})
    out = [{"key": k, "operator": "Exists", "effect": e} for k, e in seen]
    out.append({"key": SPOT_TAINT_KEY, "operator": "Equal", "value": "spot", "effect": "NoSchedule"})
    return out


def _gpu_node_affinity(pool_names: list[str] | None = None) -> dict[str, Any]:
    exprs: list[dict[str, Any]] = [{"key": GPU_LABEL, "operator": "Exists"}]
    if pool_names is not None:
        exprs.append({"key": POOL_LABEL, "operator": "In", "values": pool_names})
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": exprs}
    ]}}}


def build_addons(parent: pulumi.ComponentResource, name: str, args: GpuClusterAddonsArgs) -> None:
    import pulumi_kubernetes as k8s

    opts = pulumi.ResourceOptions(parent=parent, provider=args.target.provider)
    pools = sorted(args.pools, key=lambda p: p.plan.name)
    labels = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "gpufleet"}

    # (a) Autoscaler priorities: reserved, then spot, then on-demand.
    flat: list[tuple[str, pulumi.Input[str]]] = [
        (capacity_type, regex)
        for p in pools
        for capacity_type, regexes in sorted(p.build.autoscaler_groups.items())
        for regex in regexes
    ]

    def render(values: list[str]) -> str:
        groups: dict[str, list[str]] = {}
        for (capacity_type, _), regex in zip(flat, values):
            groups.setdefault(capacity_type, []).append(regex)
        return priorities_yaml(groups)

    priorities = pulumi.Output.all(*[regex for _, regex in flat]).apply(render)
    # Under node auto-provisioning no agent pool autoscales; the NodePools' weights order instead.
    if args.node_groups:
        k8s.core.v1.ConfigMap(
            f"{name}-autoscaler-priority",
            k8s.core.v1.ConfigMapInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=EXPANDER_CONFIGMAP, namespace=SYSTEM_NAMESPACE, labels=labels),
                data={"priorities": priorities},
            ),
            opts=opts,
        )

    tolerations = _tolerations(pools)

    # (b) NVIDIA device plugin on the GPU nodes whose driver AKS installs. Pools that skip the
    # AKS driver (driver.aks_install false) get theirs from the NVIDIA GPU Operator, which
    # brings its own device plugin; two plugins on one node would fight over the GPUs.
    with_driver = sorted(p.plan.name for p in pools if p.plan.spec.driver.aks_install)
    if with_driver:
        k8s.helm.v3.Release(
            f"{name}-nvidia-device-plugin",
            k8s.helm.v3.ReleaseArgs(
                name="nvidia-device-plugin",
                chart=DEVICE_PLUGIN_CHART,
                version=DEVICE_PLUGIN_VERSION,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=DEVICE_PLUGIN_REPO),
                namespace=SYSTEM_NAMESPACE,
                values={
                    # The chart's default affinity needs Node Feature Discovery labels, which AKS
                    # nodes do not carry; select gpufleet's GPU nodes instead.
                    "affinity": _gpu_node_affinity(with_driver),
                    "tolerations": tolerations,
                    "priorityClassName": "system-node-critical",
                    "gfd": {"enabled": False},
                },
            ),
            opts=opts,
        )

    # (c) Scheduled Events -> taint, cordon and drain before the VM goes (spot Preempt gives at
    # least 30 s; maintenance Reboot/Redeploy more). Runs on every GPU node: reserved and
    # on-demand nodes get maintenance events too.
    k8s.helm.v3.Release(
        f"{name}-node-termination-handler",
        k8s.helm.v3.ReleaseArgs(
            name="aks-node-termination-handler",
            chart=TERMINATION_HANDLER_CHART,
            version=TERMINATION_HANDLER_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=TERMINATION_HANDLER_REPO),
            namespace=SYSTEM_NAMESPACE,
            values={
                "priorityClassName": "system-node-critical",
                "affinity": _gpu_node_affinity(),
                "tolerations": tolerations,
                # Taint the node before draining so nothing new is scheduled onto it.
                "args": ["-taint.node=true"],
            },
        ),
        opts=opts,
    )
