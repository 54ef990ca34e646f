"""The stack-wide guardrail transform, called directly (the mock engine does not run transforms)."""

from __future__ import annotations

import pulumi

from components.rules.backends import hyperpod
from components.transforms import make_guardrail_transform

IEC = "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig"


def call(type_, props, opts=None):
    logs: list[str] = []
    transform = make_guardrail_transform(logs.append)
    result = transform(
        pulumi.ResourceTransformArgs(
            custom=True, type_=type_, name="hand-made", props=props, opts=opts or pulumi.ResourceOptions()
        )
    )
    return result, logs


def hand_written_endpoint() -> dict:
    """Declared by hand, outside the components: SGLang on the wrong port with the operator defaults."""
    return {
        "apiVersion": "inference.sagemaker.aws.amazon.com/v1",
        "kind": "InferenceEndpointConfig",
        "metadata": {"name": "Qwen3_4B", "namespace": "default"},
        "spec": {
            "modelName": "Qwen3-4B",
            "endpointName": "Qwen3-4B-Instruct-2507-2026-01-13-01-12",
            "instanceType": "ml.g5.8xlarge",
            "modelSourceConfig": {
                "modelSourceType": "s3",
                "s3Storage": {"bucketName": "b", "region": "us-east-1"},
                "modelLocation": "m/",
            },
            "worker": {
                "image": "lmsysorg/sglang:v0.5.19-cu129",
                "command": ["python3", "-m", "sglang.launch_server"],
                "args": ["--port", "8000", "--model-path", "/opt/ml/model"],
                "modelInvocationPort": {"containerPort": 30000},
                "modelVolumeMount": {"name": "m"},
                "resources": {},
                "probes": {"readinessProbe": {"httpGet": {"path": "/health", "port": 30000}, "timeoutSeconds": 1}},
            },
        },
    }


def test_transform_fixes_a_hand_declared_endpoint_and_logs_each_change():
    result, logs = call(IEC, hand_written_endpoint())
    assert result is not None
    spec = result.props["spec"]
    assert result.props["metadata"]["name"] == "qwen3-4b"  # G2
    assert spec["endpointName"] == "qwen3-4b-instruct-2507-2026-01-13-01-12"  # G2: capitals refused
    assert spec["metrics"]["modelMetrics"]["port"] == 30000  # G3
    assert spec["worker"]["probes"]["readinessProbe"]["timeoutSeconds"] == 5  # G4
    assert "--enable-metrics" in spec["worker"]["args"]  # G6
    assert spec["loadBalancer"]["healthCheckPath"] == "/health"  # G17
    for rule in ("G2", "G3", "G4", "G5", "G6", "G10", "G11", "G13", "G17", "G19"):
        assert any(f"[{rule}]" in line for line in logs), rule
    assert all(line.startswith("hand-made: ") for line in logs)


def test_transform_adds_replace_on_changes_for_immutable_fields():
    result, _ = call(IEC, hand_written_endpoint())
    assert result.opts.replace_on_changes == ["spec.intelligentRoutingSpec.enabled"]
    assert result.opts.delete_before_replace is True


def test_transform_leaves_component_built_objects_alone(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(engine="sglang"))
    props = {k: v for k, v in obj.items()}
    opts = pulumi.ResourceOptions(replace_on_changes=list(hyperpod.IMMUTABLE_FIELDS))
    result, logs = call(IEC, props, opts)
    assert result is None and logs == []


def test_transform_keeps_values_it_cannot_read_untouched(make_endpoint):
    sentinel = object()  # stands for an unresolved Output
    obj = hyperpod.endpoint_config(make_endpoint(apiKey=True, intelligentRouting=True), api_key=sentinel)
    result, _ = call(IEC, obj, pulumi.ResourceOptions(replace_on_changes=list(hyperpod.IMMUTABLE_FIELDS)))
    assert result is None
    obj["spec"]["worker"]["probes"]["readinessProbe"]["timeoutSeconds"] = 1
    result, _ = call(IEC, obj, pulumi.ResourceOptions(replace_on_changes=list(hyperpod.IMMUTABLE_FIELDS)))
    env = result.props["spec"]["worker"]["environmentVariables"]
    assert any(e.get("value") is sentinel for e in env)


def test_transform_fixes_a_gpu_deployment_rollout():
    props = {
        "metadata": {"name": "vllm"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "e",
                            "image": "vllm/vllm-openai",
                            "ports": [{"containerPort": 8000}],
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ]
                }
            }
        },
    }
    result, logs = call("kubernetes:apps/v1:Deployment", props)
    assert result.props["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    assert "apiVersion" not in result.props  # props keep their original shape
    assert any("[G4]" in line for line in logs)


def test_transform_ignores_other_resources():
    assert call("aws:s3/bucket:Bucket", {"bucket": "x"}) == (None, [])
    assert call("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "x"}}) == (None, [])
