"""Model stores and DR through the whole program: config errors with paths, plan sections, safety."""

from __future__ import annotations

import copy

import pytest

from infra.config import ConfigError, validate_platform
from tests.plan.conftest import plan_for

TWO_AWS = {
    "environment": "prod",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "dr": {"enabled": True},
    "regions": [
        {"name": "use1", "cloud": "aws", "region": "us-east-1", "role": "primary",
         "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}}},
        {"name": "usw2", "cloud": "aws", "region": "us-west-2", "role": "standby",
         "cluster": {"create": {"version": "1.33", "zones": ["us-west-2a", "us-west-2b"]}}},
    ],
}


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: p.allowed for p in info.value.problems}


def test_valid_two_region_dr():
    validate_platform(TWO_AWS)


def test_dr_without_a_standby_region():
    raw = copy.deepcopy(TWO_AWS)
    raw["regions"] = raw["regions"][:1]
    assert any(p.startswith("platform.dr") for p in problems(raw))


def test_standby_in_the_same_region_as_the_primary():
    raw = copy.deepcopy(TWO_AWS)
    raw["regions"][1]["region"] = "us-east-1"
    raw["regions"][1]["cluster"]["create"]["zones"] = ["us-east-1a", "us-east-1b"]
    found = problems(raw)
    assert "does not survive a regional outage" in found["platform.dr.target"], found


def test_replication_from_an_unversioned_store():
    raw = copy.deepcopy(TWO_AWS)
    raw["environment"] = "staging"
    raw["regions"][0]["storage"] = {"versioning": False}
    assert "platform.regions[0].storage.versioning" in problems(raw)


def test_malformed_key_reference():
    raw = copy.deepcopy(TWO_AWS)
    raw["regions"][0]["storage"] = {"encryption": {"customer_managed_key": True, "kms_key": "not-an-arn"}}
    found = problems(raw)
    assert "platform.regions[0].storage.encryption.kms_key" in found, found


def test_force_destroy_refused_in_prod():
    raw = copy.deepcopy(TWO_AWS)
    raw["regions"][0]["storage"] = {"force_destroy": True}
    assert any(p.startswith("platform.regions[0].storage.force_destroy") for p in problems(raw))


def test_prod_plan_replicates_with_turbo_and_says_so():
    plan = plan_for("prod")
    rep = plan.document["replication"]
    assert rep["enabled"] and rep["path"] == "gcs-dual-region-turbo" and rep["rpoMinutes"] == 15
    assert "15 minutes" in plan.text
    # The standby serves from the replica (here: the dual-region bucket itself).
    assert plan.run.outputs["regions"]["use1"]["modelStore"]["replicaOf"] == "usc1"


def test_stores_are_protected_and_retained_in_prod_only(shipped_plan):
    stores = [r for r in shipped_plan.run.resources
              if r.type in ("aws:s3/bucket:Bucket", "gcp:storage/bucket:Bucket", "azure-native:storage:StorageAccount")]
    assert stores
    prod = shipped_plan.run.stack == "prod"
    for s in stores:
        assert s.options["protect"] is prod and s.options["retainOnDelete"] is prod, s.name


def test_dev_and_staging_have_no_replication():
    assert plan_for("dev").document["replication"]["enabled"] is False
    assert plan_for("staging").document["replication"]["enabled"] is False
