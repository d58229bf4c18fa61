"""gpufleet's Grafana dashboards (JSON model files beside this module) and their loader (pure).

- triton.json: Triton serving: throughput, failures by reason, error ratio, average latency and
  its queue/compute breakdown (Triton's latency metrics are cumulative counters), p50/p99 from
  Triton's opt-in latency summaries, the autoscaler's queue/compute ratio, pending requests,
  batch size, and the GPU utilisation/memory/power Triton reports.
- dcgm.json: GPUs through dcgm-exporter's default counters: utilisation, idle GPUs, framebuffer,
  temperature, power and energy, clocks, PCIe/NVLink traffic, XID and row-remapping errors.

Both query the Prometheus data source chosen in the `datasource` variable and only metrics that
Triton or dcgm-exporter's default counters emit (tests/unit/test_dashboards.py checks it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parent
DASHBOARD_NAMES: tuple[str, ...] = ("triton", "dcgm")


def dashboard_json(name: str) -> str:
    """The dashboard's JSON text exactly as shipped (what the ConfigMap carries)."""
    if name not in DASHBOARD_NAMES:
        raise KeyError(f"unknown dashboard {name!r}; known: {', '.join(DASHBOARD_NAMES)}")
    return (DASHBOARD_DIR / f"{name}.json").read_text(encoding="utf-8")


def load_dashboard(name: str) -> dict[str, Any]:
    return json.loads(dashboard_json(name))


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard by name, parsed."""
    return {name: load_dashboard(name) for name in DASHBOARD_NAMES}
