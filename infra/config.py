"""`PlatformConfig`: the one structured stack key `gpufleet:platform`, validated up front.

A bad config yields one `ConfigError` listing every problem with its config path
(`platform.regions[1].cluster.create.version`), the value received and what is allowed. It is
raised before any resource is registered. No network or cloud calls happen here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pulumi
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from components._contracts import GCP_LABEL_VALUE, Cloud
from components.cluster.args import ClusterSpec, cluster_issues
from components.gpu_pool.args import GpuPoolSpec
from components.monitoring.args import MonitoringSpec, log_retention_days, monitoring_issues
from components.cluster.args import retention_issue
from components.dr.args import DrConfig, dr_issues
from components.storage.args import ModelStoreConfig, storage_issues
from components.triton.args import ServingSpec, serving_issues
from components.load_balancer.args import EndpointSpec, FailoverSpec, endpoint_issues, failover_issues

CONFIG_KEY = "gpufleet:platform"
ROOT = "platform"

# Region name shapes per cloud. Checked offline; the GPU catalog (later) narrows them further.
REGION_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "aws": (re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$"), "an AWS region such as us-east-1"),
    "gcp": (re.compile(r"^[a-z]+-[a-z]+\d$"), "a GCP region such as us-central1"),
    "azure": (re.compile(r"^[a-z]+[a-z0-9]*$"), "an Azure location such as eastus"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CostTags(_Strict):
    """Cost-allocation tags put on every taggable resource (AWS tags, GCP labels, Azure tags)."""

    owner: str = Field(..., description="Team that owns the spend. Required; lowercase, digits, '-' or '_'.")
    cost_center: str = Field(..., alias="cost-center", description="Cost center code. Required; same rule as owner.")
    extra: dict[str, str] = Field(default_factory=dict, description="More tags; keys and values follow the same rule.")

    @field_validator("owner", "cost_center")
    @classmethod
    def _label(cls, v: str) -> str:
        if not v or not GCP_LABEL_VALUE.match(v):
            raise ValueError("1-63 characters of lowercase letters, digits, '-' or '_' (valid on all clouds)")
        return v

    @field_validator("extra")
    @classmethod
    def _extra(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, val in v.items() if not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", k) or not GCP_LABEL_VALUE.match(val)]
        if bad:
            raise ValueError(f"invalid tag keys/values for {sorted(bad)}: lowercase letters, digits, '-' or '_'")
        reserved = {"environment", "owner", "cost-center", "managed-by"} & set(v)
        if reserved:
            raise ValueError(f"{sorted(reserved)} are set by gpufleet; remove them from extra")
        return dict(sorted(v.items()))


class RegionConfig(_Strict):
    """One region of the platform: a cloud region with its cluster."""

    name: str = Field(
        ...,
        pattern=r"^[a-z][a-z0-9]{1,11}$",
        description="Short unique key (e.g. use1) used in resource names. 2-12 lowercase letters/digits.",
    )
    cloud: Cloud = Field(..., description="aws, gcp or azure.")
    region: str = Field(..., description="The cloud's region name (us-east-1, us-central1, eastus).")
    role: Literal["primary", "standby"] = Field(
        "primary", description="primary serves traffic; standby receives DR replicas and failover. Default primary."
    )
    project_id: str | None = Field(
        None, pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", description="GCP project id. Required for gcp, not allowed elsewhere."
    )
    subscription_id: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="Azure subscription. Default: the one the Azure provider resolves (az login / ARM_SUBSCRIPTION_ID).",
    )
    cluster: ClusterSpec = Field(..., description="create a cluster, or adopt an existing one.")
    aws_zone_ids: dict[str, str] = Field(
        default_factory=dict,
        description="AWS only: this account's zone name -> AZ ID mapping for the region (from `aws ec2 "
        "describe-availability-zones --region R --query 'AvailabilityZones[].[ZoneName,ZoneId]'`), e.g. "
        "{us-east-1a: use1-az4}. The catalog records GPU offerings by AZ ID; with the mapping a pool, reservation "
        "or Capacity Block zone whose AZ ID lacks the type is refused. Default: none; the plan then names the zones "
        "it could not check.",
    )
    gpu_pools: list[GpuPoolSpec] = Field(
        default_factory=list,
        description="GPU node pools of this region's cluster. Default: none (the cluster has only its system pool).",
    )
    serving: ServingSpec | None = Field(
        None, description="NVIDIA Triton serving on one of the region's GPU pools. Default: no serving.",
    )
    endpoint: EndpointSpec | None = Field(
        None, description="Expose the region's Triton through the cloud load balancer behind Envoy Gateway rate "
        "limits. Default: no endpoint (in-cluster Service only).",
    )
    storage: ModelStoreConfig = Field(
        default_factory=ModelStoreConfig,
        description="The region's model store (bucket/account Triton reads). Default: versioned, private, TLS-only, "
        "customer-managed key in prod. The DR target region uses the replica instead of its own store.",
    )


class PlatformConfig(_Strict):
    """The whole platform for one stack (environment)."""

    environment: Literal["dev", "staging", "prod"] = Field(
        ..., description="dev, staging or prod. prod protects stateful resources and tightens checks."
    )
    tags: CostTags = Field(..., description="Required cost tags: owner and cost-center.")
    regions: list[RegionConfig] = Field(..., min_length=1, description="At least one region; exactly one primary.")
    dr: DrConfig | None = Field(
        None, description="Replicate the primary's model store to a standby region. Default: no replication."
    )
    failover: FailoverSpec | None = Field(
        None, description="A DNS name failing over from the primary's endpoint to the standby's. Default: none.",
    )
    monitoring: MonitoringSpec = Field(
        default_factory=MonitoringSpec,
        description="Notifications, serving SLO, budget, alert overrides and log retention. Default: monitoring on, "
        "no budget, no notification targets.",
    )

    def primary(self) -> RegionConfig:
        return next(r for r in self.regions if r.role == "primary")

    @property
    def clouds(self) -> list[str]:
        return sorted({r.cloud for r in self.regions})


class Problem(BaseModel):
    path: str
    value: Any = None
    allowed: str

    def __str__(self) -> str:
        return f"{self.path}: got {_show(self.value)}; allowed: {self.allowed}"


class ConfigError(pulumi.RunError):
    """Every problem in a stack config at once. Reported without a traceback by Pulumi and the CLI."""

    def __init__(self, problems: list[Problem], source: str = CONFIG_KEY) -> None:
        self.problems = sorted(problems, key=lambda p: _path_key(p.path))
        lines = [f"invalid {source}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)


def _path_key(path: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", path) if p]


def _join(loc: tuple) -> str:
    out = ROOT
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """Follow a pydantic error location through the model tree to the model that owns it."""
    current: Any = model
    map_key = False  # the next part is a key of a dict-valued field (monitoring.alerts.<name>)
    for part in loc:
        if isinstance(part, int) or map_key:
            map_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next((f for n, f in current.model_fields.items() if n == part or f.alias == part), None)
        if field is None:
            return None
        map_key = dict in (get_origin(field.annotation), *map(get_origin, get_args(field.annotation)))
        current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """The model inside an annotation (`X | None`, `list[X]`, `dict[str, X]`), else the annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _from_pydantic(exc: ValidationError, model: type[BaseModel], prefix: tuple = ()) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            owner = _model_at(model, loc[len(prefix):-1])
            known = sorted((f.alias or n) for n, f in owner.model_fields.items()) if owner else []
            problems.append(Problem(path=_join(loc), value=err.get("input"), allowed=f"no such key; known keys: {', '.join(known)}"))
            continue
        if err["type"] == "missing":
            problems.append(Problem(path=_join(loc), value=None, allowed="a value (required)"))
            continue
        allowed = msg.removeprefix("Input should be ").removeprefix("Value error, ")
        problems.append(Problem(path=_join(loc), value=err.get("input"), allowed=allowed))
    return problems


