"""Helpers shared by the model-store and DR tests, and the checks that hold on every cloud.

Stores and replications run under the recording mocks with explicit per-region providers; the
reader/standby identities are `WorkloadIdentity` values built from placeholder Outputs inside the
program (the cluster component is tested on its own).
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.plan.runner import ProgramRun, run_program
from tests.support import TAGS, assert_explicit_providers

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_REPO = ROOT / "tests/fixtures/model_repo"
PROJECT = "gpufleet-test"
SEED = "org/gpufleet/test"
# (primary, standby) per cloud; the GCP pair forms a configurable dual-region, the alternative not.
REGIONS = {"aws": ("us-east-1", "us-west-2"), "gcp": ("us-central1", "us-east1"), "azure": ("eastus", "westus")}
GCP_FAR_STANDBY = "europe-west1"
ISSUERS = {
    "aws": "https://oidc.eks.us-east-1.amazonaws.com/id/PRIMARY",
    "azure": "https://eastus.oic.prod-aks.azure.com/tenant/primary/",
}
STANDBY_ISSUERS = {
    "aws": "https://oidc.eks.us-west-2.amazonaws.com/id/STANDBY",
    "azure": "https://westus.oic.prod-aks.azure.com/tenant/standby/",
}
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/PRIMARY"
STANDBY_OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/STANDBY"
WORKLOAD_POOL = f"{PROJECT}.svc.id.goog"


def workload_identity(cloud: str, standby: bool = False):
    """A cluster identity with placeholder values (call inside a program: it creates Outputs)."""
    from components._contracts import WorkloadIdentity

    out = pulumi.Output.from_input
    if cloud == "aws":
        return WorkloadIdentity(
            kind="irsa",
            oidc_issuer_url=out((STANDBY_ISSUERS if standby else ISSUERS)["aws"]),
            oidc_provider_arn=out(STANDBY_OIDC_ARN if standby else OIDC_ARN),
        )
    if cloud == "gcp":
        return WorkloadIdentity(kind="gke", workload_pool=out(WORKLOAD_POOL))
    return WorkloadIdentity(kind="azure", oidc_issuer_url=out((STANDBY_ISSUERS if standby else ISSUERS)["azure"]))


def provider(cloud: str, label: str, region: str):
    from components._cloud import cloud_provider

    return cloud_provider(
        f"{label}-{cloud}", cloud=cloud, region=region, tags=TAGS, project_id=PROJECT if cloud == "gcp" else None
    )


def store_args(cloud: str, environment: str = "dev", config: dict[str, Any] | None = None, **over):
    from components.storage import ModelStoreArgs, ModelStoreConfig

    fields: dict[str, Any] = dict(
        cloud=cloud,
        region=REGIONS[cloud][0],
        environment=environment,
        region_name="r1",
        tags=TAGS,
        name_seed=SEED,
        project_id=PROJECT if cloud == "gcp" else None,
        config=ModelStoreConfig.model_validate(config or {}),
    )
    fields.update(over)
    return ModelStoreArgs(**fields)


def build_store(
    cloud: str, environment: str = "dev", config=None, *, reader: bool = True, on=None, reader_account=None, **over
):
    """ModelStore "r1-models" on provider `on` (default: a new r1 provider of the cloud)."""
    from components.storage import ModelStore

    if reader_account is not None:
        over["reader"] = reader_account
    args = store_args(cloud, environment, config, **over)
    p = on or provider(cloud, "r1", args.region)
    identity = workload_identity(cloud) if reader else None
    return ModelStore("r1-models", args, opts=pulumi.ResourceOptions(providers=[p]), reader_identity=identity)


def export_ref(prefix: str, ref) -> None:
    pulumi.export(f"{prefix}Uri", ref.uri)
    pulumi.export(f"{prefix}Reader", ref.reader)
    pulumi.export(f"{prefix}Annotations", ref.service_account_annotations)
    pulumi.export(f"{prefix}PodLabels", ref.pod_labels)
    pulumi.export(f"{prefix}Env", ref.env)


def run_store(
    cloud: str, environment: str = "dev", config=None, *, reader: bool = True, publish: Path | None = None, **over
) -> ProgramRun:
    """Build one ModelStore named r1-models (optionally publishing a folder under 'models')."""

    def program() -> None:
        from components.storage import publish_model_repository

        store = build_store(cloud, environment, config, reader=reader, **over)
        export_ref("store", store.ref)
        pulumi.export("bucketName", store.bucket_name)
        if publish is not None:
            repo = publish_model_repository("r1-repo", store, publish, prefix="models")
            pulumi.export("repoUri", repo.uri)
            pulumi.export("repoKeys", repo.keys)

    return run_program(program, stack=environment)


def run_dr(
    cloud: str,
    path: str,
    environment: str = "dev",
    *,
    store: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    standby_region: str | None = None,
    standby_identity: bool = True,
    **dr_over,
) -> ProgramRun:
    """A store r1-models in the primary region and ModelStoreReplication "dr" to r2."""
    from components.dr import ModelStoreReplication, ModelStoreReplicationArgs

    target = standby_region or REGIONS[cloud][1]

    def program() -> None:
        primary = provider(cloud, "r1", REGIONS[cloud][0])
        source = build_store(cloud, environment, config, on=primary, **(store or {}))
        standby = provider(cloud, "r2", target)
        fields: dict[str, Any] = dict(
            environment=environment,
            path=path,
            target_region=target,
            target_region_name="r2",
            tags=TAGS,
            name_seed=SEED,
        )
        fields.update(dr_over)
        replication = ModelStoreReplication(
            "dr",
            ModelStoreReplicationArgs(**fields),
            source,
            opts=pulumi.ResourceOptions(providers=[primary]),
            standby_provider=standby,
            standby_identity=workload_identity(cloud, standby=True) if standby_identity else None,
        )
        export_ref("replica", replication.replica_ref)
        pulumi.export("path", replication.path)
        pulumi.export("rpo", replication.rpo)

    return run_program(program, stack=environment)


# --- assertions ------------------------------------------------------------------------------------


def policy(resource, key: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[key])


def statements(resource, key: str = "policy") -> list[dict[str, Any]]:
    return policy(resource, key)["Statement"]


def actions(statement: dict[str, Any]) -> set[str]:
    a = statement["Action"]
    return {a} if isinstance(a, str) else set(a)


TAG_FIELD = {"aws": ("pulumi_aws", "tags"), "gcp": ("pulumi_gcp", "labels"), "azure": ("pulumi_azure_native", "tags")}


def cloud_of(type_token: str) -> str:
    return {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}[type_token.split(":")[0]]


def accepts_tags(type_token: str) -> bool:
    """The SDK's own *Args signature decides whether a type takes tags/labels."""
    package, field = TAG_FIELD[cloud_of(type_token)]
    module = type_token.split(":")[1].split("/")[0]
    cls = type_token.split(":")[2]
    mod = importlib.import_module(f"{package}.{module}")
    args_cls = getattr(mod, f"{cls}Args", None) or getattr(mod, f"{cls}InitArgs")
    return field in inspect.signature(args_cls.__init__).parameters


