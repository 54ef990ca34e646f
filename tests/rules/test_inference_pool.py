"""Pool routing, rules R1-R5 (components/rules/inference_pool.py), on literal objects and configs.

Upstream facts the rules rest on: kubernetes-sigs/gateway-api-inference-extension@v1.0.2
pkg/epp/backend/metrics/pod_metrics.go (the picker scrapes the pool's first target port),
config/charts/inferencepool/templates (names, ports); envoyproxy/ai-gateway@v1.1.0 go.mod (extension v1.0.2),
internal/extensionserver/post_cluster_modify.go (one pool per route rule).
"""

from __future__ import annotations

import copy

import pytest

from components.rules import inference_pool as ip
from components.rules import manifests
from components.rules.backends import render as render_endpoint
from components.rules.gateway import charts
from components.rules.gateway import config as gw_config
from components.rules.gateway import render as gw_render
from components.rules.spec import EndpointSpec, GatewaySpec, PlatformSpec
from tests.gateway.helpers import gateway as gateway_spec

BASE = {
    "instanceType": "g5.2xlarge",
    "namespace": "inference",
    "modelSource": {"type": "huggingface", "modelId": "Qwen/Qwen3-0.6B"},
    "backend": "kubernetes",
}


def endpoint(
    name="qwen3-4b", engine="vllm", routing="inferencePool", model="Qwen/Qwen3-4B-Instruct-2507", **extra
) -> EndpointSpec:
    return EndpointSpec.model_validate(
        {**BASE, "name": name, "model": model, "engine": engine, "kubernetes": {"routing": routing}, **extra}
    )


def stack(*specs: EndpointSpec) -> list[dict]:
    """What the stack declares for these endpoints: each engine Deployment and its pool objects."""
    out: list[dict] = []
    for spec in specs:
        out += [o for o in render_endpoint(spec) if o["kind"] == "Deployment"] + ip.render(spec)
    return out


