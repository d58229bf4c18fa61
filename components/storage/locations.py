"""Which region pairs the storage services can replicate between natively. Pure data + lookups.

Both tables change when the clouds add regions: update them from the cited pages (and the
tests that pin a few pairs) rather than guessing; an unlisted pair falls back to the portable
replication path, it never fails a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

# Cloud Storage configurable dual-regions: two regions of the same multi-region. Source:
# https://cloud.google.com/storage/docs/locations#configurable ("Configurable dual-regions"
# table) and https://cloud.google.com/storage/docs/dual-regions ("not all pairings are valid";
# pairs across continents are rejected). Checked 2025; North American regions outside the US
# multi-region (northamerica-*) are not offered there and are left out.
GCS_CONFIGURABLE_DUAL_REGIONS: dict[str, frozenset[str]] = {
    "ASIA": frozenset(
        {"asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-southeast1"}
    ),
    "EU": frozenset(
        {
            "europe-central2",
            "europe-north1",
            "europe-southwest1",
            "europe-west1",
            "europe-west3",
            "europe-west4",
            "europe-west8",
            "europe-west9",
        }
    ),
    "US": frozenset(
        {
            "us-central1",
            "us-east1",
            "us-east4",
            "us-east5",
            "us-south1",
            "us-west1",
            "us-west2",
            "us-west3",
            "us-west4",
        }
    ),
}


@dataclass(frozen=True)
class DualRegion:
    """A configurable dual-region bucket placement."""

    location: str  # the multi-region code the bucket is created in: US, EU or ASIA
    data_locations: tuple[str, str]  # upper-case region names, in the order given
    kms_location: str  # where a CMEK key for such a bucket must live (the multi-region, lower case)


def gcs_dual_region(first: str, second: str) -> DualRegion | None:
    """The dual-region placement for two GCP regions, or None when GCS does not offer the pair."""
    if first == second:
        return None
    for multi, regions in GCS_CONFIGURABLE_DUAL_REGIONS.items():
        if first in regions and second in regions:
            return DualRegion(multi, (first.upper(), second.upper()), multi.lower())
    return None


# Azure region pairs: geo-redundant storage (GRS/GZRS/RA-GZRS) always replicates to the primary
# region's pair, whatever the stack's standby is. Source: https://learn.microsoft.com/azure/
# reliability/cross-region-replication-azure ("Azure paired regions" table), checked 2025.
# westus3 -> eastus, brazilsouth -> southcentralus and westindia -> southindia are one-way.
# Regions missing here are nonpaired: they offer no geo-redundant storage at all.
_AZURE_PAIRS: tuple[tuple[str, str], ...] = (
    ("australiacentral", "australiacentral2"),
    ("australiaeast", "australiasoutheast"),
    ("canadacentral", "canadaeast"),
    ("centralindia", "southindia"),
    ("centralus", "eastus2"),
    ("eastasia", "southeastasia"),
    ("eastus", "westus"),
    ("francecentral", "francesouth"),
    ("germanywestcentral", "germanynorth"),
    ("japaneast", "japanwest"),
    ("koreacentral", "koreasouth"),
    ("northcentralus", "southcentralus"),
    ("northeurope", "westeurope"),
    ("norwayeast", "norwaywest"),
    ("southafricanorth", "southafricawest"),
    ("swedencentral", "swedensouth"),
    ("switzerlandnorth", "switzerlandwest"),
    ("uaenorth", "uaecentral"),
    ("uksouth", "ukwest"),
    ("westcentralus", "westus2"),
)
_AZURE_ONE_WAY: dict[str, str] = {"westus3": "eastus", "brazilsouth": "southcentralus", "westindia": "southindia"}

AZURE_GEO_PAIR: dict[str, str] = {
    **{a: b for a, b in _AZURE_PAIRS},
    **{b: a for a, b in _AZURE_PAIRS},
    **_AZURE_ONE_WAY,
}


def azure_geo_pair(region: str) -> str | None:
    """Where Azure geo-redundant storage of `region` replicates to; None for a nonpaired region."""
    return AZURE_GEO_PAIR.get(region)
