"""The DCGM fields dcgm-exporter collects on gpufleet's GPU nodes (pure).

gpufleet mounts this list as the exporter's counters file instead of relying on whatever list
the pinned chart ships (the chart's own ConfigMap has differed from the exporter's
etc/default-counters.csv between releases, e.g. adding DCP profiling fields). It is exactly
dcgm-exporter's etc/default-counters.csv (NVIDIA/dcgm-exporter, 4.x line, unchanged from 3.3 up
to 4.8.x; 4.9.0 renames fields to DCGM 4.7 names, see charts.DCGM_EXPORTER_CHART): the
"default counters" the dashboards and alerts may use. tests/data/metrics/dcgm_default_counters.txt
keeps the same list with its source for the tests.
"""

from __future__ import annotations

# (DCGM field, Prometheus type, help) in the upstream file's order.
DCGM_COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "counter", "Total number of bytes transmitted through PCIe TX (in KB) via NVML."),
    ("DCGM_FI_DEV_PCIE_RX_THROUGHPUT", "counter", "Total number of bytes received through PCIe RX (in KB) via NVML."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "counter", "Total number of NVLink bandwidth counters for all lanes"),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU License status"),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
)

DCGM_METRIC_NAMES: tuple[str, ...] = tuple(name for name, _, _ in DCGM_COUNTERS)


def counters_csv() -> str:
    """The counters file in dcgm-exporter's CSV format (field, type, help)."""
    lines = [
        "# gpufleet: dcgm-exporter etc/default-counters.csv (managed by gpufleet; edit counters.py)",
        "# DCGM FIELD, Prometheus metric type, help message",
    ]
    lines += [f"{field}, {kind}, {help_}" for field, kind, help_ in DCGM_COUNTERS]
    return "\n".join(lines) + "\n"
