"""Typed Triton model configuration rendered to `config.pbtxt` (pure: pydantic only).

Our defaults beat Triton's: whenever `max_batch_size > 0`, dynamic batching is on with a short
queue delay, and every model has a bounded default queue (`max_queue_size` + a timeout with
REJECT) so overload is refused fast with 503 instead of queueing without limit. Two instances
per model (Triton's recommended starting point) unless set. Tests parse every rendered file with
Triton's own `ModelConfig` protobuf.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .._model import Args

Backend = Literal["onnxruntime", "tensorrt", "pytorch", "python", "vllm"]
DataType = Literal[
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16", "TYPE_INT32",
    "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
]

# backend -> (backend field, platform field) as Triton expects them.
BACKEND_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "onnxruntime": ("onnxruntime", "onnxruntime_onnx"),
    "tensorrt": (None, "tensorrt_plan"),
    "pytorch": ("pytorch", "pytorch_libtorch"),
    "python": ("python", None),
    "vllm": ("vllm", None),
}
DEFAULT_MODEL_FILE = {"onnxruntime": "model.onnx", "tensorrt": "model.plan", "pytorch": "model.pt",
                      "python": "model.py", "vllm": "model.json"}


class Tensor(Args):
    name: str = Field(..., pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$", description="Tensor name as the model exposes it.")
    data_type: DataType = Field(..., description="Triton data type, e.g. TYPE_FP32.")
    dims: list[int] = Field(..., min_length=1, description="Shape without the batch dimension; -1 for variable.")

    @field_validator("dims")
    @classmethod
    def _dims(cls, v: list[int]) -> list[int]:
        if any(d == 0 or d < -1 for d in v):
            raise ValueError("dims are positive, or -1 for a variable dimension")
        return v


class QueuePolicy(Args):
    """Bounded queue: beyond `max_queue_size` waiting requests, or after `timeout_ms`, REJECT."""

    max_queue_size: int = Field(
        0, ge=0, le=1_000_000,
        description="Requests allowed to wait. Default 0 = derived: 4 x max_batch_size x instances (at least 16).",
    )
    timeout_ms: int = Field(1000, ge=1, le=600_000, description="Longest a request may wait queued; default 1000 ms.")
    allow_timeout_override: bool = Field(False, description="Let clients ask for a shorter timeout; default false.")


class DynamicBatching(Args):
    max_queue_delay_us: int = Field(
        100, ge=0, le=1_000_000,
        description="How long the scheduler waits to fill a batch; default 100 us (throughput without a latency tax).",
    )
    preferred_batch_sizes: list[int] = Field(
        default_factory=list,
        description="Only for models whose kernels are tuned for specific sizes (e.g. TensorRT profiles). Default none.",
    )


class InstanceGroup(Args):
    count: int = Field(2, ge=1, le=64, description="Model instances; default 2 so one computes while one batches.")
    kind: Literal["KIND_GPU", "KIND_CPU", "KIND_MODEL"] = Field("KIND_GPU", description="Where instances run; default KIND_GPU.")
    gpus: list[int] = Field(default_factory=list, description="GPU ids (KIND_GPU only); default all visible GPUs.")


class Warmup(Args):
    name: str = Field("warmup", description="Warmup sample name.")
    batch_size: int = Field(1, ge=1, description="Batch size of the warmup request.")
    count: int = Field(1, ge=1, le=100, description="Times to run it.")


class VersionPolicy(Args):
    kind: Literal["latest", "all", "specific"] = Field("latest", description="Which versions to serve; default latest.")
    num_versions: int = Field(1, ge=1, description="With latest: how many; default 1.")
    versions: list[int] = Field(default_factory=list, description="With specific: the versions.")


class VllmEngine(Args):
    """The `model.json` the vLLM backend reads."""

    model: str = Field(..., description="Hugging Face id or a path inside the model repository.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Fraction of GPU memory vLLM may use; default 0.9.")
    max_model_len: int | None = Field(None, ge=1, description="Context length cap; default the model's.")
    tensor_parallel_size: int = Field(1, ge=1, le=8, description="GPUs per replica; default 1.")
    dtype: Literal["auto", "float16", "bfloat16"] = Field("auto", description="Weights dtype; default auto.")
    enforce_eager: bool = Field(False, description="Disable CUDA graphs; default false.")
    disable_log_requests: bool = Field(True, description="Keep prompts out of logs; default true.")


class TritonModel(Args):
    """One model of the repository."""

    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="Model name (repository folder).")
    backend: Backend = Field(..., description="onnxruntime, tensorrt, pytorch, python or vllm.")
    max_batch_size: int = Field(8, ge=0, le=4096, description="0 disables batching; default 8.")
    inputs: list[Tensor] = Field(default_factory=list, description="Inputs; required except for vllm.")
    outputs: list[Tensor] = Field(default_factory=list, description="Outputs; required except for vllm.")
    dynamic_batching: DynamicBatching | None = Field(
        None, description="Default: on (100 us delay) whenever max_batch_size > 0.",
    )
    queue: QueuePolicy = Field(default_factory=QueuePolicy, description="Bounded default queue; always on.")
    instance_group: InstanceGroup = Field(default_factory=InstanceGroup, description="Default 2 x KIND_GPU.")
    warmup: Warmup | None = Field(None, description="Warm the model before it reports ready; default off.")
    response_cache: bool = Field(False, description="Cache responses of identical requests; default off.")
    version_policy: VersionPolicy = Field(default_factory=VersionPolicy, description="Default: latest 1.")
    default_model_filename: str | None = Field(None, description="Default: the backend's usual file name.")
    parameters: dict[str, str] = Field(default_factory=dict, description="Backend parameters (string values).")
    vllm: VllmEngine | None = Field(None, description="vLLM engine settings; required for the vllm backend.")

    @model_validator(mode="after")
    def _consistent(self) -> "TritonModel":
        problems = []
        if self.backend == "vllm":
            if self.vllm is None:
                problems.append("vllm: required for the vllm backend")
            if self.max_batch_size != 0:
                problems.append("max_batch_size: must be 0 for vllm (vLLM batches internally)")
        else:
            if not self.inputs or not self.outputs:
                problems.append("inputs/outputs: at least one each")
            if self.vllm is not None:
                problems.append("vllm: only for the vllm backend")
        if self.backend == "vllm" and self.warmup is not None:
            problems.append("warmup: not supported for vllm (decoupled; inputs come from the backend)")
        if self.backend == "vllm" and self.response_cache:
            problems.append("response_cache: Triton does not cache decoupled (vllm) models")
        if self.max_batch_size == 0 and self.dynamic_batching is not None:
            problems.append("dynamic_batching: needs max_batch_size > 0")
        if self.dynamic_batching and any(
            b < 1 or b > self.max_batch_size for b in self.dynamic_batching.preferred_batch_sizes
        ):
            problems.append("dynamic_batching.preferred_batch_sizes: each between 1 and max_batch_size")
        if self.warmup and self.max_batch_size and self.warmup.batch_size > self.max_batch_size:
            problems.append("warmup.batch_size: at most max_batch_size")
        if self.warmup and not self.max_batch_size and self.warmup.batch_size != 1:
            problems.append("warmup.batch_size: must be 1 when max_batch_size is 0")
        if self.instance_group.gpus and self.instance_group.kind != "KIND_GPU":
            problems.append("instance_group.gpus: only with kind KIND_GPU")
        names = [t.name for t in self.inputs + self.outputs]
        if len(set(names)) != len(names):
            problems.append("inputs/outputs: names must be unique")
        if self.version_policy.kind == "specific" and not self.version_policy.versions:
            problems.append("version_policy.versions: at least one with kind specific")
        if any(v < 1 for v in self.version_policy.versions):
            problems.append("version_policy.versions: positive integers")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def batching(self) -> DynamicBatching | None:
        if self.max_batch_size == 0:
            return None
        return self.dynamic_batching or DynamicBatching()

    @property
    def max_queue_size(self) -> int:
        if self.queue.max_queue_size:
            return self.queue.max_queue_size
        return max(16, 4 * max(1, self.max_batch_size) * self.instance_group.count)


def config_dict(model: TritonModel) -> dict[str, Any]:
    """The model configuration as a dict in protobuf field names (ModelConfig JSON mapping)."""
    backend, platform = BACKEND_FIELDS[model.backend]
    cfg: dict[str, Any] = {"name": model.name}
    if backend:
        cfg["backend"] = backend
    if platform:
        cfg["platform"] = platform
    cfg["max_batch_size"] = model.max_batch_size
    vp = model.version_policy
    cfg["version_policy"] = ({"latest": {"num_versions": vp.num_versions}} if vp.kind == "latest"
                             else {"all": {}} if vp.kind == "all" else {"specific": {"versions": vp.versions}})
    if model.backend == "vllm":
        # vLLM streams tokens: responses are decoupled from requests.
        cfg["model_transaction_policy"] = {"decoupled": True}
        cfg["instance_group"] = [{"count": 1, "kind": "KIND_MODEL"}]
        if model.parameters:
            cfg["parameters"] = {k: {"string_value": v} for k, v in sorted(model.parameters.items())}
        return cfg
    cfg["input"] = [{"name": t.name, "data_type": t.data_type, "dims": t.dims} for t in model.inputs]
    cfg["output"] = [{"name": t.name, "data_type": t.data_type, "dims": t.dims} for t in model.outputs]
    group: dict[str, Any] = {"count": model.instance_group.count, "kind": model.instance_group.kind}
    if model.instance_group.gpus and model.instance_group.kind == "KIND_GPU":
        group["gpus"] = model.instance_group.gpus
    cfg["instance_group"] = [group]
    queue = {
        "max_queue_size": model.max_queue_size,
        "timeout_action": "REJECT",
        "default_timeout_microseconds": model.queue.timeout_ms * 1000,
        "allow_timeout_override": model.queue.allow_timeout_override,
    }
    batching = model.batching
    if batching is not None:
        db: dict[str, Any] = {"max_queue_delay_microseconds": batching.max_queue_delay_us, "default_queue_policy": queue}
        if batching.preferred_batch_sizes:
            db["preferred_batch_size"] = sorted(set(batching.preferred_batch_sizes))
        cfg["dynamic_batching"] = db
    else:
        # max_batch_size 0: the dynamic batcher never batches (one request per execution) but is
        # Triton's only scheduler with a queue policy, so it is what bounds the queue here too
        # (checked against a real tritonserver in tests/serving).
        cfg["dynamic_batching"] = {"default_queue_policy": queue}
    if model.warmup is not None:
        w = model.warmup
        cfg["model_warmup"] = [{
            "name": w.name, "batch_size": w.batch_size, "count": w.count,
            "inputs": {t.name: {"data_type": t.data_type, "dims": [abs(d) for d in t.dims], "zero_data": True}
                       for t in model.inputs},
        }]
    if model.response_cache:
        cfg["response_cache"] = {"enable": True}
    if model.default_model_filename:
        cfg["default_model_filename"] = model.default_model_filename
    if model.parameters:
        cfg["parameters"] = {k: {"string_value": v} for k, v in sorted(model.parameters.items())}
    return cfg


_ENUM = re.compile(r"^(TYPE_[A-Z0-9]+|KIND_[A-Z]+|REJECT|DELAY)$")
_ENUM_FIELDS = {"data_type", "kind", "timeout_action"}


_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def quote(text: str) -> str:
    """A protobuf text-format string literal. Bytes outside printable ASCII are octal-escaped
    UTF-8, so the file is ASCII and every parser (C++ Triton, Python protobuf) reads the same
    text back (JSON's \\uXXXX escapes, surrogate pairs included, are not text format)."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if key in _ENUM_FIELDS and _ENUM.match(str(value)):
        return str(value)
    return quote(str(value))


def to_pbtxt(value: dict[str, Any], indent: int = 0) -> str:
    """Protobuf text format for a ModelConfig-shaped dict (maps rendered as repeated key/value)."""
    pad = "  " * indent
    lines: list[str] = []
    for key, v in value.items():
        if key in ("parameters", "inputs") and isinstance(v, dict):  # proto maps
            for mk, mv in v.items():
                lines.append(f"{pad}{key} {{")
                lines.append(f"{pad}  key: {quote(mk)}")
                lines.append(f"{pad}  value {{\n{to_pbtxt(mv, indent + 2)}{pad}  }}")
                lines.append(f"{pad}}}")
        elif isinstance(v, dict):
            lines.append(f"{pad}{key} {{\n{to_pbtxt(v, indent + 1)}{pad}}}")
        elif isinstance(v, list) and v and all(isinstance(i, dict) for i in v):
            for item in v:
                lines.append(f"{pad}{key} {{\n{to_pbtxt(item, indent + 1)}{pad}}}")
        elif isinstance(v, list):
            lines.append(f"{pad}{key}: [{', '.join(_scalar(key, i) for i in v)}]")
        else:
            lines.append(f"{pad}{key}: {_scalar(key, v)}")
    return "\n".join(lines) + ("\n" if lines else "")


def render_config(model: TritonModel) -> str:
    return to_pbtxt(config_dict(model))


def vllm_model_json(model: TritonModel) -> str:
    assert model.vllm is not None
    return json.dumps(model.vllm.model_dump(exclude_none=True), indent=2, sort_keys=True) + "\n"


def render_repository(models: list[TritonModel], out_dir: Path | str, artifacts: Path | str | None = None) -> list[Path]:
    """Write `<model>/config.pbtxt` (and vLLM's `<model>/1/model.json`) for every model, and copy
    artifacts from `artifacts/<model>/...` (version folders, model files) when given.

    Returns the files written, sorted. Existing files for these models are replaced.
    """
    import shutil

    out = Path(out_dir)
    written: list[Path] = []
    for model in models:
        folder = out / model.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.pbtxt").write_text(render_config(model), encoding="utf-8")
        written.append(folder / "config.pbtxt")
        if model.backend == "vllm":
            # The version folder(s) Triton will load: 1, or each of a `specific` policy.
            vp = model.version_policy
            for version in sorted(set(vp.versions)) if vp.kind == "specific" else [1]:
                (folder / str(version)).mkdir(exist_ok=True)
                (folder / str(version) / "model.json").write_text(vllm_model_json(model), encoding="utf-8")
                written.append(folder / str(version) / "model.json")
        if artifacts is not None:
            src = Path(artifacts) / model.name
            if src.is_dir():
                for path in sorted(p for p in src.rglob("*") if p.is_file()):
                    rel = path.relative_to(src)
                    if rel.name == "config.pbtxt" and len(rel.parts) == 1:
                        continue  # ours wins
                    dest = folder / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, dest)
                    written.append(dest)
    return sorted(written)
