"""Computed-output placeholders for azure resources and invokes (see package docstring).

Only what `components/cluster/azure.py` reads back and the provider computes: resource `name`s
(azure-native echoes the `<x>Name` input as `name`), a managed identity's principalId, a key's
versioned URI, the AKS FQDNs and OIDC issuer, the caller's subscription/tenant, and the exec
kubeconfig AKS hands out. Output names are the wire (camelCase) names.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ._merge import Override

SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"


def _ph(kind: str, name: str, attr: str) -> str:
    return f"<computed:{kind}:{name}:{attr}>"


def _named(input_key: str):
    def fn(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"name": inputs.get(input_key) or _ph("azure", name, "name")}

    return fn


def _identity(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": inputs.get("resourceName") or _ph("azure", name, "name"),
        "principalId": _ph("azure-identity", name, "principalId"),
        "clientId": _ph("azure-identity", name, "clientId"),
    }


def _key(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": inputs.get("keyName") or _ph("azure", name, "name"),
        "keyUri": _ph("azure-key", name, "keyUri"),
        "keyUriWithVersion": _ph("azure-key", name, "keyUriWithVersion"),
    }


def _is_private(obj: Any) -> bool:
    return isinstance(obj, dict) and bool((obj.get("apiServerAccessProfile") or {}).get("enablePrivateCluster"))


def _managed_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster = inputs.get("resourceName") or name
    out: dict[str, Any] = {"name": cluster, "fqdn": _ph("aks", cluster, "fqdn")}
    # AKS sets privateFQDN only on private clusters.
    if _is_private(inputs):
        out["privateFQDN"] = _ph("aks", cluster, "privateFQDN")
    out["oidcIssuerProfile"] = {"issuerURL": _ph("aks", cluster, "oidcIssuerURL")}
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # Input is a list of identity ids; the provider returns a map id -> {principalId, clientId}.
        out["identity"] = {"userAssignedIdentities": Override({
            i: {attr: _ph("azure-identity", str(i), attr) for attr in ("principalId", "clientId")}
            for i in identity["userAssignedIdentities"]
        })}
    return out


RESOURCES: dict[str, Any] = {
    "azure-native:resources:ResourceGroup": _named("resourceGroupName"),
    "azure-native:network:VirtualNetwork": _named("virtualNetworkName"),
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:keyvault:Vault": _named("vaultName"),
    "azure-native:keyvault:Key": _key,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
}


def _client_config(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscriptionId": SUBSCRIPTION_ID,
        "tenantId": _ph("azure", "client", "tenantId"),
        "clientId": _ph("azure", "client", "clientId"),
        "objectId": _ph("azure", "client", "objectId"),
    }


def exec_kubeconfig_placeholder(cluster: str) -> str:
    """A small kubeconfig shaped like the one AKS returns for format=exec (kubelogin, devicecode)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": f"https://{_ph('aks', cluster, 'fqdn')}:443",
                    "certificate-authority-data": _ph("aks", cluster, "caData"),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_{cluster}"}}],
        "current-context": cluster,
        "users": [
            {
                "name": f"clusterUser_{cluster}",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "kubelogin",
                        "args": [
                            "get-token",
                            "--login",
                            "devicecode",
                            "--server-id",
                            "6dae42f8-4368-4678-94ff-3960e28e3630",
                            "--tenant-id",
                            _ph("azure", "client", "tenantId"),
                            "--environment",
                            "AzurePublicCloud",
                        ],
                        "interactiveMode": "IfAvailable",
                    }
                },
            }
        ],
    }
    return json.dumps(doc)  # JSON is YAML; AKS itself returns YAML


def _user_credentials(args: dict[str, Any]) -> dict[str, Any]:
    cluster = args.get("resourceName") or "cluster"
    value = base64.b64encode(exec_kubeconfig_placeholder(cluster).encode()).decode()
    return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}


def _get_managed_cluster(args: dict[str, Any]) -> dict[str, Any]:
    cluster = args.get("resourceName") or "cluster"
    rg = args.get("resourceGroupName") or "rg"
    return {
        "id": f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{rg}"
        f"/providers/Microsoft.ContainerService/managedClusters/{cluster}",
        "name": cluster,
        "fqdn": _ph("aks", cluster, "fqdn"),
        "privateFQDN": _ph("aks", cluster, "privateFQDN"),
        "apiServerAccessProfile": {"enablePrivateCluster": True},
        "oidcIssuerProfile": {"enabled": True, "issuerURL": _ph("aks", cluster, "oidcIssuerURL")},
        # The cluster as gpufleet expects it (adopt.priority_expander states it): a system-assigned
        # control-plane identity and the priority expander.
        "identity": {"type": "SystemAssigned", "principalId": _ph("aks-identity", cluster, "principalId"),
                     "tenantId": _ph("azure", "client", "tenantId")},
        "autoScalerProfile": {"expander": "priority"},
    }


CALLS: dict[str, Any] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
    "azure-native:containerservice:getManagedCluster": _get_managed_cluster,
}