def _semantic(cfg_env: str | None, regions: list[tuple[int, RegionConfig]]) -> list[Problem]:
    problems: list[Problem] = []
    for i, r in regions:
        base = f"{ROOT}.regions[{i}]"
        pattern, example = REGION_PATTERNS[r.cloud]
        if not pattern.match(r.region):
            problems.append(Problem(path=f"{base}.region", value=r.region, allowed=example))
        if r.cloud == "gcp" and not r.project_id and r.cluster.create is not None:
            problems.append(Problem(path=f"{base}.project_id", value=None, allowed="a GCP project id (required on gcp)"))
        if r.cloud == "gcp" and not r.project_id and r.cluster.adopt is not None and not r.cluster.adopt.project_id:
            problems.append(Problem(path=f"{base}.project_id", value=None, allowed="a GCP project id (required on gcp)"))
        if r.cloud != "gcp" and r.project_id:
            problems.append(Problem(path=f"{base}.project_id", value=r.project_id, allowed="only on gcp regions"))
        if r.cloud != "azure" and r.subscription_id:
            problems.append(Problem(path=f"{base}.subscription_id", value=r.subscription_id, allowed="only on azure regions"))
        problems += _zone_id_problems(base, r)
        for rel, value, allowed in cluster_issues(r.cluster, r.cloud, r.region, cfg_env or "dev"):
            problems.append(Problem(path=f"{base}.cluster.{rel}", value=value, allowed=allowed))
        pool_found, plans = _pool_problems(cfg_env or "dev", i, r)
        problems += pool_found
        problems += [Problem(path=f"{base}.storage.{rel}", value=v, allowed=a)
                     for rel, v, a in storage_issues(r.storage, r.cloud, cfg_env or "dev")]
        if r.endpoint is not None:
            models = [m.name for m in r.serving.models] if r.serving else None
            problems += [Problem(path=f"{base}.endpoint.{rel}", value=v, allowed=a)
                         for rel, v, a in endpoint_issues(r.endpoint, r.cloud, cfg_env or "dev", models=models,
                                                          serving=r.serving is not None)]
        if r.serving is not None and r.cloud == "azure" and not r.storage.azure_options.shared_key_access:
            problems.append(Problem(
                path=f"{base}.storage.azure.shared_key_access", value=False,
                allowed="true when this region serves models: azure-native Blob uploads sign with the account key "
                        "(or publish the repository outside Pulumi and drop serving.model_source_dir)"))
        if r.serving is not None:
            from components.storage.args import ServiceAccountRef

            problems += [Problem(path=f"{base}.serving.{rel}", value=v, allowed=a)
                         for rel, v, a in serving_issues(r.serving, cfg_env or "dev", plans,
                                                         store_reader=ServiceAccountRef())]
    return problems


