"""The names serving shares with the in-cluster monitoring (components.monitoring), imported from
it so both sides always agree:

- `MONITOR_SELECTOR`: labels Prometheus selects ServiceMonitors by (put on ours).
- `QUEUE_COMPUTE_METRIC`: the prometheus-adapter pods metric the HPA scales on.
- `TRITON_APP_LABEL`: the `app.kubernetes.io/name` value of Triton pods, which the adapter rule,
  the alert rules and the kube-state-metrics joins select.
- `METRICS_PORT_NAME` / `METRICS_PORT`: Triton's metrics port as the adapter and monitors expect it.
"""

from __future__ import annotations

from components.monitoring import (
    ADAPTER_METRIC,
    MONITOR_SELECTOR as _SELECTOR,
    TRITON_METRICS_PORT,
    TRITON_METRICS_PORT_NAME,
    TRITON_POD_LABEL,
)

MONITOR_SELECTOR: dict[str, str] = dict(_SELECTOR)
QUEUE_COMPUTE_METRIC: str = ADAPTER_METRIC
TRITON_APP_LABEL: str = TRITON_POD_LABEL[1]
METRICS_PORT_NAME: str = TRITON_METRICS_PORT_NAME
METRICS_PORT: int = TRITON_METRICS_PORT

__all__ = ["MONITOR_SELECTOR", "QUEUE_COMPUTE_METRIC", "TRITON_APP_LABEL", "METRICS_PORT_NAME", "METRICS_PORT"]
