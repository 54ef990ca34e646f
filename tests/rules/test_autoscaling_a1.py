"""A1: HyperPod autoscaling triggers read a metric that exists for the endpoint. dev's
trigger was `ApproximateBacklogSizePerInstance` (asynchronous inference only) with no dimensions, so KEDA got
no datapoints. Upstream's trigger (AWS docs sagemaker-hyperpod-model-deployment-autoscaling; aws-samples
sagemaker-genai-hosting-examples deploy_jumpstart_inference_operator.yaml) is `Invocations`, `Sum`, with
`EndpointName` and `VariantName: AllTraffic`."""

from __future__ import annotations

import pytest

from components.rules import ConfigError, autoscaling, manifests, policy_catalog
from components.rules.backends import hyperpod
from components.rules.spec import EndpointSpec
from components.rules.validate import validate_endpoint

AMP = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234abcd-5678"

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
    problems = [
        p
        for p in validate_endpoint(
            _ep({"cloudwatch": {"metricName": "ApproximateBacklogSizePerInstance", "targetValue": 8}}), "endpoints[1]"
        )
        if p.rule == "A1"
    ]
    assert [(p.path, p.value) for p in problems] == [
        ("endpoints[1].autoscaling.cloudwatch.metricName", "ApproximateBacklogSizePerInstance")
    ]
    assert "asynchronous-inference metric" in problems[0].message and "Invocations" in problems[0].fix


def test_a1_unset_trigger_keys_render_upstreams_invocations_trigger():
    spec = _ep({"cloudwatch": {"targetValue": 10}})
    assert _a1(spec) == [("endpoints[1].autoscaling.cloudwatch.metricName", "warning")]  # InvokeEndpoint traffic only
    trigger = hyperpod.endpoint_config(spec, api_key="sk-test")["spec"]["autoScalingSpec"]["cloudWatchTrigger"]
    assert trigger == {
        "name": "llama-3-1-8b-vllm-cloudwatch",
        "metricName": "Invocations",
        "namespace": "AWS/SageMaker",
        "targetValue": 10,
        "metricStat": "Sum",
        "metricCollectionPeriod": 300,  # the CRD's default, written out: C1's derived targets count over it
        "dimensions": [
            {"name": "EndpointName", "value": "llama-3-1-8b-vllm"},
            {"name": "VariantName", "value": "AllTraffic"},
        ],
    }
    assert (
        hyperpod.endpoint_config(spec)["spec"]["endpointName"] == "llama-3-1-8b-vllm"
    )  # the name the dimension selects


@pytest.mark.parametrize(
    "cloudwatch, extra, path, severity",
    [
        # No SageMaker endpoint registered: AWS/SageMaker has no metric for it.
        (
            {"metricName": "Invocations", "targetValue": 10},
            {"sagemaker_endpoint": False},
            "endpoints[1].autoscaling.cloudwatch.namespace",
            "error",
        ),
        (
            {"metricName": "Invocations", "targetValue": 10, "dimensions": {}},
            {},
            "endpoints[1].autoscaling.cloudwatch.dimensions",
            "error",
        ),
        (
            {"targetValue": 10, "dimensions": {"EndpointName": "qwen3-8b", "VariantName": "AllTraffic"}},
            {},
            "endpoints[1].autoscaling.cloudwatch.dimensions.EndpointName",
            "error",
        ),
        (
            {"targetValue": 10, "dimensions": {"EndpointName": "llama-3-1-8b-vllm"}},
            {},
            "endpoints[1].autoscaling.cloudwatch.dimensions.VariantName",
            "error",
        ),
        (
            {"targetValue": 10, "dimensions": {"EndpointName": "llama-3-1-8b-vllm", "VariantName": "blue"}},
            {},
            "endpoints[1].autoscaling.cloudwatch.dimensions.VariantName",
            "warning",
        ),
    ],
)
def test_a1_cloudwatch_trigger_that_matches_no_datapoint(cloudwatch, extra, path, severity):
    assert _a1(_ep({"cloudwatch": cloudwatch}, **extra)) == [(path, severity)]


