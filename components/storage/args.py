"""Cloud-neutral model-store settings and the `ModelStore` component args.

Pure: no Pulumi or cloud SDK import. `ModelStoreConfig` is the per-region config block a stack
writes; `ModelStoreArgs` adds what the platform knows (cloud, region, names, project). Cross-field
rules that need the cloud or the environment live in `storage_issues`, so a config loader can
report them together with field errors, each with its path.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .._contracts import Cloud
from .._model import Args
from .keys import AZURE_VAULT_ID, azure_key_parts, key_reference_problem, log_target_problem
from .locations import gcs_dual_region
from .naming import store_name

Issue = tuple[str, object, str]

SERVING_NAMESPACE = "gpufleet-serving"
TRITON_SERVICE_ACCOUNT = "triton"


class StoreEncryption(Args):
    """Encryption at rest: the cloud's own key (provider-managed) or a customer-managed key."""

    customer_managed_key: bool | None = Field(
        None,
        description="Encrypt with a customer-managed key (AWS KMS, Cloud KMS, Key Vault) instead of the "
        "provider-managed one. Default: true in prod, false elsewhere. When true and kms_key is unset, "
        "a key with yearly (AWS) / 90-day (GCP) / yearly (Azure) rotation is created next to the store.",
    )
    kms_key: str | None = Field(
        None,
        description="Use this existing key instead of creating one (implies customer_managed_key). AWS: key "
        "ARN; GCP: projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k> (in the bucket's location); "
        "Azure: https://<vault>.vault.azure.net/keys/<name>[/<version>]. Default: none.",
    )
    azure_key_vault_id: str | None = Field(
        None,
        description="Azure only, required with kms_key: resource id of the vault holding it, so the "
        "store's identity can be granted Key Vault Crypto Service Encryption User there (a key URL "
        "does not identify the vault's subscription and resource group). Default: none.",
    )

    def customer_managed(self, environment: str) -> bool:
        if self.kms_key is not None:
            return True
        if self.customer_managed_key is not None:
            return self.customer_managed_key
        return environment == "prod"


class AccessLogging(Args):
    """Server access logs of the store, delivered to a destination the caller owns."""

    target: str = Field(
        ...,
        min_length=1,
        description="AWS: S3 bucket name; GCP: GCS bucket name; Azure: resource id of a storage account "
        "or Log Analytics workspace (blob read/write/delete diagnostic logs). Required.",
    )
    prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9!_.*'()/-]*$",
        description="Object prefix for the log files (AWS/GCP). Default: '<bucket name>/'.",
    )


class AzureStoreOptions(Args):
    """Azure-only store settings."""

    redundancy: Literal["LRS", "ZRS"] = Field(
        "ZRS",
        description="In-region redundancy of the storage account; default ZRS (three zones). Use LRS in "
        "regions without availability zones. DR with azure_mode ra_gzrs overrides this with RA-GZRS.",
    )
    shared_key_access: bool = Field(
        False,
        description="Allow account-key (shared key) requests. Default false: every caller, Triton included, "
        "authenticates with Entra ID. Pulumi-managed uploads (publish_model_repository) need true: the "
        "azure-native Blob resource signs with the account key (pulumi/pulumi-azure-native#2015).",
    )
    allowed_subnet_ids: list[str] = Field(
        default_factory=list,
        description="When set, the account firewall denies by default and allows only these VNet subnets "
        "(which need the Microsoft.Storage service endpoint) plus trusted Azure services. Default: no "
        "network restriction; access is gated by Entra RBAC, HTTPS and TLS 1.2.",
    )

    @field_validator("allowed_subnet_ids")
    @classmethod
    def _subnets(cls, v: list[str]) -> list[str]:
        import re

        pattern = re.compile(
            r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.Network/"
            r"virtualNetworks/[^/]+/subnets/[^/]+$",
            re.IGNORECASE,
        )
        bad = [s for s in v if not pattern.match(s)]
        if bad:
            raise ValueError(f"not subnet resource ids: {bad}")
        return sorted(set(v))


