"""Shapes of key references and logging targets, per cloud. Pure: regexes and messages only.

Config validation (`storage_issues`, `dr_issues`) and the args models share these, so a malformed
reference is reported the same way wherever it appears.
"""

from __future__ import annotations

import re

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# AWS: a key ARN (not an alias: aliases can be re-pointed, and IAM statements scoped to an alias
# ARN do not cover the key). Multi-Region keys have ids of the form mrk-<32 hex>.
AWS_KMS_KEY_ARN = re.compile(
    rf"^arn:aws[a-z-]*:kms:(?P<region>[a-z]{{2}}(-[a-z]+)+-\d):\d{{12}}:key/({UUID}|mrk-[0-9a-f]{{32}})$"
)
# GCP: a Cloud KMS crypto key resource name (no version suffix: GCS uses the primary version).
GCP_CRYPTO_KEY = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/(?P<location>[a-z0-9-]+)"
    r"/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}$"
)
# Azure: a Key Vault key identifier, optionally versioned (unversioned = follow rotation).
AZURE_KEY_URL = re.compile(
    r"^https://(?P<vault>[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9])\.vault\.azure\.net/keys/"
    r"(?P<name>[a-zA-Z0-9-]{1,127})(/(?P<version>[0-9a-fA-F]{32}))?/?$"
)
AZURE_VAULT_ID = re.compile(
    rf"^/subscriptions/{UUID}/resourceGroups/[-\w.()]{{1,90}}/providers/Microsoft\.KeyVault/vaults/"
    r"(?P<vault>[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9])$",
    re.IGNORECASE,
)

KEY_REFERENCES: dict[str, tuple[re.Pattern[str], str]] = {
    "aws": (
        AWS_KMS_KEY_ARN,
        "an AWS KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-1111-2222-333344445555",
    ),
    "gcp": (
        GCP_CRYPTO_KEY,
        "a Cloud KMS key name such as projects/my-project/locations/us-central1/keyRings/ring/cryptoKeys/key",
    ),
    "azure": (
        AZURE_KEY_URL,
        "a Key Vault key URL such as https://my-vault.vault.azure.net/keys/my-key[/<32-hex version>]",
    ),
}

# Access-log destinations: AWS and GCP log into another bucket; Azure sends blob diagnostic logs
# to a storage account or a Log Analytics workspace (classic Storage Analytics logs are legacy).
S3_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
GCS_BUCKET = re.compile(r"^(?!goog)(?!.*google)[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$")
AZURE_LOG_TARGET = re.compile(
    rf"^/subscriptions/{UUID}/resourceGroups/[-\w.()]{{1,90}}/providers/"
    r"(Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}|Microsoft\.OperationalInsights/workspaces/[A-Za-z0-9-]{4,63})$",
    re.IGNORECASE,
)
LOG_TARGETS: dict[str, tuple[re.Pattern[str], str]] = {
    "aws": (S3_BUCKET, "an S3 bucket name (the log bucket, in the same region and account)"),
    "gcp": (GCS_BUCKET, "a GCS bucket name (the log bucket)"),
    "azure": (
        AZURE_LOG_TARGET,
        "the resource id of a storage account (/subscriptions/<id>/resourceGroups/<rg>/providers/"
        "Microsoft.Storage/storageAccounts/<name>) or of a Log Analytics workspace",
    ),
}


def key_reference_problem(cloud: str, reference: str) -> str | None:
    """What is allowed, when `reference` is not a key reference of `cloud`; None when it is."""
    pattern, example = KEY_REFERENCES[cloud]
    return None if pattern.match(reference) else example


def log_target_problem(cloud: str, target: str) -> str | None:
    pattern, example = LOG_TARGETS[cloud]
    return None if pattern.match(target) else example


def key_location(cloud: str, reference: str) -> str | None:
    """The region (AWS) or KMS location (GCP) a well-formed key reference names; None on Azure."""
    if cloud == "aws" and (m := AWS_KMS_KEY_ARN.match(reference)):
        return m.group("region")
    if cloud == "gcp" and (m := GCP_CRYPTO_KEY.match(reference)):
        return m.group("location")
    return None


def azure_key_parts(url: str) -> tuple[str, str, str | None]:
    """(vault URI with trailing slash, key name, version or None) of a Key Vault key URL."""
    m = AZURE_KEY_URL.match(url)
    if m is None:
        raise ValueError(f"not a Key Vault key URL: {url!r}")
    return f"https://{m.group('vault')}.vault.azure.net/", m.group("name"), m.group("version")
