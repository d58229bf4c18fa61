"""The offline plan: the real program under recording mocks, for people and for tests.

`make_plan(raw_config, stack=...)` validates the config, runs `infra.program.main` exactly as
`pulumi up` would (same config key, same code path) and returns the recorded run with its
text report and plan.json document. Later issues add sections (capacity, replication,
endpoints, alerts, findings) through `SECTION_BUILDERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .report import plan_document, render_text, write_outputs
from .runner import ProgramRun, run_program

# name -> fn(run, cfg) -> JSON-able section of plan.json; renderers print a section for people.
SECTION_BUILDERS: dict[str, Callable[[ProgramRun, Any], Any]] = {}
SECTION_RENDERERS: dict[str, Callable[[Any], str]] = {}


def _capacity(run: ProgramRun, cfg: Any) -> Any:
    from infra.platform import pool_plans
    from infra.pools import capacity_row, capacity_section

    from infra.stack_cost import plan_date, platform_lines, region_footprint, whole_capacity_section

    rows, lines = [], []
    for region in cfg.regions:
        plans = pool_plans(cfg, region)
        rows += [capacity_row(plan, region.name) for plan in plans]
        gpu_nodes = (sum(p.capacity.reserved.min + p.capacity.on_demand.min + p.capacity.spot.min for p in plans),
                     sum(p.capacity.reserved.max + p.capacity.on_demand.max + p.capacity.spot.max for p in plans))
        lines += platform_lines(region_footprint(region, cfg.environment, gpu_nodes))
    # The whole stack's $/h: GPU pools plus control planes, system/general pools, NAT, load balancers.
    return whole_capacity_section(capacity_section(rows), lines, plan_date())


def _render_capacity(section: Any) -> str:
    from infra.pools import render_capacity
    from infra.stack_cost import render_platform

    if "gpuPools" not in section["total"]:
        return render_capacity(section)
    # The GPU table keeps its own totals; the whole stack's follow the platform lines.
    gpu = {**section, "total": {**section["total"], **section["total"]["gpuPools"]}}
    return render_capacity(gpu) + render_platform(section)


def _replication(run: ProgramRun, cfg: Any) -> Any:
    from components.dr.plan import replication_summary

    return replication_summary(cfg.dr, cfg.regions, cfg.environment)


def _render_replication(section: Any) -> str:
    from components.dr.plan import describe

    return describe(section) + "\n"


def _engines(run: ProgramRun, cfg: Any) -> Any:
    from infra.pools import engine_section

    return engine_section(cfg)


def _render_engines(section: Any) -> str:
    from infra.pools import render_engines

    return render_engines(section)


SECTION_BUILDERS["capacity"] = _capacity
SECTION_RENDERERS["capacity"] = _render_capacity
SECTION_BUILDERS["engines"] = _engines
SECTION_RENDERERS["engines"] = _render_engines
SECTION_BUILDERS["replication"] = _replication
SECTION_RENDERERS["replication"] = _render_replication


def _alerts(run: ProgramRun, cfg: Any) -> Any:
    from .alerts import alerts_section

    return alerts_section(run, cfg)


def _render_alerts(section: Any) -> str:
    from .alerts import render_alerts

    return render_alerts(section)


def _serving(run: ProgramRun, cfg: Any) -> Any:
    """Per serving block: replicas, and how floor and burst pods shut down against the pool's spot window."""
    from components.triton.args import PoolFacts, plan_serving, select_pool
    from infra.platform import pool_plans

    out = []
    for region in cfg.regions:
        if region.serving is None:
            continue
        plans = {p.name: p for p in pool_plans(cfg, region)}
        chosen = select_pool(region.serving, plans)
        facts = PoolFacts.from_plan(plans[chosen])
        sp = plan_serving(region.serving, facts, cfg.environment)
        out.append({
            "region": region.name, "service": region.serving.name, "pool": chosen, "cloud": region.cloud,
            "floorReplicas": sp.floor_replicas, "burstReplicas": [sp.burst_min, sp.burst_max],
            "spotNoticeSeconds": facts.spot_notice_seconds if facts.spot_max_nodes else None,
            "floorShutdown": sp.floor_shutdown.to_json(),
            "burstShutdown": sp.burst_shutdown.to_json(),
        })
    return out