def _zone_id_problems(base: str, r: RegionConfig) -> list[Problem]:
    """aws_zone_ids must map zones of the region one-to-one onto the region's AZ IDs."""
    from . import catalog

    if not r.aws_zone_ids:
        return []
    where = f"{base}.aws_zone_ids"
    if r.cloud != "aws":
        return [Problem(path=where, value=r.aws_zone_ids, allowed="only on aws regions")]
    if not catalog.known_region("aws", r.region):
        return []  # the pools report the unknown region
    names = catalog.region_zones("aws", r.region)
    ids = catalog.region_zone_ids("aws", r.region)
    out: list[Problem] = []
    for zone, az_id in r.aws_zone_ids.items():
        if zone not in names:
            out.append(Problem(path=f"{where}.{zone}", value=zone, allowed=f"a zone name of {r.region}: {names}"))
        if az_id not in ids:
            out.append(Problem(path=f"{where}.{zone}", value=az_id, allowed=f"an AZ ID of {r.region}: {ids}"))
    dup = sorted({v for v in r.aws_zone_ids.values() if list(r.aws_zone_ids.values()).count(v) > 1})
    if dup:
        out.append(Problem(path=where, value=r.aws_zone_ids, allowed=f"one zone name per AZ ID ({dup} given twice)"))
    return out


def cluster_zones(r: RegionConfig) -> list[str]:
    """Zones GPU nodes can use by default: the created cluster's zones, or the adopted one's."""
    if r.cluster.create is not None:
        return list(r.cluster.create.zones)
    return list(r.cluster.adopt.zones) if r.cluster.adopt else []


def _pool_problems(env: str, i: int, r: RegionConfig) -> tuple[list[Problem], dict[str, Any]]:
    """The region's pool problems, and each pool's plan by name (None where it has problems)."""
    from .pools import plan_pool

    problems: list[Problem] = []
    plans: dict[str, Any] = {}
    base = f"{ROOT}.regions[{i}]"
    seen: dict[str, int] = {}
    for j, pool in enumerate(r.gpu_pools):
        where = f"{base}.gpu_pools[{j}]"
        if pool.name in seen:
            problems.append(Problem(path=f"{where}.name", value=pool.name, allowed=f"a name not used by gpu_pools[{seen[pool.name]}]"))
        seen.setdefault(pool.name, j)
        engine, keep = (r.cluster.create.capacity_engine, r.cluster.create.keep_node_groups) \
            if r.cluster.create is not None else ("node_groups", False)
        plan, found = plan_pool(r.cloud, r.region, env, pool, cluster_zones(r), zone_ids=r.aws_zone_ids,
                                engine=engine, keep_node_groups=keep)
        plans.setdefault(pool.name, plan)
        problems += [Problem(path=f"{where}.{rel}", value=value, allowed=allowed) for rel, value, allowed in found]
        problems += _attach_problems(i, r, pool, where)
    return problems, plans


