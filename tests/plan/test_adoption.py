"""GPU pools on adopted clusters: what validation refuses, what the program builds, what deploy verifies.

Issue 16 item 9: a GKE cluster adopted by stack reference with GPU pools passed validation and then
crashed with a traceback; an AKS cluster adopted by name got no capacity-reservation role grant
and nothing checked that its autoscaler uses the priority expander.
"""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError
from infra.plan import make_plan
from infra.plan.computed import _CALLS

GKE_POOL = "gcp:container/nodePool:NodePool"
ROLE = "azure-native:authorization:RoleAssignment"
AGENT_POOL = "azure-native:containerservice:AgentPool"
CRG = ("/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-capacity/providers/"
       "Microsoft.Compute/capacityReservationGroups/crg-t4")
GET_AKS = "azure-native:containerservice:getManagedCluster"


def gke_stack_reference(**adopt) -> dict:
    return {
        "environment": "staging",
        "tags": {"owner": "ml-platform", "cost-center": "cc-4100"},
        "regions": [{
            "name": "use4", "cloud": "gcp", "region": "us-east4", "project_id": "gpufleet-stg-1",
            "cluster": {"adopt": {"stack_reference": "acme/gke-clusters/stg-use4", **adopt}},
            "gpu_pools": [{"name": "l4", "gpu": {"model": "L4"},
                           "capacity": {"max_nodes": 4, "on_demand_base_nodes": 1, "reserved_nodes": 0}}],
        }],
    }


def aks_by_name(reserved: bool = True, **adopt) -> dict:
    capacity: dict = {"max_nodes": 4, "on_demand_base_nodes": 0}
    if reserved:
        capacity.update(reserved_nodes=1, reservation={"id": CRG, "instance_type": "Standard_NC4as_T4_v3", "zone": "1"})
    else:
        capacity.update(reserved_nodes=0)
    return {
        "environment": "staging",
        "tags": {"owner": "ml-platform", "cost-center": "cc-4100"},
        "regions": [{
            "name": "weu", "cloud": "azure", "region": "westeurope",
            "cluster": {"adopt": {"name": "aks-shared", "resource_group": "rg-shared",
                                  "subnet_ids": ["/subscriptions/s/resourceGroups/rg-shared/providers/Microsoft.Network/"
                                                 "virtualNetworks/v/subnets/nodes"], **adopt}},
            "gpu_pools": [{"name": "t4", "gpu": {"model": "T4"}, "zones": ["1", "2", "3"], "capacity": capacity}],
        }],
    }


def problem_paths(exc: ConfigError) -> set[str]:
    return {p.path for p in exc.problems}


# --- GKE adopted through a stack reference ----------------------------------------------------


def test_gke_stack_reference_with_gpu_pools_builds_pools_on_the_referenced_cluster() -> None:
    plan = make_plan(gke_stack_reference(node_service_account="gpu@gpufleet-stg-1.iam.gserviceaccount.com"),
                     stack="adopt-gke")
    pools = plan.run.by_type(GKE_POOL)
    assert pools, "no GPU node pools were built"
    name = "<computed:stackref:acme/gke-clusters/stg-use4:clusterName>"
    for p in pools:
        # The id GKE node pools attach to, from the project, the region and the published name.
        assert p.inputs["cluster"] == f"projects/gpufleet-stg-1/locations/us-east4/clusters/{name}"
        assert p.inputs["nodeConfig"]["serviceAccount"] == "gpu@gpufleet-stg-1.iam.gserviceaccount.com"


def test_gke_stack_reference_without_node_service_account_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as exc:
        make_plan(gke_stack_reference(), stack="adopt-gke")
    assert "platform.regions[0].cluster.adopt.node_service_account" in problem_paths(exc.value)


# --- AKS adopted by name -----------------------------------------------------------------------


def test_aks_gpu_pools_need_the_priority_expander_stated() -> None:
    with pytest.raises(ConfigError) as exc:
        make_plan(aks_by_name(), stack="adopt-aks")
    assert "platform.regions[0].cluster.adopt.priority_expander" in problem_paths(exc.value)
    assert "az aks update --cluster-autoscaler-profile expander=priority" in str(exc.value)


def test_aks_stack_reference_with_gpu_pools_is_a_config_error() -> None:
    cfg = aks_by_name(reserved=False, priority_expander=True)
    adopt = cfg["regions"][0]["cluster"]["adopt"]
    del adopt["name"], adopt["resource_group"]
    adopt["stack_reference"] = "acme/aks/prod"
    with pytest.raises(ConfigError) as exc:
        make_plan(cfg, stack="adopt-aks")
    assert "platform.regions[0].cluster.adopt.stack_reference" in problem_paths(exc.value)


def test_aks_by_name_grants_the_control_plane_identity_on_the_reservation_group() -> None:
    plan = make_plan(aks_by_name(priority_expander=True), stack="adopt-aks")
    (grant,) = [r for r in plan.run.by_type(ROLE) if r.name.endswith("-crg-contributor")]
    assert grant.inputs["scope"] == CRG
    # The adopted cluster's own (looked-up) identity, not one gpufleet created.
    assert grant.inputs["principalId"] == "<computed:aks-identity:aks-shared:principalId>"
    assert grant.inputs["roleDefinitionId"].endswith("/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c")
    reserved = next(r for r in plan.run.by_type(AGENT_POOL) if r.inputs.get("capacityReservationGroupID") == CRG)
    assert grant.urn in reserved.options["dependsOn"]


def test_aks_by_name_with_a_user_assigned_identity_grants_that_identity(monkeypatch) -> None:
    original = _CALLS[GET_AKS]

    def user_assigned(args):
        out = copy.deepcopy(original(args))
        out["identity"] = {"type": "UserAssigned", "principalId": "", "tenantId": "t",
                           "userAssignedIdentities": {"/subscriptions/s/id-aks": {"principalId": "uai-principal",
                                                                                  "clientId": "c"}}}
        return out

    monkeypatch.setitem(_CALLS, GET_AKS, user_assigned)
    plan = make_plan(aks_by_name(priority_expander=True), stack="adopt-aks")
    (grant,) = [r for r in plan.run.by_type(ROLE) if r.name.endswith("-crg-contributor")]
    assert grant.inputs["principalId"] == "uai-principal"


def test_aks_by_name_fails_the_deploy_when_the_expander_is_not_priority(monkeypatch) -> None:
    original = _CALLS[GET_AKS]

    def random_expander(args):
        out = copy.deepcopy(original(args))
        out.pop("autoScalerProfile", None)  # never set: AKS uses random
        return out

    monkeypatch.setitem(_CALLS, GET_AKS, random_expander)
    with pytest.raises(Exception, match="expander is 'random \\(the AKS default\\)'"):
        make_plan(aks_by_name(priority_expander=True), stack="adopt-aks")
