"""Neutral Triton serving spec (`ServingSpec`, the per-region `serving` block), the facts of the GPU
pool it runs on (`PoolFacts`), the `TritonService` args, and the pure sizing/validation rules.

Pure: pydantic only (no Pulumi resources, no cloud SDK). Cross-field rules that need the
environment or the region's pools live in `serving_issues`, so a config loader reports them with
the field errors, each with its path.

Sizing, in replicas (one replica = one Triton pod with `gpus_per_replica` GPUs):

- floor: a Deployment pinned to reserved/on-demand nodes; default = what the pool's floor
  (reserved + on-demand base nodes) holds, at least 1 in prod. Survives losing every spot node.
- burst: a Deployment that prefers spot, scaled by the HPA between `hpa.min_burst_replicas` and
  `max_replicas - floor` (default max: what the whole pool holds).
- canary (optional): a replica-ratio canary next to them, behind the same Service.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from pydantic import ConfigDict, Field, field_validator, model_validator

from .._model import Args
from ..gpu_pool.args import GPU_LABEL, POOL_LABEL, Taint
from .model_config import TritonModel

Issue = tuple[str, object, str]

# NGC release 26.04 (CUDA 13.2.1; data-center GPUs also run it on the R535/R545 drivers through CUDA
# forward compatibility): Triton Inference Server release notes, rel-26-04. Bump deliberately.
DEFAULT_TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:26.04-py3"
# The non-root user the NGC Triton image creates (build.py asserts uid and gid 1000: "triton-server").
TRITON_UID = 1000
# Official kubectl image (registry.k8s.io/kubectl, published with every Kubernetes release since
# v1.28; Debian base with bash, ENTRYPOINT /bin/kubectl), matching the clusters' 1.33.
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.33.5"
KUBECTL_UID = 65532  # the image has no USER; run it as an unprivileged id

SERVING_NAMESPACE = "gpufleet-serving"
# Cluster-wide PriorityClass of floor pods: they preempt burst/canary pods that took a floor node
# while no spot node existed (a preference cannot stop that, and floor nodes are exactly sized).
FLOOR_PRIORITY_CLASS = "gpufleet-serving-floor"
FLOOR_PRIORITY = 1000
DEFAULT_SERVICE_ACCOUNT = "triton"  # = components.storage.args.TRITON_SERVICE_ACCOUNT (the store's reader)
DEFAULT_QUEUE_TO_COMPUTE_TARGET = 1.0  # = monitoring ServingSlo().queue_to_compute_target

HTTP_PORT, GRPC_PORT, METRICS_PORT = 8000, 8001, 8002
CANARY_SUFFIX = "-canary"
# Seconds between SIGKILL-deadline and the drain + exit timeout, for the kubelet and the last log lines.
GRACE_MARGIN_SECONDS = 15
# On a reclaimed spot node the window is fixed by the cloud: keep this much of it for SIGKILL and the
# last log lines, and at most a third of it for the preStop drain (the rest is for in-flight requests).
SPOT_MARGIN_SECONDS = 2
STARTUP_PERIOD_SECONDS = 10

# Registry host[:port]/path with a tag and/or a digest; "latest" is never a pin.
_IMAGE = re.compile(
    r"^(?P<repo>[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+)(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_TIMEZONE = re.compile(r"^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2})$")
# Flags the component sets itself; extra_args may not repeat them.
MANAGED_FLAGS = (
    "--model-repository", "--model-store", "--model-control-mode", "--load-model", "--repository-poll-secs",
    "--exit-timeout-secs", "--strict-readiness", "--http-port", "--grpc-port", "--metrics-port", "--metrics-config",
    "--allow-metrics", "--allow-gpu-metrics", "--allow-http", "--allow-grpc",
)


def image_problem(image: str) -> str | None:
    """Why `image` is not a pinned image reference, or None."""
    m = _IMAGE.match(image)
    if m is None:
        return "a full image reference registry/repository:tag or @sha256:<digest>"
    if m.group("tag") is None and m.group("digest") is None:
        return "a pinned tag (e.g. 26.04-py3) or a digest; an untagged image floats"
    if m.group("tag") == "latest" and m.group("digest") is None:
        return "a pinned tag or digest, not latest"
    return None


def _pinned(v: str | None) -> str | None:
    if v is not None and (problem := image_problem(v)) is not None:
        raise ValueError(f"{problem}, got {v!r}")
    return v


def _unique_models(models: list[TritonModel] | None) -> list[TritonModel] | None:
    if models is not None:
        names = [m.name for m in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique, repeated: {dupes}")
    return models


class AutoscalingSpec(Args):
    """The burst Deployment's HPA (autoscaling/v2) on the queue-to-compute ratio."""

    target_queue_to_compute: float | None = Field(
        None, gt=0, le=100,
        description="Average queue-time/compute-time ratio per pod the HPA holds. Default: the platform's "
        "monitoring.slo.queue_to_compute_target (1.0: scale out once requests wait as long as they compute).",
    )
    min_burst_replicas: int = Field(
        1, ge=1, le=1000,
        description="Fewest burst replicas (HPAs cannot go below 1). Default 1: one warm replica above the floor.",
    )
    scale_up_stabilization_seconds: int = Field(
        0, ge=0, le=3600, description="Look-back before scaling up; default 0 (react at once: GPUs take minutes to arrive).",
    )
    scale_up_pods_per_minute: int = Field(4, ge=1, le=1000, description="Most pods added per minute; default 4.")
    scale_up_percent_per_minute: int = Field(
        100, ge=1, le=1000, description="Most growth per minute in percent (the larger of the two wins); default 100.",
    )
    scale_down_stabilization_seconds: int = Field(
        600, ge=0, le=3600,
        description="Look-back before scaling down; default 600 s so a short lull does not throw away loaded models.",
    )
    scale_down_pods: int = Field(1, ge=1, le=100, description="Most pods removed per scale_down_period_seconds; default 1.")
    scale_down_period_seconds: int = Field(120, ge=15, le=1800, description="Scale-down policy period; default 120 s.")


