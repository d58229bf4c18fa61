"""Entry point for both `pulumi up` (Pulumi.yaml `main: infra/`) and `python -m infra ...`.

Under the Pulumi language host a resource monitor is configured before this file runs, so we
run the program; otherwise this is the offline CLI (plan, schema, ...).
"""

import sys
from pathlib import Path

# The language host runs this file by path with infra/ as sys.path[0]; make the repo importable.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi.runtime import settings as _settings  # noqa: E402

if _settings.get_monitor() is not None:
    from infra.program import main as _program

    _program()
else:
    from infra.cli import main as _cli

    raise SystemExit(_cli())
