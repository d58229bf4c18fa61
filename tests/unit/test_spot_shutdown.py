"""Item 8 of issue 16: burst/canary pods (they prefer spot) shut down inside what a reclaimed spot
node leaves them (AWS 110 s, GKE 15 s for ordinary pods, AKS 25 s), and the plan says what a
reclaim still cuts short. Floor pods (reserved/on-demand nodes) keep the configured drain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from components.triton.args import SPOT_MARGIN_SECONDS, PoolFacts, ServingSpec, grace_seconds, spot_shutdown
from infra import catalog

MODEL = {"name": "m", "backend": "onnxruntime", "max_batch_size": 8,
         "inputs": [{"name": "x", "data_type": "TYPE_FP32", "dims": [4]}],
         "outputs": [{"name": "y", "data_type": "TYPE_FP32", "dims": [4]}]}


def spec(**kw) -> ServingSpec:
    return ServingSpec.model_validate({"models": [MODEL], **kw})


def facts(window: int | None, spot_max: int = 4, notice: int | None = None) -> PoolFacts:
    return PoolFacts(name="l4", node_labels={"gpufleet.io/pool": "l4"}, spot_max_nodes=spot_max,
                     spot_notice_seconds=notice, spot_shutdown_seconds=window)


def test_catalog_windows_per_cloud_are_the_notice_less_the_drain_path():
    assert {c: catalog.spot_notice_seconds(c) for c in catalog.CLOUDS} == {"aws": 120, "gcp": 30, "azure": 30}
    assert {c: catalog.spot_pod_shutdown_seconds(c) for c in catalog.CLOUDS} == {"aws": 110, "gcp": 15, "azure": 25}
    for c in catalog.CLOUDS:
        assert catalog.spot_pod_shutdown_seconds(c) < catalog.spot_notice_seconds(c)


def test_defaults_fit_the_eks_window_unchanged():
    b = spot_shutdown(spec(), facts(catalog.spot_pod_shutdown_seconds("aws")))
    assert (b.drain_seconds, b.exit_timeout_seconds, b.grace_seconds, b.fitted, b.at_risk) == (15, 30, 60, False, None)
    assert b.window_seconds == 110


def test_defaults_are_fitted_to_the_gke_window_and_the_risk_is_named():
    b = spot_shutdown(spec(), facts(catalog.spot_pod_shutdown_seconds("gcp")))
    # 15 s: a third for the preStop drain, the rest but the margin for Triton's exit timeout.
    assert (b.drain_seconds, b.exit_timeout_seconds, b.grace_seconds, b.fitted) == (5, 8, 15, True)
    assert "15 s" in b.at_risk and "10 s after its shortened 5 s drain" in b.at_risk and "running 8 s" in b.at_risk


def test_a_pool_without_spot_keeps_the_configured_shutdown():
    s = spec(drain_seconds=20, exit_timeout_seconds=60)
    b = spot_shutdown(s, facts(15, spot_max=0))
    assert (b.drain_seconds, b.exit_timeout_seconds, b.grace_seconds) == (20, 60, grace_seconds(s))
    assert b.window_seconds is None and not b.fitted


def test_without_a_window_the_notice_is_used():
    assert spot_shutdown(spec(), facts(None, notice=30)).window_seconds == 30


@given(drain=st.integers(0, 300), exit_timeout=st.integers(1, 3600), window=st.integers(4, 600))
def test_burst_shutdown_always_fits_the_window(drain, exit_timeout, window):
    s = spec(drain_seconds=drain, exit_timeout_seconds=exit_timeout)
    b = spot_shutdown(s, facts(window))
    if drain + exit_timeout + SPOT_MARGIN_SECONDS <= window:
        assert (b.drain_seconds, b.exit_timeout_seconds, b.grace_seconds, b.fitted) == (drain, exit_timeout,
                                                                                         grace_seconds(s), False)
    else:
        assert b.fitted and b.at_risk and b.grace_seconds == window
        assert b.drain_seconds + b.exit_timeout_seconds + SPOT_MARGIN_SECONDS <= window
        assert b.drain_seconds <= min(drain, window // 3) and b.exit_timeout_seconds >= 1
        assert b.exit_timeout_seconds < exit_timeout or b.drain_seconds < drain
