"""`serve_region`: the one call a platform program makes per region with a `serving` block.

It picks the GPU pool, renders the model repository under `<models_dir>/<region>/` (stable/ and,
while a canary runs, canary/), publishes it to the region's store and builds the TritonService
(`<region>-triton`). A region served from a replica (DR standby) passes `store_ref` instead of
`store`: nothing is published there, replication copies the objects.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import pulumi

from .args import PoolFacts, ServingSpec, TritonServiceArgs, select_pool


def serve_region(
    region_name: str,
    spec: ServingSpec,
    *,
    target: Any,
    pools: Sequence[Any],
    environment: str,
    models_dir: str | os.PathLike[str],
    store: Any = None,
    store_ref: Any = None,
    queue_to_compute_target: float | None = None,
    monitoring: bool = True,
    base_dir: str | os.PathLike[str] | None = None,
    publish_opts: pulumi.ResourceOptions | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> Any:
    """Build serving for one region; returns the `TritonService`.

    `pools`: the region's `GpuNodePool`s in config order. `store`: the region's `ModelStore`
    (published to, then read); or `store_ref`: a `BucketRef` to read from without publishing.
    `publish_opts` go to the uploads (e.g. depends_on a replication that must exist first);
    `opts` to the TritonService (e.g. depends_on the namespace and the monitoring stack).
    """
    from .repository import publish_serving_repositories
    from .service import TritonService

    if (store is None) == (store_ref is None):
        raise ValueError("pass exactly one of store (publish and serve) or store_ref (serve only)")
    by_name = {p.plan.name: p for p in pools}
    chosen = select_pool(spec, by_name)
    if chosen not in by_name:
        raise ValueError(f"region {region_name}: serving pool {chosen!r} is not one of {sorted(by_name)}")
    name = f"{region_name}-triton"
    repositories: dict[str, Any] = {}
    if store is not None:
        repositories = publish_serving_repositories(name, spec, store, Path(models_dir) / region_name,
                                                    base_dir=base_dir, opts=publish_opts)
    extra = {} if queue_to_compute_target is None else {"queue_to_compute_target": queue_to_compute_target}
    return TritonService(
        name,
        TritonServiceArgs(spec=spec, target=target, pool=PoolFacts.from_pool(by_name[chosen]),
                          store=store.ref if store is not None else store_ref, environment=environment,
                          repositories=repositories, monitoring=monitoring, **extra),
        opts=opts,
    )
