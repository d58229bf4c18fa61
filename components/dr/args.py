"""Cloud-neutral DR settings: the per-stack `dr` block, its checks, and the component args.

Pure: no Pulumi or cloud SDK import. `dr_issues` needs the stack's regions, so its paths are
relative to the platform block (`dr.target`, `regions[0].storage.versioning`).
"""

from __future__ import annotations

from typing import Literal, Protocol, Sequence

from pydantic import Field

from .._contracts import Cloud
from .._model import Args
from ..storage.args import ModelStoreConfig, ServiceAccountRef, StoreEncryption, encryption_issues
from ..storage.keys import key_location
from ..storage.locations import azure_geo_pair, gcs_dual_region

Issue = tuple[str, object, str]

ReplicationPath = Literal[
    "s3-crr-rtc",
    "gcs-dual-region-turbo",
    "gcs-transfer-event-driven",
    "azure-object-replication",
    "azure-ra-gzrs",
]

# Paths that build a separate replica bucket/account in the standby region (the others replicate
# inside the source store itself: a dual-region bucket or an RA-GZRS account).
REPLICA_PATHS: frozenset[str] = frozenset({"s3-crr-rtc", "gcs-transfer-event-driven", "azure-object-replication"})


class DrConfig(Args):
    """Replicate one region's model store to a standby region (the stack's `dr` block)."""

    enabled: bool = Field(True, description="Replicate. Default true; false keeps the block but replicates nothing.")
    source: str | None = Field(
        None, description="Name of the region whose store is replicated. Default: the primary region."
    )
    target: str | None = Field(
        None, description="Name of the region receiving the replica. Default: the first region with role standby."
    )
    gcp_mode: Literal["auto", "dual_region", "transfer"] = Field(
        "auto",
        description="GCP: dual_region makes the source bucket a configurable dual-region of both regions with "
        "turbo replication (RPO 15 min); transfer keeps a bucket in the standby region in sync with an "
        "event-driven Storage Transfer Service job. Default auto: dual_region when GCS offers the pair, "
        "else transfer.",
    )
    azure_mode: Literal["object_replication", "ra_gzrs"] = Field(
        "object_replication",
        description="Azure: object_replication copies blobs to a storage account in the standby region; "
        "ra_gzrs makes the source account RA-GZRS instead (geo-replicated by Azure to the source region's "
        "paired region, which must then be the standby). Default object_replication.",
    )
    replica_encryption: StoreEncryption | None = Field(
        None,
        description="Encryption of the replica. Default: a new customer-managed key in the standby region "
        "when the source uses one (always on AWS: replicating SSE-KMS objects needs a replica key).",
    )


class RegionLike(Protocol):
    """What `dr_issues` reads of a configured region (infra.config.RegionConfig fits)."""

    name: str
    cloud: str
    region: str
    role: str


def _store(region: RegionLike) -> ModelStoreConfig:
    return getattr(region, "storage", None) or ModelStoreConfig()


def resolve_sites(dr: DrConfig, regions: Sequence[RegionLike]) -> tuple[int, int] | None:
    """Indexes of the (source, target) regions, or None when they cannot be resolved."""
    names = [r.name for r in regions]
    if dr.source is not None:
        if dr.source not in names:
            return None
        source = names.index(dr.source)
    else:
        primaries = [i for i, r in enumerate(regions) if r.role == "primary"]
        if not primaries:
            return None
        source = primaries[0]
    if dr.target is not None:
        if dr.target not in names:
            return None
        target = names.index(dr.target)
    else:
        standbys = [i for i, r in enumerate(regions) if r.role == "standby" and i != source]
        if not standbys:
            return None
        target = standbys[0]
    return source, target


def replication_path(cloud: str, source_region: str, target_region: str, dr: DrConfig) -> ReplicationPath:
    """Which native mechanism replicates a store of `cloud` from `source_region` to `target_region`."""
    if cloud == "aws":
        return "s3-crr-rtc"
    if cloud == "gcp":
        pair = gcs_dual_region(source_region, target_region)
        if dr.gcp_mode == "dual_region" or (dr.gcp_mode == "auto" and pair is not None):
            return "gcs-dual-region-turbo"
        return "gcs-transfer-event-driven"
    if cloud == "azure":
        return "azure-ra-gzrs" if dr.azure_mode == "ra_gzrs" else "azure-object-replication"
    raise ValueError(f"unknown cloud {cloud!r}")


