"""A1 (issue 16 finding 4): HyperPod autoscaling triggers read a metric that exists for the endpoint. dev's
trigger was `ApproximateBacklogSizePerInstance` (asynchronous inference only) with no dimensions, so KEDA got
no datapoints. Upstream's trigger (AWS docs sagemaker-hyperpod-model-deployment-autoscaling; aws-samples
sagemaker-genai-hosting-examples deploy_jumpstart_inference_operator.yaml) is `Invocations`, `Sum`, with
`EndpointName` and `VariantName: AllTraffic`."""

from __future__ import annotations

import pytest

from components.rules import autoscaling, manifests, policy_catalog
from components.rules.backends import hyperpod
from components.rules.spec import EndpointSpec
from components.rules.validate import validate_endpoint

BASE = {
    "name": "llama-3-1-8b-vllm",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "engine": "vllm",
    "instance_type": "ml.g5.12xlarge",
    "model_source": {"type": "s3", "bucket": "my-models", "path": "llama31_8b/"},
}


def _ep(scaling: dict, **kw) -> EndpointSpec:
    return EndpointSpec(**{**BASE, **kw, "autoscaling": {"minReplicas": 1, "maxReplicas": 3, **scaling}})


def _a1(spec: EndpointSpec) -> list[tuple[str, str]]:
    return [(p.path, p.severity) for p in validate_endpoint(spec, "endpoints[1]") if p.rule == "A1"]


def test_a1_devs_async_backlog_metric_without_dimensions_is_refused():
    problems = [p for p in validate_endpoint(_ep({"cloudwatch": {"metricName": "ApproximateBacklogSizePerInstance", "targetValue": 8}}), "endpoints[1]") if p.rule == "A1"]
    assert [(p.path, p.value) for p in problems] == [("endpoints[1].autoscaling.cloudwatch.metricName", "ApproximateBacklogSizePerInstance")]
    assert "asynchronous-inference metric" in problems[0].message and "Invocations" in problems[0].fix


def test_a1_unset_trigger_keys_render_upstreams_invocations_trigger():
    spec = _ep({"cloudwatch": {"targetValue": 10}})
    assert _a1(spec) == []
    trigger = hyperpod.render(spec, api_key="sk-test")["spec"]["autoScalingSpec"]["cloudWatchTrigger"]
    assert trigger == {
        "name": "llama-3-1-8b-vllm-cloudwatch",
        "metricName": "Invocations",
        "namespace": "AWS/SageMaker",
        "targetValue": 10,
        "metricStat": "Sum",
        "metricCollectionPeriod": 300,  # the CRD's default, written out: C1's derived targets count over it
        "dimensions": [{"name": "EndpointName", "value": "llama-3-1-8b-vllm"}, {"name": "VariantName", "value": "AllTraffic"}],
    }
    assert hyperpod.render(spec)["spec"]["endpointName"] == "llama-3-1-8b-vllm"  # the name the dimension selects


@pytest.mark.parametrize(
    "cloudwatch, extra, path, severity",
    [
        # No SageMaker endpoint registered: AWS/SageMaker has no metric for it.
        ({"metricName": "Invocations", "targetValue": 10}, {"sagemaker_endpoint": False}, "endpoints[1].autoscaling.cloudwatch.namespace", "error"),
        ({"metricName": "Invocations", "targetValue": 10, "dimensions": {}}, {}, "endpoints[1].autoscaling.cloudwatch.dimensions", "error"),
        ({"targetValue": 10, "dimensions": {"EndpointName": "qwen3-8b", "VariantName": "AllTraffic"}}, {}, "endpoints[1].autoscaling.cloudwatch.dimensions.EndpointName", "error"),
        ({"targetValue": 10, "dimensions": {"EndpointName": "llama-3-1-8b-vllm"}}, {}, "endpoints[1].autoscaling.cloudwatch.dimensions.VariantName", "error"),
        ({"targetValue": 10, "dimensions": {"EndpointName": "llama-3-1-8b-vllm", "VariantName": "blue"}}, {}, "endpoints[1].autoscaling.cloudwatch.dimensions.VariantName", "warning"),
    ],
)
def test_a1_cloudwatch_trigger_that_matches_no_datapoint(cloudwatch, extra, path, severity):
    assert _a1(_ep({"cloudwatch": cloudwatch}, **extra)) == [(path, severity)]