class ScheduleWindow(Args):
    """A known peak: from `start` to `end` the serving minimum is raised to `min_replicas`."""

    name: str = Field(..., pattern=r"^[a-z][a-z0-9-]{0,14}$", description="Window key, 1-15 [a-z0-9-].")
    start: str = Field(..., description="Cron (5 fields) when the window opens, e.g. '0 8 * * 1-5'.")
    end: str = Field(..., description="Cron (5 fields) when it closes, e.g. '0 20 * * 1-5'.")
    timezone: str = Field("UTC", description="IANA time zone of both crons (CronJob timeZone); default UTC.")
    min_replicas: int = Field(
        ..., ge=1, le=1000,
        description="Fewest serving replicas (floor + burst) during the window; the burst HPA minimum becomes "
        "this minus the floor.",
    )

    @field_validator("start", "end")
    @classmethod
    def _cron(cls, v: str) -> str:
        fields = v.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"a 5-field cron expression (minute hour day-of-month month day-of-week), got {v!r}")
        return " ".join(fields)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        if not _TIMEZONE.match(v):
            raise ValueError(f"an IANA time zone such as UTC or Europe/Berlin, got {v!r}")
        return v


class CanarySpec(Args):
    """A replica-ratio canary: a second Deployment behind the same Service running a new model
    version (its own repository prefix) and/or image. Traffic follows the replica ratio (the
    Service balances per connection/request across ready pods), so the share is approximate."""

    enabled: bool = Field(False, description="Run the canary; default false.")
    weight_percent: int = Field(
        5, ge=0, le=100,
        description="Target share of traffic, 0-100; default 5. Usual steps 5, 25, 100. 0 removes the canary; "
        "100 promotes it: the floor and burst Deployments roll to the canary's image and models and the canary "
        "Deployment goes away (then copy the canary settings into the main block and disable the canary).",
    )
    image: str | None = Field(None, description="Triton image of the canary (pinned). Default: the main image.")
    models: list[TritonModel] | None = Field(
        None, description="The canary's models (published under <repository_prefix>-canary). Default: the main models.",
    )
    model_source_dir: str | None = Field(
        None, description="Artifacts of the canary's models (<dir>/<model>/...). Default: the main model_source_dir.",
    )
    rollback: bool = Field(
        False, description="Roll back: remove the canary Deployment and its repository; the stable track is untouched.",
    )

    @field_validator("image")
    @classmethod
    def _image_pinned(cls, v: str | None) -> str | None:
        return _pinned(v)

    @field_validator("models")
    @classmethod
    def _models_unique(cls, v: list[TritonModel] | None) -> list[TritonModel] | None:
        return _unique_models(v)


