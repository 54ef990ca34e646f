"""Every policy of the pack, called as CrossGuard calls it (hand-built ResourceValidationArgs /
StackValidationArgs): a failing case and a passing case each, named by rule ID. This file: the endpoint's
guardrails (G*, A1, B1, C1, D*); test_policy_cases_security.py: S*; test_policy_cases_platform.py: O*, T*, R*.
The incidents' exact values are in test_seed_mistakes.py."""

from __future__ import annotations

import pytest

from components.rules.policy_catalog import POLICIES
from tests.policies.policy_builders import k8s, render, run_policy
from tests.policies.policy_case_builders import (
    ROUTED,
    STATUS,
    Case,
    assert_fails_then_passes,
    contracted,
    dpd,
    ingress,
    mutate,
    ome_benchmark,
    public_ingress_with_status,
    secret,
    sized,
    stack_outputs,
    worker,
)
from tests.policies.test_policy_cases_platform import CASES as PLATFORM_CASES
from tests.policies.test_policy_cases_security import CASES as SECURITY_CASES

CASES: dict[str, Case] = {
    "g01-name-length": (
        "G1",
        lambda: [k8s(mutate(render(), lambda o: o["metadata"].update(name="a" * 51)))],
        lambda: [k8s(render("a" * 51))],
        None,
        None,
    ),
    "g02-name-format": (
        "G2",
        lambda: [k8s(mutate(render(sagemakerEndpoint=True), lambda o: o["spec"].update(endpointName="Qwen3-4B")))],
        lambda: [k8s(render(sagemakerEndpoint=True))],
        None,
        None,
    ),
    "g03-one-engine-port": (
        "G3",
        lambda: [k8s(mutate(render(), lambda o: o["spec"]["metrics"]["modelMetrics"].update(port=8080)))],
        lambda: [k8s(render())],
        None,
        None,
    ),
    "g04-probes-survive-model-load": (
        "G4",
        lambda: [k8s(mutate(render(), lambda o: worker(o)["probes"].pop("readinessProbe")))],
        lambda: [k8s(render())],
        None,
        None,
    ),
    "g05-served-model-name": (
        "G5",
        lambda: [k8s(mutate(render(), lambda o: worker(o).pop("command")))],
        lambda: [k8s(render())],
        None,
        None,
    ),
    "g06-sglang-metrics": (
        "G6",
        lambda: [k8s(mutate(render(engine="sglang"), lambda o: worker(o)["args"].remove("--enable-metrics")))],
        lambda: [k8s(render(engine="sglang"))],
        None,
        None,
    ),
    "g07-kv-cache": (
        "G7",
        lambda: [
            k8s(
                mutate(
                    render(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}),
                    lambda o: o["spec"]["modelSourceConfig"].update(prefetchEnabled=True),
                )
            )
        ],
        lambda: [k8s(render(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}))],
        None,
        None,
    ),
    "g21-routing-and-kv-cache-need-vllm": (
        "G21",
        lambda: [
            k8s(
                mutate(
                    render(engine="sglang"),
                    lambda o: o["spec"].update(
                        intelligentRoutingSpec={"enabled": True, "routingStrategy": "prefixaware"}
                    ),
                )
            )
        ],
        lambda: [k8s(render(intelligentRouting=True))],
        None,
        None,
    ),
    "g22-kv-cache-needs-lmcache-image": (
        "G22",
        lambda: [
            k8s(mutate(render(kvCache={"l1": True}), lambda o: worker(o).update(image="vllm/vllm-openai:v0.11.0")))
        ],
        lambda: [k8s(render(kvCache={"l1": True}))],
        None,
        None,
    ),
    "g07-l2-tieredstorage": (
        "G7",
        lambda: [k8s(render(kvCache={"l1": True, "l2": True, "l2Backend": "tieredstorage"}))],
        lambda: [k8s(render(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}))],
        None,
        None,
    ),
    "a1-autoscaling-trigger-gets-datapoints": (
        "A1",
        lambda: [
            k8s(
                render(
                    autoscaling={
                        "cloudwatch": {
                            "metricName": "ApproximateBacklogSizePerInstance",
                            "targetValue": 8,
                            "dimensions": {},
                        }
                    }
                )
            )
        ],
        lambda: [k8s(render(autoscaling={"cloudwatch": {"metricName": "Invocations", "targetValue": 300}}))],
        None,
        None,
    ),
    "a1-autoscaling-variant-name": (
        "A1",
        lambda: [
            k8s(
                render(
                    autoscaling={
                        "cloudwatch": {
                            "targetValue": 300,
                            "dimensions": {"EndpointName": "qwen3-4b", "VariantName": "blue"},
                        }
                    }
                )
            )
        ],
        lambda: [
            k8s(
                render(
                    autoscaling={
                        "cloudwatch": {
                            "targetValue": 300,
                            "dimensions": {"EndpointName": "qwen3-4b", "VariantName": "AllTraffic"},
                        }
                    }
                )
            )
        ],
        None,
        None,
    ),
    "a1-autoscaling-sees-alb-traffic": (
        "A1",
        lambda: [k8s(render(autoscaling={"cloudwatch": {"metricName": "Invocations", "targetValue": 300}}))],
        lambda: [
            k8s(
                render(
                    autoscaling={
                        "prometheus": {
                            "query": 'sum(vllm:num_requests_waiting{model_name="Qwen3-4B-Instruct-2507"})',
                            "targetValue": 8,
                            "serverAddress": "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234",
                        }
                    }
                )
            )
        ],
        None,
        None,
    ),
    "c1-capacity-contract": ("C1", lambda: [k8s(contracted(3))], lambda: [k8s(contracted(6))], None, None),
    "c1-capacity-unmeasured": (
        "C1",
        lambda: [k8s(contracted(6, per_replica=None))],
        lambda: [k8s(contracted(6))],
        None,
        None,
    ),
    "g08-public-alb-needs-routing": (
        "G8",
        lambda: [k8s(render()), k8s(ingress("qwen3-4b", tls=True))],
        lambda: [k8s(render(intelligentRouting=True)), k8s(ingress("qwen3-4b", tls=True))],
        None,
        None,
    ),
    "g09-api-key-reaches-router": (
        "G9",
        lambda: [k8s(render(**ROUTED)), k8s(secret("qwen3-4b-api-key", "default"))],
        lambda: [
            k8s(render(**ROUTED)),
            k8s(secret("qwen3-4b-api-key", "default")),
            k8s(secret("qwen3-4b-api-key", "hyperpod-inference-system")),
        ],
        None,
        None,
    ),
    "g10-engine-parameters": (
        "G10",
        lambda: [k8s(mutate(render(), lambda o: worker(o)["args"].extend(["--tp-size", "1"])))],
        lambda: [k8s(render())],
        None,
        None,
    ),
    "g11-gpu-scheduling": (
        "G11",
        lambda: [
            k8s(
                mutate(
                    render(),
                    lambda o: worker(o)["environmentVariables"].append({"name": "CUDA_VISIBLE_DEVICES", "value": "0"}),
                )
            )
        ],
        lambda: [k8s(render())],
        None,
        None,
    ),
    "g12-low-compute-capability-env": (
        "G12",
        lambda: [
            k8s(mutate(render(instanceType="ml.g4dn.xlarge"), lambda o: worker(o).update(environmentVariables=[])))
        ],
        lambda: [k8s(render(instanceType="ml.g4dn.xlarge"))],
        None,
        None,
    ),
    "g13-ephemeral-storage-and-shm": (
        "G13",
        lambda: [k8s(mutate(render(), lambda o: worker(o)["resources"]["requests"].pop("ephemeral-storage")))],
        lambda: [k8s(render())],
        None,
        None,
    ),
    "g16-endpoint-url-from-status": (
        "G16",
        lambda: [
            k8s(public_ingress_with_status()),
            stack_outputs(
                "https://internal-k8s-hyperpod-albqwen3-d8ad7ac4de-852231201-1767773231.us-east-1.elb.amazonaws.com/v1/chat/completions"
            ),
        ],
        lambda: [
            k8s(public_ingress_with_status()),
            stack_outputs(f"https://{STATUS['loadBalancer']['ingress'][0]['hostname']}/v1/chat/completions"),
        ],
        None,
        None,
    ),
    "b1-backend-manifests": (
        "B1",
        lambda: [
            k8s(
                mutate(
                    ome_benchmark(),
                    lambda o: o["spec"]["outputLocation"].update(
                        storageUri="local:///tmp/benchmark-results/simple-tune-bench1"
                    ),
                )
            )
        ],
        lambda: [k8s(ome_benchmark())],
        None,
        None,
    ),
    # 131072 tokens x 147,456 B = 19.3 GB of KV does not fit; 12288 tokens (1.81 GB) does, 6 times over.
    "g23-model-fits-its-gpus": ("G23", lambda: sized(maxModelLen=131072), lambda: sized(maxModelLen=12288), None, None),
    "g23-max-num-seqs-at-full-length": (
        "G23",
        lambda: sized(maxModelLen=12288, maxNumSeqs=64),
        lambda: sized(maxModelLen=12288, maxNumSeqs=6),
        None,
        None,
    ),
    # AWS's DPD page: PYTHONHASHSEED "0" on both roles, else their cache keys differ; EFA with GPU-Direct RDMA types only.
    "d1-dpd-vllm-role-gpus-hash-seed": (
        "D1",
        lambda: [
            k8s(
                mutate(
                    dpd(),
                    lambda o: worker(o).update(
                        environmentVariables=[
                            e for e in worker(o)["environmentVariables"] if e["name"] != "PYTHONHASHSEED"
                        ]
                    ),
                )
            )
        ],
        lambda: [k8s(dpd())],
        None,
        None,
    ),
    "d2-dpd-efa-instance-types": (
        "D2",
        lambda: [k8s(mutate(dpd(), lambda o: o["spec"].update(instanceType="ml.g6e.48xlarge")))],
        lambda: [k8s(dpd())],
        None,
        None,
    ),
}


