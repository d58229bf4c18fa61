"""`python -m infra ...`: the offline tools.

  plan   --stack ENV | --config FILE  [--out DIR] [--quiet]
         Run the real program under recording mocks (no CLI, no credentials, no network) and
         print the inventory; --out writes plan.json and Kubernetes manifests.
  schema Print the JSON Schema of `gpufleet:platform`.

Exit codes: 0 ok, 2 invalid config (or usage).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_CONFIG = 2

REPO_ROOT = Path(__file__).resolve().parent.parent
STACKS_DIR = REPO_ROOT / "stacks"


def stack_file(stack: str) -> Path:
    return STACKS_DIR / f"Pulumi.{stack}.yaml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m infra", description="gpufleet offline tools")
    sub = p.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="offline plan of a stack under recording mocks")
    src = plan.add_mutually_exclusive_group(required=True)
    src.add_argument("--stack", help="stack name; reads stacks/Pulumi.<stack>.yaml")
    src.add_argument("--config", type=Path, help="path to a Pulumi.<stack>.yaml file")
    plan.add_argument("--out", type=Path, help="write plan.json and k8s/*.yaml here")
    plan.add_argument("--quiet", action="store_true", help="print only the summary line")
    sub.add_parser("schema", help="print the JSON Schema of gpufleet:platform")
    return p


def cmd_schema() -> int:
    from .config import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from .config import ConfigError, load_stack_file, read_stack_file
    from .plan import make_plan

    path = args.config if args.config else stack_file(args.stack)
    stack = args.stack or _stack_name_from(path)
    try:
        load_stack_file(path)  # validate fully before anything is registered
        raw = read_stack_file(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    plan = make_plan(raw, stack=stack, models_dir=args.out / "models" if args.out else None)
    if args.quiet:
        print(plan.text.splitlines()[1])
    else:
        print(plan.text, end="")
    if args.out:
        written = plan.write(args.out)
        print(f"wrote {written[0]} and {len(written) - 1} Kubernetes manifest(s) under {args.out / 'k8s'}")
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
    return cmd_plan(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
