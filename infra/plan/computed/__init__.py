"""Placeholders for provider-computed outputs under the recording mocks.

A real provider computes some outputs (ARNs, endpoints, OIDC issuers, certificate data) that
the program reads back. Under mocks they would be missing, so each cloud's table here supplies
a deterministic, obviously-fake value in the `<computed:...>` shape. Inputs are never
overridden: these only fill attributes the program did not set, recursing into objects the
program set partly (AKS `oidcIssuerProfile.enabled` set, `issuerURL` computed). Where the provider
reshapes an input (an input list that comes back as a map), the table returns `Override(value)`.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
from typing import Any, Callable

from ._merge import Override, deep_fill

ResourceFn = Callable[[str, dict[str, Any]], dict[str, Any]]
CallFn = Callable[[dict[str, Any]], dict[str, Any]]

# Every public module of this package contributes a RESOURCES and a CALLS table (one module per
# cloud or component, so parallel work never edits the same table). Duplicated tokens are a bug.
_RESOURCES: dict[str, ResourceFn] = {}
_CALLS: dict[str, CallFn] = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _mod = importlib.import_module(f"{__name__}.{_info.name}")
    for _table, _into in ((_mod.RESOURCES, _RESOURCES), (_mod.CALLS, _CALLS)):
        _dupes = set(_table) & set(_into)
        if _dupes:
            raise RuntimeError(f"computed placeholders defined twice: {sorted(_dupes)} (in {_info.name})")
        _into.update(_table)


def placeholder(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def computed_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    fn = _RESOURCES.get(typ)
    return fn(name, inputs) if fn else {}


def resource_outputs(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs echoed as outputs (deep copy), completed with the computed placeholders."""
    outputs = copy.deepcopy(dict(inputs))
    deep_fill(outputs, computed_outputs(typ, name, inputs))
    return outputs


def computed_call(token: str, args: dict[str, Any]) -> dict[str, Any]:
    fn = _CALLS.get(token)
    return fn(args) if fn else {}


# Outputs a cluster adopted through a StackReference reads (see ClusterAdopt.stack_reference).
STACK_REFERENCE_KEYS = ("clusterName", "kubeconfig", "endpoint", "oidcIssuerUrl", "oidcProviderArn", "workloadPool")


def stack_reference_outputs(stack: str) -> dict[str, Any]:
    """Offline stand-ins for another stack's outputs: the plan has no backend to read them from."""
    outs = {key: placeholder("stackref", stack, key) for key in STACK_REFERENCE_KEYS}
    outs["endpoint"] = "https://" + outs["endpoint"]
    outs["oidcIssuerUrl"] = "https://" + outs["oidcIssuerUrl"]
    return outs
