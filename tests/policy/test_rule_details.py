"""Semantics the per-rule table does not show: unknowns, joins, defaults, configuration, environments."""

from __future__ import annotations

import pytest

from infra.policy.model import UNKNOWN, Provider, is_prod_stack
from infra.policy.rules.gpu import parse_pbtxt, queue_problem
from tests.policy.support import R, run, urn
from tests.policy.test_rules import (
    BOUNDED,
    EKS,
    GKE,
    GKE_OK,
    S3_ENC,
    S3_PAB,
    S3_VER,
    S3B,
    TAGS,
    bucket,
    eks_ng,
    gke_pool,
    lt,
    s3_enc,
    triton,
    workload,
)

# --- unknown values (preview) are never violations -----------------------------------------------------


@pytest.mark.parametrize("policy,subject", [
    ("eks-public-endpoint-restricted", R(EKS, {"vpcConfig": {"endpointPublicAccess": UNKNOWN}})),
    ("eks-secrets-encryption", R(EKS, {"encryptionConfig": UNKNOWN})),
    ("gke-private-nodes", R(GKE, {"privateClusterConfig": UNKNOWN})),
    ("k8s-run-as-non-root", workload({"securityContext": UNKNOWN})),
    ("k8s-no-privilege-escalation", workload({"securityContext": UNKNOWN})),
    ("k8s-image-pinned", workload({"image": UNKNOWN})),
    ("gpu-pool-tainted", eks_ng(taints=UNKNOWN)),
    ("cost-tags-present", R(S3B, {"bucket": "b", "tags": UNKNOWN})),
    ("ec2-imds-hop-limit", lt({"httpTokens": "required", "httpPutResponseHopLimit": UNKNOWN})),
    ("gcs-public-access-prevention", R("gcp:storage/bucket:Bucket", {"publicAccessPrevention": UNKNOWN})),
    ("triton-no-poll-in-prod", [workload({"command": ["tritonserver"], "args": [UNKNOWN]}, stack="prod")]),
    ("s3-bucket-encrypted", [R(S3B, {"bucket": UNKNOWN}), R(S3_ENC, {"bucket": UNKNOWN, "rules": UNKNOWN})]),
    ("s3-public-access-blocked", [R(S3B, {}, name="auto"), R(S3_PAB, {"bucket": UNKNOWN})]),
])
def test_unknown_is_cant_tell(policy, subject):
    assert run(policy, subject) == []


def test_offline_plan_placeholders_count_as_unknown():
    assert run("eks-public-endpoint-restricted",
               R(EKS, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["<computed:x>"]}})) == []


# --- S3 joins across split resources ----------------------------------------------------------------------

