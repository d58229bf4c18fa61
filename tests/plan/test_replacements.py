"""The replace-on-change table names real inputs of the pinned provider SDKs, and covers what we create."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from pulumi._types import input_type_py_to_pulumi_names

from infra.plan.replacements import REPLACE_ON_CHANGE, covers, replace_paths

SDK = {"gcp": "pulumi_gcp", "aws": "pulumi_aws", "azure-native": "pulumi_azure_native"}


def args_class(token: str) -> tuple[object, type]:
    pkg, mod, name = token.split(":")
    if pkg == "kubernetes":
        group, _, version = mod.rpartition("/")
        group = {"helm.sh": "helm"}.get(group, group.split(".")[0])
        module = importlib.import_module(f"pulumi_kubernetes.{group}.{version}")
    else:
        module = importlib.import_module(f"{SDK[pkg]}.{mod.split('/')[0]}")
    # The SDKs rename a resource's args class to <Name>InitArgs when an input type already has <Name>Args.
    return module, getattr(module, f"{name}InitArgs", None) or getattr(module, f"{name}Args")


def _nested(module: object, cls: type, field: str) -> type:
    prop = getattr(cls, {v: k for k, v in input_type_py_to_pulumi_names(cls).items()}[field])
    annotation = str(inspect.signature(prop.fget).return_annotation)
    (name, *_) = re.findall(r"(\w+Args)\b", annotation)
    for where in (module, importlib.import_module(module.__name__ + "._inputs") if not module.__name__.startswith(
            "pulumi_kubernetes") else module, importlib.import_module("pulumi_kubernetes.meta.v1")):
        if hasattr(where, name):
            return getattr(where, name)
    raise AssertionError(f"{cls.__name__}.{field}: cannot find {name}")


@pytest.mark.parametrize("token", sorted(REPLACE_ON_CHANGE))
def test_every_path_is_an_input_of_the_sdk_type(token):
    module, cls = args_class(token)
    for path in REPLACE_ON_CHANGE[token].paths:
        here = cls
        segments = path.replace("[*]", "").split(".")
        for i, seg in enumerate(segments):
            names = set(input_type_py_to_pulumi_names(here).values())
            assert seg in names, f"{token}: {path}: no input {seg!r} on {here.__name__}"
            if i < len(segments) - 1:
                here = _nested(module, here, seg)
    assert REPLACE_ON_CHANGE[token].source.startswith("https://github.com/")


def test_the_table_covers_the_clusters_pools_networks_buckets_and_keys_of_every_shipped_stack():
    from tests.plan.conftest import plan_for

    must = re.compile(r":(Cluster|NodePool|Vpc|NodeGroup|ManagedCluster|AgentPool|Network|Subnetwork|VirtualNetwork|Subnet|"
                      r"Bucket|StorageAccount|KeyRing|CryptoKey|Vault|Key|Account|UserAssignedIdentity)$")
    types = {r["type"] for stack in ("dev", "staging", "prod") for r in plan_for(stack).document["resources"]}
    missing = sorted(t for t in types if must.search(t) and not t.startswith("gpufleet:") and t not in REPLACE_ON_CHANGE)
    assert missing == []


@pytest.mark.parametrize("rule, changed, expected", [
    ("nodeConfig.guestAccelerators", "nodeConfig.guestAccelerators[0].type", True),
    ("spec.containers[*].image", "spec.containers[2].image", True),
    ("nodeConfig.spot", "nodeConfig", False),  # an empty {} appearing is not a change of spot
    ("name", "namePrefix", False),
    ("nodeConfig.spot", "nodeConfig.machineType", False),
])
def test_rule_matching(rule, changed, expected):
    assert covers(rule, changed) is expected


def test_kubernetes_objects_always_replace_on_name_or_namespace():
    paths = replace_paths({"type": "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "options": {}})
    assert paths == ("metadata.name", "metadata.namespace")
