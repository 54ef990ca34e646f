"""Every gateway object as a plain manifest (docs/gateway.md "What the stack declares").

Upstream shapes: envoyproxy/ai-gateway v1.1.0 `examples/token_ratelimit/token_ratelimit.yaml` (Gateway,
AIGatewayRoute with `llmRequestCosts`, AIServiceBackend, Backend, BackendTrafficPolicy charging
`cost.response` from metadata `io.envoy.ai_gateway`), `site/versioned_docs/version-1.1/capabilities/
traffic/usage-based-ratelimiting.md`; envoyproxy/gateway v1.8.1 `site/content/en/latest/tasks/security/
apikey-auth.md` (SecurityPolicy `apiKeyAuth`: Opaque Secret, data key = client ID, value = key without
`Bearer`). Secret values are opaque inputs (Pulumi secrets in the component), never read here.

Who may call what (docs/gateway.md "Who may call what"): one SecurityPolicy on the Gateway authenticates
every tenant and holds each tenant's model allow-list as `authorization` rules on the forwarded client ID
and `x-ai-eg-model`. Envoy Gateway v1.8.1 orders api_key_auth (6) before ext_proc (100+) and RBAC (301)
(envoyproxy/gateway@v1.8.1 `internal/xds/translator/httpfilters.go`); AI Gateway v1.1.0 inserts its
ext_proc before RBAC, sets `x-ai-eg-model` from the body and clears the route cache
(envoyproxy/ai-gateway@v1.1.0 `internal/extensionserver/post_translate_modify.go`,
`internal/extproc/processor_impl.go`). So the key is checked once, whatever route Envoy first matched,
and the allow-list is judged on the model that picks the route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import inference_pool
from .. import ingress as ingress_rules
from ..spec import GatewaySpec, GatewayTier
from ..tls import OPT_OUT_ANNOTATION, listener_annotations
from .charts import EG_NAMESPACE, REDIS_AUTH_KEY, REDIS_AUTH_SECRET
from .config import Upstream, backend_spec, tenant_models, tenant_secret_name, tier_of

NAME = "llm-gateway"  # GatewayClass, Gateway, EnvoyProxy, the Envoy Service and its Ingress
TIER_LABEL = "llm-serving/tier"
TENANT_LABEL = "llm-serving/tenant"
PART_OF = {"app.kubernetes.io/part-of": NAME, "app.kubernetes.io/managed-by": "pulumi"}
KEY_HEADER = "x-api-key"
CLIENT_ID_HEADER = "x-tenant-id"
MODEL_HEADER = "x-ai-eg-model"  # AI Gateway sets it from the request body's `model`
COST_NAMESPACE = "io.envoy.ai_gateway"
TOTAL_TOKENS = "llm_total_token"
# Envoy's readiness listener, on every address of the pod, and the path of the proxy's probes:
# envoyproxy/gateway@v1.8.1 internal/xds/bootstrap/bootstrap.go (EnvoyReadinessPort, EnvoyReadinessPath),
# internal/infrastructure/kubernetes/proxy/resource.go (container port "readiness", the three probes).
# 19001 is the Prometheus stats port (EnvoyStatsPort).
ENVOY_READY_PORT = 19003
ENVOY_READY_PATH = "/ready"
LISTENER_PORT = 80

EG = "gateway.envoyproxy.io/v1alpha1"
AIGW = "aigateway.envoyproxy.io/v1beta1"
GWAPI = "gateway.networking.k8s.io/v1"


def _meta(name: str, namespace: str | None, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def gateway_objects(spec: GatewaySpec) -> list[dict[str, Any]]:
    """GatewayClass, EnvoyProxy (Envoy's Service: ClusterIP with a fixed name, so the stack's ALB Ingress
    can name it) and the Gateway."""
    ns = spec.namespace
    return [
        {
            "apiVersion": GWAPI,
            "kind": "GatewayClass",
            "metadata": _meta(NAME, None),
            "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
        },
        {
            "apiVersion": EG,
            "kind": "EnvoyProxy",
            "metadata": _meta(NAME, ns),
            "spec": {
                "provider": {"type": "Kubernetes", "kubernetes": {"envoyService": {"type": "ClusterIP", "name": NAME}}}
            },
        },
        {
            "apiVersion": GWAPI,
            "kind": "Gateway",
            "metadata": _meta(NAME, ns),
            "spec": {
                "gatewayClassName": NAME,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": LISTENER_PORT}],
                "infrastructure": {
                    "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": NAME}
                },
            },
        },
    ]


def route_objects(spec: GatewaySpec, up: Upstream) -> list[dict[str, Any]]:
    """One endpoint: Backend (its in-cluster Service), AIServiceBackend, AIGatewayRoute matching its served
    model name and charging total tokens, and, with a key, the BackendSecurityPolicy that injects it. With pool
    routing the route's backendRef is the endpoint's InferencePool instead of a Backend (the Gateway's
    SecurityPolicy and BackendTrafficPolicy still hold every request; the pool's picker then picks the replica),
    the key's policy targets the pool in the pool's namespace, where AI Gateway looks for it
    (envoyproxy/ai-gateway@v1.1.0 internal/controller/gateway.go getBSPForInferencePool), and a ReferenceGrant there
    lets the route name it."""
    ns = spec.namespace
    labels = {"app.kubernetes.io/name": up.name}
    out: list[dict[str, Any]] = []
    if up.pool:
        ref: dict[str, Any] = {"group": inference_pool.POOL_GROUP, "kind": "InferencePool", "name": up.pool}
        if up.namespace != ns:
            ref["namespace"] = up.namespace
            grant = inference_pool.reference_grant(up.pool, up.namespace, ns)
            out.append({**grant, "metadata": {**grant["metadata"], "labels": {**PART_OF, **labels}}})
        target = {"group": inference_pool.POOL_GROUP, "kind": "InferencePool", "name": up.pool}
        key_ns = up.namespace
    else:
        ref = {"name": up.name}
        out += [
            {
                "apiVersion": EG,
                "kind": "Backend",
                "metadata": _meta(up.name, ns, labels),
                "spec": backend_spec(up.host, up.port),
            },
            {
                "apiVersion": AIGW,
                "kind": "AIServiceBackend",
                "metadata": _meta(up.name, ns, labels),
                "spec": {
                    "schema": {"name": "OpenAI"},
                    "backendRef": {"name": up.name, "kind": "Backend", "group": "gateway.envoyproxy.io"},
                },
            },
        ]
        target = {"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": up.name}
        key_ns = ns
    out.append(
        {
            "apiVersion": AIGW,
            "kind": "AIGatewayRoute",
            "metadata": _meta(up.name, ns, labels),
            "spec": {
                "parentRefs": [{"name": NAME, "kind": "Gateway", "group": "gateway.networking.k8s.io"}],
                "rules": [
                    {
                        "matches": [
                            {"headers": [{"type": "Exact", "name": MODEL_HEADER, "value": up.served_model_name}]}
                        ],
                        "backendRefs": [ref],
                    }
                ],
                "llmRequestCosts": [{"metadataKey": TOTAL_TOKENS, "type": "TotalToken"}],
            },
        }
    )
    if up.api_key_secret:
        out.append(
            {
                "apiVersion": AIGW,
                "kind": "BackendSecurityPolicy",
                "metadata": _meta(upstream_key_secret(up), key_ns, labels),
                "spec": {
                    "type": "APIKey",
                    "apiKey": {"secretRef": {"name": upstream_key_secret(up)}},
                    "targetRefs": [target],
                },
            }
        )
    return out


def upstream_key_secret(up: Upstream) -> str:
    return f"{up.name}-upstream-key"


def upstream_key_object(spec: GatewaySpec, up: Upstream, value: Any) -> dict[str, Any]:
    """The endpoint's own key (G9), copied into the gateway's namespace under `apiKey`, the key
    BackendSecurityPolicy reads (its CRD: "The key of the secret should be \"apiKey\"")."""
    namespace = up.namespace if up.pool else spec.namespace  # beside the policy that reads it (route_objects)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(upstream_key_secret(up), namespace),
        "type": "Opaque",
        "stringData": {"apiKey": value},
    }


def tenant_key_object(spec: GatewaySpec, tenant_index: int, value: Any) -> dict[str, Any]:
    """The tenant's key: data key = client ID = tenant name, labelled with its tier."""
    tenant = spec.tenants[tenant_index]
    labels = {TIER_LABEL: tenant.tier, TENANT_LABEL: tenant.name}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(tenant_secret_name(tenant.name), spec.namespace, labels),
        "type": "Opaque",
        "stringData": {tenant.name: value},
    }


