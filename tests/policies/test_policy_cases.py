"""Every policy of the pack, called as CrossGuard calls it (hand-built ResourceValidationArgs /
StackValidationArgs): a failing case and a passing case each, named by rule ID. The incidents'
exact values are in test_seed_mistakes.py."""

from __future__ import annotations

import copy
import sys
from typing import Any, Callable

import pytest

from components.rules import capacity, fit, inference_pool
from components.rules.backends import render as render_endpoint
from components.rules.model_facts import ModelFacts
from components.rules.spec import EndpointSpec
from components.rules.policy_catalog import POLICIES
from components.rules.resources import Resource

from tests.policies.policy_builders import API_KEY, k8s, render, run_policy
from tests.gateway.helpers import endpoints as gateway_endpoints, gateway as gateway_spec


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
        "metadata": {"name": f"llm-{endpoint}", "namespace": "hyperpod-inference-system", "labels": {"app.kubernetes.io/name": endpoint}, "annotations": annotations},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": f"{endpoint}-router", "port": {"number": 8080}}}}]}}]},
    }


def secret(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "stringData": {"api-key": API_KEY}}


def gpu_statefulset(**container: Any) -> dict[str, Any]:
    base = {"name": "engine", "image": "vllm/vllm-openai:v0.11.0", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "llm", "namespace": "default"}, "spec": {"template": {"spec": {"containers": [{**base, **container}]}}}}


PROBES = {
    "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "timeoutSeconds": 5},
    "startupProbe": {"httpGet": {"path": "/health", "port": 8000}, "failureThreshold": 180},
}
ROUTED = dict(intelligentRouting=True, apiKey=True)
STATUS = {"loadBalancer": {"ingress": [{"hostname": "k8s-hyperpod-albqwen3-d8ad7ac4de-852231201.us-east-1.elb.amazonaws.com"}]}}


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
    return Resource("eks:index:ManagedNodeGroup", "cluster-g5", {"instanceTypes": ["g5.12xlarge"], "amiType": ami, "tags": {}})


TAGS = {"llm-serving/stack": "prod", "llm-serving/cluster": "llm-prod"}


def ome_benchmark() -> dict[str, Any]:
    from components.rules.backends import ome
    from components.rules.spec import EndpointSpec

    spec = EndpointSpec.model_validate({"name": "simple-tune", "model": "meta-llama/Llama-3.2-1B-Instruct", "engine": "sglang", "instanceType": "g5.xlarge", "backend": "ome",
                                        "modelSource": {"type": "huggingface"}, "ome": {"benchmark": {"outputLocation": "pvc://benchmark-results-pvc/simple-tune"}}})
    return ome.benchmark_job(spec)

# policy -> (rule, failing resources, passing resources, config, PULUMI_STACK)

# The ordering rules (O*) read each resource's place in the graph: URNs and what each waits for.
LBC = Resource("kubernetes:helm.sh/v4:Chart", "platform-load-balancer-controller", {"chart": "aws-load-balancer-controller", "namespace": "kube-system", "values": {"serviceAccount": {"name": "aws-load-balancer-controller"}}}, "urn:lbc")
ASSOCIATION = Resource("aws:eks/podIdentityAssociation:PodIdentityAssociation", "platform-lbc-pod-identity", {"namespace": "kube-system", "serviceAccount": "aws-load-balancer-controller"}, "urn:association")
OPERATOR_ADDON = Resource("aws:eks/addon:Addon", "platform-hyperpod-operator", {"addonName": "amazon-sagemaker-hyperpod-inference"}, "urn:operator")
DEVICE_PLUGIN = Resource("kubernetes:helm.sh/v4:Chart", "platform-nvidia-device-plugin", {"chart": "nvidia-device-plugin"}, "urn:plugin")
HYPERPOD_CHART = Resource("kubernetes:helm.sh/v4:Chart", "hyperpod-dependencies", {"chart": "/cache/HyperPodHelmChart", "name": "hyperpod-dependencies", "namespace": "kube-system"}, "urn:hyperpod-chart")
HYPERPOD_CLUSTER = Resource("aws-native:sagemaker:Cluster", "hyperpod-cluster", {"clusterName": "llm-dev"}, "urn:hyperpod")
HYPERPOD_CHART_NO_PLUGIN = Resource(HYPERPOD_CHART.type, HYPERPOD_CHART.name, {**HYPERPOD_CHART.props, "values": {"nvidia-device-plugin": {"devicePlugin": {"enabled": False}}}}, HYPERPOD_CHART.urn)
OME_CHART = Resource("kubernetes:helm.sh/v4:Chart", "platform-ome-operator", {"chart": "oci://ghcr.io/moirai-internal/charts/ome-resources", "namespace": "ome"}, "urn:ome-operator")
OME_ISVC = Resource("kubernetes:ome.io/v1beta1:InferenceService", "q", {"metadata": {"name": "q", "namespace": "inference"}, "spec": {}}, "urn:ome-isvc", ("urn:ome-operator",))
DRAIN_GUARD = Resource("pulumi-python:dynamic:Resource", "ingress-drain", {"guard": "ingress-drain", "namespaces": ["hyperpod-inference-system"]}, "urn:guard", ("urn:lbc", "urn:operator"))


