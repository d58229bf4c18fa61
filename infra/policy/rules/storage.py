"""Buckets and storage accounts: S3, GCS and Azure Storage.

pulumi-aws 7 configures S3 versioning, encryption, public access blocks and replication on
separate resources (`BucketVersioning`, `BucketServerSideEncryptionConfiguration`,
`BucketPublicAccessBlock`, `BucketReplicationConfig`), so those rules are stack policies that
join each bucket to the resources configuring it: by the known bucket name, else (name not
known yet, or auto-named) by the dependency graph (the resource's `bucket` input depends on the
bucket). A bucket still being named while an unjoined configuration resource's `bucket` is
unknown too is "can't tell" and not reported. The deprecated inline arguments of `Bucket`
(`versioning`, `serverSideEncryptionConfiguration`, `acl`, `replicationConfiguration`) count too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..model import (
    PROD_CONFIG,
    UNKNOWN,
    Resource,
    Violation,
    as_json,
    as_list,
    get,
    is_prod_stack,
    is_unknown,
    known,
    resource_rule,
    stack_rule,
    truthy,
)

S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_ENCRYPTION = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                 "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_PAB = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_ACCOUNT_PAB = ("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
                  "aws:s3control/accountPublicAccessBlock:AccountPublicAccessBlock")
S3_REPLICATION = ("aws:s3/bucketReplicationConfig:BucketReplicationConfig",)
S3_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
S3_POLICIES = ("aws:s3/bucketPolicy:BucketPolicy",)
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
PUBLIC_GRANTEES = ("http://acs.amazonaws.com/groups/global/AllUsers",
                   "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")

GCS_BUCKET = "gcp:storage/bucket:Bucket"
GCS_PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
GCS_IAM = ("gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:storage/bucketIAMBinding:BucketIAMBinding")
GCS_ACL = ("gcp:storage/bucketACL:BucketACL", "gcp:storage/bucketAccessControl:BucketAccessControl",
           "gcp:storage/defaultObjectACL:DefaultObjectACL",
           "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
           "gcp:storage/objectAccessControl:ObjectAccessControl")

AZ_ACCOUNT = "azure-native:storage:StorageAccount"
AZ_CONTAINER = "azure-native:storage:BlobContainer"
AZ_OBJECT_REPLICATION = "azure-native:storage:ObjectReplicationPolicy"
AZ_GEO_SKUS = ("Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS")


# --- joins -----------------------------------------------------------------------------------

def of_types(resources: Sequence[Resource], types: Sequence[str]) -> list[Resource]:
    return [r for r in resources if r.type in types]


def attached(owner: Resource, candidates: Sequence[Resource], prop: str, owner_key: str) -> tuple[list[Resource], bool]:
    """Candidates whose `prop` names `owner` (by the known `owner_key` value, else by dependency),
    and whether some candidate could not be placed (its reference is unknown)."""
    key = owner.props.get(owner_key)
    found, unsure = [], False
    for c in candidates:
        ref = c.props.get(prop)
        if known(key) and isinstance(ref, str) and known(ref) and (
                ref == key or ref.endswith(f":::{key}") or ref.endswith(f"/{key}")):
            found.append(c)
        elif c.depends_on(owner.urn, prop):
            found.append(c)
        elif not (known(key) and known(ref)):
            unsure = True
    return found, unsure


def _s3_buckets(resources: Sequence[Resource]) -> list[Resource]:
    return of_types(resources, S3_BUCKETS)


# --- S3 ----------------------------------------------------------------------------------------

@stack_rule(
    "s3-bucket-encrypted",
    summary="Every S3 bucket has default encryption with a KMS key (inline or a "
    "BucketServerSideEncryptionConfiguration).",
    area="storage", severity="high", level="mandatory", ids=("CKV_AWS_19", "CKV_AWS_145"),
    config={"allowS3ManagedKeys": {"type": "boolean", "default": False,
                                   "description": "Accept SSE-S3 (AES256) instead of SSE-KMS (CKV_AWS_19 only)."}},
    remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm aws:kms (a bucket key keeps "
    "KMS costs down).",
)
def s3_bucket_encrypted(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    allowed = KMS_ALGORITHMS + (("AES256",) if cfg.get("allowS3ManagedKeys") else ())
    configs = of_types(resources, S3_ENCRYPTION)
    for b in _s3_buckets(resources):
        algos: list[Any] = []
        inline = get(b.props, "serverSideEncryptionConfiguration.rule.applyServerSideEncryptionByDefault.sseAlgorithm")
        if inline is not None:
            algos.append(inline)
        found, unsure = attached(b, configs, "bucket", "bucket")
        for c in found:
            rules = c.props.get("rules")
            if is_unknown(rules):
                algos.append(UNKNOWN)
            for rule in as_list(rules):
                algos.append(get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm"))
        if any(is_unknown(a) for a in algos) or (not algos and unsure):
            continue
        good = [a for a in algos if a in allowed]
        if not good:
            used = sorted({str(a) for a in algos if a})
            what = f"uses {used}" if used else "has no default encryption configured"
            yield Violation(f"S3 bucket {b.name} {what}; allowed: {', '.join(allowed)}", b.urn)


@stack_rule(
    "s3-public-access-blocked",
    summary="Every S3 bucket has a public access block with all four flags on (BlockPublicAcls, BlockPublicPolicy, "
    "IgnorePublicAcls, RestrictPublicBuckets), or the account-level block does.",
    area="storage", severity="critical", level="mandatory",
    ids=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"),
    remediation="Add aws.s3.BucketPublicAccessBlock with all four flags true.",
)
def s3_public_access_blocked(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    for acct in of_types(resources, S3_ACCOUNT_PAB):
        if all(truthy(acct.props.get(f)) for f in PAB_FLAGS):
            return
    blocks = of_types(resources, S3_PAB)
    for b in _s3_buckets(resources):
        found, unsure = attached(b, blocks, "bucket", "bucket")
        if not found:
            if not unsure:
                yield Violation(f"S3 bucket {b.name} has no public access block", b.urn)
            continue
        for blk in found:
            flags = {f: truthy(blk.props.get(f)) for f in PAB_FLAGS}
            if any(is_unknown(blk.props.get(f)) for f in PAB_FLAGS):
                continue
            off = [f for f, v in flags.items() if not v]
            if off:
                yield Violation(f"S3 bucket {b.name}: public access block leaves {', '.join(off)} off",
                                blk.urn or b.urn)


@resource_rule(
    "s3-no-public-acl-or-policy",
    summary="S3 buckets grant nothing to everyone: no public canned ACL, no AllUsers/AuthenticatedUsers grant, no "
    "bucket policy allowing Principal \"*\" without a condition.",
    area="storage", severity="critical", level="mandatory", ids=("CKV_AWS_20", "CKV_AWS_57", "CKV_AWS_70"),
    types=S3_BUCKETS + S3_ACLS + S3_POLICIES,
    remediation="Use BucketOwnerEnforced ownership and grant access to named roles only.",
)
def s3_no_public_acl_or_policy(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    acl = r.props.get("acl")
    if isinstance(acl, str) and acl in PUBLIC_ACLS:
        yield f"canned ACL {acl} makes the bucket public"
    grants = list(as_list(r.props.get("grants"))) + list(as_list(get(r.props, "accessControlPolicy.grants")))
    for g in grants:
        uri = get(g, "grantee.uri") if isinstance(g, Mapping) and "grantee" in g else get(g, "uri")
        if isinstance(uri, str) and uri in PUBLIC_GRANTEES:
            yield f"grant to {uri.rsplit('/', 1)[-1]}"
    doc = as_json(r.props.get("policy"))
    if isinstance(doc, Mapping):
        for st in as_list(doc.get("Statement")):
            if not isinstance(st, Mapping) or st.get("Effect") != "Allow" or st.get("Condition"):
                continue
            principal = st.get("Principal")
            aws = principal.get("AWS") if isinstance(principal, Mapping) else principal
            if principal == "*" or "*" in as_list(aws):
                sid = f" {st['Sid']}" if isinstance(st.get("Sid"), str) else ""
                yield f"bucket policy statement{sid} allows Principal * without a condition"


@stack_rule(
    "s3-versioning-enabled",
    summary="Every S3 bucket has versioning enabled (inline or a BucketVersioning resource).",
    area="storage", severity="medium", level="advisory", ids=("CKV_AWS_21",),
    remediation="Add aws.s3.BucketVersioning with status Enabled (expire noncurrent versions with a lifecycle rule).",
)
def s3_versioning_enabled(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    configs = of_types(resources, S3_VERSIONING)
    for b in _s3_buckets(resources):
        states: list[Any] = []
        inline = get(b.props, "versioning.enabled")
        if inline is not None:
            states.append("Enabled" if truthy(inline) else ("Disabled" if truthy(inline) is False else UNKNOWN))
        found, unsure = attached(b, configs, "bucket", "bucket")
        states += [get(c.props, "versioningConfiguration.status") for c in found]
        if any(is_unknown(s) for s in states) or (not states and unsure):
            continue
        if "Enabled" not in states:
            yield Violation(f"S3 bucket {b.name} is not versioned", b.urn)


def replication_destinations(resources: Sequence[Resource], buckets: Sequence[Resource]) -> set[str]:
    """URNs of buckets that are the destination of a replication configuration in this stack."""
    out: set[str] = set()
    inline = [b for b in buckets if b.props.get("replicationConfiguration") is not None]
    for rc in of_types(resources, S3_REPLICATION) + inline:
        rules = rc.props.get("rules") if rc.type in S3_REPLICATION else get(rc.props, "replicationConfiguration.rules")
        # Raw values: the offline plan's `<computed:...:NAME:arn>` placeholder names the bucket.
        arns = [(rule.get("destination") or {}).get("bucket") if isinstance(rule, Mapping) and
                isinstance(rule.get("destination"), Mapping) else None for rule in as_list(rules)]
        source = rc.props.get("bucket")  # the replicated bucket's name (inline: the bucket itself)
        for b in buckets:
            name = b.props.get("bucket")
            if b.urn == rc.urn or (known(name) and name == source):
                continue
            if any(isinstance(a, str) and known(name) and (a == f"arn:aws:s3:::{name}" or a == name) for a in arns):
                out.add(b.urn)
            elif any(isinstance(a, str) and a.startswith("<computed:") and f":{b.name}:" in a for a in arns):
                out.add(b.urn)  # the offline plan's placeholder for the bucket's ARN
            elif rc.depends_on(b.urn, "rules"):
                out.add(b.urn)
    return out


@stack_rule(
    "s3-replication-in-prod",
    summary="In production, every S3 bucket that is not itself a replica has cross-region replication "
    "(a BucketReplicationConfig).",
    area="storage", severity="medium", level="advisory", ids=("CKV_AWS_144",), config=dict(PROD_CONFIG),
    remediation="Enable gpufleet DR (dr.enabled: true) or add aws.s3.BucketReplicationConfig to a standby region.",
)
def s3_replication_in_prod(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    buckets = _s3_buckets(resources)
    if not buckets or not is_prod_stack(resources, cfg):
        return
    replicas = replication_destinations(resources, buckets)
    configs = of_types(resources, S3_REPLICATION)
    for b in buckets:
        if b.urn in replicas or b.props.get("replicationConfiguration") is not None:
            continue
        found, unsure = attached(b, configs, "bucket", "bucket")
        if not found and not unsure:
            yield Violation(f"S3 bucket {b.name} is not replicated to another region", b.urn)


# --- GCS ---------------------------------------------------------------------------------------

@resource_rule(
    "gcs-uniform-bucket-level-access",
    summary="GCS buckets use uniform bucket-level access (IAM only, no per-object ACLs).",
    area="storage", severity="high", level="mandatory", ids=("CKV_GCP_29",), types=(GCS_BUCKET,),
    remediation="Set uniform_bucket_level_access=True.",
)
def gcs_uniform_bucket_level_access(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = r.props.get("uniformBucketLevelAccess")
    if not is_unknown(v) and truthy(v) is not True:
        yield "uniformBucketLevelAccess is not true (default: fine-grained ACLs)"


@resource_rule(
    "gcs-public-access-prevention",
    summary="GCS buckets enforce public access prevention.",
    area="storage", severity="critical", level="mandatory", ids=("CKV_GCP_114",), types=(GCS_BUCKET,),
    remediation='Set public_access_prevention="enforced".',
)
def gcs_public_access_prevention(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = r.props.get("publicAccessPrevention")
    if not is_unknown(v) and v != "enforced":
        yield f"publicAccessPrevention is {v or 'unset (inherited)'}, not enforced"


@resource_rule(
    "gcs-versioning-enabled",
    summary="GCS buckets keep object versions.",
    area="storage", severity="medium", level="advisory", ids=("CKV_GCP_78",), types=(GCS_BUCKET,),
    remediation="Set versioning.enabled=True (expire noncurrent versions with a lifecycle rule).",
)
def gcs_versioning_enabled(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = get(r.props, "versioning.enabled")
    if not is_unknown(v) and truthy(v) is not True:
        yield "versioning is not enabled"


@resource_rule(
    "gcs-no-public-members",
    summary="No GCS bucket or object is granted to allUsers or allAuthenticatedUsers (IAM or ACL).",
    area="storage", severity="critical", level="mandatory", ids=("CKV_GCP_28",), types=GCS_IAM + GCS_ACL,
    remediation="Grant roles to named service accounts or groups only.",
)
def gcs_no_public_members(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    members = as_list(r.props.get("member")) + as_list(r.props.get("members")) + as_list(r.props.get("entity"))
    for entry in as_list(r.props.get("roleEntities")):
        if isinstance(entry, str) and ":" in entry:
            members.append(entry.split(":", 1)[1])
    for m in members:
        if isinstance(m, str) and m in GCS_PUBLIC_MEMBERS:
            yield f"granted to {m}"


# --- Azure Storage ---------------------------------------------------------------------------

@resource_rule(
    "azure-storage-https-only",
    summary="Azure storage accounts accept HTTPS only.",
    area="storage", severity="high", level="mandatory", ids=("CKV_AZURE_3",), types=(AZ_ACCOUNT,),
    remediation="Leave enable_https_traffic_only at its default (true) or set it true.",
)
def azure_storage_https_only(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    # Absent means the API default: HTTPS only (since API version 2019-04-01).
    if truthy(r.props.get("enableHttpsTrafficOnly")) is False:
        yield "enableHttpsTrafficOnly is false"


@resource_rule(
    "azure-storage-min-tls-1-2",
    summary="Azure storage accounts require TLS 1.2 or newer.",
    area="storage", severity="high", level="mandatory", ids=("CKV_AZURE_44",), types=(AZ_ACCOUNT,),
    remediation='Set minimum_tls_version="TLS1_2".',
)
def azure_storage_min_tls(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    v = r.props.get("minimumTlsVersion")
    if is_unknown(v):
        return
    if v not in ("TLS1_2", "TLS1_3"):
        yield f"minimumTlsVersion is {v or 'unset (the service default may accept TLS 1.0)'}"


@resource_rule(
    "azure-storage-no-public-access",
    summary="Azure storage allows no anonymous access: public blob access off on the account, containers not "
    "public; optionally (requireNetworkDeny) the public endpoint denied by default.",
    area="storage", severity="critical", level="mandatory", ids=("CKV_AZURE_59", "CKV_AZURE_190", "CKV_AZURE_34"),
    types=(AZ_ACCOUNT, AZ_CONTAINER),
    config={"requireNetworkDeny": {"type": "boolean", "default": False,
                                   "description": "Also require publicNetworkAccess Disabled or networkRuleSet "
                                   "defaultAction Deny (private endpoints)."}},
    remediation="Set allow_blob_public_access=False and container public_access None; reach the account through "
    "private endpoints where required.",
)
def azure_storage_no_public_access(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == AZ_CONTAINER:
        v = r.props.get("publicAccess")
        if isinstance(v, str) and known(v) and v not in ("None",):
            yield f"container publicAccess is {v}"
        return
    # Absent: the API default since 2023-01-01 is no anonymous access.
    if truthy(r.props.get("allowBlobPublicAccess")) is True:
        yield "allowBlobPublicAccess is true"
    if cfg.get("requireNetworkDeny"):
        pna = r.props.get("publicNetworkAccess")
        action = get(r.props, "networkRuleSet.defaultAction")
        if is_unknown(pna) or is_unknown(action):
            return
        if pna != "Disabled" and action != "Deny":
            yield "the public endpoint accepts traffic from any network (publicNetworkAccess not Disabled, " \
                  "networkRuleSet.defaultAction not Deny)"


@stack_rule(
    "azure-storage-geo-redundant",
    summary="In production, Azure storage accounts survive a regional outage: a geo-redundant SKU "
    "(GRS/GZRS/RA-GRS/RA-GZRS) or an object replication policy on the account.",
    area="storage", severity="medium", level="advisory", ids=("CKV_AZURE_206",), config=dict(PROD_CONFIG),
    remediation="Enable gpufleet DR (object replication or azure_mode: ra_gzrs) or pick a geo-redundant SKU.",
)
def azure_storage_geo_redundant(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    accounts = of_types(resources, (AZ_ACCOUNT,))
    if not accounts or not is_prod_stack(resources, cfg):
        return
    policies = of_types(resources, (AZ_OBJECT_REPLICATION,))
    for a in accounts:
        sku = get(a.props, "sku.name")
        if is_unknown(sku) or sku in AZ_GEO_SKUS:
            continue
        found, unsure = attached(a, policies, "accountName", "accountName")
        if found or unsure:
            continue
        yield Violation(f"storage account {a.name} ({sku or 'no SKU'}) is neither geo-redundant nor replicated", a.urn)


# --- DR (all clouds) ---------------------------------------------------------------------------

GCS_MULTI_REGIONS = {"US", "EU", "ASIA"}
GCS_DUAL_REGIONS = {"NAM4", "EUR4", "ASIA1", "EUR5", "EUR7", "EUR8", "NAM-EUR-ASIA1"}
GCS_TRANSFER = "gcp:storagetransfer/transferJob:TransferJob"


def _gcs_replicated(b: Resource) -> bool | None:
    locs = get(b.props, "customPlacementConfig.dataLocations")
    if is_unknown(locs):
        return None
    if isinstance(locs, list) and len(locs) >= 2:
        return True
    loc = b.props.get("location")
    if is_unknown(loc):
        return None
    return isinstance(loc, str) and loc.upper() in GCS_MULTI_REGIONS | GCS_DUAL_REGIONS


@stack_rule(
    "dr-replication-in-prod",
    summary="A production stack that stores models replicates them out of region, on every cloud it stores them "
    "on: S3 replication, a GCS dual/multi-region bucket or a Storage Transfer job, Azure object replication or a "
    "geo-redundant account.",
    area="gpu-platform", severity="high", level="mandatory", config=dict(PROD_CONFIG),
    remediation="Set dr.enabled: true with a standby region on the same cloud (see README \"Model stores and DR\").",
)
def dr_replication_in_prod(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    if not is_prod_stack(resources, cfg):
        return
    s3 = _s3_buckets(resources)
    inline = any(b.props.get("replicationConfiguration") is not None for b in s3)
    if s3 and not of_types(resources, S3_REPLICATION) and not inline:
        yield Violation(f"{len(s3)} S3 bucket(s) ({', '.join(b.name for b in s3)}) and no S3 replication", s3[0].urn)
    gcs = of_types(resources, (GCS_BUCKET,))
    if gcs and not of_types(resources, (GCS_TRANSFER,)):
        states = [_gcs_replicated(b) for b in gcs]
        if None not in states and not any(states):
            yield Violation(f"{len(gcs)} single-region GCS bucket(s) ({', '.join(b.name for b in gcs)}) and no "
                            "dual-region bucket or transfer job", gcs[0].urn)
    az = of_types(resources, (AZ_ACCOUNT,))
    if az and not of_types(resources, (AZ_OBJECT_REPLICATION,)):
        skus = [get(a.props, "sku.name") for a in az]
        if not any(is_unknown(s) for s in skus) and not any(s in AZ_GEO_SKUS for s in skus):
            yield Violation(f"{len(az)} storage account(s) ({', '.join(a.name for a in az)}) and no object "
                            "replication or geo-redundant account", az[0].urn)

