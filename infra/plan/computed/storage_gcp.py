"""Computed-output placeholders for the GCS model store and its DR replica (see package docstring).

Only what components/storage and components/dr read back: Pub/Sub names, a bucket's URL, and
the project's Cloud Storage and Storage Transfer service agents (emails must look like emails:
they are interpolated into IAM members).
"""

from __future__ import annotations

import zlib
from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _project_number(project_id: str) -> str:
    # Same fake-number scheme as the gcp table: digits, zero-padded, recognisably not real.
    return f"{zlib.crc32(project_id.encode()):012d}"


def _bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("name") or _ph("gcs", name, "name")
    return {"name": bucket, "url": f"gs://{bucket}", "selfLink": _ph("gcs", name, "selfLink")}


def _named(kind: str):
    def fn(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"name": inputs.get("name") or _ph(kind, name, "name")}

    return fn


def _gcs_agent(args: dict[str, Any]) -> dict[str, Any]:
    number = _project_number(args.get("project") or "default-project")
    email = f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"
    return {"emailAddress": email, "member": f"serviceAccount:{email}"}


def _transfer_agent(args: dict[str, Any]) -> dict[str, Any]:
    number = _project_number(args.get("project") or "default-project")
    email = f"project-{number}@storage-transfer-service.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}", "subjectId": number}


RESOURCES: dict[str, Any] = {
    "gcp:storage/bucket:Bucket": _bucket,
    "gcp:pubsub/topic:Topic": _named("pubsub.Topic"),
    "gcp:pubsub/subscription:Subscription": _named("pubsub.Subscription"),
}
CALLS: dict[str, Any] = {
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": _gcs_agent,
    "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": _transfer_agent,
}
