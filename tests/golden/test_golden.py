"""The inventory of each shipped stack matches its reviewed golden file (`make golden`)."""

from __future__ import annotations

import json

import pytest

from tests.golden.regenerate import GOLDEN, inventory, stacks


@pytest.mark.parametrize("stack", stacks())
def test_inventory_matches_golden(stack):
    path = GOLDEN / f"{stack}.json"
    assert path.exists(), f"no golden for {stack}: run `make golden` and review"
    expected = {(r["type"], r["name"]): r for r in json.loads(path.read_text())}
    actual = {(r["type"], r["name"]): json.loads(json.dumps(r)) for r in inventory(stack)}
    added = sorted(set(actual) - set(expected))
    removed = sorted(set(expected) - set(actual))
    changed = sorted(k for k in set(actual) & set(expected) if actual[k] != expected[k])
    assert (added, removed, changed) == ([], [], []), (
        f"{stack}: inventory drifted from tests/golden/{stack}.json. If intended, run `make golden` and review.\n"
        f"added={added}\nremoved={removed}\nchanged={changed}"
    )
