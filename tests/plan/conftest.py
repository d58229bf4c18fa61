from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from infra.config import read_stack_file
from infra.plan import Plan, make_plan

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {p.name[len("Pulumi."):-len(".yaml")]: p for p in sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))}
TEST_CONFIGS = {p.name[len("Pulumi."):-len(".yaml")]: p for p in sorted((ROOT / "tests/configs").glob("Pulumi.*.yaml"))}
ALL = {**SHIPPED, **TEST_CONFIGS}


@lru_cache(maxsize=None)
def plan_for(stack: str) -> Plan:
    return make_plan(read_stack_file(ALL[stack]), stack=stack)


@pytest.fixture(params=sorted(ALL))
def any_plan(request) -> Plan:
    return plan_for(request.param)


@pytest.fixture(params=sorted(SHIPPED))
def shipped_plan(request) -> Plan:
    return plan_for(request.param)
