"""The offline plan of a HyperPod stack per new operator field: the rendered InferenceEndpointConfig passes the CRD's
schema (aws/sagemaker-hyperpod-cli@011ca927 .../crd/inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml),
and the fields the stack refuses stop the plan with one line. The stack is the dev stack with its endpoints replaced
and its instance groups derived from them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.rules import ConfigError
from stacks import plan as plan_cmd
from tests.example_stacks import user_values

SOURCE = {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "m/"}
QWEN = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "modelSource": SOURCE,
    "apiKey": True,
    "engineArgs": {"maxModelLen": 8192},
}
LLAMA_70B = {
    "name": "llama70",
    "model": "meta-llama/Llama-3.3-70B-Instruct",
    "engine": "vllm",
    "modelSource": SOURCE,
    "apiKey": True,
    "instanceType": "ml.p5.48xlarge",
    "engineArgs": {"tensorParallelSize": 8, "maxModelLen": 16384},
    "load": {"peakRequestsPerSecond": 4, "workload": "N(6000,500)/(512,64)"},
}

MODES = {
    "instanceTypes": {**QWEN, "hyperpod": {"instanceTypes": ["ml.g6e.12xlarge", "ml.g5.12xlarge"]}},
    "requestLimits": {
        **QWEN,
        "instanceType": "ml.g5.12xlarge",
        "hyperpod": {"requestLimits": {"maxConcurrentRequests": 32, "maxQueueSize": 8}},
    },
    "pdSpec": {
        **LLAMA_70B,
        "hyperpod": {
            "intelligentRouting": True,
            "routingStrategy": "roundrobin",
            "pdSpec": {
                "prefill": {"replicas": 2},
                "decode": {
                    "replicas": 1,
                    "autoscaling": {
                        "minReplicas": 1,
                        "maxReplicas": 2,
                        "prometheus": {"query": "sum(vllm:num_requests_waiting)", "targetValue": 8},
                    },
                },
            },
        },
    },
}


def values_with(endpoint: dict[str, Any]) -> dict[str, Any]:
    values = user_values("dev")
    project = plan_cmd.project_name()
    cluster = {k: v for k, v in values[f"{project}:cluster"].items() if k != "instanceGroups"}
    return {**values, f"{project}:cluster": cluster, f"{project}:endpoints": [endpoint]}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_each_new_field_plans_and_its_object_passes_the_crd_schema(mode, crd_dir):
    plan = plan_cmd.build_plan_from_values("dev", values_with(MODES[mode]), crd_dir=str(crd_dir))
    (obj,) = [o for o in plan.objects if o.kind == "InferenceEndpointConfig"]
    assert obj.schema is not None and obj.schema.status == "passed", obj.schema.errors if obj.schema else None
    assert obj.errors == [] and not plan.failed
    spec = obj.manifest["spec"]
    key = {"instanceTypes": ("instanceTypes",), "requestLimits": ("worker", "requestLimits"), "pdSpec": ("pdSpec",)}[
        mode
    ]
    here = spec
    for part in key:
        here = here[part]
    assert here


@pytest.mark.parametrize(
    "key, value",
    [
        ("nodeAffinity", {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}),
        ("dnsConfig", {"hostedZoneId": "Z0123456789ABCDEFGHIJ"}),
    ],
)
def test_node_affinity_and_dns_config_stop_the_plan_with_one_line(key, value, crd_dir):
    with pytest.raises(ConfigError) as info:
        plan_cmd.build_plan_from_values(
            "dev", values_with({**MODES["requestLimits"], key: value}), crd_dir=str(crd_dir)
        )
    (problem,) = info.value.problems
    assert (problem.path, problem.rule) == (f"endpoints[0].{key}", "CONFIG") and "\n" not in str(problem)


def test_c1_a_routed_keyed_endpoint_with_a_load_plans_without_copying_the_key(crd_dir):
    # The router gets the key as a plain value, a Pulumi output in the object (G9); the C1 annotation once deep-copied
    # the object and the plan crashed with "__getstate__ can only be called during serialization".
    endpoint = {
        **QWEN,
        "instanceType": "ml.g5.12xlarge",
        "intelligentRouting": True,
        "load": {"peakRequestsPerSecond": 4, "workload": "D(100,100)"},
    }
    plan = plan_cmd.build_plan_from_values("dev", values_with(endpoint), crd_dir=str(crd_dir))
    (obj,) = [o for o in plan.objects if o.kind == "InferenceEndpointConfig"]
    terms = json.loads(obj.manifest["metadata"]["annotations"]["llm-serving.io/capacity-contract"])
    assert (terms["peakRequestsPerSecond"], terms["headroom"]) == (4.0, 0.2)
    assert obj.schema is not None and obj.schema.status == "passed"
