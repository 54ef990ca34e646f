"""The capacity contract (rule C1): a measured capacity file against an endpoint's declared peak load.

`stacks report --export-capacity` writes the files (stacks/tuning/capacity.py); the stacks layer reads them
and passes the parsed `CapacityFile` in, so this module stays pure. A file measured under another SLO,
workload, model, engine, instance type or engine args does not match: each differing field is one problem.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from . import engines
from .autoscaling import CLOUDWATCH_PERIOD_SECONDS, engine_series
from .backends import BACKENDS, backend_for
from .bounds import INT32_MAX, MAX_REQUESTS_PER_SECOND, MAX_USD_PER_HOUR
from .catalog import C1
from .cost import HOURS_PER_MONTH, TooManyReplicas, cost_per_month_at_peak, replicas_for_peak
from .problems import Change, Problem
from .spec import Autoscaling, CloudWatchTrigger, EndpointSpec, PodsMetric, PrometheusTrigger

SCHEMA_VERSION = 1
Unit = Literal["concurrency", "requests_per_second"]


class _File(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False
    )


# A measured load (a concurrency or requests per second): every number C1 multiplies or divides is finite, not
# negative, and bounded (components/rules/bounds.py), so a hand-edited file cannot overflow the arithmetic.
Load = Annotated[float, Field(ge=0, le=MAX_REQUESTS_PER_SECOND)]


class Measured(_File):
    unit: Unit
    value: Load
    lower_bound: Load
    lower_bound_rule: str
    values: list[Load]
    source: str  # "capacity search" or "best SLO-meeting level"


class RequestRate(_File):
    """Requests per second completed at the lower bound's load: a concurrency capacity in requests per second."""

    value: Load | None = None
    lower_bound: Load | None = None
    values: list[Load] = Field(default_factory=list)


class Cost(_File):
    """What one replica of the measured configuration costs (stacks/tuning/capacity.py fills it from the trial's
    recorded price); a null figure comes with `reason`."""

    per_hour: float | None = Field(default=None, ge=0, le=MAX_USD_PER_HOUR)
    per_mtok_output_at_slo: float | None = Field(default=None, ge=0)  # at the capacity's lower-bound load
    price_source: str | None = None
    reason: str | None = None


class CapacityFile(_File):
    schema_version: Literal[1]
    model: str
    engine: str
    instance_type: str
    engine_args: dict[str, Any]
    workload: str
    slo: dict[str, float]
    capacity: Measured
    request_rate: RequestRate | None = None
    measured: str  # date, YYYY-MM-DD
    run: str
    trial: str
    source: dict[str, Any]
    cost: Cost | None = None  # null in files exported before the cost block

    @property
    def stand_in(self) -> bool:
        """Measured on the stand-in engine (`local.engine: stand-in`), a script that serves no model."""
        return self.source.get("standIn") is True

    def rate_lower_bound(self) -> float | None:
        """Requests per second one replica sustained at the SLO in every repeat."""
        if self.capacity.unit == "requests_per_second":
            return self.capacity.lower_bound
        return self.request_rate.lower_bound if self.request_rate else None


def _instance(name: str) -> str:
    return name.removeprefix("ml.")


def _workload(text: str) -> str:
    return "".join(text.split())


def mismatches(spec: EndpointSpec, cap: CapacityFile, path: str, file: str) -> list[Problem]:
    """One problem per field on which the file was measured under something else than the endpoint declares."""
    declared: list[tuple[str, str, Any, Any]] = [
        ("model", "model", spec.model, cap.model),
        ("engine", "engine", spec.engine, cap.engine),
        ("instanceType", "instanceType", _instance(spec.instance_type), _instance(cap.instance_type)),
        ("engineArgs", "engineArgs", spec.engine_args.model_dump(by_alias=True, exclude_none=True), cap.engine_args),
        ("slo", "slo", spec.slo.bounds() if spec.slo else {}, cap.slo),
    ]
    if spec.load is not None:
        declared.append(("load.workload", "workload", _workload(spec.load.workload), _workload(cap.workload)))
    return [
        Problem(
            f"{path}.{key}",
            mine,
            C1,
            f"the capacity file {file} was measured with {field} {theirs!r}, not {mine!r}, so it does not describe this endpoint",
            f"export a capacity file measured with {field} {mine!r} (stacks tune, then stacks report --export-capacity), or set {key} to {theirs!r}",
        )
        for key, field, mine, theirs in declared
        if mine != theirs
    ]


