"""`plan --compare`: the diff of two plan.json documents, on crafted before/after plans."""

from __future__ import annotations

import copy
import json

import pytest

from infra.plan.diff import PlanFileError, compare_plans, load_plan, render_markdown, render_text
from infra.plan.html_report import render_report

STACK = "urn:pulumi:prod::gpufleet::pulumi:pulumi:Stack"
POOL_T = "gcp:container/nodePool:NodePool"


def res(typ: str, name: str, inputs: dict, *, parent: str = "", provider: str = "", **options) -> dict:
    short = typ if not parent else parent.split("::")[2] + "$" + typ
    return {"urn": f"urn:pulumi:prod::gpufleet::{short}::{name}", "type": typ, "name": name,
            "parent": parent or f"{STACK}::gpufleet-prod", "provider": provider, "custom": True, "read": False,
            "inputs": inputs, "options": {"protect": False, "retainOnDelete": False, "ignoreChanges": [],
                                          "deleteBeforeReplace": False, "replaceOnChanges": [], "aliases": [],
                                          "dependsOn": [], "additionalSecretOutputs": [], "importId": None, **options}}


def gpu_pool(name: str = "usc1-l4-spot", gpu: str = "nvidia-l4", machine: str = "g2-standard-4") -> dict:
    return res(POOL_T, name, {"cluster": "gpufleet-prod-usc1", "location": "us-central1", "nodeConfig": {
        "machineType": machine, "spot": True, "guestAccelerators": [{"type": gpu, "count": 1}]},
        "autoscaling": {"minNodeCount": 0, "maxNodeCount": 17}})


def plan(resources: list[dict], *, total: dict | None = None, pools: list | None = None,
         violations: list | None = None) -> dict:
    return {"formatVersion": 1, "project": "gpufleet", "stack": "prod", "config": None,
            "summary": {"total": len(resources)}, "resources": resources, "outputs": {}, "secretOutputs": [],
            "capacity": {"pools": pools or [], "total": total or {}},
            "findings": {"counts": {"mandatory": 0, "advisory": 0}, "violations": violations or []}}


def finding(policy: str, r: dict, level: str = "mandatory") -> dict:
    return {"policy": policy, "level": level, "severity": "high", "message": f"{policy} on {r['name']}",
            "urn": r["urn"], "type": r["type"], "name": r["name"], "ids": [], "description": ""}


def test_added_and_removed_resources_are_listed_with_type_and_name():
    keep = res("gcp:storage/bucket:Bucket", "usc1-models", {"name": "b1", "location": "US"})
    old = plan([keep, gpu_pool("usc1-l4-spot")])
    new = plan([keep, gpu_pool("usc1-h100-spot", gpu="nvidia-h100-80gb", machine="a3-highgpu-1g")])
    d = compare_plans(old, new)
    assert [r["name"] for r in d["resources"]["added"]] == ["usc1-h100-spot"]
    assert [r["name"] for r in d["resources"]["removed"]] == ["usc1-l4-spot"]
    assert d["counts"] == {"added": 1, "removed": 1, "replaced": 0, "updated": 0, "unchanged": 1,
                           "newFindings": 0, "fixedFindings": 0}
    text = render_text(d)
    assert f"  + {POOL_T}" in text and "usc1-h100-spot" in text
    assert f"  - {POOL_T}" in text and "usc1-l4-spot" in text


def test_a_force_new_input_replaces_while_an_updatable_one_updates():
    old = plan([gpu_pool("a"), gpu_pool("b")])
    new = copy.deepcopy(old)
    new["resources"][0]["inputs"]["nodeConfig"]["guestAccelerators"][0]["type"] = "nvidia-h100-80gb"  # ForceNew
    new["resources"][1]["inputs"]["nodeConfig"]["machineType"] = "g2-standard-8"  # updated in place on GKE
    d = compare_plans(old, new)
    (replaced,), (updated,) = d["resources"]["replaced"], d["resources"]["updated"]
    assert replaced["name"] == "a" and replaced["because"] == ["nodeConfig.guestAccelerators[0].type"]
    assert updated["name"] == "b" and updated["changes"] == [
        {"path": "nodeConfig.machineType", "old": "g2-standard-4", "new": "g2-standard-8", "secret": False}]
    text = render_text(d)
    assert "+- " + POOL_T in text and "(replace: nodeConfig.guestAccelerators[0].type)" in text
    assert '~ nodeConfig.machineType: "g2-standard-4" => "g2-standard-8"' in text
    assert "(forces replacement)" in text.split("nodeConfig.machineType")[0]


