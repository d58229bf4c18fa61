"""Every recorded custom resource, checked against the vendored Pulumi provider schemas.

The schemas under tests/data/schemas/ are written by tools/vendor_schemas.py (see its docstring
and each file's ``$comment`` for where they came from).  For every custom resource recorded in
every stack (shipped stacks/, tests/configs/, and the prod configs in tests/policy/configs/) the
validator checks:

1. the type token exists in the provider schema.  Token rules implemented: an exact match on
   ``resources``; otherwise a match on a resource's schema ``aliases`` (``{"type": ...}``), which
   is how the engine maps an old/versioned token (e.g. azure-native's ``containerservice/v2025...``
   tokens) to the canonical one.  Tokens are case-sensitive and the engine does not rewrite the
   module part on registration (``moduleFormat`` / the ``eks/nodeGroup`` camel segment only drive
   SDK code generation), so no case or module normalisation is accepted; a near miss on those is
   only offered as a hint.  ``pulumi:providers:*`` and ``pulumi:pulumi:StackReference`` are not
   resources of a provider schema and are skipped; so are Kubernetes kinds whose API group is not
   one the kubernetes provider defines (``x-builtinGroups``) -- CustomResources such as
   ``karpenter.sh/v1:NodePool``, validated against their CRDs in test_k8s_schema.py.
2. every input property exists, recursively through objects (``$ref`` to ``#/types``), arrays
   (``items``) and maps (``additionalProperties``);
3. ``requiredInputs`` / ``required`` are present;
4. enum values are allowed (``oneOf [string, $ref enum]`` -- azure-native's usual shape -- allows
   any string);
5. primitive types match (an integral float is an integer; computed ``<computed:...>``,
   ``<unknown>``, secret ``[secret]`` markers and resource-reference URNs pass any type);
6. properties carrying a ``deprecationMessage`` are collected and must be in ALLOWED_DEPRECATIONS.
"""
from __future__ import annotations

import copy
import fnmatch
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from infra.config import read_stack_file
from infra.plan import make_plan
from tests.plan.conftest import ALL, plan_for

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "tests/data/schemas"
PACKAGES = ("aws", "gcp", "azure-native", "kubernetes")

POLICY_CONFIGS = {
    f"policy:{p.name[len('Pulumi.'):-len('.yaml')]}": p
    for p in sorted((ROOT / "tests/policy/configs").glob("Pulumi.*.yaml"))
    if not p.name.startswith("Pulumi.bad-")
}
STACKS = sorted([*ALL, *POLICY_CONFIGS])

# (type token, property path pattern) -> why it is acceptable to keep using it.
ALLOWED_DEPRECATIONS: dict[tuple[str, str], str] = {}

# "<type> <path>: <value> is not one of [...]" notes accepted, with the reason.
ALLOWED_OPEN_ENUM_VALUES: dict[str, str] = {}

OPEN_ENUM_NOTES: list[str] = []  # informational: open-enum strings outside the known values

PASS_ANY_PREFIXES = ("<computed:", "urn:pulumi:")
PASS_ANY_VALUES = {"[secret]", "<unknown>", "<resource>"}


