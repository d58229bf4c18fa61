"""`python -m infra plan|schema` as a person runs it: exit codes, files written, nothing leaked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=300)


def test_plan_prod_writes_plan_json_and_manifests(tmp_path):
    out = tmp_path / "prod"
    proc = run_cli("plan", "--stack", "prod", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "gpufleet plan: stack prod" in proc.stdout
    assert "gcp:container/cluster:Cluster" in proc.stdout and "usc1-" in proc.stdout
    doc = json.loads((out / "plan.json").read_text())
    assert doc["stack"] == "prod" and doc["formatVersion"] == 1
    gke = [r for r in doc["resources"] if r["type"] == "gcp:container/cluster:Cluster"]
    assert len(gke) == 2 and all(r["options"]["protect"] for r in gke)
    assert {r["inputs"]["name"] for r in gke} == {"gpufleet-prod-usc1", "gpufleet-prod-use1"}
    manifests = sorted((out / "k8s").glob("*.yaml"))
    assert manifests and all(yaml.safe_load(m.read_text())["kind"] for m in manifests)
    # The rendered model repositories go with the plan: DIR/models/<region>/... (not build/<stack>/).
    configs = sorted((out / "models").glob("*/**/config.pbtxt"))
    assert configs and {c.relative_to(out / "models").parts[0] for c in configs} >= {"usc1"}
    # Secrets never reach the report or plan.json.
    assert doc["outputs"]["kubeconfigs"] == "[secret]"
    assert "get-token" not in (out / "plan.json").read_text().split('"outputs"')[1]


def test_plan_by_config_path(tmp_path):
    proc = run_cli("plan", "--config", str(ROOT / "tests/configs/Pulumi.aws-adopt.yaml"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("resources:")


def test_two_mistakes_in_two_regions_exit_2_and_register_nothing(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(yaml.safe_dump({"config": {"gpufleet:platform": {
        "environment": "prod",
        "tags": {"owner": "ml-platform", "cost-center": "cc-1"},
        "regions": [
            {"name": "use1", "cloud": "aws", "region": "us-east-1",
             "cluster": {"create": {"version": "1.20", "zones": ["us-east-1a", "us-east-1b"]}}},
            {"name": "euw", "cloud": "azure", "region": "westeurope", "role": "standby",
             "cluster": {"create": {"version": "1.33", "endpoint_access": "public"}}},
        ],
    }}}))
    out = tmp_path / "out"
    proc = run_cli("plan", "--config", str(bad), "--out", str(out))
    assert proc.returncode == 2
    assert "platform.regions[0].cluster.create.version: got '1.20'" in proc.stderr
    assert "platform.regions[1].cluster.create.endpoint_access: got 'public'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == "" and not out.exists()


def test_missing_stack_file_is_a_config_error():
    proc = run_cli("plan", "--stack", "nope")
    assert proc.returncode == 2 and "an existing stack file" in proc.stderr


def test_schema_command_prints_json_schema():
    proc = run_cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    assert schema["title"] == "gpufleet:platform" and "regions" in schema["properties"]