def of_kind(objs: list[dict], kind: str, name: str | None = None) -> dict:
    return next(o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def rules(found) -> list[tuple[str, str]]:
    return [(p.rule, p.path) for _, p in found]


def test_rendered_pool_selects_the_deployments_pods_on_the_engine_port():
    objs = stack(endpoint(), endpoint(name="qwen3-8b", engine="sglang", model="Qwen/Qwen3-8B"))
    pool = of_kind(objs, "InferencePool", "qwen3-4b")
    assert pool["apiVersion"] == "inference.networking.k8s.io/v1"
    assert pool["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "qwen3-4b"}}
    assert pool["spec"]["targetPorts"] == [{"number": 8000}]
    assert pool["spec"]["endpointPickerRef"] == {"name": "qwen3-4b-epp", "port": {"number": 9002}}
    assert of_kind(objs, "InferencePool", "qwen3-8b")["spec"]["targetPorts"] == [{"number": 30000}]
    assert ip.check_objects(objs) == []


def test_the_pool_is_declared_before_the_picker_deployment_that_waits_for_it():
    """The picker's probes fail until it has read its pool (gateway-api-inference-extension@v1.0.2
    cmd/epp/runner/health.go), and `up` waits for a Deployment to be ready before the next object: the pool
    must come first, after the Service it names."""
    kinds = [o["kind"] for o in ip.render(endpoint())]
    assert kinds.index("Service") < kinds.index("InferencePool") < kinds.index("Deployment") == len(kinds) - 1


def test_no_pool_objects_with_service_routing():
    assert ip.render(endpoint(routing="service")) == []


def test_r1_a_pool_matching_two_endpoints_pods_is_refused():
    objs = stack(endpoint(), endpoint(name="qwen3-8b", model="Qwen/Qwen3-8B"))
    pool = of_kind(objs, "InferencePool", "qwen3-4b")
    pool["spec"]["selector"]["matchLabels"] = {"llm-serving/engine": "vllm"}  # both endpoints' pods carry it
    found = ip.check_objects(objs)
    assert rules(found) == [("R1", "spec.selector.matchLabels")]
    assert "2 engine Deployments ['qwen3-4b', 'qwen3-8b']" in found[0][1].message


def test_r1_a_pool_selecting_by_other_labels_than_the_deployment_is_refused():
    objs = stack(endpoint())
    of_kind(objs, "InferencePool")["spec"]["selector"]["matchLabels"] = {
        "llm-serving/served-model": "qwen3-4b-instruct-2507"
    }
    assert rules(ip.check_objects(objs)) == [("R1", "spec.selector.matchLabels")]


def test_r1_a_picker_watching_an_undeclared_pool_is_refused():
    objs = stack(endpoint())
    args = of_kind(objs, "Deployment", "qwen3-4b-epp")["spec"]["template"]["spec"]["containers"][0]["args"]
    args[args.index("--pool-name") + 1] = "other"
    assert rules(ip.check_objects(objs)) == [("R1", "spec.template.spec.containers.args")]


def test_r2_a_pool_on_another_port_than_the_engine_is_refused():
    objs = stack(endpoint())
    of_kind(objs, "InferencePool")["spec"]["targetPorts"] = [{"number": 8080}]
    found = ip.check_objects(objs)
    assert rules(found) == [("R2", "spec.targetPorts[0].number")] and found[0][1].fix == "set it to 8000"


def test_r2_a_pool_with_two_target_ports_is_refused_on_the_object():
    pool = ip.pool(endpoint())
    pool["spec"]["targetPorts"] = [{"number": 8000}, {"number": 8001}]
    assert [(p.rule, p.path) for p in manifests.check(pool)] == [("R2", "spec.targetPorts")]


def test_r3_two_pools_over_one_model_are_refused():
    objs = stack(endpoint())
    second = copy.deepcopy(of_kind(objs, "InferencePool"))
    second["metadata"]["name"] = "qwen3-4b-again"
    found = ip.check_objects([*objs, second])
    assert (
        rules(found) == [("R3", "metadata.name")]
        and "pool 'qwen3-4b' already serves model 'Qwen3-4B-Instruct-2507'" in found[0][1].message
    )


def test_r3_two_pooled_endpoints_of_one_served_model_are_refused_at_config_time():
    one, two = endpoint(), endpoint(name="qwen3-4b-b", namespace="other")
    (problem,) = ip.validate([one, two], gateway_spec(), "v1.1.0")
    assert (problem.rule, problem.path) == ("R3", "endpoints[1].model")
    assert "endpoints[0] already routes served model 'Qwen3-4B-Instruct-2507' through a pool" in problem.message


def test_r3_a_route_rule_with_a_pool_and_another_backend_is_refused():
    route = {
        "apiVersion": "aigateway.envoyproxy.io/v1beta1",
        "kind": "AIGatewayRoute",
        "metadata": {"name": "r"},
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "a"},
                        {"name": "b"},
                    ]
                }
            ]
        },
    }
    assert rules(ip.check_objects([route])) == [("R3", "spec.rules[0].backendRefs")]


def test_r4_a_picker_of_another_release_is_refused():
    objs = stack(endpoint())
    of_kind(objs, "Deployment", "qwen3-4b-epp")["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "registry.k8s.io/gateway-api-inference-extension/epp:v1.6.0"
    )
    found = ip.check_objects(objs)
    assert rules(found) == [("R4", "spec.template.spec.containers.image")]
    assert found[0][1].fix == "use registry.k8s.io/gateway-api-inference-extension/epp:v1.0.2"


def test_r4_the_alpha_pool_version_is_refused():
    pool = ip.pool(endpoint())
    pool["apiVersion"] = "inference.networking.x-k8s.io/v1alpha2"
    assert [p.rule for p in manifests.check(pool)] == ["R5"]
    pool["apiVersion"] = "inference.networking.k8s.io/v1alpha9"
    assert [p.rule for p in manifests.check(pool)] == ["R4"]


def test_r4_ai_gateway_pinned_to_another_extension_is_refused_at_config_time():
    found = ip.validate([endpoint()], gateway_spec(), "v1.2.0")
    assert [(p.rule, p.path, p.value) for p in found] == [("R4", "gateway", "v1.2.0")]
    assert ip.validate([endpoint()], gateway_spec(), charts.CHARTS["ai_gateway"][1]) == []  # the pinned chart: v1.1.0


def test_r5_an_inference_objective_is_refused():
    objective = {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
        "kind": "InferenceObjective",
        "metadata": {"name": "q", "namespace": "inference"},
        "spec": {"priority": 10, "poolRef": {"name": "q"}},
    }
    (problem,) = manifests.check(objective)
    assert problem.rule == "R5" and "drop the InferenceObjective" in problem.fix


