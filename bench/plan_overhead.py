"""How much does gpufleet add on top of Pulumi itself when planning a stack?

Measures, side by side in one process and under the same recording mocks:
  gpufleet  the full offline plan of a stack (config validation + the real program)
  bare      a plain Pulumi program that registers the same resource types, names, parents,
            counts and input values with generic CustomResource/ComponentResource/ProviderResource
and prints the medians and their ratio (goal: <= 1.25x). Nothing is asserted: machines are noisy.

    python bench/plan_overhead.py [--stack prod] [--repeat 9]
"""

from __future__ import annotations

import argparse
import gc
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


def bare_program(recorded: list[RecordedResource]):
    """A program registering exactly the recorded resources, with no gpufleet code in the way."""

    def program() -> None:
        made: dict[str, pulumi.Resource] = {}
        for r in recorded:
            parent = made.get(r.parent)
            provider = made.get(r.provider.rsplit("::", 1)[0]) if r.provider else None
            opts = pulumi.ResourceOptions(parent=parent, provider=provider)  # type: ignore[arg-type]
            if r.type.startswith("pulumi:providers:"):
                res: pulumi.Resource = pulumi.ProviderResource(r.type.split(":")[2], r.name, dict(r.inputs), opts)
            elif r.read:
                res = pulumi.CustomResource(r.type, r.name, dict(r.inputs), pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(id=r.inputs.get("name", r.name))))
            elif r.custom:
                res = pulumi.CustomResource(r.type, r.name, dict(r.inputs), opts)
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
    assert [(r.type, r.name) for r in check.resources] == [(r.type, r.name) for r in reference.resources], \
        "bare program must register the same resources"

    ours, bare = [], []
    for _ in range(args.repeat):  # interleaved so drift hits both sides alike
        ours.append(timed(lambda: make_plan(raw, stack=args.stack)))
        bare.append(timed(lambda: run_program(program, stack=args.stack)))
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"stack {args.stack}: {len(reference.resources)} resources, {args.repeat} interleaved runs each")
    print(f"  gpufleet plan   median {m_ours * 1000:8.1f} ms  (min {min(ours) * 1000:.1f})")
    print(f"  bare program    median {m_bare * 1000:8.1f} ms  (min {min(bare) * 1000:.1f})")
    print(f"  ratio gpufleet/bare: {m_ours / m_bare:.2f}x  (goal <= 1.25x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