def _partial_pool_problems(env: str, i: int, item: Any) -> list[Problem]:
    """Catalog/capacity checks of the pools that are valid on their own, in a region that is not."""
    from .pools import plan_pool

    if not isinstance(item, dict):
        return []
    cloud, region = item.get("cloud"), item.get("region")
    if not isinstance(cloud, str) or cloud not in REGION_PATTERNS or not isinstance(region, str):
        return []
    cluster = item.get("cluster")
    create = cluster.get("create") if isinstance(cluster, dict) else None
    zones = create.get("zones") if isinstance(create, dict) else None
    zones = zones if isinstance(zones, list) and all(isinstance(z, str) for z in zones) else []
    out: list[Problem] = []
    pools = item.get("gpu_pools") if isinstance(item.get("gpu_pools"), list) else []
    for j, raw_pool in enumerate(pools):
        try:
            pool = GpuPoolSpec.model_validate(raw_pool)
        except ValidationError:
            continue
        ids = item.get("aws_zone_ids")
        ids = ids if isinstance(ids, dict) and all(isinstance(v, str) for v in ids.values()) else None
        engine = create.get("capacity_engine") if isinstance(create, dict) else None
        engine = engine if engine in ("karpenter", "node_auto_provisioning") else "node_groups"
        _, found = plan_pool(cloud, region, env, pool, zones, zone_ids=ids, engine=engine,
                             keep_node_groups=bool(create.get("keep_node_groups")) if isinstance(create, dict) else False)
        out += [Problem(path=f"{ROOT}.regions[{i}].gpu_pools[{j}].{rel}", value=v, allowed=a) for rel, v, a in found]
    return out


def _attach_problems(i: int, r: RegionConfig, pool: GpuPoolSpec, where: str) -> list[Problem]:
    """GPU nodes need somewhere to attach: subnets in the pool's zones, a node identity."""
    out: list[Problem] = []
    create, adopt = r.cluster.create, r.cluster.adopt
    if r.cloud == "aws":
        zones = cluster_zones(r)
        if create is not None and create.network.existing is not None:
            zones = []  # existing subnets: their zones are not known offline
        for k, z in enumerate(pool.zones):
            if zones and z not in zones:
                out.append(Problem(path=f"{where}.zones[{k}]", value=z, allowed=f"a zone with cluster subnets: {zones}"))
    if adopt is not None:
        need = {"aws": ("node_role_arn", "subnet_ids"), "gcp": ("node_service_account",), "azure": ("subnet_ids",)}[r.cloud]
        for field in need:
            if not getattr(adopt, field):
                out.append(Problem(path=f"{ROOT}.regions[{i}].cluster.adopt.{field}", value=None,
                                   allowed=f"required to attach GPU pools to an adopted {r.cloud} cluster"))
        if r.cloud == "azure":
            base = f"{ROOT}.regions[{i}].cluster.adopt"
            if adopt.stack_reference is not None:
                # AKS agent pools need the cluster's resource group, which a stack reference does not give.
                out.append(Problem(path=f"{base}.stack_reference", value=adopt.stack_reference,
                                   allowed="adopt by name and resource_group to attach GPU pools to an AKS cluster"))
            if adopt.priority_expander is not True:
                out.append(Problem(path=f"{base}.priority_expander", value=adopt.priority_expander,
                                   allowed="true, once the cluster's autoscaler uses the priority expander (az aks "
                                   "update --cluster-autoscaler-profile expander=priority): GPU pools rely on it to "
                                   "prefer reserved, then spot, then on-demand nodes"))
    return out


