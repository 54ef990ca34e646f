"""A test stack with pool routing (the eks example with its kubernetes endpoint on `routing: inferencePool`; the
example itself is left alone): the offline plan declares the pool CRD before AI Gateway's controller, the picker
and the pool in the endpoint's namespace, the route to the pool, Envoy Gateway's backendResources, checks every
pool object against the pinned CRD and passes every policy; without the gateway the config is refused in one line.

Upstream: envoyproxy/ai-gateway@v1.1.0 internal/controller/controller.go (the pool controller starts only when the
CRD exists at start), examples/inference-pool/envoy-gateway-values-addon.yaml (backendResources)."""

from __future__ import annotations

import copy

import pytest

from components.rules import ConfigError
from components.rules import inference_pool as ip
from stacks import plan as plan_cmd
from tests.clusters.helpers import run_stack
from tests.example_stacks import user_values

POOL_KINDS = {
    "InferencePool",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "ReferenceGrant",
}


def pooled_values(gateway: bool = True) -> dict:
    values = copy.deepcopy(user_values("eks"))
    (ep,) = [e for e in values["llm-serving:endpoints"] if e.get("backend", "kubernetes") == "kubernetes"]
    ep.setdefault("kubernetes", {})["routing"] = "inferencePool"
    if not gateway:
        values["llm-serving:gateway"] = {"enabled": False}
    return values


@pytest.fixture(scope="module")
def pooled(crd_dir):
    return run_stack(
        pooled_values(), stack="dev-gw"
    )  # in-cluster counters: the Envoy Gateway values are known under mocks


def test_pool_objects_are_declared_schema_checked_and_pass_every_policy(pooled):
    plan, _, _ = pooled
    pool_objs = [
        o
        for o in plan.objects
        if (o.kind in POOL_KINDS or o.kind in ("Deployment", "Service"))
        and "-epp" in o.name
        or o.kind in ("InferencePool", "ReferenceGrant")
    ]
    assert {o.kind for o in pool_objs} == POOL_KINDS | {"Deployment", "Service"}
    (pool,) = [o for o in plan.objects if o.kind == "InferencePool"]
    assert pool.schema.status == "passed" and "InferencePool.v1.gie-v1.0.2.crd.yaml" in pool.schema.source
    assert pool.manifest["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "qwen3-4b-vllm"}}
    assert not plan.failed, [str(p) for o in plan.objects for p in o.problems] + [
        str(v.reported) for v in plan.other_violations
    ]


def test_the_route_names_the_pool_and_envoy_gateway_hands_it_over(pooled):
    plan, _, _ = pooled
    (route,) = [o for o in plan.objects if o.kind == "AIGatewayRoute" and o.name == "qwen3-4b-vllm"]
    assert route.manifest["spec"]["rules"][0]["backendRefs"] == [
        {
            "group": "inference.networking.k8s.io",
            "kind": "InferencePool",
            "name": "qwen3-4b-vllm",
            "namespace": "inference",
        }
    ]
    (eg,) = [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:helm.sh/v4:Chart"
        and r.inputs.get("chart") == "oci://docker.io/envoyproxy/gateway-helm"
    ]
    assert eg.inputs["values"]["config"]["envoyGateway"]["extensionManager"]["backendResources"] == [
        {"group": "inference.networking.k8s.io", "kind": "InferencePool", "version": "v1"}
    ]


def test_the_pool_crd_comes_before_ai_gateways_controller_and_the_pool_after_both(pooled):
    _, seen, _ = pooled
    crds = {r.name: r for r in seen.values() if r.type_ == "kubernetes:yaml/v2:ConfigFile"}
    assert sorted(crds) == [
        "gateway-inferenceobjectives-crd",
        "gateway-inferencepools-crd",
    ]  # the picker watches both kinds
    (aigw,) = [r for r in seen.values() if r.type_ == "kubernetes:helm.sh/v4:Chart" and r.name.endswith("-ai-gateway")]
    assert {c.urn for c in crds.values()} <= set(aigw.dependencies)
    crd = crds["gateway-inferencepools-crd"]
    (pool,) = [r for r in seen.values() if r.type_ == "kubernetes:inference.networking.k8s.io/v1:InferencePool"]
    assert {crd.urn, aigw.urn} <= set(pool.dependencies)
    # The picker turns ready only once it has read its pool (cmd/epp/runner/health.go @v1.0.2): it waits for the pool.
    (picker,) = [
        r for r in seen.values() if r.type_ == "kubernetes:apps/v1:Deployment" and r.name.endswith("-epp-inference")
    ]
    assert pool.urn in picker.dependencies


def test_the_crds_are_the_pinned_v1_0_2_files():
    base = "https://raw.githubusercontent.com/kubernetes-sigs/gateway-api-inference-extension/cd03ff7d8a22712119c2b96df6749d6279d776b5/config/crd/bases/"
    assert ip.CRD_URLS == (
        base + "inference.networking.k8s.io_inferencepools.yaml",
        base + "inference.networking.x-k8s.io_inferenceobjectives.yaml",
    )


def test_without_the_gateway_pool_routing_is_one_config_error():
    with pytest.raises(ConfigError) as err:
        plan_cmd.build_plan_from_values("eks", pooled_values(gateway=False))
    found = [str(p) for p in err.value.problems if p.path.endswith("kubernetes.routing")]
    assert found == [
        (
            "endpoints[0].kubernetes.routing = 'inferencePool': [CONFIG] an InferencePool is reached only through a Gateway route, and an ALB cannot target one: "
            "without the tenant gateway nothing would send traffic to the pool. Fix: set gateway.enabled: true, or kubernetes.routing: service"
        )
    ]