@lru_cache(maxsize=None)
def schema(pkg: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{pkg}.json").read_text())


@lru_cache(maxsize=None)
def _aliases(pkg: str) -> dict[str, str]:
    return {a["type"]: tok for tok, r in schema(pkg)["resources"].items()
            for a in r.get("aliases", []) if "type" in a}


def plan_of(stack: str):
    if stack in ALL:
        return plan_for(stack)
    return _policy_plan(stack)


@lru_cache(maxsize=None)
def _policy_plan(stack: str):
    return make_plan(read_stack_file(POLICY_CONFIGS[stack]), stack=stack.split(":", 1)[1])


# ----------------------------------------------------------------------------- validator

def resolve_type(token: str) -> tuple[str | None, str | None, str | None]:
    """(package, canonical token, skip reason); canonical None and no skip reason = unknown."""
    if token.startswith("pulumi:"):
        return None, None, "engine/provider resource, not in a provider schema"
    pkg = token.split(":", 1)[0]
    if pkg not in PACKAGES:
        return pkg, None, None
    if token in schema(pkg)["resources"]:
        return pkg, token, None
    if token in _aliases(pkg):
        return pkg, _aliases(pkg)[token], None
    if pkg == "kubernetes":
        group = token.split(":")[1].split("/")[0]
        if group not in schema(pkg)["x-builtinGroups"]:
            return pkg, None, "CustomResource kind (CRD-validated elsewhere)"
    return pkg, None, None


def _hint(pkg: str, token: str) -> str:
    low = token.lower()
    member = token.rsplit(":", 1)[-1].lower()
    near = [t for t in schema(pkg)["resources"] if t.lower() == low or t.rsplit(":", 1)[-1].lower() == member]
    return f" (did you mean {', '.join(near)}?)" if near else ""


def _passes_any(value: Any) -> bool:
    return isinstance(value, str) and (value in PASS_ANY_VALUES or value.startswith(PASS_ANY_PREFIXES))


def _check(pkg: str, value: Any, spec: dict, path: str, problems: list, deprecations: list) -> None:
    if value is None or _passes_any(value):
        return
    if "$ref" in spec:
        ref = spec["$ref"]
        if ref.startswith("pulumi.json#/"):
            return  # Any, Asset, Archive
        t = schema(pkg)["types"].get(ref[len("#/types/"):])
        if t is None:
            problems.append(f"{path}: schema has no type {ref}")
            return
        if "enum" in t:
            allowed = [e["value"] for e in t["enum"]]
            if value not in allowed:
                problems.append(f"{path}: {value!r} is not one of {allowed}")
            return
        _check_object(pkg, value, t.get("properties", {}), t.get("required", []), path, problems, deprecations)
        return
    if "oneOf" in spec:
        results = []
        for alt in spec["oneOf"]:
            p: list = []
            d: list = []
            start = len(OPEN_ENUM_NOTES)
            _check(pkg, value, alt, path, p, d)
            d.extend(("<note>", n) for n in OPEN_ENUM_NOTES[start:])  # keep only the passing alt's notes
            del OPEN_ENUM_NOTES[start:]
            results.append((alt, p, d))
        passed = [(alt, d) for alt, p, d in results if not p]
        if not passed:
            problems.append(f"{path}: matches none of oneOf: " + " | ".join("; ".join(p) for _a, p, _d in results))
            return
        deprecations.extend(x for x in passed[0][1] if x[0] != "<note>")
        OPEN_ENUM_NOTES.extend(n for w, n in passed[0][1] if w == "<note>")
        enum_misses = [p for alt, p, _d in results if p and "is not one of" in p[0]]
        if enum_misses and isinstance(value, str):
            # oneOf [string, $ref enum]: any string is valid; note one outside the known values.
            OPEN_ENUM_NOTES.append(f"{path}: {enum_misses[0][0].split(': ', 1)[1]}")
        return
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list):
            problems.append(f"{path}: expected array, got {type(value).__name__} {value!r:.60}")
            return
        for i, v in enumerate(value):
            _check(pkg, v, spec.get("items", {}), f"{path}[{i}]", problems, deprecations)
    elif kind == "object":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected object, got {type(value).__name__} {value!r:.60}")
            return
        for k, v in value.items():
            _check(pkg, v, spec.get("additionalProperties", {}), f"{path}.{k}", problems, deprecations)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected string, got {type(value).__name__} {value!r:.60}")
        elif "const" in spec and value not in (c if isinstance(c := spec["const"], list) else [c]):
            problems.append(f"{path}: {value!r} is not one of {c if isinstance(c, list) else [c]}")
    elif kind == "integer":
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
        if not ok:
            problems.append(f"{path}: expected integer, got {type(value).__name__} {value!r:.60}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected number, got {type(value).__name__} {value!r:.60}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected boolean, got {type(value).__name__} {value!r:.60}")


def _check_object(pkg, value, props, required, path, problems, deprecations) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path or '$'}: expected object, got {type(value).__name__} {value!r:.60}")
        return
    for key in required:
        if value.get(key) is None:
            problems.append(f"{path + '.' if path else ''}{key}: required input missing")
    for key, v in value.items():
        where = f"{path}.{key}" if path else key
        if key not in props:
            problems.append(f"{where}: not an input property (known: {', '.join(sorted(props))[:300]})")
            continue
        if props[key].get("deprecationMessage") and v is not None:
            deprecations.append((where, props[key]["deprecationMessage"]))
        _check(pkg, v, props[key], where, problems, deprecations)


