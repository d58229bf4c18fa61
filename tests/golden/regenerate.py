"""Regenerate tests/golden/<stack>.json from the shipped stacks: `make golden`.

Only run this on purpose, then review the diff: a changed name or type means Pulumi will
replace (delete + create) that resource on the next `pulumi up`.
"""

from __future__ import annotations

import json
from pathlib import Path

from infra.config import read_stack_file
from infra.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent


def inventory(stack: str) -> list[dict]:
    run = make_plan(read_stack_file(ROOT / "stacks" / f"Pulumi.{stack}.yaml"), stack=stack).run
    names = {r.urn: f"{r.type}::{r.name}" for r in run.resources}
    rows = []
    for r in run.resources:
        rows.append({
            "type": r.type,
            "name": r.name,
            "parent": names.get(r.parent, "stack"),
            "provider": r.provider.split("::")[-2] if r.provider else "",
            "protect": r.options.get("protect", False),
            "retainOnDelete": r.options.get("retainOnDelete", False),
            "inputs": r.inputs,
        })
    return sorted(rows, key=lambda x: (x["type"], x["name"]))


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def main() -> None:
    for stack in stacks():
        path = GOLDEN / f"{stack}.json"
        path.write_text(json.dumps(inventory(stack), indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
