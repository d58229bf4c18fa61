"""Render a serving block's model repositories to local folders and publish them to the store.

`render_serving_repositories(spec, out_dir)` writes one folder per track under `out_dir`
(`stable/`, and `canary/` while a canary runs), each a complete Triton model repository: the
typed configs rendered by `model_config.render_repository` plus the artifacts copied from the
track's source folder. Each track folder is emptied first, so the output depends only on the spec
and the source files (deterministic, no stale models).

`publish_serving_repositories(name, spec, store, out_dir)` renders and uploads them with the
storage issue's `publish_model_repository`, stable under `spec.repository_prefix`, the canary
under `<prefix>-canary`. Pass the result as `TritonServiceArgs.repositories`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pulumi

from .args import ServingSpec, tracks
from .model_config import render_repository


def render_serving_repositories(spec: ServingSpec, out_dir: str | os.PathLike[str],
                                base_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Write each track's repository to `out_dir/<track>/`; return track -> folder.

    Relative `model_source_dir`s resolve against `base_dir` (default: the current directory, i.e.
    the Pulumi project). A source folder that does not exist is an error (a typo would otherwise
    publish configs without their models)."""
    out = Path(out_dir)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    result: dict[str, Path] = {}
    for name in ("stable", "canary"):
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
    for name, track in tracks(spec).items():
        source = None
        if track.source_dir is not None:
            source = Path(track.source_dir)
            source = source if source.is_absolute() else base / source
            if not source.is_dir():
                raise FileNotFoundError(f"serving {spec.name}: model_source_dir {str(source)!r} is not a folder")
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        render_repository(list(track.models), folder, source)
        result[name] = folder
    return result


def publish_serving_repositories(
    name: str,
    spec: ServingSpec,
    store: Any,
    out_dir: str | os.PathLike[str],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> dict[str, Any]:
    """Render and upload every track into `store` (a `ModelStore`, or anything with `.handle` and
    `.ref` such as `ModelStoreReference`). Returns track -> `ModelRepository` (children named
    `<name>-repo` and `<name>-canary-repo`)."""
    from components.storage.upload import publish_model_repository

    folders = render_serving_repositories(spec, out_dir, base_dir)
    by_track = tracks(spec)
    return {
        track: publish_model_repository(
            f"{name}-repo" if track == "stable" else f"{name}-{track}-repo", store, folder,
            prefix=by_track[track].prefix, opts=opts,
        )
        for track, folder in folders.items()
    }
