"""The CrossGuard side: the policies `infra/policy/__main__.py` hands to PolicyPack, driven through
pulumi_policy's own analyzer servicer (what the Pulumi CLI calls over gRPC), never through
`__main__` (PolicyPack's constructor serves forever)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import PolicyCustomTimeouts, _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.policy.model import UNKNOWN
from infra.policy.pack import PACK_NAME, build_policies, plain, to_resource
from infra.policy.rules import all_rules
from tests.policy.support import urn

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "infra/policy"
TAGS = {"environment": "dev", "owner": "ml-platform", "cost-center": "cc-1"}


def struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


@pytest.fixture(scope="module")
def policies():
    return build_policies()


def servicer(config: dict | None = None) -> _PolicyAnalyzerServicer:
    """The analyzer the Pulumi CLI talks to, configured the way `--policy-pack-config` configures it."""
    svc = _PolicyAnalyzerServicer(PACK_NAME, "0.0.1", build_policies(), EnforcementLevel.ADVISORY)
    levels = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED}
    if config is not None:
        req = proto.ConfigureAnalyzerRequest()
        for name, value in config.items():
            level = value.pop("enforcementLevel", "mandatory")
            req.policyConfig[name].CopyFrom(proto.PolicyConfig(enforcementLevel=levels[level], properties=struct(value)))
        svc.Configure(req, None)
    return svc


def analyze(svc, typ: str, props: dict, name: str = "r", stack: str = "dev"):
    req = proto.AnalyzeRequest(type=typ, properties=struct(props), urn=urn(typ, name, stack), name=name,
                               options=proto.AnalyzerResourceOptions())
    return [(d.policyName, d.enforcementLevel, d.message) for d in svc.Analyze(req, None).diagnostics]


def analyze_stack(svc, resources: list[tuple[str, str, dict]], stack: str = "dev"):
    req = proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=t, name=n, urn=urn(t, n, stack), properties=struct(p),
                               options=proto.AnalyzerResourceOptions())
        for t, n, p in resources])
    return [(d.policyName, d.urn, d.message) for d in svc.AnalyzeStack(req, None).diagnostics]


# --- the pack's shape ----------------------------------------------------------------------------------

def test_build_policies_matches_the_rules(policies):
    rules = all_rules()
    assert len(policies) == len(rules) >= 40
    assert len({p.name for p in policies}) == len(policies)
    for p, r in zip(policies, rules):
        assert p.name == r.name
        assert isinstance(p, ResourceValidationPolicy if r.kind == "resource" else StackValidationPolicy)
        assert p.enforcement_level == EnforcementLevel(r.enforcement)
        assert p.severity is not None and p.severity.value == r.severity
        assert p.description == r.description
        if r.config:
            assert p.config_schema is not None
            assert set(p.config_schema.properties) == set(r.config)
            assert all("default" in v and "type" in v for v in p.config_schema.properties.values())
        else:
            assert p.config_schema is None


def test_every_description_cites_its_scanner_ids_or_says_there_is_none():
    for r in all_rules():
        if r.ids:
            assert all(i.startswith("CKV_") for i in r.ids)
            assert f"[Checkov {', '.join(r.ids)}]" in r.description
        else:
            assert r.description.endswith("]") and ("no Checkov" in r.description)


def test_defaults_mandatory_for_security_advisory_for_hygiene():
    levels = {r.name: r.enforcement for r in all_rules()}
    for name in ("s3-public-access-blocked", "s3-bucket-encrypted", "k8s-no-privileged", "iam-no-wildcard-admin",
                 "gpu-pool-tainted", "triton-no-poll-in-prod", "eks-secrets-encryption", "dr-replication-in-prod"):
        assert levels[name] == "mandatory", name
    for name in ("cost-tags-present", "k8s-liveness-readiness-probes", "k8s-resource-requests", "gpu-pool-max-gpus",
                 "spot-pools-scale-to-zero", "s3-versioning-enabled"):
        assert levels[name] == "advisory", name


def test_main_only_builds_the_pack():
    """__main__.py: imports, the sys.path line, and one PolicyPack(name=PACK_NAME, policies=build_policies())."""
    tree = ast.parse((PACK_DIR / "__main__.py").read_text())
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    others = [n for n in body if n not in imports]
    assert {(getattr(n, "module", None), tuple(a.name for a in n.names)) for n in imports} == {
        (None, ("sys",)), ("pathlib", ("Path",)), ("pulumi_policy", ("PolicyPack",)),
        ("infra.policy.pack", ("PACK_NAME", "build_policies"))}
    assert len(others) == 2
    path_line, pack_line = others
    assert ast.unparse(path_line) == "sys.path.insert(0, str(Path(__file__).resolve().parents[2]))"
    assert ast.unparse(pack_line) == "PolicyPack(name=PACK_NAME, policies=build_policies())"


def test_importing_the_pack_never_runs_main():
    import infra.policy  # noqa: F401
    import infra.policy.pack  # noqa: F401

    assert "infra.policy.__main__" not in sys.modules


def test_pulumi_policy_yaml():
    doc = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python"
    venv = (PACK_DIR / doc["runtime"]["options"]["virtualenv"]).resolve()
    assert venv == ROOT / ".venv"
    assert doc["description"]


# --- through pulumi_policy's analyzer --------------------------------------------------------------------

def test_analyze_reports_a_violation_with_its_level():
    diags = analyze(servicer(), "aws:eks/cluster:Cluster", {"vpcConfig": {"endpointPublicAccess": True}})
    names = {d[0] for d in diags}
    assert {"eks-public-endpoint-restricted", "eks-secrets-encryption", "eks-control-plane-logging"} <= names
    level = {d[0]: d[1] for d in diags}
    assert level["eks-secrets-encryption"] == proto.MANDATORY


def test_unknown_values_during_preview_are_not_violations():
    props = {"vpcConfig": {"endpointPublicAccess": UNKNOWN_BOOLEAN_VALUE, "publicAccessCidrs": UNKNOWN_STRING_VALUE},
             "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": UNKNOWN_STRING_VALUE}},
             "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
             "roleArn": UNKNOWN_STRING_VALUE, "name": "c",
             "tags": {"environment": "dev", "owner": "o", "cost-center": UNKNOWN_STRING_VALUE}}
    assert analyze(servicer(), "aws:eks/cluster:Cluster", props) == []


def test_numbers_arrive_as_floats_and_compare_numerically():
    ok = {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}, "tags": TAGS}
    bad = {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}, "tags": TAGS}
    assert [d[0] for d in analyze(servicer(), "aws:ec2/launchTemplate:LaunchTemplate", ok)] == []
    assert [d[0] for d in analyze(servicer(), "aws:ec2/launchTemplate:LaunchTemplate", bad)] == ["ec2-imds-hop-limit"]


def test_policy_pack_config_sets_levels_and_properties():
    lt = {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}, "tags": TAGS}
    assert analyze(servicer({"ec2-imds-hop-limit": {"enforcementLevel": "disabled"}}),
                   "aws:ec2/launchTemplate:LaunchTemplate", lt) == []
    diags = analyze(servicer({"ec2-imds-hop-limit": {"enforcementLevel": "advisory"}}),
                    "aws:ec2/launchTemplate:LaunchTemplate", lt)
    assert [(d[0], d[1]) for d in diags] == [("ec2-imds-hop-limit", proto.ADVISORY)]
    assert analyze(servicer({"ec2-imds-hop-limit": {"enforcementLevel": "mandatory", "maxHopLimit": 2}}),
                   "aws:ec2/launchTemplate:LaunchTemplate", lt) == []


def test_analyze_stack_joins_split_s3_resources():
    bucket = ("aws:s3/bucket:Bucket", "models", {"bucket": "m1"})
    enc = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "models-enc",
           {"bucket": "m1", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]})
    diags = analyze_stack(servicer(), [bucket])
    assert ("s3-bucket-encrypted", urn(*bucket[:2]), "S3 bucket models has no default encryption configured; "
            "allowed: aws:kms, aws:kms:dsse") in [(d[0], d[1], d[2].split("\n", 1)[1]) for d in diags]
    assert "s3-bucket-encrypted" not in {d[0] for d in analyze_stack(servicer(), [bucket, enc])}


def test_stack_policy_sees_prod_from_the_stack_name():
    dep = ("kubernetes:apps/v1:Deployment", "triton", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "t", "image": "nvcr.io/nvidia/tritonserver:26.04-py3",
                                                       "command": ["tritonserver"],
                                                       "args": ["--model-control-mode=poll"]}]}}}})
    assert "triton-no-poll-in-prod" in {d[0] for d in analyze_stack(servicer(), [dep], stack="prod")}
    assert "triton-no-poll-in-prod" not in {d[0] for d in analyze_stack(servicer(), [dep], stack="dev")}


# --- adapters on pulumi_policy's objects ----------------------------------------------------------------

def test_plain_unwraps_proxies_and_marks_unknowns():
    props = unknown_checking_proxy({"a": {"b": [1.0, UNKNOWN_STRING_VALUE]}, "c": UNKNOWN_BOOLEAN_VALUE})
    assert plain(props) == {"a": {"b": [1.0, UNKNOWN]}, "c": UNKNOWN}


def test_to_resource_from_a_policy_resource():
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    parent = PolicyResource("gpufleet:storage:ModelStore", {}, "urn:p", "store", opts, None, None, [], {})
    res = PolicyResource("aws:s3/bucket:Bucket", unknown_checking_proxy({"bucket": UNKNOWN_STRING_VALUE}),
                         urn("aws:s3/bucket:Bucket", "b", "prod"), "b", opts, None, parent, [parent],
                         {"bucket": [parent]})
    r = to_resource(res)
    assert r.props == {"bucket": UNKNOWN} and r.parent == "urn:p" and r.stack == "prod"
    assert r.dependencies == ("urn:p",) and r.property_dependencies == {"bucket": ("urn:p",)}


def test_stack_policy_callable_reports_urns(policies):
    pol = next(p for p in policies if p.name == "s3-public-access-blocked")
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    b = PolicyResource("aws:s3/bucket:Bucket", unknown_checking_proxy({"bucket": "b1"}), "urn:b1", "b1", opts, None,
                       None, [], {})
    seen = []
    pol.validate(StackValidationArgs([b], {}), lambda msg, u=None: seen.append((u, msg)))
    assert seen == [("urn:b1", "S3 bucket b1 has no public access block")]


def test_the_pack_serves_over_grpc_like_under_pulumi_preview():
    """Start infra/policy/__main__.py the way the Pulumi CLI's analyzer host does (a separate process, by
    path, from the pack directory), then ask it over gRPC for its policies and to analyze a resource."""
    import subprocess

    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc
    from google.protobuf import empty_pb2

    proc = subprocess.Popen([sys.executable, "-u", str(PACK_DIR / "__main__.py")], cwd=PACK_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin"})
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
            assert info.name == PACK_NAME and len(info.policies) == len(all_rules())
            tainted = next(p for p in info.policies if p.name == "gpu-pool-tainted")
            assert tainted.enforcementLevel == proto.MANDATORY and tainted.severity == proto.POLICY_SEVERITY_HIGH
            typ = "aws:eks/nodeGroup:NodeGroup"
            req = proto.AnalyzeRequest(type=typ, urn=urn(typ, "gpu"), name="gpu", options=proto.AnalyzerResourceOptions(),
                                       properties=struct({"instanceTypes": ["g6.xlarge"], "amiType": "AL2023_x86_64_NVIDIA",
                                                          "tags": TAGS}))
            diags = stub.Analyze(req, timeout=60).diagnostics
            assert [d.policyName for d in diags] == ["gpu-pool-tainted"]
    finally:
        proc.kill()
        proc.wait(timeout=30)
