"""Turn a recorded program run into the offline plan: a text report, plan.json and manifests."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import yaml

from .mocks import RecordedResource
from .runner import ProgramRun

PLAN_FORMAT_VERSION = 1
STACK_TYPE = "pulumi:pulumi:Stack"


def cloud_of(typ: str) -> str:
    """aws, gcp, azure, kubernetes, gpufleet (components) or pulumi (stack references)."""
    if typ.startswith("pulumi:providers:"):
        pkg = typ.split(":")[2]
        return {"azure-native": "azure"}.get(pkg, pkg)
    pkg = typ.split(":")[0]
    return {"azure-native": "azure"}.get(pkg, pkg)


def is_kubernetes_object(r: RecordedResource) -> bool:
    """Plain Kubernetes API objects (not providers, Helm releases or YAML/kustomize groups)."""
    return (
        r.custom
        and r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm.sh")
        and "apiVersion" in r.inputs
        and "kind" in r.inputs
    )


def manifest(r: RecordedResource) -> dict[str, Any]:
    """The object the Kubernetes provider would send, from the recorded inputs."""
    return {k: v for k, v in r.inputs.items() if not k.startswith("__")}


def top_component(r: RecordedResource, by_urn: dict[str, RecordedResource]) -> str:
    """URN of the outermost component containing `r`, or "" for stack-level resources."""
    node = r
    while node.parent in by_urn:
        node = by_urn[node.parent]
    return "" if node.custom else node.urn


def summary(run: ProgramRun) -> dict[str, Any]:
    by_cloud = Counter(cloud_of(r.type) for r in run.resources)
    by_type = Counter(r.type for r in run.resources)
    return {
        "total": len(run.resources),
        "byCloud": dict(sorted(by_cloud.items())),
        "byType": dict(sorted(by_type.items())),
        "kubernetesObjects": sum(1 for r in run.resources if is_kubernetes_object(r)),
    }


def plan_document(run: ProgramRun, *, config: Any, sections: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "formatVersion": PLAN_FORMAT_VERSION,
        "project": "gpufleet",
        "stack": run.stack,
        "config": config,
        "summary": summary(run),
        "resources": [r.to_json() for r in run.resources],
        "invokes": [{"token": i.token, "provider": i.provider, "args": _plain(i.args)} for i in run.invokes],
        "outputs": run.outputs,
        "secretOutputs": run.secret_outputs,
    }
    doc.update(sections or {})
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return repr(value)


def write_outputs(run: ProgramRun, out_dir: Path, document: dict[str, Any]) -> list[Path]:
    """Write plan.json and one YAML file per Kubernetes object under out_dir/k8s/."""
    out_dir.mkdir(parents=True, exist_ok=True)
    k8s_dir = out_dir / "k8s"
    if k8s_dir.exists():
        for old in k8s_dir.glob("*.yaml"):
            old.unlink()
    k8s_dir.mkdir(exist_ok=True)
    written = [out_dir / "plan.json"]
    (out_dir / "plan.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    for r in run.resources:
        if is_kubernetes_object(r):
            path = k8s_dir / f"{r.name}.yaml"
            path.write_text(yaml.safe_dump(manifest(r), sort_keys=False))
            written.append(path)
    return written


def render_text(run: ProgramRun, *, title: str) -> str:
    by_urn = {r.urn: r for r in run.resources}
    groups: dict[str, list[RecordedResource]] = defaultdict(list)
    for r in run.resources:
        groups[top_component(r, by_urn)].append(r)
    s = summary(run)
    lines = [title, f"resources: {s['total']}  ({', '.join(f'{k} {v}' for k, v in s['byCloud'].items())})", ""]
    for urn in sorted(groups, key=lambda u: (u != "", by_urn[u].name if u in by_urn else "")):
        members = groups[urn]
        if urn == "":
            lines.append("stack-level")
        else:
            comp = by_urn[urn]
            lines.append(f"{comp.name}  [{comp.type}]")
        for r in sorted(members, key=lambda m: (m.type, m.name)):
            if r.urn == urn:
                continue
            flags = [f for f, on in (("protect", r.options.get("protect")), ("retain", r.options.get("retainOnDelete")),
                                     ("read", r.read)) if on]
            suffix = f"  ({', '.join(flags)})" if flags else ""
            lines.append(f"  {r.type:<58} {r.name}{suffix}")
        lines.append("")
    lines.append("counts by type")
    for typ, n in s["byType"].items():
        lines.append(f"  {n:>4}  {typ}")
    lines.append("")
    lines.append("outputs")
    for key, value in run.outputs.items():
        shown = json.dumps(value, sort_keys=True)
        if len(shown) > 160:
            shown = shown[:157] + "..."
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines) + "\n"