def test_a1_custom_namespace_without_dimensions_is_not_judged():
    assert _a1(_ep({"cloudwatch": {"metricName": "QueueDepth", "namespace": "MyApp", "targetValue": 5}})) == []


def test_a1_prometheus_query_on_the_other_engines_queue_metric():
    # vLLM exports vllm:num_requests_waiting, SGLang sglang:num_queue_reqs (sources: the test of the default below).
    wrong = _ep(
        {
            "prometheus": {
                "query": 'sum(vllm:num_requests_waiting{namespace="llm"})',
                "targetValue": 8,
                "serverAddress": AMP,
            }
        },
        engine="sglang",
        kv_cache=None,
    )
    assert _a1(wrong) == [("endpoints[1].autoscaling.prometheus.query", "error")]
    right = _ep(
        {
            "prometheus": {
                "query": 'sum(sglang:num_queue_reqs{namespace="llm"})',
                "targetValue": 8,
                "serverAddress": AMP,
            }
        },
        engine="sglang",
    )
    assert _a1(right) == []


def _iec(trigger: dict, endpoint_name: str | None = "llama-3-1-8b-vllm") -> dict:
    obj = hyperpod.endpoint_config(_ep({"cloudwatch": {"targetValue": 10}}), api_key="sk-test")
    obj["spec"]["autoScalingSpec"]["cloudWatchTrigger"] = trigger
    if endpoint_name is None:
        obj["spec"].pop("endpointName")
    return obj


def test_a1_policy_refuses_a_hand_written_trigger_without_datapoints():
    policy = policy_catalog.BY_NAME["a1-autoscaling-trigger-gets-datapoints"]
    dev_before = {
        "name": "x",
        "metricName": "ApproximateBacklogSizePerInstance",
        "namespace": "AWS/SageMaker",
        "targetValue": 8,
        "metricStat": "Average",
        "dimensions": [],
    }
    found = [p for p in manifests.check(_iec(dev_before)) if p.rule == "A1"]
    assert [p.path for p in found] == ["spec.autoScalingSpec.cloudWatchTrigger.metricName"]
    no_dims = {**dev_before, "metricName": "Invocations"}
    assert [p.path for p in manifests.check(_iec(no_dims)) if p.rule == "A1"] == [
        "spec.autoScalingSpec.cloudWatchTrigger.dimensions"
    ]
    # The upstream sample's trigger, on an object that registers the endpoint, passes.
    upstream = {
        **no_dims,
        "metricStat": "Sum",
        "dimensions": [
            {"name": "EndpointName", "value": "llama-3-1-8b-vllm"},
            {"name": "VariantName", "value": "AllTraffic"},
        ],
    }
    assert [(p.path, p.severity) for p in manifests.check(_iec(upstream)) if p.rule == "A1"] == [
        ("spec.autoScalingSpec.cloudWatchTrigger.metricName", "warning")
    ]
    assert [p.path for p in manifests.check(_iec(upstream, endpoint_name=None)) if p.rule == "A1"] == [
        "spec.autoScalingSpec.cloudWatchTrigger.namespace"
    ]
    assert policy.rule == "A1" and policy.enforcement == "mandatory"


def test_a1_filled_in_trigger_keys_are_announced_in_the_change_log():
    changes = autoscaling.default_changes(
        _ep({"cloudwatch": {"targetValue": 300}}), "llama-3-1-8b-vllm", "endpoints[1]"
    )
    assert [(c.path, c.old, c.new, c.rule) for c in changes] == [
        ("endpoints[1].autoscaling.cloudwatch.statistic", None, "Sum", "A1"),
        (
            "endpoints[1].autoscaling.cloudwatch.dimensions",
            None,
            {"EndpointName": "llama-3-1-8b-vllm", "VariantName": "AllTraffic"},
            "A1",
        ),
    ]
    explicit = _ep(
        {
            "cloudwatch": {
                "targetValue": 300,
                "statistic": "Average",
                "dimensions": {"EndpointName": "llama-3-1-8b-vllm", "VariantName": "AllTraffic"},
            }
        }
    )
    assert autoscaling.default_changes(explicit, "llama-3-1-8b-vllm", "endpoints[1]") == []


