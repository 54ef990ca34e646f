"""Builders of the policy cases (tests/policies/test_policy_cases*.py): objects a rule fails on, the objects the
stack declares around them, and the runner that calls one policy on a failing and a passing case."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from components.rules import capacity, fit, inference_pool
from components.rules.backends import render as render_endpoint
from components.rules.model_facts import ModelFacts
from components.rules.resources import Resource
from components.rules.spec import EndpointSpec
from tests.gateway.helpers import endpoints as gateway_endpoints
from tests.gateway.helpers import gateway as gateway_spec
from tests.policies.policy_builders import API_KEY, k8s, render, run_policy

# (rule ID, failing objects, passing objects, policy config, PULUMI_STACK)
Case = tuple[str, Callable[[], list[Resource]], Callable[[], list[Resource]], "dict | None", "str | None"]


def mutate(obj: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    fn(obj)
    return obj


def worker(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["worker"]


def drop_flag(obj: dict[str, Any], flag: str, value: bool = True) -> None:
    args = worker(obj)["args"]
    i = args.index(flag)
    del args[i : i + (2 if value else 1)]


def ingress(endpoint: str, scheme: str = "internet-facing", tls: bool = False, opt_out: bool = False) -> dict[str, Any]:
    annotations = {"alb.ingress.kubernetes.io/scheme": scheme}
    if tls:
        annotations["alb.ingress.kubernetes.io/certificate-arn"] = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    if opt_out:
        annotations["llm-serving/allow-plaintext-api-key"] = "true"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": f"llm-{endpoint}",
            "namespace": "hyperpod-inference-system",
            "labels": {"app.kubernetes.io/name": endpoint},
            "annotations": annotations,
        },
        "spec": {
            "ingressClassName": "alb",
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": f"{endpoint}-router", "port": {"number": 8080}}},
                            }
                        ]
                    }
                }
            ],
        },
    }


def secret(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "stringData": {"api-key": API_KEY},
    }


def gpu_statefulset(**container: Any) -> dict[str, Any]:
    base = {"name": "engine", "image": "vllm/vllm-openai:v0.11.0", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "llm", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{**base, **container}]}}},
    }


PROBES = {
    "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "timeoutSeconds": 5},
    "startupProbe": {"httpGet": {"path": "/health", "port": 8000}, "failureThreshold": 180},
}
ROUTED = dict(intelligentRouting=True, apiKey=True)
STATUS = {
    "loadBalancer": {
        "ingress": [{"hostname": "k8s-hyperpod-albqwen3-d8ad7ac4de-852231201.us-east-1.elb.amazonaws.com"}]
    }
}


def public_ingress_with_status() -> dict[str, Any]:
    return {**ingress("qwen3-4b", tls=True), "status": STATUS}


def stack_outputs(url: str) -> Resource:
    return Resource("pulumi:pulumi:Stack", "llm-serving-prod", {"endpoints": {"qwen3-4b": {"url": url}}})


def eks_cluster(cidrs: list[str] | None) -> Resource:
    props: dict[str, Any] = {"name": "llm-prod", "endpointPublicAccess": True}
    if cidrs is not None:
        props["publicAccessCidrs"] = cidrs
    return Resource("eks:index:Cluster", "cluster-eks", props)


def node_group(ami: str) -> Resource:
    return Resource(
        "eks:index:ManagedNodeGroup", "cluster-g5", {"instanceTypes": ["g5.12xlarge"], "amiType": ami, "tags": {}}
    )


TAGS = {"llm-serving/stack": "prod", "llm-serving/cluster": "llm-prod"}


def ome_benchmark() -> dict[str, Any]:
    from components.rules.backends import ome
    from components.rules.spec import EndpointSpec

    spec = EndpointSpec.model_validate(
        {
            "name": "simple-tune",
            "model": "meta-llama/Llama-3.2-1B-Instruct",
            "engine": "sglang",
            "instanceType": "g5.xlarge",
            "backend": "ome",
            "modelSource": {"type": "huggingface"},
            "ome": {"benchmark": {"outputLocation": "pvc://benchmark-results-pvc/simple-tune"}},
        }
    )
    return ome.benchmark_job(spec)


# The ordering rules (O*) read each resource's place in the graph: URNs and what each waits for.
LBC = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "platform-load-balancer-controller",
    {
        "chart": "aws-load-balancer-controller",
        "namespace": "kube-system",
        "values": {"serviceAccount": {"name": "aws-load-balancer-controller"}},
    },
    "urn:lbc",
)
ASSOCIATION = Resource(
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "platform-lbc-pod-identity",
    {"namespace": "kube-system", "serviceAccount": "aws-load-balancer-controller"},
    "urn:association",
)
OPERATOR_ADDON = Resource(
    "aws:eks/addon:Addon",
    "platform-hyperpod-operator",
    {"addonName": "amazon-sagemaker-hyperpod-inference"},
    "urn:operator",
)
DEVICE_PLUGIN = Resource(
    "kubernetes:helm.sh/v4:Chart", "platform-nvidia-device-plugin", {"chart": "nvidia-device-plugin"}, "urn:plugin"
)
HYPERPOD_CHART = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "hyperpod-dependencies",
    {"chart": "/cache/HyperPodHelmChart", "name": "hyperpod-dependencies", "namespace": "kube-system"},
    "urn:hyperpod-chart",
)
HYPERPOD_CLUSTER = Resource(
    "aws-native:sagemaker:Cluster", "hyperpod-cluster", {"clusterName": "llm-dev"}, "urn:hyperpod"
)
HYPERPOD_CHART_NO_PLUGIN = Resource(
    HYPERPOD_CHART.type,
    HYPERPOD_CHART.name,
    {**HYPERPOD_CHART.props, "values": {"nvidia-device-plugin": {"devicePlugin": {"enabled": False}}}},
    HYPERPOD_CHART.urn,
)
OME_CHART = Resource(
    "kubernetes:helm.sh/v4:Chart",
    "platform-ome-operator",
    {"chart": "oci://ghcr.io/moirai-internal/charts/ome-resources", "namespace": "ome"},
    "urn:ome-operator",
)
OME_ISVC = Resource(
    "kubernetes:ome.io/v1beta1:InferenceService",
    "q",
    {"metadata": {"name": "q", "namespace": "inference"}, "spec": {}},
    "urn:ome-isvc",
    ("urn:ome-operator",),
)
DRAIN_GUARD = Resource(
    "pulumi-python:dynamic:Resource",
    "ingress-drain",
    {"guard": "ingress-drain", "namespaces": ["hyperpod-inference-system"]},
    "urn:guard",
    ("urn:lbc", "urn:operator"),
)


def k8s_service() -> Resource:
    return k8s(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "engine", "namespace": "team-a"},
            "spec": {"ports": [{"port": 80}]},
        }
    )


def graph_node(resource: Resource, urn: str, *dependencies: str) -> Resource:
    return Resource(resource.type, resource.name, resource.props, urn, dependencies)


def contracted(max_replicas: int, per_replica: float | None = 4.0) -> dict[str, Any]:
    """An InferenceEndpointConfig with the C1 numbers the stack records: peak 20 requests/s, headroom 0.2."""
    terms = {
        "peakRequestsPerSecond": 20.0,
        "headroom": 0.2,
        "perReplicaRequestsPerSecond": per_replica,
        "capacityFile": "capacity/qwen3-4b-g5.json" if per_replica else None,
    }
    scaling = {
        "minReplicas": 1,
        "maxReplicas": max_replicas,
        "cloudwatch": {"metricName": "Invocations", "targetValue": 840},
    }
    (manifest,) = capacity.annotate([render(autoscaling=scaling)], terms)
    return manifest


def gateway_objects(
    drop_kind: str = "", drop_name: str = "", allow_plaintext: bool = False, **overrides: Any
) -> list[Resource]:
    """The rendered tenant gateway (tests/gateway/helpers.py config), less the objects named."""
    from components.rules.gateway import config as gw_config
    from components.rules.gateway import render as gw_render
    from components.rules.spec import PlatformSpec

    spec = gateway_spec(**overrides)
    objects = gw_render.render(spec, gw_config.upstreams(gateway_endpoints(), PlatformSpec()), ["key-a", "key-b"]) + [
        gw_render.ingress(spec, allow_plaintext=allow_plaintext)
    ]
    return [k8s(o) for o in objects if o["kind"] != drop_kind and o["metadata"]["name"] != drop_name]


# Qwen/Qwen3-4B-Instruct-2507's published config (https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507/blob/main/config.json):
# 36 layers, 32 heads, 8 KV heads, head_dim 128, bfloat16, 8,044,936,192 bytes of weights; 147,456 B of KV per token.
QWEN3_4B = ModelFacts(
    "Qwen/Qwen3-4B-Instruct-2507",
    "https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507/resolve/main/config.json",
    None,
    "Qwen3ForCausalLM",
    36,
    32,
    8,
    128,
    2560,
    262144,
    4_022_468_096,
    "bfloat16",
    None,
    8_044_936_192,
    False,
    "2026-12-06",
)


def sized(**engine_args: Any) -> list[Resource]:
    """The worker on one A10G (ml.g5.8xlarge) with the model's facts the stack records: 11.4 GB of KV room."""
    (manifest,) = fit.annotate([render(engineArgs=engine_args)], QWEN3_4B)
    return [k8s(manifest)]


