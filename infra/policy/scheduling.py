"""Can every workload of a stack be scheduled? Node pools' taints and labels vs pods' tolerations,
node selectors and required node affinity, cluster by cluster. Pure: no Pulumi import.

Pods come from three places:
- Kubernetes workload objects (Deployment, StatefulSet, DaemonSet, Job, CronJob ...);
- the EnvoyProxy resource, whose `provider.kubernetes.envoyDeployment.pod` shapes the Envoy
  Deployment that Envoy Gateway creates;
- Helm releases: the chart renders its workloads inside the provider, so `CHART_WORKLOADS` says, per
  chart, which workloads it installs and where in the values their scheduling fields are (with the
  chart's own defaults). A release of a chart not in that table is reported as unverified.

Nodes come from the node pools in the plan (EKS node groups, GKE node pools, AKS agent pools),
with what the cloud adds by itself: GKE taints GPU pools nvidia.com/gpu=present:NoSchedule and
tolerates that taint for pods requesting nvidia.com/gpu (and the compute-class taint for pods that
select the class); AKS taints spot pools kubernetes.azure.com/scalesetpriority=spot:NoSchedule;
every node carries kubernetes.io/os=linux. An adopted cluster's own pools are not in the plan, so a
pod that fits none of the plan's pools there is unverified rather than unschedulable.

A pod lands on a pool when it tolerates every NoSchedule/NoExecute taint and its node selector and
required node affinity match the pool's labels. A DaemonSet must in addition tolerate every pool
its selector and affinity pick (otherwise its pods are missing there, e.g. a GPU exporter on one
GPU pool).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import Resource, as_list, get, is_unknown, known, truthy
from .nodepools import AKS_CLUSTER, GKE_CLUSTER, Pool, pools_of
from .workloads import kind_of, pod_spec

EKS_CLUSTER = "aws:eks/cluster:Cluster"
CLUSTER_TYPES = (EKS_CLUSTER, GKE_CLUSTER, AKS_CLUSTER)
HELM_TYPES = ("kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart")
ENVOY_PROXY = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy"
GPU_RESOURCE = "nvidia.com/gpu"
GKE_GPU_TAINT = ("nvidia.com/gpu", "present", "NoSchedule")
GKE_COMPUTE_CLASS = "cloud.google.com/compute-class"
AKS_SPOT_TAINT = ("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


# --- Helm charts: which workloads, and where their scheduling values are ---------------------


@dataclass(frozen=True)
class ChartWorkload:
    name: str
    kind: str
    path: str  # values path holding nodeSelector / tolerations / affinity ("" = top level)
    enabled: tuple[str, ...] = ()  # values paths that must not be false (each defaults to true)
    default_tolerations: tuple[Mapping[str, Any], ...] = ()
    default_affinity: Mapping[str, Any] | None = None
    when: tuple[str, Any] | None = None  # (values path, value) this workload exists for


_EXISTS_NOSCHEDULE = ({"operator": "Exists", "effect": "NoSchedule"},)
# nvidia-device-plugin: tolerates CriticalAddonsOnly and the GPU taint; needs NFD labels by default.
_DEVICE_PLUGIN_TOLERATIONS = ({"key": "CriticalAddonsOnly", "operator": "Exists"},
                              {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"})
_NFD_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "feature.node.kubernetes.io/pci-10de.present", "operator": "In",
                           "values": ["true"]}]},
    {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]},
]}}}

_KARPENTER_TOLERATIONS = ({"key": "CriticalAddonsOnly", "operator": "Exists"},)
_KARPENTER_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "DoesNotExist"}]}]}}}

# Chart name (last segment of the chart reference) -> its workloads. Defaults as published in each
# chart's values.yaml at the pinned versions (kube-prometheus-stack 81, prometheus-node-exporter
# tolerates every NoSchedule taint, nvidia-device-plugin 0.17/0.18, gateway-helm 1.x).
CHART_WORKLOADS: dict[str, tuple[ChartWorkload, ...]] = {
    "kube-prometheus-stack": (
        ChartWorkload("prometheus", "StatefulSet", "prometheus.prometheusSpec", ("prometheus.enabled",)),
        ChartWorkload("alertmanager", "StatefulSet", "alertmanager.alertmanagerSpec", ("alertmanager.enabled",)),
        ChartWorkload("prometheus-operator", "Deployment", "prometheusOperator", ("prometheusOperator.enabled",)),
        ChartWorkload("admission-webhook-patch", "Job", "prometheusOperator.admissionWebhooks.patch",
                      ("prometheusOperator.enabled", "prometheusOperator.admissionWebhooks.enabled",
                       "prometheusOperator.admissionWebhooks.patch.enabled")),
        ChartWorkload("grafana", "Deployment", "grafana", ("grafana.enabled",)),
        ChartWorkload("kube-state-metrics", "Deployment", "kube-state-metrics", ("kubeStateMetrics.enabled",)),
        ChartWorkload("node-exporter", "DaemonSet", "prometheus-node-exporter", ("nodeExporter.enabled",),
                      default_tolerations=_EXISTS_NOSCHEDULE),
    ),
    "prometheus-adapter": (ChartWorkload("prometheus-adapter", "Deployment", ""),),
    "dcgm-exporter": (ChartWorkload("dcgm-exporter", "DaemonSet", ""),),
    "nvidia-device-plugin": (ChartWorkload("nvidia-device-plugin", "DaemonSet", "",
                                           default_tolerations=_DEVICE_PLUGIN_TOLERATIONS,
                                           default_affinity=_NFD_AFFINITY),),
    "aks-node-termination-handler": (ChartWorkload("aks-node-termination-handler", "DaemonSet", ""),),
    # Queue mode (SQS) runs one Deployment; IMDS mode a DaemonSet tolerating everything.
    "aws-node-termination-handler": (
        ChartWorkload("aws-node-termination-handler", "Deployment", "", when=("enableSqsTerminationDraining", True)),
        ChartWorkload("aws-node-termination-handler", "DaemonSet", "daemonset",
                      default_tolerations=({"operator": "Exists"},),
                      when=("enableSqsTerminationDraining", False)),
    ),
    "cluster-autoscaler": (ChartWorkload("cluster-autoscaler", "Deployment", ""),),
    "aws-load-balancer-controller": (ChartWorkload("aws-load-balancer-controller", "Deployment", ""),),
    # karpenter 1.14: tolerates CriticalAddonsOnly and keeps off the nodes it launched itself.
    "karpenter": (ChartWorkload("karpenter", "Deployment", "", default_tolerations=_KARPENTER_TOLERATIONS,
                                default_affinity=_KARPENTER_AFFINITY),),
    "karpenter-crd": (),  # CRDs only
    "gateway-helm": (
        ChartWorkload("envoy-gateway", "Deployment", "deployment.pod"),
        ChartWorkload("certgen", "Job", "certgen.job"),
    ),
}


# --- neutral shapes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Nodes:
    """The nodes of one pool as the scheduler sees them."""

    cluster: str
    pool: str
    labels: Mapping[str, Any]
    taints: tuple[tuple[Any, Any, Any], ...]  # (key, value, effect); UNKNOWN entries possible
    gpu: bool | None


@dataclass(frozen=True)
class Pod:
    """The pod template of one workload."""

    cluster: str
    source: str  # "Deployment eus-triton-burst", "kube-prometheus-stack eus-monitoring-...: grafana"
    kind: str
    node_selector: Any
    tolerations: Any
    affinity: Any
    requests_gpu: bool = False
    cloud: str = ""


@dataclass(frozen=True)
class Placement:
    pod: Pod
    pools: tuple[str, ...] = ()  # pools it can land on
    missed: tuple[str, ...] = ()  # DaemonSet: pools it selects but does not tolerate
    unverified: str | None = None  # why the check cannot tell

    @property
    def ok(self) -> bool:
        if self.unverified is not None:
            return True
        # A DaemonSet that selects no pool runs no pod (e.g. a GPU exporter on a cluster without
        # GPU pools): nothing waits for it. Any other workload needs somewhere to run.
        if self.pod.kind == "DaemonSet":
            return not self.missed
        return bool(self.pools)

    def describe(self) -> str:
        if self.unverified:
            return f"{self.pod.source}: cannot tell ({self.unverified})"
        if self.missed:
            return f"{self.pod.source}: selects pools {list(self.missed)} but does not tolerate their taints"
        if not self.pools:
            return f"{self.pod.source}: fits no node pool of cluster {self.pod.cluster}"
        return f"{self.pod.source}: lands on {list(self.pools)}"


# --- matching ----------------------------------------------------------------------------------


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: tuple[Any, Any, Any]) -> bool:
    key, value, effect = taint
    for t in tolerations:
        op = t.get("operator") or "Equal"
        if t.get("effect") and t.get("effect") != effect:
            continue
        if not t.get("key"):
            if op == "Exists":
                return True
            continue
        if t.get("key") != key:
            continue
        if op == "Exists" or (op == "Equal" and (t.get("value") or "") == (value or "")):
            return True
    return False


def _expression(expr: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in as_list(expr.get("values"))]
    present = key in labels
    value = str(labels.get(key)) if present else None
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            a, b = int(value), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _required_terms(affinity: Any) -> list[Mapping[str, Any]] | None:
    terms = get(affinity, "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    return None if terms is None else [t for t in as_list(terms) if isinstance(t, Mapping)]


def selects(pod: Pod, nodes: Nodes) -> bool:
    """The pod's node selector and required node affinity match the pool's labels."""
    sel = pod.node_selector or {}
    if any(str(nodes.labels.get(k)) != str(v) for k, v in sel.items()):
        return False
    terms = _required_terms(pod.affinity)
    if terms is None:
        return True
    # Terms are ORed, expressions within a term ANDed (matchFields are not about labels).
    return any(all(_expression(e, nodes.labels) for e in as_list(t.get("matchExpressions"))) for t in terms)


def _effective_tolerations(pod: Pod) -> list[Mapping[str, Any]]:
    tolerations = [t for t in as_list(pod.tolerations) if isinstance(t, Mapping)]
    if pod.cloud == "gcp":
        # GKE admission adds these for pods requesting GPUs / selecting a compute class.
        if pod.requests_gpu:
            tolerations.append({"key": GPU_RESOURCE, "operator": "Exists"})
        compute_class = (pod.node_selector or {}).get(GKE_COMPUTE_CLASS)
        if compute_class:
            tolerations.append({"key": GKE_COMPUTE_CLASS, "operator": "Equal", "value": compute_class,
                                "effect": "NoSchedule"})
    return tolerations


def tolerated(pod: Pod, nodes: Nodes) -> bool:
    tolerations = _effective_tolerations(pod)
    return all(tolerates(tolerations, t) for t in nodes.taints if t[2] in BLOCKING_EFFECTS)


def _unknown_in(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_unknown_in(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_unknown_in(v) for v in value)
    return False


def place(pod: Pod, pools: Sequence[Nodes], *, adopted: bool) -> Placement:
    if any(_unknown_in(v) for v in (pod.node_selector, pod.tolerations, pod.affinity)):
        return Placement(pod, unverified="its node selector, tolerations or affinity are only known after deploy")
    if any(_unknown_in(n.taints) or _unknown_in(n.labels) for n in pools):
        return Placement(pod, unverified="a node pool's taints or labels are only known after deploy")
    selected = [n for n in pools if selects(pod, n)]
    fits = tuple(n.pool for n in selected if tolerated(pod, n))
    missed = tuple(n.pool for n in selected if not tolerated(pod, n)) if pod.kind == "DaemonSet" else ()
    if not fits and adopted:
        return Placement(pod, unverified=f"cluster {pod.cluster} is adopted: its own node pools are not in the plan")
    return Placement(pod, pools=fits, missed=missed)


# --- reading the plan's resources --------------------------------------------------------------


def _linux_labels(p: Pool) -> dict[str, Any]:
    return {"kubernetes.io/os": "linux", **dict(p.labels)}


def _nodes(p: Pool, cluster: str) -> Nodes:
    taints = tuple(p.taints) if isinstance(p.taints, list) else (p.taints,)
    if p.cloud == "gcp" and p.is_gpu and not any(t[0] == GKE_GPU_TAINT[0] for t in taints if isinstance(t, tuple)):
        taints += (GKE_GPU_TAINT,)
    if p.cloud == "azure" and p.spot and AKS_SPOT_TAINT not in taints:
        taints += (AKS_SPOT_TAINT,)
    return Nodes(cluster=cluster, pool=p.name, labels=_linux_labels(p), taints=taints, gpu=p.is_gpu)


def _cluster_names(resources: Sequence[Resource]) -> tuple[set[str], dict[str, str]]:
    """Names of clusters the plan creates, and GKE cluster ids -> names (the recording mocks give a
    resource the id '<logical name>-id'; a real id ends in /clusters/<name>)."""
    names: set[str] = set()
    gke_ids: dict[str, str] = {}
    for r in resources:
        if r.type == EKS_CLUSTER or r.type == GKE_CLUSTER:
            name = r.props.get("name")
        elif r.type == AKS_CLUSTER:
            name = r.props.get("resourceName")
        else:
            continue
        if isinstance(name, str) and known(name):
            names.add(name)
            if r.type == GKE_CLUSTER:
                gke_ids[f"{r.name}-id"] = name
    return names, gke_ids


def _pool_cluster(p: Pool, gke_ids: Mapping[str, str]) -> str:
    c = p.cluster
    if not isinstance(c, str) or not known(c):
        return "<unknown>"
    if p.cloud == "gcp":
        return gke_ids.get(c, c.rsplit("/clusters/", 1)[-1])
    return c


def _k8s_cluster(r: Resource) -> str:
    ident = get(r.provider.props, "clusterIdentifier") if r.provider else None
    return ident if isinstance(ident, str) and known(ident) else (r.provider.urn if r.provider else "<default>")


def _cloud_of(cluster: str, pools: Sequence[Nodes], by_pool: Mapping[str, str]) -> str:
    return next((by_pool[n.pool] for n in pools if n.cluster == cluster and n.pool in by_pool), "")


def _requests_gpu(spec: Mapping[str, Any]) -> bool:
    for c in as_list(spec.get("containers")):
        if isinstance(c, Mapping):
            for part in ("limits", "requests"):
                if get(c, f"resources.{part}.{GPU_RESOURCE}") not in (None, 0, "0"):
                    return True
    return False


def _chart_name(chart: Any) -> str:
    return chart.rstrip("/").rsplit("/", 1)[-1] if isinstance(chart, str) else ""


def _enabled(values: Mapping[str, Any], path: str) -> bool:
    flag = truthy(get(values, path))
    return flag is not False


def _scoped(values: Mapping[str, Any], path: str, field_: str) -> Any:
    return get(values, f"{path}.{field_}" if path else field_)


def _helm_pods(r: Resource, cluster: str, cloud: str) -> Iterable[Pod | str]:
    values = r.props.get("values") if isinstance(r.props.get("values"), Mapping) else {}
    chart = _chart_name(r.props.get("chart"))
    workloads = CHART_WORKLOADS.get(chart)
    if workloads is None:
        yield f"chart {chart!r} of {r.name} is not described in CHART_WORKLOADS"
        return
    for w in workloads:
        if w.when is not None and bool(truthy(get(values, w.when[0]))) != w.when[1]:
            continue
        if not all(_enabled(values, p) for p in w.enabled):
            continue
        tolerations = _scoped(values, w.path, "tolerations")
        affinity = _scoped(values, w.path, "affinity")
        yield Pod(
            cluster=cluster, source=f"{chart} {r.name}: {w.name}", kind=w.kind,
            node_selector=_scoped(values, w.path, "nodeSelector") or {},
            tolerations=list(w.default_tolerations) if tolerations is None else tolerations,
            affinity=w.default_affinity if affinity is None else affinity,
            cloud=cloud,
        )


def _envoy_pod(r: Resource, cluster: str, cloud: str) -> Pod:
    pod = get(r.props, "spec.provider.kubernetes.envoyDeployment.pod") or {}
    return Pod(cluster=cluster, source=f"EnvoyProxy {r.name}: envoy", kind="Deployment",
               node_selector=get(pod, "nodeSelector") or {}, tolerations=get(pod, "tolerations") or [],
               affinity=get(pod, "affinity"), cloud=cloud)


@dataclass
class SchedulingReport:
    placements: list[Placement] = field(default_factory=list)
    pools: list[Nodes] = field(default_factory=list)

    @property
    def problems(self) -> list[Placement]:
        return [p for p in self.placements if not p.ok]

    @property
    def unverified(self) -> list[Placement]:
        return [p for p in self.placements if p.unverified is not None]


def check_scheduling(resources: Sequence[Resource]) -> SchedulingReport:
    """Where every workload of the plan can run; see the module docstring."""
    created, gke_ids = _cluster_names(resources)
    pools: list[Nodes] = []
    cloud_by_pool: dict[str, str] = {}
    for r in resources:
        for p in pools_of(r):
            n = _nodes(p, _pool_cluster(p, gke_ids))
            pools.append(n)
            cloud_by_pool[n.pool] = p.cloud
    pods: list[Pod] = []
    unverified: list[Placement] = []
    for r in resources:
        if not r.type.startswith("kubernetes:"):
            continue
        cluster = _k8s_cluster(r)
        cloud = _cloud_of(cluster, pools, cloud_by_pool)
        if r.type in HELM_TYPES:
            for item in _helm_pods(r, cluster, cloud):
                if isinstance(item, str):
                    unverified.append(Placement(Pod(cluster, f"helm {r.name}", "?", {}, [], None), unverified=item))
                else:
                    pods.append(item)
        elif r.type == ENVOY_PROXY:
            pods.append(_envoy_pod(r, cluster, cloud))
        elif (kind := kind_of(r)) is not None:
            spec = pod_spec(r)
            if not isinstance(spec, Mapping):
                continue
            pods.append(Pod(cluster=cluster, source=f"{kind} {r.name}", kind=kind,
                            node_selector=spec.get("nodeSelector") or {}, tolerations=spec.get("tolerations") or [],
                            affinity=spec.get("affinity"), requests_gpu=_requests_gpu(spec), cloud=cloud))
    report = SchedulingReport(pools=pools)
    for pod in pods:
        mine = [n for n in pools if n.cluster == pod.cluster]
        report.placements.append(place(pod, mine, adopted=pod.cluster not in created))
    report.placements.extend(unverified)
    return report