def cloud_resources(run: ProgramRun) -> list:
    return [r for r in run.resources if r.custom and not r.type.startswith(("pulumi:", "kubernetes:"))]


def assert_cost_tags(run: ProgramRun, minimum: int = 1) -> None:
    taggable = [r for r in cloud_resources(run) if accepts_tags(r.type)]
    assert len(taggable) >= minimum
    for r in taggable:
        field = TAG_FIELD[cloud_of(r.type)][1]
        tags = r.inputs.get(field) or {}
        assert {k: tags.get(k) for k in TAGS} == TAGS, f"{r.type} {r.name} lacks cost tags: {tags}"


def options(run: ProgramRun, typ: str, suffix: str = "") -> tuple[bool, bool]:
    r = run.one(typ, suffix)
    return r.options["protect"], r.options["retainOnDelete"]


# --- checks that hold on every cloud -----------------------------------------------------------


CLOUDS = ("aws", "gcp", "azure")


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_every_store_resource_has_an_explicit_provider_and_cost_tags(cloud: str, environment: str) -> None:
    config = {"azure": {"shared_key_access": True}} if cloud == "azure" else None
    run = run_store(cloud, environment, config, publish=FIXTURE_REPO)
    assert_explicit_providers(run)
    assert_cost_tags(run)
    store = run.one("gpufleet:storage:ModelStore")
    assert store.name == "r1-models"
    # Every custom resource is somewhere below the component; names carry its prefix.
    for r in cloud_resources(run):
        assert r.name.startswith(("r1-models-", "r1-repo-")), r.name
        assert r.parent.split("::")[2].split("$")[-1].startswith("gpufleet:storage:"), r.name


