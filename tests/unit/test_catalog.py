"""The GPU catalog: data files load and agree with each other, the issue's figures are present
exactly, pricing rules hold, and lookups only answer with what a region really offers."""

from __future__ import annotations

import ast
import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import infra.catalog as catalog
from components.gpu_pool.args import GPU_MODELS

ROOT = Path(__file__).resolve().parents[2]
CLOUDS = ("aws", "gcp", "azure")


def _raw(name: str) -> dict:
    return yaml.safe_load((catalog.DATA_DIR / f"{name}.yaml").read_text())


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped data directory."""
    dst = tmp_path / "data"
    shutil.copytree(catalog.DATA_DIR, dst)
    return dst


def _edit(path: Path, fn) -> None:
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


# ------------------------------------------------------------------------------- the data itself


def test_shipped_catalog_loads_and_is_cached():
    cat = catalog.load_catalog()
    assert set(cat.clouds) == set(CLOUDS)
    assert catalog.load_catalog() is cat


def test_gpus_yaml_lists_every_gpufleet_model_with_memory():
    assert list(catalog.gpu_models()) == list(GPU_MODELS)
    assert catalog.gpu_models()["H200"] == 141
    assert catalog.gpu_models()["A100-40GB"] == 40
    assert all(m >= 16 for m in catalog.gpu_models().values())


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_instance_gpu_model_exists_in_gpus_yaml(cloud):
    gpus = set(_raw("gpus")["models"])
    for name, spec in _raw(cloud)["instances"]["types"].items():
        assert spec["gpu"] in gpus, f"{cloud}: {name} carries unknown GPU {spec['gpu']}"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_region_lists_only_known_instance_types_and_its_own_zones(cloud):
    raw = _raw(cloud)
    types = set(raw["instances"]["types"])
    for region, reg in raw["regions"].items():
        assert reg["as_of"] and reg["source"], f"{cloud}/{region} is not dated/sourced"
        for t, off in reg["offerings"].items():
            assert t in types, f"{cloud}/{region} lists unknown type {t}"
            if cloud == "aws":
                assert set(off["zone_ids"]) <= set(reg["zone_ids"])
            else:
                assert set(off["zones"]) <= set(reg["zones"])
        for t in reg["offerings"]:
            assert set(catalog.zones_offering(cloud, region, t)) <= set(catalog.region_zones(cloud, region))
            assert catalog.zones_offering(cloud, region, t), f"{cloud}/{region}/{t} offered in no zone"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_price_table_is_dated_sourced_and_names_only_known_types(cloud):
    raw = _raw(cloud)
    types = set(raw["instances"]["types"])
    assert raw["instances"]["as_of"] and raw["instances"]["source"]
    assert raw["price_tables"], f"{cloud} has no price table"
    for tab in raw["price_tables"]:
        assert isinstance(tab["as_of"], dt.date), tab
        assert tab["source"].strip()
        assert tab["region"] == "*" or tab["region"] in raw["regions"]
        for field in ("on_demand", "spot", "commitment_discount"):
            assert set(tab.get(field, {})) <= types, (cloud, tab["region"], field)


REQUIRED = {
    "aws": {
        "regions": {"us-east-1", "us-east-2", "us-west-2"},
        "types": {"g4dn.xlarge", "g4dn.12xlarge", "g5.xlarge", "g5.2xlarge", "g5.12xlarge", "g5.48xlarge",
                  "g6.xlarge", "g6.2xlarge", "g6.12xlarge", "g6e.xlarge", "g6e.12xlarge", "p4d.24xlarge",
                  "p4de.24xlarge", "p5.48xlarge", "p5e.48xlarge"},
    },
    "gcp": {
        "regions": {"us-central1", "us-east1", "us-east4", "us-west1", "europe-west4"},
        "types": {"n1-standard-4", "n1-standard-8", "g2-standard-4", "g2-standard-8", "g2-standard-24",
                  "g2-standard-48", "a2-highgpu-1g", "a2-highgpu-2g", "a2-highgpu-4g", "a2-highgpu-8g",
                  "a2-ultragpu-1g", "a2-ultragpu-8g", "a3-highgpu-8g", "a3-ultragpu-8g"},
    },
    "azure": {
        "regions": {"eastus", "eastus2", "westus2", "westus3", "westeurope"},
        "types": {"Standard_NC4as_T4_v3", "Standard_NC64as_T4_v3", "Standard_NC24ads_A100_v4",
                  "Standard_NC96ads_A100_v4", "Standard_ND96asr_v4", "Standard_ND96amsr_A100_v4",
                  "Standard_ND96isr_H100_v5", "Standard_ND96isr_H200_v5"},
    },
}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_required_regions_and_types_are_covered(cloud):
    assert REQUIRED[cloud]["regions"] <= set(catalog.regions(cloud))
    assert REQUIRED[cloud]["types"] <= set(catalog.instance_types(cloud))
    offered_somewhere = {t for r in catalog.regions(cloud) for t in catalog.load_catalog().clouds[cloud].regions[r].offerings}
    assert REQUIRED[cloud]["types"] <= offered_somewhere


@pytest.mark.parametrize(
    "cloud, instance_type, gpu, gpus, accelerator",
    [
        ("gcp", "n1-standard-4", "T4", 1, "nvidia-tesla-t4"),
        ("gcp", "g2-standard-24", "L4", 2, "nvidia-l4"),
        ("gcp", "a2-highgpu-8g", "A100-40GB", 8, "nvidia-tesla-a100"),
        ("gcp", "a2-ultragpu-1g", "A100-80GB", 1, "nvidia-a100-80gb"),
        ("gcp", "a3-highgpu-8g", "H100", 8, "nvidia-h100-80gb"),
        ("gcp", "a3-ultragpu-8g", "H200", 8, "nvidia-h200-141gb"),
        ("aws", "p4de.24xlarge", "A100-80GB", 8, None),
        ("aws", "g6e.12xlarge", "L40S", 4, None),
        ("azure", "Standard_ND96asr_v4", "A100-40GB", 8, None),
        ("azure", "Standard_ND96isr_H100_v5", "H100", 8, None),
    ],
)
def test_instance_shapes(cloud, instance_type, gpu, gpus, accelerator):
    inst = catalog.instance(cloud, instance_type)
    assert inst is not None
    assert (inst.gpu_model, inst.gpus, inst.accelerator) == (gpu, gpus, accelerator)
    assert inst.gpu_memory_gib == catalog.gpu_models()[gpu]


def test_gcp_n1_t4_is_modelled_as_an_attached_accelerator():
    spec = catalog.load_catalog().clouds["gcp"].instances.types["n1-standard-4"]
    assert spec.attached and spec.accelerator == "nvidia-tesla-t4" and spec.gpus == 1
    assert not catalog.load_catalog().clouds["gcp"].instances.types["g2-standard-4"].attached


def test_spot_notice_seconds():
    assert catalog.spot_notice_seconds("aws") == 120
    assert catalog.spot_notice_seconds("gcp") == 30
    assert catalog.spot_notice_seconds("azure") == 30


# --------------------------------------------------------------------------- the issue's figures


ISSUE_FIGURES = [
    # cloud, region, type, on_demand, spot (high end), {commitment: reserved}
    ("aws", "us-east-1", "p4d.24xlarge", 21.96, None, {}),
    ("aws", "us-east-1", "p5.48xlarge", 55.04, None, {}),
    ("aws", "us-east-1", "g5.xlarge", 1.006, 0.451, {}),
    ("aws", "us-east-1", "g6.xlarge", 0.8048, 0.401, {}),
    ("gcp", "us-central1", "a2-highgpu-1g", 3.673, 1.293, {"1y": 3.673 * 0.63, "3y": 3.673 * 0.35}),
    ("gcp", "us-central1", "a3-highgpu-8g", 88.49, 35.40, {"1y": 88.49 * 0.69, "3y": 88.49 * 0.44}),
    ("gcp", "us-central1", "g2-standard-4", 0.7068, 0.280, {"1y": 0.7068 * 0.63, "3y": 0.7068 * 0.45}),
    ("azure", "eastus", "Standard_NC24ads_A100_v4", 3.673, None, {}),
    ("azure", "eastus", "Standard_ND96isr_H100_v5", 98.32, None, {}),
    ("azure", "eastus", "Standard_NC4as_T4_v3", 0.526, 0.063, {}),
]


@pytest.mark.parametrize("cloud, region, itype, on_demand, spot, reserved", ISSUE_FIGURES,
                         ids=[f[2] for f in ISSUE_FIGURES])
def test_issue_figures_are_present_exactly(cloud, region, itype, on_demand, spot, reserved):
    q = catalog.price(cloud, region, itype)
    assert q is not None
    assert q.on_demand == on_demand
    assert q.spot == spot
    assert q.reserved == on_demand  # no commitment: reserved nodes are priced on-demand
    assert q.as_of and q.source
    for commitment, expected in reserved.items():
        assert catalog.price(cloud, region, itype, commitment).reserved == pytest.approx(round(expected, 6), abs=1e-9)


def test_gcp_g2_three_year_commitment():
    q = catalog.price("gcp", "us-central1", "g2-standard-4", "3y")
    assert q.reserved == round(0.7068 * 0.45, 6)
    assert q.as_of == "2025-03-06"


def test_commitment_without_a_recorded_discount_is_priced_on_demand():
    # AWS ODCRs / Azure capacity reservations bill on-demand unless a Savings Plan/RI covers them.
    for commitment in ("1y", "3y"):
        assert catalog.price("aws", "us-east-1", "p5.48xlarge", commitment).reserved == 55.04
        assert catalog.price("azure", "eastus", "Standard_NC4as_T4_v3", commitment).reserved == 0.526


def test_spot_range_is_priced_at_its_high_end():
    tab = next(t for t in catalog.load_catalog().clouds["aws"].price_tables if "g5.xlarge" in t.spot)
    assert tuple(tab.spot["g5.xlarge"]) == (0.425, 0.451)
    assert catalog.price("aws", "us-east-1", "g5.xlarge").spot == 0.451
    west = next(t for t in catalog.load_catalog().clouds["azure"].price_tables if t.region == "westus2")
    assert west.spot_high("Standard_NC24ads_A100_v4") == 0.62


def test_star_table_applies_where_the_region_has_no_figure_and_a_regional_table_wins(data_copy, monkeypatch):
    # the shipped "*" list price reaches every region offering the type
    assert catalog.price("azure", "westus3", "Standard_NC4as_T4_v3").on_demand == 0.526

    def add_regional(doc):
        doc["price_tables"].append({"region": "westus3", "as_of": dt.date(2026, 1, 2), "source": "test table",
                                    "on_demand": {"Standard_NC4as_T4_v3": 0.5}})

    _edit(data_copy / "azure.yaml", add_regional)
    alt = catalog.load_catalog_from(data_copy)
    monkeypatch.setattr(catalog, "load_catalog", lambda: alt)
    q = catalog.price("azure", "westus3", "Standard_NC4as_T4_v3")
    assert q.on_demand == 0.5  # the regional table wins
    assert q.spot == 0.063  # spot still comes from "*"
    assert "test table" in q.source and "region not stated" in q.source
    assert q.as_of == "2026-01-02"  # the oldest of the tables used


def test_no_price_without_an_on_demand_figure_or_outside_the_offering():
    # spot known for westus2, on-demand not: the plan prints n/a rather than guessing
    assert catalog.price("azure", "westus2", "Standard_NC24ads_A100_v4") is None
    # the "*" list price does not make a type offered where it is not
    assert catalog.price("azure", "westus3", "Standard_ND96isr_H100_v5") is None
    # types without figures simply have none
    assert catalog.price("aws", "us-east-1", "g4dn.xlarge") is None
    assert catalog.price("gcp", "us-east1", "g2-standard-8") is None


def test_the_prod_standby_region_is_priced_from_a_dated_regional_table():
    q = catalog.price("gcp", "us-east1", "g2-standard-4")
    assert q is not None and q.as_of == "2026-12-04" and "skypilot-catalog" in q.source
    # machine row + one-L4 row of the SkyPilot snapshot; the same sum reproduces the issue's us-central1 figure
    assert q.on_demand == pytest.approx(0.14679 + 0.56004) and q.spot == pytest.approx(0.05874 + 0.2231)
    assert q.on_demand == pytest.approx(catalog.price("gcp", "us-central1", "g2-standard-4").on_demand, abs=1e-3)


def test_price_rejects_an_unknown_commitment():
    with pytest.raises(ValueError):
        catalog.price("gcp", "us-central1", "g2-standard-4", "5y")


# ------------------------------------------------------------------------------------- lookups


@pytest.mark.parametrize("cloud", ("gcp", "azure"))
@pytest.mark.parametrize("gpu", ("A10G", "L40S"))
def test_a10g_and_l40s_are_aws_only(cloud, gpu):
    assert gpu not in catalog.gpu_models_on(cloud)
    assert all(catalog.offers(cloud, r, gpu) == [] for r in catalog.regions(cloud))
    assert not [t for t in catalog.instance_types(cloud) if catalog.instance(cloud, t).gpu_model == gpu]


def test_l4_is_not_offered_on_azure():
    assert "L4" not in catalog.gpu_models_on("azure")
    assert all(catalog.offers("azure", r, "L4") == [] for r in catalog.regions("azure"))
    assert {"L4", "A10G", "L40S"} <= set(catalog.gpu_models_on("aws"))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_offers_return_only_region_offered_types_smallest_first(cloud):
    cat = catalog.load_catalog().clouds[cloud]
    for region in catalog.regions(cloud):
        offered = set(cat.regions[region].offerings)
        for gpu in GPU_MODELS:
            found = catalog.offers(cloud, region, gpu)
            assert {o.instance_type for o in found} == {t for t in offered if cat.instances.types[t].gpu == gpu}
            assert [(o.gpus, o.vcpu) for o in found] == sorted((o.gpus, o.vcpu) for o in found)
            for n in {o.gpus for o in found}:
                assert all(o.gpus == n for o in catalog.offers(cloud, region, gpu, gpus=n))


def test_offers_respect_regional_gaps():
    assert [o.instance_type for o in catalog.offers("aws", "us-east-1", "L4")] == ["g6.xlarge", "g6.2xlarge", "g6.12xlarge"]
    assert [o.instance_type for o in catalog.offers("aws", "us-east-1", "L4", gpus=4)] == ["g6.12xlarge"]
    assert catalog.offers("aws", "us-east-1", "H200") == []  # p5e is not offered in us-east-1
    assert [o.instance_type for o in catalog.offers("aws", "us-east-2", "H200")] == ["p5e.48xlarge"]
    assert catalog.offers("gcp", "us-east1", "H100") == []
    assert catalog.offers("gcp", "us-east4", "A100-40GB") == []
    assert [o.instance_type for o in catalog.offers("gcp", "us-central1", "T4")] == ["n1-standard-4", "n1-standard-8"]
    assert catalog.offers("azure", "westus3", "H100") == []


def test_unknown_region_and_type_answer_empty():
    assert not catalog.known_region("aws", "mars-east-1")
    assert catalog.known_region("gcp", "us-central1")
    assert catalog.offers("aws", "mars-east-1", "T4") == []
    assert catalog.region_zones("gcp", "us-nowhere1") == []
    assert catalog.zones_offering("azure", "atlantis", "Standard_NC4as_T4_v3") == []
    assert catalog.zones_offering("gcp", "us-central1", "no-such-type") == []
    assert catalog.price("gcp", "us-nowhere1", "g2-standard-4") is None
    assert catalog.instance("aws", "no.such") is None
    assert catalog.instance("gcp", "g6.xlarge") is None  # another cloud's type


def test_unknown_cloud_is_an_error():
    with pytest.raises(ValueError):
        catalog.regions("oci")


def test_zones():
    assert catalog.zones_offering("gcp", "us-central1", "a3-ultragpu-8g") == ["us-central1-b"]
    assert catalog.zones_offering("gcp", "us-east1", "n1-standard-4") == ["us-east1-c", "us-east1-d"]
    assert catalog.region_zones("gcp", "us-central1") == ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"]
    assert catalog.region_zones("azure", "eastus") == ["1", "2", "3"]
    assert catalog.zone_ids_offering("aws", "us-east-1", "p4d.24xlarge") == ["use1-az1", "use1-az2", "use1-az6"]
    assert catalog.zone_ids_offering("gcp", "us-central1", "g2-standard-4") == []


def test_aws_zone_names_and_partial_coverage_caveat():
    # names are per-account aliases of AZ IDs: all names are returned, with a caveat when only
    # some AZ IDs offer the type
    assert catalog.zones_offering("aws", "us-east-1", "p5.48xlarge") == catalog.region_zones("aws", "us-east-1")
    assert catalog.offering_notes("aws", "us-east-1", "p5.48xlarge") == []
    notes = catalog.offering_notes("aws", "us-east-1", "g6.xlarge")
    assert len(notes) == 1 and "4 of 6 AZ IDs" in notes[0]
    assert catalog.zones_offering("aws", "us-east-1", "g6.xlarge") == ["us-east-1a", "us-east-1b", "us-east-1c",
                                                                        "us-east-1d", "us-east-1e", "us-east-1f"]


def test_unverified_data_is_flagged():
    assert any("not verified" in n for n in catalog.offering_notes("azure", "westeurope", "Standard_NC4as_T4_v3"))
    assert any("zone list not verified" in n for n in catalog.offering_notes("azure", "eastus", "Standard_NC4as_T4_v3"))
    assert any("regional availability not verified" in n
               for n in catalog.offering_notes("azure", "eastus2", "Standard_ND96isr_H200_v5"))
    assert catalog.offering_notes("gcp", "us-central1", "g2-standard-4") == []


def test_catalog_summary_lists_dated_tables_with_sources():
    summary = catalog.catalog_summary()
    assert set(summary) == {"gpus", *CLOUDS}
    for cloud in CLOUDS:
        s = summary[cloud]
        assert s["spot_notice_seconds"] == catalog.spot_notice_seconds(cloud)
        for table in [s["instances"], *s["regions"], *s["price_tables"]]:
            dt.date.fromisoformat(table["as_of"])
            assert table["source"]
    gcp_prices = summary["gcp"]["price_tables"]
    assert gcp_prices[0]["as_of"] == "2025-03-06" and "issue #3" in gcp_prices[0]["source"]
    assert "Standard_NC4as_T4_v3" in summary["azure"]["regions"][0]["unverified"]


# ----------------------------------------------------------------------- bad data fails loudly


def _typo_in_instance(doc):
    doc["instances"]["types"]["g5.xlarge"]["memory_gb"] = doc["instances"]["types"]["g5.xlarge"].pop("memory_gib")


def _unknown_gpu(doc):
    doc["instances"]["types"]["g5.xlarge"]["gpu"] = "A10"


def _unknown_type_in_region(doc):
    doc["regions"]["us-east-1"]["offerings"]["g7.xlarge"] = {"zone_ids": ["use1-az1"]}


def _foreign_zone(doc):
    doc["regions"]["us-east-1"]["offerings"]["g5.xlarge"]["zone_ids"] = ["usw2-az1"]


def _undated_price_table(doc):
    del doc["price_tables"][0]["as_of"]


def _unknown_type_in_prices(doc):
    doc["price_tables"][0]["on_demand"]["p9.96xlarge"] = 1.0


def _inverted_spot_range(doc):
    doc["price_tables"][0]["spot"]["g5.xlarge"] = [0.451, 0.425]


def _unknown_price_region(doc):
    doc["price_tables"][0]["region"] = "us-east-9"


def _zone_names_on_aws(doc):
    doc["regions"]["us-east-1"]["offerings"]["g5.xlarge"] = {"zones": ["us-east-1a"]}


@pytest.mark.parametrize("mutate", [
    _typo_in_instance, _unknown_gpu, _unknown_type_in_region, _foreign_zone, _undated_price_table,
    _unknown_type_in_prices, _inverted_spot_range, _unknown_price_region, _zone_names_on_aws,
], ids=lambda f: f.__name__.strip("_"))
def test_bad_data_fails_loudly(data_copy, mutate):
    _edit(data_copy / "aws.yaml", mutate)
    with pytest.raises(catalog.CatalogError) as err:
        catalog.load_catalog_from(data_copy)
    assert "aws.yaml" in str(err.value)


def test_typo_in_a_gcp_discount_fails_loudly(data_copy):
    def typo(doc):
        doc["price_tables"][0]["commitment_discount"]["g2-standard-4"] = {"1y": 0.37, "3yr": 0.55}

    _edit(data_copy / "gcp.yaml", typo)
    with pytest.raises(catalog.CatalogError, match="gcp.yaml"):
        catalog.load_catalog_from(data_copy)


def test_unknown_gpu_model_in_gpus_yaml_fails(data_copy):
    _edit(data_copy / "gpus.yaml", lambda d: d["models"].update({"B200": {"memory_gib": 180}}))
    with pytest.raises(catalog.CatalogError, match="gpus.yaml"):
        catalog.load_catalog_from(data_copy)


def test_loader_imports_neither_pulumi_nor_a_cloud_sdk():
    tree = ast.parse((ROOT / "infra/catalog/__init__.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"pulumi", "pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "boto3",
                           "google", "azure", "requests", "urllib3"}


# ------------------------------------------------------------------------------ price property


def _offered() -> list[tuple[str, str, str]]:
    cat = catalog.load_catalog()
    return sorted((c, r, t) for c in CLOUDS for r, reg in cat.clouds[c].regions.items() for t in reg.offerings)


PRICED = [k for k in _offered() if catalog.price(*k) is not None]


def test_some_offered_types_are_priced_and_all_quotes_are_dated():
    assert len(PRICED) >= 8
    for k in PRICED:
        q = catalog.price(*k)
        dt.date.fromisoformat(q.as_of)
        assert q.source


@given(st.sampled_from(PRICED), st.sampled_from(["none", "1y", "3y"]))
def test_spot_and_reserved_never_exceed_on_demand(key, commitment):
    q = catalog.price(*key, commitment=commitment)
    assert q is not None and q.on_demand > 0
    if q.spot is not None:
        assert 0 < q.spot <= q.on_demand
    assert q.reserved is not None and 0 < q.reserved <= q.on_demand
    if commitment == "none":
        assert q.reserved == q.on_demand
