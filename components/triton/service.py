"""`TritonService`: NVIDIA Triton on a GPU pool of any cluster, spot-safe and autoscaled.

Objects (namespace `args.namespace`, names prefixed with `spec.name`):

- ServiceAccount `<sa>` with the store's workload-identity annotation (IRSA role ARN, GKE service
  account, Azure client id) unless `create_service_account: false`; no static keys anywhere.
- Deployment `<name>-floor`: `floor_replicas` pods required on reserved/on-demand nodes
  (gpufleet.io/capacity-type In [reserved, on-demand]), preferring reserved. Rolls one pod at a
  time without surge (its nodes are exactly sized). Its PriorityClass (cluster-wide, created once
  per cluster) lets it preempt burst/canary pods that took a floor node while no spot node existed.
- Deployment `<name>-burst`: prefers spot (tolerates the AKS spot taint), may fall back to any
  capacity type of the pool, sized by the HPA (no `replicas` field: the HPA owns it).
- Deployment `<name>-canary` while a canary runs: replica-ratio canary, burst placement.
- Service `<name>` (http 8000, grpc 8001, metrics 8002) over all of them; PodDisruptionBudget
  (minAvailable = floor); HPA `<name>-burst` on the prometheus-adapter pods metric
  triton_queue_compute_ratio; ServiceMonitor `<name>` (label selector of the monitoring stack).
- NetworkPolicies `<name>-allow-serving` (gateway -> http/grpc, Prometheus -> metrics, egress to
  the store and workload identity) and, with schedules, `<name>-scaler-allow-kube-api`
  (components.triton.network; `network_policies: false` skips them).
- Scheduled windows: per window a CronJob at `start` and at `end` patching the HPA's minReplicas,
  with a ServiceAccount/Role/RoleBinding allowed to get/patch that one HPA only.

Pods: GPU requests = limits, CPU/memory requests (memory limit = request), non-root (uid 1000,
the image's triton-server user), no privilege escalation, all capabilities dropped,
RuntimeDefault seccomp, read-only root with /tmp and /dev/shm as emptyDirs, startupProbe on
/v2/health/ready sized for model loading then liveness /v2/health/live and readiness
/v2/health/ready, preStop sleep + --exit-timeout-secs inside terminationGracePeriodSeconds, zone
topology spread, the pool's nodeSelector (GKE: its compute class) and tolerations.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from ..gpu_pool.args import CAPACITY_LABEL
from .args import (
    FLOOR_PRIORITY,
    FLOOR_PRIORITY_CLASS,
    GRPC_PORT,
    HTTP_PORT,
    KUBECTL_IMAGE,
    KUBECTL_UID,
    METRICS_PORT,
    STARTUP_PERIOD_SECONDS,
    TRITON_UID,
    ServingPlan,
    ServingSpec,
    Track,
    TritonServiceArgs,
    plan_serving,
    tracks,
)
from .monitor import METRICS_PORT_NAME, MONITOR_SELECTOR, QUEUE_COMPUTE_METRIC, TRITON_APP_LABEL

TYPE_TOKEN = "gpufleet:triton:TritonService"

ZONE_KEY = "topology.kubernetes.io/zone"
AKS_SPOT_TAINT_KEY = "kubernetes.azure.com/scalesetpriority"  # = gpu_pool.azure.SPOT_TAINT_KEY
GKE_COMPUTE_CLASS = "cloud.google.com/compute-class"  # = gpu_pool.gcp.COMPUTE_CLASS_LABEL
NAME_LABEL, INSTANCE_LABEL, COMPONENT_LABEL = "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"
TRACK_LABEL = "gpufleet.io/track"
MANAGED = {"app.kubernetes.io/managed-by": "gpufleet", "app.kubernetes.io/part-of": "gpufleet"}
HEALTH_LIVE, HEALTH_READY = "/v2/health/live", "/v2/health/ready"
# Node provisioning (autoscaler + GPU driver) comes on top of model loading.
NODE_PROVISIONING_SECONDS = 900


def quantity_cpu(cores: float) -> str:
    milli = round(cores * 1000)
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def quantity_gib(gib: float) -> str:
    mib = round(gib * 1024)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"


def quantity_ratio(value: float) -> str:
    """An HPA averageValue: 1.0 -> "1", 0.5 -> "500m"."""
    return quantity_cpu(value)


def triton_flags(spec: ServingSpec, track: Track, *, exit_timeout_seconds: int | None = None) -> list[str]:
    """tritonserver flags except --model-repository (plain strings: testable against a real server).
    `exit_timeout_seconds` overrides the spec's (burst pods fitted to a spot window)."""
    flags = [f"--model-control-mode={spec.model_control_mode}"]
    if spec.model_control_mode == "explicit":
        flags += [f"--load-model={m.name}" for m in sorted(track.models, key=lambda m: m.name)]
    if spec.model_control_mode == "poll":
        flags.append(f"--repository-poll-secs={spec.poll_seconds}")
    flags += [
        "--strict-readiness=true",
        f"--exit-timeout-secs={exit_timeout_seconds or spec.exit_timeout_seconds}",
        f"--http-port={HTTP_PORT}",
        f"--grpc-port={GRPC_PORT}",
        f"--metrics-port={METRICS_PORT}",
        "--allow-metrics=true",
        "--allow-gpu-metrics=true",
        # p50/p99 latency summaries for the Triton dashboard (counters alone give only averages).
        "--metrics-config=summary_latencies=true",
        f"--log-verbose={spec.log_verbose}",
        *spec.extra_args,
    ]
    return flags


