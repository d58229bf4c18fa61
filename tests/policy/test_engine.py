"""The in-process runner: policy pack config (the `--policy-pack-config` format), levels, evaluation."""

from __future__ import annotations

import json

import pytest

from infra.policy.engine import (
    PolicyConfigError,
    engine_value,
    evaluate,
    findings_document,
    load_pack_config,
    parse_pack_config,
    render_findings,
)
from infra.policy.model import UNKNOWN
from infra.policy.rules import all_rules
from tests.policy.support import R
from tests.policy.test_rules import TAGS, eks_ng


def test_defaults_are_each_policys_own_level_and_schema_defaults():
    settings = parse_pack_config({})
    for r in all_rules():
        assert settings[r.name].level == r.enforcement
        assert settings[r.name].properties == r.defaults()


def test_level_strings_objects_and_all():
    s = parse_pack_config({"all": "advisory", "gpu-pool-tainted": "disabled",
                           "gpu-pool-max-gpus": {"enforcementLevel": "mandatory", "maxGpusPerPool": 8}})
    assert s["eks-secrets-encryption"].level == "advisory"  # all
    assert s["gpu-pool-tainted"].level == "disabled"  # the policy's own entry beats all
    assert s["gpu-pool-max-gpus"].level == "mandatory" and s["gpu-pool-max-gpus"].properties == {"maxGpusPerPool": 8}
    s = parse_pack_config({"all": {"enforcementLevel": "mandatory"}, "allowed-regions": {"allowedRegions": ["eastus"]}})
    assert s["cost-tags-present"].level == "mandatory"
    assert s["allowed-regions"].level == "mandatory" and s["allowed-regions"].properties == {"allowedRegions": ["eastus"]}


@pytest.mark.parametrize("raw,problem", [
    ({"no-such-policy": "advisory"}, "no-such-policy: no such policy in pack gpufleet"),
    ({"gpu-pool-tainted": "fatal"}, "gpu-pool-tainted.enforcementLevel: got 'fatal'"),
    ({"gpu-pool-max-gpus": {"maxGpus": 3}}, "gpu-pool-max-gpus.maxGpus: unknown property (allowed: maxGpusPerPool)"),
    ({"gpu-pool-max-gpus": {"maxGpusPerPool": "many"}}, "gpu-pool-max-gpus.maxGpusPerPool: got 'many'; expected number"),
    ({"allowed-regions": {"allowedRegions": [1]}}, "allowed-regions.allowedRegions: got [1]; expected array"),
    ({"all": {"maxGpusPerPool": 3}}, "all: only enforcementLevel can be set for all policies"),
    ([], "must be a JSON object"),
])
def test_invalid_config_is_rejected_with_every_problem(raw, problem):
    with pytest.raises(PolicyConfigError) as exc:
        parse_pack_config(raw)
    assert any(problem in p for p in exc.value.problems), exc.value.problems


def test_load_from_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"k8s-image-pinned": {"requireDigest": True}}))
    assert load_pack_config(path)["k8s-image-pinned"].properties == {"requireDigest": True}
    path.write_text("{not json")
    with pytest.raises(PolicyConfigError, match="not JSON"):
        load_pack_config(path)


def test_engine_value_floats_and_unknowns():
    assert engine_value({"a": [1, 2.5, True, "<unknown>", None]}) == {"a": [1.0, 2.5, True, UNKNOWN, None]}
    assert isinstance(engine_value(3), float) and engine_value(True) is True


def test_evaluate_levels_disabled_and_order():
    res = [eks_ng(), R("aws:s3/bucket:Bucket", {"bucket": "b", "acl": "public-read", "tags": TAGS}, name="b")]
    findings = evaluate(res)
    assert [f.severity for f in findings] == sorted((f.severity for f in findings),
                                                    key=["critical", "high", "medium", "low"].index)
    by_policy = {f.policy: f for f in findings}
    assert by_policy["s3-no-public-acl-or-policy"].level == "mandatory"
    assert by_policy["gpu-pool-tainted"].level == "mandatory"
    settings = parse_pack_config({"gpu-pool-tainted": "disabled", "s3-no-public-acl-or-policy": "advisory",
                                  "s3-bucket-encrypted": "remediate"})
    findings = {f.policy: f for f in evaluate(res, settings)}
    assert "gpu-pool-tainted" not in findings
    assert findings["s3-no-public-acl-or-policy"].level == "advisory"
    assert findings["s3-bucket-encrypted"].level == "mandatory"  # no remediation: reported as mandatory


def test_findings_document_and_rendering():
    res = [R("aws:s3/bucket:Bucket", {"bucket": "b", "acl": "public-read", "tags": TAGS}, name="b")]
    settings = parse_pack_config({})
    doc = findings_document(evaluate(res, settings), settings)
    assert doc["counts"]["mandatory"] >= 3 and doc["bySeverity"]["critical"] >= 2
    v = next(v for v in doc["violations"] if v["policy"] == "s3-no-public-acl-or-policy")
    assert v == {"policy": "s3-no-public-acl-or-policy", "level": "mandatory", "severity": "critical",
                 "message": "canned ACL public-read makes the bucket public", "urn": res[0].urn,
                 "type": "aws:s3/bucket:Bucket", "name": "b", "ids": ["CKV_AWS_20", "CKV_AWS_57", "CKV_AWS_70"],
                 "description": v["description"]}
    text = render_findings(doc)
    assert text.index("CRITICAL") < text.index("HIGH")
    assert "[mandatory] s3-no-public-acl-or-policy: aws:s3/bucket:Bucket b" in text
    assert render_findings(findings_document([], settings)).endswith("all policies pass\n")
