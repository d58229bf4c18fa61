"""Every workload has a node pool to run on (see infra.policy.scheduling)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..model import Resource, Violation, stack_rule
from ..scheduling import check_scheduling


@stack_rule(
    "workloads-schedulable",
    summary="Every Deployment, StatefulSet, DaemonSet, Job, EnvoyProxy and Helm-chart workload tolerates the "
    "taints and matches the labels of some node pool of its cluster (DaemonSets: of every pool they select).",
    area="kubernetes", severity="high", level="mandatory",
    remediation="Add an untainted pool (cluster.create.general_pool) or the missing tolerations/node selector; "
    "an atomic Helm release whose pods cannot schedule fails `pulumi up`.",
    note="gpufleet platform rule; no Checkov/Trivy equivalent. Pods on an adopted cluster that fit none of the stack's pools, charts the check does not describe and "
    "values known only after deploy are not reported",
)
def workloads_schedulable(resources: Sequence[Resource], cfg: Mapping[str, Any]) -> Iterator[Violation]:
    for placement in check_scheduling(resources).problems:
        yield Violation(placement.describe())