def stand_in(cap: CapacityFile, path: str, file: str) -> list[Problem]:
    """A file from the stand-in engine holds that script's numbers: the contract still runs on them (the tour shows
    it), but they say nothing about the model on its instance type."""
    if not cap.stand_in:
        return []
    return [
        Problem(
            f"{path}.capacity",
            file,
            C1,
            f"the capacity file was measured on the stand-in engine (local.engine: stand-in), a script that serves no model: its numbers say nothing about {cap.model} on {cap.instance_type}",
            "measure the model on its engine (stacks tune with local.engine: real, or target: pulumi) and export that file",
            severity="warning",
        )
    ]


def max_replicas(spec: EndpointSpec) -> tuple[int, str]:
    if spec.autoscaling is not None:
        return spec.autoscaling.max_replicas, "autoscaling.maxReplicas"
    return spec.replicas, "replicas"


def contract(spec: EndpointSpec, cap: CapacityFile | None, file: str | None) -> dict[str, Any] | None:
    """The C1 numbers of an endpoint that declares a load: recorded on its scaled object (CONTRACT_ANNOTATION) so
    the policy pack checks them against the replica maximum the manifest really has."""
    if spec.load is None:
        return None
    return {
        "peakRequestsPerSecond": spec.load.peak_requests_per_second,
        "headroom": spec.load.headroom,
        "perReplicaRequestsPerSecond": cap.rate_lower_bound() if cap else None,
        "capacityFile": file,
    }


def check_contract(spec: EndpointSpec, cap: CapacityFile | None, path: str, file: str | None) -> list[Problem]:
    """C1: maxReplicas × capacity lower bound ≥ peak × (1 + headroom). Mandatory with a matching capacity file,
    a warning without one (no measurement to hold the endpoint to)."""
    terms = contract(spec, cap, file)
    if terms is None:
        return []
    have, key = max_replicas(spec)
    if cap is not None and not terms["perReplicaRequestsPerSecond"]:
        return [
            Problem(
                f"{path}.capacity",
                file,
                C1,
                "the capacity file has no requests-per-second lower bound (no load met the SLO)",
                "re-measure with a load the configuration can meet the SLO at",
            )
        ]
    return _judge(terms, have, f"{path}.{key}", key, f"{path}.load.peakRequestsPerSecond", matched=cap is not None)


def _judge(terms: dict[str, Any], have: int, where: str, key: str, load_where: str, matched: bool) -> list[Problem]:
    peak, headroom, per_replica, file = (
        terms["peakRequestsPerSecond"],
        terms["headroom"],
        terms["perReplicaRequestsPerSecond"],
        terms["capacityFile"],
    )
    if not matched or not per_replica:
        why = f"the capacity file {file} does not match this endpoint" if file else "no capacity file is set"
        return [
            Problem(
                load_where,
                peak,
                C1,
                f"{why}, so nothing shows {have} replicas carry {peak:g} requests/s",
                "measure the configuration (stacks tune with a capacity search), export it (stacks report --export-capacity DIR) and set capacity: to the file",
                severity="warning",
            )
        ]
    carried, sums = arithmetic(terms, have)
    if carried:
        return []
    try:
        need = replicas_for_peak(peak, per_replica, headroom)
    except TooManyReplicas as exc:
        return [
            Problem(
                load_where,
                peak,
                C1,
                f"{exc} (lower bound, {file}), more than a replica count can be",
                "check load.peakRequestsPerSecond and the capacity file: re-measure the configuration (stacks tune with a capacity search) if its lower bound is wrong",
            )
        ]
    return [Problem(where, have, C1, f"{sums}: needs {need} replicas, has {have}", f"set {key}: {need}")]