def k8s_service() -> Resource:
    return k8s({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "engine", "namespace": "team-a"}, "spec": {"ports": [{"port": 80}]}})


def graph_node(resource: Resource, urn: str, *dependencies: str) -> Resource:
    return Resource(resource.type, resource.name, resource.props, urn, dependencies)

def contracted(max_replicas: int, per_replica: float | None = 4.0) -> dict[str, Any]:
    """An InferenceEndpointConfig with the C1 numbers the stack records: peak 20 requests/s, headroom 0.2."""
    terms = {"peakRequestsPerSecond": 20.0, "headroom": 0.2, "perReplicaRequestsPerSecond": per_replica, "capacityFile": "capacity/qwen3-4b-g5.json" if per_replica else None}
    scaling = {"minReplicas": 1, "maxReplicas": max_replicas, "cloudwatch": {"metricName": "Invocations", "targetValue": 840}}
    (manifest,) = capacity.annotate([render(autoscaling=scaling)], terms)
    return manifest


CASES: dict[str, tuple[str, Callable[[], list[Resource]], Callable[[], list[Resource]], dict | None, str | None]] = {
    "g01-name-length": ("G1", lambda: [k8s(mutate(render(), lambda o: o["metadata"].update(name="a" * 51)))], lambda: [k8s(render("a" * 51))], None, None),
    "g02-name-format": ("G2", lambda: [k8s(mutate(render(sagemakerEndpoint=True), lambda o: o["spec"].update(endpointName="Qwen3-4B")))], lambda: [k8s(render(sagemakerEndpoint=True))], None, None),
    "g03-one-engine-port": ("G3", lambda: [k8s(mutate(render(), lambda o: o["spec"]["metrics"]["modelMetrics"].update(port=8080)))], lambda: [k8s(render())], None, None),
    "g04-probes-survive-model-load": ("G4", lambda: [k8s(mutate(render(), lambda o: worker(o)["probes"].pop("readinessProbe")))], lambda: [k8s(render())], None, None),
    "g05-served-model-name": ("G5", lambda: [k8s(mutate(render(), lambda o: worker(o).pop("command")))], lambda: [k8s(render())], None, None),
    "g06-sglang-metrics": ("G6", lambda: [k8s(mutate(render(engine="sglang"), lambda o: worker(o)["args"].remove("--enable-metrics")))], lambda: [k8s(render(engine="sglang"))], None, None),
    "g07-kv-cache": ("G7", lambda: [k8s(mutate(render(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}), lambda o: o["spec"]["modelSourceConfig"].update(prefetchEnabled=True)))], lambda: [k8s(render(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}))], None, None),
    "g21-routing-and-kv-cache-need-vllm": ("G21", lambda: [k8s(mutate(render(engine="sglang"), lambda o: o["spec"].update(intelligentRoutingSpec={"enabled": True, "routingStrategy": "prefixaware"})))], lambda: [k8s(render(intelligentRouting=True))], None, None),
    "g22-kv-cache-needs-lmcache-image": ("G22", lambda: [k8s(mutate(render(kvCache={"l1": True}), lambda o: worker(o).update(image="vllm/vllm-openai:v0.11.0")))], lambda: [k8s(render(kvCache={"l1": True}))], None, None),
    "g07-l2-tieredstorage": ("G7", lambda: [k8s(render(kvCache={"l1": True, "l2": True, "l2Backend": "tieredstorage"}))], lambda: [k8s(render(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}))], None, None),
    "a1-autoscaling-trigger-gets-datapoints": (
        "A1",
        lambda: [k8s(render(autoscaling={"cloudwatch": {"metricName": "ApproximateBacklogSizePerInstance", "targetValue": 8, "dimensions": {}}}))],
        lambda: [k8s(render(autoscaling={"cloudwatch": {"metricName": "Invocations", "targetValue": 300}}))],
        None,
        None,
    ),
    "a1-autoscaling-variant-name": (
        "A1",
        lambda: [k8s(render(autoscaling={"cloudwatch": {"targetValue": 300, "dimensions": {"EndpointName": "qwen3-4b", "VariantName": "blue"}}}))],
        lambda: [k8s(render(autoscaling={"cloudwatch": {"targetValue": 300, "dimensions": {"EndpointName": "qwen3-4b", "VariantName": "AllTraffic"}}}))],
        None,
        None,
    ),
    "a1-autoscaling-sees-alb-traffic": (
        "A1",
        lambda: [k8s(render(autoscaling={"cloudwatch": {"metricName": "Invocations", "targetValue": 300}}))],
        lambda: [k8s(render(autoscaling={"prometheus": {"query": 'sum(vllm:num_requests_waiting{model_name="Qwen3-4B-Instruct-2507"})', "targetValue": 8, "serverAddress": "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1234"}}))],
        None,
        None,
    ),
    "c1-capacity-contract": ("C1", lambda: [k8s(contracted(3))], lambda: [k8s(contracted(6))], None, None),
    "c1-capacity-unmeasured": ("C1", lambda: [k8s(contracted(6, per_replica=None))], lambda: [k8s(contracted(6))], None, None),
    "g08-public-alb-needs-routing": ("G8", lambda: [k8s(render()), k8s(ingress("qwen3-4b", tls=True))], lambda: [k8s(render(intelligentRouting=True)), k8s(ingress("qwen3-4b", tls=True))], None, None),
    "g09-api-key-reaches-router": (
        "G9",
        lambda: [k8s(render(**ROUTED)), k8s(secret("qwen3-4b-api-key", "default"))],
        lambda: [k8s(render(**ROUTED)), k8s(secret("qwen3-4b-api-key", "default")), k8s(secret("qwen3-4b-api-key", "hyperpod-inference-system"))],
        None,
        None,
    ),
    "g10-engine-parameters": ("G10", lambda: [k8s(mutate(render(), lambda o: worker(o)["args"].extend(["--tp-size", "1"])))], lambda: [k8s(render())], None, None),
    "g11-gpu-scheduling": ("G11", lambda: [k8s(mutate(render(), lambda o: worker(o)["environmentVariables"].append({"name": "CUDA_VISIBLE_DEVICES", "value": "0"})))], lambda: [k8s(render())], None, None),
    "g12-low-compute-capability-env": (
        "G12",
        lambda: [k8s(mutate(render(instanceType="ml.g4dn.xlarge"), lambda o: worker(o).update(environmentVariables=[])))],
        lambda: [k8s(render(instanceType="ml.g4dn.xlarge"))],
        None,
        None,
    ),
    "g13-ephemeral-storage-and-shm": ("G13", lambda: [k8s(mutate(render(), lambda o: worker(o)["resources"]["requests"].pop("ephemeral-storage")))], lambda: [k8s(render())], None, None),
    "g16-endpoint-url-from-status": (
        "G16",
        lambda: [k8s(public_ingress_with_status()), stack_outputs("https://internal-k8s-hyperpod-albqwen3-d8ad7ac4de-852231201-1767773231.us-east-1.elb.amazonaws.com/v1/chat/completions")],
        lambda: [k8s(public_ingress_with_status()), stack_outputs(f"https://{STATUS['loadBalancer']['ingress'][0]['hostname']}/v1/chat/completions")],
        None,
        None,
    ),
    "b1-backend-manifests": (
        "B1",
        lambda: [k8s(mutate(ome_benchmark(), lambda o: o["spec"]["outputLocation"].update(storageUri="local:///tmp/benchmark-results/simple-tune-bench1")))],
        lambda: [k8s(ome_benchmark())],
        None,
        None,
    ),
    "s1-gpu-workload-limits-probes": ("S1", lambda: [k8s(gpu_statefulset())], lambda: [k8s(gpu_statefulset(**PROBES))], None, None),
    "s2-public-alb-tls": ("S2", lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b"))], lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", tls=True))], None, None),
    "s2-dev-plaintext-api-key": ("S2", lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", opt_out=True))], lambda: [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", tls=True))], None, "dev"),
    "s3-no-plaintext-secrets": (
        "S3",
        lambda: [k8s({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "engine-env"}, "data": {"HF_TOKEN": "hf_" + "a1B2c3D4e5" * 4}})],
        lambda: [k8s({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "engine-env"}, "data": {"TOKENIZERS_PARALLELISM": "false", "HF_TOKEN_PATH": "/secrets/hf"}})],
        None,
        None,
    ),
    "s3-router-key-workaround": ("S3", lambda: [k8s(render(**ROUTED))], lambda: [k8s(render(apiKey=True))], None, None),
    "s4-eks-endpoint-not-public": ("S4", lambda: [eks_cluster(None)], lambda: [eks_cluster(["203.0.113.0/24"])], None, "prod"),
    "s5-gpu-nodes-nvidia-ami": ("S5", lambda: [node_group("AL2023_x86_64_STANDARD")], lambda: [node_group("AL2023_x86_64_NVIDIA")], None, None),
    "o1-after-the-load-balancer-controller": ("O1", lambda: [LBC, graph_node(k8s_service(), "urn:svc")], lambda: [LBC, graph_node(k8s_service(), "urn:svc", "urn:lbc")], None, None),
    "o2-after-pod-identity": ("O2", lambda: [ASSOCIATION, LBC], lambda: [ASSOCIATION, graph_node(LBC, "urn:lbc", "urn:association")], None, None),
    "o3-after-the-crd-installer": ("O3", lambda: [OPERATOR_ADDON, graph_node(k8s(render()), "urn:iec")], lambda: [OPERATOR_ADDON, graph_node(k8s(render()), "urn:iec", "urn:operator")], None, None),
    "o4-gpu-after-nodes-and-device-plugin": ("O4", lambda: [DEVICE_PLUGIN, graph_node(k8s(render()), "urn:iec")], lambda: [DEVICE_PLUGIN, graph_node(k8s(render()), "urn:iec", "urn:plugin")], None, None),
    "o5-hyperpod-cluster-after-its-chart": ("O5", lambda: [HYPERPOD_CHART, HYPERPOD_CLUSTER], lambda: [HYPERPOD_CHART, graph_node(HYPERPOD_CLUSTER, "urn:hyperpod", "urn:hyperpod-chart")], None, None),
    "o7-device-plugin-before-hyperpod-nodes": ("O7", lambda: [HYPERPOD_CHART_NO_PLUGIN, graph_node(HYPERPOD_CLUSTER, "urn:hyperpod", "urn:hyperpod-chart")], lambda: [HYPERPOD_CHART, graph_node(HYPERPOD_CLUSTER, "urn:hyperpod", "urn:hyperpod-chart")], None, None),
    "o8-backend-operator-installed": ("O8", lambda: [eks_cluster(["34.201.17.8/32"]), OME_ISVC], lambda: [eks_cluster(["34.201.17.8/32"]), OME_CHART, OME_ISVC], None, None),
    "o6-finalizers-before-their-controller": ("O6", lambda: [LBC, OPERATOR_ADDON, DRAIN_GUARD, graph_node(k8s(render()), "urn:iec", "urn:operator")], lambda: [LBC, OPERATOR_ADDON, DRAIN_GUARD, graph_node(k8s(render()), "urn:iec", "urn:operator", "urn:guard")], None, None),
    "s7-no-shared-namespace-owned": ("S7", lambda: [k8s({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})], lambda: [k8s({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "llm-gateway"}})], None, None),
    "s6-required-tags": ("S6", lambda: [Resource("aws:s3/bucket:Bucket", "tls", {"tags": {"llm-serving/stack": "prod"}})], lambda: [Resource("aws:s3/bucket:Bucket", "tls", {"tags": TAGS})], None, None),
}


