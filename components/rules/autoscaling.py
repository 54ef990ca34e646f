"""Autoscaling triggers that get datapoints (rule A1): the HyperPod operator's KEDA triggers, on the typed spec
and on a rendered InferenceEndpointConfig.

A KEDA CloudWatch trigger reads one metric with exactly the dimensions given (CloudWatch matches the full
dimension set); a query that matches nothing returns no datapoints, and KEDA then scales on `minValue` (CRD
default 0), so the endpoint never scales out. Sources:
- the upstream trigger: `Invocations` in `AWS/SageMaker`, `metricStat: Sum`, dimensions `EndpointName` and
  `VariantName: AllTraffic` (AWS docs, https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-autoscaling.html;
  aws-samples/sagemaker-genai-hosting-examples SageMakerHyperpod/hyperpod-inference/deploy_jumpstart_inference_operator.yaml);
- real-time endpoint metrics carry `EndpointName` and `VariantName`
  (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html);
- `ApproximateBacklogSize*`, `ApproximateAgeOfOldestRequest` and `HasBacklogWithoutCapacity` are published for
  asynchronous endpoints only (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-monitor.html);
  the operator registers a real-time endpoint;
- the `AWS/SageMaker` metrics of an endpoint exist only when the operator registers one (`spec.endpointName`,
  CRD: "Defaults to empty string which represents that Sagemaker endpoint will not be created");
- `AWS/SageMaker` endpoint metrics count requests sent through the SageMaker endpoint (InvokeEndpoint); a request to
  the endpoint's ALB (the stack's `url` output, or the operator's own ALB) is never one of them, so such a trigger
  does not see the traffic it should scale on (a warning, and the reason the default trigger is the engine's queue);
- engine queue metrics, at the tags of the default images (engines.py): vLLM `vllm:num_requests_waiting` and SGLang
  `sglang:num_queue_reqs`, both labelled `model_name` with the served model name (sources beside QUEUE_METRIC); a
  query on the other engine's metric matches no series;
- a Prometheus trigger's `serverAddress` is an Amazon Managed Service for Prometheus workspace or empty (CRD pattern);
  AWS's autoscaling page calls it required, and what the closed-source operator queries when it is empty is not
  written anywhere. The stack installs no Prometheus, so an empty one warns.
"""

from __future__ import annotations

import re
from typing import Any

from .catalog import A1
from .endpoint import resolve
from .problems import Change, Problem
from .spec import CloudWatchTrigger, EndpointSpec, PrometheusTrigger

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
DEFAULT_METRIC = "Invocations"
DEFAULT_VARIANT = "AllTraffic"  # the upstream samples' variant name
ASYNC_ONLY_METRICS = frozenset(
    {
        "ApproximateBacklogSize",
        "ApproximateBacklogSizePerInstance",
        "ApproximateAgeOfOldestRequest",
        "HasBacklogWithoutCapacity",
    }
)
# Count metrics whose valid statistic is Sum (SageMaker's CloudWatch metrics table); the sample uses Sum.
SUM_METRICS = frozenset({"Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors"})
# Requests waiting for a batch slot, per engine, labelled `model_name` = the served model name:
# vllm-project/vllm@v0.11.0 vllm/v1/metrics/loggers.py (PrometheusStatLogger: gauge `vllm:num_requests_waiting`,
# labelnames ["model_name", "engine"], model_name = served_model_name);
# sgl-project/sglang@v0.5.19 python/sglang/srt/observability/metrics_collector.py (SchedulerMetricsCollector: gauge
# `sglang:num_queue_reqs`, labels {"model_name": served_model_name, "engine_type", "tp_rank", ...}).
QUEUE_METRIC = {"vllm": "vllm:num_requests_waiting", "sglang": "sglang:num_queue_reqs"}
DEFAULT_QUEUE_TARGET = (
    8  # waiting requests per replica before KEDA adds one (the kubernetes backend's HPA uses the same)
)
# Seconds of CloudWatch data KEDA's trigger reads per query (`cloudWatchTrigger.metricCollectionPeriod`): the CRD's
# default (aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
# inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml, `default: 300`), written explicitly so that a
# target derived from a rate (rule C1) and the period the operator uses are the same number.
CLOUDWATCH_PERIOD_SECONDS = 300
_ENGINE_METRIC = re.compile(r"\b(vllm|sglang):[a-zA-Z_]")