def pool_objects(fn: Callable[[list[dict[str, Any]]], None] | None = None) -> list[Resource]:
    """A kubernetes endpoint with pool routing: its engine Deployment, picker objects and pool (R1-R5)."""
    spec = EndpointSpec.model_validate(
        {
            "name": "qwen3-4b",
            "model": "Qwen/Qwen3-4B-Instruct-2507",
            "engine": "vllm",
            "instanceType": "g5.2xlarge",
            "namespace": "inference",
            "modelSource": {"type": "huggingface"},
            "backend": "kubernetes",
            "kubernetes": {"routing": "inferencePool"},
        }
    )
    objs = [o for o in render_endpoint(spec) if o["kind"] == "Deployment"] + inference_pool.render(spec)
    if fn:
        fn(objs)
    return [k8s(o) for o in objs]


def _pool(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "InferencePool")


def _picker(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-epp"))["spec"][
        "template"
    ]["spec"]["containers"][0]


OBJECTIVE = {
    "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
    "kind": "InferenceObjective",
    "metadata": {"name": "qwen3-4b", "namespace": "inference"},
    "spec": {"poolRef": {"name": "qwen3-4b"}},
}


def dpd(**overrides: Any) -> dict[str, Any]:
    """A DPD endpoint as the stack renders it: 70B on ml.p5.48xlarge, one prefill and one decode pod of 8 GPUs."""
    return render(
        instanceType="ml.p5.48xlarge", engineArgs={"tensorParallelSize": 8}, hyperpod={"pdSpec": {}}, **overrides
    )


def assert_fails_then_passes(cases: dict[str, Case], name: str, monkeypatch: Any) -> None:
    """One policy called as CrossGuard calls it: its failing case reports (resource, field = value, rule ID and fix,
    on one line) and its passing case does not."""
    rule, failing, passing, config, stack = cases[name]
    if stack:
        monkeypatch.setenv("PULUMI_STACK", stack)
    reported = run_policy(name, failing(), config)
    assert reported, f"{name} ({rule}) reported nothing on its failing case"
    for message, _ in reported:
        # resource, field = value, rule ID and fix, on one line
        assert f"[{rule}]" in message and " = " in message and "Fix: " in message, message
    assert run_policy(name, passing(), config) == [], f"{name} ({rule}) reported on its passing case"
