"""Every Python example in the README is a file under stacks/examples/ and runs under mocks."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from infra.plan.runner import run_program
from tests.support import assert_explicit_providers

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
EXAMPLES = sorted((ROOT / "stacks/examples").glob("*.py"))


def test_every_readme_python_block_is_a_shipped_example():
    sources = {p.read_text().strip() for p in EXAMPLES}
    assert BLOCKS, "README has Python examples"
    for block in BLOCKS:
        assert block.strip() in sources, f"README block is not in stacks/examples/:\n{block[:200]}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_under_mocks(example):
    run = run_program(lambda: runpy.run_path(str(example), run_name="__main__"), stack="example")
    assert run.resources, "the example registers resources"
    assert_explicit_providers(run)
    assert run.secret_outputs == ["kubeconfig"]


YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)


def test_readme_config_reference_validates():
    import yaml

    from infra.config import validate_platform

    configs = [yaml.safe_load(b) for b in YAML_BLOCKS if b.lstrip().startswith("config:")]
    assert configs
    for doc in configs:
        validate_platform(doc["config"]["gpufleet:platform"])


def test_readme_gpu_pool_example_validates_in_a_prod_gcp_region():
    import textwrap

    import yaml

    from infra.config import validate_platform

    block = next(b for b in YAML_BLOCKS if b.lstrip().startswith("gpu_pools:"))
    pools = yaml.safe_load(textwrap.dedent(block))["gpu_pools"]
    validate_platform({
        "environment": "prod", "tags": {"owner": "a", "cost-center": "b"},
        "regions": [{"name": "usc1", "cloud": "gcp", "region": "us-central1", "project_id": "gpufleet-prod",
                     "cluster": {"create": {"version": "1.33", "zones": ["us-central1-a", "us-central1-b"]}},
                     "gpu_pools": pools}],
    })


def test_readme_serving_example_validates_in_a_region():
    import textwrap

    import yaml

    from infra.config import validate_platform

    block = next(b for b in YAML_BLOCKS if b.lstrip().startswith("serving:"))
    serving = yaml.safe_load(textwrap.dedent(block))["serving"]
    validate_platform({
        "environment": "staging", "tags": {"owner": "a", "cost-center": "b"},
        "regions": [{"name": "use1", "cloud": "aws", "region": "us-east-1",
                     "cluster": {"create": {"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}},
                     "gpu_pools": [{"name": "l4", "gpu": {"model": "L4"}, "serving_min_nodes": 1}],
                     "serving": serving}],
    })