def test_s3_join_by_dependency_when_the_bucket_is_auto_named():
    b = R(S3B, {"tags": TAGS}, name="auto")  # no `bucket` input: the provider names it
    enc = R(S3_ENC, {"bucket": "auto-id", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
            name="auto-enc", prop_deps={"bucket": [b.urn]})
    assert run("s3-bucket-encrypted", [b, enc]) == []
    other = R(S3B, {"bucket": "other", "tags": TAGS}, name="other")
    assert run("s3-bucket-encrypted", [b, enc, other]) == ["S3 bucket other has no default encryption configured; "
                                                           "allowed: aws:kms, aws:kms:dsse"]


def test_s3_configuration_for_another_bucket_does_not_count():
    assert run("s3-versioning-enabled", [bucket("a"), R(S3_VER, {"bucket": "b", "versioningConfiguration":
                                                                 {"status": "Enabled"}})]) == ["S3 bucket a is not versioned"]


def test_s3_inline_configuration_counts():
    b = bucket(serverSideEncryptionConfiguration={"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}},
               versioning={"enabled": True})
    assert run("s3-bucket-encrypted", [b]) == [] and run("s3-versioning-enabled", [b]) == []


def test_s3_managed_keys_only_when_allowed():
    stack = [bucket(), s3_enc(algo="AES256")]
    assert run("s3-bucket-encrypted", stack) == ["S3 bucket models uses ['AES256']; allowed: aws:kms, aws:kms:dsse"]
    assert run("s3-bucket-encrypted", stack, {"allowS3ManagedKeys": True}) == []


def test_s3_partial_public_access_block_names_the_flags():
    pab = R(S3_PAB, {"bucket": "models", "blockPublicAcls": True, "blockPublicPolicy": False,
                     "ignorePublicAcls": True, "restrictPublicBuckets": True})
    assert run("s3-public-access-blocked", [bucket(), pab]) == [
        "S3 bucket models: public access block leaves blockPublicPolicy off"]


def test_s3_account_level_block_covers_every_bucket():
    acct = R("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock",
             {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")})
    assert run("s3-public-access-blocked", [bucket(), acct]) == []


def test_s3_replica_buckets_need_no_replication_of_their_own():
    src, replica = bucket(stack="prod"), bucket("replica", stack="prod")
    rc = R("aws:s3/bucketReplicationConfig:BucketReplicationConfig",
           {"bucket": "models", "rules": [{"destination": {"bucket": "<computed:s3.Bucket:replica:arn>"}}]},
           stack="prod")
    assert run("s3-replication-in-prod", [src, replica, rc]) == []
    assert run("s3-replication-in-prod", [src, replica]) == ["S3 bucket models is not replicated to another region",
                                                            "S3 bucket replica is not replicated to another region"]


# --- production -------------------------------------------------------------------------------------------

def test_prod_from_stack_name_or_environment_tag():
    assert is_prod_stack([R(S3B, {}, stack="prod")], {})
    assert is_prod_stack([R(S3B, {}, stack="acme-production")], {})
    assert not is_prod_stack([R(S3B, {}, stack="products")], {})
    assert is_prod_stack([R(S3B, {"tags": {"environment": "prod"}}, stack="blue")], {})
    assert is_prod_stack([R(S3B, {}, stack="live")], {"prodStackPattern": "^live$"})


def test_prod_only_rules_ignore_other_stacks():
    assert run("triton-no-poll-in-prod", [triton("poll", stack="dev")]) == []
    assert run("prod-non-spot-floor", [gke_pool("s", spot=True, stack="staging")]) == []
    assert run("dr-replication-in-prod", [R("gcp:storage/bucket:Bucket", {"location": "US-CENTRAL1"}, stack="dev")]) == []


def test_triton_detected_by_flags_and_space_separated_values():
    dep = workload({"command": ["/opt/tritonserver/bin/tritonserver"], "args": ["--model-control-mode", "poll"]},
                   stack="prod")
    assert run("triton-no-poll-in-prod", [dep])
    other = workload({"command": ["python"], "args": ["--model-control-mode=poll"]}, stack="prod")
    assert run("triton-no-poll-in-prod", [other]) == []


def test_prod_floor_config_and_spot_share():
    pools = [gke_pool("spot", spot=True, lo=0, hi=9, stack="prod"), gke_pool("od", lo=1, hi=1, stack="prod")]
    assert run("prod-non-spot-floor", pools) == []
    assert run("prod-non-spot-floor", pools, {"minNonSpotNodes": 2}) == [
        "GPU pool l4 (gcp) keeps 1 non-spot nodes (min 2): losing spot capacity takes it to zero"]
    assert run("prod-non-spot-floor", pools, {"maxSpotShare": 0.8}) == ["GPU pool l4 (gcp) is 90% spot at max (max 80%)"]


# --- GPU pools ----------------------------------------------------------------------------------------------

def test_gke_accepts_the_compute_class_taint_eks_does_not():
    cc = [{"key": "cloud.google.com/compute-class", "value": "gpufleet-l4", "effect": "NO_SCHEDULE"}]
    assert run("gpu-pool-tainted", gke_pool(taints=cc)) == []
    assert run("gpu-pool-tainted", eks_ng(taints=cc))


def test_taint_effect_prefer_no_schedule_is_not_enough():
    assert run("gpu-pool-tainted", eks_ng(taints=[{"key": "nvidia.com/gpu", "value": "present",
                                                   "effect": "PREFER_NO_SCHEDULE"}]))


def test_aks_taint_strings_and_inline_profiles():
    ap = "azure-native:containerservice:AgentPool"
    good = R(ap, {"vmSize": "Standard_NC4as_T4_v3", "nodeTaints": ["nvidia.com/gpu=present:NoSchedule"],
                  "scaleSetPriority": "Spot", "enableAutoScaling": True, "minCount": 0, "maxCount": 4})
    assert run("gpu-pool-tainted", good) == [] and run("spot-pools-scale-to-zero", good) == []
    bad = R("azure-native:containerservice:ManagedCluster", {"agentPoolProfiles": [
        {"name": "system", "vmSize": "Standard_D4s_v5", "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"]},
        {"name": "gpu", "vmSize": "Standard_NC24ads_A100_v4", "enableNodePublicIP": True}]})
    assert run("gpu-pool-tainted", bad) == ["GPU pool gpu has no nvidia.com/gpu NoSchedule taint (taints: none)"]
    assert run("node-pools-no-public-ip", bad) == ["agent pool gpu has enableNodePublicIP true"]


def test_non_gpu_pools_need_no_gpu_taint():
    system = R("aws:eks/nodeGroup:NodeGroup", {"instanceTypes": ["m6i.large"], "amiType": "AL2023_x86_64_STANDARD"})
    assert run("gpu-pool-tainted", system) == []


def test_max_gpus_sums_capacity_types_of_one_logical_pool_and_counts_gpus_per_node():
    pools = [gke_pool("a", hi=40), gke_pool("b", spot=True, hi=30)]
    assert run("gpu-pool-max-gpus", pools) == ["GPU pool l4 (gcp, a, b) can scale to 70 GPUs (max 64)"]
    assert run("gpu-pool-max-gpus", pools, {"maxGpusPerPool": 80}) == []
    eight = R("aws:eks/nodeGroup:NodeGroup", {"clusterName": "c", "instanceTypes": ["p5.48xlarge"],
                                              "scalingConfig": {"minSize": 0, "maxSize": 10}})
    assert run("gpu-pool-max-gpus", [eight]) == ["GPU pool H100 (aws, r) can scale to 80 GPUs (max 64)"]


def test_allowed_gpu_models_config():
    assert run("gpu-model-allowed", gke_pool(accel="nvidia-l4"), {"allowedGpuModels": ["H100"]}) == [
        "GPU pool l4 uses L4; allowed: H100"]


def test_gpu_operator_latest_driver():
    rel = R("kubernetes:helm.sh/v3:Release", {"chart": "gpu-operator", "values": {"driver": {"version": "latest"}}})
    assert run("gpu-driver-pinned", rel) == ["gpu-operator values driver.version is latest"]


# --- Triton model configs -----------------------------------------------------------------------------------

def test_pbtxt_parser_and_queue_rules():
    cfg = parse_pbtxt(BOUNDED)
    assert cfg["dynamic_batching"][0]["default_queue_policy"][0]["max_queue_size"] == [64.0]
    assert queue_problem(BOUNDED) is None
    assert queue_problem('platform: "ensemble"') is None
    assert queue_problem("sequence_batching { default_queue_policy { max_queue_size: 4 } }") is None
    assert queue_problem("dynamic_batching { default_queue_policy { max_queue_size: 0 } }")
    with pytest.raises(ValueError):
        parse_pbtxt("dynamic_batching { ")


def test_model_config_objects_are_read_from_their_asset(tmp_path):
    path = tmp_path / "config.pbtxt"
    path.write_text('name: "m"\nbackend: "onnxruntime"\n')
    obj = R("gcp:storage/bucketObject:BucketObject", {"name": "models/m/config.pbtxt", "bucket": "b",
                                                      "source": {"path": str(path)}})
    assert run("triton-queue-bounded", obj) == [
        "models/m/config.pbtxt: no dynamic_batching/sequence_batching block with a bounded default_queue_policy"]
    path.write_text(BOUNDED)
    assert run("triton-queue-bounded", obj) == []
    missing = R("gcp:storage/bucketObject:BucketObject", {"name": "m/config.pbtxt", "source": {"path": "/nope"}})
    assert run("triton-queue-bounded", missing) == []  # unreadable here: can't tell
    weights = R("gcp:storage/bucketObject:BucketObject", {"name": "m/1/model.onnx", "source": {"path": "/nope"}})
    assert run("triton-queue-bounded", weights) == []


# --- Kubernetes ---------------------------------------------------------------------------------------------

def test_helm_releases_are_not_inspected_for_workloads():
    rel = R("kubernetes:helm.sh/v3:Release", {"chart": "dcgm-exporter", "values": {"securityContext": {"privileged": True}}})
    for policy in ("k8s-no-privileged", "k8s-run-as-non-root", "k8s-image-pinned"):
        assert run(policy, rel) == []


def test_jobs_need_no_probes_but_are_hardened():
    job = workload({"livenessProbe": None, "readinessProbe": None}, kind="CronJob", group="batch/v1")
    assert run("k8s-liveness-readiness-probes", job) == []
    root = workload({"livenessProbe": None, "securityContext": {"runAsUser": 0}}, kind="CronJob", group="batch/v1")
    assert run("k8s-run-as-non-root", root) == ["container app runs as uid 0"]


def test_pod_level_security_context_is_inherited():
    dep = workload({"securityContext": {"runAsNonRoot": None, "runAsUser": None, "seccompProfile": None}},
                   pod={"securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}})
    assert run("k8s-run-as-non-root", dep) == [] and run("k8s-seccomp-profile", dep) == []


def test_init_containers_are_checked():
    dep = workload(pod={"initContainers": [{"name": "init", "image": "busybox", "securityContext": {"privileged": True}}]})
    assert run("k8s-no-privileged", dep) == ["container init is privileged"]
    assert run("k8s-image-pinned", dep) == ["container init image busybox has no tag (means latest)"]


def test_workload_options():
    assert run("k8s-resource-limits", workload(), {"requireCpuLimit": True}) == ["container app has no cpu limit"]
    assert run("k8s-image-pinned", workload(), {"requireDigest": True}) == [
        "container app image nvcr.io/nvidia/tritonserver:26.04-py3 is not pinned by digest"]
    digest = workload({"image": "nvcr.io/nvidia/tritonserver@sha256:" + "a" * 64})
    assert run("k8s-image-pinned", digest, {"requireDigest": True}) == []
    added = workload({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}}})
    assert run("k8s-drop-capabilities", added) == ["container app adds capabilities SYS_ADMIN"]


def test_internal_load_balancers_are_not_external_endpoints():
    svc = R("kubernetes:core/v1:Service", {"metadata": {"annotations": {
        "networking.gke.io/load-balancer-type": "Internal"}}, "spec": {"type": "LoadBalancer", "ports": [{"port": 8000}]}})
    assert run("lb-tls-on-external-endpoints", svc) == [] and run("lb-source-ranges-restricted", svc) == []
    cluster_ip = R("kubernetes:core/v1:Service", {"spec": {"type": "ClusterIP", "ports": [{"port": 8000}]}})
    assert run("lb-tls-on-external-endpoints", cluster_ip) == []


def test_aws_listeners_and_security_groups():
    redirect = R("aws:lb/listener:Listener", {"protocol": "HTTP", "port": 80, "defaultActions": [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]})
    assert run("lb-tls-on-external-endpoints", redirect) == []
    old = R("aws:lb/listener:Listener", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"})
    assert run("lb-tls-on-external-endpoints", old) == ["sslPolicy ELBSecurityPolicy-2016-08 accepts TLS versions older than 1.2"]
    sg = R("aws:ec2/securityGroup:SecurityGroup", {"ingress": [
        {"fromPort": 443, "toPort": 443, "protocol": "tcp", "cidrBlocks": ["0.0.0.0/0"]}]})
    assert run("lb-source-ranges-restricted", sg) == ["ingress[0] admits 0.0.0.0/0 on ports 443.0-443.0"]
    assert run("lb-source-ranges-restricted", sg, {"worldOpenPorts": [443]}) == []
    ssh = R("gcp:compute/firewall:Firewall", {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["22"]}]})
    assert run("lb-source-ranges-restricted", ssh) == ["firewall admits 0.0.0.0/0 on tcp port 22"]


# --- clusters, nodes ---------------------------------------------------------------------------------------

def test_eks_private_only_mode():
    public = R(EKS, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}})
    assert run("eks-public-endpoint-restricted", public) == []
    assert run("eks-public-endpoint-restricted", public, {"allowPublicEndpoint": False})