def arithmetic(terms: dict[str, Any], have: int) -> tuple[bool, str]:
    """Whether `have` replicas carry the contract's peak, and the sums that say so (terms from `contract`, with a
    per-replica rate)."""
    peak, headroom, per_replica, file = (
        terms["peakRequestsPerSecond"],
        terms["headroom"],
        terms["perReplicaRequestsPerSecond"],
        terms["capacityFile"],
    )
    carried = have * per_replica >= peak * (1 + headroom) - 1e-9
    return carried, (
        f"{have} × {per_replica:.4g} requests/s per replica (lower bound, {file}) = {have * per_replica:.4g} {'≥' if carried else '<'} "
        f"peak {peak:g} × (1 + headroom {headroom:g}) = {peak * (1 + headroom):.4g}"
    )


def peak_cost(spec: EndpointSpec, cap: CapacityFile | None, path: str, file: str | None) -> list[Change]:
    """What the declared peak costs: replicas the peak needs at the capacity's lower bound × the file's $/h per
    replica × 730 h. Nothing without a load, a matching file, its price or its requests-per-second lower bound."""
    rate = cap.rate_lower_bound() if cap is not None else None
    if spec.load is None or cap is None or cap.cost is None or cap.cost.per_hour is None or not rate:
        return []
    peak, headroom, per_hour = spec.load.peak_requests_per_second, spec.load.headroom, cap.cost.per_hour
    try:
        need = replicas_for_peak(peak, rate, headroom)
    except TooManyReplicas:
        return []  # check_contract names the problem
    month = cost_per_month_at_peak(per_hour, rate, peak, headroom)
    return [
        Change(
            f"{path}.load",
            None,
            f"${month:,.2f} a month at peak",
            C1,
            f"{need} replicas for peak {peak:g} × (1 + headroom {headroom:g}) requests/s at {rate:.4g} requests/s each (lower bound, {file}) "
            f"× ${per_hour:g}/h ({cap.cost.price_source}) × {HOURS_PER_MONTH:g} h",
        )
    ]


CONTRACT_ANNOTATION = "llm-serving.io/capacity-contract"
# Where each scaled object keeps its replica maximum, in the order the annotation is placed: the HPA over the
# Deployment it scales; an InferenceEndpointConfig without autoscaling has only `replicas`.
_MAXIMUM = {
    "HorizontalPodAutoscaler": (("spec", "maxReplicas"),),
    "InferenceEndpointConfig": (("spec", "autoScalingSpec", "maxReplicaCount"), ("spec", "replicas")),
    "InferenceService": (("spec", "predictor", "maxReplicas"), ("spec", "engine", "maxReplicas")),
    "Deployment": (("spec", "replicas"),),
}