def test_a1_custom_namespace_without_dimensions_is_not_judged():
    assert _a1(_ep({"cloudwatch": {"metricName": "QueueDepth", "namespace": "MyApp", "targetValue": 5}})) == []


def test_a1_prometheus_query_on_the_other_engines_queue_metric():
    # vLLM exports vllm:num_requests_waiting, SGLang sglang:num_queue_reqs (their metrics docs).
    wrong = _ep({"prometheus": {"query": 'sum(vllm:num_requests_waiting{namespace="llm"})', "targetValue": 8}}, engine="sglang", kv_cache=None)
    assert _a1(wrong) == [("endpoints[1].autoscaling.prometheus.query", "error")]
    right = _ep({"prometheus": {"query": 'sum(sglang:num_queue_reqs{namespace="llm"})', "targetValue": 8}}, engine="sglang")
    assert _a1(right) == []


def _iec(trigger: dict, endpoint_name: str | None = "llama-3-1-8b-vllm") -> dict:
    obj = hyperpod.render(_ep({"cloudwatch": {"targetValue": 10}}), api_key="sk-test")
    obj["spec"]["autoScalingSpec"]["cloudWatchTrigger"] = trigger
    if endpoint_name is None:
        obj["spec"].pop("endpointName")
    return obj


def test_a1_policy_refuses_a_hand_written_trigger_without_datapoints():
    policy = policy_catalog.BY_NAME["a1-autoscaling-trigger-gets-datapoints"]
    dev_before = {"name": "x", "metricName": "ApproximateBacklogSizePerInstance", "namespace": "AWS/SageMaker", "targetValue": 8, "metricStat": "Average", "dimensions": []}
    found = [p for p in manifests.check(_iec(dev_before)) if p.rule == "A1"]
    assert [p.path for p in found] == ["spec.autoScalingSpec.cloudWatchTrigger.metricName"]
    no_dims = {**dev_before, "metricName": "Invocations"}
    assert [p.path for p in manifests.check(_iec(no_dims)) if p.rule == "A1"] == ["spec.autoScalingSpec.cloudWatchTrigger.dimensions"]
    # The upstream sample's trigger, on an object that registers the endpoint, passes.
    upstream = {**no_dims, "metricStat": "Sum", "dimensions": [{"name": "EndpointName", "value": "llama-3-1-8b-vllm"}, {"name": "VariantName", "value": "AllTraffic"}]}
    assert [p for p in manifests.check(_iec(upstream)) if p.rule == "A1"] == []
    assert [p.path for p in manifests.check(_iec(upstream, endpoint_name=None)) if p.rule == "A1"] == ["spec.autoScalingSpec.cloudWatchTrigger.namespace"]
    assert policy.rule == "A1" and policy.enforcement == "mandatory"


def test_a1_filled_in_trigger_keys_are_announced_in_the_change_log():
    changes = autoscaling.default_changes(_ep({"cloudwatch": {"targetValue": 300}}), "llama-3-1-8b-vllm", "endpoints[1]")
    assert [(c.path, c.old, c.new, c.rule) for c in changes] == [
        ("endpoints[1].autoscaling.cloudwatch.statistic", None, "Sum", "A1"),
        ("endpoints[1].autoscaling.cloudwatch.dimensions", None, {"EndpointName": "llama-3-1-8b-vllm", "VariantName": "AllTraffic"}, "A1"),
    ]
    explicit = _ep({"cloudwatch": {"targetValue": 300, "statistic": "Average", "dimensions": {"EndpointName": "llama-3-1-8b-vllm", "VariantName": "AllTraffic"}}})
    assert autoscaling.default_changes(explicit, "llama-3-1-8b-vllm", "endpoints[1]") == []


def test_a1_kubernetes_hpa_pods_metric_of_the_other_engine():
    # The kubernetes backend's HPA default is the engine's own queue metric; a named one must be too.
    wrong = _ep({"podsMetric": {"name": "vllm:num_requests_waiting", "targetAverageValue": 8}}, engine="sglang", backend="kubernetes")
    assert _a1(wrong) == [("endpoints[1].autoscaling.podsMetric.name", "error")]
    right = _ep({"podsMetric": {"name": "sglang:num_queue_reqs", "targetAverageValue": 8}}, engine="sglang", backend="kubernetes")
    assert _a1(right) == []