@pytest.mark.parametrize(
    "cloud, scheme, annotation",
    [
        ("aws", "s3://", "eks.amazonaws.com/role-arn"),
        ("gcp", "gs://", "iam.gke.io/gcp-service-account"),
        ("azure", "as://", "azure.workload.identity/client-id"),
    ],
)
def test_bucket_ref_in_triton_form(cloud: str, scheme: str, annotation: str) -> None:
    run = run_store(cloud)
    out = run.outputs
    if cloud == "azure":
        account = run.one("azure-native:storage:StorageAccount").inputs["accountName"]
        assert out["storeUri"] == f"as://{account}/models"
        assert out["storePodLabels"] == {"azure.workload.identity/use": "true"}
        assert out["storeEnv"] == {"AZURE_STORAGE_ACCOUNT": account, "AZURE_STORAGE_AUTH_TYPE": "default"}
    else:
        assert out["storeUri"] == f"{scheme}{out['bucketName']}"
        assert out["storePodLabels"] == {}
    assert out["storeReader"] and out["storeAnnotations"] == {annotation: out["storeReader"]}
    if cloud == "aws":
        assert out["storeEnv"]["AWS_DEFAULT_REGION"] == "us-east-1"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_without_reader_identity_no_reader_is_created(cloud: str) -> None:
    run = run_store(cloud, reader=False)
    assert run.outputs["storeReader"] == ""
    assert run.outputs["storeAnnotations"] == {}
    assert not [r for r in run.resources if "-reader" in r.name]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_reader_identity_must_match_the_cloud(cloud: str) -> None:
    other = {"aws": "gcp", "gcp": "azure", "azure": "aws"}[cloud]

    def program() -> None:
        from components.storage import ModelStore

        ModelStore(
            "r1-models",
            store_args(cloud),
            opts=pulumi.ResourceOptions(providers=[provider(cloud, "r1", REGIONS[cloud][0])]),
            reader_identity=workload_identity(other),
        )

    with pytest.raises(Exception, match="workload identity"):
        run_program(program)


def test_names_are_deterministic_and_distinct() -> None:
    from components.storage import store_name

    a = store_name("aws", "prod", "use1", SEED)
    assert a == store_name("aws", "prod", "use1", SEED) and a.startswith("gpufleet-prod-use1-models-")
    assert store_name("aws", "prod", "use1", "other/org") != a
    assert store_name("aws", "prod", "use1", SEED, role="replica") != a
    az = store_name("azure", "staging", "abcdefghijkl", SEED)
    assert len(az) == 24 and az.isalnum() and az.islower()


def test_importing_storage_and_dr_loads_no_cloud_sdk() -> None:
    code = (
        "import sys, components.storage, components.dr, components.storage.args, components.dr.plan\n"
        "from pulumi.runtime import settings\n"
        "assert settings.get_monitor() is None\n"
        "print([m for m in sys.modules if m.startswith(('pulumi_aws','pulumi_gcp','pulumi_azure_native'))])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]"
