"""HyperPod operator fields beyond one instance type: `instanceTypes` (G11, G23 per entry) and `worker.requestLimits`.

CRD (aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml), v1 spec:
- `instanceType`: "This field is mutually exclusive with instanceTypes";
- `instanceTypes`: "in order of preference ... selecting the first available type";
- `nodeAffinity`: "mutually exclusive with instanceType and instanceTypes fields";
- `worker.requestLimits.maxConcurrentRequests`: "the nginx sidecar proxy ... new requests receive a 429".
The CRD has no CEL rule for these exclusions (crds/hyperpod/SOURCES.md), so `check` reports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from . import instances
from .catalog import G11
from .problems import Problem
from .spec import EndpointSpec


def instance_types(spec: EndpointSpec) -> list[str]:
    """Every type the operator may place the endpoint on, preferred first."""
    return list(spec.hyperpod.instance_types) if spec.hyperpod.instance_types else [spec.instance_type]


def fallbacks(spec: EndpointSpec) -> list[str]:
    """The types after the first (none without `instanceTypes`)."""
    return instance_types(spec)[1:]


def nodes(spec: EndpointSpec) -> int:
    """Instances the endpoint takes at most on its first type: its replicas (autoscaling maximum when set), or with
    `pdSpec` those of the prefill and decode roles together (one pod per instance: each takes the endpoint's GPUs)."""

    def most(replicas: int, scaling: Any) -> int:
        return max(replicas, scaling.max_replicas if scaling else 0, 1)

    if spec.hyperpod.pd_spec is not None:
        return most(spec.hyperpod.pd_spec.prefill.replicas, spec.hyperpod.pd_spec.prefill.autoscaling) + most(
            spec.hyperpod.pd_spec.decode.replicas, spec.hyperpod.pd_spec.decode.autoscaling
        )
    return most(spec.replicas, spec.autoscaling)


def render(spec: EndpointSpec) -> dict[str, Any]:
    """The placement field of the object: `instanceTypes` or `instanceType`, never both."""
    if spec.hyperpod.instance_types:
        return {
            "instanceTypes": [
                instances.sagemaker_name(instances.ec2_name(t.strip().lower())) for t in spec.hyperpod.instance_types
            ]
        }
    return {"instanceType": instances.sagemaker_name(instances.ec2_name(spec.instance_type.lower()))}


def render_request_limits(spec: EndpointSpec) -> dict[str, Any] | None:
    """spec.worker.requestLimits, or None."""
    limits = spec.hyperpod.request_limits
    if limits is None:
        return None
    out: dict[str, Any] = {
        "maxConcurrentRequests": limits.max_concurrent_requests,
        "overflowStatusCode": limits.overflow_status_code,
    }
    if limits.max_queue_size is not None:
        out["maxQueueSize"] = limits.max_queue_size
    return out


# ---------------------------------------------------------------- the endpoint config


def validate(
    spec: EndpointSpec, path: str, instance_rules: Callable[[EndpointSpec, str], list[Problem]]
) -> list[Problem]:
    """G11 on every entry of `instanceTypes` (`instance_rules` is validate.py's for one type), and no repeats. The
    first entry is the endpoint's `instanceType`, which the caller checks already; its problems move here too."""
    if not spec.hyperpod.instance_types:
        return []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    first = set(instance_rules(spec, path))  # the caller's own: not repeated for each fallback
    for i, t in enumerate(spec.hyperpod.instance_types):
        key = instances.ec2_name(t.strip().lower())
        if key in seen:
            problems.append(
                Problem(
                    f"{path}.hyperpod.instanceTypes[{i}]",
                    t,
                    G11,
                    f"repeats hyperpod.instanceTypes[{seen[key]}]",
                    "list each instance type once",
                )
            )
            continue
        seen[key] = i
        if i == 0:
            continue
        problems += [
            _repath(p, path, i)
            for p in instance_rules(spec.model_copy(update={"instance_type": t}), path)
            if p not in first
        ]
    return problems


def _repath(p: Problem, path: str, i: int) -> Problem:
    if p.path != f"{path}.instanceType":
        return p
    return dataclasses.replace(p, path=f"{path}.hyperpod.instanceTypes[{i}]")


def first_type_path(spec: EndpointSpec, problems: Iterable[Problem], path: str) -> list[Problem]:
    """Problems the one-type rules report at `instanceType` moved to `instanceTypes[0]`, where the user wrote it."""
    if not spec.hyperpod.instance_types:
        return list(problems)
    return [_repath(p, path, 0) for p in problems]


def fit_fallbacks(
    specs: Sequence[EndpointSpec],
    facts_for: Callable[[EndpointSpec], Any],
    fit_check: Callable[[EndpointSpec, Any, str], tuple[Any, list[Problem]]],
    endpoint_path: Callable[[int], str],
) -> list[Problem]:
    """G23 on each fallback type of each endpoint: the operator may place the endpoint on any of them."""
    problems: list[Problem] = []
    for i, spec in enumerate(specs):
        for j, t in enumerate(fallbacks(spec), start=1):
            path = endpoint_path(i)
            _, found = fit_check(spec.model_copy(update={"instance_type": t}), facts_for(spec), path)
            problems += [_repath(p, path, j) for p in found]
    return problems


def spread(spec: EndpointSpec, price_of: Callable[[str], float | None]) -> list[tuple[str, float | None]] | None:
    """Each type of `instanceTypes` with its price (None: no price), cheapest first, unpriced last; None without a list."""
    if not spec.hyperpod.instance_types:
        return None
    priced = [(t, price_of(t)) for t in spec.hyperpod.instance_types]
    return sorted(priced, key=lambda tp: (tp[1] is None, tp[1] or 0.0))


# ---------------------------------------------------------------- rendered objects


def check(spec: Mapping[str, Any]) -> list[Problem]:
    """The CRD's mutual exclusions on an InferenceEndpointConfig's spec."""
    have = [k for k in ("instanceType", "instanceTypes", "nodeAffinity") if spec.get(k) not in (None, [], {})]
    if len(have) < 2:
        return []
    return [
        Problem(
            f"spec.{have[1]}",
            spec.get(have[1]),
            G11,
            f"{' and '.join(have)} are mutually exclusive (CRD spec.instanceType, spec.nodeAffinity descriptions); the operator refuses or ignores one",
            f"keep one of {', '.join(have)}",
        )
    ]
