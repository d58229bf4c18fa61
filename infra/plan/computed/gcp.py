"""Computed-output placeholders for gcp resources and invokes (see package docstring).

Only attributes the program reads back are filled. Keys are camelCase, as on the wire.
"""

from __future__ import annotations

import zlib
from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _project_number(project_id: str) -> str:
    # Interpolated into service-agent emails, so it must be digits. The zero padding (real
    # project numbers never start with 0) keeps it recognisably fake.
    return f"{zlib.crc32(project_id.encode()):012d}"


def _cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # Nested blocks the program sets itself are completed by the mock's deep fill.
    return {
        "endpoint": _ph("gke", name, "endpoint"),
        "masterAuth": {"clusterCaCertificate": _ph("gke", name, "clusterCaCertificate")},
        "privateClusterConfig": {"privateEndpoint": _ph("gke", name, "privateEndpoint")},
    }


def _service_account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"email": _ph("serviceaccount", name, "email")}


def _get_project(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("projectId") or "default-project"
    return {"number": _project_number(project)}


def _get_cluster(args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name", "cluster")
    return {
        "endpoint": _ph("gke", name, "endpoint"),
        "masterAuths": [
            {
                "clientCertificate": "",
                "clientCertificateConfigs": [],
                "clientKey": "",
                "clusterCaCertificate": _ph("gke", name, "clusterCaCertificate"),
            }
        ],
        "workloadIdentityConfigs": [{"workloadPool": _ph("gke", name, "workloadPool")}],
        "network": _ph("gke", name, "network"),
        "subnetwork": _ph("gke", name, "subnetwork"),
    }


RESOURCES: dict[str, Any] = {
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:serviceaccount/account:Account": _service_account,
}
CALLS: dict[str, Any] = {
    "gcp:organizations/getProject:getProject": _get_project,
    "gcp:container/getCluster:getCluster": _get_cluster,
}
