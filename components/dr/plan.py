"""The replication a stack gets, and what each path promises. Pure.

`plan_replication` resolves the `dr` block against the stack's regions (source, target, path and
what the source store must be built with); `replication_summary` is the plan.json `replication`
section. The RPO texts paraphrase the providers' documentation, linked in `reference`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .args import REPLICA_PATHS, DrConfig, RegionLike, ReplicationPath, dr_issues, replication_path, resolve_sites


@dataclass(frozen=True)
class Promise:
    mechanism: str
    rpo: str
    rpo_minutes: int | None  # None: nothing is promised
    sla: bool
    reference: str


PROMISES: dict[str, Promise] = {
    "s3-crr-rtc": Promise(
        mechanism="S3 cross-region replication with Replication Time Control, delete-marker replication, "
        "SSE-KMS objects re-encrypted with a replica key; replication metrics and 15-minute threshold events",
        rpo="99.99% of new objects replicated within 15 minutes (S3 RTC, backed by the S3 SLA)",
        rpo_minutes=15,
        sla=True,
        reference="https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html",
    ),
    "gcs-dual-region-turbo": Promise(
        mechanism="one configurable dual-region bucket spanning both regions, turbo replication (rpo ASYNC_TURBO)",
        rpo="100% of newly written objects replicated to both regions within 15 minutes (turbo replication, "
        "backed by the Cloud Storage SLA)",
        rpo_minutes=15,
        sla=True,
        reference="https://cloud.google.com/storage/docs/availability-durability#turbo-replication",
    ),
    "gcs-transfer-event-driven": Promise(
        mechanism="bucket in the standby region, kept in sync by an event-driven Storage Transfer Service job "
        "fed by Pub/Sub notifications of the source bucket (new and updated objects; deletions are not copied)",
        rpo="asynchronous, no documented RPO and no SLA: each object is copied after its notification is "
        "processed, typically within minutes",
        rpo_minutes=None,
        sla=False,
        reference="https://cloud.google.com/storage-transfer/docs/event-driven-transfers",
    ),
    "azure-object-replication": Promise(
        mechanism="object replication policy from the source container to a container of a storage account "
        "in the standby region (versioning and change feed on the source, versioning on both)",
        rpo="asynchronous, no SLA: Azure does not guarantee how long object replication takes (metrics enabled)",
        rpo_minutes=None,
        sla=False,
        reference="https://learn.microsoft.com/azure/storage/blobs/object-replication-overview",
    ),
    "azure-ra-gzrs": Promise(
        mechanism="RA-GZRS source account: zone-redundant, geo-replicated by Azure to the paired region, "
        "readable there",
        rpo="asynchronous, no SLA: Azure documents a geo-replication RPO of typically 15 minutes or less, "
        "with no SLA on how long replication to the secondary region takes",
        rpo_minutes=None,
        sla=False,
        reference="https://learn.microsoft.com/azure/storage/common/storage-redundancy",
    ),
}


@dataclass(frozen=True)
class Site:
    name: str
    cloud: str
    region: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "cloud": self.cloud, "region": self.region}


@dataclass(frozen=True)
class ReplicationPlan:
    path: ReplicationPath
    source: Site
    target: Site
    # Extra ModelStoreArgs fields the SOURCE store must be built with (dual-region, RA-GZRS).
    store_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def promise(self) -> Promise:
        return PROMISES[self.path]

    @property
    def creates_replica(self) -> bool:
        """Whether a separate replica bucket/account is built in the standby region."""
        return self.path in REPLICA_PATHS


def plan_replication(
    dr: DrConfig | None, regions: Sequence[RegionLike], environment: str = "dev"
) -> ReplicationPlan | None:
    """The replication of a valid config, or None when DR is off or the block does not validate."""
    if dr is None or not dr.enabled or dr_issues(dr, regions, environment):
        return None
    sites = resolve_sites(dr, regions)
    assert sites is not None  # dr_issues would have said otherwise
    src, dst = (regions[i] for i in sites)
    path = replication_path(src.cloud, src.region, dst.region, dr)
    overrides: dict[str, Any] = {}
    if path == "gcs-dual-region-turbo":
        overrides = {"dual_region_with": dst.region}
    elif path == "azure-ra-gzrs":
        overrides = {"geo_redundant": True}
    return ReplicationPlan(
        path=path,
        source=Site(src.name, src.cloud, src.region),
        target=Site(dst.name, dst.cloud, dst.region),
        store_overrides=overrides,
    )


def replication_summary(dr: DrConfig | None, regions: Sequence[RegionLike], environment: str = "dev") -> dict[str, Any]:
    """The plan.json `replication` section of one stack."""
    if dr is None:
        return {"enabled": False, "reason": "no dr block in the stack config"}
    if not dr.enabled:
        return {"enabled": False, "reason": "dr.enabled is false"}
    plan = plan_replication(dr, regions, environment)
    if plan is None:
        return {"enabled": False, "reason": "the dr block does not validate (see the config errors)"}
    p = plan.promise
    return {
        "enabled": True,
        "path": plan.path,
        "mechanism": p.mechanism,
        "source": plan.source.to_json(),
        "target": plan.target.to_json(),
        "rpo": p.rpo,
        "rpoMinutes": p.rpo_minutes,
        "sla": p.sla,
        "reference": p.reference,
    }


def describe(summary: dict[str, Any]) -> str:
    """One line for the text report."""
    if not summary.get("enabled"):
        return f"replication: off ({summary.get('reason', 'disabled')})"
    s, t = summary["source"], summary["target"]
    return (
        f"replication: {summary['path']} {s['name']} ({s['region']}) -> {t['name']} ({t['region']}); "
        f"RPO: {summary['rpo']}"
    )
