"""Every rendered gateway object validates against the upstream CRD schemas (Envoy
Gateway v1.8.1, Envoy AI Gateway v1.1.0, Gateway API v1.5.1), and carries the configured numbers."""

from __future__ import annotations

from components.rules.gateway import config, render
from components.rules.spec import PlatformSpec

from .helpers import CERT, endpoints, gateway


def _objects():
    spec = gateway()
    routes = config.upstreams(endpoints(), PlatformSpec())
    return render.render(spec, routes, ["key-a", "key-b"], {"qwen3-4b-vllm": "endpoint-key"}) + [render.ingress(spec)]


def test_every_gateway_object_validates_against_upstream_schemas(schema_validator):
    objects = _objects()
    kinds = {o["kind"] for o in objects}
    assert {
        "GatewayClass",
        "Gateway",
        "EnvoyProxy",
        "ClientTrafficPolicy",
        "Backend",
        "AIServiceBackend",
        "AIGatewayRoute",
        "BackendSecurityPolicy",
        "SecurityPolicy",
        "BackendTrafficPolicy",
        "Secret",
        "Ingress",
    } <= kinds
    for obj in objects:
        result = schema_validator.validate(obj)
        assert result.status == "passed", (obj["kind"], obj["metadata"]["name"], result)


def test_gateway_api_kinds_found_in_a_crd_bundle(schema_validator):
    """Gateway API ships many CRDs in one file (gatewayapi-crds.yaml); a kind past the file's head is
    still found and checked, not left 'unchecked'."""
    gateway_obj = next(o for o in _objects() if o["kind"] == "Gateway")
    broken = {**gateway_obj, "spec": {**gateway_obj["spec"], "listenrs": []}}
    result = schema_validator.validate(broken)
    assert result.status == "failed"
    assert "listenrs" in result.errors[0]


def test_limit_policy_carries_exactly_the_configured_numbers():
    policy = render.limit_policy(gateway())
    rules = policy["spec"]["rateLimit"]["global"]["rules"]
    table = [
        (r["clientSelectors"][0]["headers"][0]["value"], r["limit"]["requests"], r["limit"]["unit"], "cost" in r)
        for r in rules
    ]
    # free: 200 tokens + 20 requests per minute; enterprise: 5000 tokens; premium has no tenant.
    assert table == [("team-a", 200, "Minute", True), ("team-a", 20, "Minute", False), ("team-b", 5000, "Minute", True)]
    token_rule = rules[0]
    assert token_rule["cost"] == {
        "request": {"from": "Number", "number": 0},
        "response": {"from": "Metadata", "metadata": {"namespace": "io.envoy.ai_gateway", "key": "llm_total_token"}},
    }
    assert policy["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "llm-gateway"}
    ]


def test_one_route_per_endpoint_by_served_model_name():
    routes = [o for o in _objects() if o["kind"] == "AIGatewayRoute"]
    matches = {o["metadata"]["name"]: o["spec"]["rules"][0]["matches"][0]["headers"][0]["value"] for o in routes}
    assert matches == {"qwen3-4b-vllm": "Qwen3-4B-Instruct-2507", "qwen3-0-6b-vllm-kserve": "Qwen3-0.6B"}