def _render_serving(section: Any) -> str:
    lines = [f"serving: {len(section)} service(s)"]
    for s in section:
        f, b = s["floorShutdown"], s["burstShutdown"]
        lines.append(f"  {s['region']}/{s['service']} on pool {s['pool']}: floor {s['floorReplicas']}, burst "
                     f"{s['burstReplicas'][0]}..{s['burstReplicas'][1]}")
        lines.append(f"    shutdown floor: preStop {f['drainSeconds']} s + exit {f['exitTimeoutSeconds']} s, "
                     f"grace {f['graceSeconds']} s")
        if b.get("spotWindowSeconds") is None:
            lines.append("    shutdown burst: as the floor (the pool has no spot nodes)")
            continue
        lines.append(f"    shutdown burst: preStop {b['drainSeconds']} s + exit {b['exitTimeoutSeconds']} s, grace "
                     f"{b['graceSeconds']} s; a reclaimed spot node leaves pods {b['spotWindowSeconds']} s "
                     f"(notice {s['spotNoticeSeconds']} s): " + ("fitted to it" if b["fitted"] else "fits"))
        if b["atRisk"]:
            lines.append(f"    AT RISK: {b['atRisk']}")
    return "\n".join(lines) + "\n"


SECTION_BUILDERS["serving"] = _serving
SECTION_RENDERERS["serving"] = _render_serving
SECTION_BUILDERS["alerts"] = _alerts
SECTION_RENDERERS["alerts"] = _render_alerts


def _endpoints(run: ProgramRun, cfg: Any) -> Any:
    from components.load_balancer import failover_summary

    regions = {r.name: {"cloud": r.cloud, "exposure": r.endpoint.exposure, "tls": r.endpoint.tls is not None,
                        "sourceRanges": list(r.endpoint.source_ranges),
                        "rateLimits": r.endpoint.rate_limits.model_dump()}
               for r in cfg.regions if r.endpoint is not None}
    return {"regions": regions,
            "failover": failover_summary(cfg.failover, cfg.regions) if cfg.failover is not None else None}


def _render_endpoints(section: Any) -> str:
    from components.load_balancer import failover_line

    lines = [f"endpoints: {len(section['regions'])} region(s)"]
    for name, ep in section["regions"].items():
        lines.append(f"  {name}: {ep['exposure']}, tls {'on' if ep['tls'] else 'off'}, "
                     f"source ranges {ep['sourceRanges'] or 'any'}")
    if section["failover"]:
        lines.append(f"  failover: {failover_line(section['failover'])}")
    return "\n".join(lines) + "\n"


SECTION_BUILDERS["endpoints"] = _endpoints
SECTION_RENDERERS["endpoints"] = _render_endpoints
from . import findings as _findings  # noqa: E402,F401  (registers the "findings" section: policy pack results)


@dataclass
class Plan:
    run: ProgramRun
    document: dict[str, Any]
    text: str
    config: Any = None  # the validated PlatformConfig

    def write(self, out_dir: Path) -> list[Path]:
        return write_outputs(self.run, Path(out_dir), self.document)


# Section builders slow enough to get their own step on the progress line.
SLOW_SECTIONS = {"findings": "running the policy pack"}


def make_plan(raw_config: Any, *, stack: str, models_dir: str | Path | None = None, progress: Any = None) -> Plan:
    """`progress`: an `infra.plan.progress.Progress` to report the slow steps on (default: silent)."""
    from infra.config import CONFIG_KEY, validate_platform
    from infra.program import main as program

    from .progress import NO_PROGRESS

    progress = progress or NO_PROGRESS
    cfg = validate_platform(raw_config)
    config: dict[str, Any] = {CONFIG_KEY: raw_config}
    if models_dir is not None:
        # The program renders model repositories here before publishing them.
        config["gpufleet:modelsDir"] = str(models_dir)
    with progress.step("running the program under mocks"):
        run = run_program(program, stack=stack, config=config)
    sections = {}
    for name, build in SECTION_BUILDERS.items():
        with progress.step(SLOW_SECTIONS.get(name, f"plan section {name}")):
            sections[name] = build(run, cfg)
    document = plan_document(run, config=raw_config, sections=sections)
    title = f"gpufleet plan: stack {stack} ({cfg.environment}; clouds: {', '.join(cfg.clouds)})"
    text = render_text(run, title=title)
    for name, render in SECTION_RENDERERS.items():
        extra = render(sections[name])
        if extra:
            text += "\n" + extra
    return Plan(run=run, document=document, text=text, config=cfg)
