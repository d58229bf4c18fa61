"""Deterministic cloud-side names for stores and their helpers. Pure.

Bucket and storage-account names are global across every customer of the cloud, so a name made of
environment and region alone would collide between two organisations running gpufleet. The
default names therefore end in a short hash of a seed the platform passes (organisation, project,
stack): stable for one stack, different between stacks, and independent of cloud accounts so it
can be computed offline.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal

Role = Literal["models", "replica"]


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def store_name(cloud: str, environment: str, region_name: str, seed: str = "", role: Role = "models") -> str:
    """Bucket (S3/GCS) or storage-account (Azure) name of one store.

    S3/GCS: ``gpufleet-<env>-<region>-<role>-<8 hex>`` (at most 49 characters, DNS-safe).
    Azure: 3-24 lowercase alphanumerics, ``gpuf<e><region><m|r><hex>`` cut to 24.
    """
    digest = _digest(seed, cloud, environment, region_name, role)
    if cloud == "azure":
        stem = f"gpuf{environment[0]}{region_name}{role[0]}"
        return (stem + digest)[:24]
    return f"gpufleet-{environment}-{region_name}-{role}-{digest[:8]}"


def resource_group_name(environment: str, region_name: str, role: Role = "models") -> str:
    """Azure resource group created for a store when none is given."""
    return f"rg-gpufleet-{environment}-{region_name}-{role}"


def gcp_account_id(label: str) -> str:
    """A GCP service account id (6-30 chars, [a-z][a-z0-9-]*[a-z0-9]) for `label`, hashed when long."""
    plain = re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-")
    if 6 <= len(plain) <= 30:
        return plain
    digest = _digest(label)[:6]
    return f"{plain[:23].rstrip('-')}-{digest}"


def azure_vault_name(label: str) -> str:
    """A Key Vault name (3-24 chars, globally unique): 'kv' + hash of the store name."""
    return f"kv{_digest('vault', label)[:22]}"
