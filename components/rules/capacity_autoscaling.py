"""Rule C1's autoscaling: a measured capacity turned into the endpoint's autoscaling trigger and target (a
Prometheus query of the engine's own series, a CloudWatch target, or a pods metric), with what was made and why."""

from __future__ import annotations

from . import engines
from .autoscaling import CLOUDWATCH_PERIOD_SECONDS, engine_series
from .backends import BACKENDS, backend_for
from .capacity import CapacityFile
from .catalog import C1
from .problems import Change, Problem
from .spec import Autoscaling, CloudWatchTrigger, EndpointSpec, PodsMetric, PrometheusTrigger

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
        return _refused(
            Problem(
                where,
                "fromCapacity",
                C1,
                f"the {backend.name} backend has no per-replica target in this stack ({backend.title} scales by minReplicas/maxReplicas only)",
                f"remove autoscaling.target, or use the {scaled} backend",
            )
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
        return _refused(
            Problem(
                f"{path}.autoscaling.{key}",
                trigger.model_dump(by_alias=True, exclude_none=True),
                C1,
                "target fromCapacity sets the trigger and its target itself",
                f"remove autoscaling.{key}, or autoscaling.target",
            )
        )
    if cap is None:
        return _refused(
            Problem(
                where,
                "fromCapacity",
                C1,
                f"needs a matching capacity file ({'capacity is unset' if not file else file + ' does not match'})",
                "set capacity: to a file of stacks report --export-capacity measured for this endpoint",
            )
        )
    util = scaling.utilization
    rate = cap.rate_lower_bound()
    origin = f"{file}: {cap.capacity.source}, run {cap.run}, {cap.measured}"
    invocations = bool(spec.hyperpod.sagemaker_endpoint and not prometheus_server)  # SageMaker's Invocations
    if backend.autoscaler == "hpa":
        if not rate:
            return _refused(_no_rate(where, file))
        target = round(rate * util, 4)
        if not target:
            return _refused(_rounds_to_zero(where, file, f"requests/s per pod {rate:.4g} × utilization {util:g}", 4))
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
    if invocations:
        if not rate:
            return _refused(_no_rate(where, file))
        target = round(rate * CLOUDWATCH_PERIOD_SECONDS * util, 2)
        if not target:
            return _refused(
                _rounds_to_zero(
                    where, file, f"{rate:.4g} requests/s × {CLOUDWATCH_PERIOD_SECONDS} s × utilization {util:g}", 2
                )
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
        return _refused(
            _rounds_to_zero(
                where, file, f"{how} × utilization {util:g}", 2 if cap.capacity.unit == "concurrency" else 4
            )
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


def _refused(problem: Problem) -> tuple[None, list[Change], list[Problem]]:
    """No autoscaling derived: the one problem that says why."""
    return None, [], [problem]


def _no_rate(where: str, file: str | None) -> Problem:
    """The HPA and SageMaker's Invocations count requests per second: a file without that rate gives them no target."""
    return Problem(
        where, "fromCapacity", C1, f"{file} has no requests-per-second lower bound", "re-measure the configuration"
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
