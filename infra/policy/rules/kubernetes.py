"""Kubernetes workloads (any apps/v1, batch/v1 or core/v1 pod template) and RBAC.

Written over the generic pod spec, not over gpufleet's Triton Deployments, so they hold for any
workload a consumer stack registers. Helm releases are skipped (see `infra.policy.workloads`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..model import Resource, as_list, get, is_unknown, known, num, resource_rule, truthy
from ..workloads import LONG_RUNNING, WORKLOAD_TYPES, containers, kind_of, pod_metadata, pod_spec

RBAC_TYPES = ("kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
SECCOMP_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"


@resource_rule(
    "k8s-liveness-readiness-probes",
    summary="Long-running containers (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod) define liveness and "
    "readiness probes; Jobs and CronJobs are exempt.",
    area="kubernetes", severity="medium", level="advisory", ids=("CKV_K8S_8", "CKV_K8S_9"), types=WORKLOAD_TYPES,
    remediation="Add livenessProbe and readinessProbe (and a startupProbe for slow model loads).",
)
def k8s_probes(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if kind_of(r) not in LONG_RUNNING:
        return
    for c in containers(r, include_init=False):
        missing = [p for p in ("livenessProbe", "readinessProbe") if c.spec.get(p) is None]
        if missing:
            yield f"container {c.name} has no {' or '.join(missing)}"


@resource_rule(
    "k8s-resource-requests",
    summary="Every container requests CPU and memory.",
    area="kubernetes", severity="medium", level="advisory", ids=("CKV_K8S_10", "CKV_K8S_12"), types=WORKLOAD_TYPES,
    remediation="Set resources.requests.cpu and resources.requests.memory.",
)
def k8s_resource_requests(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for c in containers(r):
        req = get(c.spec, "resources.requests")
        if is_unknown(req):
            continue
        missing = [k for k in ("cpu", "memory") if get(req, k) is None]
        if missing:
            yield f"container {c.name} requests no {' or '.join(missing)}"


@resource_rule(
    "k8s-resource-limits",
    summary="Every container has a memory limit (and a CPU limit when requireCpuLimit); containers asking for "
    "GPUs set nvidia.com/gpu in limits.",
    area="kubernetes", severity="medium", level="advisory", ids=("CKV_K8S_11", "CKV_K8S_13"), types=WORKLOAD_TYPES,
    config={"requireCpuLimit": {"type": "boolean", "default": False,
                                "description": "Also require CPU limits (CKV_K8S_11). Off by default: CPU limits "
                                "throttle latency-sensitive inference servers."}},
    remediation="Set resources.limits.memory (= the request for Guaranteed memory) and GPU limits.",
)
def k8s_resource_limits(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    wanted = ["memory"] + (["cpu"] if cfg.get("requireCpuLimit") else [])
    for c in containers(r):
        res = c.spec.get("resources")
        limits = get(res, "limits")
        if is_unknown(res) or is_unknown(limits):
            continue
        missing = [k for k in wanted if get(limits, k) is None]
        if missing:
            yield f"container {c.name} has no {' or '.join(missing)} limit"
        req = get(res, "requests")
        gpu_req = req.get("nvidia.com/gpu") if isinstance(req, Mapping) else None
        gpu_lim = limits.get("nvidia.com/gpu") if isinstance(limits, Mapping) else None
        if gpu_req is not None and gpu_lim is None:
            yield f"container {c.name} requests nvidia.com/gpu without a limit (extended resources need limits)"


@resource_rule(
    "k8s-run-as-non-root",
    summary="Containers run as a non-root user (runAsNonRoot, or a non-zero runAsUser; never uid 0).",
    area="kubernetes", severity="high", level="mandatory", ids=("CKV_K8S_23",), types=WORKLOAD_TYPES,
    remediation="Set securityContext.runAsNonRoot: true and runAsUser to the image's unprivileged uid.",
)
def k8s_run_as_non_root(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for c in containers(r):
        non_root, uid = c.effective("runAsNonRoot"), c.effective("runAsUser")
        if is_unknown(non_root) or is_unknown(uid):
            continue
        n = num(uid)
        if n == 0:
            yield f"container {c.name} runs as uid 0"
        elif truthy(non_root) is not True and (n is None):
            yield f"container {c.name} may run as root (no runAsNonRoot, no runAsUser)"


@resource_rule(
    "k8s-no-privilege-escalation",
    summary="Containers set allowPrivilegeEscalation: false.",
    area="kubernetes", severity="high", level="mandatory", ids=("CKV_K8S_20",), types=WORKLOAD_TYPES,
    remediation="Set securityContext.allowPrivilegeEscalation: false.",
)
def k8s_no_privilege_escalation(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for c in containers(r):
        v = get(c.spec, "securityContext.allowPrivilegeEscalation")
        if not is_unknown(v) and truthy(v) is not False:
            yield f"container {c.name} allows privilege escalation ({'unset' if v is None else v})"


@resource_rule(
    "k8s-drop-capabilities",
    summary="Containers drop ALL Linux capabilities (so NET_RAW too) and add back none but the allowed ones.",
    area="kubernetes", severity="medium", level="mandatory", ids=("CKV_K8S_28", "CKV_K8S_37"), types=WORKLOAD_TYPES,
    config={"allowedCapabilities": {"type": "array", "items": {"type": "string"}, "default": ["NET_BIND_SERVICE"],
                                    "description": "Capabilities a container may add back."}},
    remediation="Set securityContext.capabilities.drop: [ALL].",
)
def k8s_drop_capabilities(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = set(cfg.get("allowedCapabilities") or [])
    for c in containers(r):
        caps = get(c.spec, "securityContext.capabilities")
        if is_unknown(caps):
            continue
        drop = [d for d in as_list(get(caps, "drop")) if isinstance(d, str)]
        if any(is_unknown(d) for d in as_list(get(caps, "drop"))):
            continue
        if "ALL" not in [d.upper() for d in drop]:
            yield f"container {c.name} does not drop ALL capabilities"
        added = [a for a in as_list(get(caps, "add")) if isinstance(a, str) and known(a)]
        extra = [a for a in added if a.upper().removeprefix("CAP_") not in allowed]
        if extra:
            yield f"container {c.name} adds capabilities {', '.join(extra)}"


@resource_rule(
    "k8s-no-privileged",
    summary="No container runs privileged.",
    area="kubernetes", severity="critical", level="mandatory", ids=("CKV_K8S_16",), types=WORKLOAD_TYPES,
    remediation="Remove securityContext.privileged; device plugins expose GPUs without it.",
)
def k8s_no_privileged(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for c in containers(r):
        if truthy(get(c.spec, "securityContext.privileged")) is True:
            yield f"container {c.name} is privileged"


@resource_rule(
    "k8s-no-host-namespaces",
    summary="Pods do not share the node's PID, IPC or network namespace.",
    area="kubernetes", severity="high", level="mandatory", ids=("CKV_K8S_17", "CKV_K8S_18", "CKV_K8S_19"),
    types=WORKLOAD_TYPES,
    remediation="Remove hostPID, hostIPC and hostNetwork.",
)
def k8s_no_host_namespaces(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    spec = pod_spec(r)
    if not isinstance(spec, Mapping):
        return
    for key in ("hostPID", "hostIPC", "hostNetwork"):
        if truthy(spec.get(key)) is True:
            yield f"{key} is true"


@resource_rule(
    "k8s-seccomp-profile",
    summary="Containers run under the RuntimeDefault (or a Localhost) seccomp profile.",
    area="kubernetes", severity="medium", level="mandatory", ids=("CKV_K8S_31",), types=WORKLOAD_TYPES,
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
)
def k8s_seccomp_profile(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    annotation = get(pod_metadata(r), f"annotations.{SECCOMP_ANNOTATION}") if not is_unknown(pod_metadata(r)) else None
    for c in containers(r):
        typ = c.effective("seccompProfile")
        if is_unknown(typ):
            continue
        t = get(typ, "type")
        if is_unknown(t):
            continue
        if t in ("RuntimeDefault", "Localhost"):
            continue
        if t is None and annotation in ("runtime/default", "docker/default"):
            continue
        yield f"container {c.name} has seccomp profile {t or 'unset (Unconfined)'}"


def image_problems(image: Any, require_digest: bool) -> str | None:
    if is_unknown(image):
        return None
    if not isinstance(image, str) or not image:
        return "has no image"
    if "@sha256:" in image:
        return None
    if require_digest:
        return f"image {image} is not pinned by digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image} has no tag (means latest)"
    tag = last.split(":", 1)[1]
    if tag.lower() == "latest" or not tag:
        return f"image {image} uses the latest tag"
    return None


@resource_rule(
    "k8s-image-pinned",
    summary="Container images are pinned: a fixed tag other than latest, or a digest (requireDigest: digest only).",
    area="kubernetes", severity="medium", level="mandatory", ids=("CKV_K8S_14", "CKV_K8S_43"), types=WORKLOAD_TYPES,
    config={"requireDigest": {"type": "boolean", "default": False,
                              "description": "Require image@sha256 digests (CKV_K8S_43), not only fixed tags."}},
    remediation="Use an explicit version tag (e.g. nvcr.io/nvidia/tritonserver:26.04-py3) or a digest.",
)
def k8s_image_pinned(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for c in containers(r):
        problem = image_problems(c.spec.get("image"), bool(cfg.get("requireDigest")))
        if problem:
            yield f"container {c.name} {problem}"


@resource_rule(
    "k8s-rbac-no-wildcards",
    summary="Roles and ClusterRoles grant no wildcard verbs, resources or API groups.",
    area="kubernetes", severity="high", level="mandatory", ids=("CKV_K8S_49",), types=RBAC_TYPES,
    remediation="List the verbs and resources the subject needs.",
)
def k8s_rbac_no_wildcards(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for i, rule in enumerate(as_list(r.props.get("rules"))):
        if not isinstance(rule, Mapping):
            continue
        for key in ("verbs", "resources", "apiGroups"):
            if "*" in [v for v in as_list(rule.get(key)) if isinstance(v, str)]:
                yield f"rules[{i}].{key} contains *"
