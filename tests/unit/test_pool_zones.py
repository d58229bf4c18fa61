"""Item 3 of issue 16: zones are resolved per cloud from dated catalog data at the cloud's own
granularity (AWS by AZ ID with the account's mapping, Azure per region and zone), and a pool,
reservation or Capacity Block in a zone that does not offer the type is refused."""

from __future__ import annotations

import copy

import pytest

from components.gpu_pool.args import GpuPoolSpec
from infra import catalog
from infra.config import ConfigError, validate_platform
from infra.pools import plan_pool

P = "platform.regions[0]"
USE1 = ["us-east-1a", "us-east-1b", "us-east-1c"]
# An account whose us-east-1a is use1-az3: the AZ ID without g6 (L4) or p4d in the catalog.
MAPPING = {"us-east-1a": "use1-az3", "us-east-1b": "use1-az1", "us-east-1c": "use1-az2"}

AWS_STAGING = {
    "environment": "staging",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "regions": [{
        "name": "use1", "cloud": "aws", "region": "us-east-1",
        "cluster": {"create": {"version": "1.33", "zones": USE1}},
        "gpu_pools": [{"name": "l4", "gpu": {"model": "L4"}, "capacity": {"max_nodes": 4}}],
    }],
}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: p.allowed for p in info.value.problems}


def with_region(**changes) -> dict:
    raw = copy.deepcopy(AWS_STAGING)
    raw["regions"][0].update(changes)
    return raw


def test_aws_zone_whose_az_id_lacks_the_type_is_refused_with_the_mapping():
    raw = with_region(aws_zone_ids=MAPPING)
    raw["regions"][0]["gpu_pools"][0]["zones"] = ["us-east-1a", "us-east-1b"]
    found = problems(raw)
    allowed = found[f"{P}.gpu_pools[0].zones[0]"]
    # 1a is use1-az3 (no g6); 1d-1f are not in this mapping, so not refused
    assert "offering g6.xlarge: ['us-east-1b', 'us-east-1c', 'us-east-1d'" in allowed and "use1-az1" in allowed
    assert f"{P}.gpu_pools[0].zones[1]" not in found


def test_aws_default_zones_keep_only_az_ids_offering_the_type():
    pool = GpuPoolSpec.model_validate({"name": "l4", "gpu": {"model": "L4"}, "capacity": {"max_nodes": 4}})
    plan, found = plan_pool("aws", "us-east-1", "staging", pool, USE1, zone_ids=MAPPING)
    assert found == [] and plan is not None
    assert plan.zones == ["us-east-1b", "us-east-1c"]
    assert not any("NOT checked" in n for n in plan.notes)


def test_aws_cluster_zones_none_offering_the_type_is_a_config_error():
    raw = with_region(aws_zone_ids={"us-east-1a": "use1-az3", "us-east-1b": "use1-az5"})
    raw["regions"][0]["cluster"]["create"]["zones"] = ["us-east-1a", "us-east-1b"]
    found = problems(raw)
    assert "offer no g6.xlarge" in found[f"{P}.gpu_pools[0].zones"]


def test_without_a_mapping_the_plan_says_which_zone_names_it_could_not_check():
    pool = GpuPoolSpec.model_validate({"name": "l4", "gpu": {"model": "L4"}, "capacity": {"max_nodes": 4}})
    plan, found = plan_pool("aws", "us-east-1", "staging", pool, USE1)
    assert found == [] and plan is not None and plan.zones == USE1
    (note,) = [n for n in plan.notes if "NOT checked" in n]
    assert "aws_zone_ids" in note and "use1-az1" in note and "describe-availability-zones" in note
    # a type every AZ ID offers needs no mapping
    assert catalog.zone_availability("aws", "us-east-1", "p5.48xlarge", "us-east-1a") == "offered"