def gateway_objects(drop_kind: str = "", drop_name: str = "", allow_plaintext: bool = False, **overrides: Any) -> list[Resource]:
    """The rendered tenant gateway (tests/gateway/helpers.py config), less the objects named."""
    from components.rules.gateway import config as gw_config, render as gw_render
    from components.rules.spec import PlatformSpec

    spec = gateway_spec(**overrides)
    objects = gw_render.render(spec, gw_config.upstreams(gateway_endpoints(), PlatformSpec()), ["key-a", "key-b"]) + [gw_render.ingress(spec, allow_plaintext=allow_plaintext)]
    return [k8s(o) for o in objects if o["kind"] != drop_kind and o["metadata"]["name"] != drop_name]


CASES.update({
    "t1-tenant-keys-token-limited": ("T1", lambda: gateway_objects(drop_kind="BackendTrafficPolicy"), lambda: gateway_objects(), None, None),
    "t2-tenant-routes-declared": ("T2", lambda: gateway_objects(drop_name="tenant-team-b"), lambda: gateway_objects(), None, None),
    "t2-tenant-keys-on-the-gateway": ("T2", lambda: gateway_objects(drop_kind="ClientTrafficPolicy"), lambda: gateway_objects(), None, None),
    "t3-public-gateway-tls": ("T3", lambda: gateway_objects(certificateArn=None), lambda: gateway_objects(), None, None),
    "t3-dev-plaintext-gateway-keys": ("T3", lambda: gateway_objects(certificateArn=None, allow_plaintext=True), lambda: gateway_objects(), None, "dev"),
})


