"""gpufleet's policy pack: rules as plain functions, run by CrossGuard and by the offline plan.

- `infra.policy.model`: Resource, Rule, Violation, UNKNOWN and property helpers (no SDK imports).
- `infra.policy.rules`: the rules, one module per area; `all_rules()`.
- `infra.policy.engine`: the in-process runner (policy pack config, evaluation, findings).
- `infra.policy.pack`: `build_policies()`, the CrossGuard adapters `__main__.py` hands to PolicyPack.

Importing this package imports nothing heavy (and never `__main__`, which starts a gRPC server).
"""
