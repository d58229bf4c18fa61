"""Computed-output placeholders for the S3 model store and its DR replica (see package docstring).

Only what components/storage and components/dr read back: a bucket's ARN. The bucket name is
an input (echoed); KMS keys and IAM roles are covered by the aws table.
"""

from __future__ import annotations

from typing import Any


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arn": _ph("s3.Bucket", name, "arn"),
        "bucketRegionalDomainName": _ph("s3.Bucket", name, "bucketRegionalDomainName"),
    }


RESOURCES: dict[str, Any] = {
    "aws:s3/bucket:Bucket": _bucket,
}
CALLS: dict[str, Any] = {}
