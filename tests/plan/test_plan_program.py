"""The whole program under recording mocks, for every shipped stack and test config."""

from __future__ import annotations

import pytest

from infra.plan.report import cloud_of, is_kubernetes_object
from tests.plan.conftest import plan_for
from tests.support import assert_explicit_providers

CLOUD_PREFIX = {"aws": "aws:", "gcp": "gcp:", "azure": "azure-native:"}


def test_every_resource_has_an_explicit_provider(any_plan):
    assert_explicit_providers(any_plan.run)


def test_every_child_is_parented_inside_a_component_or_stack(any_plan):
    urns = {r.urn for r in any_plan.run.resources}
    for r in any_plan.run.resources:
        assert r.parent in urns or r.parent.endswith("::gpufleet-" + any_plan.run.stack), (r.name, r.parent)


def test_only_the_stacks_clouds_appear(any_plan):
    clouds = set(any_plan.document["config"]["regions"][i]["cloud"] for i in range(len(any_plan.document["config"]["regions"])))
    seen = {cloud_of(r.type) for r in any_plan.run.resources} & {"aws", "gcp", "azure"}
    assert seen <= clouds


def test_kubeconfigs_are_secret_and_never_in_plain_outputs(any_plan):
    assert "kubeconfigs" in any_plan.run.secret_outputs
    assert any_plan.run.outputs["kubeconfigs"] == "[secret]"
    for region in any_plan.run.outputs["regions"].values():
        assert "kubeconfig" not in region
    # Every Kubernetes provider receives the kubeconfig only as a secret.
    for r in any_plan.run.by_type("pulumi:providers:kubernetes"):
        assert r.inputs["kubeconfig"] == "[secret]", r.name


def test_one_cluster_component_per_region(any_plan):
    regions = any_plan.document["config"]["regions"]
    clusters = any_plan.run.by_type("gpufleet:cluster:KubernetesCluster")
    assert sorted(c.name for c in clusters) == sorted(r["name"] for r in regions)


def test_created_clusters_in_prod_are_protected():
    run = plan_for("prod").run
    gke = run.by_type("gcp:container/cluster:Cluster")
    assert len(gke) == 2
    assert all(c.options["protect"] and c.inputs["deletionProtection"] for c in gke)
    assert {c.inputs["name"] for c in gke} == {"gpufleet-prod-usc1", "gpufleet-prod-use1"}
    assert all(not c.options["protect"] for c in plan_for("staging").run.by_type("aws:eks/cluster:Cluster"))


def test_adopted_clusters_create_no_cluster(any_plan):
    cfg = any_plan.document["config"]
    for region in cfg["regions"]:
        if "adopt" not in region["cluster"]:
            continue
        comp = any_plan.run.one("gpufleet:cluster:KubernetesCluster", region["name"])
        created = [r.type for r in any_plan.run.resources if r.parent == comp.urn and r.type.startswith(
            CLOUD_PREFIX[region["cloud"]])]
        assert created == [], created
        # It still yields a Kubernetes provider bound to the adopted cluster.
        assert [r.type for r in any_plan.run.children_of(comp.urn) if r.type == "pulumi:providers:kubernetes"]


def test_serving_namespace_enforces_restricted_pod_security(shipped_plan):
    namespaces = [r for r in shipped_plan.run.resources if is_kubernetes_object(r) and r.inputs["kind"] == "Namespace"
                  and r.inputs["metadata"]["name"] == "gpufleet-serving"]
    assert namespaces
    for ns in namespaces:
        labels = ns.inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["owner"] == "ml-platform"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_plan_json_carries_resource_options(stack):
    doc = plan_for(stack).document
    for res in doc["resources"]:
        assert set(res) >= {"urn", "type", "name", "parent", "provider", "inputs", "options"}
        if not res["read"]:
            assert set(res["options"]) >= {"protect", "retainOnDelete", "ignoreChanges", "deleteBeforeReplace",
                                           "aliases", "dependsOn"}


def test_invalid_config_inside_the_program_registers_nothing():
    from infra.config import CONFIG_KEY, ConfigError
    from infra.plan.runner import run_program
    from infra.program import main

    bad = {"environment": "prod", "tags": {"owner": "a", "cost-center": "b"},
           "regions": [{"name": "use1", "cloud": "aws", "region": "us-east-1",
                        "cluster": {"create": {"version": "1.20"}}},
                       {"name": "usc1", "cloud": "gcp", "region": "us-central1", "role": "standby",
                        "cluster": {"create": {"version": "1.33"}}}]}
    with pytest.raises(ConfigError) as info:
        run_program(main, stack="bad", config={CONFIG_KEY: bad})
    paths = {p.path for p in info.value.problems}
    assert {"platform.regions[0].cluster.create.version", "platform.regions[1].project_id"} <= paths
    assert info.value.partial_run.resources == []
