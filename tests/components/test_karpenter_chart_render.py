"""The Karpenter chart (aws/karpenter-provider-aws charts/karpenter at v1.14.1, vendored under
tests/data/charts/karpenter/chart) rendered by a real helm with the values gpufleet sets, and every
object it renders validated against the Kubernetes 1.33 schemas (strict). The chart at the tag still
names itself 1.13.0; the published 1.14.1 chart differs in its version strings and image digest."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from components.gpu_pool.karpenter.aws import KARPENTER_SA, controller_values
from infra.policy.scheduling import CHART_WORKLOADS
from tests.support import KUBERNETES_VERSION

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "tests/data/charts/karpenter/chart"


def helm() -> str:
    """The helm `make` installs (.venv/bin/helm) or one on PATH; missing fails, never skips."""
    local = ROOT / ".venv/bin/helm"
    found = str(local) if local.exists() else shutil.which("helm")
    if not found:
        pytest.fail("helm not found: `make .venv/bin/helm` installs it (python -m tests.tools.helm_binary .venv/bin/helm)")
    return found


def render(values: dict, tmp_path: Path) -> list[dict]:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    out = subprocess.run([helm(), "template", "karpenter", str(CHART), "--namespace", "kube-system", "--skip-crds",
                          "--kube-version", KUBERNETES_VERSION, "-f", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


VALUES = controller_values(cluster_name="gpufleet-staging-use1", queue_name="use1-karpenter-queue-1a2b3c",
                           role_arn="arn:aws:iam::111122223333:role/use1-karpenter-controller-irsa")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> list[dict]:
    return render(VALUES, tmp_path_factory.mktemp("karpenter"))


def test_every_rendered_object_is_schema_valid(rendered):
    kinds = sorted({d["kind"] for d in rendered})
    assert {"Deployment", "ServiceAccount", "Service", "PodDisruptionBudget", "ClusterRole"} <= set(kinds)
    for d in rendered:
        kubernetes_validate.validate(d, KUBERNETES_VERSION, strict=True)


def _deployment(docs: list[dict]) -> dict:
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    return dep


def test_the_controller_gets_our_settings_identity_and_placement(rendered):
    dep = _deployment(rendered)
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["replicas"] == 2
    assert pod["serviceAccountName"] == KARPENTER_SA
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "gpufleet.io/pool": "system"}
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pod["tolerations"]
    (ctr,) = [c for c in pod["containers"] if c["name"] == "controller"]
    env = {e["name"]: e.get("value") for e in ctr["env"]}
    assert env["CLUSTER_NAME"] == "gpufleet-staging-use1"
    assert env["INTERRUPTION_QUEUE"] == "use1-karpenter-queue-1a2b3c"
    assert "ReservedCapacity=true" in env["FEATURE_GATES"].split(",")
    assert ctr["resources"] == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    (sa,) = [d for d in rendered if d["kind"] == "ServiceAccount"]
    assert sa["metadata"]["name"] == KARPENTER_SA
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith("karpenter-controller-irsa")


def test_the_scheduling_check_describes_the_chart_as_it_renders(rendered):
    pod = _deployment(rendered)["spec"]["template"]["spec"]
    (workload,) = CHART_WORKLOADS["karpenter"]
    assert workload.kind == "Deployment"
    for t in workload.default_tolerations:
        assert t in pod["tolerations"]
    required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == workload.default_affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def test_the_service_matches_our_service_monitor(rendered):
    (svc,) = [d for d in rendered if d["kind"] == "Service"]
    assert svc["metadata"]["name"] == "karpenter"
    assert [p["name"] for p in svc["spec"]["ports"]] == ["http-metrics"]
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "karpenter", "app.kubernetes.io/instance": "karpenter"}


def test_a_misplaced_value_changes_nothing_it_should(tmp_path):
    # The render bites: a value under the wrong key is silently ignored by the chart, which is why
    # test_capacity_engines checks every path against values.yaml; here the queue goes missing.
    bad = json.loads(json.dumps(VALUES))
    bad["settings"]["interruptionQueueName"] = bad["settings"].pop("interruptionQueue")
    ctr = [c for c in _deployment(render(bad, tmp_path))["spec"]["template"]["spec"]["containers"]
           if c["name"] == "controller"][0]
    assert "INTERRUPTION_QUEUE" not in {e["name"] for e in ctr["env"]}
