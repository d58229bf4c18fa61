"""PlatformConfig validation: valid stacks load; every mistake is reported with its path."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import ConfigError, PlatformConfig, json_schema, load_stack_file, read_stack_file, validate_platform

STACKS = Path(__file__).resolve().parents[2] / "stacks"
SHIPPED = sorted(STACKS.glob("Pulumi.*.yaml"))

BASE = {
    "environment": "dev",
    "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
    "regions": [
        {
            "name": "use1",
            "cloud": "aws",
            "region": "us-east-1",
            "role": "primary",
            "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}},
            "gpu_pools": [{"name": "l4", "gpu": {"model": "L4", "gpus_per_node": 1},
                           "capacity": {"max_nodes": 4, "spot_percent": 50}, "zones": ["us-east-1a"]}],
        }
    ],
}


def with_changes(**paths):
    """Copy BASE and set dotted paths (regions.0.cluster.create.version=...)."""
    raw = copy.deepcopy(BASE)
    for dotted, value in paths.items():
        keys = dotted.split("__")
        node = raw
        for k in keys[:-1]:
            node = node[int(k)] if k.isdigit() else node[k]
        last = keys[-1]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return raw


DELETE = object()


def problems(raw) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        validate_platform(raw)
    return {p.path: p.allowed for p in info.value.problems}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_stacks_are_valid(path):
    cfg = load_stack_file(path)
    assert isinstance(cfg, PlatformConfig)
    assert cfg.tags.owner and cfg.tags.cost_center
    assert sum(r.role == "primary" for r in cfg.regions) == 1


def test_shipped_stacks_cover_all_clouds_and_prod_has_standby():
    cfgs = {p.name: load_stack_file(p) for p in SHIPPED}
    assert {"Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"} <= set(cfgs)
    assert set().union(*(c.clouds for c in cfgs.values())) == {"aws", "gcp", "azure"}
    roles = [r.role for r in cfgs["Pulumi.prod.yaml"].regions]
    assert "primary" in roles and "standby" in roles


def test_config_is_frozen():
    cfg = validate_platform(BASE)
    with pytest.raises(Exception):
        cfg.environment = "prod"  # type: ignore[misc]
    with pytest.raises(Exception):
        cfg.regions[0].cluster.create.version = "1.31"  # type: ignore[misc,union-attr]


def test_two_mistakes_in_two_regions_are_reported_together():
    raw = copy.deepcopy(BASE)
    raw["regions"].append(
        {"name": "usc1", "cloud": "gcp", "region": "us-central1", "role": "standby", "project_id": "my-project-1",
         "cluster": {"create": {"version": "1.29"}}}
    )
    raw["regions"][0]["cluster"]["create"]["endpoint_access"] = "wide-open"
    found = problems(raw)
    assert set(found) == {
        "platform.regions[0].cluster.create.endpoint_access",
        "platform.regions[1].cluster.create.version",
    }
    assert "'private' or 'public_and_private'" in found["platform.regions[0].cluster.create.endpoint_access"]
    assert "'1.33'" in found["platform.regions[1].cluster.create.version"]


def test_error_message_names_path_value_and_allowed():
    with pytest.raises(ConfigError) as info:
        validate_platform(with_changes(regions__0__cloud="aws2"))
    text = str(info.value)
    assert "platform.regions[0].cloud: got 'aws2'; allowed: 'aws', 'gcp' or 'azure'" in text
    assert "Traceback" not in text


def test_semantic_errors_in_one_region_reported_alongside_field_errors_in_another():
    raw = copy.deepcopy(BASE)
    raw["regions"][0]["cluster"]["create"]["zones"] = ["us-east-1a"]  # semantic: AWS needs two
    raw["regions"].append({"name": "x", "cloud": "azure", "region": "eastus", "cluster": {}})  # field errors
    found = problems(raw)
    assert "platform.regions[0].cluster.create.zones" in found
    assert "platform.regions[1].name" in found
    assert "platform.regions[1].cluster" in found


@pytest.mark.parametrize(
    "changes, path, fragment",
    [
        ({"environment": "production"}, "platform.environment", "'dev', 'staging' or 'prod'"),
        ({"tags__owner": "ML Platform"}, "platform.tags.owner", "lowercase"),
        ({"tags__cost-center": DELETE}, "platform.tags.cost-center", "required"),
        ({"tags__extra": {"owner": "x"}}, "platform.tags.extra", "set by gpufleet"),
        ({"regions": []}, "platform.regions", "at least 1"),
        ({"regions__0__name": "US_EAST"}, "platform.regions[0].name", "pattern"),
        ({"regions__0__region": "us-east"}, "platform.regions[0].region", "us-east-1"),
        ({"regions__0__role": "secondary"}, "platform.regions[0].role", "'primary' or 'standby'"),
        ({"regions__0__role": "standby"}, "platform.regions", "exactly one region with role primary"),
        ({"regions__0__project_id": "my-project-1"}, "platform.regions[0].project_id", "only on gcp"),
        ({"regions__0__cluster": {}}, "platform.regions[0].cluster", "exactly one of create or adopt"),
        ({"regions__0__cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]},
                                  "adopt": {"name": "c"}}}, "platform.regions[0].cluster", "exactly one"),
        ({"regions__0__cluster": {"adopt": {}}}, "platform.regions[0].cluster.adopt", "exactly one of name or stack_reference"),
        ({"regions__0__cluster__create__zones": ["us-east-1a"]}, "platform.regions[0].cluster.create.zones", "two zones"),
        ({"regions__0__cluster__create__zones": ["us-east-1a", "eu-west-1b"]}, "platform.regions[0].cluster.create.zones[1]", "us-east-1"),
        ({"regions__0__cluster__create__endpoint_access": "public_and_private"},
         "platform.regions[0].cluster.create.public_access_cidrs", "at least one CIDR"),
        ({"regions__0__cluster__create__public_access_cidrs": ["10.0.0.0/8"]},
         "platform.regions[0].cluster.create.public_access_cidrs", "empty when endpoint_access is private"),
        ({"regions__0__cluster__create__public_access_cidrs": ["10.0.0.300/8"]},
         "platform.regions[0].cluster.create.public_access_cidrs", "CIDR"),
        ({"regions__0__cluster__create__network": {"create": {"cidr": "10.0.0.0/24"}}},
         "platform.regions[0].cluster.create.network.create.cidr", "/16 and /20"),
        ({"regions__0__cluster__create__gcp": {"release_channel": "STABLE"}},
         "platform.regions[0].cluster.create.gcp", "only the 'aws' block"),
        ({"regions__0__cluster__create__aws": {"admin_role_arns": ["admin"]}},
         "platform.regions[0].cluster.create.aws.admin_role_arns", "IAM role ARNs"),
        ({"regions__0__cluster__create__system_pool": {"min_nodes": 3, "max_nodes": 2}},
         "platform.regions[0].cluster.create.system_pool", "max_nodes"),
        ({"regions__0__cluster__create__version": 1.33}, "platform.regions[0].cluster.create.version", "'1.33'"),
        ({"regions__0__colour": "blue"}, "platform.regions[0].colour", "known keys"),
    ],
)
def test_invalid_configs_name_their_path(changes, path, fragment):
    found = problems(with_changes(**changes))
    assert path in found, found
    assert fragment in found[path], found[path]


def test_prod_rejects_world_open_endpoint():
    raw = with_changes(environment="prod")
    raw["regions"][0]["cluster"]["create"].update(endpoint_access="public_and_private", public_access_cidrs=["0.0.0.0/0"])
    assert "no 0.0.0.0/0 in prod" in problems(raw)["platform.regions[0].cluster.create.public_access_cidrs"]
    raw["environment"] = "dev"
    validate_platform(raw)  # allowed outside prod


def test_gcp_requires_project_and_azure_adopt_requires_resource_group():
    raw = copy.deepcopy(BASE)
    raw["regions"] = [
        {"name": "usc1", "cloud": "gcp", "region": "us-central1", "cluster": {"create": {"version": "1.33"}}},
        {"name": "eus", "cloud": "azure", "region": "eastus", "role": "standby", "cluster": {"adopt": {"name": "aks1"}}},
    ]
    found = problems(raw)
    assert "platform.regions[0].project_id" in found
    assert "platform.regions[1].cluster.adopt.resource_group" in found


def test_duplicate_region_names_and_pairs():
    raw = copy.deepcopy(BASE)
    second = copy.deepcopy(raw["regions"][0])
    second["role"] = "standby"
    raw["regions"].append(second)
    found = problems(raw)
    assert "platform.regions[1].name" in found and "platform.regions[1].region" in found


def test_not_a_mapping_and_bad_files(tmp_path):
    assert "platform" in problems(["not", "a", "mapping"])
    missing = tmp_path / "Pulumi.none.yaml"
    with pytest.raises(ConfigError):
        read_stack_file(missing)
    broken = tmp_path / "Pulumi.bad.yaml"
    broken.write_text("config: [unclosed")
    with pytest.raises(ConfigError, match="valid YAML"):
        read_stack_file(broken)
    nokey = tmp_path / "Pulumi.nokey.yaml"
    nokey.write_text("config:\n  aws:region: us-east-1\n")
    with pytest.raises(ConfigError, match="gpufleet:platform"):
        read_stack_file(nokey)


def test_json_schema_describes_every_field():
    schema = json_schema()
    assert schema["title"] == "gpufleet:platform"
    assert set(schema["required"]) == {"environment", "tags", "regions"}
    assert schema["additionalProperties"] is False

    def walk(node):
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                assert prop.get("description"), f"property {name} has no description"
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    assert "cost-center" in schema["$defs"]["CostTags"]["properties"]


# --- hypothesis: arbitrary configs never raise anything but ConfigError -------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 120), st.floats(allow_nan=False, width=16),
                    st.sampled_from(["aws", "gcp", "azure", "dev", "prod", "primary", "standby", "1.33", "us-east-1",
                                     "us-east-1a", "10.0.0.0/16", "0.0.0.0/0", "", "x" * 70, "L4", "H100", "A10G",
                                     "g6.xlarge", "cr-0123456789abcdef0"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.sampled_from(
                                                           ["create", "adopt", "name", "version", "zones", "cloud",
                                                            "region", "role", "cluster", "network", "existing", "cidr",
                                                            "aws", "gcp", "azure", "owner", "cost-center", "gpu",
                                                            "model", "capacity", "reservation", "max_nodes",
                                                            "spot_percent", "gpu_pools"]), inner,
                                                           max_size=4)), max_leaves=12)


def _mutate(data, base):
    """Replace a random subtree of BASE with a random value."""
    raw = copy.deepcopy(base)
    paths = []

    def collect(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                collect(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                collect(v, path + (i,))

    collect(raw, ())
    path = data.draw(st.sampled_from(paths[1:]))
    node = raw
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = data.draw(values)
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_mutations_raise_only_config_error(data):
    raw = _mutate(data, BASE)
    try:
        validate_platform(raw)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError must list at least one problem"
        for p in exc.problems:
            assert p.path.startswith("platform"), p.path


@settings(max_examples=200, deadline=None)
@given(values)
def test_arbitrary_documents_raise_only_config_error(raw):
    try:
        validate_platform(raw)
    except ConfigError as exc:
        assert exc.problems


def test_unknown_key_inside_a_map_entry_lists_the_entry_model_keys():
    raw = copy.deepcopy(BASE)
    raw["monitoring"] = {"alerts": {"GpuUnderutilized": {"enabeld": False}}}
    found = problems(raw)
    assert found["platform.monitoring.alerts.GpuUnderutilized.enabeld"].endswith("known keys: enabled, for_minutes, severity")
