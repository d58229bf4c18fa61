"""Computed-output placeholders for the GKE GPU pools (see package docstring).

GKE node pools are auto-named by the provider (no `name` input), and the pools' ComputeClass
lists them by that name, so the name is read back.
"""

from __future__ import annotations

from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _node_pool(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Only fills `name` when the program left it to the provider (an explicit name is echoed).
    return {"name": _ph("gke-nodepool", name, "name")}


RESOURCES: dict[str, Any] = {
    "gcp:container/nodePool:NodePool": _node_pool,
}
CALLS: dict[str, Any] = {}
