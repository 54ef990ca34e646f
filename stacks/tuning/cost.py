"""Cost of a tuning trial: the hourly price of what it deploys, and the grid pruning cost needs.

- target local: `local.pricePerHour`, the price of "this machine" (one engine process);
- target pulumi: the instance type's on-demand price from the snapshot `stacks/prices/<cost.region>.json`
  × the trial's replicas (one instance per replica), EC2 for EKS node groups, SageMaker HyperPod cluster
  instances where the HyperPod operator runs (or `cost.service`).
The arithmetic itself is `components/rules/cost.py`.
"""

from __future__ import annotations

from typing import Any

from components.rules import Problem
from components.rules.cost import cost_per_hour
from components.rules.spec import EndpointSpec

from ..prices import snapshot

COST_METRICS = ("cost_per_hour", "cost_per_mtok")


def wants_cost(grid: Any) -> bool:
    return grid.objective.metric in COST_METRICS or any(m in COST_METRICS for m in grid.slo)


def service(grid: Any) -> str:
    if grid.cost.service:
        return grid.cost.service
    cluster = grid.cluster
    hyperpod = cluster is not None and (
        cluster.mode == "hyperpod" or (cluster.mode == "existing" and cluster.hyperpod_cluster_arn)
    )
    return "sagemaker-hyperpod" if hyperpod else "ec2"


def instance_price(grid: Any, instance_type: str) -> float:
    """On-demand $/h of one instance; SnapshotError (one line) when the snapshot or the price is missing."""
    return snapshot.hourly_price(grid.cost.region, service(grid), instance_type)


def trial_price(grid: Any, spec: EndpointSpec | None) -> float | None:
    """$/h of one trial's deployment, or None when unknown (no cost columns then)."""
    if grid.target == "local":
        return grid.local.price_per_hour
    if spec is None or not spec.instance_type:
        return None
    try:
        return cost_per_hour(instance_price(grid, spec.instance_type), max(spec.replicas, 1))
    except snapshot.SnapshotError:
        return None


def price_source(grid: Any, spec: EndpointSpec | None) -> str:
    """Where `trial_price` took the price from, for capacity files."""
    if grid.target == "local":
        return f"local.pricePerHour of grid {grid.name} (this machine)"
    instance = spec.instance_type if spec is not None else "?"
    try:
        return snapshot.describe(snapshot.lookup(grid.cost.region, service(grid), instance), grid.cost.region)
    except snapshot.SnapshotError:  # gone since the trial ran: name the file it was read from
        return (
            f"{service(grid)} {instance} on-demand from {snapshot.path_for(grid.cost.region).name} when the trial ran"
        )


def no_price(grid: Any) -> str:
    """Why trials have no price, and the fix."""
    if grid.target == "local":
        return "set local.pricePerHour ($/h of this machine)"
    return f"no price for the trials' instance types in stacks/prices/{grid.cost.region}.json; run `python -m stacks prices refresh --region {grid.cost.region}`"


def point_problems(grid: Any, params: dict[str, Any], spec: EndpointSpec | None) -> list[Problem]:
    """Grid pruning for cost: instanceType on the local target; a cost objective without a price."""
    key = "instanceType"
    if grid.target == "local" and key in params:
        return [
            Problem(
                f"parameters.{key}",
                params[key],
                "CONFIG",
                "the local target runs one engine process on this machine: an instance type changes nothing it measures",
                "remove instanceType from parameters, or tune with target: pulumi",
            )
        ]
    if grid.target == "local":
        if wants_cost(grid) and grid.local.price_per_hour is None:
            return [
                Problem(
                    "local.pricePerHour",
                    None,
                    "CONFIG",
                    "the objective or an SLO is a cost, but this machine has no price",
                    "set local.pricePerHour, e.g. 0.10",
                )
            ]
        return []
    if wants_cost(grid) and spec is not None and spec.instance_type:
        try:
            instance_price(grid, spec.instance_type)
        except snapshot.SnapshotError as exc:
            return [
                Problem(
                    f"base.{key}" if key not in params else f"parameters.{key}",
                    spec.instance_type,
                    "CONFIG",
                    str(exc).partition(". Fix: ")[0],
                    str(exc).partition(". Fix: ")[2],
                )
            ]
    return []