class ServingSpec(Args):
    """Triton serving of one region (`platform.regions[i].serving`)."""

    name: str = Field(
        "triton", pattern=r"^[a-z]([-a-z0-9]{0,22}[a-z0-9])?$",
        description="Kubernetes name of the Service (and prefix of every object); default triton.",
    )
    image: str = Field(DEFAULT_TRITON_IMAGE, description=f"Pinned Triton image; default {DEFAULT_TRITON_IMAGE}.")
    models: list[TritonModel] = Field(..., min_length=1, description="The models to serve. Required.")
    model_source_dir: str | None = Field(
        None, description="Local folder with the artifacts per model (<dir>/<model>/<version>/...), copied next to "
        "the rendered config.pbtxt files. Default: none (configs only, e.g. vLLM models).",
    )
    repository_prefix: str = Field(
        "models", pattern=r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$",
        description="Prefix of the model repository in the store; default models (canary: models-canary).",
    )
    pool: str | None = Field(None, description="GPU pool to run on. Default: the region's first gpu_pools entry.")
    gpus_per_replica: int = Field(1, ge=1, le=8, description="GPUs per Triton pod (requests = limits); default 1.")
    cpu: float = Field(2, gt=0, le=192, description="CPU cores requested per pod (no CPU limit: no throttling); default 2.")
    memory_gib: float = Field(
        8, gt=0, le=2048,
        description="Memory per pod in GiB, request = limit (includes /dev/shm, which counts against it); default 8.",
    )
    shm_size_gib: float = Field(
        1, gt=0, le=512, description="Size limit of the /dev/shm memory emptyDir (Python backend, vLLM); default 1.",
    )
    scratch_gib: int = Field(
        50, ge=1, le=4000,
        description="/tmp emptyDir where Triton copies the repository from the store (and requested ephemeral "
        "storage); default 50 GiB.",
    )
    floor_replicas: int | None = Field(
        None, ge=0, le=1000,
        description="Replicas pinned to reserved/on-demand nodes. Default: what the pool's floor holds "
        "(floor nodes x GPUs per node / gpus_per_replica), at least 1 in prod.",
    )
    max_replicas: int | None = Field(
        None, ge=1, le=2000, description="Most serving replicas (floor + burst). Default: what the whole pool holds.",
    )
    model_control_mode: Literal["none", "explicit", "poll"] = Field(
        "none",
        description="none (default): load every model of the repository at start, no load/unload API; explicit: "
        "load exactly the listed models (--load-model) and allow the load API; poll: reload on store changes "
        "(refused in prod).",
    )
    poll_seconds: int = Field(60, ge=5, le=3600, description="Repository poll interval (poll mode only); default 60.")
    startup_timeout_seconds: int = Field(
        600, ge=30, le=7200,
        description="How long a pod may take to download and load its models before it is restarted (startupProbe "
        "failureThreshold x period); default 600.",
    )
    drain_seconds: int = Field(
        15, ge=0, le=300,
        description="preStop sleep: the pod keeps serving while the Service and load balancers stop routing to it; "
        "default 15.",
    )
    exit_timeout_seconds: int = Field(
        30, ge=1, le=3600,
        description="Triton's --exit-timeout-secs: after SIGTERM, how long in-flight requests may finish; default 30.",
    )
    termination_grace_period_seconds: int | None = Field(
        None, ge=1, le=7200,
        description=f"Pod grace period. Default drain + exit timeout + {GRACE_MARGIN_SECONDS}; must exceed drain + "
        "exit timeout.",
    )
    floor_zone_spread: Literal["ScheduleAnyway", "DoNotSchedule"] = Field(
        "ScheduleAnyway",
        description="Zone spread of the floor: ScheduleAnyway (default) because reserved capacity often sits in one "
        "zone and a hard constraint would leave paid-for floor nodes idle; DoNotSchedule for a strict spread.",
    )
    hpa: AutoscalingSpec = Field(default_factory=AutoscalingSpec, description="Burst autoscaling.")
    schedules: list[ScheduleWindow] = Field(
        default_factory=list,
        description="Scheduled minimums for known peaks (a CronJob per window edge patches the HPA). Default none.",
    )
    canary: CanarySpec = Field(default_factory=CanarySpec, description="Replica-ratio canary; default off.")
    service_account: str = Field(
        DEFAULT_SERVICE_ACCOUNT, pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="Kubernetes service account of the pods; must be the store's reader account (default triton).",
    )
    create_service_account: bool = Field(
        True,
        description="Create the service account (with the store's workload-identity annotation). false: use the "
        "existing one (e.g. a team service reusing the platform's). Default true.",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="More tritonserver flags (not the ones gpufleet sets). Default none.",
    )
    read_only_root_filesystem: bool = Field(True, description="Read-only root filesystem (/tmp is an emptyDir); default true.")
    log_verbose: int = Field(0, ge=0, le=3, description="tritonserver --log-verbose; default 0.")

    @field_validator("image")
    @classmethod
    def _image_pinned(cls, v: str) -> str:
        return _pinned(v)

    @field_validator("models")
    @classmethod
    def _models_unique(cls, v: list[TritonModel]) -> list[TritonModel]:
        return _unique_models(v)

    @field_validator("extra_args")
    @classmethod
    def _extra(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if a.split("=", 1)[0] in MANAGED_FLAGS]
        if bad:
            raise ValueError(f"{bad} are set by gpufleet; use the matching field instead")
        return v