def dr_issues(dr: DrConfig, regions: Sequence[RegionLike], environment: str) -> list[Issue]:
    """Problems of a `dr` block as (path relative to the platform block, value, what is allowed)."""
    if not dr.enabled:
        return []
    issues: list[Issue] = []
    names = [r.name for r in regions]
    for field in ("source", "target"):
        value = getattr(dr, field)
        if value is not None and value not in names:
            issues.append((f"dr.{field}", value, f"the name of a configured region: {', '.join(names)}"))
    if issues:
        return issues
    if dr.source is None and not any(r.role == "primary" for r in regions):
        return []  # the platform check already reports the missing primary
    sites = resolve_sites(dr, regions)
    if sites is None:
        return [
            (
                "dr.target",
                None,
                "a standby region to replicate to: add a region with role: standby (or set dr.target), "
                "or set dr.enabled: false",
            )
        ]
    si, ti = sites
    source, target = regions[si], regions[ti]
    if si == ti:
        return [("dr.target", target.name, f"a region other than the source ({source.name})")]
    if source.cloud == target.cloud and source.region == target.region:
        issues.append(
            (
                "dr.target",
                target.name,
                f"a region in another {target.cloud} region than the source's {source.region}: a replica in the "
                "same region does not survive a regional outage",
            )
        )
    if source.cloud != target.cloud:
        issues.append(
            (
                "dr.target",
                target.name,
                f"a {source.cloud} region like the source ({source.name}): cross-cloud replication is not supported "
                "(each cloud's native replication only targets its own storage; copying between S3, GCS and Blob "
                "needs an external transfer service and separate credentials)",
            )
        )
        return issues
    if not _store(source).versioning:
        issues.append(
            (
                f"regions[{si}].storage.versioning",
                False,
                "true: S3 replication, GCS transfer and Azure object replication all require a versioned source store",
            )
        )
    cloud: Cloud = source.cloud  # type: ignore[assignment]
    path = replication_path(cloud, source.region, target.region, dr)
    if cloud == "gcp" and dr.gcp_mode == "dual_region" and gcs_dual_region(source.region, target.region) is None:
        issues.append(
            (
                "dr.gcp_mode",
                "dual_region",
                f"auto or transfer: {source.region} and {target.region} do not form a GCS configurable dual-region",
            )
        )
    if cloud == "azure" and dr.azure_mode == "ra_gzrs":
        pair = azure_geo_pair(source.region)
        if pair is None:
            issues.append(("dr.azure_mode", "ra_gzrs", f"object_replication: {source.region} has no paired region"))
        elif pair != target.region:
            issues.append(
                (
                    "dr.azure_mode",
                    "ra_gzrs",
                    f"object_replication, or a standby in {pair}: RA-GZRS always replicates {source.region} to {pair}",
                )
            )
    enc = dr.replica_encryption
    if enc is not None:
        issues += [(f"dr.replica_encryption.{p}", v, a) for p, v, a in encryption_issues(enc, cloud)]
        where = key_location(cloud, enc.kms_key) if enc.kms_key else None
        wanted = _replica_key_location(cloud, path, source.region, target.region)
        if where is not None and wanted is not None and where != wanted:
            issues.append(("dr.replica_encryption.kms_key", enc.kms_key, f"a key in {wanted}, where the replica lives"))
    return issues


def _replica_key_location(cloud: str, path: ReplicationPath, source_region: str, target_region: str) -> str | None:
    if path == "gcs-dual-region-turbo":
        pair = gcs_dual_region(source_region, target_region)
        return pair.kms_location if pair else None
    if cloud in ("aws", "gcp"):
        return target_region
    return None


class ModelStoreReplicationArgs(Args):
    """Inputs of `ModelStoreReplication`; the source store is passed to the constructor."""

    environment: Literal["dev", "staging", "prod"] = Field(..., description="prod protects and retains replicas.")
    path: ReplicationPath = Field(
        ..., description="Replication mechanism, from replication_path() / plan_replication()."
    )
    target_region: str = Field(..., min_length=1, description="Cloud region of the standby, e.g. us-west-2.")
    target_region_name: str = Field(
        ..., pattern=r"^[a-z][a-z0-9]{1,11}$", description="The standby region's short key, used in names."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Cost tags/labels put on every taggable child.")
    name_seed: str = Field("", description="Hashed into the replica's default name (see ModelStoreArgs.name_seed).")
    replica_name: str | None = Field(
        None, description="Cloud-side name of the replica bucket/account. Default: store_name(..., role='replica')."
    )
    target_project_id: str | None = Field(
        None, description="GCP: project of the standby bucket. Default: the source store's project."
    )
    target_resource_group_name: str | None = Field(
        None,
        description="Azure: resource group of the standby account. Default: a new rg-gpufleet-<env>-<target>-replica.",
    )
    replica_encryption: StoreEncryption | None = Field(None, description="See DrConfig.replica_encryption.")
    reader: ServiceAccountRef = Field(
        default_factory=ServiceAccountRef,
        description="Service account of the standby cluster granted read access to the replica "
        "(when a standby identity is passed); default gpufleet-serving/triton.",
    )
