"""`python -m infra ...`: the offline tools.

  plan   --stack ENV | --config FILE | --program MODULE:FUNCTION [--stack NAME]
         [--policy-config FILE] [--out DIR] [--compare OLD_PLAN.json] [--quiet]
         Run the real program (or any Pulumi program function) under recording mocks (no CLI, no
         credentials, no network), print the inventory and the policy pack's findings grouped by
         severity; --out writes plan.json (findings under `findings`), Kubernetes manifests and
         report.html (topology, cost, alerts, findings; self-contained). --compare prints what
         changes against an earlier plan.json (and writes diff.json, diff.md with --out).
         --policy-config takes the JSON of `pulumi preview --policy-pack-config`. A progress line
         shows on a terminal (stderr) unless --quiet.
  policy list [--policy-config FILE] [--json]
         Every policy of the pack with its enforcement level, severity and mapped scanner IDs.
  schema Print the JSON Schema of `gpufleet:platform`.

Exit codes: 0 ok, 2 invalid config (stack config, policy config or usage), 3 a mandatory policy
is violated (plan.json is still written), 1 the program itself failed (--program).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

EXIT_OK = 0
EXIT_PROGRAM = 1
EXIT_CONFIG = 2
EXIT_POLICY = 3

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"


def stack_file(stack: str) -> Path:
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra", description="gpufleet offline tools")
    sub = p.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="offline plan of a stack under recording mocks, with policy findings")
    plan.add_argument("--stack", help="stack name; reads stacks/Pulumi.<stack>.yaml (with --program: only the "
                      "stack name the program runs as, default dev)")
    plan.add_argument("--config", type=Path, help="path to a Pulumi.<stack>.yaml file")
    plan.add_argument("--program", metavar="MODULE:FUNCTION",
                      help="run this Pulumi program function (module path or file.py) instead of the platform")
    plan.add_argument("--policy-config", type=Path, metavar="FILE",
                      help="policy pack config, the JSON `pulumi preview --policy-pack-config` takes")
    plan.add_argument("--out", type=Path, help="write plan.json and k8s/*.yaml here")
    plan.add_argument("--compare", type=Path, metavar="OLD_PLAN.json",
                      help="show what changes against an earlier plan.json: resources added, removed, replaced, "
                           "changed inputs (secrets masked), cost delta, new and fixed findings")
    plan.add_argument("--quiet", action="store_true",
                      help="print only the summary and findings lines (and the compare summary); no progress line")
    pol = sub.add_parser("policy", help="the policy pack (infra/policy)")
    pol_sub = pol.add_subparsers(dest="policy_command", required=True)
    lst = pol_sub.add_parser("list", help="every policy with its level, severity and mapped IDs")
    lst.add_argument("--policy-config", type=Path, metavar="FILE", help="show levels under this policy pack config")
    lst.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("schema", help="print the JSON Schema of gpufleet:platform")
    return p


def cmd_schema() -> int:
    from .config import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


def _policy_settings(path: Path | None) -> tuple[Any, int]:
    """(settings or None, exit code) for --policy-config."""
    if path is None:
        return None, EXIT_OK
    from .policy.engine import PolicyConfigError, load_pack_config

    try:
        return load_pack_config(path), EXIT_OK
    except PolicyConfigError as exc:
        print(f"invalid policy pack config {path}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None, EXIT_CONFIG


def _load_program(spec: str) -> Callable[[], Any]:
    """MODULE:FUNCTION (dotted module, or a .py file path) -> the function."""
    module_name, sep, func_name = spec.rpartition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(f"--program {spec!r}: expected MODULE:FUNCTION")
    if module_name.endswith(".py") or "/" in module_name:
        path = Path(module_name).resolve()
        if not path.is_file():
            raise ValueError(f"--program {spec!r}: no file {path}")
        loaded = importlib.util.spec_from_file_location(path.stem, path)
        assert loaded is not None and loaded.loader is not None
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
    else:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"--program {spec!r}: cannot import {module_name}: {exc}") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"--program {spec!r}: {module_name} has no function {func_name}")
    return func


def _load_old_plan(args: argparse.Namespace) -> tuple[Any, int]:
    """(old plan.json or None, exit code) for --compare, read before the slow part starts."""
    if args.compare is None:
        return None, EXIT_OK
    from .plan.diff import PlanFileError, load_plan

    try:
        return load_plan(args.compare), EXIT_OK
    except PlanFileError as exc:
        print(str(exc), file=sys.stderr)
        return None, EXIT_CONFIG


def _finish(text: str, document: dict[str, Any], run: Any, args: argparse.Namespace) -> int:
    from .plan.findings import mandatory_count
    from .plan.report import write_outputs

    # Everything slow happens before the report is printed, so the progress line (stderr) never
    # interleaves with it on a terminal.
    progress = args.progress
    diff = None
    if args.old_plan is not None:
        from .plan.diff import compare_plans, render_text, summary_line

        with progress.step(f"comparing with {args.compare}"):
            diff = compare_plans(args.old_plan, document, old_label=str(args.compare))
    report = warnings = None
    if args.out:
        from .plan.html_report import write_report

        with progress.step("writing plan.json and manifests"):
            written = args.plan.write(args.out) if getattr(args, "plan", None) else write_outputs(run, args.out, document)
            if getattr(args, "plan", None):
                _copy_models(args.plan, args.out)
        with progress.step("rendering report.html (graphviz)"):
            report, warnings = write_report(args.out, document, diff)
    progress.close()
    if args.quiet:
        lines = text.splitlines()
        print(lines[1])
        print(next((line for line in lines if line.startswith("policy findings")), ""))
        if diff is not None:
            print(summary_line(diff))
    else:
        print(text, end="")
        if diff is not None:
            print("\n" + render_text(diff), end="")
    if args.out:
        print(f"wrote {written[0]} and {len(written) - 1} Kubernetes manifest(s) under {args.out / 'k8s'}")
        print(f"wrote {report}" + (f" and {args.out / 'diff.md'}" if diff is not None else ""))
        for warning in warnings or []:
            print(f"warning: {warning}", file=sys.stderr)
    mandatory = mandatory_count(document)
    if mandatory:
        print(f"{mandatory} mandatory policy violation(s): exit {EXIT_POLICY}", file=sys.stderr)
        return EXIT_POLICY
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    if args.program is not None:
        if args.config is not None:
            print("--program and --config are mutually exclusive", file=sys.stderr)
            return EXIT_CONFIG
        return cmd_plan_program(args)
    if (args.stack is None) == (args.config is None):
        print("plan: give exactly one of --stack, --config or --program", file=sys.stderr)
        return EXIT_CONFIG
    from .config import ConfigError, load_stack_file, read_stack_file
    from .plan import make_plan
    from .plan.findings import policy_config

    settings, code = _policy_settings(args.policy_config)
    if code:
        return code
    args.old_plan, code = _load_old_plan(args)
    if code:
        return code
    path = args.config if args.config else stack_file(args.stack)
    stack = args.stack or _stack_name_from(path)
    try:
        load_stack_file(path)  # validate fully before anything is registered
        raw = read_stack_file(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    with policy_config(settings, args.policy_config):
        plan = make_plan(raw, stack=stack, progress=args.progress)
    args.plan = plan
    return _finish(plan.text, plan.document, plan.run, args)


def _copy_models(plan, out: Path) -> list[Path]:
    """The model repositories the program rendered for this stack, under DIR/models/<region>/.

    The program renders them where `pulumi up` would (build/<stack>/models, which is also what
    plan.json's asset paths name, so plans written to different folders compare equal); the plan's
    folder gets a copy of each serving region's repository (not of stale folders of other runs)."""
    import shutil

    # Where the program rendered them: infra.platform.models_dir()'s default, relative to the
    # working directory as there.
    src = Path("build") / plan.run.stack / "models"
    copied = []
    for region in plan.config.regions:
        if region.serving is not None and (src / region.name).is_dir():
            dest = out / "models" / region.name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(src / region.name, dest)
            copied.append(dest)
    return copied


def cmd_plan_program(args: argparse.Namespace) -> int:
    from .plan.findings import findings_for, render
    from .plan.report import plan_document, render_text
    from .plan.runner import run_program

    settings, code = _policy_settings(args.policy_config)
    if code:
        return code
    args.old_plan, code = _load_old_plan(args)
    if code:
        return code
    try:
        program = _load_program(args.program)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    stack = args.stack or "dev"
    try:
        with args.progress.step(f"running {args.program} under mocks"):
            run = run_program(program, stack=stack)
    except Exception:  # noqa: BLE001 - report the program's own failure, like `pulumi preview` would
        args.progress.close()
        print(f"program {args.program} failed:", file=sys.stderr)
        traceback.print_exc()
        return EXIT_PROGRAM
    with args.progress.step("running the policy pack"):
        section = findings_for(run, settings, str(args.policy_config) if args.policy_config else None)
    document = plan_document(run, config=None, sections={"findings": section})
    document["program"] = args.program
    text = render_text(run, title=f"gpufleet plan: program {args.program} (stack {stack})")
    text += "\n" + render(section)
    args.plan = None
    return _finish(text, document, run, args)


def cmd_policy_list(args: argparse.Namespace) -> int:
    from .policy.engine import parse_pack_config
    from .policy.rules import all_rules

    settings, code = _policy_settings(args.policy_config)
    if code:
        return code
    rules = all_rules()
    settings = settings or parse_pack_config({}, rules)
    rows = [{
        "name": r.name, "area": r.area, "kind": r.kind, "level": settings[r.name].level, "default": r.enforcement,
        "severity": r.severity, "ids": list(r.ids), "note": r.note, "config": settings[r.name].properties,
        "description": r.description,
    } for r in rules]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(r["name"]) for r in rows)
    print(f"gpufleet policy pack: {len(rows)} policies "
          f"({sum(r['level'] == 'mandatory' for r in rows)} mandatory, "
          f"{sum(r['level'] == 'advisory' for r in rows)} advisory, "
          f"{sum(r['level'] == 'disabled' for r in rows)} disabled)")
    area = None
    for r in rows:
        if r["area"] != area:
            area = r["area"]
            print(f"\n{area}")
        ids = ", ".join(r["ids"]) or ("(none mapped)" if r["note"] else "(gpufleet)")
        print(f"  {r['name']:<{width}}  {r['level']:<9}  {r['severity']:<8}  {r['kind']:<8}  {ids}")
    return EXIT_OK


def _stack_name_from(path: Path) -> str:
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name[len("Pulumi."):].rsplit(".", 1)[0]
    return path.stem


def main(argv: list[str] | None = None) -> int:
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `python -m infra plan ... | head` exits quietly
    args = _parser().parse_args(argv)
    if args.command == "schema":
        return cmd_schema()
    if args.command == "policy":
        return cmd_policy_list(args)
    from .plan.progress import Progress

    args.progress = Progress.for_stream(sys.stderr, quiet=args.quiet)
    try:
        return cmd_plan(args)
    finally:
        args.progress.close()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