def test_eks_endpoint_defaults_to_public():
    assert run("eks-public-endpoint-restricted", R(EKS, {})) == [
        "the public API endpoint admits 0.0.0.0/0 (no publicAccessCidrs)"]


def test_gke_cluster_node_config_checked_too():
    gke = R(GKE, {**GKE_OK, "nodeConfig": {"workloadMetadataConfig": {"mode": "GKE_METADATA"}}})
    assert run("gke-secure-boot", gke) == ["nodeConfig.shieldedInstanceConfig.enableSecureBoot is not true (default: off)"]


def test_imds_disabled_endpoint_and_float_hop_limit():
    assert run("ec2-imdsv2-required", lt({"httpEndpoint": "disabled"})) == []
    assert run("ec2-imds-hop-limit", lt({"httpTokens": "required", "httpPutResponseHopLimit": 1.0})) == []
    assert run("ec2-imds-hop-limit", lt({"httpTokens": "required"})) == [
        "metadataOptions.httpPutResponseHopLimit is unset (the AMI decides; EKS AL2023 AMIs use 2)"]


def test_storage_network_deny_option():
    acct = R("azure-native:storage:StorageAccount", {"networkRuleSet": {"defaultAction": "Allow"}})
    assert run("azure-storage-no-public-access", acct) == []
    assert run("azure-storage-no-public-access", acct, {"requireNetworkDeny": True})
    private = R("azure-native:storage:StorageAccount", {"publicNetworkAccess": "Disabled"})
    assert run("azure-storage-no-public-access", private, {"requireNetworkDeny": True}) == []