def allowed_tenants(spec: GatewaySpec, up: Upstream, routes: Sequence[Upstream]) -> list[str]:
    return [t.name for i, t in enumerate(spec.tenants) if up in tenant_models(spec, i, routes)]


def allow_rules(spec: GatewaySpec, routes: Sequence[Upstream]) -> list[dict[str, Any]]:
    """One Allow rule per tenant: its client ID and, when it lists `models`, the served model names of
    those routes (what AI Gateway writes into `x-ai-eg-model` and the routes match on). A tenant none of
    whose models is routed gets no rule: the default action refuses it."""
    rules: list[dict[str, Any]] = []
    for i, tenant in enumerate(spec.tenants):
        headers = [{"name": CLIENT_ID_HEADER, "values": [tenant.name]}]
        if tenant.models is not None:
            models = list(dict.fromkeys(u.served_model_name for u in tenant_models(spec, i, routes)))
            if not models:
                continue
            headers.append({"name": MODEL_HEADER, "values": models})
        rules.append({"name": tenant.name, "action": "Allow", "principal": {"headers": headers}})
    return rules


def _gateway_policy(spec: GatewaySpec, kind: str, suffix: str, body: dict[str, Any]) -> dict[str, Any]:
    """An Envoy Gateway policy attached to the one Gateway (only one policy of a kind may target it)."""
    return {
        "apiVersion": EG,
        "kind": kind,
        "metadata": _meta(f"{NAME}-{suffix}", spec.namespace),
        "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": NAME}], **body},
    }