def triton_args(spec: ServingSpec, track: Track, repository: pulumi.Input[str], *,
                exit_timeout_seconds: int | None = None) -> list[pulumi.Input[str]]:
    """The container's args (after the `tritonserver` command): the repository, then `triton_flags`."""
    uri = pulumi.Output.from_input(repository).apply(lambda u: f"--model-repository={u}")
    return [uri, *triton_flags(spec, track, exit_timeout_seconds=exit_timeout_seconds)]


def container_env(args: TritonServiceArgs) -> list[k8s.core.v1.EnvVarArgs]:
    """The store's env (region, Azure account/auth type) plus HOME on the writable /tmp; never a key."""
    env: dict[str, pulumi.Input[str]] = dict(args.store.env)
    if args.target.cloud == "aws":
        env.setdefault("AWS_DEFAULT_REGION", args.target.region)
    env["HOME"] = "/tmp"
    return [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())]


class TritonService(pulumi.ComponentResource):
    """Triton serving of one region; every child uses the provider of `args.target`.

    Outputs: `service_name`, `namespace`, `http_endpoint`, `grpc_endpoint` (cluster DNS),
    `model_repositories` (track -> URI Output), `images` (track -> image), `plan` (the decided
    `ServingPlan`: floor/burst/canary replicas, grace period ...), and the children `service`,
    `deployments` (floor, burst, canary), `hpa`, `pdb`, `service_monitor`, `schedules`.
    """

    def __init__(self, name: str, args: TritonServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args.spec
        self.args = args
        self.plan: ServingPlan = plan_serving(spec, args.pool, args.environment, args.queue_to_compute_target)
        self.tracks = tracks(spec)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self, provider=args.target.provider)
        svc = spec.name
        self.service_name = svc
        self.namespace = args.namespace
        self.labels = {NAME_LABEL: TRITON_APP_LABEL, INSTANCE_LABEL: svc}

        self.model_repositories: dict[str, pulumi.Output[str]] = {}
        waits: dict[str, list[pulumi.Resource]] = {}
        for track_name, track in self.tracks.items():
            repo = args.repositories.get(track_name)
            self.model_repositories[track_name] = repo.uri if repo is not None else args.store.path(track.prefix)
            waits[track_name] = [repo] if isinstance(repo, pulumi.Resource) else []

        if spec.create_service_account:
            self.service_account = k8s.core.v1.ServiceAccount(
                f"{name}-sa",
                metadata=self._meta(spec.service_account, annotations=dict(args.store.service_account_annotations)),
                automount_service_account_token=False,
                opts=self._child,
            )
            sa_deps: list[pulumi.Resource] = [self.service_account]
        else:
            self.service_account = None
            sa_deps = []

        self.priority_class = None
        floor_deps: list[pulumi.Resource] = []
        if args.priority_class == "create":
            self.priority_class = k8s.scheduling.v1.PriorityClass(
                f"{name}-floor-priority",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=FLOOR_PRIORITY_CLASS, labels=dict(MANAGED)),  # cluster-scoped
                value=FLOOR_PRIORITY,
                global_default=False,
                preemption_policy="PreemptLowerPriority",
                description="gpufleet serving floor: preempts burst/canary pods on reserved/on-demand nodes",
                opts=self._child,
            )
            floor_deps.append(self.priority_class)

        # Before the pods: in the namespace's default deny they need these to load models and be reached.
        self.network_policies = self._network_policies() if args.network_policies else []
        sa_deps = sa_deps + self.network_policies
        self.deployments: dict[str, k8s.apps.v1.Deployment] = {}
        stable = self.tracks["stable"]
        if self.plan.floor_replicas > 0:
            self.deployments["floor"] = self._deployment(
                "floor", stable, self.plan.floor_replicas, waits["stable"] + sa_deps + floor_deps)
        self.deployments["burst"] = self._deployment("burst", stable, None, waits["stable"] + sa_deps)
        if "canary" in self.tracks:
            self.deployments["canary"] = self._deployment(
                "canary", self.tracks["canary"], self.plan.canary_replicas, waits["canary"] + sa_deps)

        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=self._meta(svc),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=dict(self.labels),
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=HTTP_PORT, target_port="http", protocol="TCP",
                                                app_protocol="http"),
                    k8s.core.v1.ServicePortArgs(name="grpc", port=GRPC_PORT, target_port="grpc", protocol="TCP",
                                                app_protocol="kubernetes.io/h2c"),
                    k8s.core.v1.ServicePortArgs(name=METRICS_PORT_NAME, port=METRICS_PORT, target_port=METRICS_PORT_NAME,
                                                protocol="TCP", app_protocol="http"),
                ],
            ),
            opts=self._child,
        )
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._meta(svc),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(self.labels)),
                # Never evict below the floor; with no floor (dev), one pod at a time.
                min_available=self.plan.floor_replicas if self.plan.floor_replicas > 0 else None,
                max_unavailable=None if self.plan.floor_replicas > 0 else 1,
                # A crash-looping pod must not block node drains.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=self._child,
        )
        self.hpa = self._hpa()
        self.service_monitor = self._service_monitor() if args.monitoring else None
        self.schedules = self._schedules()

        self.http_endpoint = f"http://{svc}.{args.namespace}.svc.cluster.local:{HTTP_PORT}"
        self.grpc_endpoint = f"{svc}.{args.namespace}.svc.cluster.local:{GRPC_PORT}"
        self.images = {t: track.image for t, track in self.tracks.items()}
        self.register_outputs({
            "serviceName": svc,
            "namespace": args.namespace,
            "httpEndpoint": self.http_endpoint,
            "grpcEndpoint": self.grpc_endpoint,
            "floorReplicas": self.plan.floor_replicas,
            "burstMinReplicas": self.plan.burst_min,
            "burstMaxReplicas": self.plan.burst_max,
            "canaryReplicas": self.plan.canary_replicas,
            # burst/canary pods' preStop, exit timeout and grace, fitted to the pool's spot window
            "burstShutdown": self.plan.burst_shutdown.to_json(),
            "canaryWeightPercent": spec.canary.weight_percent if "canary" in self.tracks else 0,
            "images": self.images,
            "modelRepositories": self.model_repositories,
            "models": {t: sorted(m.name for m in track.models) for t, track in self.tracks.items()},
        })

    # --- helpers ------------------------------------------------------------------------------

    def _meta(self, name: str, *, labels: dict[str, str] | None = None,
              annotations: dict[str, pulumi.Input[str]] | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=self.args.namespace, labels={**MANAGED, **self.labels, **(labels or {})},
            annotations=annotations or None,
        )

    def _pod_labels(self, role: str, track: str) -> dict[str, str]:
        return {**self.labels, COMPONENT_LABEL: role, TRACK_LABEL: track}

    def _tolerations(self, role: str) -> list[k8s.core.v1.TolerationArgs]:
        pool = self.args.pool
        out: list[k8s.core.v1.TolerationArgs] = []
        for t in sorted(pool.taints, key=lambda t: (t.key, t.effect, t.value)):
            if t.value:
                out.append(k8s.core.v1.TolerationArgs(key=t.key, operator="Equal", value=t.value, effect=t.effect))
            else:
                out.append(k8s.core.v1.TolerationArgs(key=t.key, operator="Exists", effect=t.effect))
        compute_class = pool.node_labels.get(GKE_COMPUTE_CLASS)
        if compute_class and not any(t.key == GKE_COMPUTE_CLASS for t in pool.taints):
            # GKE adds this toleration itself for Pods selecting the class; stated for clarity.
            out.append(k8s.core.v1.TolerationArgs(key=GKE_COMPUTE_CLASS, operator="Equal", value=compute_class,
                                                  effect="NoSchedule"))
        if role != "floor" and self.args.target.cloud == "azure":
            out.append(k8s.core.v1.TolerationArgs(key=AKS_SPOT_TAINT_KEY, operator="Equal", value="spot",
                                                  effect="NoSchedule"))
        return out

    def _affinity(self, role: str) -> k8s.core.v1.AffinityArgs:
        term = k8s.core.v1.NodeSelectorRequirementArgs
        if role == "floor":
            node = k8s.core.v1.NodeAffinityArgs(
                required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                    node_selector_terms=[k8s.core.v1.NodeSelectorTermArgs(match_expressions=[
                        term(key=CAPACITY_LABEL, operator="In", values=["reserved", "on-demand"]),
                    ])],
                ),
                # Use the reservation (already paid for) before on-demand nodes.
                preferred_during_scheduling_ignored_during_execution=[k8s.core.v1.PreferredSchedulingTermArgs(
                    weight=50,
                    preference=k8s.core.v1.NodeSelectorTermArgs(match_expressions=[
                        term(key=CAPACITY_LABEL, operator="In", values=["reserved"]),
                    ]),
                )],
            )
        else:
            node = k8s.core.v1.NodeAffinityArgs(
                preferred_during_scheduling_ignored_during_execution=[k8s.core.v1.PreferredSchedulingTermArgs(
                    weight=100,
                    preference=k8s.core.v1.NodeSelectorTermArgs(match_expressions=[
                        term(key=CAPACITY_LABEL, operator="In", values=["spot"]),
                    ]),
                )],
            )
        return k8s.core.v1.AffinityArgs(node_affinity=node)

    def _probe(self, path: str, *, period: int, failures: int) -> k8s.core.v1.ProbeArgs:
        return k8s.core.v1.ProbeArgs(
            http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port="http", scheme="HTTP"),
            period_seconds=period, failure_threshold=failures, timeout_seconds=5, success_threshold=1,
        )

    def _pod_template(self, role: str, track: Track) -> k8s.core.v1.PodTemplateSpecArgs:
        args, spec, plan = self.args, self.args.spec, self.plan
        # Floor pods run on reserved/on-demand nodes; burst and canary pods prefer spot, where the
        # shutdown must fit what a reclaimed node leaves (ServingPlan.burst_shutdown).
        stop = plan.floor_shutdown if role == "floor" else plan.burst_shutdown
        labels = {**self._pod_labels(role, track.name), **args.store.pod_labels}
        resources = {"cpu": quantity_cpu(spec.cpu), "memory": quantity_gib(spec.memory_gib),
                     "nvidia.com/gpu": str(spec.gpus_per_replica), "ephemeral-storage": f"{spec.scratch_gib}Gi"}
        limits = {"memory": quantity_gib(spec.memory_gib), "nvidia.com/gpu": str(spec.gpus_per_replica)}
        container = k8s.core.v1.ContainerArgs(
            name="triton",
            image=track.image,
            image_pull_policy="IfNotPresent",
            command=["tritonserver"],
            args=triton_args(spec, track, self.model_repositories[track.name],
                             exit_timeout_seconds=stop.exit_timeout_seconds),
            env=container_env(args),
            ports=[
                k8s.core.v1.ContainerPortArgs(name="http", container_port=HTTP_PORT, protocol="TCP"),
                k8s.core.v1.ContainerPortArgs(name="grpc", container_port=GRPC_PORT, protocol="TCP"),
                k8s.core.v1.ContainerPortArgs(name=METRICS_PORT_NAME, container_port=METRICS_PORT, protocol="TCP"),
            ],
            resources=k8s.core.v1.ResourceRequirementsArgs(requests=resources, limits=limits),
            # Ready means every model loaded (--strict-readiness); only then do liveness/readiness start.
            startup_probe=self._probe(HEALTH_READY, period=STARTUP_PERIOD_SECONDS, failures=plan.startup_failure_threshold),
            liveness_probe=self._probe(HEALTH_LIVE, period=10, failures=3),
            readiness_probe=self._probe(HEALTH_READY, period=5, failures=2),
            lifecycle=k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=["/bin/sleep", str(stop.drain_seconds)]),
            )),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                read_only_root_filesystem=spec.read_only_root_filesystem,
                run_as_non_root=True,
                run_as_user=TRITON_UID,
                run_as_group=TRITON_UID,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
            ],
            termination_message_policy="FallbackToLogsOnError",
        )
        spread = "DoNotSchedule" if role == "floor" and spec.floor_zone_spread == "DoNotSchedule" else "ScheduleAnyway"
        return k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
            spec=k8s.core.v1.PodSpecArgs(
                service_account_name=spec.service_account,
                # Triton never talks to the API server; workload identity uses its own projected token.
                automount_service_account_token=False,
                enable_service_links=False,
                priority_class_name=FLOOR_PRIORITY_CLASS if role == "floor" else None,
                termination_grace_period_seconds=stop.grace_seconds,
                security_context=k8s.core.v1.PodSecurityContextArgs(
                    run_as_non_root=True, run_as_user=TRITON_UID, run_as_group=TRITON_UID, fs_group=TRITON_UID,
                    seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                node_selector=dict(sorted(args.pool.node_labels.items())),
                affinity=self._affinity(role),
                tolerations=self._tolerations(role),
                topology_spread_constraints=[k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=1, topology_key=ZONE_KEY, when_unsatisfiable=spread,
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._pod_labels(role, track.name)),
                    match_label_keys=["pod-template-hash"],
                )],
                containers=[container],
                volumes=[
                    k8s.core.v1.VolumeArgs(name="dshm", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                        medium="Memory", size_limit=quantity_gib(spec.shm_size_gib))),
                    k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                        size_limit=f"{spec.scratch_gib}Gi")),
                ],
            ),
        )

    def _deployment(self, role: str, track: Track, replicas: int | None,
                    deps: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        spec = self.args.spec
        if role == "floor":
            # Floor nodes are exactly sized: replace one pod at a time, never surge.
            strategy = k8s.apps.v1.DeploymentStrategyArgs(type="RollingUpdate", rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                max_surge=0, max_unavailable=1))
        else:
            strategy = k8s.apps.v1.DeploymentStrategyArgs(type="RollingUpdate", rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                max_surge="25%", max_unavailable=0))
        wait = f"{spec.startup_timeout_seconds + NODE_PROVISIONING_SECONDS}s"
        return k8s.apps.v1.Deployment(
            f"{self._name}-{role}",
            metadata=self._meta(f"{spec.name}-{role}", labels={COMPONENT_LABEL: role, TRACK_LABEL: track.name}),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=replicas,  # None for burst: the HPA owns the count
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._pod_labels(role, track.name)),
                strategy=strategy,
                revision_history_limit=5,
                min_ready_seconds=10,
                progress_deadline_seconds=spec.startup_timeout_seconds + NODE_PROVISIONING_SECONDS,
                template=self._pod_template(role, track),
            ),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(
                depends_on=deps, custom_timeouts=pulumi.CustomTimeouts(create=wait, update=wait))),
        )

    def _hpa(self) -> k8s.autoscaling.v2.HorizontalPodAutoscaler:
        spec, plan, hpa = self.args.spec, self.plan, self.args.spec.hpa
        policy = k8s.autoscaling.v2.HPAScalingPolicyArgs
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=self._meta(f"{spec.name}-burst", labels={COMPONENT_LABEL: "burst"}),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=f"{spec.name}-burst"),
                min_replicas=plan.burst_min,
                max_replicas=plan.burst_max,
                metrics=[k8s.autoscaling.v2.MetricSpecArgs(
                    type="Pods",
                    pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                        metric=k8s.autoscaling.v2.MetricIdentifierArgs(name=QUEUE_COMPUTE_METRIC),
                        target=k8s.autoscaling.v2.MetricTargetArgs(
                            type="AverageValue", average_value=quantity_ratio(plan.queue_to_compute_target)),
                    ),
                )],
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    scale_up=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=hpa.scale_up_stabilization_seconds,
                        select_policy="Max",
                        policies=[policy(type="Pods", value=hpa.scale_up_pods_per_minute, period_seconds=60),
                                  policy(type="Percent", value=hpa.scale_up_percent_per_minute, period_seconds=60)],
                    ),
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=hpa.scale_down_stabilization_seconds,
                        select_policy="Min",
                        policies=[policy(type="Pods", value=hpa.scale_down_pods,
                                         period_seconds=hpa.scale_down_period_seconds)],
                    ),
                ),
            ),
            # With scheduled windows the CronJobs own minReplicas (the end-of-window job restores the
            # configured value); Pulumi would otherwise fight them on every up.
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(
                depends_on=[self.deployments["burst"]],
                ignore_changes=["spec.minReplicas"] if spec.schedules else None)),
        )

    def _service_monitor(self) -> k8s.apiextensions.CustomResource:
        svc = self.args.spec.name
        return k8s.apiextensions.CustomResource(
            f"{self._name}-monitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._meta(svc, labels=dict(MONITOR_SELECTOR)),
            spec={
                "selector": {"matchLabels": dict(self.labels)},
                "endpoints": [{"port": METRICS_PORT_NAME, "path": "/metrics", "scheme": "http", "interval": "15s",
                               "scrapeTimeout": "10s"}],
                # Per-pod role and track on every series: canary vs stable, floor vs burst.
                "podTargetLabels": [COMPONENT_LABEL, TRACK_LABEL],
            },
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[self.service])),
        )

    def _network_policies(self) -> list[k8s.networking.v1.NetworkPolicy]:
        """The allows through the namespace's default deny (components.triton.network); the
        Deployments wait for them, so no pod starts unable to read its models."""
        from ..cluster.network_policy_resource import network_policy
        from .network import triton_policies

        manifests = triton_policies(namespace=self.args.namespace, service_name=self.args.spec.name,
                                    pod_labels=dict(self.labels), cloud=self.args.target.cloud,
                                    scaler=bool(self.args.spec.schedules))
        return [network_policy(f"{self._name}-netpol-{m['metadata']['name'].removeprefix(self.args.spec.name + '-')}",
                               m, self.args.target.provider, opts=pulumi.ResourceOptions(parent=self))
                for m in manifests]

    def _schedules(self) -> list[k8s.batch.v1.CronJob]:
        spec, ns = self.args.spec, self.args.namespace
        if not spec.schedules:
            return []
        hpa_name = f"{spec.name}-burst"
        scaler = f"{spec.name}-scaler"
        labels = {COMPONENT_LABEL: "scaler"}
        sa = k8s.core.v1.ServiceAccount(f"{self._name}-scaler-sa", metadata=self._meta(scaler, labels=labels),
                                        opts=self._child)
        role = k8s.rbac.v1.Role(
            f"{self._name}-scaler-role",
            metadata=self._meta(scaler, labels=labels),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=["autoscaling"], resources=["horizontalpodautoscalers"],
                                              resource_names=[hpa_name], verbs=["get", "patch"])],
            opts=self._child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{self._name}-scaler-binding",
            metadata=self._meta(scaler, labels=labels),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=scaler),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=scaler, namespace=ns)],
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=[sa, role])),
        )
        jobs = []
        for window in spec.schedules:
            for edge, cron, minimum in (("start", window.start, self.plan.window_burst_min[window.name]),
                                        ("end", window.end, self.plan.burst_min)):
                jobs.append(self._scale_job(f"{window.name}-{edge}", cron, window.timezone, hpa_name, minimum,
                                            scaler, [binding, self.hpa]))
        return jobs

    def _scale_job(self, key: str, cron: str, timezone: str, hpa_name: str, minimum: int, scaler: str,
                   deps: list[pulumi.Resource]) -> k8s.batch.v1.CronJob:
        spec, ns = self.args.spec, self.args.namespace
        patch = json.dumps({"spec": {"minReplicas": minimum}}, separators=(",", ":"))
        container = k8s.core.v1.ContainerArgs(
            name="kubectl",
            image=KUBECTL_IMAGE,
            args=["patch", "horizontalpodautoscaler", hpa_name, f"--namespace={ns}", "--type=merge", f"--patch={patch}"],
            env=[k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp")],  # kubectl's cache
            resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "50m", "memory": "64Mi"},
                                                           limits={"memory": "128Mi"}),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                read_only_root_filesystem=True, run_as_non_root=True, run_as_user=KUBECTL_UID,
                run_as_group=KUBECTL_UID, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
        )
        labels = {COMPONENT_LABEL: "scaler"}
        return k8s.batch.v1.CronJob(
            f"{self._name}-scale-{key}",
            metadata=self._meta(f"{spec.name}-{key}", labels=labels),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=cron,
                time_zone=timezone,
                concurrency_policy="Forbid",
                starting_deadline_seconds=600,
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=3,
                    active_deadline_seconds=300,
                    ttl_seconds_after_finished=86400,
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels={**self.labels, **labels}),
                        spec=k8s.core.v1.PodSpecArgs(
                            service_account_name=scaler,
                            restart_policy="OnFailure",
                            enable_service_links=False,
                            security_context=k8s.core.v1.PodSecurityContextArgs(
                                run_as_non_root=True, run_as_user=KUBECTL_UID, run_as_group=KUBECTL_UID,
                                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
                            node_selector={"kubernetes.io/os": "linux"},
                            containers=[container],
                            volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                size_limit="64Mi"))],
                        ),
                    ),
                )),
            ),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(depends_on=deps)),
        )

