"""CI gate: the pack over every shipped stack (and the consumer example): no mandatory violation.

The plan runs the real program under the recording mocks and the findings section runs the pack's
rules over what was recorded, the way `pulumi preview --policy-pack infra/policy` would.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from infra.config import read_stack_file
from infra.plan import Plan, make_plan
from infra.plan.findings import findings_for

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
GOOD = sorted(p for p in (ROOT / "tests/policy/configs").glob("Pulumi.*.yaml") if not p.name.startswith("Pulumi.bad-"))
BAD = ROOT / "tests/policy/configs"


def stack_name(path: Path) -> str:
    return path.name[len("Pulumi."):-len(".yaml")]


@lru_cache(maxsize=None)
def plan(path: Path) -> Plan:
    return make_plan(read_stack_file(path), stack=stack_name(path))


def mandatory(p: Plan) -> list[str]:
    return [f"{v['policy']}: {v['type']} {v['name']}: {v['message']}"
            for v in p.document["findings"]["violations"] if v["level"] == "mandatory"]


def test_every_shipped_stack_is_covered():
    assert {stack_name(p) for p in SHIPPED} >= {"dev", "staging", "prod"}


@pytest.mark.parametrize("path", SHIPPED, ids=stack_name)
def test_shipped_stack_passes_every_mandatory_policy(path):
    p = plan(path)
    section = p.document["findings"]
    assert section["pack"] == "gpufleet" and section["policies"] >= 40
    assert mandatory(p) == []
    assert "policy findings (pack gpufleet" in p.text


@pytest.mark.parametrize("path", GOOD, ids=stack_name)
def test_other_clouds_prod_with_dr_pass_every_mandatory_policy(path):
    """AWS and Azure prod with DR (not shipped): the components' own resources stay compliant."""
    assert mandatory(plan(path)) == []


def test_consumer_example_passes_every_mandatory_policy():
    from tests.plan.test_consumer_example import run_example

    section = findings_for(run_example())
    assert [v for v in section["violations"] if v["level"] == "mandatory"] == []


def test_config_expressible_bad_stacks_are_caught():
    aws = {v["policy"] for v in plan(BAD / "Pulumi.bad-aws.yaml").document["findings"]["violations"]}
    assert {"eks-public-endpoint-restricted", "eks-secrets-encryption", "eks-control-plane-logging",
            "gpu-pool-tainted"} <= aws
    gcp = {v["policy"] for v in plan(BAD / "Pulumi.bad-gcp-prod.yaml").document["findings"]["violations"]}
    assert {"dr-replication-in-prod", "gpu-driver-pinned"} <= gcp


def test_example_policy_config_is_valid_and_shipped_stacks_pass_it():
    from infra.policy.engine import load_pack_config

    settings = load_pack_config(ROOT / "infra/policy/config.example.json")
    assert settings["gpu-pool-max-gpus"].level == "mandatory"
    for path in SHIPPED:
        section = findings_for(plan(path).run, settings)
        assert [v for v in section["violations"] if v["level"] == "mandatory"] == [], path.name