class ModelStoreConfig(Args):
    """The model store of one region (a bucket, or a storage account with one container)."""

    versioning: bool = Field(
        True,
        description="Keep every version of every object. Default true; false is allowed outside prod only "
        "and makes DR replication from this store impossible (all three services replicate versions).",
    )
    noncurrent_version_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days an overwritten or deleted model file stays recoverable before its old version "
        "is deleted (Azure soft delete is capped at 365). Default 30.",
    )
    abort_incomplete_upload_days: int = Field(
        7,
        ge=1,
        le=365,
        description="Days after which unfinished multipart uploads are discarded (AWS, GCP; Azure drops "
        "uncommitted blocks after 7 days by itself). Default 7.",
    )
    encryption: StoreEncryption = Field(
        default_factory=StoreEncryption,
        description="Provider-managed or customer-managed key. Default: customer-managed in prod.",
    )
    access_logging: AccessLogging | None = Field(None, description="Server access logs. Default: off.")
    force_destroy: bool | None = Field(
        None,
        description="Let `pulumi destroy` delete a store that still holds objects. Default: true in dev, "
        "false elsewhere; true in prod is a config error.",
    )
    azure: AzureStoreOptions | None = Field(None, description="Azure-only settings; only allowed on azure.")

    def destroy_with_objects(self, environment: str) -> bool:
        if environment == "prod":
            return False
        return self.force_destroy if self.force_destroy is not None else environment == "dev"

    @property
    def azure_options(self) -> AzureStoreOptions:
        return self.azure or AzureStoreOptions()


def encryption_issues(enc: StoreEncryption, cloud: Cloud) -> list[Issue]:
    """Key-reference problems of one encryption block (shared by stores and DR replicas)."""
    issues: list[Issue] = []
    if enc.kms_key is not None:
        allowed = key_reference_problem(cloud, enc.kms_key)
        if allowed is not None:
            issues.append(("kms_key", enc.kms_key, allowed))
        if enc.customer_managed_key is False:
            issues.append(("customer_managed_key", False, "true or unset when kms_key is given"))
    if cloud == "azure" and enc.kms_key is not None:
        if enc.azure_key_vault_id is None:
            issues.append(
                ("azure_key_vault_id", None, "the resource id of the vault holding kms_key (required on azure)")
            )
        elif not (m := AZURE_VAULT_ID.match(enc.azure_key_vault_id)):
            issues.append(
                (
                    "azure_key_vault_id",
                    enc.azure_key_vault_id,
                    "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>",
                )
            )
        elif key_reference_problem("azure", enc.kms_key) is None:
            vault_uri = azure_key_parts(enc.kms_key)[0]
            if vault_uri.lower() != f"https://{m.group('vault')}.vault.azure.net/".lower():
                issues.append(("azure_key_vault_id", enc.azure_key_vault_id, f"the vault of kms_key ({vault_uri})"))
    if enc.azure_key_vault_id is not None and (cloud != "azure" or enc.kms_key is None):
        issues.append(("azure_key_vault_id", enc.azure_key_vault_id, "only on azure, together with kms_key"))
    return issues


def storage_issues(config: ModelStoreConfig, cloud: Cloud, environment: str) -> list[Issue]:
    """Cross-field problems of a store config as (path relative to the block, value, what is allowed)."""
    issues: list[Issue] = []
    prod = environment == "prod"
    if prod and config.force_destroy:
        issues.append(("force_destroy", True, "false (or unset) in prod: stores are protected and retained there"))
    if prod and not config.versioning:
        issues.append(("versioning", False, "true in prod: unversioned stores cannot be recovered or replicated"))
    issues += [(f"encryption.{p}", v, a) for p, v, a in encryption_issues(config.encryption, cloud)]
    if config.access_logging is not None:
        allowed = log_target_problem(cloud, config.access_logging.target)
        if allowed is not None:
            issues.append(("access_logging.target", config.access_logging.target, allowed))
    if cloud != "azure" and config.azure is not None:
        issues.append(("azure", "<block>", "only on azure regions"))
    return issues


class ServiceAccountRef(Args):
    """The Kubernetes service account whose pods may read the store (Triton's)."""

    namespace: str = Field(
        SERVING_NAMESPACE,
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description=f"Namespace of the service account; default {SERVING_NAMESPACE}.",
    )
    name: str = Field(
        TRITON_SERVICE_ACCOUNT,
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description=f"Service account name; default {TRITON_SERVICE_ACCOUNT}.",
    )

    @property
    def subject(self) -> str:
        """The OIDC `sub` claim of this service account's projected tokens."""
        return f"system:serviceaccount:{self.namespace}:{self.name}"


