"""Files the plan writes next to plan.json besides manifests: rendered model repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_artifacts(cfg: Any, out_dir: Path) -> list[Path]:
    """Render each region's Triton model repository under out_dir/models/<region>/."""
    written: list[Path] = []
    for region in cfg.regions:
        serving = getattr(region, "serving", None)
        if serving is None or not serving.models:
            continue
        from components.triton.model_config import render_repository

        written += render_repository(list(serving.models), out_dir / "models" / region.name, serving.model_source_dir)
    return written
