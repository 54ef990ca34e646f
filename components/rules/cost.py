"""Cost arithmetic: pure functions shared by tuning reports, capacity files, the capacity rule and the offline
plan's cost lines (what a stack runs, × its prices).

Prices are on-demand dollars per instance-hour (see `stacks/prices/` for where they come from).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import instances
from .bounds import MAX_REPLICAS
from .clusters import with_default_groups

# AWS pricing pages quote monthly figures at 730 hours (365 × 24 / 12).
HOURS_PER_MONTH = 730.0
SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MILLION = 1_000_000.0


def cost_per_hour(price_per_instance_hour: float, instances: int) -> float:
    """`instances` × the hourly price: 2 × $7.09 = $14.18 per hour."""
    if price_per_instance_hour < 0 or instances < 0:
        raise ValueError(f"price {price_per_instance_hour} and instance count {instances} must not be negative")
    return price_per_instance_hour * instances


def cost_per_mtok(dollars_per_hour: float, output_tokens_per_second: float) -> float | None:
    """Dollars per million output tokens at a measured throughput: $/h ÷ (Mtok per hour).
    $14.18/h at 1,000 tok/s = 14.18 / 3.6 = $3.9389 per million. None when nothing was produced."""
    if output_tokens_per_second <= 0 or math.isnan(output_tokens_per_second):
        return None
    return dollars_per_hour / (output_tokens_per_second * SECONDS_PER_HOUR / TOKENS_PER_MILLION)


class TooManyReplicas(ValueError):
    """The peak needs more replicas than a replica count can hold (MAX_REPLICAS): the measured capacity is far
    too small for the declared peak, or one of the two is mistyped."""


def replicas_for_peak(peak_requests_per_second: float, capacity_per_replica: float, headroom: float = 0.0) -> int:
    """Replicas whose measured capacity covers the peak with headroom: ceil(peak × (1 + headroom) / capacity).
    TooManyReplicas beyond MAX_REPLICAS (a 300-digit count is no fix anyone can set)."""
    if not capacity_per_replica > 0:
        raise ValueError(f"capacity per replica must be above 0, got {capacity_per_replica}")
    if not (peak_requests_per_second >= 0 and headroom >= 0):
        raise ValueError(f"peak {peak_requests_per_second} and headroom {headroom} must not be negative")
    need = peak_requests_per_second * (1 + headroom) / capacity_per_replica
    if not need <= MAX_REPLICAS:  # also inf and nan
        raise TooManyReplicas(
            f"peak {peak_requests_per_second:g} × (1 + headroom {headroom:g}) at {capacity_per_replica:.4g} requests/s per replica needs more than {MAX_REPLICAS} replicas"
        )
    # 1e-9: 20 / 4 must stay 5 when floating point makes it 5.000000000000001
    return max(1, math.ceil(need - 1e-9))


def cost_per_month_at_peak(
    dollars_per_replica_hour: float,
    capacity_per_replica: float,
    peak_requests_per_second: float,
    headroom: float = 0.0,
    hours: float = HOURS_PER_MONTH,
) -> float:
    """What serving the declared peak around the clock costs a month: replicas needed × $/h × 730 h."""
    return (
        replicas_for_peak(peak_requests_per_second, capacity_per_replica, headroom) * dollars_per_replica_hour * hours
    )


# ---------------------------------------------------------------- what a stack runs, per hour


@dataclass(frozen=True)
class Running:
    """Instances of one type that a stack keeps running, and the config that asks for them."""

    service: str  # price snapshot service: ec2 (EKS node groups) or sagemaker-hyperpod (HyperPod instance groups)
    instance_type: str  # as the service names it: g5.2xlarge, ml.g5.12xlarge
    count: int
    what: str  # config path: cluster.systemNodes, cluster.gpuNodeGroups[g5], endpoints[0]
    billing: str = "on-demand"  # else a GPU node group's capacityType (spot, capacity-block) or "training plan"


def running_instances(cluster: Any, endpoints: Sequence[Any], platform_stack: str | None = None) -> list[Running]:
    """The instances a stack runs while it is up, by the counts it declares:
    - eks: the system node group's and each GPU node group's `desiredSize` (the groups derived from the
      endpoints when none are set, as the stack derives them);
    - hyperpod: the system node group's `desiredSize` and each instance group's `instanceCount`;
    - existing: no node is the stack's; each endpoint replica takes one instance of its type on the
      adopted cluster (HyperPod when `hyperpodClusterArn` is set), the tuning cost's assumption;
    - an endpoints-only stack (`platformStack`): nothing; its replicas run on the platform stack's nodes."""

    if platform_stack:
        return []
    if cluster.mode == "existing":
        service = "sagemaker-hyperpod" if cluster.hyperpod_cluster_arn else "ec2"
        return [
            Running(service, priced_name(service, ep.instance_type), ep.replicas, f"endpoints[{i}]")
            for i, ep in enumerate(endpoints)
            if ep.replicas
        ]
    system = cluster.system_nodes
    out = [Running("ec2", priced_name("ec2", system.instance_type), system.desired_size, "cluster.systemNodes")]
    groups = with_default_groups(cluster, endpoints)
    if cluster.mode == "hyperpod":
        out += [
            Running(
                "sagemaker-hyperpod",
                priced_name("sagemaker-hyperpod", g.instance_type),
                g.instance_count,
                f"cluster.instanceGroups[{g.name}]",
                "training plan" if g.training_plan_arn else "on-demand",
            )
            for g in groups.instance_groups
        ]
    else:
        out += [
            Running(
                "ec2",
                priced_name("ec2", g.instance_type),
                g.desired_size,
                f"cluster.gpuNodeGroups[{g.name}]",
                g.capacity_type.lower().replace("_", "-"),
            )
            for g in groups.gpu_node_groups
        ]
    return [r for r in out if r.count]