class ModelStoreArgs(Args):
    """Inputs of the `ModelStore` component (one region).

    The reader's cluster identity is not part of these args: pass the cluster's `WorkloadIdentity`
    (`KubernetesCluster.target.identity`) to `ModelStore(..., reader_identity=...)`; it holds Outputs.
    """

    cloud: Cloud = Field(..., description="aws, gcp or azure.")
    region: str = Field(..., min_length=1, description="Cloud region of the store, e.g. us-east-1.")
    environment: Literal["dev", "staging", "prod"] = Field(
        ..., description="prod protects and retains the store and its key; dev allows force-destroy."
    )
    region_name: str = Field(
        ..., pattern=r"^[a-z][a-z0-9]{1,11}$", description="The region's short key (use1), used in names."
    )
    config: ModelStoreConfig = Field(default_factory=ModelStoreConfig, description="Store settings; defaults above.")
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags/labels put on every taggable child.")
    name_seed: str = Field(
        "",
        description="Hashed into the default bucket/account name so stacks of different organisations or "
        "projects do not collide on global names; the platform passes '<org>/<project>/<stack>'. Default ''.",
    )
    bucket_name: str | None = Field(
        None,
        description="Cloud-side name of the bucket (S3/GCS) or storage account (Azure). Default: "
        "store_name(cloud, environment, region_name, name_seed).",
    )
    project_id: str | None = Field(None, description="GCP project; required on gcp.")
    resource_group_name: str | None = Field(
        None,
        description="Azure resource group to put the account in. Default: a new rg-gpufleet-<env>-<region>-models.",
    )
    reader: ServiceAccountRef = Field(
        default_factory=ServiceAccountRef,
        description="Kubernetes service account granted read-only access; default gpufleet-serving/triton.",
    )
    dual_region_with: str | None = Field(
        None,
        description="GCP only: make the bucket a configurable dual-region of `region` and this region, with "
        "turbo replication (RPO 15 minutes). Set by the DR plan; default: a single-region bucket.",
    )
    geo_redundant: bool = Field(
        False,
        description="Azure only: Standard_RAGZRS (zone-redundant, geo-replicated to the paired region, "
        "readable there). Set by the DR plan for azure_mode ra_gzrs; default false.",
    )

    @property
    def name(self) -> str:
        return self.bucket_name or store_name(self.cloud, self.environment, self.region_name, self.name_seed)

    @model_validator(mode="after")
    def _cross_field(self) -> "ModelStoreArgs":
        problems = [(f"config.{p}", v, a) for p, v, a in storage_issues(self.config, self.cloud, self.environment)]
        if self.cloud == "gcp" and not self.project_id:
            problems.append(("project_id", None, "a GCP project id (required on gcp)"))
        if self.dual_region_with is not None:
            if self.cloud != "gcp":
                problems.append(("dual_region_with", self.dual_region_with, "only on gcp"))
            elif gcs_dual_region(self.region, self.dual_region_with) is None:
                problems.append(
                    (
                        "dual_region_with",
                        self.dual_region_with,
                        f"a region that forms a GCS configurable dual-region with {self.region}",
                    )
                )
        if self.geo_redundant and self.cloud != "azure":
            problems.append(("geo_redundant", True, "only on azure"))
        if self.bucket_name is not None:
            problems += _bucket_name_issues(self.cloud, self.bucket_name)
        if problems:
            raise ValueError("; ".join(f"{p}: got {v!r}, allowed: {a}" for p, v, a in problems))
        return self


def _bucket_name_issues(cloud: str, name: str) -> list[Issue]:
    import re

    rules = {
        "aws": (r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "3-63 lowercase letters, digits, '.', '-'"),
        "gcp": (
            r"^(?!goog)(?!.*google)[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$",
            "3-63 lowercase letters, digits, '_', '.', '-'",
        ),
        "azure": (r"^[a-z0-9]{3,24}$", "3-24 lowercase letters and digits (a storage account name)"),
    }
    pattern, allowed = rules[cloud]
    return [] if re.match(pattern, name) else [("bucket_name", name, allowed)]