def test_a1_kubernetes_hpa_pods_metric_of_the_other_engine():
    # The kubernetes backend's HPA default is the engine's own queue metric; a named one must be too.
    wrong = _ep(
        {"podsMetric": {"name": "vllm:num_requests_waiting", "targetAverageValue": 8}},
        engine="sglang",
        backend="kubernetes",
    )
    assert _a1(wrong) == [("endpoints[1].autoscaling.podsMetric.name", "error")]
    right = _ep(
        {"podsMetric": {"name": "sglang:num_queue_reqs", "targetAverageValue": 8}},
        engine="sglang",
        backend="kubernetes",
    )
    assert _a1(right) == []


# ---------------------------------------------------------------- traffic through the ALB


def _parse(endpoint: dict, platform: dict | None = None):
    from stacks import config as stack_config

    values = {
        "cluster": {"mode": "hyperpod", "name": "ml-dev"},
        "endpoints": [endpoint],
        **({"platform": platform} if platform else {}),
    }
    return stack_config.parse(values, "us-east-1", "prod")


# Served through the operator's ALB (every hyperpod endpoint is; a publicAlb one through the stack's too).
ALB_ENDPOINT = {
    "name": "llama-3-1-8b-vllm",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "engine": "vllm",
    "instanceType": "ml.g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "path": "llama31_8b/"},
    "intelligentRouting": True,
    "autoscaling": {"minReplicas": 1, "maxReplicas": 3},
}


@pytest.mark.parametrize(
    "engine, extra, query",
    [
        ("vllm", {}, 'sum(vllm:num_requests_waiting{model_name="Llama-3.1-8B-Instruct"})'),
        (
            "sglang",
            {"intelligentRouting": False},
            'sum(sglang:num_queue_reqs{model_name="Llama-3.1-8B-Instruct",priority=""})',
        ),
    ],
)
def test_a1_alb_endpoint_defaults_to_the_engines_queue_through_the_platforms_prometheus(engine, extra, query):
    """AWS/SageMaker Invocations never counts traffic to the ALB, so the default trigger is the engine's queue. The
    metric names, read at the default images' tags: vllm-project/vllm@v0.11.0 vllm/v1/metrics/loggers.py (gauge
    `vllm:num_requests_waiting`, labelnames model_name, engine; model_name is the served model name) and
    sgl-project/sglang@v0.5.19 python/sglang/srt/observability/metrics_collector.py (gauge `sglang:num_queue_reqs`,
    labels model_name = served model name, engine_type, tp_rank, ...)."""
    cfg = _parse({**ALB_ENDPOINT, "engine": engine, **extra}, {"prometheusServerAddress": AMP})
    spec = cfg.endpoints[0]
    trigger = hyperpod.endpoint_config(spec, api_key="sk-test")["spec"]["autoScalingSpec"]["prometheusTrigger"]
    assert trigger == {"name": "llama-3-1-8b-vllm-prometheus", "query": query, "targetValue": 8, "serverAddress": AMP}
    assert "cloudWatchTrigger" not in hyperpod.endpoint_config(spec)["spec"]["autoScalingSpec"]
    (change,) = [c for c in cfg.changes if c.path == "endpoints[0].autoscaling.prometheus"]
    assert change.rule == "A1" and change.new == {"query": query, "targetValue": 8, "serverAddress": AMP}
    assert [w for w in cfg.warnings if w.rule == "A1"] == []


def test_a1_without_a_prometheus_server_there_is_no_default_trigger():
    # The stack installs no Prometheus: a default on an empty serverAddress would point at nothing.
    with pytest.raises(ConfigError) as err:
        _parse(ALB_ENDPOINT)
    (problem,) = [p for p in err.value.problems if p.path == "endpoints[0].autoscaling"]
    assert (
        "no Prometheus server (platform.prometheusServerAddress)" in problem.message
        and "set platform.prometheusServerAddress" in problem.fix
    )