def test_aws_reservation_zone_must_offer_the_type():
    raw = with_region(region="us-east-2", aws_zone_ids={"us-east-2a": "use2-az1", "us-east-2b": "use2-az2",
                                                        "us-east-2c": "use2-az3"})
    raw["environment"] = "prod"
    raw["regions"][0]["cluster"]["create"]["zones"] = ["us-east-2a", "us-east-2b", "us-east-2c"]
    raw["regions"][0]["gpu_pools"][0] = {
        "name": "a100", "gpu": {"model": "A100-40GB", "gpus_per_node": 8}, "zones": ["us-east-2c"],
        "capacity": {"max_nodes": 2, "reserved_nodes": 1, "on_demand_base_nodes": 0, "spot_percent": 0,
                     "reservation": {"id": "cr-0123456789abcdef0", "instance_type": "p4d.24xlarge",
                                     "zone": "us-east-2c"}},
    }
    found = problems(raw)
    assert "p4d.24xlarge" in found[f"{P}.gpu_pools[0].zones[0]"]  # use2-az3 has no p4d
    assert "['us-east-2a', 'us-east-2b']" in found[f"{P}.gpu_pools[0].capacity.reservation.zone"]


@pytest.mark.parametrize("mapping, key, fragment", [
    ({"us-east-1z": "use1-az1"}, "aws_zone_ids.us-east-1z", "a zone name of us-east-1"),
    ({"us-east-1a": "use2-az1"}, "aws_zone_ids.us-east-1a", "an AZ ID of us-east-1"),
    ({"us-east-1a": "use1-az1", "us-east-1b": "use1-az1"}, "aws_zone_ids", "one zone name per AZ ID"),
])
def test_zone_id_mapping_is_validated(mapping, key, fragment):
    found = problems(with_region(aws_zone_ids=mapping))
    assert fragment in found[f"{P}.{key}"], found


def test_zone_id_mapping_is_aws_only():
    raw = {
        "environment": "dev", "tags": {"owner": "o", "cost-center": "c"},
        "regions": [{"name": "eus", "cloud": "azure", "region": "eastus", "aws_zone_ids": {"1": "use1-az1"},
                     "cluster": {"create": {"version": "1.33", "zones": ["1", "2"]}}}],
    }
    assert "only on aws" in problems(raw)[f"{P}.aws_zone_ids"]


def test_azure_zone_lists_come_from_dated_per_zone_data():
    # West US 2: the dated az vm list-skus listing offers ND96asr_v4 in zone 3 only
    raw = {
        "environment": "dev", "tags": {"owner": "o", "cost-center": "c"},
        "regions": [{"name": "wus2", "cloud": "azure", "region": "westus2",
                     "cluster": {"create": {"version": "1.33", "zones": ["1", "2"]}},
                     "gpu_pools": [{"name": "a100", "gpu": {"model": "A100-80GB"}, "zones": ["3"]}]}],
    }
    found = problems(raw)
    allowed = found[f"{P}.gpu_pools[0].zones[0]"]
    assert "Standard_NC24ads_A100_v4" in allowed and "['1', '2']" in allowed and "2023-07-08" in allowed
    pool = GpuPoolSpec.model_validate({"name": "a40", "gpu": {"model": "A100-40GB", "gpus_per_node": 8}})
    plan, found = plan_pool("azure", "westus2", "dev", pool, ["1", "2"])
    assert found == [] and plan is not None
    assert plan.zones == ["3"]  # the only zone offering the size, not the cluster's 1 and 2
    assert any("logical per subscription" in n for n in plan.notes)


def test_unverified_azure_zone_lists_are_stated_in_the_plan():
    pool = GpuPoolSpec.model_validate({"name": "t4", "gpu": {"model": "T4"}})
    plan, _ = plan_pool("azure", "eastus", "dev", pool, ["1", "2"])
    assert plan is not None and any("zone list not verified" in n for n in plan.notes)
    assert catalog.zone_source("azure", "westus2")[0] == "2023-07-08"
