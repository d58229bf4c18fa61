"""Every policy of the pack fails on a violating resource (or stack) and passes on a compliant one.

Synthetic resources (the engine's shape: camelCase inputs, numbers as floats): most rules can never
fire on gpufleet's own stacks, but consumer stacks import the components or write raw resources.
"""

from __future__ import annotations

import json

import pytest

from infra.policy.model import Provider
from infra.policy.rules import all_rules
from tests.policy.support import R, deployment, merge, run

TAGS = {"environment": "dev", "owner": "ml-platform", "cost-center": "cc-1"}

S3B = "aws:s3/bucket:Bucket"
S3_ENC = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_VER = "aws:s3/bucketVersioning:BucketVersioning"
S3_REP = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
GCS = "gcp:storage/bucket:Bucket"
AZ_ACCT = "azure-native:storage:StorageAccount"
EKS = "aws:eks/cluster:Cluster"
EKS_NG = "aws:eks/nodeGroup:NodeGroup"
GKE = "gcp:container/cluster:Cluster"
GKE_NP = "gcp:container/nodePool:NodePool"
AKS = "azure-native:containerservice:ManagedCluster"
AKS_AP = "azure-native:containerservice:AgentPool"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
SVC = "kubernetes:core/v1:Service"

PAB_ON = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}


def bucket(name="models", stack="dev", **props):
    return R(S3B, {"bucket": name, "tags": TAGS, **props}, name=name, stack=stack)


def s3_enc(name="models", algo="aws:kms"):
    return R(S3_ENC, {"bucket": name, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": algo},
                                                 "bucketKeyEnabled": True}]}, name=f"{name}-enc")


def gke_pool(name="l4", *, spot=False, lo=0, hi=4, taints=None, accel="nvidia-l4", driver="DEFAULT", stack="dev",
             cluster="c1", pool_label="l4"):
    node = {"machineType": "g2-standard-4", "labels": {"gpufleet.io/pool": pool_label},
            "guestAccelerators": [{"type": accel, "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": driver}}],
            "workloadMetadataConfig": {"mode": "GKE_METADATA"},
            "shieldedInstanceConfig": {"enableSecureBoot": True},
            "taints": taints if taints is not None else [{"key": "nvidia.com/gpu", "value": "present",
                                                          "effect": "NO_SCHEDULE"}]}
    if spot:
        node["spot"] = True
    return R(GKE_NP, {"cluster": cluster, "nodeConfig": node,
                      "autoscaling": {"totalMinNodeCount": lo, "totalMaxNodeCount": hi}}, name=name, stack=stack)


def eks_ng(*, taints=None, capacity="ON_DEMAND", lo=1, hi=4):
    return R(EKS_NG, {"clusterName": "c1", "instanceTypes": ["g6.xlarge"], "amiType": "AL2023_x86_64_NVIDIA",
                      "capacityType": capacity, "scalingConfig": {"minSize": lo, "maxSize": hi, "desiredSize": lo},
                      "taints": taints if taints is not None else [], "tags": TAGS}, name="gpu")


def lt(meta=None, disks=None):
    return R(LT, {"metadataOptions": meta or {"httpEndpoint": "enabled", "httpTokens": "required",
                                              "httpPutResponseHopLimit": 1},
                  "blockDeviceMappings": disks if disks is not None else [{"deviceName": "/dev/xvda",
                                                                           "ebs": {"encrypted": "true"}}],
                  "tags": TAGS})


def workload(container=None, pod=None, kind="Deployment", group="apps/v1", stack="dev"):
    typ, props = deployment(container, pod, kind, group)
    return R(typ, props, name="w", stack=stack)


def triton(mode, stack="prod"):
    return workload({"command": ["tritonserver"], "args": ["--model-repository=s3://b/m", f"--model-control-mode={mode}"]},
                    stack=stack)


EKS_OK = {"vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True},
          "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}},
          "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}
GKE_OK = {"privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
          "enableShieldedNodes": True, "releaseChannel": {"channel": "STABLE"},
          "datapathProvider": "ADVANCED_DATAPATH", "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"},
          "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}}}
AKS_OK = {"disableLocalAccounts": True, "enableRBAC": True, "networkProfile": {"networkPolicy": "cilium"},
          "apiServerAccessProfile": {"enablePrivateCluster": True},
          "securityProfile": {"azureKeyVaultKms": {"enabled": True, "keyId": "k"}}}

BOUNDED = (
    'name: "m"\nbackend: "python"\nmax_batch_size: 8\n'
    "dynamic_batching { default_queue_policy { max_queue_size: 64 timeout_action: REJECT "
    "default_timeout_microseconds: 1000000 } }\n"
)
UNBOUNDED = 'name: "m"\nbackend: "python"\nmax_batch_size: 8\n'


def policy_doc(action, resource):
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})


