"""Pulumi.yaml, pyproject and CI entry say what the foundation promises."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_pulumi_yaml():
    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert doc["name"] == "gpufleet"
    assert doc["runtime"]["name"] == "python" and doc["runtime"]["options"]["virtualenv"] == ".venv"
    assert doc["main"] == "infra/" and (ROOT / "infra/__main__.py").exists()
    assert doc["stackConfigDir"] == "stacks"
    assert doc["config"]["pulumi:disable-default-providers"] == ["*"]


def test_pyproject_dependencies_and_packages():
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = " ".join(doc["project"]["dependencies"])
    for name in ("pulumi>=", "pulumi-aws>=7", "pulumi-gcp", "pulumi-azure-native>=3", "pulumi-kubernetes>=4",
                 "pulumi-policy", "pydantic>=2"):
        assert name in deps, name
    assert "test" in doc["project"]["optional-dependencies"]
    assert doc["project"]["name"] == "gpufleet"
    assert set(doc["tool"]["setuptools"]["packages"]["find"]["include"]) == {"components*", "infra*"}


def test_ci_runs_make_test():
    text = (ROOT / ".ci/run").read_text()
    assert "make test" in text
    readme = (ROOT / "README.md").read_text()
    assert "make plan" in readme and "make test" in readme and "pulumi up" in readme
