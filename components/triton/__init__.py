"""Triton serving: typed model configs, the per-region `ServingSpec`, and the `TritonService`
component (floor + burst + optional canary Deployments, Service, PDB, HPA, ServiceMonitor).

Importing this package loads no Kubernetes or cloud SDK (config validation imports `ServingSpec`
from here); `TritonService` and the publishing helpers load `pulumi_kubernetes` on first use.
"""

from __future__ import annotations

from typing import Any

from .args import (
    DEFAULT_TRITON_IMAGE,
    AutoscalingSpec,
    CanarySpec,
    PoolFacts,
    ScheduleWindow,
    ServingPlan,
    ServingSpec,
    ShutdownBudget,
    TritonServiceArgs,
    plan_serving,
    select_pool,
    serving_issues,
    spot_shutdown,
    tracks,
)
from .model_config import TritonModel, render_repository

__all__ = [
    "TritonService", "TritonServiceArgs", "ServingSpec", "AutoscalingSpec", "ScheduleWindow", "CanarySpec",
    "PoolFacts", "ServingPlan", "TritonModel", "DEFAULT_TRITON_IMAGE", "plan_serving", "serving_issues",
    "ShutdownBudget", "spot_shutdown",
    "select_pool", "tracks", "render_repository", "render_serving_repositories", "publish_serving_repositories",
    "ModelStoreReference", "ModelStoreReferenceArgs", "serve_region",
]

_LAZY = {
    "TritonService": ".service",
    "render_serving_repositories": ".repository",
    "publish_serving_repositories": ".repository",
    "ModelStoreReference": ".consumer",
    "ModelStoreReferenceArgs": ".consumer",
    "serve_region": ".region",
}


def __getattr__(name: str) -> Any:  # PEP 562: keep pulumi_kubernetes out of plain config imports
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
