import pulumi
from components._cloud import cloud_provider
from components.cluster import ClusterSpec, KubernetesCluster, KubernetesClusterArgs

tags = {"environment": "dev", "owner": "ml-platform", "cost-center": "cc-4100", "managed-by": "gpufleet"}
aws = cloud_provider("use1-aws", cloud="aws", region="us-east-1", tags=tags)
cluster = KubernetesCluster(
    "use1",
    KubernetesClusterArgs(
        cloud="aws", region="us-east-1", environment="dev", tags=tags, cluster_name="team-a-dev",
        spec=ClusterSpec(create={"version": "1.33", "zones": ["us-east-1a", "us-east-1b"]}),
    ),
    opts=pulumi.ResourceOptions(providers=[aws]),
)
pulumi.export("kubeconfig", cluster.kubeconfig)   # secret