# --- tags and regions ---------------------------------------------------------------------------------------

def test_provider_default_tags_count():
    prov = Provider("pulumi:providers:aws", {"defaultTags": '{"tags": {"environment": "dev", "owner": "o", "cost-center": "c"}}'},
                    urn("pulumi:providers:aws", "p"), "p")
    assert run("cost-tags-present", R(S3B, {"bucket": "b"}, provider=prov)) == []
    assert run("cost-tags-present", R(S3B, {"bucket": "b"})) == ["tags lacks environment, owner, cost-center"]


def test_untaggable_types_are_skipped():
    assert run("cost-tags-present", R("aws:s3/bucketVersioning:BucketVersioning", {"bucket": "b"})) == []
    assert run("cost-tags-present", R("gcp:monitoring/notificationChannel:NotificationChannel",
                                      {"type": "email", "labels": {"email_address": "a@b.c"},
                                       "userLabels": TAGS})) == []


def test_regions_normalised():
    cfg = {"allowedRegions": ["us-central1", "eastus"]}
    assert run("allowed-regions", R("gcp:container/nodePool:NodePool", {"location": "us-central1-a"}), cfg) == []
    assert run("allowed-regions", R("azure-native:resources:ResourceGroup", {"location": "East US"}), cfg) == []
    assert run("allowed-regions", R("azure-native:resources:ResourceGroup", {"location": "westeurope"}), cfg)
    assert run("allowed-regions", R("gcp:storage/bucket:Bucket", {"location": "global"}), cfg) == []
    dual = R("gcp:storage/bucket:Bucket", {"location": "US", "customPlacementConfig": {"dataLocations": ["US-CENTRAL1", "US-EAST1"]}})
    assert run("allowed-regions", dual, {"allowedRegions": ["us-central1", "us-east1"]}) == []
    assert run("allowed-regions", dual, cfg) == ["customPlacementConfig.dataLocations US-EAST1 is not an allowed region "
                                                 "(eastus, us-central1)"]


