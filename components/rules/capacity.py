"""The capacity contract (rule C1): a measured capacity file against an endpoint's declared peak load.

`stacks report --export-capacity` writes the files (stacks/tuning/capacity.py); the stacks layer reads them
and passes the parsed `CapacityFile` in, so this module stays pure. A file measured under another SLO,
workload, model, engine, instance type or engine args does not match: each differing field is one problem.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel, to_snake

from .bounds import INT32_MAX, MAX_REQUESTS_PER_SECOND, MAX_USD_PER_HOUR
from .catalog import C1
from .cost import HOURS_PER_MONTH, TooManyReplicas, cost_per_month_at_peak, replicas_for_peak
from .problems import Change, Problem
from .spec import EndpointSpec
from .spec.hyperpod_options import PdSpec, RequestLimits

SCHEMA_VERSION = 1
# What shapes one replica beyond its engine args (`hyperpod.<key>`), recorded as measured and matched by C1.
REPLICA_SHAPE: dict[str, type[BaseModel]] = {"pdSpec": PdSpec, "requestLimits": RequestLimits}
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
    # What shapes one replica beyond its engine args, as measured (`hyperpod.pdSpec`, `hyperpod.requestLimits`):
    # absent when the measured endpoint set neither. A disaggregated replica, or one whose sidecar sheds load,
    # serves another capacity than a plain worker.
    replica_shape: dict[str, Any] = Field(default_factory=dict)

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


def _shown(value: Any) -> str:
    return "unset" if value is None else repr(value)


def _as_declared(key: str, value: Any) -> Any:
    """A file's recorded option read as the endpoint's config reads it (defaults filled), or as written when it does
    not parse (then it matches nothing)."""
    if value is None:
        return None
    try:
        return REPLICA_SHAPE[key].model_validate(value).model_dump(by_alias=True, exclude_none=True)
    except ValidationError:
        return value


def replica_shape(spec: EndpointSpec) -> dict[str, Any]:
    """The options beside the engine args that change what one replica serves, in the capacity file's spelling."""
    return {
        key: value.model_dump(by_alias=True, exclude_none=True)
        for key in REPLICA_SHAPE
        if (value := getattr(spec.hyperpod, to_snake(key))) is not None
    }


def mismatches(spec: EndpointSpec, cap: CapacityFile, path: str, file: str) -> list[Problem]:
    """One problem per field on which the file was measured under something else than the endpoint declares."""
    shape = replica_shape(spec)
    declared: list[tuple[str, str, Any, Any]] = [
        ("model", "model", spec.model, cap.model),
        ("engine", "engine", spec.engine, cap.engine),
        ("instanceType", "instanceType", _instance(spec.instance_type), _instance(cap.instance_type)),
        ("engineArgs", "engineArgs", spec.engine_args.model_dump(by_alias=True, exclude_none=True), cap.engine_args),
        ("slo", "slo", spec.slo.bounds() if spec.slo else {}, cap.slo),
        *(
            (f"hyperpod.{key}", f"hyperpod.{key}", shape.get(key), _as_declared(key, cap.replica_shape.get(key)))
            for key in REPLICA_SHAPE
        ),
    ]
    if spec.load is not None:
        declared.append(("load.workload", "workload", _workload(spec.load.workload), _workload(cap.workload)))
    return [
        Problem(
            f"{path}.{key}",
            mine,
            C1,
            f"the capacity file {file} was measured with {field} {_shown(theirs)}, not {_shown(mine)}, so it does not describe this endpoint",
            f"export a capacity file measured with {field} {_shown(mine)} (stacks tune, then stacks report --export-capacity), or "
            + (f"remove {key}" if theirs is None else f"set {key} to {theirs!r}"),
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
