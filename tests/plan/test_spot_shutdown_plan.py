"""Item 8 of issue 16 on the shipped stacks: the burst Deployment (spot-preferring) of every
serving block stops inside the pool's spot window; the floor keeps the configured drain; the
plan's serving section says which in-flight requests a reclaim still puts at risk."""

from __future__ import annotations

import pytest

from infra import catalog

from .conftest import plan_for


def shutdown_of(doc: dict, name: str) -> tuple[int, int, int]:
    (dep,) = [r for r in doc["resources"] if r["type"] == "kubernetes:apps/v1:Deployment" and r["name"] == name]
    pod = dep["inputs"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    (exit_flag,) = [a for a in c["args"] if isinstance(a, str) and a.startswith("--exit-timeout-secs=")]
    return int(c["lifecycle"]["preStop"]["exec"]["command"][-1]), int(exit_flag.split("=")[1]), int(
        pod["terminationGracePeriodSeconds"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_burst_pods_stop_inside_the_spot_window_and_floor_pods_keep_their_drain(stack):
    doc = plan_for(stack).document
    assert doc["serving"], stack
    for s in doc["serving"]:
        window = catalog.spot_pod_shutdown_seconds(s["cloud"])
        drain, exit_timeout, grace = shutdown_of(doc, f"{s['region']}-{s['service']}-burst")
        assert grace <= window and drain + exit_timeout < grace, (stack, s)
        assert (drain, exit_timeout, grace) == (s["burstShutdown"]["drainSeconds"],
                                                s["burstShutdown"]["exitTimeoutSeconds"],
                                                s["burstShutdown"]["graceSeconds"])
        f = s["floorShutdown"]
        if s["floorReplicas"]:  # dev runs no floor
            assert shutdown_of(doc, f"{s['region']}-{s['service']}-floor") == (
                f["drainSeconds"], f["exitTimeoutSeconds"], f["graceSeconds"])


def test_gke_and_aks_burst_pods_are_fitted_and_the_plan_names_the_risk_eks_fits():
    by_cloud = {}
    for stack in ("dev", "staging", "prod"):
        plan = plan_for(stack)
        for s in plan.document["serving"]:
            by_cloud[s["cloud"]] = s
            if s["burstShutdown"]["fitted"]:
                assert "AT RISK: on a reclaimed spot node burst pods have" in plan.text
    assert by_cloud["gcp"]["burstShutdown"]["fitted"] and by_cloud["gcp"]["burstShutdown"]["graceSeconds"] == 15
    assert by_cloud["azure"]["burstShutdown"]["fitted"] and by_cloud["azure"]["burstShutdown"]["graceSeconds"] == 25
    aws = by_cloud["aws"]["burstShutdown"]
    assert not aws["fitted"] and aws["atRisk"] is None and aws["spotWindowSeconds"] == 110
