"""Cost labels (environment, owner, cost-center) on every cloud resource that takes tags or labels,
in every shipped stack. Provider-level defaults count where the provider applies them to the
resource (AWS default_tags, GCP default_labels); azure-native has none, so tags must be explicit."""

from __future__ import annotations

import importlib
import inspect
import json

import pytest

from tests.plan.conftest import SHIPPED, plan_for

REQUIRED = ("environment", "owner", "cost-center")
PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}
# Input names that carry cost labels, by cloud package (camelCase as recorded).
TAG_INPUTS = {"aws": ("tags",), "gcp": ("labels", "resourceLabels", "userLabels"), "azure-native": ("tags",)}


# Types whose `labels` input is not a label map (a notification channel's labels are its config).
NOT_COST_LABELS = {"gcp:monitoring/notificationChannel:NotificationChannel": ("labels",)}


def sdk_class(token: str):
    pkg, module, cls = token.split(":")
    mod = importlib.import_module(f"{PACKAGES[pkg]}.{module.split('/')[0].replace('-', '_')}")
    return getattr(mod, cls)


def tag_params(token: str) -> list[str]:
    """The tag/label inputs this resource type accepts (camelCase)."""
    pkg = token.split(":")[0]
    params = inspect.signature(sdk_class(token)._internal_init).parameters
    camel = {"tags": "tags", "labels": "labels", "resource_labels": "resourceLabels", "user_labels": "userLabels"}
    skip = NOT_COST_LABELS.get(token, ())
    return [camel[p] for p in params if p in camel and camel[p] in TAG_INPUTS[pkg] and camel[p] not in skip]


def _obj(value):
    # Provider configuration travels JSON-encoded on the wire.
    return json.loads(value) if isinstance(value, str) else (value or {})


def provider_defaults(run) -> dict[str, dict[str, str]]:
    out = {}
    for r in run.resources:
        if r.type == "pulumi:providers:aws":
            out[r.urn] = _obj(r.inputs.get("defaultTags")).get("tags") or {}
        elif r.type == "pulumi:providers:gcp":
            out[r.urn] = _obj(r.inputs.get("defaultLabels"))
    return out


def untagged(run) -> tuple[int, list[str]]:
    """(taggable resources checked, the ones lacking a cost label)."""
    defaults = provider_defaults(run)
    checked, missing = 0, []
    for r in run.resources:
        pkg = r.type.split(":")[0]
        if pkg not in PACKAGES or not r.custom or r.read:
            continue
        params = tag_params(r.type)
        if not params:
            continue
        checked += 1
        inherited = defaults.get(r.provider.rsplit("::", 1)[0], {})
        for param in params:
            effective = {**inherited, **(r.inputs.get(param) or {})}
            absent = [k for k in REQUIRED if k not in effective]
            if absent:
                missing.append(f"{r.type} {r.name}.{param} lacks {absent}")
    return checked, missing


@pytest.mark.parametrize("stack", sorted(SHIPPED))
def test_every_taggable_cloud_resource_carries_cost_labels(stack):
    checked, missing = untagged(plan_for(stack).run)
    assert checked > 0
    assert missing == []


def test_the_check_catches_an_untagged_resource():
    import pulumi
    import pulumi_azure_native as azure_native

    from infra.plan.runner import run_program

    def program():
        p = azure_native.Provider("p", azure_native.ProviderArgs(location="eastus"))
        azure_native.resources.ResourceGroup("rg", opts=pulumi.ResourceOptions(provider=p))

    checked, missing = untagged(run_program(program, stack="probe"))
    assert checked == 1 and missing == ["azure-native:resources:ResourceGroup rg.tags lacks ['environment', 'owner', 'cost-center']"]