# Qwen/Qwen3-4B-Instruct-2507's published config (https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507/blob/main/config.json):
# 36 layers, 32 heads, 8 KV heads, head_dim 128, bfloat16, 8,044,936,192 bytes of weights; 147,456 B of KV per token.
QWEN3_4B = ModelFacts("Qwen/Qwen3-4B-Instruct-2507", "https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507/resolve/main/config.json", None, "Qwen3ForCausalLM",
                      36, 32, 8, 128, 2560, 262144, 4_022_468_096, "bfloat16", None, 8_044_936_192, False, "2026-12-06")


def sized(**engine_args: Any) -> list[Resource]:
    """The worker on one A10G (ml.g5.8xlarge) with the model's facts the stack records: 11.4 GB of KV room."""
    (manifest,) = fit.annotate([render(engineArgs=engine_args)], QWEN3_4B)
    return [k8s(manifest)]


CASES.update({
    # 131072 tokens x 147,456 B = 19.3 GB of KV does not fit; 12288 tokens (1.81 GB) does, 6 times over.
    "g23-model-fits-its-gpus": ("G23", lambda: sized(maxModelLen=131072), lambda: sized(maxModelLen=12288), None, None),
    "g23-max-num-seqs-at-full-length": ("G23", lambda: sized(maxModelLen=12288, maxNumSeqs=64), lambda: sized(maxModelLen=12288, maxNumSeqs=6), None, None),
})