class PoolFacts(Args):
    """What serving needs to know of the GPU pool it runs on (plain values)."""

    name: str = Field(..., description="Pool key.")
    node_labels: dict[str, str] = Field(..., description="Labels pods select (pool, GPU model; GKE: compute class).")
    taints: list[Taint] = Field(default_factory=list, description="Taints of the pool's nodes.")
    gpus_per_node: int = Field(1, ge=1, description="GPUs per node.")
    floor_nodes: int | None = Field(None, ge=0, description="Reserved + on-demand base nodes; None = unknown.")
    max_nodes: int | None = Field(None, ge=0, description="All nodes the pool may grow to; None = unknown.")
    spot_max_nodes: int | None = Field(None, ge=0, description="Spot nodes at most; None = unknown.")
    vcpu: int | None = Field(None, ge=1, description="vCPUs per node; None = unknown.")
    memory_gib: float | None = Field(None, gt=0, description="Memory per node; None = unknown.")
    spot_notice_seconds: int | None = Field(None, ge=1, description="Spot reclaim notice of the cloud.")
    spot_shutdown_seconds: int | None = Field(
        None, ge=1, description="What a pod on a reclaimed spot node has to shut down; None = the notice (or unknown).")

    @classmethod
    def from_plan(cls, plan: Any, node_selector: Mapping[str, str] | None = None) -> "PoolFacts":
        """From a decided `PoolPlan` (plus the cloud's extra selector, e.g. a GKE compute class)."""
        cap = plan.capacity
        labels = {POOL_LABEL: plan.name, GPU_LABEL: plan.instance.gpu_model, **dict(node_selector or {})}
        return cls(
            name=plan.name, node_labels=labels, taints=list(plan.spec.taints), gpus_per_node=plan.instance.gpus,
            floor_nodes=cap.floor, max_nodes=cap.reserved.max + cap.on_demand.max + cap.spot.max,
            spot_max_nodes=cap.spot.max, vcpu=plan.instance.vcpu, memory_gib=plan.instance.memory_gib,
            spot_notice_seconds=plan.spot_notice_seconds,
            spot_shutdown_seconds=plan.spot_shutdown_seconds or plan.spot_notice_seconds,
        )

    @classmethod
    def from_pool(cls, pool: Any) -> "PoolFacts":
        """From a built `GpuNodePool` (its plan and its `node_labels`, GKE compute class included)."""
        facts = cls.from_plan(pool.plan)
        return facts.model_copy(update={"node_labels": dict(pool.node_labels)})

    @classmethod
    def conventional(cls, cloud: str, name: str, gpu_model: str, *, gpus_per_node: int = 1,
                     taints: list[Taint] | None = None) -> "PoolFacts":
        """The labels/taints gpufleet gives a pool, for consumers that only know its name and GPU
        (another stack's pool): capacity unknown, so floor/max replicas must be set explicitly."""
        from ..gpu_pool.args import DEFAULT_TAINTS

        labels = {POOL_LABEL: name, GPU_LABEL: gpu_model}
        if cloud == "gcp":
            labels["cloud.google.com/compute-class"] = f"gpufleet-{name}"  # gpu_pool.gcp.compute_class_name
        return cls(name=name, node_labels=labels, taints=list(taints if taints is not None else DEFAULT_TAINTS),
                   gpus_per_node=gpus_per_node)

    def replicas(self, nodes: int | None, gpus_per_replica: int) -> int | None:
        return None if nodes is None else nodes * (self.gpus_per_node // gpus_per_replica)


# --- pure sizing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """One model-repository + image combination: stable, or the canary."""

    name: Literal["stable", "canary"]
    image: str
    models: tuple[TritonModel, ...]
    source_dir: str | None
    prefix: str


def canary_active(spec: ServingSpec) -> bool:
    c = spec.canary
    return c.enabled and not c.rollback and 0 < c.weight_percent < 100


def promoted(spec: ServingSpec) -> bool:
    c = spec.canary
    return c.enabled and not c.rollback and c.weight_percent == 100


def tracks(spec: ServingSpec) -> dict[str, Track]:
    """stable always; canary while active. At weight 100 the stable track takes the canary's image,
    models and artifacts (promotion) and there is no canary track."""
    c = spec.canary
    canary_models = tuple(c.models) if c.models is not None else tuple(spec.models)
    canary_source = c.model_source_dir if c.model_source_dir is not None else spec.model_source_dir
    canary_image = c.image or spec.image
    if promoted(spec):
        return {"stable": Track("stable", canary_image, canary_models, canary_source, spec.repository_prefix)}
    out = {"stable": Track("stable", spec.image, tuple(spec.models), spec.model_source_dir, spec.repository_prefix)}
    if canary_active(spec):
        out["canary"] = Track("canary", canary_image, canary_models, canary_source, spec.repository_prefix + CANARY_SUFFIX)
    return out


@dataclass(frozen=True)
class ShutdownBudget:
    """How a pod stops: preStop drain, Triton's exit timeout, the pod's grace period, and, for pods
    placed on spot nodes, whether that fits the window a reclaimed node leaves them."""

    drain_seconds: int
    exit_timeout_seconds: int
    grace_seconds: int
    window_seconds: int | None = None  # spot: what a pod has on a reclaimed node; None = not on spot
    fitted: bool = False  # drain/exit shortened to fit the window
    at_risk: str | None = None  # what a spot reclaim still cuts short, in words

    def to_json(self) -> dict[str, Any]:
        return {"drainSeconds": self.drain_seconds, "exitTimeoutSeconds": self.exit_timeout_seconds,
                "graceSeconds": self.grace_seconds, "spotWindowSeconds": self.window_seconds,
                "fitted": self.fitted, "atRisk": self.at_risk}


def spot_shutdown(spec: "ServingSpec", pool: "PoolFacts") -> ShutdownBudget:
    """Pure: the shutdown of burst/canary pods (they prefer spot nodes).

    A pod on a reclaimed spot node has `pool.spot_shutdown_seconds` (AWS 110, GKE 15 for ordinary
    pods, AKS 25) whatever its grace period says. When the configured drain + exit timeout does not
    fit, they are shortened so the pod still drains (preStop, at most a third of the window) and
    Triton still finishes what it can before the node goes; what that cuts is stated."""
    grace = grace_seconds(spec)
    keep = ShutdownBudget(spec.drain_seconds, spec.exit_timeout_seconds, grace)
    window = pool.spot_shutdown_seconds or pool.spot_notice_seconds
    if not pool.spot_max_nodes or window is None:
        return keep
    if spec.drain_seconds + spec.exit_timeout_seconds + SPOT_MARGIN_SECONDS <= window:
        return ShutdownBudget(spec.drain_seconds, spec.exit_timeout_seconds, grace, window)
    drain = min(spec.drain_seconds, window // 3)
    exit_timeout = max(1, window - drain - SPOT_MARGIN_SECONDS)
    cut = []
    if drain < spec.drain_seconds:
        cut.append(f"requests routed to the pod up to {spec.drain_seconds - drain} s after its shortened "
                   f"{drain} s drain (load balancers still deregistering it) are refused")
    cut.append(f"requests still running {exit_timeout} s after Triton is told to stop are cut "
               f"(exit_timeout_seconds {spec.exit_timeout_seconds} on the floor)")
    return ShutdownBudget(drain, exit_timeout, window, window, fitted=True,
                          at_risk=f"on a reclaimed spot node burst pods have {window} s: " + "; ".join(cut))


@dataclass(frozen=True)
class ServingPlan:
    floor_replicas: int
    burst_min: int
    burst_max: int
    max_replicas: int
    canary_replicas: int
    grace_seconds: int
    startup_failure_threshold: int
    queue_to_compute_target: float
    # window name -> burst HPA minimum during the window
    window_burst_min: dict[str, int]
    # floor pods stop as configured; burst/canary pods (spot-preferring) fitted to the spot window
    floor_shutdown: ShutdownBudget
    burst_shutdown: ShutdownBudget

    @property
    def canary_share_at_min(self) -> float:
        """The canary's traffic share while the stable runs at its minimum (approximate)."""
        total = self.floor_replicas + self.burst_min + self.canary_replicas
        return self.canary_replicas / total if total else 0.0


def default_floor(spec: ServingSpec, pool: PoolFacts, environment: str) -> int:
    if spec.floor_replicas is not None:
        return spec.floor_replicas
    cap = pool.replicas(pool.floor_nodes, spec.gpus_per_replica) or 0
    return max(cap, 1) if environment == "prod" else cap


def grace_seconds(spec: ServingSpec) -> int:
    if spec.termination_grace_period_seconds is not None:
        return spec.termination_grace_period_seconds
    return spec.drain_seconds + spec.exit_timeout_seconds + GRACE_MARGIN_SECONDS


def canary_replicas(stable_min: int, weight_percent: int, cap: int) -> int:
    """Replicas giving the canary about `weight_percent` of the pods next to `stable_min` stable ones."""
    if not 0 < weight_percent < 100:
        return 0
    want = math.ceil(stable_min * weight_percent / (100 - weight_percent))
    return max(1, min(want, max(1, cap)))


def plan_serving(spec: ServingSpec, pool: PoolFacts, environment: str,
                 queue_to_compute_target: float = DEFAULT_QUEUE_TO_COMPUTE_TARGET) -> ServingPlan:
    """Decide the replica counts (does not validate: see `serving_issues`)."""
    floor = default_floor(spec, pool, environment)
    burst_min = spec.hpa.min_burst_replicas
    pool_max = pool.replicas(pool.max_nodes, spec.gpus_per_replica)
    max_replicas = spec.max_replicas if spec.max_replicas is not None else (pool_max or floor + burst_min)
    burst_max = max(burst_min, max_replicas - floor)
    windows = {w.name: max(burst_min, min(burst_max, w.min_replicas - floor)) for w in spec.schedules}
    canary = canary_replicas(floor + burst_min, spec.canary.weight_percent, burst_max) if canary_active(spec) else 0
    return ServingPlan(
        floor_replicas=floor, burst_min=burst_min, burst_max=burst_max, max_replicas=max(max_replicas, floor + burst_min),
        canary_replicas=canary, grace_seconds=grace_seconds(spec),
        startup_failure_threshold=math.ceil(spec.startup_timeout_seconds / STARTUP_PERIOD_SECONDS),
        queue_to_compute_target=spec.hpa.target_queue_to_compute or queue_to_compute_target,
        window_burst_min=windows,
        floor_shutdown=ShutdownBudget(spec.drain_seconds, spec.exit_timeout_seconds, grace_seconds(spec)),
        burst_shutdown=spot_shutdown(spec, pool),
    )


def _as_facts(pool: Any) -> PoolFacts | None:
    if pool is None or isinstance(pool, PoolFacts):
        return pool
    if hasattr(pool, "build") and hasattr(pool, "node_labels"):  # a GpuNodePool
        return PoolFacts.from_pool(pool)
    return PoolFacts.from_plan(pool)  # a PoolPlan


def select_pool(spec: ServingSpec, pools: Mapping[str, Any]) -> str | None:
    """The pool name serving runs on: `spec.pool`, else the first pool."""
    if spec.pool is not None:
        return spec.pool
    return next(iter(pools), None)


def serving_issues(
    spec: ServingSpec,
    environment: str,
    pools: Mapping[str, Any],
    *,
    store_reader: Any = None,
    namespace: str = SERVING_NAMESPACE,
) -> list[Issue]:
    """Cross-field problems of a serving block as (path relative to the block, value, allowed).

    `pools` maps the region's pool names, in config order, to a `PoolFacts`, a `PoolPlan`, a
    `GpuNodePool`, or None for a pool that could not be planned (its capacity checks are skipped).
    `store_reader` (a storage `ServiceAccountRef`) checks that the pods use the store's reader.
    """
    out: list[Issue] = []
    prod = environment == "prod"
    names = list(pools)
    chosen = select_pool(spec, pools)
    if chosen is None:
        out.append(("pool", None, "a GPU pool: serving needs gpu_pools in this region"))
    elif chosen not in pools:
        out.append(("pool", spec.pool, f"one of the region's gpu_pools: {', '.join(names)}"))
    facts = _as_facts(pools.get(chosen)) if chosen in pools else None

    if prod and spec.model_control_mode == "poll":
        out.append(("model_control_mode", "poll", "none or explicit in prod (poll loads whatever lands in the store)"))
    if prod and spec.floor_replicas == 0:
        out.append(("floor_replicas", 0, "at least 1 in prod: serving must survive losing every spot node"))
    grace = grace_seconds(spec)
    if spec.exit_timeout_seconds + spec.drain_seconds >= grace:
        out.append(("termination_grace_period_seconds", grace,
                    f"more than drain_seconds + exit_timeout_seconds ({spec.drain_seconds + spec.exit_timeout_seconds}) "
                    "so in-flight requests finish before SIGKILL"))
    if spec.shm_size_gib >= spec.memory_gib:
        out.append(("shm_size_gib", spec.shm_size_gib, f"less than memory_gib ({spec.memory_gib}): /dev/shm counts "
                                                       "against the pod's memory"))
    for i, model in enumerate(spec.models):
        if model.vllm is not None and model.vllm.tensor_parallel_size > spec.gpus_per_replica:
            out.append((f"models[{i}].vllm.tensor_parallel_size", model.vllm.tensor_parallel_size,
                        f"at most gpus_per_replica ({spec.gpus_per_replica})"))

    if facts is not None:
        if spec.gpus_per_replica > facts.gpus_per_node or facts.gpus_per_node % spec.gpus_per_replica:
            out.append(("gpus_per_replica", spec.gpus_per_replica,
                        f"a divisor of the pool's {facts.gpus_per_node} GPUs per node"))
        else:
            plan = plan_serving(spec, facts, environment)
            floor_cap = facts.replicas(facts.floor_nodes, spec.gpus_per_replica)
            if floor_cap is not None and plan.floor_replicas > floor_cap:
                out.append(("floor_replicas", plan.floor_replicas,
                            f"at most {floor_cap}: the pool's floor of {facts.floor_nodes} reserved/on-demand node(s) x "
                            f"{facts.gpus_per_node} GPU(s) / {spec.gpus_per_replica} per replica"))
            pool_cap = facts.replicas(facts.max_nodes, spec.gpus_per_replica)
            if spec.max_replicas is not None:
                if spec.max_replicas < plan.floor_replicas + spec.hpa.min_burst_replicas:
                    out.append(("max_replicas", spec.max_replicas,
                                f"at least floor_replicas + hpa.min_burst_replicas ({plan.floor_replicas + spec.hpa.min_burst_replicas})"))
                if pool_cap is not None and spec.max_replicas > pool_cap:
                    out.append(("max_replicas", spec.max_replicas, f"at most what pool {facts.name} holds ({pool_cap})"))
            for i, w in enumerate(spec.schedules):
                if w.min_replicas > plan.max_replicas:
                    out.append((f"schedules[{i}].min_replicas", w.min_replicas, f"at most max_replicas ({plan.max_replicas})"))
        share = spec.gpus_per_replica / facts.gpus_per_node if facts.gpus_per_node else 1
        if facts.vcpu is not None and spec.cpu > facts.vcpu * share - 0.25:
            out.append(("cpu", spec.cpu, f"below the node's share ({facts.vcpu * share:g} vCPU per replica, less "
                                         "system reservations)"))
        if facts.memory_gib is not None and spec.memory_gib > facts.memory_gib * share * 0.85:
            out.append(("memory_gib", spec.memory_gib,
                        f"at most ~85% of the node's share ({facts.memory_gib * share:g} GiB per replica) after "
                        "system reservations"))

    seen: dict[str, int] = {}
    for i, w in enumerate(spec.schedules):
        if w.name in seen:
            out.append((f"schedules[{i}].name", w.name, f"a name not used by schedules[{seen[w.name]}]"))
        seen.setdefault(w.name, i)
        if w.start == w.end:
            out.append((f"schedules[{i}].end", w.end, "a different time than start"))

    c = spec.canary
    if c.enabled and not c.rollback and 0 < c.weight_percent:
        if (c.image or spec.image) == spec.image and (c.models is None or list(c.models) == list(spec.models)) \
                and (c.model_source_dir is None or c.model_source_dir == spec.model_source_dir):
            out.append(("canary", {"image": c.image, "models": None if c.models is None else len(c.models)},
                        "a canary that differs from the main track: a new image, models or model_source_dir"))

    if store_reader is not None and (store_reader.namespace, store_reader.name) != (namespace, spec.service_account):
        out.append(("service_account", spec.service_account,
                    f"the store's reader {store_reader.namespace}/{store_reader.name} (workload identity trusts only it)"))
    return out


class TritonServiceArgs(Args):
    """Inputs of `TritonService` (one region)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    spec: ServingSpec = Field(..., description="The serving block.")
    target: Any = Field(..., description="The cluster's KubernetesTarget (provider, cloud, region).")
    pool: PoolFacts = Field(..., description="The GPU pool pods run on (PoolFacts.from_pool(gpu_node_pool)).")
    store: Any = Field(..., description="The model store's BucketRef (URI, identity annotations, env).")
    environment: Literal["dev", "staging", "prod"] = Field(..., description="dev, staging or prod.")
    namespace: str = Field(SERVING_NAMESPACE, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
                           description=f"Namespace of every object (it must exist); default {SERVING_NAMESPACE}.")
    queue_to_compute_target: float = Field(
        DEFAULT_QUEUE_TO_COMPUTE_TARGET, gt=0, le=100,
        description="HPA target when spec.hpa.target_queue_to_compute is unset (monitoring.slo); default 1.0.",
    )
    repositories: dict[str, Any] = Field(
        default_factory=dict,
        description="Published repositories per track (stable, canary): ModelRepository components from "
        "publish_serving_repositories. Pods read their `uri` and wait for their objects. Default: none (the "
        "URIs are derived from the store and the prefix).",
    )
    monitoring: bool = Field(True, description="Create the ServiceMonitor (needs the prometheus-operator CRDs); default true.")
    network_policies: bool = Field(
        True,
        description="Create the NetworkPolicies that let the gateway, Prometheus and the model store reach these pods "
        "through the namespace's default deny (components.triton.network); default true. False only where the "
        "namespace has no default deny and nothing else restricts it.",
    )
    priority_class: Literal["create", "existing"] = Field(
        "create",
        description=f"create (default): create the cluster-wide PriorityClass {FLOOR_PRIORITY_CLASS} (one per cluster); "
        "existing: another TritonService in the cluster (the platform's) created it.",
    )

    @model_validator(mode="after")
    def _pool_matches(self) -> "TritonServiceArgs":
        if self.pool.name != (self.spec.pool or self.pool.name):
            raise ValueError(f"pool facts are for {self.pool.name!r}, the spec asks for {self.spec.pool!r}")
        return self