def statistic(cw: CloudWatchTrigger) -> str:
    """`statistic`, or unset: Sum for the count metrics, Average for the others."""
    return cw.statistic or ("Sum" if cw.metric_name in SUM_METRICS else "Average")


def dimensions(cw: CloudWatchTrigger, endpoint_name: str | None) -> dict[str, str]:
    """`dimensions`, or unset in AWS/SageMaker: the endpoint the operator registers, variant AllTraffic."""
    if cw.dimensions is not None:
        return dict(cw.dimensions)
    if cw.namespace == SAGEMAKER_NAMESPACE and endpoint_name:
        return {"EndpointName": endpoint_name, "VariantName": DEFAULT_VARIANT}
    return {}


# SGLang with priority scheduling also exports each priority's share under priority="<n>" beside the total under
# priority="" (sgl-project/sglang@v0.5.19 python/sglang/srt/observability/metrics_collector.py
# `_log_gauge_queue_count`); `priority=""` also matches series without the label, so a sum stays the total.
TOTALS_ONLY = {"sglang:num_running_reqs": 'priority=""', "sglang:num_queue_reqs": 'priority=""'}


def engine_series(metric: str, served_model_name: str) -> str:
    """One engine metric of one endpoint: its series carry the served model name as `model_name`."""
    labels = [f'model_name="{served_model_name}"', *([TOTALS_ONLY[metric]] if metric in TOTALS_ONLY else [])]
    return f"{metric}{{{','.join(labels)}}}"


def queue_query(spec: EndpointSpec) -> str:
    """The default Prometheus query: requests waiting in the endpoint's engines, summed over its replicas."""
    return f"sum({engine_series(QUEUE_METRIC[spec.engine], resolve(spec).served_model_name)})"


def apply_defaults(spec: EndpointSpec, server: str | None, path: str) -> tuple[EndpointSpec, list[Change]]:
    """A hyperpod endpoint's triggers (the caller asks only for a backend whose autoscaler is KEDA's) with `platform.prometheusServerAddress` (`server`): no trigger at all becomes
    the engine's queue (the endpoint is served through an ALB, whose traffic AWS/SageMaker never counts), and a
    Prometheus trigger without a serverAddress gets the platform's. Without a server nothing changes: validation
    then asks for a trigger, and A1 warns about an empty serverAddress."""
    scaling = spec.autoscaling
    if scaling is None or not server:
        return spec, []
    if scaling.prometheus is None and scaling.cloudwatch is None and scaling.target is None:
        trigger = PrometheusTrigger(query=queue_query(spec), target_value=DEFAULT_QUEUE_TARGET, server_address=server)
        change = Change(
            f"{path}.autoscaling.prometheus",
            None,
            trigger.model_dump(by_alias=True),
            A1,
            "unset: the engine's queue of the endpoint's model through platform.prometheusServerAddress; AWS/SageMaker Invocations never counts the ALB traffic the endpoint is served by",
        )
    elif scaling.prometheus is not None and not scaling.prometheus.server_address:
        trigger = scaling.prometheus.model_copy(update={"server_address": server})
        change = Change(
            f"{path}.autoscaling.prometheus.serverAddress", "", server, A1, "empty: platform.prometheusServerAddress"
        )
    else:
        return spec, []
    return spec.model_copy(update={"autoscaling": scaling.model_copy(update={"prometheus": trigger})}), [change]


