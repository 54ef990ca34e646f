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
- engine queue metrics: vLLM `vllm:num_requests_waiting` (https://docs.vllm.ai/en/stable/usage/metrics/), SGLang
  `sglang:num_queue_reqs` (https://docs.sglang.io/references/production_metrics.html); a query on the other
  engine's metric matches no series.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .catalog import A1
from .problems import Change, Problem
from .spec import CloudWatchTrigger, EndpointSpec

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
DEFAULT_METRIC = "Invocations"
DEFAULT_VARIANT = "AllTraffic"  # the upstream samples' variant name
ASYNC_ONLY_METRICS = frozenset({"ApproximateBacklogSize", "ApproximateBacklogSizePerInstance", "ApproximateAgeOfOldestRequest", "HasBacklogWithoutCapacity"})
# Count metrics whose valid statistic is Sum (SageMaker's CloudWatch metrics table); the sample uses Sum.
SUM_METRICS = frozenset({"Invocations", "InvocationsPerInstance", "Invocation4XXErrors", "Invocation5XXErrors"})
QUEUE_METRIC = {"vllm": "vllm:num_requests_waiting", "sglang": "sglang:num_queue_reqs"}
# Seconds of CloudWatch data KEDA's trigger reads per query (`cloudWatchTrigger.metricCollectionPeriod`): the CRD's
# default (aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
# inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml, `default: 300`), written explicitly so that a
# target derived from a rate (rule C1) and the period the operator uses are the same number.
CLOUDWATCH_PERIOD_SECONDS = 300
_ENGINE_METRIC = re.compile(r"\b(vllm|sglang):[a-zA-Z_]")


def statistic(cw: CloudWatchTrigger) -> str:
    """`statistic`, or unset: Sum for the count metrics, Average for the others."""
    return cw.statistic or ("Sum" if cw.metric_name in SUM_METRICS else "Average")


def dimensions(cw: CloudWatchTrigger, endpoint_name: Optional[str]) -> dict[str, str]:
    """`dimensions`, or unset in AWS/SageMaker: the endpoint the operator registers, variant AllTraffic."""
    if cw.dimensions is not None:
        return dict(cw.dimensions)
    if cw.namespace == SAGEMAKER_NAMESPACE and endpoint_name:
        return {"EndpointName": endpoint_name, "VariantName": DEFAULT_VARIANT}
    return {}


def default_changes(spec: EndpointSpec, endpoint_name: str, path: str) -> list[Change]:
    """The CloudWatch trigger keys a hyperpod endpoint leaves unset and the stack fills in, for the plan's change log."""
    cw = spec.autoscaling.cloudwatch if spec.autoscaling else None
    if cw is None:
        return []
    where = f"{path}.autoscaling.cloudwatch"
    changes = []
    if cw.statistic is None:
        changes.append(Change(f"{where}.statistic", None, statistic(cw), A1, "unset: Sum for count metrics (upstream's trigger), Average otherwise"))
    dims = dimensions(cw, endpoint_name if spec.sagemaker_endpoint else None)
    if cw.dimensions is None and dims:
        changes.append(Change(f"{where}.dimensions", None, dims, A1, "unset: the SageMaker endpoint the operator registers, variant AllTraffic (upstream's trigger)"))
    return changes


def check_spec(spec: EndpointSpec, endpoint_name: str, path: str) -> list[Problem]:
    """A1 on a hyperpod endpoint's typed triggers. `endpoint_name` is the name the operator registers."""
    scaling = spec.autoscaling
    if scaling is None:
        return []
    problems: list[Problem] = []
    cw = scaling.cloudwatch
    if cw is not None:
        registered = endpoint_name if spec.sagemaker_endpoint else None
        dims = dimensions(cw, registered)
        where = f"{path}.autoscaling.cloudwatch"
        problems += _check_cloudwatch(cw.namespace, cw.metric_name, dims, registered, where, "dimensions" if cw.dimensions is not None else None, "sagemakerEndpoint")
    if scaling.prometheus is not None:
        problems += _check_prometheus(scaling.prometheus.query, spec.engine, f"{path}.autoscaling.prometheus.query")
    return problems


def check_pods_metric(spec: EndpointSpec, path: str) -> list[Problem]:
    """A1 on the kubernetes backend's HPA metric: a per-pod metric of the other engine matches no series."""
    metric = spec.autoscaling.pods_metric if spec.autoscaling else None
    return _check_prometheus(metric.name, spec.engine, f"{path}.autoscaling.podsMetric.name") if metric else []


def check_manifest(spec: dict[str, Any], engine: Optional[str]) -> list[Problem]:
    """A1 on an InferenceEndpointConfig's `spec.autoScalingSpec`, as manifest field paths."""
    scaling = spec.get("autoScalingSpec") or {}
    registered = spec.get("endpointName") or None
    problems: list[Problem] = []
    triggers = [("spec.autoScalingSpec.cloudWatchTrigger", scaling.get("cloudWatchTrigger"))]
    triggers += [(f"spec.autoScalingSpec.cloudWatchTriggerList[{i}]", t) for i, t in enumerate(scaling.get("cloudWatchTriggerList") or [])]
    for where, trigger in triggers:
        if not isinstance(trigger, dict):
            continue
        dims = {d.get("name"): d.get("value") for d in trigger.get("dimensions") or [] if isinstance(d, dict)}
        problems += _check_cloudwatch(trigger.get("namespace"), trigger.get("metricName"), dims, registered, where, "dimensions", "spec.endpointName")
    proms = [("spec.autoScalingSpec.prometheusTrigger", scaling.get("prometheusTrigger"))]
    proms += [(f"spec.autoScalingSpec.prometheusTriggerList[{i}]", t) for i, t in enumerate(scaling.get("prometheusTriggerList") or [])]
    for where, trigger in proms:
        if isinstance(trigger, dict) and isinstance(trigger.get("query"), str) and engine:
            problems += _check_prometheus(trigger["query"], engine, f"{where}.query")
    return problems


def _check_cloudwatch(namespace: Any, metric: Any, dims: dict, registered: Optional[str], where: str, dims_key: Optional[str], endpoint_key: str) -> list[Problem]:
    if namespace != SAGEMAKER_NAMESPACE:
        return []  # a custom namespace may publish without dimensions: not judged
    use_default = f"use metricName {DEFAULT_METRIC} with dimensions EndpointName and VariantName (unset: filled in), or a prometheus trigger on the engine's queue metric"
    if metric in ASYNC_ONLY_METRICS:
        return [Problem(f"{where}.metricName", metric, A1, "an asynchronous-inference metric: the operator registers a real-time endpoint, which never publishes it, so KEDA gets no datapoints", use_default)]
    if not registered:
        return [Problem(f"{where}.namespace", namespace, A1, f"no SageMaker endpoint is registered ({endpoint_key} is off), so AWS/SageMaker has no metric for this endpoint and KEDA gets no datapoints", f"set {endpoint_key} on, or scale with a prometheus trigger on the engine's queue metric")]
    dims_path = f"{where}.{dims_key}" if dims_key else where
    if not dims:
        return [Problem(dims_path, dims, A1, "AWS/SageMaker endpoint metrics carry EndpointName and VariantName; a query without them matches no datapoint", f"set dimensions {{EndpointName: {registered}, VariantName: {DEFAULT_VARIANT}}}, or leave them unset")]
    problems: list[Problem] = []
    if dims.get("EndpointName") != registered:
        problems.append(Problem(f"{dims_path}.EndpointName", dims.get("EndpointName"), A1, f"not the endpoint the operator registers ({registered}), so KEDA reads another endpoint's metric or none", f"set EndpointName: {registered}, or leave dimensions unset"))
    if "VariantName" not in dims:
        problems.append(Problem(f"{dims_path}.VariantName", None, A1, "AWS/SageMaker endpoint metrics carry VariantName; a query without it matches no datapoint", f"add VariantName: {DEFAULT_VARIANT}"))
    elif dims["VariantName"] != DEFAULT_VARIANT:
        problems.append(Problem(f"{dims_path}.VariantName", dims["VariantName"], A1, f"the upstream samples' variant is {DEFAULT_VARIANT}; another name matches no datapoint unless the operator uses it", f"use VariantName: {DEFAULT_VARIANT}", severity="warning"))
    return problems


def _check_prometheus(query: str, engine: str, where: str) -> list[Problem]:
    others = sorted({m.group(1) for m in _ENGINE_METRIC.finditer(query)} - {engine})
    if not others or engine not in QUEUE_METRIC:
        return []
    return [Problem(where, query, A1, f"queries {others[0]} metrics but the engine is {engine}, whose metrics are {engine}:*; the query matches no series", f"query the engine's own metric, e.g. sum({QUEUE_METRIC[engine]})")]