def validate(token: str, inputs: dict) -> tuple[list[str], list[tuple[str, str]], str | None]:
    """(problems, deprecations used, skip reason) for one resource's recorded inputs."""
    pkg, canonical, skip = resolve_type(token)
    if skip:
        return [], [], skip
    if canonical is None:
        hint = _hint(pkg, token) if pkg in PACKAGES else ""
        return [f"type {token} not in the {pkg} schema{hint} (a new type the SDK has? re-run "
                "tools/vendor_schemas.py)"], [], None
    res = schema(pkg)["resources"][canonical]
    problems: list[str] = []
    deprecations: list[tuple[str, str]] = []
    if res.get("deprecationMessage"):
        deprecations.append(("<resource>", res["deprecationMessage"]))
    _check_object(pkg, inputs, res.get("inputProperties", {}), res.get("requiredInputs", []), "",
                  problems, deprecations)
    return problems, deprecations, None


# ----------------------------------------------------------------------------- tests

def _results(stack: str):
    out = []
    for r in plan_of(stack).run.resources:
        if not r.custom:
            continue
        problems, deprecations, skip = validate(r.type, r.inputs)
        out.append((r, problems, deprecations, skip))
    return out


def test_schema_files_carry_provenance():
    for pkg in PACKAGES:
        doc = schema(pkg)
        meta = doc["$comment"]
        assert meta["vendored"] == "2026-12-04"
        assert meta["source"]["repo"] == f"pulumi/pulumi-{pkg}"
        assert meta["source"]["path"] == f"provider/cmd/pulumi-resource-{pkg}/schema.json"
        assert meta["source"]["tag"] == f"v{doc['version']}"
        assert ("commit" in meta["source"]) or ("unavailable" in meta["source"] and "sdk" in meta)
        assert doc["resources"] and doc["types"]
        assert not meta.get("missing"), meta.get("missing")


@pytest.mark.parametrize("stack", STACKS)
def test_recorded_resources_match_provider_schema(stack):
    report = []
    for r, problems, _dep, _skip in _results(stack):
        report += [f"{r.type} {r.name}: {p}" for p in problems]
    assert not report, "\n".join(report)


def test_deprecated_properties_are_allowed(capsys):
    used: dict[tuple[str, str], str] = {}
    for stack in STACKS:
        for r, _p, deprecations, _s in _results(stack):
            for where, msg in deprecations:
                used.setdefault((r.type, where), msg)
    with capsys.disabled():
        print("\ndeprecated inputs in use:", len(used))
        for (tok, where), msg in sorted(used.items()):
            print(f"  {tok} {where}: {msg[:120]}")
    unexplained = [k for k in used if not any(
        k[0] == t and fnmatch.fnmatchcase(k[1], pat) for t, pat in ALLOWED_DEPRECATIONS)]
    assert not unexplained, unexplained


def test_open_enum_values_outside_known_sets(capsys):
    """Informational: azure-native's open enums accept any string; list the unknown ones."""
    notes: set[str] = set()
    for stack in STACKS:
        for r in plan_of(stack).run.resources:
            if r.custom and not resolve_type(r.type)[2]:
                OPEN_ENUM_NOTES.clear()
                validate(r.type, r.inputs)
                notes |= {f"{r.type} {n}" for n in OPEN_ENUM_NOTES}
    with capsys.disabled():
        print(f"\nopen-enum values outside the known set: {len(notes)}")
        for n in sorted(notes):
            print("  " + n[:240])
    assert not notes - set(ALLOWED_OPEN_ENUM_VALUES), sorted(notes - set(ALLOWED_OPEN_ENUM_VALUES))


def test_counts_per_cloud(capsys):
    checked = {pkg: 0 for pkg in PACKAGES}
    skipped: dict[str, int] = {}
    for stack in STACKS:
        for r, _p, _d, skip in _results(stack):
            if skip:
                skipped[skip] = skipped.get(skip, 0) + 1
            else:
                checked[r.type.split(":", 1)[0]] += 1
    with capsys.disabled():
        print(f"\nresources checked per provider across {len(STACKS)} stacks: {checked}; skipped: {skipped}")
    assert all(checked.values()), checked


# ----------------------------------------------------------------------------- negative tests

def _recorded(token: str) -> dict:
    for stack in STACKS:
        for r in plan_of(stack).run.resources:
            if r.type == token:
                assert validate(token, r.inputs)[0] == []
                return copy.deepcopy(r.inputs)
    raise LookupError(token)


def test_misspelled_property_is_reported():
    inputs = _recorded("aws:eks/nodeGroup:NodeGroup")
    inputs["scalingConfig"]["desiredSzie"] = inputs["scalingConfig"].pop("desiredSize")
    problems = validate("aws:eks/nodeGroup:NodeGroup", inputs)[0]
    assert any("scalingConfig.desiredSzie: not an input property" in p for p in problems), problems
    assert any("scalingConfig.desiredSize: required input missing" in p for p in problems), problems


