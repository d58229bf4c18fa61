"""Recording mocks: run the real program with no engine, no plugins, no credentials.

`RecordingMonitor` subclasses Pulumi's `MockMonitor` and records, for every RegisterResource /
ReadResource / Invoke request, what the engine would receive: type, name, parent, provider,
inputs (secrets kept as markers), and the resource options the SDK put on the wire (protect,
retainOnDelete, ignoreChanges, deleteBeforeReplace, aliases, dependsOn ...).

`RecordingMocks` echoes inputs as outputs. Provider-computed attributes that the program reads
back (an EKS cluster's OIDC issuer, a bucket's ARN ...) are filled with deterministic
placeholders from `infra.plan.computed`, marked with the `<computed:...>` shape so nobody mistakes
them for real values.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc

from .computed import computed_call, resource_outputs, stack_reference_outputs

SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - wire-format constant
SECRET_VALUE = rpc._special_secret_sig  # noqa: SLF001
RESOURCE_REF = rpc._special_resource_sig  # noqa: SLF001
SECRET_MARKER = "[secret]"


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str
    provider: str
    custom: bool
    inputs: dict[str, Any]
    options: dict[str, Any]
    read: bool = False
    secret_paths: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "custom": self.custom,
            "read": self.read,
            "inputs": self.inputs,
            "options": self.options,
        }


@dataclass
class RecordedInvoke:
    token: str
    provider: str
    args: dict[str, Any]


def _mask(value: Any, path: str, found: list[str]) -> Any:
    """Replace secret-wrapped values with a marker, remembering where they were."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            found.append(path or "$")
            return SECRET_MARKER
        if value.get(SECRET_SIG) == RESOURCE_REF:
            return value.get("urn", "<resource>")
        return {k: _mask(v, f"{path}.{k}" if path else k, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        # The wire carries every number as a double; keep integers readable in plan.json.
        return int(value)
    if isinstance(value, str) and value == rpc.UNKNOWN:
        return "<unknown>"
    if not isinstance(value, (str, int, float, bool, type(None))):
        return repr(value)
    return value


def _raw_inputs(struct) -> dict[str, Any]:
    """Deserialize without unwrapping secrets (sig-wrapped dicts survive)."""
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


def _options(request) -> dict[str, Any]:
    def has(name: str) -> bool:
        try:
            return request.HasField(name)
        except ValueError:
            return True

    aliases: list = []
    for a in list(getattr(request, "aliases", [])) + list(getattr(request, "aliasURNs", [])):
        item = a if isinstance(a, str) else (a.urn or {"name": a.spec.name or None, "type": a.spec.type or None})
        if item not in aliases:
            aliases.append(item)
    return {
        "protect": bool(request.protect) if has("protect") else False,
        "retainOnDelete": bool(request.retainOnDelete) if has("retainOnDelete") else False,
        "ignoreChanges": sorted(request.ignoreChanges),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "replaceOnChanges": sorted(request.replaceOnChanges),
        "aliases": aliases,
        "dependsOn": sorted(request.dependencies),
        "additionalSecretOutputs": sorted(request.additionalSecretOutputs),
        "importId": request.importId or None,
    }


class RecordingMocks(_mocks.Mocks):
    """Echo inputs; add placeholders for provider-computed outputs; record invokes."""

    def __init__(self, stack_reference_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.invokes: list[RecordedInvoke] = []
        self.stack_reference_outputs = stack_reference_outputs or {}

    def new_resource(self, args: _mocks.MockResourceArgs):
        if args.typ == "pulumi:pulumi:StackReference":
            name = args.inputs.get("name", args.name)
            outputs = self.stack_reference_outputs.get(name)
            if outputs is None:
                outputs = stack_reference_outputs(name)
            return name, {"name": name, "outputs": outputs, "secretOutputNames": ["kubeconfig"]}
        rid = args.resource_id or f"{args.name}-id"
        return rid, resource_outputs(args.typ, args.name, args.inputs)

    def call(self, args: _mocks.MockCallArgs):
        self.invokes.append(RecordedInvoke(token=args.token, provider=args.provider or "", args=dict(args.args)))
        result = dict(args.args)
        result.update(computed_call(args.token, args.args))
        return result, []


class RecordingMonitor(_mocks.MockMonitor):
    """MockMonitor that keeps every registration request's inputs and options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self.stack_secret_outputs: list[str] = []
        self._lock = threading.Lock()

    def _record(self, request, *, read: bool) -> None:
        secret_paths: list[str] = []
        inputs = _mask(_raw_inputs(request.properties if read else request.object), "", secret_paths)
        rec = RecordedResource(
            urn=self.make_urn(request.parent, request.type, request.name),
            type=request.type,
            name=request.name,
            parent=request.parent,
            provider=request.provider,
            custom=True if read else bool(request.custom),
            inputs=inputs,
            options={} if read else _options(request),
            read=read,
            secret_paths=secret_paths,
        )
        with self._lock:
            self.recorded.append(rec)

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, read=False)
        return super().RegisterResource(request)

    def ReadResource(self, request):
        self._record(request, read=True)
        return super().ReadResource(request)

    def RegisterResourceOutputs(self, request):
        if request.urn.split("::")[2] == "pulumi:pulumi:Stack":
            secret_paths: list[str] = []
            outs = _mask(_raw_inputs(request.outputs), "", secret_paths)
            with self._lock:
                self.stack_outputs = outs
                self.stack_secret_outputs = sorted({p.split(".")[0].split("[")[0] for p in secret_paths})
        return super().RegisterResourceOutputs(request)