def pool_objects(fn: Callable[[list[dict[str, Any]]], None] | None = None) -> list[Resource]:
    """A kubernetes endpoint with pool routing: its engine Deployment, picker objects and pool (R1-R5)."""
    spec = EndpointSpec.model_validate({"name": "qwen3-4b", "model": "Qwen/Qwen3-4B-Instruct-2507", "engine": "vllm", "instanceType": "g5.2xlarge", "namespace": "inference",
                                        "modelSource": {"type": "huggingface"}, "backend": "kubernetes", "kubernetes": {"routing": "inferencePool"}})
    objs = [o for o in render_endpoint(spec) if o["kind"] == "Deployment"] + inference_pool.render(spec)
    if fn:
        fn(objs)
    return [k8s(o) for o in objs]


def _pool(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "InferencePool")


def _picker(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-epp"))["spec"]["template"]["spec"]["containers"][0]


OBJECTIVE = {"apiVersion": "inference.networking.x-k8s.io/v1alpha2", "kind": "InferenceObjective", "metadata": {"name": "qwen3-4b", "namespace": "inference"}, "spec": {"poolRef": {"name": "qwen3-4b"}}}

CASES.update({
    "r1-inference-pool-selects-its-engine": ("R1", lambda: pool_objects(lambda objs: _pool(objs)["spec"]["selector"].update(matchLabels={"llm-serving/engine": "other"})), pool_objects, None, None),
    "r2-inference-pool-targets-the-engine-port": ("R2", lambda: pool_objects(lambda objs: _pool(objs)["spec"].update(targetPorts=[{"number": 8080}])), pool_objects, None, None),
    "r2-inference-pool-one-target-port": ("R2", lambda: pool_objects(lambda objs: _pool(objs)["spec"].update(targetPorts=[{"number": 8000}, {"number": 8001}])), pool_objects, None, None),
    "r3-one-inference-pool-per-model": ("R3", lambda: pool_objects(lambda objs: objs.append({**copy.deepcopy(_pool(objs)), "metadata": {"name": "again", "namespace": "inference"}})), pool_objects, None, None),
    "r4-inference-picker-pinned-image": ("R4", lambda: pool_objects(lambda objs: _picker(objs).update(image="registry.k8s.io/gateway-api-inference-extension/epp:v1.6.0")), pool_objects, None, None),
    "r4-inference-pool-pinned-api": ("R4", lambda: pool_objects(lambda objs: _pool(objs)["spec"]["endpointPickerRef"].update(port={"number": 9003})), pool_objects, None, None),
    "r5-no-experimental-inference-objects": ("R5", lambda: [*pool_objects(), k8s(OBJECTIVE)], pool_objects, None, None),
})


def dpd(**overrides: Any) -> dict[str, Any]:
    """A DPD endpoint as the stack renders it: 70B on ml.p5.48xlarge, one prefill and one decode pod of 8 GPUs."""
    return render(instanceType="ml.p5.48xlarge", engineArgs={"tensorParallelSize": 8}, hyperpod={"pdSpec": {}}, **overrides)


CASES.update({
    # AWS's DPD page: PYTHONHASHSEED "0" on both roles, else their cache keys differ; EFA with GPU-Direct RDMA types only.
    "d1-dpd-vllm-role-gpus-hash-seed": ("D1", lambda: [k8s(mutate(dpd(), lambda o: worker(o).update(environmentVariables=[e for e in worker(o)["environmentVariables"] if e["name"] != "PYTHONHASHSEED"])))], lambda: [k8s(dpd())], None, None),
    "d2-dpd-efa-instance-types": ("D2", lambda: [k8s(mutate(dpd(), lambda o: o["spec"].update(instanceType="ml.g6e.48xlarge")))], lambda: [k8s(dpd())], None, None),
})


def test_every_policy_has_a_failing_and_a_passing_case():
    assert set(CASES) == {p.name for p in POLICIES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_policy_fails_then_passes(name, monkeypatch):
    rule, failing, passing, config, stack = CASES[name]
    if stack:
        monkeypatch.setenv("PULUMI_STACK", stack)
    reported = run_policy(name, failing(), config)
    assert reported, f"{name} ({rule}) reported nothing on its failing case"
    for message, _ in reported:
        # resource, field = value, rule ID and fix, on one line
        assert f"[{rule}]" in message and " = " in message and "Fix: " in message, message
    assert run_policy(name, passing(), config) == [], f"{name} ({rule}) reported on its passing case"


def test_g09_stack_violation_points_at_the_endpoint_urn():
    reported = run_policy("g09-api-key-reaches-router", [k8s(render(**ROUTED)), k8s(secret("qwen3-4b-api-key", "default"))])
    (message, urn), = reported
    assert urn and urn.endswith("InferenceEndpointConfig::qwen3-4b")
    assert message.startswith("InferenceEndpointConfig default/qwen3-4b: Secret qwen3-4b-api-key = ['default']: [G9]")
    assert "hyperpod-inference-system" in message


def test_s4_dev_stacks_are_exempt_and_configurable(monkeypatch):
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run_policy("s4-eks-endpoint-not-public", [eks_cluster(["0.0.0.0/0"])]) == []
    assert run_policy("s4-eks-endpoint-not-public", [eks_cluster(["0.0.0.0/0"])], {"devStacks": ["sandbox"]})
    monkeypatch.delenv("PULUMI_STACK")
    assert run_policy("s4-eks-endpoint-not-public", [eks_cluster(["0.0.0.0/0"])]), "an unknown stack counts as non-dev"


def test_s2_public_alb_with_an_api_key_needs_tls(monkeypatch):
    """A key used to be enough; the bearer key then crossed the internet unencrypted."""
    monkeypatch.setenv("PULUMI_STACK", "prod")
    (message, urn), = run_policy("s2-public-alb-tls", [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b"))])
    assert message.startswith("Ingress hyperpod-inference-system/llm-qwen3-4b: metadata.annotations.alb.ingress.kubernetes.io/scheme = 'internet-facing': [S2]")
    assert "the key (Authorization: Bearer) and every prompt cross the internet in clear text" in message
    assert "Fix: set alb.ingress.kubernetes.io/certificate-arn (set platform.ingress.certificateArn" in message
    # Without a key as well: still refused.
    (message, _), = run_policy("s2-public-alb-tls", [k8s(render(intelligentRouting=True)), k8s(ingress("qwen3-4b"))])
    assert "neither TLS nor an API key" in message
    assert run_policy("s2-public-alb-tls", [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", scheme="internal"))]) == []


def test_s2_plaintext_opt_out_is_a_warning_in_dev_and_an_error_elsewhere(monkeypatch):
    keyed = [k8s(render(**ROUTED)), k8s(ingress("qwen3-4b", opt_out=True))]
    monkeypatch.setenv("PULUMI_STACK", "dev")
    assert run_policy("s2-public-alb-tls", keyed) == []
    (message, _), = run_policy("s2-dev-plaintext-api-key", keyed)
    assert "metadata.annotations.llm-serving/allow-plaintext-api-key = 'true': [S2] dev stack 'dev' opted out of TLS" in message
    monkeypatch.setenv("PULUMI_STACK", "staging")
    assert run_policy("s2-dev-plaintext-api-key", keyed) == []
    (message, _), = run_policy("s2-public-alb-tls", keyed)
    assert "the opt-out llm-serving/allow-plaintext-api-key is for dev stacks only; stack 'staging' is not one" in message
    monkeypatch.setenv("PULUMI_STACK", "sandbox")
    assert run_policy("s2-public-alb-tls", keyed, {"devStacks": ["sandbox"]}) == []


def test_s6_required_tags_come_from_config_and_provider_default_tags_count():
    bucket = Resource("aws:s3/bucket:Bucket", "tls", {"tags": TAGS})
    (message, _), = run_policy("s6-required-tags", [bucket], {"requiredTags": ["team"]})
    assert "tags = ['llm-serving/cluster', 'llm-serving/stack']: [S6] missing required tag(s) team" in message
    assert run_policy("s6-required-tags", [Resource("aws:s3/bucket:Bucket", "tls", {"tagsAll": {"team": "ml"}})], {"requiredTags": ["team"]}) == []
    native = Resource("aws-native:sagemaker:Cluster", "hp", {"tags": [{"key": "llm-serving/stack", "value": "prod"}, {"key": "llm-serving/cluster", "value": "x"}]})
    assert run_policy("s6-required-tags", [native]) == []


def test_s3_secrets_are_never_printed_and_env_refs_are_fine():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "router"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox", "env": [
            {"name": "OPENAI_API_KEY", "value": API_KEY},
            {"name": "API_KEY_FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "k", "key": "api-key"}}},
            {"name": "ARGS_KEY", "value": "$(VLLM_API_KEY)"},
        ]}]}}},
    }
    (message, _), = run_policy("s3-no-plaintext-secrets", [k8s(deployment)])
    assert API_KEY not in message and "<redacted, 67 characters>" in message
    assert "env[OPENAI_API_KEY]" in message
    # The router exception is only for VLLM_API_KEY in an endpoint with intelligent routing.
    unrouted_plain = mutate(render(apiKey=True), lambda o: worker(o).update(environmentVariables=[{"name": "VLLM_API_KEY", "value": API_KEY}]))
    assert run_policy("s3-no-plaintext-secrets", [k8s(unrouted_plain)])
    assert run_policy("s3-no-plaintext-secrets", [k8s(render(**ROUTED))]) == []