def test_a1_invocations_counts_invoke_endpoint_only_so_it_warns_on_an_alb_endpoint():
    cfg = _parse(
        {
            **ALB_ENDPOINT,
            "autoscaling": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
            },
        }
    )
    (warning,) = [w for w in cfg.warnings if w.rule == "A1"]
    assert (warning.path, warning.value) == ("endpoints[0].autoscaling.cloudwatch.metricName", "Invocations")
    assert "InvokeEndpoint" in warning.message and "ALB" in warning.message and "prometheus" in warning.fix


def test_a1_invocations_without_a_sagemaker_endpoint_registration_is_refused():
    with pytest.raises(ConfigError) as err:
        _parse(
            {
                **ALB_ENDPOINT,
                "sagemakerEndpoint": False,
                "autoscaling": {
                    "minReplicas": 1,
                    "maxReplicas": 3,
                    "cloudwatch": {"metricName": "Invocations", "targetValue": 300},
                },
            }
        )
    (problem,) = [p for p in err.value.problems if p.rule == "A1"]
    assert (
        problem.path == "endpoints[0].autoscaling.cloudwatch.namespace"
        and "no SageMaker endpoint is registered" in problem.message
    )


def test_a1_a_prometheus_trigger_without_a_server_warns_and_takes_the_platforms():
    trigger = {"query": 'sum(vllm:num_requests_waiting{model_name="Llama-3.1-8B-Instruct"})', "targetValue": 4}
    alone = _parse({**ALB_ENDPOINT, "autoscaling": {"minReplicas": 1, "maxReplicas": 3, "prometheus": trigger}})
    assert [(w.path, w.value, w.severity) for w in alone.warnings if w.rule == "A1"] == [
        ("endpoints[0].autoscaling.prometheus.serverAddress", "", "warning")
    ]
    filled = _parse(
        {**ALB_ENDPOINT, "autoscaling": {"minReplicas": 1, "maxReplicas": 3, "prometheus": trigger}},
        {"prometheusServerAddress": AMP},
    )
    assert (
        filled.endpoints[0].autoscaling.prometheus.server_address == AMP
        and [w for w in filled.warnings if w.rule == "A1"] == []
    )
    assert [(c.path, c.old, c.new) for c in filled.changes if c.rule == "A1"] == [
        ("endpoints[0].autoscaling.prometheus.serverAddress", "", AMP)
    ]


def test_a1_server_address_must_be_what_the_crd_accepts():
    # CRD pattern: an AMP workspace URL without a trailing slash, or empty; the API server refuses anything else.
    with pytest.raises(ConfigError) as err:
        _parse(ALB_ENDPOINT, {"prometheusServerAddress": "http://prometheus.monitoring:9090"})
    assert [p.path for p in err.value.problems] == ["platform.prometheusServerAddress"]
    with pytest.raises(ConfigError):
        _parse(
            {
                **ALB_ENDPOINT,
                "autoscaling": {
                    "minReplicas": 1,
                    "maxReplicas": 3,
                    "prometheus": {"query": "x", "targetValue": 1, "serverAddress": AMP + "/"},
                },
            }
        )


def test_a1_policy_warns_about_a_hand_written_trigger_that_misses_alb_traffic():
    policy = policy_catalog.BY_NAME["a1-autoscaling-sees-alb-traffic"]
    obj = hyperpod.endpoint_config(
        _ep({"prometheus": {"query": "sum(vllm:num_requests_waiting)", "targetValue": 8}}), api_key="sk-test"
    )
    found = [p for p in manifests.check(obj) if p.rule == "A1"]
    assert [(p.path, p.severity) for p in found] == [
        ("spec.autoScalingSpec.prometheusTrigger.serverAddress", "warning")
    ]
    assert policy.enforcement == "advisory"