def security_policy(spec: GatewaySpec, routes: Sequence[Upstream]) -> dict[str, Any]:
    """The Gateway's one SecurityPolicy: every tenant's key (read from `x-api-key`, stripped before the
    upstream; the client ID forwarded as `x-tenant-id`, the rate-limit key), and the tenants' model
    allow-lists, anything else refused (403)."""
    return _gateway_policy(
        spec,
        "SecurityPolicy",
        "tenants",
        {
            "apiKeyAuth": {
                "credentialRefs": [
                    {"group": "", "kind": "Secret", "name": tenant_secret_name(t.name)} for t in spec.tenants
                ],
                "extractFrom": [{"headers": [KEY_HEADER]}],
                "forwardClientIDHeader": CLIENT_ID_HEADER,
                "sanitize": True,
            },
            "authorization": {"defaultAction": "Deny", "rules": allow_rules(spec, routes)},
        },
    )


def client_policy(spec: GatewaySpec) -> dict[str, Any]:
    """The Gateway's ClientTrafficPolicy: a client's own `x-tenant-id` is removed as the request arrives
    (HCM early header mutation, before routing and every HTTP filter: envoyproxy/gateway@v1.8.1
    api/v1alpha1/clienttrafficpolicy_types.go EarlyRequestHeaders, internal/xds/translator/listener.go
    buildEarlyHeaderMutation), so only api_key_auth sets it and nobody picks another tenant's bucket."""
    return _gateway_policy(
        spec, "ClientTrafficPolicy", "clients", {"headers": {"earlyRequestHeaders": {"remove": [CLIENT_ID_HEADER]}}}
    )


def _selector(tenant: str) -> list[dict[str, Any]]:
    return [{"headers": [{"name": CLIENT_ID_HEADER, "type": "Exact", "value": tenant}]}]


def limit_rules(tier: GatewayTier, tenant: str) -> list[dict[str, Any]]:
    """One tenant's rules: its tier's token budget (request cost 0, response cost = total tokens: admitted
    while the budget is not spent, charged when the response ends) and, if set, its request budget."""
    rules: list[dict[str, Any]] = []
    if tier.tokens_per_minute is not None:
        rules.append(
            {
                "clientSelectors": _selector(tenant),
                "limit": {"requests": tier.tokens_per_minute, "unit": "Minute"},
                "cost": {
                    "request": {"from": "Number", "number": 0},
                    "response": {"from": "Metadata", "metadata": {"namespace": COST_NAMESPACE, "key": TOTAL_TOKENS}},
                },
            }
        )
    if tier.requests_per_minute is not None:
        rules.append(
            {"clientSelectors": _selector(tenant), "limit": {"requests": tier.requests_per_minute, "unit": "Minute"}}
        )
    return rules


