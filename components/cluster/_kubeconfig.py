"""Kubeconfig rendering (pure). Every flavour authenticates with a short-lived exec token,
never an embedded static credential."""

from __future__ import annotations

import json


def exec_kubeconfig(
    *, cluster_name: str, server: str, ca_data: str, command: str, args: list[str], env: dict[str, str] | None = None
) -> str:
    user: dict = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": command,
            "args": list(args),
            "interactiveMode": "Never",
            "provideClusterInfo": False,
        }
    }
    if env:
        user["exec"]["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": user}],
    }
    return json.dumps(doc, indent=2, sort_keys=True)


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    return exec_kubeconfig(
        cluster_name=cluster_name,
        server=endpoint,
        ca_data=ca_data,
        command="aws",
        args=["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
    )


def gke_kubeconfig(cluster_name: str, endpoint: str, ca_data: str) -> str:
    server = endpoint if endpoint.startswith("https://") else f"https://{endpoint}"
    return exec_kubeconfig(
        cluster_name=cluster_name, server=server, ca_data=ca_data, command="gke-gcloud-auth-plugin", args=[]
    )
