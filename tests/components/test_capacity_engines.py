"""Issue 15: Karpenter on EKS and node auto-provisioning on AKS under the same capacity spec.

Runs the real program under the recording mocks on tests/configs/Pulumi.aws-karpenter.yaml and
Pulumi.azure-nap.yaml (and variants of them), and checks what is emitted against the upstream
artifacts vendored under tests/data: the NodePool/EC2NodeClass/AKSNodeClass CRD schemas and CEL
label rules, the Karpenter chart's values.yaml, and the upstream getting-started template's IAM
policy and EventBridge rules."""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.gpu_pool.karpenter import KARPENTER_CHART, KARPENTER_CRD_CHART, KARPENTER_VERSION
from components.gpu_pool.karpenter.aws import INTERRUPTION_EVENTS, controller_policy, controller_values
from infra.config import read_stack_file
from infra.plan import make_plan
from infra.plan.diff import resource_changes
from infra.plan.report import manifest
from tests.support import CRD_DIR, validate_kubernetes_object

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
EC2NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
AKSNODECLASS = "kubernetes:karpenter.azure.com/v1beta1:AKSNodeClass"
HELM = "kubernetes:helm.sh/v3:Release"


def raw(name: str) -> dict:
    path = ROOT / ("stacks" if name in ("dev", "staging", "prod") else "tests/configs") / f"Pulumi.{name}.yaml"
    return copy.deepcopy(read_stack_file(path))


@lru_cache(maxsize=None)
def _plan(name: str, variant: str = ""):
    cfg = raw(name)
    create = cfg["regions"][0]["cluster"]["create"]
    if variant == "keep":
        # Node groups hold one shape (the cluster autoscaler sizes a group from one type): while they
        # are kept, the pool's spot diversity must fit them too.
        create["keep_node_groups"] = True
        cfg["regions"][0]["gpu_pools"][0]["capacity"].pop("spot_instance_types")
    elif variant == "groups":
        create.pop("capacity_engine", None)
    elif variant in ("karpenter", "node_auto_provisioning"):
        create["capacity_engine"] = variant
    return make_plan(cfg, stack=name)  # one stack name: URNs line up between variants


def of(plan, typ: str) -> list:
    return [r for r in plan.run.resources if r.type == typ]


def one(plan, typ: str, name_part: str = ""):
    found = [r for r in of(plan, typ) if name_part in r.name]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


# --- CRD schemas and CEL rules (upstream, vendored) ----------------------------------------------

@pytest.mark.parametrize("name", ["aws-karpenter", "azure-nap"])
def test_every_karpenter_object_validates_against_the_published_crd(name):
    objs = [r for r in _plan(name).run.resources if r.type in (NODEPOOL, EC2NODECLASS, AKSNODECLASS)]
    assert len(objs) >= 3
    for r in objs:
        validate_kubernetes_object(manifest(r))


def _first_nodepool(name: str) -> dict:
    return copy.deepcopy(manifest(of(_plan(name), NODEPOOL)[0]))


@pytest.mark.parametrize("mutate", [
    lambda o: o["spec"]["disruption"].__setitem__("consolidationPolicy", "WhenIdle"),       # invalid enum
    lambda o: o["spec"]["template"]["spec"].__setitem__("expiresAfter", "Never"),          # misspelled field
    lambda o: o["spec"].__setitem__("weight", 101),                                        # out of range
    lambda o: o["spec"]["disruption"]["budgets"].append({"nodes": "ten"}),                 # bad pattern
])
def test_the_nodepool_schema_rejects_what_the_api_server_would(mutate):
    obj = _first_nodepool("aws-karpenter")
    mutate(obj)
    with pytest.raises(jsonschema.ValidationError):
        validate_kubernetes_object(obj)


