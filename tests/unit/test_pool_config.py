"""GPU pool config errors are reported with their paths, before any resource."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, validate_platform

GCP_PROD = {
    "environment": "prod",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "regions": [{
        "name": "usc1", "cloud": "gcp", "region": "us-central1", "project_id": "gpufleet-prod",
        "cluster": {"create": {"version": "1.33", "zones": ["us-central1-a", "us-central1-b"]}},
        "gpu_pools": [{
            "name": "l4", "gpu": {"model": "L4"}, "serving_min_nodes": 3,
            "capacity": {"max_nodes": 20, "reserved_nodes": 2, "on_demand_base_nodes": 1,
                         "reservation": {"id": "l4-res", "instance_type": "g2-standard-4", "zone": "us-central1-a",
                                         "commitment": "3y"}},
        }],
    }],
}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: p.allowed for p in info.value.problems}


def pool_with(**changes):
    raw = copy.deepcopy(GCP_PROD)
    pool = raw["regions"][0]["gpu_pools"][0]
    for dotted, value in changes.items():
        node = pool
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return raw


P = "platform.regions[0].gpu_pools[0]"


def test_valid_prod_pool():
    cfg = validate_platform(GCP_PROD)
    assert cfg.regions[0].gpu_pools[0].gpu.model == "L4"


@pytest.mark.parametrize("changes, path, fragment", [
    ({"gpu__model": "A10G"}, f"{P}.gpu.model", "GPU offered by gcp in us-central1"),
    ({"gpu__model": "B200"}, f"{P}.gpu.model", "'T4'"),
    ({"capacity__min_nodes": 25}, f"{P}.capacity.min_nodes", "at most max_nodes (20)"),
    ({"capacity__spot_percent": 101}, f"{P}.capacity.spot_percent", "less than or equal to 100"),
    ({"capacity__spot_percent": -1}, f"{P}.capacity.spot_percent", "greater than or equal to 0"),
    ({"capacity__reservation__instance_type": "a2-highgpu-1g"}, f"{P}.capacity.reservation.instance_type", "g2-standard-4"),
    ({"capacity__reservation__zone": "us-central1-f"}, f"{P}.capacity.reservation.zone", "pool's zones"),
    ({"serving_min_nodes": 4}, f"{P}.capacity", "serving_min_nodes (4)"),
    ({"capacity__reserved_nodes": 0}, f"{P}.capacity.reserved_nodes", "at least 1"),
    ({"gpu__gpus_per_node": 8}, f"{P}.gpu.gpus_per_node", "a count gcp offers"),
    ({"gpu__instance_type": {"gcp": "a2-highgpu-1g"}}, f"{P}.gpu.instance_type.gcp", "L4"),
    ({"zones": ["us-central1-z"]}, f"{P}.zones[0]", "offering g2-standard-4"),
    ({"name": "L4 pool"}, f"{P}.name", "pattern"),
    ({"taints": [{"key": "nvidia.com/gpu", "effect": "Sometimes"}]}, f"{P}.taints[0].effect", "'NoSchedule'"),
    ({"update": {"max_surge": 0, "max_unavailable": 0}}, f"{P}.update", "cannot both be 0"),
])
def test_pool_errors_name_their_path(changes, path, fragment):
    found = problems(pool_with(**changes))
    assert path in found, found
    assert fragment in found[path], found[path]


def test_prod_pool_without_reservation_must_opt_out():
    raw = pool_with()
    cap = raw["regions"][0]["gpu_pools"][0]["capacity"]
    del cap["reservation"], cap["reserved_nodes"]
    found = problems(raw)
    assert "a reservation in prod" in found[f"{P}.capacity.reservation"]
    cap["reserved_nodes"] = 0
    raw["regions"][0]["gpu_pools"][0]["serving_min_nodes"] = 1
    validate_platform(raw)


def test_errors_in_two_pools_and_a_cluster_reported_together():
    raw = pool_with(**{"capacity__spot_percent": 150})
    raw["regions"][0]["gpu_pools"].append({"name": "l4b", "gpu": {"model": "L40S"}, "capacity": {"reserved_nodes": 0}})
    raw["regions"][0]["cluster"]["create"]["version"] = "1.10"
    found = problems(raw)
    assert {f"{P}.capacity.spot_percent", "platform.regions[0].gpu_pools[1].gpu.model",
            "platform.regions[0].cluster.create.version"} <= set(found)


def test_duplicate_pool_names():
    raw = copy.deepcopy(GCP_PROD)
    raw["regions"][0]["gpu_pools"].append(copy.deepcopy(raw["regions"][0]["gpu_pools"][0]))
    assert "platform.regions[0].gpu_pools[1].name" in problems(raw)


def test_adopted_cluster_needs_attach_handles_for_pools():
    raw = {
        "environment": "dev", "tags": {"owner": "a", "cost-center": "b"},
        "regions": [{"name": "use1", "cloud": "aws", "region": "us-east-1", "cluster": {"adopt": {"name": "eks1"}},
                     "gpu_pools": [{"name": "l4", "gpu": {"model": "L4"}}]}],
    }
    found = problems(raw)
    assert "platform.regions[0].cluster.adopt.node_role_arn" in found
    assert "platform.regions[0].cluster.adopt.subnet_ids" in found


def test_aws_pool_zone_without_cluster_subnet():
    raw = {
        "environment": "dev", "tags": {"owner": "a", "cost-center": "b"},
        "regions": [{"name": "use1", "cloud": "aws", "region": "us-east-1",
                     "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}},
                     "gpu_pools": [{"name": "l4", "gpu": {"model": "L4"}, "zones": ["us-east-1c"]}]}],
    }
    found = problems(raw)
    assert "a zone with cluster subnets" in found["platform.regions[0].gpu_pools[0].zones[0]"]


@pytest.mark.parametrize("cloud, region, zone, bad_id", [
    ("aws", "us-east-1", "us-east-1a", "reservation-1"),
    ("azure", "eastus", "1", "crg-1"),
    ("gcp", "us-central1", "us-central1-a", "Not_A_Name"),
])
def test_malformed_reservation_ids(cloud, region, zone, bad_id):
    models = {"aws": ("L4", "g6.xlarge"), "gcp": ("L4", "g2-standard-4"), "azure": ("T4", "Standard_NC4as_T4_v3")}
    gpu, itype = models[cloud]
    region_cfg = {"name": "r1", "cloud": cloud, "region": region,
                  "cluster": {"create": {"version": "1.33", "zones": {"aws": ["us-east-1a", "us-east-1b"],
                                                                    "gcp": ["us-central1-a"], "azure": ["1"]}[cloud]}},
                  "gpu_pools": [{"name": "p", "gpu": {"model": gpu},
                                 "capacity": {"reserved_nodes": 1, "reservation": {"id": bad_id, "instance_type": itype,
                                                                                   "zone": zone}}}]}
    if cloud == "gcp":
        region_cfg["project_id"] = "gpufleet-test"
    raw = {"environment": "dev", "tags": {"owner": "a", "cost-center": "b"}, "regions": [region_cfg]}
    found = problems(raw)
    assert "platform.regions[0].gpu_pools[0].capacity.reservation.id" in found, found


def test_azure_taints_need_a_value():
    raw = {"environment": "dev", "tags": {"owner": "a", "cost-center": "b"},
           "regions": [{"name": "eus", "cloud": "azure", "region": "eastus",
                        "cluster": {"create": {"version": "1.33", "zones": ["1"]}},
                        "gpu_pools": [{"name": "t4", "gpu": {"model": "T4"},
                                       "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}]}]}
    assert "AKS taints" in problems(raw)["platform.regions[0].gpu_pools[0].taints[0].value"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from infra.pools import plan_pool  # noqa: E402

small = st.one_of(st.none(), st.integers(-3, 30))


@settings(max_examples=200, deadline=None)
@given(min_nodes=small, max_nodes=small, reserved=small, base=small, spot=st.one_of(st.none(), st.integers(-10, 120)),
       serving=st.integers(0, 10), env=st.sampled_from(["dev", "staging", "prod"]), with_reservation=st.booleans())
def test_any_capacity_input_gives_a_sane_plan_or_config_errors(min_nodes, max_nodes, reserved, base, spot, serving, env,
                                                              with_reservation):
    capacity = {k: v for k, v in {"min_nodes": min_nodes, "max_nodes": max_nodes, "reserved_nodes": reserved,
                                  "on_demand_base_nodes": base, "spot_percent": spot}.items() if v is not None}
    if with_reservation:
        capacity["reservation"] = {"id": "l4-res", "instance_type": "g2-standard-4", "zone": "us-central1-a"}
    raw = copy.deepcopy(GCP_PROD)
    raw["environment"] = env
    raw["regions"][0]["gpu_pools"] = [{"name": "l4", "gpu": {"model": "L4"}, "serving_min_nodes": serving,
                                       "capacity": capacity}]
    try:
        cfg = validate_platform(raw)
    except ConfigError as exc:
        assert all(p.path.startswith("platform.regions[0]") for p in exc.problems)
        return
    region = cfg.regions[0]
    plan, found = plan_pool(region.cloud, region.region, env, region.gpu_pools[0], ["us-central1-a", "us-central1-b"])
    assert plan is not None and found == []
    c = plan.capacity
    assert all(0 <= r.min <= r.max for r in (c.reserved, c.on_demand, c.spot))
    assert c.floor >= serving
    assert c.reserved.max + c.on_demand.max + c.spot.max == plan.capacity_input.max_nodes
