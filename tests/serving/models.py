"""TritonModel definitions for the serving tests and the bench, and rendering them into a
repository with the fixture model code (tests/fixtures/triton_models/<code>/1/model.py).

Configs are always rendered by `components.triton.model_config.render_repository`; nothing here
writes a config.pbtxt by hand.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from components.triton.model_config import InstanceGroup, Tensor, TritonModel, render_repository

from .harness import FIXTURE_MODELS

__all__ = ["io_tensors", "load_fixture_module", "mlp_model", "noop_model", "render"]


def io_tensors(in_dim: int, out_dim: int) -> dict[str, list[Tensor]]:
    return {
        "inputs": [Tensor(name="INPUT", data_type="TYPE_FP32", dims=[in_dim])],
        "outputs": [Tensor(name="OUTPUT", data_type="TYPE_FP32", dims=[out_dim])],
    }


def mlp_model(
    name: str = "mlp",
    *,
    in_dim: int = 256,
    hidden: int = 1024,
    layers: int = 2,
    out_dim: int = 256,
    seed: int = 0,
    delay_ms: int = 0,
    kind: str = "KIND_CPU",
    **fields,
) -> TritonModel:
    """The numpy MLP with our defaults (only the instance kind set), unless `fields` override them."""
    params = {"in_dim": in_dim, "hidden": hidden, "layers": layers, "out_dim": out_dim, "seed": seed}
    if delay_ms:
        params["delay_ms"] = delay_ms
    fields.setdefault("instance_group", InstanceGroup(kind=kind))
    return TritonModel(
        name=name, backend="python", **io_tensors(in_dim, out_dim),
        parameters={k: str(v) for k, v in params.items()}, **fields,
    )


def noop_model(name: str = "noop", *, dim: int = 256, kind: str = "KIND_CPU", **fields) -> TritonModel:
    fields.setdefault("instance_group", InstanceGroup(kind=kind))
    return TritonModel(name=name, backend="python", **io_tensors(dim, dim), **fields)


def render(models: list[tuple[str, TritonModel]], out_dir: Path | str) -> list[Path]:
    """Render `(fixture code folder, model)` pairs into `out_dir` (a model repository).

    The fixture code is staged under each model's name first, since render_repository copies
    `artifacts/<model name>/...`. Bytecode caches are never staged.
    """
    with tempfile.TemporaryDirectory(prefix="gpufleet-artifacts-") as tmp:
        artifacts = Path(tmp)
        for code, model in models:
            shutil.copytree(FIXTURE_MODELS / code, artifacts / model.name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return render_repository([m for _, m in models], out_dir, artifacts)


def load_fixture_module(code: str) -> ModuleType:
    """Import tests/fixtures/triton_models/<code>/1/model.py in-process (no bytecode written)."""
    path = FIXTURE_MODELS / code / "1" / "model.py"
    spec = importlib.util.spec_from_file_location(f"gpufleet_fixture_{code}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    old, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = old
    return module
