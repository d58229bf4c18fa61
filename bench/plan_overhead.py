"""How much does gpufleet add on top of Pulumi itself when planning a stack?

Measures, side by side in one process and under the same recording mocks:
  gpufleet  the full offline plan of a stack (config validation + the real program)
  bare      a plain Pulumi program that constructs the same provider SDK classes (pulumi_gcp.
            container.Cluster, ...) with the same names, parents, providers and recorded input
            values, in one flat loop: no config model, no components' logic, no applies
and prints the medians and their ratio (goal: <= 1.25x). Nothing is asserted: machines are noisy.

    python bench/plan_overhead.py [--stack prod] [--repeat 9]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402

from infra.config import read_stack_file  # noqa: E402
from infra.plan import make_plan  # noqa: E402
from infra.plan.mocks import RecordedResource  # noqa: E402
from infra.plan.runner import run_program  # noqa: E402


def sdk_class(token: str):
    """The SDK class for a type token: gcp:container/cluster:Cluster -> pulumi_gcp.container.Cluster."""
    if token.startswith("pulumi:providers:"):
        pkg = token.split(":")[2]
        return getattr(importlib.import_module(PACKAGES[pkg]), "Provider")
    pkg, module, cls = token.split(":")
    if pkg == "kubernetes" and module == "helm.sh/v3":
        return importlib.import_module("pulumi_kubernetes.helm.v3").Release
    if pkg == "kubernetes":
        group, version = module.split("/")
        try:  # built-in API groups: scheduling.k8s.io/v1 -> pulumi_kubernetes.scheduling.v1
            return getattr(importlib.import_module(f"pulumi_kubernetes.{group.split('.')[0]}.{version}"), cls)
        except (ImportError, AttributeError):
            return importlib.import_module("pulumi_kubernetes.apiextensions").CustomResource  # a CRD kind
    module = module.split("/")[0]
    mod = importlib.import_module(f"{PACKAGES[pkg]}.{module.replace('-', '_')}")
    return getattr(mod, cls)


PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native",
            "kubernetes": "pulumi_kubernetes"}


def _kwargs(cls, inputs: dict) -> dict:
    """Map recorded camelCase inputs onto the class's snake_case keyword arguments."""
    if cls.__name__ == "CustomResource":
        rest = {k: v for k, v in inputs.items() if k not in ("apiVersion", "kind", "metadata")}
        return {"api_version": inputs["apiVersion"], "kind": inputs["kind"], "metadata": inputs.get("metadata"), **rest}
    params = inspect.signature(cls._internal_init).parameters
    by_camel = {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), p.rstrip("_")): p for p in params}
    by_camel.update({p.replace("_", "").lower(): p for p in params})
    out = {}
    for key, value in inputs.items():
        param = by_camel.get(key) or by_camel.get(key.lower())
        if param and value != "[secret]":
            out[param] = value
    return out


def bare_program(recorded: list[RecordedResource]):
    """A program constructing exactly the recorded resources, with no gpufleet code in the way."""
    classes = {r.type: sdk_class(r.type) for r in recorded if r.custom and not r.read}
    prepared = [(r, classes.get(r.type), _kwargs(classes[r.type], r.inputs) if r.type in classes else {})
                for r in recorded]

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r, cls, kwargs in prepared:
            parent = made.get(r.parent)
            provider = made.get(r.provider.rsplit("::", 1)[0]) if r.provider else None
            opts = pulumi.ResourceOptions(parent=parent, provider=provider)  # type: ignore[arg-type]
            if r.read:
                res: pulumi.Resource = pulumi.StackReference(r.name, r.inputs.get("name"), opts=opts)
            elif cls is not None:
                res = cls(r.name, opts=opts, **kwargs)
            else:
                res = pulumi.ComponentResource(r.type, r.name, None, opts)
                res.register_outputs({})
            made[r.urn] = res

    return program


def timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stack", default="prod")
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    raw = read_stack_file(ROOT / "stacks" / f"Pulumi.{args.stack}.yaml")

    reference = make_plan(raw, stack=args.stack).run  # warm imports and caches for both sides
    program = bare_program(reference.resources)
    check = run_program(program, stack=args.stack)
    assert sorted((r.type, r.name) for r in check.resources) == sorted((r.type, r.name) for r in reference.resources), \
        "bare program must register the same resources"

    ref_inputs = {(r.type, r.name): r.inputs for r in reference.resources}
    same = sum(1 for r in check.resources if ref_inputs.get((r.type, r.name)) == r.inputs)

    ours, bare = [], []
    for _ in range(args.repeat):  # interleaved so drift hits both sides alike
        ours.append(timed(lambda: make_plan(raw, stack=args.stack)))
        bare.append(timed(lambda: run_program(program, stack=args.stack)))
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"stack {args.stack}: {len(reference.resources)} resources, {args.repeat} interleaved runs each; "
          f"bare program sent identical inputs for {same}/{len(reference.resources)}")
    print(f"  gpufleet plan   median {m_ours * 1000:8.1f} ms  (min {min(ours) * 1000:.1f})")
    print(f"  bare program    median {m_bare * 1000:8.1f} ms  (min {min(bare) * 1000:.1f})")
    print(f"  ratio gpufleet/bare: {m_ours / m_bare:.2f}x  (goal <= 1.25x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
