"""`python -m infra plan|policy` with the policy pack, as people and CI run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD_PROGRAM = "tests.fixtures.bad_stack:main"
ONE = "tests.policy.programs:one_mandatory_violation"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


def write(tmp_path: Path, doc) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_policy_list_prints_every_policy_with_level_severity_and_ids():
    proc = run_cli("policy", "list")
    assert proc.returncode == 0, proc.stderr
    from infra.policy.rules import all_rules

    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"gpufleet policy pack: {len(all_rules())} policies")
    for r in all_rules():
        line = next(line for line in lines if line.split()[:1] == [r.name])
        assert line.split()[1:4] == [r.enforcement, r.severity, r.kind]
        assert line.endswith(", ".join(r.ids) or ("(none mapped)" if r.note else "(gpufleet)"))
    assert "  s3-public-access-blocked " in proc.stdout and "CKV_AWS_53, CKV_AWS_54, CKV_AWS_55, CKV_AWS_56" in proc.stdout


def test_policy_list_json_under_a_policy_config(tmp_path):
    cfg = write(tmp_path, {"gpu-pool-tainted": "advisory", "gpu-pool-max-gpus": {"maxGpusPerPool": 8}})
    proc = run_cli("policy", "list", "--json", "--policy-config", cfg)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["gpu-pool-tainted"]["level"] == "advisory" and rows["gpu-pool-tainted"]["default"] == "mandatory"
    assert rows["gpu-pool-max-gpus"]["config"] == {"maxGpusPerPool": 8}
    assert rows["eks-secrets-encryption"]["ids"] == ["CKV_AWS_58"]


def test_bad_program_exits_3_with_findings_grouped_by_severity(tmp_path):
    out = tmp_path / "bad"
    proc = run_cli("plan", "--program", BAD_PROGRAM, "--stack", "prod", "--out", str(out))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    text = proc.stdout
    assert "gpufleet plan: program tests.fixtures.bad_stack:main (stack prod)" in text
    findings = text[text.index("policy findings"):]
    assert findings.index("CRITICAL") < findings.index("HIGH") < findings.index("MEDIUM")
    critical = findings[findings.index("CRITICAL"):findings.index("HIGH")]
    high = findings[findings.index("HIGH"):findings.index("MEDIUM")]
    assert "[mandatory] s3-public-access-blocked" in critical
    assert "[mandatory] s3-no-public-acl-or-policy: aws:s3/bucket:Bucket models" in critical
    assert "[mandatory] s3-bucket-encrypted: aws:s3/bucket:Bucket models" in high
    assert "[mandatory] gpu-pool-tainted: aws:eks/nodeGroup:NodeGroup gpu-nodes" in high
    assert "[mandatory] gpu-pool-tainted: gcp:container/nodePool:NodePool gke-gpu" in high
    assert "[mandatory] triton-no-poll-in-prod: kubernetes:apps/v1:Deployment triton" in high
    assert "--model-control-mode=poll" in high
    assert "[mandatory] triton-queue-bounded: kubernetes:core/v1:ConfigMap ranker-config" in findings
    assert "mandatory policy violation(s): exit 3" in proc.stderr
    doc = json.loads((out / "plan.json").read_text())
    section = doc["findings"]
    assert section["counts"]["mandatory"] >= 8
    policies = {(v["policy"], v["name"]) for v in section["violations"] if v["level"] == "mandatory"}
    assert {("s3-public-access-blocked", "models-pab"), ("s3-no-public-acl-or-policy", "models"),
            ("s3-bucket-encrypted", "models"), ("gpu-pool-tainted", "gpu-nodes"), ("gpu-pool-tainted", "gke-gpu"),
            ("triton-no-poll-in-prod", "triton"), ("dr-replication-in-prod", "models")} <= policies
    assert doc["program"] == BAD_PROGRAM and (out / "k8s" / "triton.yaml").exists()


def test_bad_program_outside_prod_keeps_poll_mode_legal():
    proc = run_cli("plan", "--program", BAD_PROGRAM, "--stack", "dev", "--quiet")
    assert proc.returncode == 3  # still public and unencrypted
    assert "triton-no-poll-in-prod" not in proc.stdout


@pytest.mark.parametrize("level,code", [(None, 3), ("advisory", 0), ("disabled", 0), ("mandatory", 3)])
def test_policy_config_level_decides_the_exit_code(tmp_path, level, code):
    args = ["plan", "--program", ONE]
    if level is not None:
        args += ["--policy-config", write(tmp_path, {"ec2-imds-hop-limit": level})]
    proc = run_cli(*args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    shown = "[advisory]" if level == "advisory" else "[mandatory]"
    if level == "disabled":
        assert "ec2-imds-hop-limit" not in proc.stdout
        assert "0 mandatory, 0 advisory - all policies pass" in proc.stdout
    else:
        assert f"{shown} ec2-imds-hop-limit: aws:ec2/launchTemplate:LaunchTemplate nodes" in proc.stdout


def test_policy_config_properties_apply(tmp_path):
    proc = run_cli("plan", "--program", ONE, "--policy-config", write(tmp_path, {"ec2-imds-hop-limit": {"maxHopLimit": 2}}))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_all_advisory_lets_even_the_bad_stack_through(tmp_path):
    proc = run_cli("plan", "--program", BAD_PROGRAM, "--stack", "prod", "--quiet",
                   "--policy-config", write(tmp_path, {"all": "advisory"}))
    assert proc.returncode == 0, proc.stderr
    assert ": 0 mandatory, " in proc.stdout


def test_invalid_policy_config_exits_2(tmp_path):
    proc = run_cli("plan", "--stack", "dev", "--policy-config", write(tmp_path, {"no-such-policy": "advisory",
                                                                                "gpu-pool-tainted": "fatal"}))
    assert proc.returncode == 2
    assert "invalid policy pack config" in proc.stderr and "no-such-policy" in proc.stderr and "fatal" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("args,message", [
    (["--program", "tests.policy.programs"], "expected MODULE:FUNCTION"),
    (["--program", "tests.policy.programs:nope"], "has no function nope"),
    (["--program", "no.such.module:main"], "cannot import no.such.module"),
    (["--program", ONE, "--config", "stacks/Pulumi.dev.yaml"], "mutually exclusive"),
    ([], "give exactly one of --stack, --config or --program"),
])
def test_usage_errors_exit_2(args, message):
    proc = run_cli("plan", *args)
    assert proc.returncode == 2 and message in proc.stderr


def test_failing_program_exits_1():
    proc = run_cli("plan", "--program", "tests.policy.programs:failing")
    assert proc.returncode == 1 and "boom" in proc.stderr


def test_program_by_file_path():
    proc = run_cli("plan", "--program", "tests/policy/programs.py:one_mandatory_violation", "--quiet")
    assert proc.returncode == 3 and "1 mandatory, 0 advisory" in proc.stdout


def test_config_based_bad_stack_exits_3(tmp_path):
    proc = run_cli("plan", "--config", "tests/policy/configs/Pulumi.bad-aws.yaml", "--out", str(tmp_path / "o"))
    assert proc.returncode == 3, proc.stderr
    assert "[mandatory] gpu-pool-tainted: aws:eks/nodeGroup:NodeGroup use1-l4-spot" in proc.stdout
    assert "[mandatory] eks-public-endpoint-restricted: aws:eks/cluster:Cluster use1-eks" in proc.stdout
    assert json.loads((tmp_path / "o" / "plan.json").read_text())["findings"]["counts"]["mandatory"] == 4


def test_shipped_stack_plan_exits_0_with_an_empty_findings_section(tmp_path):
    proc = run_cli("plan", "--stack", "staging", "--out", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    assert "policy findings (pack gpufleet" in proc.stdout and ": 0 mandatory, " in proc.stdout
    section = json.loads((tmp_path / "s" / "plan.json").read_text())["findings"]
    assert section["counts"]["mandatory"] == 0 and section["config"] is None
