"""Policy findings in the offline plan: the policy pack's rules over the recorded resources.

Registers the `findings` section of plan.json (and its text rendering, grouped by severity).
The rules are the same functions `pulumi preview --policy-pack infra/policy` runs; the policy
pack config (same JSON as `--policy-pack-config`) is set for a plan with `policy_config(...)`.

Section shape:
  {"pack": "gpufleet", "policies": 59, "disabled": [...], "config": "path or null",
   "counts": {"mandatory": 0, "advisory": 0}, "bySeverity": {"critical": 0, ...},
   "violations": [{"policy", "level", "severity", "message", "urn", "type", "name", "ids", "description"}]}
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import SECTION_BUILDERS, SECTION_RENDERERS
from .runner import ProgramRun

_ACTIVE: dict[str, Any] = {"settings": None, "source": None}


@contextmanager
def policy_config(settings: Mapping[str, Any] | None, source: str | Path | None = None) -> Iterator[None]:
    """Use `settings` (from `infra.policy.engine.parse_pack_config`/`load_pack_config`) for plans made
    inside the block; None = every policy at its default level."""
    saved = dict(_ACTIVE)
    _ACTIVE.update(settings=settings, source=str(source) if source is not None else None)
    try:
        yield
    finally:
        _ACTIVE.update(saved)


def findings_for(run: ProgramRun, settings: Mapping[str, Any] | None = None,
                 source: str | None = None) -> dict[str, Any]:
    from infra.policy.engine import evaluate, findings_document, from_recorded, parse_pack_config

    settings = settings if settings is not None else parse_pack_config({})
    findings = evaluate(from_recorded(run.resources), settings)
    return findings_document(findings, settings, config_source=source)


def _findings(run: ProgramRun, cfg: Any) -> dict[str, Any]:
    return findings_for(run, _ACTIVE["settings"], _ACTIVE["source"])


def render(section: Any) -> str:
    from infra.policy.engine import render_findings

    return render_findings(section)


def mandatory_count(document: Mapping[str, Any]) -> int:
    return int(((document.get("findings") or {}).get("counts") or {}).get("mandatory", 0))


SECTION_BUILDERS["findings"] = _findings
SECTION_RENDERERS["findings"] = render