def test_misspelled_kubernetes_property_is_reported():
    inputs = _recorded("kubernetes:apps/v1:Deployment")
    inputs["spec"]["replica"] = 2
    problems = validate("kubernetes:apps/v1:Deployment", inputs)[0]
    assert any(p.startswith("spec.replica: not an input property") for p in problems), problems


def test_invalid_enum_value_is_reported():
    # A kubernetes Literal (apiVersion/kind) is a closed set ...
    inputs = _recorded("kubernetes:core/v1:Namespace")
    inputs["apiVersion"] = "v2"
    problems = validate("kubernetes:core/v1:Namespace", inputs)[0]
    assert any(p.startswith("apiVersion: 'v2' is not one of") for p in problems), problems
    # ... so is a discriminator const (azure-native's metric criteria) ...
    inputs = _recorded("azure-native:monitor:MetricAlert")
    inputs["criteria"]["odataType"] = "Microsoft.Azure.Monitor.NoSuchCriteria"
    problems = validate("azure-native:monitor:MetricAlert", inputs)[0]
    assert any("criteria" in p and "is not one of" in p for p in problems), problems
    # ... and an enum type referenced directly.
    for pkg in ("aws", "azure-native"):
        enum_type = next(k for k, t in schema(pkg)["types"].items() if "enum" in t)
        problems = []
        _check(pkg, "Bogus", {"$ref": f"#/types/{enum_type}"}, "x", problems, [])
        assert problems and "is not one of" in problems[0], (pkg, problems)
    # oneOf [string, $ref enum] (azure-native's usual shape) allows any string.
    problems = []
    _check("azure-native", "Bogus", {"oneOf": [{"type": "string"}, {"$ref": f"#/types/{enum_type}"}]},
           "x", problems, [])
    assert problems == []


def test_missing_required_input_is_reported():
    inputs = _recorded("azure-native:containerservice:AgentPool")
    del inputs["resourceGroupName"]
    problems = validate("azure-native:containerservice:AgentPool", inputs)[0]
    assert "resourceGroupName: required input missing" in problems, problems


def test_wrong_primitive_type_is_reported():
    inputs = _recorded("aws:eks/nodeGroup:NodeGroup")
    inputs["scalingConfig"]["maxSize"] = 2.5
    problems = validate("aws:eks/nodeGroup:NodeGroup", inputs)[0]
    assert any(p.startswith("scalingConfig.maxSize: expected integer") for p in problems), problems
    inputs["scalingConfig"]["maxSize"] = 3.0  # integral float is an integer on the wire
    assert validate("aws:eks/nodeGroup:NodeGroup", inputs)[0] == []
    inputs = _recorded("gcp:container/nodePool:NodePool")
    inputs["nodeCount"] = "3"
    problems = validate("gcp:container/nodePool:NodePool", inputs)[0]
    assert any(p.startswith("nodeCount: expected integer") for p in problems), problems
    inputs["nodeCount"] = "<computed:nodeCount>"
    assert not any(p.startswith("nodeCount") for p in validate("gcp:container/nodePool:NodePool", inputs)[0])


def test_unknown_type_token_is_reported_and_aliases_resolve():
    problems = validate("aws:eks/nodegroup:NodeGroup", {})[0]
    assert problems and "not in the aws schema" in problems[0] and "did you mean" in problems[0]
    alias = next(a["type"] for a in schema("azure-native")["resources"]["azure-native:containerservice:ManagedCluster"]["aliases"])
    assert resolve_type(alias)[1] == "azure-native:containerservice:ManagedCluster"
    assert resolve_type("kubernetes:karpenter.sh/v1:NodePool")[2]
    assert validate("kubernetes:apps/v1:Deploymnet", {})[0]


def test_deprecated_property_is_reported():
    inputs = _recorded("aws:eks/cluster:Cluster")
    deprecated = [k for k, p in schema("aws")["resources"]["aws:eks/cluster:Cluster"]["inputProperties"].items()
                  if p.get("deprecationMessage")]
    assert deprecated
    inputs[deprecated[0]] = ["vpc-cni"]
    problems, deprecations, _ = validate("aws:eks/cluster:Cluster", inputs)
    assert problems == [] and [w for w, _m in deprecations] == [deprecated[0]]