def test_replace_on_changes_option_and_kubernetes_identity_force_replacement():
    dep = res("kubernetes:apps/v1:Deployment", "triton", {"metadata": {"name": "triton", "namespace": "serving"},
                                                          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "t"}}}})
    opt = res("gcp:monitoring/notificationChannel:NotificationChannel", "oncall",
              {"type": "email", "labels": {"email_address": "a@example.com"}}, replaceOnChanges=["labels"])
    old = plan([dep, opt])
    new = copy.deepcopy(old)
    new["resources"][0]["inputs"]["metadata"]["namespace"] = "serving-v2"
    new["resources"][0]["inputs"]["spec"]["replicas"] = 3
    new["resources"][1]["inputs"]["labels"]["email_address"] = "b@example.com"
    d = compare_plans(old, new)
    by_name = {r["name"]: r for r in d["resources"]["replaced"]}
    assert by_name["triton"]["because"] == ["metadata.namespace"]
    assert by_name["oncall"]["because"] == ["labels.email_address"]
    # Only replicas changing is an in-place update.
    only_replicas = copy.deepcopy(old)
    only_replicas["resources"][0]["inputs"]["spec"]["replicas"] = 3
    assert [r["name"] for r in compare_plans(old, only_replicas)["resources"]["updated"]] == ["triton"]


def test_configmap_data_replaces_unless_the_provider_makes_configmaps_mutable():
    def stack(mutable: bool, data: str) -> dict:
        prov = res("pulumi:providers:kubernetes", "usc1-k8s", {"kubeconfig": "[secret]",
                                                                **({"enableConfigMapMutable": "true"} if mutable else {})})
        cm = res("kubernetes:core/v1:ConfigMap", "models", {"metadata": {"name": "models"}, "data": {"a": data}},
                 provider=f"{prov['urn']}::usc1-k8s-id")
        return plan([prov, cm])

    assert [r["name"] for r in compare_plans(stack(False, "1"), stack(False, "2"))["resources"]["replaced"]] == ["models"]
    assert [r["name"] for r in compare_plans(stack(True, "1"), stack(True, "2"))["resources"]["updated"]] == ["models"]


def test_input_and_option_changes_are_listed_with_old_and_new_values():
    bucket = res("gcp:storage/bucket:Bucket", "usc1-models", {"name": "b1", "location": "US",
                                                              "lifecycleRules": [{"condition": {"age": 30}}]})
    new_bucket = copy.deepcopy(bucket)
    new_bucket["inputs"]["lifecycleRules"][0]["condition"]["age"] = 60
    new_bucket["inputs"]["labels"] = {"team": "ml"}
    new_bucket["options"]["protect"] = True
    d = compare_plans(plan([bucket]), plan([new_bucket]))
    (upd,) = d["resources"]["updated"]
    assert {c["path"]: (c["old"], c["new"]) for c in upd["changes"]} == {
        "lifecycleRules[0].condition.age": (30, 60), "labels.team": (None, "ml")}
    assert upd["options"] == [{"option": "protect", "old": False, "new": True}]
    text = render_text(d)
    assert "~ lifecycleRules[0].condition.age: 30 => 60" in text
    assert '~ labels.team: (absent) => "ml"' in text and "~ option protect: False => True" in text


def test_cost_delta_over_every_total_figure_and_per_pool():
    row = lambda region, cost: {"region": region, "pool": "l4", "cost": cost}  # noqa: E731
    old = plan([], total={"perHourAtMin": 1.3429, "perHourAtMax": 6.1029, "allOnDemandAtMax": 14.136, "maxNodes": 32},
               pools=[row("usc1", {"perHourAtMin": 1.3429, "perHourAtMax": 6.1029, "allOnDemandAtMax": 14.136})])
    new = plan([], total={"perHourAtMin": 2.5, "perHourAtMax": 9.0, "allOnDemandAtMax": 20.0, "maxNodes": 40,
                          "controlPlanePerHour": 0.2},
               pools=[row("usc1", {"perHourAtMin": 1.3429, "perHourAtMax": 6.1029, "allOnDemandAtMax": 14.136}),
                      row("use1", {"perHourAtMin": 1.1571, "perHourAtMax": 2.8971, "allOnDemandAtMax": 5.864})])
    cost = compare_plans(old, new)["cost"]
    assert cost["total"]["perHourAtMax"] == {"old": 6.1029, "new": 9.0, "delta": 2.8971}
    assert cost["total"]["maxNodes"] == {"old": 32, "new": 40, "delta": 8}
    assert cost["total"]["controlPlanePerHour"] == {"old": None, "new": 0.2, "delta": None}  # a new figure
    assert [p["pool"] for p in cost["pools"]] == ["use1/l4"] and cost["pools"][0]["status"] == "added"
    text = render_text(compare_plans(old, new))
    assert "total perHourAtMax: 6.10 -> 9.00 (+2.90)" in text
    assert "$/h at max +2.90" in text.splitlines()[0]


