"""Deep merge of computed placeholders into echoed inputs (inputs win, except `Override`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Override:
    """Replace the echoed input at this key (the provider returns another shape)."""

    value: Any


def deep_fill(dst: dict[str, Any], computed: dict[str, Any]) -> dict[str, Any]:
    for key, value in computed.items():
        if isinstance(value, Override):
            dst[key] = value.value
        elif key not in dst or dst[key] is None:
            dst[key] = _plain(value)
        elif isinstance(dst[key], dict) and isinstance(value, dict):
            deep_fill(dst[key], value)
    return dst


def _plain(value: Any) -> Any:
    if isinstance(value, Override):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