def limit_policy(spec: GatewaySpec) -> dict[str, Any]:
    """One BackendTrafficPolicy on the Gateway (Envoy Gateway honours one per target), the rules grouped
    by tier in the order of `tiers`, one bucket per tenant."""
    rules: list[dict[str, Any]] = []
    for tier in spec.tiers:
        for tenant in spec.tenants:
            if tenant.tier == tier.name:
                rules += limit_rules(tier, tenant.name)
    return _gateway_policy(
        spec, "BackendTrafficPolicy", "limits", {"rateLimit": {"type": "Global", "global": {"rules": rules}}}
    )


def ingress(
    spec: GatewaySpec,
    tags: Mapping[str, str] | None = None,
    idle_timeout_seconds: int = 600,
    allow_plaintext: bool = False,
) -> dict[str, Any]:
    """The ALB in front of Envoy's Service; health-checked on Envoy's readiness listener, since every
    route of the listener answers 401 without a key. With target-type ip the targets are the Envoy pods'
    IPs and a numeric healthcheck-port is used as given, so the ClusterIP Service need not expose 19003;
    the controller opens its backend security group to the pods on the traffic and the health-check port
    (kubernetes-sigs/aws-load-balancer-controller@v2.13.4 pkg/ingress/model_build_target_group.go
    buildTargetGroupHealthCheckPort, buildTargetGroupBindingNetworking). `allow_plaintext`
    (platform.ingress.allowPlaintextApiKey) marks a public ALB without a certificate for the stack policy,
    as endpoint Ingresses are (T3/S2)."""
    a = "alb.ingress.kubernetes.io/"
    annotations = {
        a + "scheme": "internet-facing" if spec.public else "internal",
        a + "target-type": "ip",
        a + "backend-protocol": "HTTP",
        a + "healthcheck-port": str(ENVOY_READY_PORT),
        a + "healthcheck-path": ENVOY_READY_PATH,
        a + "healthcheck-protocol": "HTTP",
        a + "success-codes": "200",
        a + "load-balancer-attributes": f"idle_timeout.timeout_seconds={idle_timeout_seconds}",
    }
    annotations.update(listener_annotations(spec.certificate_arn))
    if not spec.certificate_arn and spec.public and allow_plaintext:
        annotations[OPT_OUT_ANNOTATION] = "true"
    if spec.public and spec.inbound_cidrs:
        annotations[a + "inbound-cidrs"] = ",".join(spec.inbound_cidrs)
    if tags:
        annotations[a + "tags"] = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return ingress_rules.alb_ingress(
        NAME, EG_NAMESPACE, {**PART_OF, "app.kubernetes.io/name": NAME}, annotations, NAME, LISTENER_PORT
    )


def redis_auth_object(value: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(REDIS_AUTH_SECRET, EG_NAMESPACE),
        "type": "Opaque",
        "stringData": {REDIS_AUTH_KEY: value},
    }


def render(
    spec: GatewaySpec,
    routes: Sequence[Upstream],
    tenant_keys: Sequence[Any] = (),
    upstream_keys: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every object in the gateway's namespace (plus the GatewayClass), in declaration order: Secrets
    first (policies name them), then the Gateway and its client policy, the routes, the Gateway's
    SecurityPolicy and the limit policy. Routes no tenant may call are not rendered."""
    keys = list(tenant_keys) or ["" for _ in spec.tenants]
    out = [tenant_key_object(spec, i, keys[i]) for i in range(len(spec.tenants))]
    served = [u for u in routes if allowed_tenants(spec, u, routes)]
    for up in served:
        if up.api_key_secret:
            out.append(upstream_key_object(spec, up, (upstream_keys or {}).get(up.endpoint, "")))
    out += gateway_objects(spec)
    out.append(client_policy(spec))
    for up in served:
        out += route_objects(spec, up)
    out.append(security_policy(spec, served))
    out.append(limit_policy(spec))
    return out


def tier_table(spec: GatewaySpec) -> dict[str, dict[str, int | None]]:
    """tenant -> {tokensPerMinute, requestsPerMinute}: what the limiter (and a test of it) applies."""
    out = {}
    for t in spec.tenants:
        tier = tier_of(spec, t.tier)
        out[t.name] = {
            "tokensPerMinute": tier.tokens_per_minute if tier else None,
            "requestsPerMinute": tier.requests_per_minute if tier else None,
        }
    return out