def _platform_level(cfg: PlatformConfig) -> list[Problem]:
    problems = []
    days = log_retention_days(cfg.monitoring, cfg.environment)
    for cloud in cfg.clouds:
        allowed = retention_issue(cloud, days)
        if allowed:
            problems.append(Problem(path=f"{ROOT}.monitoring.log_retention_days", value=days, allowed=allowed))
    problems += [Problem(path=f"{ROOT}.monitoring.{rel}", value=v, allowed=a)
                 for rel, v, a in monitoring_issues(cfg.monitoring, cfg.clouds, known_alerts())]
    if cfg.dr is not None:
        problems += [Problem(path=f"{ROOT}.{rel}", value=v, allowed=a)
                     for rel, v, a in dr_issues(cfg.dr, cfg.regions, cfg.environment)]
    if cfg.failover is not None:
        problems += [Problem(path=f"{ROOT}.{rel}", value=v, allowed=a)
                     for rel, v, a in failover_issues(cfg.failover, cfg.regions)]
    primaries = [i for i, r in enumerate(cfg.regions) if r.role == "primary"]
    if len(primaries) != 1:
        problems.append(
            Problem(path=f"{ROOT}.regions", value=[r.role for r in cfg.regions], allowed="exactly one region with role primary")
        )
    seen: dict[str, int] = {}
    for i, r in enumerate(cfg.regions):
        if r.name in seen:
            problems.append(
                Problem(path=f"{ROOT}.regions[{i}].name", value=r.name, allowed=f"a name not used by regions[{seen[r.name]}]")
            )
        seen.setdefault(r.name, i)
    pairs: dict[tuple[str, str], int] = {}
    for i, r in enumerate(cfg.regions):
        key = (r.cloud, r.region)
        if key in pairs:
            problems.append(
                Problem(path=f"{ROOT}.regions[{i}].region", value=r.region,
                        allowed=f"a cloud region not already used by regions[{pairs[key]}]")
            )
        pairs.setdefault(key, i)
    return problems


def known_alerts() -> list[str]:
    """Every alert name `monitoring.alerts` may override: in-cluster rules and cloud alarms."""
    from components.monitoring.cloud import CLOUD_ALERT_NAMES
    from components.monitoring.rules import ALERT_NAMES

    return sorted({*ALERT_NAMES, *CLOUD_ALERT_NAMES})


def validate_platform(raw: Any) -> PlatformConfig:
    """Validate a raw `gpufleet:platform` value; raise `ConfigError` with every problem."""
    if not isinstance(raw, dict):
        raise ConfigError([Problem(path=ROOT, value=raw, allowed="a mapping with environment, tags and regions")])
    problems: list[Problem] = []
    cfg: PlatformConfig | None = None
    try:
        cfg = PlatformConfig.model_validate(raw)
    except ValidationError as exc:
        problems += _from_pydantic(exc, PlatformConfig)
    env = raw.get("environment") if raw.get("environment") in ("dev", "staging", "prod") else None
    if cfg is not None:
        problems += _semantic(env, list(enumerate(cfg.regions)))
        problems += _platform_level(cfg)
    else:
        # Cross-field checks still run for every region that is valid on its own, so one
        # pass reports problems from all regions.
        good: list[tuple[int, RegionConfig]] = []
        items = raw.get("regions") if isinstance(raw.get("regions"), list) else []
        for i, item in enumerate(items):
            try:
                good.append((i, RegionConfig.model_validate(item)))
            except ValidationError:
                problems += _partial_pool_problems(env or "dev", i, item)
        problems += _semantic(env, good)
    if problems:
        raise ConfigError(_dedupe(problems))
    assert cfg is not None
    return cfg


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.path, p.allowed)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def read_stack_file(path: str | Path) -> Any:
    """Return the raw `gpufleet:platform` value of a `Pulumi.<stack>.yaml` file."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError([Problem(path=str(path), value=None, allowed="an existing stack file")], source=str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(path=str(path), value=str(exc).splitlines()[0], allowed="valid YAML")], source=str(path)) from None
    config = (doc or {}).get("config") if isinstance(doc, dict) else None
    if not isinstance(config, dict) or CONFIG_KEY not in config:
        raise ConfigError(
            [Problem(path=f"{path}:config", value=sorted(config) if isinstance(config, dict) else config,
                     allowed=f"a '{CONFIG_KEY}' key")],
            source=str(path),
        )
    return config[CONFIG_KEY]


def load_stack_file(path: str | Path) -> PlatformConfig:
    raw = read_stack_file(path)
    try:
        return validate_platform(raw)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=f"{CONFIG_KEY} in {path}") from None


def load_stack_config() -> PlatformConfig:
    """Inside a Pulumi program: read and validate `gpufleet:platform` from the stack config."""
    raw = pulumi.Config("gpufleet").get_object("platform")
    if raw is None:
        raise ConfigError([Problem(path=ROOT, value=None, allowed=f"set '{CONFIG_KEY}' in stacks/Pulumi.<stack>.yaml")])
    return validate_platform(raw)


def json_schema() -> dict[str, Any]:
    """JSON Schema of the `gpufleet:platform` value, for editors validating stack files."""
    schema = PlatformConfig.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = CONFIG_KEY
    return schema