def _cel_lists(schema_file: str) -> tuple[list[str], list[str], list[tuple[str, list[str]]]]:
    """From the vendored NodePool CRD's CEL rules on template labels: the labels it refuses outright
    and, per restricted domain, the keys it still allows (rules of the form
    `self.all(x, x in [...] || !x.find("^([^/]+)").endsWith("<domain>"))` and `self.all(x, x != "<key>")`)."""
    doc = json.loads((CRD_DIR / schema_file).read_text())
    labels = doc["properties"]["spec"]["properties"]["template"]["properties"]["metadata"]["properties"]["labels"]
    refused, domains = [], []
    for v in labels.get("x-kubernetes-validations", []):
        rule = v["rule"]
        if m := re.fullmatch(r"""self\.all\(x, x != ["']([^"']+)["']\)""", rule.strip()):
            refused.append(m.group(1))
        elif m := re.search(r"""x in \[(.*?)\] \|\| !x\.find\("\^\(\[\^/\]\+\)"\)\.endsWith\("([^"]+)"\)""", rule, re.S):
            allowed = re.findall(r'"([^"]+)"', m.group(1))
            domains.append((m.group(2), allowed))
    assert refused and domains, "the CEL rules were not found: the vendored CRD changed shape"
    return refused, [d for d, _ in domains], domains


def _cel_label_problems(labels: dict[str, str], schema_file: str) -> list[str]:
    refused, _, domains = _cel_lists(schema_file)
    out = [k for k in labels if k in refused]
    for domain, allowed in domains:
        out += [k for k in labels if k.split("/", 1)[0].endswith(domain) and "/" in k and k not in allowed]
    return out


@pytest.mark.parametrize("name,schema", [("aws-karpenter", "karpenter.sh_v1_nodepool.json"),
                                         ("azure-nap", "karpenter.sh_v1_nodepool_azure.json")])
def test_nodepool_labels_pass_the_crds_restricted_label_rules(name, schema):
    pools = of(_plan(name), NODEPOOL)
    for r in pools:
        labels = r.inputs["spec"]["template"]["metadata"]["labels"]
        assert _cel_label_problems(labels, schema) == [], r.name
    # The check bites: the AKS CRD refuses a kubernetes.azure.com label it does not list, and `accelerator`.
    assert _cel_label_problems({"kubernetes.azure.com/agentpool": "x", "accelerator": "nvidia"},
                               "karpenter.sh_v1_nodepool_azure.json") == ["accelerator", "kubernetes.azure.com/agentpool"]
    assert _cel_label_problems({"karpenter.sh/nodepool": "x"}, "karpenter.sh_v1_nodepool.json")


def test_ec2nodeclass_alias_and_role_follow_the_crds_cel_rules():
    cls = one(_plan("aws-karpenter"), EC2NODECLASS).inputs["spec"]
    alias = [t["alias"] for t in cls["amiSelectorTerms"]]
    # "must match the format 'family@version'"; an alias term is the only term.
    assert len(cls["amiSelectorTerms"]) == 1 and re.fullmatch(r"al2023@(latest|v\d{8})", alias[0])
    assert ("role" in cls) != ("instanceProfile" in cls)  # exactly one of role / instanceProfile


# --- EKS: what Karpenter's nodes look like -------------------------------------------------------

def test_ec2nodeclass_is_private_encrypted_and_imdsv2_hop_1():
    plan = _plan("aws-karpenter")
    cls = one(plan, EC2NODECLASS).inputs["spec"]
    assert cls["metadataOptions"]["httpTokens"] == "required"
    assert cls["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (root,) = cls["blockDeviceMappings"]
    assert root["rootVolume"] is True and root["ebs"]["encrypted"] is True and root["ebs"]["volumeSize"] == "200Gi"
    cluster = one(plan, "aws:eks/cluster:Cluster").inputs["name"]
    assert cls["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": cluster}}]
    assert cls["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": cluster}}]
    assert cls["capacityReservationSelectorTerms"] == [{"id": "cr-0123456789abcdef0"}]
    # Every private subnet carries the discovery tag the selector looks for; no public one does.
    subnets = of(plan, "aws:ec2/subnet:Subnet")
    private = [s for s in subnets if "-private-" in s.name]
    assert private and all(s.inputs["tags"]["karpenter.sh/discovery"] == cluster for s in private)
    assert all("karpenter.sh/discovery" not in s.inputs["tags"] for s in subnets if "-public-" in s.name)
    sg = one(plan, "aws:ec2/tag:Tag", "sg-discovery").inputs
    assert (sg["key"], sg["value"]) == ("karpenter.sh/discovery", cluster)
    assert sg["resourceId"].startswith("<computed:eks.Cluster:")  # required: the EKS-made group
    # The node role Karpenter passes is its own, with an EC2_LINUX access entry so the nodes join.
    entry = [e for e in of(plan, "aws:eks/accessEntry:AccessEntry") if e.inputs.get("type") == "EC2_LINUX"]
    assert len(entry) == 1