def test_every_policy_has_a_failing_and_a_passing_case():
    assert set(CASES) | set(SECURITY_CASES) | set(PLATFORM_CASES) == {p.name for p in POLICIES}
    assert (
        not set(CASES) & set(SECURITY_CASES)
        and not set(CASES) & set(PLATFORM_CASES)
        and not set(SECURITY_CASES) & set(PLATFORM_CASES)
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_fails_then_passes(name, monkeypatch):
    assert_fails_then_passes(CASES, name, monkeypatch)


def test_g09_stack_violation_points_at_the_endpoint_urn():
    reported = run_policy(
        "g09-api-key-reaches-router", [k8s(render(**ROUTED)), k8s(secret("qwen3-4b-api-key", "default"))]
    )
    ((message, urn),) = reported
    assert urn and urn.endswith("InferenceEndpointConfig::qwen3-4b")
    assert message.startswith("InferenceEndpointConfig default/qwen3-4b: Secret qwen3-4b-api-key = ['default']: [G9]")
    assert "hyperpod-inference-system" in message


def test_unknown_values_during_preview_do_not_turn_into_violations():
    from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

    from policies import pack

    obj = render(**ROUTED)
    worker(obj)["environmentVariables"][-1]["value"] = UNKNOWN_STRING_VALUE  # the generated key
    worker(obj)["modelInvocationPort"]["containerPort"] = UNKNOWN_NUMBER_VALUE
    props = unknown_checking_proxy({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    resource = pack._resource(
        "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig", props, "urn", "qwen3-4b"
    )
    assert worker(resource.props)["modelInvocationPort"]["containerPort"] == pack.UNKNOWN
    assert run_policy("g03-one-engine-port", [resource]) == []  # the unknown port is not a mismatch
    # A real mismatch beside an unknown value (the key) is reported, naming no unknown value.
    worker(obj)["modelInvocationPort"]["containerPort"] = 8000
    args = worker(obj)["args"]
    args[args.index("--port") + 1] = "8080"
    props = unknown_checking_proxy({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    resource = pack._resource(
        "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig", props, "urn", "qwen3-4b"
    )
    reported = run_policy("g03-one-engine-port", [resource])
    assert len(reported) == 1 and "spec.worker.args[--port] = '8080': [G3]" in reported[0][0]
    assert all(pack.UNKNOWN not in m for m, _ in reported)


def test_c1_policy_reads_the_replica_maximum_from_the_manifest_and_names_the_replicas_needed():
    (message,) = [m for m, _ in run_policy("c1-capacity-contract", [k8s(contracted(3))])]
    assert (
        "spec.autoScalingSpec.maxReplicaCount = 3: [C1] 3 × 4 requests/s per replica (lower bound, capacity/qwen3-4b-g5.json) = 12 < peak 20 × (1 + headroom 0.2) = 24: needs 6 replicas, has 3"
        in message
    )
    # A maximum edited by hand after the stack rendered it is judged as it is.
    edited = mutate(contracted(6), lambda o: o["spec"]["autoScalingSpec"].update(maxReplicaCount=5))
    assert [m for m, _ in run_policy("c1-capacity-contract", [k8s(edited)])][0].count("needs 6 replicas, has 5") == 1