def test_tenants_authenticated_once_on_the_gateway_and_allowed_by_model():
    """Keys are checked by one SecurityPolicy on the Gateway: envoyproxy/gateway@v1.8.1
    internal/xds/translator/httpfilters.go runs api_key_auth (order 6) before any ext_proc (100+), and AI
    Gateway's ext_proc is what picks the route (envoyproxy/ai-gateway@v1.1.0
    internal/extensionserver/post_translate_modify.go, internal/extproc/processor_impl.go: sets
    x-ai-eg-model from the body, ClearRouteCache). The allow-list is RBAC (order 301, after that ext_proc),
    on the forwarded client ID and the model header; anything else is denied."""
    objects = _objects()
    (policy,) = [o for o in objects if o["kind"] == "SecurityPolicy"]
    spec = policy["spec"]
    assert spec["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "llm-gateway"}]
    assert [c["name"] for c in spec["apiKeyAuth"]["credentialRefs"]] == ["tenant-team-a", "tenant-team-b"]
    assert (
        spec["apiKeyAuth"]["extractFrom"],
        spec["apiKeyAuth"]["forwardClientIDHeader"],
        spec["apiKeyAuth"]["sanitize"],
    ) == ([{"headers": ["x-api-key"]}], "x-tenant-id", True)
    assert spec["authorization"] == {
        "defaultAction": "Deny",
        "rules": [
            {
                "name": "team-a",
                "action": "Allow",
                "principal": {
                    "headers": [
                        {"name": "x-tenant-id", "values": ["team-a"]},
                        {"name": "x-ai-eg-model", "values": ["Qwen3-4B-Instruct-2507"]},
                    ]
                },
            },
            {
                "name": "team-b",
                "action": "Allow",
                "principal": {"headers": [{"name": "x-tenant-id", "values": ["team-b"]}]},
            },
        ],
    }
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "tenant-team-a")
    assert secret["metadata"]["labels"]["llm-serving/tier"] == "free"
    assert secret["stringData"] == {"team-a": "key-a"}


def test_a_tenant_whose_models_are_not_routed_gets_no_allow_rule():
    # OME has no Service the gateway can name: team-a's only model is not routed, so only team-b is allowed.
    spec = gateway(
        tenants=[
            {"name": "team-a", "tier": "free", "models": ["qwen3-4b-vllm"]},
            {"name": "team-b", "tier": "enterprise"},
        ]
    )
    routes = [u for u in config.upstreams(endpoints(), PlatformSpec()) if u.endpoint != "qwen3-4b-vllm"]
    (policy,) = [o for o in render.render(spec, routes) if o["kind"] == "SecurityPolicy"]
    assert [r["name"] for r in policy["spec"]["authorization"]["rules"]] == ["team-b"]


def test_a_clients_own_tenant_header_is_removed_before_authentication():
    """ClientTrafficPolicy headers.earlyRequestHeaders runs as the HCM's early header mutation, before
    routing and every HTTP filter (envoyproxy/gateway@v1.8.1 api/v1alpha1/clienttrafficpolicy_types.go
    EarlyRequestHeaders, internal/xds/translator/listener.go buildEarlyHeaderMutation)."""
    (policy,) = [o for o in _objects() if o["kind"] == "ClientTrafficPolicy"]
    assert policy["spec"] == {
        "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "llm-gateway"}],
        "headers": {"earlyRequestHeaders": {"remove": ["x-tenant-id"]}},
    }


def test_upstream_call_reuses_the_endpoints_own_key():
    objects = _objects()
    bsp = [o for o in objects if o["kind"] == "BackendSecurityPolicy"]
    assert [
        (b["spec"]["type"], b["spec"]["apiKey"]["secretRef"]["name"], b["spec"]["targetRefs"][0]["name"]) for b in bsp
    ] == [("APIKey", "qwen3-4b-vllm-upstream-key", "qwen3-4b-vllm")]
    copy = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "qwen3-4b-vllm-upstream-key")
    assert copy["stringData"] == {"apiKey": "endpoint-key"}


def test_public_gateway_ingress_has_the_certificate():
    annotations = render.ingress(gateway())["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == CERT


def test_alb_health_checks_envoys_readiness_listener_on_the_pod():
    """Envoy Gateway v1.8.1 serves readiness on 19003 /ready (envoyproxy/gateway@v1.8.1
    internal/xds/bootstrap/bootstrap.go EnvoyReadinessPort, EnvoyReadinessPath; the proxy's probes in
    internal/infrastructure/kubernetes/proxy/resource.go); 19001 is its stats port. With target-type ip the
    ALB checks each pod IP on that port (kubernetes-sigs/aws-load-balancer-controller@v2.13.4
    pkg/ingress/model_build_target_group.go buildTargetGroupHealthCheckPort), so the ClusterIP Service
    need not carry it."""
    annotations = render.ingress(gateway())["metadata"]["annotations"]
    a = "alb.ingress.kubernetes.io/"
    assert (
        annotations[a + "target-type"],
        annotations[a + "healthcheck-port"],
        annotations[a + "healthcheck-path"],
        annotations[a + "healthcheck-protocol"],
    ) == ("ip", "19003", "/ready", "HTTP")
