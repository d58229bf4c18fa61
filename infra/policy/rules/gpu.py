"""GPU platform rules no scanner has: GPU pools, capacity mix, Triton, cost tags, regions."""

from __future__ import annotations

import base64
import importlib
import inspect
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..model import (
    PROD_CONFIG,
    UNKNOWN,
    Resource,
    Violation,
    as_json,
    get,
    is_prod_stack,
    is_unknown,
    known,
    num,
    resource_rule,
    stack_rule,
)
from ..nodepools import POOL_TYPES, Pool, pools_of
from ..workloads import command_line, containers, flag_value, is_triton, kind_of

GPU_MODELS = ["T4", "L4", "A10G", "L40S", "A100-40GB", "A100-80GB", "H100", "H200"]
GKE_COMPUTE_CLASS = "cloud.google.com/compute-class"


def gpu_pools(resources: Sequence[Resource]) -> list[Pool]:
    return [p for r in resources if r.type in POOL_TYPES for p in pools_of(r) if p.is_gpu is True]


# --- pools -----------------------------------------------------------------------------------------

@resource_rule(
    "gpu-pool-tainted",
    summary="GPU node pools carry a NoSchedule/NoExecute GPU taint (nvidia.com/gpu) so only GPU workloads land "
    "there. On GKE the ComputeClass taint counts too: GKE adds nvidia.com/gpu itself only when the cluster has a "
    "non-GPU pool, and rejects a pool that repeats it.",
    area="gpu-platform", severity="high", level="mandatory", types=POOL_TYPES,
    config={"taintKeys": {"type": "array", "items": {"type": "string"}, "default": ["nvidia.com/gpu"],
                          "description": "Taint keys that mark a GPU pool."},
            "gkeExtraTaintKeys": {"type": "array", "items": {"type": "string"}, "default": [GKE_COMPUTE_CLASS],
                                  "description": "Further keys accepted on GKE pools."}},
    remediation="Keep the pool's default taints (nvidia.com/gpu=present:NoSchedule).",
)
def gpu_pool_tainted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for pool in pools_of(r):
        if pool.is_gpu is not True or is_unknown(pool.taints):
            continue
        keys = set(cfg.get("taintKeys") or [])
        if pool.cloud == "gcp":
            keys |= set(cfg.get("gkeExtraTaintKeys") or [])
        if not any(k in keys and e in ("NoSchedule", "NoExecute") for k, _, e in pool.taints):
            have = ", ".join(f"{k}={v}:{e}" for k, v, e in pool.taints) or "none"
            yield f"GPU pool {pool.name} has no {'/'.join(sorted(keys))} NoSchedule taint (taints: {have})"


GPU_OPERATOR_CRD = "kubernetes:nvidia.com/v1:ClusterPolicy"
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")