# (policy, violating, compliant, policy config)
K8S_C1 = Provider("pulumi:providers:kubernetes", {"clusterIdentifier": "c1"}, "urn:k8s-c1", "k8s")
AKS_SYSTEM_ONLY = R("azure-native:containerservice:ManagedCluster", {"resourceName": "c1", "agentPoolProfiles": [
    {"name": "system", "vmSize": "Standard_D4s_v5", "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"]}]})
AKS_GENERAL = R("azure-native:containerservice:AgentPool", {"resourceName": "c1", "agentPoolName": "general",
                                                            "vmSize": "Standard_D4s_v5"}, name="general")
ADAPTER = R("kubernetes:helm.sh/v3:Release", {"chart": "prometheus-adapter", "values": {}}, name="adapter", provider=K8S_C1)

CASES = [
    # --- storage
    ("s3-bucket-encrypted", [bucket()], [bucket(), s3_enc()], None),
    ("s3-public-access-blocked", [bucket()], [bucket(), R(S3_PAB, {"bucket": "models", **PAB_ON})], None),
    ("s3-no-public-acl-or-policy", R(S3B, {"bucket": "b", "acl": "public-read"}), R(S3B, {"bucket": "b", "acl": "private"}), None),
    ("s3-versioning-enabled", [bucket()],
     [bucket(), R(S3_VER, {"bucket": "models", "versioningConfiguration": {"status": "Enabled"}})], None),
    ("s3-replication-in-prod", [bucket(stack="prod")],
     [bucket(stack="prod"), bucket("replica", stack="prod"),
      R(S3_REP, {"bucket": "models", "rules": [{"destination": {"bucket": "arn:aws:s3:::replica"}}]}, stack="prod")], None),
    ("gcs-uniform-bucket-level-access", R(GCS, {"name": "b"}), R(GCS, {"name": "b", "uniformBucketLevelAccess": True}), None),
    ("gcs-public-access-prevention", R(GCS, {"publicAccessPrevention": "inherited"}),
     R(GCS, {"publicAccessPrevention": "enforced"}), None),
    ("gcs-versioning-enabled", R(GCS, {"versioning": {"enabled": False}}), R(GCS, {"versioning": {"enabled": True}}), None),
    ("gcs-no-public-members", R("gcp:storage/bucketIAMMember:BucketIAMMember", {"bucket": "b", "member": "allUsers",
                                                                                "role": "roles/storage.objectViewer"}),
     R("gcp:storage/bucketIAMMember:BucketIAMMember", {"bucket": "b", "member": "serviceAccount:r@p.iam.gserviceaccount.com",
                                                       "role": "roles/storage.objectViewer"}), None),
    ("azure-storage-https-only", R(AZ_ACCT, {"enableHttpsTrafficOnly": False}), R(AZ_ACCT, {"enableHttpsTrafficOnly": True}), None),
    ("azure-storage-min-tls-1-2", R(AZ_ACCT, {"minimumTlsVersion": "TLS1_0"}), R(AZ_ACCT, {"minimumTlsVersion": "TLS1_2"}), None),
    ("azure-storage-no-public-access", R(AZ_ACCT, {"allowBlobPublicAccess": True}), R(AZ_ACCT, {"allowBlobPublicAccess": False}), None),
    ("azure-storage-geo-redundant", [R(AZ_ACCT, {"accountName": "a", "sku": {"name": "Standard_ZRS"}}, stack="prod")],
     [R(AZ_ACCT, {"accountName": "a", "sku": {"name": "Standard_RAGZRS"}}, stack="prod")], None),
    # --- clusters
    ("eks-public-endpoint-restricted", R(EKS, merge(EKS_OK, {"vpcConfig": {"endpointPublicAccess": True}})),
     R(EKS, merge(EKS_OK, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}})), None),
    ("eks-secrets-encryption", R(EKS, merge(EKS_OK, {"encryptionConfig": None})), R(EKS, EKS_OK), None),
    ("eks-control-plane-logging", R(EKS, merge(EKS_OK, {"enabledClusterLogTypes": ["api"]})), R(EKS, EKS_OK), None),
    ("gke-private-nodes", R(GKE, merge(GKE_OK, {"privateClusterConfig": {"enablePrivateNodes": False}})), R(GKE, GKE_OK), None),
    ("gke-control-plane-restricted",
     R(GKE, merge(GKE_OK, {"privateClusterConfig": {"enablePrivateEndpoint": False},
                           "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}})),
     R(GKE, merge(GKE_OK, {"privateClusterConfig": {"enablePrivateEndpoint": False},
                           "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}})), None),
    ("gke-shielded-nodes", R(GKE, merge(GKE_OK, {"enableShieldedNodes": False})), R(GKE, GKE_OK), None),
    ("gke-metadata-server", R(GKE_NP, {"nodeConfig": {"workloadMetadataConfig": {"mode": "GCE_METADATA"}}}),
     R(GKE_NP, {"nodeConfig": {"workloadMetadataConfig": {"mode": "GKE_METADATA"}}}), None),
    ("gke-secure-boot", R(GKE_NP, {"nodeConfig": {"machineType": "e2-standard-4"}}),
     R(GKE_NP, {"nodeConfig": {"shieldedInstanceConfig": {"enableSecureBoot": True}}}), None),
    ("gke-release-channel", R(GKE, merge(GKE_OK, {"releaseChannel": {"channel": "UNSPECIFIED"}})), R(GKE, GKE_OK), None),
    ("gke-network-policy", R(GKE, merge(GKE_OK, {"datapathProvider": "LEGACY_DATAPATH"})), R(GKE, GKE_OK), None),
    ("gke-no-client-certificate",
     R(GKE, merge(GKE_OK, {"masterAuth": {"clientCertificateConfig": {"issueClientCertificate": True}}})), R(GKE, GKE_OK), None),
    ("gke-aks-secrets-encryption", R(GKE, merge(GKE_OK, {"databaseEncryption": {"state": "DECRYPTED"}})), R(GKE, GKE_OK), None),
    ("aks-local-accounts-disabled", R(AKS, merge(AKS_OK, {"disableLocalAccounts": False})), R(AKS, AKS_OK), None),
    ("aks-network-policy", R(AKS, merge(AKS_OK, {"networkProfile": {"networkPolicy": None}})), R(AKS, AKS_OK), None),
    ("aks-rbac-enabled", R(AKS, merge(AKS_OK, {"enableRBAC": False})), R(AKS, AKS_OK), None),
    ("aks-api-server-restricted", R(AKS, merge(AKS_OK, {"apiServerAccessProfile": {"enablePrivateCluster": False}})),
     R(AKS, merge(AKS_OK, {"apiServerAccessProfile": {"enablePrivateCluster": False,
                                                       "authorizedIPRanges": ["203.0.113.0/24"]}})), None),
    # --- node pools
    ("ec2-imdsv2-required", lt({"httpEndpoint": "enabled", "httpTokens": "optional", "httpPutResponseHopLimit": 1}), lt(), None),
    ("ec2-imds-hop-limit", lt({"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 2}), lt(), None),
    ("node-pools-no-public-ip", R(AKS_AP, {"vmSize": "Standard_D4s_v5", "enableNodePublicIP": True}),
     R(AKS_AP, {"vmSize": "Standard_D4s_v5", "enableNodePublicIP": False}), None),
    ("ebs-volumes-encrypted", lt(disks=[{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]), lt(), None),
    # --- Kubernetes workloads
    ("k8s-liveness-readiness-probes", workload({"livenessProbe": None}), workload(), None),
    ("k8s-resource-requests", workload({"resources": {"requests": None}}), workload(), None),
    ("k8s-resource-limits", workload({"resources": {"limits": None}}), workload(), None),
    ("k8s-run-as-non-root", workload({"securityContext": {"runAsUser": 0, "runAsNonRoot": None}}), workload(), None),
    ("k8s-no-privilege-escalation", workload({"securityContext": {"allowPrivilegeEscalation": True}}), workload(), None),
    ("k8s-drop-capabilities", workload({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}}), workload(), None),
    ("k8s-no-privileged", workload({"securityContext": {"privileged": True}}), workload(), None),
    ("k8s-no-host-namespaces", workload(pod={"hostNetwork": True}), workload(), None),
    ("k8s-seccomp-profile", workload({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}), workload(), None),
    ("k8s-image-pinned", workload({"image": "nvcr.io/nvidia/tritonserver:latest"}), workload(), None),
    ("k8s-rbac-no-wildcards",
     R("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
     R("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
       {"rules": [{"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": ["get", "patch"]}]}), None),
    # --- load balancers, network, IAM
    ("lb-tls-on-external-endpoints",
     R(SVC, {"spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}],
                      "loadBalancerSourceRanges": ["203.0.113.0/24"]}}),
     R(SVC, {"spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443, "appProtocol": "https"}],
                      "loadBalancerSourceRanges": ["203.0.113.0/24"]}}), None),
    ("lb-source-ranges-restricted", R(SVC, {"spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443}]}}),
     R(SVC, {"spec": {"type": "LoadBalancer", "ports": [{"name": "https", "port": 443}],
                      "loadBalancerSourceRanges": ["203.0.113.0/24"]}}), None),
    ("iam-no-wildcard-admin", R("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": policy_doc("*", "*")}),
     R("aws:iam/rolePolicy:RolePolicy", {"role": "r", "policy": policy_doc(["s3:GetObject"], "arn:aws:s3:::b/*")}), None),
    ("gcp-no-basic-roles", R("gcp:projects/iAMMember:IAMMember", {"role": "roles/editor", "member": "user:a@b.c"}),
     R("gcp:projects/iAMMember:IAMMember", {"role": "roles/logging.logWriter", "member": "user:a@b.c"}), None),
    # --- GPU platform
    ("gpu-pool-tainted", eks_ng(), eks_ng(taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]), None),
    ("gpu-driver-pinned", gke_pool(driver="LATEST"), gke_pool(driver="DEFAULT"), None),
    ("gpu-model-allowed", gke_pool(accel="nvidia-tesla-v100"), gke_pool(accel="nvidia-l4"), None),
    ("gpu-pool-max-gpus", [gke_pool(hi=100)], [gke_pool(hi=10)], None),
    ("spot-pools-scale-to-zero", eks_ng(capacity="SPOT", lo=2), eks_ng(capacity="SPOT", lo=0), None),
    ("prod-non-spot-floor", [gke_pool("l4-spot", spot=True, lo=0, hi=8, stack="prod")],
     [gke_pool("l4-spot", spot=True, lo=0, hi=8, stack="prod"), gke_pool("l4-ondemand", lo=1, hi=1, stack="prod")], None),
    ("triton-no-poll-in-prod", [triton("poll")], [triton("explicit")], None),
    ("triton-queue-bounded", R("kubernetes:core/v1:ConfigMap", {"data": {"config.pbtxt": UNBOUNDED}}),
     R("kubernetes:core/v1:ConfigMap", {"data": {"config.pbtxt": BOUNDED}}), None),
    ("dr-replication-in-prod", [R(GCS, {"name": "b", "location": "US-CENTRAL1"}, stack="prod")],
     [R(GCS, {"name": "b", "location": "US", "customPlacementConfig": {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}},
        stack="prod")], None),
    ("cost-tags-present", R(S3B, {"bucket": "b", "tags": {"owner": "x"}}), R(S3B, {"bucket": "b", "tags": TAGS}), None),
    ("allowed-regions", R("pulumi:providers:aws", {"region": "eu-west-1"}), R("pulumi:providers:aws", {"region": "us-east-1"}),
     {"allowedRegions": ["us-east-1"]}),
    ("workloads-schedulable", [AKS_SYSTEM_ONLY, ADAPTER], [AKS_SYSTEM_ONLY, AKS_GENERAL, ADAPTER], None),
]


@pytest.mark.parametrize("policy,bad,good,config", CASES, ids=[c[0] for c in CASES])
def test_policy_fails_on_violation_and_passes_when_compliant(policy, bad, good, config):
    assert run(policy, bad, config), f"{policy} did not flag the violating case"
    assert run(policy, good, config) == [], f"{policy} flagged the compliant case"


def test_every_policy_has_a_case():
    assert sorted(c[0] for c in CASES) == sorted(r.name for r in all_rules())
