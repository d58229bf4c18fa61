"""The Pulumi program body: load and validate config, build the platform, export outputs."""

from __future__ import annotations

import pulumi

from .config import load_stack_config
from .platform import build_platform


def main() -> None:
    cfg = load_stack_config()  # raises ConfigError (all problems) before any resource
    for key, value in build_platform(cfg).items():
        pulumi.export(key, value)