def test_shipped_prod_stays_in_its_regions():
    from infra.plan.findings import findings_for
    from tests.policy.test_stacks import ROOT, plan

    p = plan(ROOT / "stacks/Pulumi.prod.yaml")
    from infra.policy.engine import parse_pack_config

    ok = parse_pack_config({"allowed-regions": {"allowedRegions": ["us-central1", "us-east1", "US"]}})
    assert [v for v in findings_for(p.run, ok)["violations"] if v["policy"] == "allowed-regions"] == []
    # A multi-region is a region of its own: the dual-region bucket's key ring lives in "us".
    regional = parse_pack_config({"allowed-regions": {"allowedRegions": ["us-central1", "us-east1"]}})
    assert [(v["name"], v["message"]) for v in findings_for(p.run, regional)["violations"]
            if v["policy"] == "allowed-regions"] == [
        ("usc1-models-keyring", "location us is not an allowed region (us-central1, us-east1)")]
    eu = parse_pack_config({"allowed-regions": {"allowedRegions": ["europe-west4"]}})
    assert [v for v in findings_for(p.run, eu)["violations"] if v["policy"] == "allowed-regions"]


def test_one_unknown_resource_does_not_hide_the_rest_of_the_stack():
    unknown = workload({"command": UNKNOWN, "args": UNKNOWN}, stack="prod")
    assert run("triton-no-poll-in-prod", [unknown, triton("poll")]) == [
        "Deployment w container app runs Triton with --model-control-mode=poll"]
    odd = R(S3B, {"bucket": "odd", "replicationConfiguration": UNKNOWN, "tags": TAGS}, name="odd", stack="prod")
    assert run("s3-replication-in-prod", [odd, bucket(stack="prod")]) == [
        "S3 bucket models is not replicated to another region"]
