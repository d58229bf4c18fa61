"""Placeholders for provider-computed outputs under the recording mocks.

A real provider computes some outputs (ARNs, endpoints, OIDC issuers, certificate data) that
the program reads back. Under mocks they would be missing, so each cloud's table here supplies
a deterministic, obviously-fake value in the `<computed:...>` shape. Inputs are never
overridden: these only fill attributes the program did not set.
"""

from __future__ import annotations

from typing import Any, Callable

from . import aws, azure, gcp, kubernetes

ResourceFn = Callable[[str, dict[str, Any]], dict[str, Any]]
CallFn = Callable[[dict[str, Any]], dict[str, Any]]

_RESOURCES: dict[str, ResourceFn] = {}
_CALLS: dict[str, CallFn] = {}
for _mod in (aws, gcp, azure, kubernetes):
    _RESOURCES.update(_mod.RESOURCES)
    _CALLS.update(_mod.CALLS)


def placeholder(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def computed_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    fn = _RESOURCES.get(typ)
    return fn(name, inputs) if fn else {}


def computed_call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    fn = _CALLS.get(token)
    return fn(args) if fn else {}