@resource_rule(
    "gpu-driver-pinned",
    summary="The GPU driver version is pinned, never LATEST: GKE node pools install DEFAULT (tied to the node "
    "version) or manage the driver themselves; the NVIDIA GPU Operator (Helm values or ClusterPolicy) names a version.",
    area="gpu-platform", severity="medium", level="mandatory", types=POOL_TYPES + HELM_TYPES + (GPU_OPERATOR_CRD,),
    remediation="driver: {gke_version: DEFAULT} (gpufleet default); LATEST changes the driver under running models.",
)
def gpu_driver_pinned(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type in HELM_TYPES:
        chart = r.props.get("chart")
        if isinstance(chart, str) and chart.rsplit("/", 1)[-1] == "gpu-operator":
            v = get(r.props, "values.driver.version")
            if isinstance(v, str) and v.lower() == "latest":
                yield "gpu-operator values driver.version is latest"
        return
    if r.type == GPU_OPERATOR_CRD:
        v = get(r.props, "spec.driver.version")
        if isinstance(v, str) and v.lower() == "latest":
            yield "ClusterPolicy spec.driver.version is latest"
        return
    for pool in pools_of(r):
        for a in pool.accelerators:
            v = get(a, "gpuDriverInstallationConfig.gpuDriverVersion")
            if v == "LATEST":
                yield f"GPU pool {pool.name} installs the LATEST driver"


@resource_rule(
    "gpu-model-allowed",
    summary="GPU pools use an allowed GPU model (allowedGpuModels; default: the models gpufleet's catalog knows).",
    area="gpu-platform", severity="medium", level="advisory", types=POOL_TYPES,
    config={"allowedGpuModels": {"type": "array", "items": {"type": "string"}, "default": GPU_MODELS,
                                 "description": "GPU models (catalog names like L4, H100, or GKE accelerator "
                                 "types) a pool may use."}},
    remediation="Pick an allowed model, or extend allowedGpuModels in the policy config.",
)
def gpu_model_allowed(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = set(cfg.get("allowedGpuModels") or [])
    for pool in pools_of(r):
        if pool.is_gpu is True and isinstance(pool.gpu_model, str) and pool.gpu_model not in allowed:
            yield f"GPU pool {pool.name} uses {pool.gpu_model}; allowed: {', '.join(sorted(allowed))}"


def _groups(pools: list[Pool]) -> dict[tuple[str, str, str], list[Pool]]:
    out: dict[tuple[str, str, str], list[Pool]] = defaultdict(list)
    for p in pools:
        out[(p.cloud, str(p.cluster), str(p.logical_pool))].append(p)
    return out


@stack_rule(
    "gpu-pool-max-gpus",
    summary="A GPU pool (all its capacity types together) can grow to at most maxGpusPerPool GPUs.",
    area="gpu-platform", severity="medium", level="advisory",
    config={"maxGpusPerPool": {"type": "number", "default": 64,
                               "description": "Most GPUs one logical pool may scale to (max nodes x GPUs/node)."}},
    remediation="Lower capacity.max_nodes, or raise maxGpusPerPool after a cost review.",
)
def gpu_pool_max_gpus(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    limit = num(cfg.get("maxGpusPerPool"))
    if limit is None:
        return
    for (cloud, cluster, pool), members in sorted(_groups(gpu_pools(resources)).items()):
        totals = [p.max_gpus for p in members]
        if any(t is None for t in totals):
            continue
        total = sum(totals)  # type: ignore[arg-type]
        if total > limit:
            yield Violation(f"GPU pool {pool} ({cloud}, {', '.join(p.name for p in members)}) can scale to "
                            f"{total:g} GPUs (max {limit:g})", members[0].resource.urn)


@resource_rule(
    "spot-pools-scale-to-zero",
    summary="Spot node pools have a minimum of zero: spot capacity is never guaranteed, so a spot minimum is a "
    "floor that is not one; the floor belongs on reserved/on-demand pools.",
    area="gpu-platform", severity="medium", level="advisory", types=POOL_TYPES,
    remediation="Put the floor in reserved_nodes/on_demand_base_nodes; spot pools start at 0.",
)
def spot_pools_scale_to_zero(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for pool in pools_of(r):
        if pool.spot is True and pool.min_nodes is not None and pool.min_nodes > 0:
            yield f"spot pool {pool.name} has a minimum of {pool.min_nodes:g} nodes"


@stack_rule(
    "prod-non-spot-floor",
    summary="In production every GPU pool keeps a floor of reserved/on-demand nodes (minNonSpotNodes) that "
    "survives losing every spot node, and at most maxSpotShare of its maximum on spot.",
    area="gpu-platform", severity="high", level="mandatory",
    config={**PROD_CONFIG,
            "minNonSpotNodes": {"type": "number", "default": 1,
                                "description": "Least reserved + on-demand nodes per GPU pool in production."},
            "maxSpotShare": {"type": "number", "default": 1.0,
                             "description": "Largest fraction (0-1) of a pool's max nodes that may be spot."}},
    remediation="Set reserved_nodes / on_demand_base_nodes so the floor covers serving_min_nodes.",
)
def prod_non_spot_floor(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    pools = gpu_pools(resources)
    if not pools or not is_prod_stack(resources, cfg):
        return
    floor_min = num(cfg.get("minNonSpotNodes"))
    share_max = num(cfg.get("maxSpotShare"))
    for (cloud, cluster, pool), members in sorted(_groups(pools).items()):
        if any(p.spot is None for p in members):
            continue
        floor = [p.min_nodes for p in members if not p.spot]
        if floor_min is not None and all(f is not None for f in floor):
            kept = sum(f for f in floor if f is not None)
            if kept < floor_min:
                yield Violation(f"GPU pool {pool} ({cloud}) keeps {kept:g} non-spot nodes (min {floor_min:g}): "
                                "losing spot capacity takes it to zero", members[0].resource.urn)
        maxes = [p.max_nodes for p in members]
        if share_max is not None and None not in maxes and sum(maxes) > 0:  # type: ignore[arg-type]
            spot = sum(p.max_nodes for p in members if p.spot)  # type: ignore[misc]
            share = spot / sum(maxes)  # type: ignore[arg-type]
            if share > share_max + 1e-9:
                yield Violation(f"GPU pool {pool} ({cloud}) is {share:.0%} spot at max (max {share_max:.0%})",
                                members[0].resource.urn)


# --- Triton ------------------------------------------------------------------------------------------

@stack_rule(
    "triton-no-poll-in-prod",
    summary="In production Triton never runs with --model-control-mode=poll (it would load whatever lands in "
    "the model store, unreviewed, and reload under traffic).",
    area="gpu-platform", severity="high", level="mandatory", config=dict(PROD_CONFIG),
    remediation="model_control_mode: none or explicit; roll models out with a canary.",
)
def triton_no_poll_in_prod(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    workloads = [r for r in resources if kind_of(r)]
    if not workloads or not is_prod_stack(resources, cfg):
        return
    for r in workloads:
        for c in containers(r):
            if not is_triton(c):
                continue
            mode = flag_value(command_line(c), "--model-control-mode")
            if isinstance(mode, str) and known(mode) and mode.lower() == "poll":
                yield Violation(f"{r.type.rsplit(':', 1)[-1]} {r.name} container {c.name} runs Triton with "
                                "--model-control-mode=poll", r.urn)


def parse_pbtxt(text: str) -> dict[str, list[Any]]:
    """Protobuf text format -> {field: [values]} (messages as nested dicts). Raises ValueError."""
    tokens = re.findall(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|[{}\[\]:,;<>]|[^\s{}\[\]:,;<>"\']+',
                        re.sub(r"#[^\n]*", "", text))
    pos = 0

    def value() -> Any:
        nonlocal pos
        tok = tokens[pos]
        if tok in ("{", "<"):
            pos += 1
            return message("}" if tok == "{" else ">")
        pos += 1
        if tok[:1] in "\"'":
            return tok[1:-1]
        n = num(tok)
        return n if n is not None else tok

    def message(end: str | None) -> dict[str, list[Any]]:
        nonlocal pos
        out: dict[str, list[Any]] = defaultdict(list)
        while pos < len(tokens):
            tok = tokens[pos]
            if tok == end:
                pos += 1
                return dict(out)
            if tok in (",", ";"):
                pos += 1
                continue
            if tok in "{}[]:<>":
                raise ValueError(f"unexpected {tok!r}")
            pos += 1
            if pos < len(tokens) and tokens[pos] == ":":
                pos += 1
            if pos < len(tokens) and tokens[pos] == "[":
                pos += 1
                while tokens[pos] != "]":
                    if tokens[pos] == ",":
                        pos += 1
                        continue
                    out[tok].append(value())
                pos += 1
            else:
                out[tok].append(value())
        if end is not None:
            raise ValueError("unterminated message")
        return dict(out)

    try:
        return message(None)
    except IndexError as exc:
        raise ValueError("truncated") from exc


def queue_problem(text: str) -> str | None:
    """Why a Triton model config leaves its queue unbounded, or None when it is bounded (or an ensemble)."""
    cfg = parse_pbtxt(text)
    first = lambda key, src=cfg: (src.get(key) or [None])[0]  # noqa: E731
    if first("platform") == "ensemble" or first("backend") == "ensemble":
        return None  # an ensemble queues in its composing models
    for sched in ("dynamic_batching", "sequence_batching"):
        for block in cfg.get(sched) or []:
            if not isinstance(block, dict):
                continue
            for policy in block.get("default_queue_policy") or []:
                size = num(first("max_queue_size", policy)) if isinstance(policy, dict) else None
                if size is not None and size > 0:
                    return None
            return f"{sched} has no default_queue_policy.max_queue_size"
    return "no dynamic_batching/sequence_batching block with a bounded default_queue_policy"


MODEL_OBJECT_KEYS = {
    "aws:s3/bucketObjectv2:BucketObjectv2": "key",
    "aws:s3/bucketObject:BucketObject": "key",
    "gcp:storage/bucketObject:BucketObject": "name",
    "azure-native:storage:Blob": "blobName",
}
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def _asset_text(src: Any) -> Any:
    """The text of a FileAsset/StringAsset (SDK object or its wire form); UNKNOWN when unreadable."""
    if src is None:
        return None
    text = getattr(src, "text", None) if not isinstance(src, Mapping) else src.get("text")
    if isinstance(text, str):
        return text
    path = getattr(src, "path", None) if not isinstance(src, Mapping) else src.get("path")
    if isinstance(path, str):
        try:
            return Path(path).read_text()
        except OSError:
            return UNKNOWN
    return UNKNOWN


@resource_rule(
    "triton-queue-bounded",
    summary="Every Triton model configuration (config.pbtxt uploaded to a model store or shipped in a ConfigMap) "
    "bounds its queue: dynamic or sequence batching with default_queue_policy.max_queue_size > 0, so overload is "
    "refused fast instead of queueing without limit.",
    area="gpu-platform", severity="medium", level="mandatory", types=tuple(MODEL_OBJECT_KEYS) + (CONFIG_MAP,),
    remediation="Use gpufleet's TritonModel (queue always bounded) or add dynamic_batching { default_queue_policy "
    "{ max_queue_size: N timeout_action: REJECT } }.",
)
def triton_queue_bounded(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    texts: list[tuple[str, Any]] = []
    if r.type == CONFIG_MAP:
        data = r.props.get("data")
        if isinstance(data, Mapping):
            texts += [(k, v) for k, v in data.items() if isinstance(k, str) and k.endswith("config.pbtxt")]
    else:
        key = r.props.get(MODEL_OBJECT_KEYS[r.type])
        if not (isinstance(key, str) and key.endswith("config.pbtxt")):
            return
        content = r.props.get("content")
        if isinstance(content, str) and known(content):
            texts.append((key, content))
        elif isinstance(r.props.get("contentBase64"), str):
            try:
                texts.append((key, base64.b64decode(r.props["contentBase64"]).decode()))
            except ValueError:
                return
        else:
            texts.append((key, _asset_text(r.props.get("source"))))
    for where, text in texts:
        if not isinstance(text, str) or is_unknown(text):
            continue
        try:
            problem = queue_problem(text)
        except ValueError:
            continue  # not parseable here: can't tell
        if problem:
            yield f"{where}: {problem}"


# --- cost tags and regions -------------------------------------------------------------------------

SDK_PACKAGES = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}
TAG_INPUTS = {"aws": ("tags",), "gcp": ("labels", "resourceLabels", "userLabels"), "azure-native": ("tags",)}
NOT_COST_LABELS = {"gcp:monitoring/notificationChannel:NotificationChannel": ("labels",)}
_CAMEL = {"tags": "tags", "labels": "labels", "resource_labels": "resourceLabels", "user_labels": "userLabels"}


@lru_cache(maxsize=None)
def tag_params(token: str) -> tuple[str, ...] | None:
    """The tag/label inputs (camelCase) a resource type accepts, from its SDK class; None when the SDK is
    not importable here."""
    pkg = token.split(":")[0]
    try:
        _, module, cls = token.split(":")
        mod = importlib.import_module(f"{SDK_PACKAGES[pkg]}.{module.split('/')[0].replace('-', '_')}")
        params = inspect.signature(getattr(mod, cls)._internal_init).parameters
    except Exception:
        return None
    skip = NOT_COST_LABELS.get(token, ())
    return tuple(_CAMEL[p] for p in params if p in _CAMEL and _CAMEL[p] in TAG_INPUTS[pkg] and _CAMEL[p] not in skip)


def provider_default_tags(r: Resource) -> dict[str, Any]:
    """AWS default_tags / GCP default_labels of the resource's provider (JSON-encoded on the wire)."""
    if r.provider is None:
        return {}
    props = r.provider.props
    if r.package == "aws":
        doc = as_json(props.get("defaultTags"))
        tags = get(doc, "tags") if isinstance(doc, Mapping) else None
        return dict(tags) if isinstance(tags, Mapping) else {}
    if r.package == "gcp":
        doc = as_json(props.get("defaultLabels"))
        return dict(doc) if isinstance(doc, Mapping) else {}
    return {}


@resource_rule(
    "cost-tags-present",
    summary="Every taggable cloud resource carries the cost tags (requiredTags; provider default_tags / "
    "default_labels count where the provider applies them).",
    area="gpu-platform", severity="medium", level="advisory",
    types=tuple(f"{pkg}:*" for pkg in SDK_PACKAGES),
    config={"requiredTags": {"type": "array", "items": {"type": "string"},
                             "default": ["environment", "owner", "cost-center"],
                             "description": "Tag/label keys every taggable resource must carry."}},
    remediation="Build resources through gpufleet components (cost_tags) or set the provider's default tags.",
)
def cost_tags_present(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.package not in SDK_PACKAGES or r.type.startswith("pulumi:"):
        return
    params = tag_params(r.type)
    if params is None:  # SDK not importable here: judge only the tag inputs that are present
        params = tuple(p for p in TAG_INPUTS[r.package] if p in r.props)
    inherited = provider_default_tags(r)
    for param in params:
        value = r.props.get(param)
        if is_unknown(value) or (isinstance(value, Mapping) and any(is_unknown(v) for v in value.values())):
            continue
        effective = {**inherited, **(value if isinstance(value, Mapping) else {})}
        missing = [k for k in cfg.get("requiredTags") or [] if k not in effective]
        if missing:
            yield f"{param} lacks {', '.join(missing)}"


def normalise_region(value: Any) -> str | None:
    if not isinstance(value, str) or not known(value):
        return None
    v = value.strip().lower().replace(" ", "")
    if v in ("global", ""):
        return None
    if re.fullmatch(r"[a-z]+-[a-z]+\d+-[a-z]", v):  # a GCP zone -> its region
        v = v.rsplit("-", 1)[0]
    elif re.fullmatch(r"[a-z]{2}(-gov)?-[a-z]+-\d[a-z]", v):  # an AWS zone -> its region
        v = v[:-1]
    return v


@resource_rule(
    "allowed-regions",
    summary="Providers and resources stay in the allowed regions/locations (allowedRegions; empty = any).",
    area="gpu-platform", severity="high", level="mandatory",
    types=("pulumi:providers:aws", "pulumi:providers:gcp", "pulumi:providers:azure-native", "aws:*", "gcp:*",
           "azure-native:*"),
    config={"allowedRegions": {"type": "array", "items": {"type": "string"}, "default": [],
                               "description": "Cloud regions/locations allowed (us-east-1, us-central1, eastus, "
                               "multi-regions like US); empty allows any."}},
    remediation="Deploy only to approved regions (data residency); extend allowedRegions if approved.",
)
def allowed_regions(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = {normalise_region(a) for a in cfg.get("allowedRegions") or []} - {None}
    if not allowed:
        return
    places = [(key, r.props.get(key)) for key in ("region", "location")]
    data_locations = get(r.props, "customPlacementConfig.dataLocations")
    if isinstance(data_locations, list) and data_locations:  # a GCS configurable dual-region: where data lives
        places = [("customPlacementConfig.dataLocations", loc) for loc in data_locations]
    for key, value in places:
        region = normalise_region(value)
        if region is not None and region not in allowed:
            yield f"{key} {value} is not an allowed region ({', '.join(sorted(allowed))})"

