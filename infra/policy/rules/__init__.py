"""The gpufleet policies, one module per area. Importing this package registers every rule in
`infra.policy.model.RULES` (in area order); `all_rules()` returns them."""

from __future__ import annotations

from ..model import RULES, Rule
from . import storage, clusters, nodes, kubernetes, network, gpu, scheduling  # noqa: F401  (registration)

AREAS = ("storage", "clusters", "node-pools", "kubernetes", "network-iam", "gpu-platform")


def all_rules() -> list[Rule]:
    return sorted(RULES, key=lambda r: (AREAS.index(r.area), r.name))


def rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(name)