def test_s1_deployment_model_containers_are_left_to_g4_g11_so_one_mistake_reports_once():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm"}, "spec": {"template": {"spec": {"containers": gpu_statefulset()["spec"]["template"]["spec"]["containers"]}}}}
    assert run_policy("s1-gpu-workload-limits-probes", [k8s(deployment)]) == []
    assert run_policy("g04-probes-survive-model-load", [k8s(deployment)])


def test_s5_custom_launch_template_ami_is_not_judged_and_cpu_groups_are_ignored():
    assert run_policy("s5-gpu-nodes-nvidia-ami", [Resource("eks:index:ManagedNodeGroup", "g", {"instanceTypes": ["g6e.12xlarge"], "launchTemplate": {"id": "lt-1"}})]) == []
    assert run_policy("s5-gpu-nodes-nvidia-ami", [Resource("aws:eks/nodeGroup:NodeGroup", "sys", {"instanceTypes": ["m6i.xlarge"], "amiType": "AL2023_x86_64_STANDARD"})]) == []
    (message, _), = run_policy("s5-gpu-nodes-nvidia-ami", [Resource("aws:eks/nodeGroup:NodeGroup", "old", {"instanceTypes": ["p4d.24xlarge"], "amiType": "AL2_x86_64_GPU"})])
    assert "end of life" in message


