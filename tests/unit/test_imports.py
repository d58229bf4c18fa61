"""A one-cloud stack never loads the other clouds' SDKs; neutral modules never import them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDKS = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure": "pulumi_azure_native"}

PROBE = """
import json, sys
from infra.config import read_stack_file
from infra.plan import make_plan
raw = read_stack_file(sys.argv[1])
make_plan(raw, stack="probe")
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('pulumi_aws', 'pulumi_gcp', 'pulumi_azure_native'))})))
"""


def _loaded_sdks(stack_file: Path) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(stack_file)], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "stack_file, cloud",
    [
        (ROOT / "stacks/Pulumi.dev.yaml", "azure"),
        (ROOT / "stacks/Pulumi.staging.yaml", "aws"),
        (ROOT / "stacks/Pulumi.prod.yaml", "gcp"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_one_cloud_stack_imports_only_its_sdk(stack_file, cloud):
    assert _loaded_sdks(stack_file) == {SDKS[cloud]}


def test_importing_the_library_loads_no_cloud_sdk_and_registers_nothing():
    code = (
        "import sys, components, components.cluster, components._contracts, infra.config, infra.platform, infra.plan\n"
        "from pulumi.runtime import settings\n"
        "assert settings.get_monitor() is None\n"
        "print([m for m in sys.modules if m.startswith(('pulumi_aws','pulumi_gcp','pulumi_azure_native','pulumi_kubernetes'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_per_cloud_modules_import_a_cloud_sdk():
    offenders = []
    for path in sorted([*ROOT.glob("components/**/*.py"), *ROOT.glob("infra/**/*.py")]):
        for cloud, sdk in SDKS.items():
            if sdk in _imported_modules(path) and path.stem != cloud:
                offenders.append(f"{path.relative_to(ROOT)} imports {sdk}")
    assert offenders == []