def test_the_rendered_objects_have_nothing_of_the_experimental_group():
    assert all(not o["apiVersion"].startswith("inference.networking.x-k8s.io/") for o in ip.render(endpoint()))


def test_pool_routing_without_the_gateway_is_one_config_error_naming_the_key_and_fix():
    (problem,) = ip.validate([endpoint()], GatewaySpec(), "v1.1.0")
    line = str(problem)
    assert line.startswith("endpoints[0].kubernetes.routing = 'inferencePool': [CONFIG]") and "\n" not in line
    assert "Fix: set gateway.enabled: true, or kubernetes.routing: service" in line


def test_pool_routing_on_another_backend_is_refused():
    spec = endpoint(backend="kserve", loadBalancer="none")
    (problem,) = ip.validate([spec], gateway_spec(), "v1.1.0")
    assert problem.path == "endpoints[0].kubernetes.routing" and "'kserve'" in problem.message


def test_sglang_picker_reads_sglangs_metric_names_and_vllm_the_kv_gauge_of_v0_11():
    def args(engine):
        return of_kind(ip.render(endpoint(engine=engine)), "Deployment")["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]

    sglang, vllm = args("sglang"), args("vllm")
    assert sglang[sglang.index("--total-queued-requests-metric") + 1] == "sglang:num_queue_reqs"
    assert sglang[sglang.index("--kv-cache-usage-percentage-metric") + 1] == "sglang:token_usage"
    assert sglang[sglang.index("--lora-info-metric") + 1] == ""
    assert vllm[vllm.index("--kv-cache-usage-percentage-metric") + 1] == "vllm:kv_cache_usage_perc"
    assert "--total-queued-requests-metric" not in vllm  # the default, vllm:num_requests_waiting


def test_gateway_route_points_at_the_pool_with_a_grant_and_the_key_beside_it():
    spec = gateway_spec()  # namespace llm-gateway; the endpoint is in `inference`
    ep = endpoint(apiKey=True)
    routes = gw_config.upstreams([ep], PlatformSpec())
    objs = gw_render.render(spec, routes, ["sk-a", "sk-b"], {ep.name: "sk-up"})
    kinds = [(o["kind"], o["metadata"].get("namespace")) for o in objs]
    assert ("Backend", "llm-gateway") not in kinds and ("AIServiceBackend", "llm-gateway") not in kinds
    route = of_kind(objs, "AIGatewayRoute")
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen3-4b", "namespace": "inference"}
    ]
    grant = of_kind(objs, "ReferenceGrant")
    assert grant["metadata"]["namespace"] == "inference"
    assert grant["spec"]["to"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen3-4b"}
    ]
    assert {f["kind"] for f in grant["spec"]["from"]} == {"AIGatewayRoute", "HTTPRoute"}
    policy = of_kind(objs, "BackendSecurityPolicy")
    assert policy["metadata"]["namespace"] == "inference" and policy["spec"]["targetRefs"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "qwen3-4b"}
    ]
    secret = of_kind(objs, "Secret", "qwen3-4b-upstream-key")
    assert secret["metadata"]["namespace"] == "inference"
    # Tenant limits and the allow-list stay on the Gateway, whatever the backend of the route.
    assert of_kind(objs, "SecurityPolicy")["spec"]["targetRefs"][0]["kind"] == "Gateway"
    assert of_kind(objs, "BackendTrafficPolicy")["spec"]["targetRefs"][0]["kind"] == "Gateway"


def test_envoy_gateway_hands_pools_to_ai_gateway_only_when_an_endpoint_uses_one():
    manager = charts.envoy_gateway_values("redis:6379", False, pools=True)["config"]["envoyGateway"]["extensionManager"]
    assert manager["backendResources"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "version": "v1"}
    ]
    assert (
        "backendResources"
        not in charts.envoy_gateway_values("redis:6379", False)["config"]["envoyGateway"]["extensionManager"]
    )


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_the_engine_deployment_is_unchanged_by_pool_routing(engine):
    """The pool only adds objects: the engine's Deployment and Service are the round-robin ones."""
    assert render_endpoint(endpoint(engine=engine)) == render_endpoint(endpoint(engine=engine, routing="service"))