def test_unknown_values_during_preview_do_not_turn_into_violations():
    from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy

    from policies import pack

    obj = render(**ROUTED)
    worker(obj)["environmentVariables"][-1]["value"] = UNKNOWN_STRING_VALUE  # the generated key
    worker(obj)["modelInvocationPort"]["containerPort"] = UNKNOWN_NUMBER_VALUE
    props = unknown_checking_proxy({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    resource = pack._resource("kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig", props, "urn", "qwen3-4b")
    assert worker(resource.props)["modelInvocationPort"]["containerPort"] == pack.UNKNOWN
    assert run_policy("g03-one-engine-port", [resource]) == []  # the unknown port is not a mismatch
    # A real mismatch beside an unknown value (the key) is reported, naming no unknown value.
    worker(obj)["modelInvocationPort"]["containerPort"] = 8000
    args = worker(obj)["args"]
    args[args.index("--port") + 1] = "8080"
    props = unknown_checking_proxy({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    resource = pack._resource("kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig", props, "urn", "qwen3-4b")
    reported = run_policy("g03-one-engine-port", [resource])
    assert len(reported) == 1 and "spec.worker.args[--port] = '8080': [G3]" in reported[0][0]
    assert all(pack.UNKNOWN not in m for m, _ in reported)


def test_c1_policy_reads_the_replica_maximum_from_the_manifest_and_names_the_replicas_needed():
    (message,) = [m for m, _ in run_policy("c1-capacity-contract", [k8s(contracted(3))])]
    assert "spec.autoScalingSpec.maxReplicaCount = 3: [C1] 3 × 4 requests/s per replica (lower bound, capacity/qwen3-4b-g5.json) = 12 < peak 20 × (1 + headroom 0.2) = 24: needs 6 replicas, has 3" in message
    # A maximum edited by hand after the stack rendered it is judged as it is.
    edited = mutate(contracted(6), lambda o: o["spec"]["autoScalingSpec"].update(maxReplicaCount=5))
    assert [m for m, _ in run_policy("c1-capacity-contract", [k8s(edited)])][0].count("needs 6 replicas, has 5") == 1
