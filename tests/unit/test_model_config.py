"""Triton model configs rendered by our code parse with Triton's own ModelConfig protobuf
(tritonclient.grpc.model_config_pb2), say what the TritonModel says, and invalid models never
get that far."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.triton.model_config import (
    BACKEND_FIELDS,
    DynamicBatching,
    InstanceGroup,
    QueuePolicy,
    Tensor,
    TritonModel,
    VersionPolicy,
    VllmEngine,
    Warmup,
    config_dict,
    quote,
    render_config,
    render_repository,
    vllm_model_json,
)

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
from google.protobuf import json_format, text_format  # noqa: E402

MC = model_config_pb2.ModelConfig
DATA_TYPES = [
    "TYPE_BOOL", "TYPE_UINT8", "TYPE_UINT16", "TYPE_UINT32", "TYPE_UINT64", "TYPE_INT8", "TYPE_INT16", "TYPE_INT32",
    "TYPE_INT64", "TYPE_FP16", "TYPE_FP32", "TYPE_FP64", "TYPE_STRING", "TYPE_BF16",
]


def parse(text: str):
    return text_format.Parse(text, MC())


def io(n_in: int = 1, n_out: int = 1, dims=(4,)) -> dict:
    return {
        "inputs": [Tensor(name=f"IN{i}", data_type="TYPE_FP32", dims=list(dims)) for i in range(n_in)],
        "outputs": [Tensor(name=f"OUT{i}", data_type="TYPE_FP32", dims=list(dims)) for i in range(n_out)],
    }


ENGINE = VllmEngine(model="facebook/opt-125m", max_model_len=2048, dtype="float16")


# --- examples -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", sorted(BACKEND_FIELDS))
def test_every_backend_parses(backend):
    model = (TritonModel(name="llm", backend="vllm", max_batch_size=0, vllm=ENGINE) if backend == "vllm"
             else TritonModel(name=f"m-{backend}", backend=backend, **io()))
    cfg = parse(render_config(model))
    want_backend, want_platform = BACKEND_FIELDS[backend]
    assert cfg.backend == (want_backend or "") and cfg.platform == (want_platform or "")
    assert cfg.name == model.name


def test_defaults_are_ours_not_tritons():
    cfg = parse(render_config(TritonModel(name="resnet", backend="onnxruntime", **io())))
    assert cfg.max_batch_size == 8
    assert cfg.HasField("dynamic_batching")
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 100
    q = cfg.dynamic_batching.default_queue_policy
    assert q.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT
    assert q.max_queue_size == 4 * 8 * 2 and q.default_timeout_microseconds == 1_000_000
    assert not q.allow_timeout_override
    [group] = cfg.instance_group
    assert group.count == 2 and group.kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert cfg.version_policy.WhichOneof("policy_choice") == "latest" and cfg.version_policy.latest.num_versions == 1
    assert not cfg.HasField("response_cache") and not cfg.model_warmup


def test_unbatched_models_still_have_a_bounded_queue():
    """max_batch_size 0: no batching (no delay, no preferred sizes) but the REJECT queue policy
    is still there; tests/serving checks a real tritonserver enforces it."""
    cfg = parse(render_config(TritonModel(name="m", backend="python", max_batch_size=0, **io())))
    assert cfg.max_batch_size == 0
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 0 and not cfg.dynamic_batching.preferred_batch_size
    q = cfg.dynamic_batching.default_queue_policy
    assert q.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT and q.max_queue_size == 16


def test_vllm_config_and_model_json(tmp_path: Path):
    model = TritonModel(name="llama", backend="vllm", max_batch_size=0, vllm=ENGINE,
                        parameters={"REPORT_CUSTOM_METRICS": "true"})
    cfg = parse(render_config(model))
    assert cfg.model_transaction_policy.decoupled
    assert [(g.count, g.kind) for g in cfg.instance_group] == [(1, model_config_pb2.ModelInstanceGroup.KIND_MODEL)]
    assert not cfg.HasField("dynamic_batching") and not cfg.input and not cfg.output
    assert cfg.parameters["REPORT_CUSTOM_METRICS"].string_value == "true"
    doc = json.loads(vllm_model_json(model))
    assert doc == {"model": "facebook/opt-125m", "max_model_len": 2048, "dtype": "float16",
                   "gpu_memory_utilization": 0.9, "tensor_parallel_size": 1, "enforce_eager": False,
                   "disable_log_requests": True}
    files = render_repository([model], tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["llama/1/model.json", "llama/config.pbtxt"]
    assert json.loads((tmp_path / "llama/1/model.json").read_text()) == doc


def test_vllm_model_json_goes_where_the_version_policy_looks(tmp_path: Path):
    model = TritonModel(name="llama", backend="vllm", max_batch_size=0, vllm=ENGINE,
                        version_policy=VersionPolicy(kind="specific", versions=[3, 2]))
    files = render_repository([model], tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "llama/2/model.json", "llama/3/model.json", "llama/config.pbtxt"]


def test_render_repository_copies_artifacts_and_ours_wins(tmp_path: Path):
    art = tmp_path / "art" / "m"
    (art / "1").mkdir(parents=True)
    (art / "1" / "model.py").write_text("# code\n")
    (art / "config.pbtxt").write_text("garbage that would not parse {{{")
    out = tmp_path / "repo"
    model = TritonModel(name="m", backend="python", **io())
    files = render_repository([model], out, tmp_path / "art")
    assert [p.relative_to(out).as_posix() for p in files] == ["m/1/model.py", "m/config.pbtxt"]
    assert parse((out / "m/config.pbtxt").read_text()).name == "m"


def test_strings_survive_text_format_both_ways():
    value = 'café ✓ "q" \\ back\n\t\x01\x7f 😀 \'s'
    model = TritonModel(name="m", backend="python", parameters={"ключ ✓": value}, **io())
    text = render_config(model)
    assert text.isascii()
    assert parse(text).parameters["ключ ✓"].string_value == value
    assert parse(f"name: {quote(value)}").name == value


# --- invalid models -------------------------------------------------------------------------------

INVALID = {
    "vllm with batching": (dict(name="l", backend="vllm", max_batch_size=8, vllm=ENGINE), "max_batch_size"),
    "vllm without engine": (dict(name="l", backend="vllm", max_batch_size=0), "vllm: required"),
    "engine on another backend": (dict(name="m", backend="python", vllm=ENGINE, **io()), "only for the vllm"),
    "vllm warmup": (dict(name="l", backend="vllm", max_batch_size=0, vllm=ENGINE, warmup=Warmup()), "warmup"),
    "vllm response cache": (dict(name="l", backend="vllm", max_batch_size=0, vllm=ENGINE, response_cache=True),
                            "response_cache"),
    "no inputs": (dict(name="m", backend="onnxruntime", outputs=io()["outputs"]), "inputs/outputs"),
    "no outputs": (dict(name="m", backend="onnxruntime", inputs=io()["inputs"]), "inputs/outputs"),
    "preferred > max batch": (dict(name="m", backend="tensorrt", max_batch_size=8,
                                   dynamic_batching=DynamicBatching(preferred_batch_sizes=[4, 16]), **io()),
                              "preferred_batch_sizes"),
    "preferred zero": (dict(name="m", backend="tensorrt", max_batch_size=8,
                            dynamic_batching=DynamicBatching(preferred_batch_sizes=[0]), **io()),
                       "preferred_batch_sizes"),
    "batching without batch": (dict(name="m", backend="python", max_batch_size=0,
                                    dynamic_batching=DynamicBatching(), **io()), "dynamic_batching"),
    "duplicate tensor names": (dict(name="m", backend="python",
                                    inputs=[Tensor(name="X", data_type="TYPE_FP32", dims=[1])] * 2,
                                    outputs=io()["outputs"]), "unique"),
    "input named like output": (dict(name="m", backend="python",
                                     inputs=[Tensor(name="X", data_type="TYPE_FP32", dims=[1])],
                                     outputs=[Tensor(name="X", data_type="TYPE_FP32", dims=[1])]), "unique"),
    "warmup > max batch": (dict(name="m", backend="python", max_batch_size=4, warmup=Warmup(batch_size=8), **io()),
                           "warmup.batch_size"),
    "warmup batch without batching": (dict(name="m", backend="python", max_batch_size=0,
                                           warmup=Warmup(batch_size=2), **io()), "warmup.batch_size"),
    "specific without versions": (dict(name="m", backend="python", version_policy=VersionPolicy(kind="specific"),
                                       **io()), "version_policy"),
    "version zero": (dict(name="m", backend="python", version_policy=VersionPolicy(kind="specific", versions=[0]),
                          **io()), "version_policy"),
    "gpus on cpu": (dict(name="m", backend="python", instance_group=InstanceGroup(kind="KIND_CPU", gpus=[0]),
                         **io()), "instance_group.gpus"),
    "bad model name": (dict(name="Bad/Name", backend="python", **io()), "name"),
    "unknown backend": (dict(name="m", backend="tensorflow", **io()), "backend"),
    "unknown field": (dict(name="m", backend="python", batching=True, **io()), "batching"),
    "batch too large": (dict(name="m", backend="python", max_batch_size=5000, **io()), "max_batch_size"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_models_rejected(case):
    kwargs, fragment = INVALID[case]
    with pytest.raises(ValidationError) as err:
        TritonModel(**kwargs)
    assert fragment in str(err.value)


@pytest.mark.parametrize("kwargs", [
    dict(name="X", data_type="TYPE_FP32", dims=[]),
    dict(name="X", data_type="TYPE_FP32", dims=[0]),
    dict(name="X", data_type="TYPE_FP32", dims=[-2]),
    dict(name="1X", data_type="TYPE_FP32", dims=[1]),
    dict(name="X", data_type="FP32", dims=[1]),
])
def test_invalid_tensors_rejected(kwargs):
    with pytest.raises(ValidationError):
        Tensor(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(max_queue_size=-1), dict(timeout_ms=0), dict(timeout_ms=600_001)])
def test_invalid_queue_rejected(kwargs):
    with pytest.raises(ValidationError):
        QueuePolicy(**kwargs)


# --- property: every valid model renders a config Triton parses, saying the same thing ------------

names = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True)
tensor_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.:-]{0,12}", fullmatch=True)
dims = st.lists(st.one_of(st.just(-1), st.integers(1, 4096)), min_size=1, max_size=4)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


@st.composite
def tensors(draw):
    labels = draw(st.lists(tensor_names, min_size=2, max_size=6, unique=True))
    cut = draw(st.integers(1, len(labels) - 1))
    make = lambda n: Tensor(name=n, data_type=draw(st.sampled_from(DATA_TYPES)), dims=draw(dims))  # noqa: E731
    return [make(n) for n in labels[:cut]], [make(n) for n in labels[cut:]]


@st.composite
def triton_models(draw) -> TritonModel:
    backend = draw(st.sampled_from(sorted(BACKEND_FIELDS)))
    name = draw(names)
    common = dict(
        queue=QueuePolicy(max_queue_size=draw(st.integers(0, 1_000_000)), timeout_ms=draw(st.integers(1, 600_000)),
                          allow_timeout_override=draw(st.booleans())),
        parameters=draw(st.dictionaries(texts, texts, max_size=3)),
    )
    vp_kind = draw(st.sampled_from(["latest", "all", "specific"]))
    common["version_policy"] = VersionPolicy(
        kind=vp_kind, num_versions=draw(st.integers(1, 5)),
        versions=draw(st.lists(st.integers(1, 10**9), min_size=1, max_size=3)) if vp_kind == "specific" else [],
    )
    if backend == "vllm":
        engine = VllmEngine(
            model=draw(st.sampled_from(["facebook/opt-125m", "/models/llama", "meta-llama/Llama-3.1-8B"])),
            gpu_memory_utilization=draw(st.floats(0.05, 1.0)),
            max_model_len=draw(st.one_of(st.none(), st.integers(1, 131072))),
            tensor_parallel_size=draw(st.integers(1, 8)),
            dtype=draw(st.sampled_from(["auto", "float16", "bfloat16"])),
            enforce_eager=draw(st.booleans()),
        )
        return TritonModel(name=name, backend="vllm", max_batch_size=0, vllm=engine, **common)
    inputs, outputs = draw(tensors())
    mbs = draw(st.one_of(st.just(0), st.integers(1, 4096)))
    batching = None
    if mbs and draw(st.booleans()):
        batching = DynamicBatching(
            max_queue_delay_us=draw(st.integers(0, 1_000_000)),
            preferred_batch_sizes=draw(st.lists(st.integers(1, mbs), max_size=4)),
        )
    kind = draw(st.sampled_from(["KIND_GPU", "KIND_CPU", "KIND_MODEL"]))
    group = InstanceGroup(count=draw(st.integers(1, 64)), kind=kind,
                          gpus=draw(st.lists(st.integers(0, 7), max_size=3, unique=True)) if kind == "KIND_GPU" else [])
    warmup = None
    if draw(st.booleans()):
        warmup = Warmup(name=draw(texts), batch_size=draw(st.integers(1, mbs)) if mbs else 1,
                        count=draw(st.integers(1, 100)))
    return TritonModel(
        name=name, backend=backend, max_batch_size=mbs, inputs=inputs, outputs=outputs, dynamic_batching=batching,
        instance_group=group, warmup=warmup, response_cache=draw(st.booleans()),
        default_model_filename=draw(st.one_of(st.none(), st.sampled_from(["model.onnx", "net.plan", "m.pt"]))),
        **common,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(triton_models())
def test_rendered_configs_parse_and_round_trip(model: TritonModel):
    text = render_config(model)
    assert text.isascii()
    cfg = parse(text)
    # The text rendering and the dict (JSON mapping) say exactly the same thing.
    assert json_format.ParseDict(config_dict(model), MC()) == cfg

    backend, platform = BACKEND_FIELDS[model.backend]
    assert (cfg.name, cfg.backend, cfg.platform) == (model.name, backend or "", platform or "")
    assert cfg.max_batch_size == model.max_batch_size
    assert {k: v.string_value for k, v in cfg.parameters.items()} == model.parameters
    vp = cfg.version_policy
    assert vp.WhichOneof("policy_choice") == model.version_policy.kind
    if model.version_policy.kind == "specific":
        assert list(vp.specific.versions) == model.version_policy.versions
    elif model.version_policy.kind == "latest":
        assert vp.latest.num_versions == model.version_policy.num_versions

    if model.backend == "vllm":
        assert cfg.model_transaction_policy.decoupled and not cfg.HasField("dynamic_batching")
        assert json.loads(vllm_model_json(model)) == model.vllm.model_dump(exclude_none=True)
        return

    # Tensors.
    for got, want in ((cfg.input, model.inputs), (cfg.output, model.outputs)):
        assert [(t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims)) for t in got] == [
            (t.name, t.data_type, t.dims) for t in want]
    # Instances.
    [group] = cfg.instance_group
    assert group.count == model.instance_group.count
    assert model_config_pb2.ModelInstanceGroup.Kind.Name(group.kind) == model.instance_group.kind
    assert list(group.gpus) == model.instance_group.gpus
    # Batching iff max_batch_size > 0; a bounded REJECT queue always.
    db = cfg.dynamic_batching
    assert cfg.HasField("dynamic_batching")
    if model.max_batch_size:
        want = model.dynamic_batching or DynamicBatching()
        assert db.max_queue_delay_microseconds == want.max_queue_delay_us
        assert list(db.preferred_batch_size) == sorted(set(want.preferred_batch_sizes))
    else:
        assert db.max_queue_delay_microseconds == 0 and not db.preferred_batch_size
    q = db.default_queue_policy
    assert q.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT
    assert 1 <= q.max_queue_size == model.max_queue_size
    assert q.max_queue_size == (model.queue.max_queue_size or max(
        16, 4 * max(1, model.max_batch_size) * model.instance_group.count))
    assert q.default_timeout_microseconds == model.queue.timeout_ms * 1000
    assert q.allow_timeout_override == model.queue.allow_timeout_override
    # Warmup, cache, file name.
    if model.warmup is None:
        assert not cfg.model_warmup
    else:
        [w] = cfg.model_warmup
        assert (w.name, w.batch_size, w.count) == (model.warmup.name, model.warmup.batch_size, model.warmup.count)
        assert set(w.inputs) == {t.name for t in model.inputs}
        for t in model.inputs:
            assert w.inputs[t.name].zero_data and list(w.inputs[t.name].dims) == [abs(d) for d in t.dims]
    assert cfg.response_cache.enable == model.response_cache
    assert cfg.default_model_filename == (model.default_model_filename or "")


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_quote_round_trips_any_text(value):
    assert quote(value).isascii()
    assert parse(f"name: {quote(value)}").name == value

