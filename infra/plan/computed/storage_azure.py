"""Computed-output placeholders for the Azure Blob model store and its DR replica (see package
docstring).

Only what components/storage and components/dr read back: names azure-native echoes from the
`<x>Name` inputs, and the ids object replication hands from the destination policy to the source
one (`policyId`, each rule's `ruleId`). Resource groups, identities, vaults and keys are covered by
the azure table.
"""

from __future__ import annotations

from typing import Any

from ._merge import Override


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _named(input_key: str):
    def fn(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"name": inputs.get(input_key) or _ph("azure", name, "name")}

    return fn


def _account(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    account = inputs.get("accountName") or _ph("azure", name, "name")
    out: dict[str, Any] = {"name": account, "primaryEndpoints": {"blob": f"https://{account}.blob.core.windows.net/"}}
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # Input is a list of identity ids; the provider returns a map id -> {principalId, clientId}.
        out["identity"] = {
            "userAssignedIdentities": Override(
                {
                    i: {attr: _ph("azure-identity", str(i), attr) for attr in ("principalId", "clientId")}
                    for i in identity["userAssignedIdentities"]
                }
            )
        }
    return out


def _replication_policy(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    # On the destination account (policy id "default") Azure generates the policy and rule ids;
    # the source account's policy repeats them.
    given = inputs.get("objectReplicationPolicyId")
    policy_id = given if given and given != "default" else _ph("azure-orp", name, "policyId")
    rules = [
        {**rule, "ruleId": rule.get("ruleId") or _ph("azure-orp", name, f"rules[{i}].ruleId")}
        for i, rule in enumerate(inputs.get("rules") or [])
    ]
    return {"policyId": policy_id, "name": policy_id, "rules": Override(rules)}


RESOURCES: dict[str, Any] = {
    "azure-native:storage:StorageAccount": _account,
    "azure-native:storage:BlobContainer": _named("containerName"),
    "azure-native:storage:BlobServiceProperties": _named("blobServicesName"),
    "azure-native:storage:Blob": _named("blobName"),
    "azure-native:storage:ObjectReplicationPolicy": _replication_policy,
    "azure-native:managedidentity:FederatedIdentityCredential": _named("federatedIdentityCredentialResourceName"),
}
CALLS: dict[str, Any] = {}