def _dig(obj: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def annotate(manifests: list[dict[str, Any]], terms: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The manifests with the C1 numbers on the object that holds the replica maximum (a copy; unchanged without)."""
    if terms is None:
        return manifests
    kinds = [m.get("kind") for m in manifests]
    target = next((kinds.index(k) for k in _MAXIMUM if k in kinds), None)
    if target is None:
        return manifests
    out = list(manifests)
    # New dicts down to the annotations only, as fit.annotate: the object may hold Pulumi outputs (the API key a
    # routed endpoint passes as a plain value, G9), which cannot be deep-copied; a routed keyed endpoint with `load` crashed the plan.
    obj = out[target]
    meta = obj.get("metadata") or {}
    out[target] = {
        **obj,
        "metadata": {
            **meta,
            "annotations": {**(meta.get("annotations") or {}), CONTRACT_ANNOTATION: json.dumps(terms, sort_keys=True)},
        },
    }
    return out


class _Contract(_File):
    """CONTRACT_ANNOTATION as `contract` writes it; a manifest read by `stacks check` may hold anything there."""

    model_config = ConfigDict(alias_generator=None, extra="forbid", frozen=True, allow_inf_nan=False)

    peakRequestsPerSecond: float = Field(gt=0, le=MAX_REQUESTS_PER_SECOND)
    headroom: float = Field(ge=0, le=10)
    perReplicaRequestsPerSecond: Load | None = None
    capacityFile: str | None = None


def check_manifest(manifest: dict[str, Any]) -> list[Problem]:
    """C1 on a rendered object carrying CONTRACT_ANNOTATION: its own replica maximum against the recorded peak,
    headroom and measured per-replica capacity (a hand-edited maximum is caught too)."""
    text = ((manifest.get("metadata") or {}).get("annotations") or {}).get(CONTRACT_ANNOTATION)
    where = f"metadata.annotations.{CONTRACT_ANNOTATION}"
    if text is None:
        return []
    try:
        terms = _Contract.model_validate_json(text if isinstance(text, (str, bytes)) else "").model_dump()
    except ValidationError:
        shown = (
            text if isinstance(text, str) and len(text) <= 200 else f"{str(text)[:200]}… ({len(str(text))} characters)"
        )
        return [
            Problem(
                where,
                shown,
                C1,
                "not the JSON the stack records (peakRequestsPerSecond above 0 up to 1e6, headroom 0 to 10, perReplicaRequestsPerSecond, capacityFile)",
                "let the stack write it: set load/capacity on the endpoint",
            )
        ]
    paths = _MAXIMUM.get(str(manifest.get("kind")), ())
    found = next(((".".join(p), _dig(manifest, p)) for p in paths if isinstance(_dig(manifest, p), int)), None)
    if found is None:
        return [
            Problem(
                where,
                text,
                C1,
                f"a {manifest.get('kind')} has no replica maximum to hold to the contract",
                "keep the annotation on the object that scales the endpoint",
            )
        ]
    path, have = found
    if isinstance(have, bool) or not 0 <= have <= INT32_MAX:
        return [
            Problem(
                path,
                have,
                C1,
                f"not a replica count (0 to {INT32_MAX}), so the contract cannot be judged",
                "set the replica maximum the contract needs",
            )
        ]
    return _judge(terms, have, path, path, where, matched=terms.get("perReplicaRequestsPerSecond") is not None)


# KEDA's CloudWatch trigger in the HyperPod operator reads the Sum of `Invocations` over `metricCollectionPeriod`
# seconds, per replica (`metricType` default Average, the same CRD); the hyperpod backend writes that period
# explicitly (autoscaling.CLOUDWATCH_PERIOD_SECONDS), so the derived target and the trigger use one number.

# Engine-side per-replica figures a Prometheus trigger reads. Requests in flight (running + waiting) is the server's
# count of what the load generator's concurrency counts; the waiting queue alone stays 0 until the batch is full
# (maxNumSeqs), so a concurrency capacity cannot be turned into a waiting-requests target. Every series carries the
# served model name as `model_name`, which keeps one endpoint's query off another's series in a shared workspace:
# vllm-project/vllm@v0.11.0 vllm/v1/metrics/loggers.py (gauges `vllm:num_requests_running`, `vllm:num_requests_waiting`,
# counter `vllm:request_success`, exposed as `..._total`); sgl-project/sglang@v0.5.19
# python/sglang/srt/observability/metrics_collector.py (gauges `sglang:num_running_reqs`, `sglang:num_queue_reqs`,
# counter `sglang:num_requests_total`; labels built in python/sglang/srt/managers/tokenizer_manager.py).
IN_FLIGHT_METRICS = {
    "vllm": ("vllm:num_requests_running", "vllm:num_requests_waiting"),
    "sglang": ("sglang:num_running_reqs", "sglang:num_queue_reqs"),
}
COMPLETED_METRIC = {"vllm": "vllm:request_success_total", "sglang": "sglang:num_requests_total"}


def in_flight_query(engine: str, served_model_name: str) -> str:
    return " + ".join(f"sum({engine_series(m, served_model_name)})" for m in IN_FLIGHT_METRICS[engine])


def rate_query(engine: str, served_model_name: str) -> str:
    return f"sum(rate({engine_series(COMPLETED_METRIC[engine], served_model_name)}[1m]))"


# prometheus-adapter's Helm chart default rules expose a counter `X_total` to the HPA as `X`, a per-second rate
# `sum(rate(X_total[5m]))` (prometheus-community/helm-charts@prometheus-adapter-5.3.0
# charts/prometheus-adapter/templates/configmap.yaml, `rules.default: true` in values.yaml: `matches: ^(.*)_total$`,
# `as: ""`; an empty `as` with one capture group names the metric `$1`: kubernetes-sigs/prometheus-adapter@v0.12.0
# pkg/naming/metric_namer.go NamersFromConfig). No `_per_second` suffix: that is only docs/config.md's example.
HPA_RATE_METRIC = {"vllm": "vllm:request_success", "sglang": "sglang:num_requests"}


def derive_autoscaling(
    spec: EndpointSpec, cap: CapacityFile | None, path: str, file: str | None, prometheus_server: str | None = None
) -> tuple[Autoscaling | None, list[Change], list[Problem]]:
    """`autoscaling.target: fromCapacity`: the trigger and its per-replica target from the capacity's lower bound ×
    utilization, in the unit the backend's autoscaler reads. On hyperpod the engine's own metrics through
    `prometheus_server` (platform.prometheusServerAddress), which see the ALB's traffic; without one, the
    registered endpoint's Invocations (rule A1 warns), else a Prometheus trigger with no server (A1 warns).
    Returns (new autoscaling, changes, problems)."""
    scaling = spec.autoscaling
    if scaling is None or scaling.target != "fromCapacity":
        return None, [], []
    where = f"{path}.autoscaling.target"
    backend = backend_for(spec)
    if backend.autoscaler is None:
        scaled = " or ".join(b.name for b in BACKENDS.values() if b.autoscaler)
        return (
            None,
            [],
            [
                Problem(
                    where,
                    "fromCapacity",
                    C1,
                    f"the {backend.name} backend has no per-replica target in this stack ({backend.title} scales by minReplicas/maxReplicas only)",
                    f"remove autoscaling.target, or use the {scaled} backend",
                )
            ],
        )
    by_hand = [
        (k, v)
        for k, v in (
            ("prometheus", scaling.prometheus),
            ("cloudwatch", scaling.cloudwatch),
            ("podsMetric", scaling.pods_metric),
        )
        if v is not None
    ]
    if by_hand:
        key, trigger = by_hand[0]
        return (
            None,
            [],
            [
                Problem(
                    f"{path}.autoscaling.{key}",
                    trigger.model_dump(by_alias=True, exclude_none=True),
                    C1,
                    "target fromCapacity sets the trigger and its target itself",
                    f"remove autoscaling.{key}, or autoscaling.target",
                )
            ],
        )
    if cap is None:
        return (
            None,
            [],
            [
                Problem(
                    where,
                    "fromCapacity",
                    C1,
                    f"needs a matching capacity file ({'capacity is unset' if not file else file + ' does not match'})",
                    "set capacity: to a file of stacks report --export-capacity measured for this endpoint",
                )
            ],
        )
    util = scaling.utilization
    rate = cap.rate_lower_bound()
    origin = f"{file}: {cap.capacity.source}, run {cap.run}, {cap.measured}"
    if backend.autoscaler == "hpa":
        if not rate:
            return (
                None,
                [],
                [
                    Problem(
                        where,
                        "fromCapacity",
                        C1,
                        f"{file} has no requests-per-second lower bound",
                        "re-measure the configuration",
                    )
                ],
            )
        target = round(rate * util, 4)
        if not target:
            return None, [], [_rounds_to_zero(where, file, f"requests/s per pod {rate:.4g} × utilization {util:g}", 4)]
        new = scaling.model_copy(
            update={"pods_metric": PodsMetric(name=HPA_RATE_METRIC[spec.engine], target_average_value=target)}
        )
        return (
            new,
            [
                Change(
                    f"{path}.autoscaling.podsMetric",
                    None,
                    {"name": HPA_RATE_METRIC[spec.engine], "targetAverageValue": target},
                    C1,
                    f"requests/s per pod = {rate:.4g} (lower bound, {origin}) × utilization {util:g}",
                )
            ],
            [],
        )
    if spec.hyperpod.sagemaker_endpoint and not prometheus_server:
        if not rate:
            return (
                None,
                [],
                [
                    Problem(
                        where,
                        "fromCapacity",
                        C1,
                        f"{file} has no requests-per-second lower bound",
                        "re-measure the configuration",
                    )
                ],
            )
        target = round(rate * CLOUDWATCH_PERIOD_SECONDS * util, 2)
        if not target:
            return (
                None,
                [],
                [
                    _rounds_to_zero(
                        where, file, f"{rate:.4g} requests/s × {CLOUDWATCH_PERIOD_SECONDS} s × utilization {util:g}", 2
                    )
                ],
            )
        new = scaling.model_copy(
            update={"cloudwatch": CloudWatchTrigger(metric_name="Invocations", target_value=target)}
        )
        return (
            new,
            [
                Change(
                    f"{path}.autoscaling.cloudwatch",
                    None,
                    {"metricName": "Invocations", "targetValue": target},
                    C1,
                    f"Invocations per {CLOUDWATCH_PERIOD_SECONDS} s per replica = {rate:.4g} requests/s (lower bound, {origin}) × {CLOUDWATCH_PERIOD_SECONDS} s × utilization {util:g}",
                )
            ],
            [],
        )
    served = engines.served_model_name(spec.model)
    if cap.capacity.unit == "concurrency":
        query, target, how = (
            in_flight_query(spec.engine, served),
            round(cap.capacity.lower_bound * util, 2),
            f"requests in flight per replica = concurrency {cap.capacity.lower_bound:g}",
        )
    else:
        query, target, how = (
            rate_query(spec.engine, served),
            round(cap.capacity.lower_bound * util, 4),
            f"requests/s per replica = {cap.capacity.lower_bound:.4g}",
        )
    if not target:
        return (
            None,
            [],
            [
                _rounds_to_zero(
                    where, file, f"{how} × utilization {util:g}", 2 if cap.capacity.unit == "concurrency" else 4
                )
            ],
        )
    new = scaling.model_copy(
        update={
            "prometheus": PrometheusTrigger(query=query, target_value=target, server_address=prometheus_server or "")
        }
    )
    return (
        new,
        [
            Change(
                f"{path}.autoscaling.prometheus",
                None,
                {"query": query, "targetValue": target},
                C1,
                f"{how} (lower bound, {origin}) × utilization {util:g}",
            )
        ],
        [],
    )


def _rounds_to_zero(where: str, file: str | None, how: str, digits: int) -> Problem:
    """A derived target of 0 would scale on nothing (and no trigger accepts it)."""
    return Problem(
        where,
        "fromCapacity",
        C1,
        f"the per-replica target from {file} rounds to 0 at {digits} decimals ({how}): the measured capacity is too small to scale on",
        "re-measure the configuration (its lower bound looks wrong), or set the trigger and its target by hand instead of fromCapacity",
    )