def test_nodepools_replace_the_gpu_node_groups_the_autoscaler_priorities_and_nth():
    plan = _plan("aws-karpenter")
    groups = [g.name for g in of(plan, "aws:eks/nodeGroup:NodeGroup")]
    assert sorted(groups) == ["use1-general", "use1-system"]  # no GPU node groups
    names = {r.inputs["metadata"]["name"]: r for r in of(plan, NODEPOOL)}
    assert sorted(names) == ["gpu-l4-on-demand", "gpu-l4-reserved", "gpu-l4-spot"]
    releases = {r.inputs["name"]: r for r in of(plan, HELM)}
    assert "aws-node-termination-handler" not in releases  # Karpenter's interruption queue does it
    assert "karpenter" in releases and "nvidia-device-plugin" in releases
    cm = [r for r in of(plan, "kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"].endswith("priority-expander")]
    assert all("gpu" not in r.inputs["data"]["priorities"] for r in cm)
    # Taints and labels are the pool's, as on the node groups.
    for r in names.values():
        tmpl = r.inputs["spec"]["template"]
        assert tmpl["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
        assert tmpl["metadata"]["labels"]["gpufleet.io/pool"] == "l4"
        assert tmpl["metadata"]["labels"]["gpufleet.io/capacity-type"] == r.inputs["metadata"]["name"].split("gpu-l4-")[1]
    # NodePools wait for the chart (it brings the CRDs).
    chart = releases["karpenter"].urn
    assert all(chart in r.options["dependsOn"] for r in names.values())


def test_karpenter_release_pins_the_chart_and_runs_on_the_system_pool():
    plan = _plan("aws-karpenter")
    releases = {r.inputs["name"]: r for r in of(plan, HELM)}
    release = releases["karpenter"].inputs
    assert (release["chart"], release["version"]) == KARPENTER_CHART
    # The CRDs come from their own chart at the same version (Helm never upgrades a chart's crds/).
    crds = releases["karpenter-crd"]
    assert (crds.inputs["chart"], crds.inputs["version"]) == KARPENTER_CRD_CHART
    assert release["skipCrds"] is True and crds.urn in releases["karpenter"].options["dependsOn"]
    assert release["namespace"] == "kube-system"
    v = release["values"]
    assert v["nodeSelector"]["gpufleet.io/pool"] == "system"
    assert v["settings"]["interruptionQueue"] and v["settings"]["clusterName"]
    assert v["settings"]["featureGates"]["reservedCapacity"] is True
    assert v["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]


FREE_FORM = ("annotations", "nodeSelector", "resources", "tolerations")


def _leaves(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v and k not in FREE_FORM:
            out += _leaves(v, path)
        else:
            out.append(path)
    return out


def _has(values: dict, path: str) -> bool:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_chart_value_gpufleet_sets_exists_in_the_charts_values():
    chart_values = yaml.safe_load((DATA / "charts/karpenter/chart/values.yaml").read_text())
    ours = controller_values(cluster_name="c", queue_name="q", role_arn="arn")
    missing = [p for p in _leaves(ours) if not _has(chart_values, p)]
    assert missing == []
    # and the shapes match where the chart gives a default (a map stays a map, a number a number)
    for p in _leaves(ours):
        node: Any = chart_values
        for part in p.split("."):
            node = node[part]
        if node not in (None, "", {}, []):
            mine: Any = ours
            for part in p.split("."):
                mine = mine[part]
            assert type(mine) is type(node) or isinstance(node, (dict, list)) == isinstance(mine, (dict, list)), p
    # The check bites: a misplaced key is reported.
    assert not _has(chart_values, "settings.interruptionQueueName")


def test_the_chart_version_and_tag_are_the_vendored_release():
    prov = (DATA / "charts/karpenter/PROVENANCE.md").read_text()
    assert "v1.14.1" in prov and KARPENTER_VERSION == "1.14.1"


def _cfn() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    for tag in ("!Sub", "!GetAtt", "!Ref"):
        Loader.add_constructor(tag, lambda loader, node: loader.construct_scalar(node))
    return yaml.load((DATA / "charts/karpenter/cloudformation.yaml").read_text(), Loader=Loader)


def test_the_controller_policy_is_the_upstream_templates_statement_for_statement():
    doc = _cfn()
    subs = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1", "${AWS::AccountId}": "111122223333",
            "${ClusterName}": "c1", "${KarpenterNodeRole.Arn}": "arn:aws:iam::111122223333:role/n",
            "${KarpenterInterruptionQueue.Arn}": "arn:aws:sqs:us-east-1:111122223333:q"}
    upstream = []
    for res in doc["Resources"].values():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            text = res["Properties"]["PolicyDocument"]
            for k, v in subs.items():
                text = text.replace(k, v)
            upstream += json.loads(text)["Statement"]
    ours = controller_policy(pfx="aws", region="us-east-1", account="111122223333", cluster="c1",
                             node_role_arn=subs["${KarpenterNodeRole.Arn}"],
                             queue_arn=subs["${KarpenterInterruptionQueue.Arn}"])["Statement"]
    by_sid = lambda sts: {s["Sid"]: s for s in sts}  # noqa: E731
    assert by_sid(ours) == by_sid(upstream)
    assert len(json.dumps(ours, separators=(",", ":"))) < 10240  # IAM's inline-policy size limit per role


def test_the_interruption_rules_are_the_upstream_templates():
    doc = _cfn()
    upstream = sorted(json.dumps(r["Properties"]["EventPattern"], sort_keys=True)
                      for r in doc["Resources"].values() if r["Type"] == "AWS::Events::Rule")
    assert sorted(json.dumps(p, sort_keys=True) for p in INTERRUPTION_EVENTS.values()) == upstream
    rules = of(_plan("aws-karpenter"), "aws:cloudwatch/eventRule:EventRule")
    emitted = sorted(r.inputs["eventPattern"] for r in rules if "karpenter" in r.name)
    assert emitted == upstream


# --- migration: same cluster, same capacity --------------------------------------------------------

@pytest.mark.parametrize("name,cluster_type,engine", [
    ("staging", "aws:eks/cluster:Cluster", "karpenter"),
    ("dev", "azure-native:containerservice:ManagedCluster", "node_auto_provisioning"),
])
def test_switching_the_engine_never_replaces_the_cluster(name, cluster_type, engine):
    before, after = _plan(name, "groups"), _plan(name, engine)
    changes = resource_changes(before.document, after.document)
    assert not [c for c in changes["replaced"] if c["type"] == cluster_type]
    assert not [c for c in changes["removed"] if c["type"] == cluster_type]
    assert before.document["capacity"] == after.document["capacity"] or cluster_type.startswith("azure")


def test_the_capacity_table_is_the_same_for_both_engines_on_aws():
    before, after = _plan("staging", "groups"), _plan("staging", "karpenter")
    assert before.document["capacity"]["pools"] == after.document["capacity"]["pools"]
    assert before.document["capacity"]["total"] == after.document["capacity"]["total"]


def test_keep_node_groups_runs_both_during_the_migration():
    plan = _plan("aws-karpenter", "keep")
    gpu_groups = [g for g in of(plan, "aws:eks/nodeGroup:NodeGroup") if "-l4-" in g.name]
    assert len(gpu_groups) >= 2 and len(of(plan, NODEPOOL)) == 3
    releases = {r.inputs["name"] for r in of(plan, HELM)}
    assert {"karpenter", "cluster-autoscaler", "aws-node-termination-handler"} <= releases


# --- AKS node auto-provisioning ------------------------------------------------------------------

def test_nap_turns_on_auto_provisioning_and_fixes_the_agent_pools():
    plan = _plan("azure-nap")
    mc = one(plan, "azure-native:containerservice:ManagedCluster").inputs
    assert mc["nodeProvisioningProfile"] == {"mode": "Auto", "defaultNodePools": "None"}
    net = mc["networkProfile"]
    assert (net["networkPlugin"], net["networkPluginMode"], net["networkDataplane"]) == ("azure", "overlay", "cilium")
    (system,) = mc["agentPoolProfiles"]
    assert system["enableAutoScaling"] is False and "minCount" not in system and "maxCount" not in system
    assert "autoScalerProfile" not in mc
    # Fixed sizes are gpufleet's to change: no ignore_changes on the counts any more.
    assert "agentPoolProfiles[0].count" not in one(plan, "azure-native:containerservice:ManagedCluster").options.get(
        "ignoreChanges", [])
    general_pool = one(plan, "azure-native:containerservice:AgentPool", "general")
    general = general_pool.inputs
    assert general["enableAutoScaling"] is False and "count" not in general_pool.options.get("ignoreChanges", [])
    # General nodes above the fixed pool come from a NAP NodePool of the same size.
    gen = [r for r in of(plan, NODEPOOL) if r.inputs["metadata"]["name"] == "general"]
    assert len(gen) == 1 and "cpu" in gen[0].inputs["spec"]["limits"]
    assert general["vmSize"] in gen[0].inputs["spec"]["template"]["spec"]["requirements"][1]["values"]
    gpu = sorted(r.inputs["metadata"]["name"] for r in of(plan, NODEPOOL) if r.inputs["metadata"]["name"] != "general")
    assert gpu == ["gpu-t4-on-demand", "gpu-t4-spot"]  # no reserved capacity under NAP
    assert not [r for r in of(plan, "azure-native:containerservice:AgentPool") if "t4" in r.name]
    cls = [r.inputs["spec"] for r in of(plan, AKSNODECLASS) if r.inputs["metadata"]["name"] == "gpu-t4"]
    assert cls == [{"imageFamily": "Ubuntu2204", "osDiskSizeGB": 200, "gpu": {"mode": "Driver"},
                    "tags": cls[0]["tags"]}]
    releases = {r.inputs["name"] for r in of(plan, HELM)}
    assert "nvidia-device-plugin" in releases
    assert not [r for r in of(plan, "kubernetes:core/v1:ConfigMap")
                if r.inputs["metadata"]["name"] == "cluster-autoscaler-priority-expander"]


# --- the policy pack sees the new objects --------------------------------------------------------

def _violations(plan) -> dict[str, list[str]]:
    from infra.policy.engine import evaluate, from_recorded, parse_pack_config

    found: dict[str, list[str]] = {}
    for v in evaluate(from_recorded(plan.run.resources), parse_pack_config({})):
        found.setdefault(v.policy, []).append(v.message)
    return found


@pytest.mark.parametrize("name", ["aws-karpenter", "azure-nap"])
def test_the_shipped_engine_configs_pass_the_pack(name):
    assert _violations(_plan(name)) == {}


def test_karpenter_is_scraped_for_the_spot_reclaim_alert():
    plan = _plan("aws-karpenter")
    (mon,) = [r for r in of(plan, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
              if r.inputs["metadata"]["name"] == "karpenter"]
    assert mon.inputs["metadata"]["namespace"] == "kube-system"
    from components.monitoring import MONITOR_SELECTOR

    assert dict(MONITOR_SELECTOR).items() <= mon.inputs["metadata"]["labels"].items()
    # It selects the chart's metrics Service by the chart's selector labels and port name (templates/service.yaml).
    assert mon.inputs["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "karpenter",
                                                             "app.kubernetes.io/instance": "karpenter"}
    assert mon.inputs["spec"]["endpoints"][0]["port"] == "http-metrics"
    stack = [r for r in of(plan, HELM) if r.inputs["chart"] == "kube-prometheus-stack"][0]
    assert stack.urn in mon.options["dependsOn"]
