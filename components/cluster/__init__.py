"""`KubernetesCluster`: create or adopt EKS, GKE or AKS and yield a `KubernetesTarget`.

The per-cloud module (aws.py, gcp.py, azure.py) is imported only when a cluster of that cloud
is built, so a one-cloud stack never loads the other clouds' SDKs.
"""

from __future__ import annotations

import importlib

import pulumi

from .._contracts import KubernetesTarget
from ._build import ClusterBuild
from .args import ClusterAdopt, ClusterCreate, ClusterSpec, KubernetesClusterArgs

__all__ = ["KubernetesCluster", "KubernetesClusterArgs", "ClusterSpec", "ClusterCreate", "ClusterAdopt"]

TYPE_TOKEN = "gpufleet:cluster:KubernetesCluster"


def _with_adopt_handles(built: ClusterBuild, adopt: ClusterAdopt | None) -> ClusterBuild:
    """Fill the node-pool handles a lookup cannot provide from the adopt config."""
    import dataclasses

    if adopt is None:
        return built
    changes: dict = {}
    if adopt.node_role_arn and built.node_role_arn is None:
        changes["node_role_arn"] = pulumi.Output.from_input(adopt.node_role_arn)
    if adopt.subnet_ids:
        changes["subnet_ids"] = pulumi.Output.from_input(list(adopt.subnet_ids))
        changes["zones"] = tuple(adopt.zones)
    if adopt.node_service_account and built.node_service_account is None:
        changes["node_service_account"] = pulumi.Output.from_input(adopt.node_service_account)
    if adopt.resource_group and built.resource_group_name is None:
        changes["resource_group_name"] = pulumi.Output.from_input(adopt.resource_group)
    return dataclasses.replace(built, **changes) if changes else built


class KubernetesCluster(pulumi.ComponentResource):
    """A managed Kubernetes cluster (created or adopted) and a Kubernetes provider bound to it.

    Pass the region's cloud provider in `opts.providers`; every child inherits it.
    Outputs: `cluster_name`, `endpoint`, `kubeconfig` (always secret), `oidc_issuer_url`,
    `oidc_provider_arn` (aws), `workload_pool` (gcp), `created`, and `target` (the
    `KubernetesTarget` in-cluster components consume).
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    workload_pool: pulumi.Output[str]
    target: KubernetesTarget

    def __init__(self, name: str, args: KubernetesClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        impl = importlib.import_module(f"{__name__}.{args.cloud}")
        built: ClusterBuild
        if args.spec.create is not None:
            built = impl.create(self, name, args)
        else:
            built = _with_adopt_handles(impl.adopt(self, name, args), args.spec.adopt)

        import pulumi_kubernetes as k8s

        self.cluster_name = built.cluster_name
        self.endpoint = built.endpoint
        self.kubeconfig = pulumi.Output.secret(built.kubeconfig)
        self.oidc_issuer_url = built.identity.oidc_issuer_url or pulumi.Output.from_input("")
        # Exported so another gpufleet stack can adopt this cluster through a StackReference.
        self.oidc_provider_arn = built.identity.oidc_provider_arn or pulumi.Output.from_input("")
        self.workload_pool = built.identity.workload_pool or pulumi.Output.from_input("")
        self.created = built.created
        self.build = built
        provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(
                kubeconfig=self.kubeconfig,
                # Server-side apply surfaces field-manager conflicts instead of silently overwriting.
                enable_server_side_apply=True,
                # Replace k8s objects only when the cluster itself changes, not when a token or
                # endpoint detail in the kubeconfig does.
                cluster_identifier=self.cluster_name,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.cloud == "azure" and args.spec.create is not None \
                and args.spec.create.capacity_engine == "node_auto_provisioning":
            impl.nap_general_pool(self, name, args, provider, built)
        self.target = KubernetesTarget(
            provider=provider,
            cluster_name=self.cluster_name,
            cloud=args.cloud,
            region=args.region,
            environment=args.environment,
            identity=built.identity,
        )
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "oidcIssuerUrl": self.oidc_issuer_url,
                "oidcProviderArn": self.oidc_provider_arn,
                "workloadPool": self.workload_pool,
                "created": self.created,
            }
        )
