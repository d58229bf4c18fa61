"""Computed-output placeholders for kubernetes resources and invokes (see package docstring)."""

from __future__ import annotations

from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


RESOURCES: dict[str, Any] = {}
CALLS: dict[str, Any] = {}