def priced_name(service: str, instance_type: str) -> str:
    """The type as a price snapshot's service names it: g5.xlarge for ec2, ml.g5.xlarge for SageMaker."""
    name = instance_type.strip().lower()
    return instances.ec2_name(name) if service == "ec2" else instances.sagemaker_name(name)


@dataclass(frozen=True)
class BillLine:
    service: str
    instance_type: str
    count: int
    usd_per_hour: float | None  # one instance's on-demand price; None: no price
    billing: tuple[str, ...] = ("on-demand",)

    @property
    def per_hour(self) -> float | None:
        return None if self.usd_per_hour is None else cost_per_hour(self.usd_per_hour, self.count)


@dataclass(frozen=True)
class StackBill:
    lines: list[BillLine] = field(default_factory=list)

    @property
    def priced(self) -> list[BillLine]:
        return [line for line in self.lines if line.usd_per_hour is not None]

    @property
    def unpriced(self) -> list[BillLine]:
        return [line for line in self.lines if line.usd_per_hour is None]

    @property
    def per_hour(self) -> float:
        """$/h of the priced instances: 2 × $0.192 + 2 × $1.212 + 1 × $0.526 = $3.334."""
        return sum(line.per_hour or 0.0 for line in self.priced)

    @property
    def per_month(self) -> float:
        return self.per_hour * HOURS_PER_MONTH


def bill(running: Iterable[Running], price_of: Callable[[str, str], float | None]) -> StackBill:
    """One line per (service, instance type): the count summed over the groups that run it, × its price
    (`price_of(service, type)`, None when unknown)."""
    counts: dict[tuple[str, str], int] = {}
    billing: dict[tuple[str, str], list[str]] = {}
    for r in running:
        key = (r.service, r.instance_type)
        counts[key] = counts.get(key, 0) + r.count
        billing.setdefault(key, [])
        if r.billing not in billing[key]:
            billing[key].append(r.billing)
    return StackBill([BillLine(s, t, n, price_of(s, t), tuple(billing[(s, t)])) for (s, t), n in counts.items()])
