"""Every captured Kubernetes object is valid against the upstream OpenAPI schema (strict)."""

from __future__ import annotations

import kubernetes_validate

from infra.plan.report import is_kubernetes_object, manifest

# Pinned: the cluster version the shipped stacks run. Bump together with stacks/*.yaml.
KUBERNETES_VERSION = "1.33"


def test_all_kubernetes_objects_are_strictly_schema_valid(any_plan):
    objects = [r for r in any_plan.run.resources if is_kubernetes_object(r)]
    assert objects, "every stack renders at least the serving namespace"
    failures = []
    for r in objects:
        try:
            kubernetes_validate.validate(manifest(r), KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{r.name}: {str(exc).splitlines()[0]}")
    assert failures == []


def test_the_validator_rejects_a_misspelled_field():
    # Guards against a validator that silently accepts everything.
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labelz": {}}}
    try:
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError:
        return
    raise AssertionError("strict validation accepted an unknown field")
