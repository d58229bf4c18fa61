"""Item 4 of issue 16: spot diversity types have the pool's GPU model and GPUs per node (and, in
one EKS node group, its vCPU and memory), and each is priced at its own spot price."""

from __future__ import annotations

import copy
import datetime as dt
import shutil

import pytest
import yaml

from components.gpu_pool.args import GpuPoolSpec
from infra import catalog
from infra.config import ConfigError, validate_platform
from infra.pools import capacity_row, plan_pool

P = "platform.regions[0].gpu_pools[0].capacity.spot_instance_types[0]"

AWS = {
    "environment": "staging",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "regions": [{
        "name": "use1", "cloud": "aws", "region": "us-east-1",
        "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}},
        "gpu_pools": [{"name": "l4", "gpu": {"model": "L4"},
                       "capacity": {"max_nodes": 6, "spot_instance_types": ["g6.2xlarge"]}}],
    }],
}


def problems(raw) -> dict[str, tuple[object, str]]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: (p.value, p.allowed) for p in info.value.problems}


def test_eks_spot_types_of_another_vcpu_and_memory_are_refused():
    value, allowed = problems(copy.deepcopy(AWS))[P]
    assert value == "g6.2xlarge"
    assert "4 vCPU, 16 GiB" in allowed and "8 vCPU, 32 GiB" in allowed and "pool of its own" in allowed


def test_spot_types_with_another_gpu_count_are_refused_on_every_cloud():
    pool = GpuPoolSpec.model_validate({"name": "l4", "gpu": {"model": "L4"},
                                       "capacity": {"spot_instance_types": ["g2-standard-24"]}})
    plan, found = plan_pool("gcp", "us-central1", "dev", pool, ["us-central1-a", "us-central1-b"])
    assert plan is None
    (path, value, allowed), = found
    assert path == "capacity.spot_instance_types[0]" and value == "g2-standard-24"
    assert "1 x L4 per node" in allowed and "2 x L4" in allowed and "g2-standard-8" in allowed


def test_gke_accepts_a_same_gpu_type_of_another_shape():
    # GKE (and AKS) give each spot type its own node pool, so only the GPUs must match.
    pool = GpuPoolSpec.model_validate({"name": "l4", "gpu": {"model": "L4"},
                                       "capacity": {"spot_instance_types": ["g2-standard-8"]}})
    plan, found = plan_pool("gcp", "us-central1", "dev", pool, ["us-central1-a", "us-central1-b"])
    assert found == [] and [o.instance_type for o in plan.spot_instances] == ["g2-standard-4", "g2-standard-8"]
    # no catalog price for g2-standard-8: the plan says so instead of pricing it as g2-standard-4 silently
    assert any("no price in the catalog for ['g2-standard-8']" in n for n in plan.notes)


@pytest.fixture
def priced_g2_8(tmp_path, monkeypatch):
    """The catalog plus a (test) price for g2-standard-8 in us-central1."""
    dst = tmp_path / "data"
    shutil.copytree(catalog.DATA_DIR, dst)
    doc = yaml.safe_load((dst / "gcp.yaml").read_text())
    doc["price_tables"].append({"region": "us-central1", "as_of": dt.date(2026, 11, 30), "source": "test table",
                                "on_demand": {"g2-standard-8": 0.85}, "spot": {"g2-standard-8": 0.34}})
    (dst / "gcp.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    alt = catalog.load_catalog_from(dst)
    monkeypatch.setattr(catalog, "load_catalog", lambda: alt)


def test_each_diversity_type_is_priced_at_its_own_spot_price(priced_g2_8):
    pool = GpuPoolSpec.model_validate({"name": "l4", "gpu": {"model": "L4"},
                                       "capacity": {"max_nodes": 4, "spot_instance_types": ["g2-standard-8"]}})
    plan, found = plan_pool("gcp", "us-central1", "dev", pool, ["us-central1-a"])
    assert found == []
    assert plan.price.spot_by_type == {"g2-standard-4": 0.28, "g2-standard-8": 0.34}
    assert plan.price.spot == 0.34  # worst case: any spot node may be the dearer type
    assert "test table" in plan.price.source
    row = capacity_row(plan, "usc1")
    assert row["cost"]["perHourAtMax"] == pytest.approx(4 * 0.34)
    assert any("dearest spot diversity type, 0.34" in n for n in row["notes"])

