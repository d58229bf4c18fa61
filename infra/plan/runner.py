"""Run a Pulumi program in-process under the recording mocks, the way the language host would.

The program runs inside `run_in_stack` (as under `pulumi up`), so `pulumi.export` lands on the
root stack's outputs; `preview=False` so the SDK serialises real values, not unknowns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
from pulumi.runtime import settings as _settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from .mocks import RecordedInvoke, RecordedResource, RecordingMocks, RecordingMonitor

PROJECT = "gpufleet"


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    invokes: list[RecordedInvoke]
    outputs: dict[str, Any]
    secret_outputs: list[str]
    extras: dict[str, Any] = field(default_factory=dict)

    def by_type(self, typ: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name_suffix: str = "") -> RecordedResource:
        found = [r for r in self.resources if r.type == typ and r.name.endswith(name_suffix)]
        if len(found) != 1:
            raise AssertionError(f"expected one {typ} *{name_suffix}, found {[r.name for r in found]}")
        return found[0]

    def children_of(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]


def run_program(
    program: Callable[[], Any],
    *,
    stack: str = "test",
    config: dict[str, Any] | None = None,
    stack_reference_outputs: dict[str, dict[str, Any]] | None = None,
) -> ProgramRun:
    """Run `program` under fresh recording mocks and return everything it registered.

    `config` maps full keys (`gpufleet:platform`) to values; objects are JSON-encoded the way
    the Pulumi CLI hands structured config to a program.
    """
    # Code that ran asyncio.run() before us (a test client, say) leaves no current event loop.
    _ensure_event_loop()
    mocks = RecordingMocks(stack_reference_outputs)
    monitor = RecordingMonitor(mocks)
    wire_config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    set_all_config(wire_config)
    _settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    # A previous run that failed leaves its errored tasks behind; they must not leak into this one.
    _settings.SETTINGS.outputs.clear()
    # set_mocks leaves a finished root stack behind; start a real one like the language host does.
    _settings.set_root_resource(None)  # type: ignore[arg-type]

    def collected() -> ProgramRun:
        return ProgramRun(
            stack=stack,
            resources=list(monitor.recorded),
            invokes=list(mocks.invokes),
            outputs=dict(monitor.stack_outputs),
            secret_outputs=list(monitor.stack_secret_outputs),
        )

    try:
        _sync_await(run_in_stack(program))
    except BaseException as exc:
        # Let callers (tests) see what was registered before the failure.
        exc.partial_run = collected()  # type: ignore[attr-defined]
        raise
    finally:
        _settings.set_root_resource(None)  # type: ignore[arg-type]
    return collected()