def test_secrets_are_masked_on_both_sides_everywhere_the_diff_is_shown():
    prov = res("pulumi:providers:kubernetes", "k8s", {"kubeconfig": "apiVersion: v1 # plain-before"})
    db = res("azure-native:containerservice:ManagedCluster", "aks",
             {"resourceName": "aks", "windowsProfile": {"adminPassword": "hunter2-old"}, "sku": {"tier": "Free"}})
    secret = res("kubernetes:core/v1:Secret", "tls", {"metadata": {"name": "tls"}, "stringData": {"tls.key": "KEY-OLD"}})
    old = plan([prov, db, secret])
    new = copy.deepcopy(old)
    new["resources"][0]["inputs"]["kubeconfig"] = "[secret]"  # became a secret: the old plain value must not show
    new["resources"][1]["inputs"]["windowsProfile"]["adminPassword"] = "hunter2-new"  # a credential key, not marked
    new["resources"][1]["inputs"]["sku"]["tier"] = "Standard"
    new["resources"][2]["inputs"]["stringData"]["tls.key"] = "KEY-NEW"
    d = compare_plans(old, new)
    changes = {c["path"]: c for r in d["resources"]["updated"] + d["resources"]["replaced"] for c in r["changes"]}
    for path in ("kubeconfig", "windowsProfile.adminPassword", "stringData.tls.key"):
        assert changes[path]["secret"] and changes[path]["old"] == changes[path]["new"] == "[secret]", path
    assert changes["sku.tier"] == {"path": "sku.tier", "old": "Free", "new": "Standard", "secret": False}
    shown = render_text(d) + render_markdown(d) + json.dumps(d) + render_report(new, d)[0]
    for leaked in ("plain-before", "hunter2", "KEY-OLD", "KEY-NEW"):
        assert leaked not in shown, leaked
    # The change is still visible as a change.
    assert "~ windowsProfile.adminPassword: [secret] => [secret]" in render_text(d)


def test_new_and_fixed_findings_are_keyed_by_policy_and_resource():
    a, b = gpu_pool("a"), gpu_pool("b")
    old = plan([a, b], violations=[finding("gke-node-pool-secure-boot", a), finding("gpu-pool-labels", b, "advisory")])
    new = plan([a, b], violations=[finding("gke-node-pool-secure-boot", a), finding("spot-max-price", b)])
    f = compare_plans(old, new)["findings"]
    assert [(x["policy"], x["name"]) for x in f["new"]] == [("spot-max-price", "b")]
    assert [(x["policy"], x["name"]) for x in f["fixed"]] == [("gpu-pool-labels", "b")]
    text = render_text(compare_plans(old, new))
    assert "new finding   mandatory high     spot-max-price  b: spot-max-price on b" in text
    assert "fixed finding advisory" in text


def test_an_alias_keeps_a_renamed_resource_out_of_add_and_remove():
    old_pool = gpu_pool("usc1-l4")
    new_pool = gpu_pool("usc1-l4-spot")
    new_pool["options"]["aliases"] = [old_pool["urn"]]
    d = compare_plans(plan([old_pool]), plan([new_pool]))
    assert d["resources"]["added"] == [] and d["resources"]["removed"] == []
    assert [r["from"] for r in d["resources"]["renamed"]] == [old_pool["urn"]]


def test_the_same_plan_compares_unchanged():
    from tests.plan.conftest import plan_for

    doc = plan_for("prod").document
    d = compare_plans(doc, json.loads(json.dumps(doc)))
    assert d["counts"]["unchanged"] == len(doc["resources"]) > 100
    assert sum(d["counts"][k] for k in ("added", "removed", "replaced", "updated", "newFindings", "fixedFindings")) == 0


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), ("{not json", "not JSON"), ('{"resources": []}', "not a plan.json"),
])
def test_an_unusable_old_plan_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "old.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(PlanFileError, match=message):
        load_plan(path)


def test_a_parent_object_that_appears_replaces_only_through_its_force_new_leaves():
    bare = res(POOL_T, "p", {"cluster": "c", "location": "l"})
    with_machine = copy.deepcopy(bare)
    with_machine["inputs"]["nodeConfig"] = {"machineType": "g2-standard-8"}
    with_spot = copy.deepcopy(bare)
    with_spot["inputs"]["nodeConfig"] = {"spot": True}
    assert [r["name"] for r in compare_plans(plan([bare]), plan([with_machine]))["resources"]["updated"]] == ["p"]
    (replaced,) = compare_plans(plan([bare]), plan([with_spot]))["resources"]["replaced"]
    assert replaced["because"] == ["nodeConfig.spot"]