def default_changes(spec: EndpointSpec, endpoint_name: str, path: str) -> list[Change]:
    """The CloudWatch trigger keys a hyperpod endpoint leaves unset and the stack fills in, for the plan's change log."""
    cw = spec.autoscaling.cloudwatch if spec.autoscaling else None
    if cw is None:
        return []
    where = f"{path}.autoscaling.cloudwatch"
    changes = []
    if cw.statistic is None:
        changes.append(
            Change(
                f"{where}.statistic",
                None,
                statistic(cw),
                A1,
                "unset: Sum for count metrics (upstream's trigger), Average otherwise",
            )
        )
    dims = dimensions(cw, endpoint_name if spec.hyperpod.sagemaker_endpoint else None)
    if cw.dimensions is None and dims:
        changes.append(
            Change(
                f"{where}.dimensions",
                None,
                dims,
                A1,
                "unset: the SageMaker endpoint the operator registers, variant AllTraffic (upstream's trigger)",
            )
        )
    return changes


def check_spec(spec: EndpointSpec, endpoint_name: str, path: str) -> list[Problem]:
    """A1 on a hyperpod endpoint's typed triggers. `endpoint_name` is the name the operator registers."""
    scaling = spec.autoscaling
    if scaling is None:
        return []
    problems: list[Problem] = []
    cw = scaling.cloudwatch
    if cw is not None:
        registered = endpoint_name if spec.hyperpod.sagemaker_endpoint else None
        dims = dimensions(cw, registered)
        where = f"{path}.autoscaling.cloudwatch"
        problems += _check_cloudwatch(
            cw.namespace,
            cw.metric_name,
            dims,
            registered,
            where,
            "dimensions" if cw.dimensions is not None else None,
            "hyperpod.sagemakerEndpoint",
        )
    if scaling.prometheus is not None:
        problems += _check_prometheus(scaling.prometheus.query, spec.engine, f"{path}.autoscaling.prometheus.query")
        problems += _check_server(
            scaling.prometheus.server_address,
            f"{path}.autoscaling.prometheus.serverAddress",
            "platform.prometheusServerAddress (or this serverAddress)",
        )
    return problems


def check_pods_metric(spec: EndpointSpec, path: str) -> list[Problem]:
    """A1 on the kubernetes backend's HPA metric: a per-pod metric of the other engine matches no series."""
    metric = spec.autoscaling.pods_metric if spec.autoscaling else None
    return _check_prometheus(metric.name, spec.engine, f"{path}.autoscaling.podsMetric.name") if metric else []


def check_manifest(spec: dict[str, Any], engine: str | None) -> list[Problem]:
    """A1 on an InferenceEndpointConfig's `spec.autoScalingSpec`, as manifest field paths."""
    scaling = spec.get("autoScalingSpec") or {}
    registered = spec.get("endpointName") or None
    problems: list[Problem] = []
    triggers = [("spec.autoScalingSpec.cloudWatchTrigger", scaling.get("cloudWatchTrigger"))]
    triggers += [
        (f"spec.autoScalingSpec.cloudWatchTriggerList[{i}]", t)
        for i, t in enumerate(scaling.get("cloudWatchTriggerList") or [])
    ]
    for where, trigger in triggers:
        if not isinstance(trigger, dict):
            continue
        dims = {d.get("name"): d.get("value") for d in trigger.get("dimensions") or [] if isinstance(d, dict)}
        problems += _check_cloudwatch(
            trigger.get("namespace"),
            trigger.get("metricName"),
            dims,
            registered,
            where,
            "dimensions",
            "spec.endpointName",
        )
    proms = [("spec.autoScalingSpec.prometheusTrigger", scaling.get("prometheusTrigger"))]
    proms += [
        (f"spec.autoScalingSpec.prometheusTriggerList[{i}]", t)
        for i, t in enumerate(scaling.get("prometheusTriggerList") or [])
    ]
    for where, trigger in proms:
        if isinstance(trigger, dict) and isinstance(trigger.get("query"), str) and engine:
            problems += _check_prometheus(trigger["query"], engine, f"{where}.query")
        if isinstance(trigger, dict):
            problems += _check_server(trigger.get("serverAddress"), f"{where}.serverAddress", "serverAddress")
    return problems


