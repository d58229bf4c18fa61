"""Entry point of the CrossGuard policy pack: `pulumi preview --policy-pack infra/policy`.

Only builds the pack. `PolicyPack(...)` starts the analyzer's gRPC server and never returns, so
nothing may import this module; the rules live in importable modules (`infra.policy.rules`,
adapters in `infra.policy.pack`) and the tests use those.
"""

import sys
from pathlib import Path

# The analyzer runs this file with infra/policy as the working directory: make the repo importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import PolicyPack  # noqa: E402

from infra.policy.pack import PACK_NAME, build_policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=build_policies())
