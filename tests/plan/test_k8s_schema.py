"""Every captured Kubernetes object is valid: built-in kinds against the upstream OpenAPI schema
(strict), custom resources against their published CRD schema kept as test data."""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from infra.plan.report import is_kubernetes_object, manifest
from tests.support import KUBERNETES_VERSION, validate_kubernetes_object


def test_all_kubernetes_objects_are_schema_valid(any_plan):
    objects = [r for r in any_plan.run.resources if is_kubernetes_object(r)]
    assert objects, "every stack renders at least the serving namespace"
    failures = []
    for r in objects:
        try:
            validate_kubernetes_object(manifest(r))
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError,
                jsonschema.ValidationError) as exc:
            failures.append(f"{r.name}: {str(exc).splitlines()[0]}")
    assert failures == []


def test_the_validators_reject_misspelled_fields():
    # Guards against validators that silently accept everything.
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labelz": {}}},
                                     KUBERNETES_VERSION, strict=True)
    with pytest.raises(jsonschema.ValidationError):
        validate_kubernetes_object({"apiVersion": "cloud.google.com/v1", "kind": "ComputeClass",
                                    "metadata": {"name": "x"}, "spec": {"prioritys": []}})