def _check_cloudwatch(
    namespace: Any, metric: Any, dims: dict, registered: str | None, where: str, dims_key: str | None, endpoint_key: str
) -> list[Problem]:
    if namespace != SAGEMAKER_NAMESPACE:
        return []  # a custom namespace may publish without dimensions: not judged
    use_default = f"use metricName {DEFAULT_METRIC} with dimensions EndpointName and VariantName (unset: filled in), or a prometheus trigger on the engine's queue metric"
    if metric in ASYNC_ONLY_METRICS:
        return [
            Problem(
                f"{where}.metricName",
                metric,
                A1,
                "an asynchronous-inference metric: the operator registers a real-time endpoint, which never publishes it, so KEDA gets no datapoints",
                use_default,
            )
        ]
    if not registered:
        return [
            Problem(
                f"{where}.namespace",
                namespace,
                A1,
                f"no SageMaker endpoint is registered ({endpoint_key} is off), so AWS/SageMaker has no metric for this endpoint and KEDA gets no datapoints (and with one it would count InvokeEndpoint calls only, never the ALB's traffic)",
                "scale with a prometheus trigger on the engine's queue metric (with platform.prometheusServerAddress set and no trigger, the default)",
            )
        ]
    dims_path = f"{where}.{dims_key}" if dims_key else where
    if not dims:
        return [
            Problem(
                dims_path,
                dims,
                A1,
                "AWS/SageMaker endpoint metrics carry EndpointName and VariantName; a query without them matches no datapoint",
                f"set dimensions {{EndpointName: {registered}, VariantName: {DEFAULT_VARIANT}}}, or leave them unset",
            )
        ]
    problems: list[Problem] = []
    if dims.get("EndpointName") != registered:
        problems.append(
            Problem(
                f"{dims_path}.EndpointName",
                dims.get("EndpointName"),
                A1,
                f"not the endpoint the operator registers ({registered}), so KEDA reads another endpoint's metric or none",
                f"set EndpointName: {registered}, or leave dimensions unset",
            )
        )
    if "VariantName" not in dims:
        problems.append(
            Problem(
                f"{dims_path}.VariantName",
                None,
                A1,
                "AWS/SageMaker endpoint metrics carry VariantName; a query without it matches no datapoint",
                f"add VariantName: {DEFAULT_VARIANT}",
            )
        )
    elif dims["VariantName"] != DEFAULT_VARIANT:
        problems.append(
            Problem(
                f"{dims_path}.VariantName",
                dims["VariantName"],
                A1,
                f"the upstream samples' variant is {DEFAULT_VARIANT}; another name matches no datapoint unless the operator uses it",
                f"use VariantName: {DEFAULT_VARIANT}",
                severity="warning",
            )
        )
    if not problems:
        problems.append(
            Problem(
                f"{where}.metricName",
                metric,
                A1,
                "AWS/SageMaker counts only requests sent through the SageMaker endpoint (InvokeEndpoint); requests to the endpoint's ALB URL never move it, so KEDA does not scale on that traffic",
                "scale on the engine's queue: a prometheus trigger (with platform.prometheusServerAddress set and no trigger, the default), or send every request through InvokeEndpoint",
                severity="warning",
            )
        )
    return problems


def _check_server(address: Any, where: str, key: str) -> list[Problem]:
    if address:
        return []
    return [
        Problem(
            where,
            address or "",
            A1,
            "no Prometheus server: the stack installs none, and what the HyperPod operator queries with an empty serverAddress is not documented (AWS's autoscaling page calls it required), so KEDA may get no datapoints",
            f"set {key} to the Amazon Managed Service for Prometheus workspace that holds the engine's metrics",
            severity="warning",
        )
    ]


def _check_prometheus(query: str, engine: str, where: str) -> list[Problem]:
    others = sorted({m.group(1) for m in _ENGINE_METRIC.finditer(query)} - {engine})
    if not others or engine not in QUEUE_METRIC:
        return []
    return [
        Problem(
            where,
            query,
            A1,
            f"queries {others[0]} metrics but the engine is {engine}, whose metrics are {engine}:*; the query matches no series",
            f"query the engine's own metric, e.g. sum({QUEUE_METRIC[engine]})",
        )
    ]
