"""Every gateway object as a plain manifest (docs/gateway.md "What the stack declares").

Upstream shapes: envoyproxy/ai-gateway v1.1.0 `examples/token_ratelimit/token_ratelimit.yaml` (Gateway,
AIGatewayRoute with `llmRequestCosts`, AIServiceBackend, Backend, BackendTrafficPolicy charging
`cost.response` from metadata `io.envoy.ai_gateway`), `site/versioned_docs/version-1.1/capabilities/
traffic/usage-based-ratelimiting.md`; envoyproxy/gateway v1.8.1 `site/content/en/latest/tasks/security/
apikey-auth.md` (SecurityPolicy `apiKeyAuth`: Opaque Secret, data key = client ID, value = key without
`Bearer`). Secret values are opaque inputs (Pulumi secrets in the component), never read here.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from .. import ingress as ingress_rules
from ..tls import OPT_OUT_ANNOTATION, listener_annotations
from ..spec import GatewaySpec, GatewayTier
from .charts import EG_NAMESPACE, REDIS_AUTH_KEY, REDIS_AUTH_SECRET
from .config import Upstream, tenant_models, tenant_secret_name, tier_of

NAME = "llm-gateway"  # GatewayClass, Gateway, EnvoyProxy, the Envoy Service and its Ingress
TIER_LABEL = "llm-serving/tier"
TENANT_LABEL = "llm-serving/tenant"
PART_OF = {"app.kubernetes.io/part-of": NAME, "app.kubernetes.io/managed-by": "pulumi"}
KEY_HEADER = "x-api-key"
CLIENT_ID_HEADER = "x-tenant-id"
MODEL_HEADER = "x-ai-eg-model"  # AI Gateway sets it from the request body's `model`
COST_NAMESPACE = "io.envoy.ai_gateway"
TOTAL_TOKENS = "llm_total_token"
ENVOY_READY_PORT = 19001  # Envoy Gateway's proxy readiness listener (/ready)
LISTENER_PORT = 80

EG = "gateway.envoyproxy.io/v1alpha1"
AIGW = "aigateway.envoyproxy.io/v1beta1"
GWAPI = "gateway.networking.k8s.io/v1"


def _meta(name: str, namespace: Optional[str], labels: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def gateway_objects(spec: GatewaySpec) -> list[dict[str, Any]]:
    """GatewayClass, EnvoyProxy (Envoy's Service: ClusterIP with a fixed name, so the stack's ALB Ingress
    can name it) and the Gateway."""
    ns = spec.namespace
    return [
        {"apiVersion": GWAPI, "kind": "GatewayClass", "metadata": _meta(NAME, None), "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"}},
        {
            "apiVersion": EG,
            "kind": "EnvoyProxy",
            "metadata": _meta(NAME, ns),
            "spec": {"provider": {"type": "Kubernetes", "kubernetes": {"envoyService": {"type": "ClusterIP", "name": NAME}}}},
        },
        {
            "apiVersion": GWAPI,
            "kind": "Gateway",
            "metadata": _meta(NAME, ns),
            "spec": {
                "gatewayClassName": NAME,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": LISTENER_PORT}],
                "infrastructure": {"parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": NAME}},
            },
        },
    ]


def route_objects(spec: GatewaySpec, up: Upstream) -> list[dict[str, Any]]:
    """One endpoint: Backend (its in-cluster Service), AIServiceBackend, AIGatewayRoute matching its served
    model name and charging total tokens, and, with a key, the BackendSecurityPolicy that injects it."""
    ns = spec.namespace
    labels = {"app.kubernetes.io/name": up.name}
    out: list[dict[str, Any]] = [
        {"apiVersion": EG, "kind": "Backend", "metadata": _meta(up.name, ns, labels), "spec": {"endpoints": [{"fqdn": {"hostname": up.host, "port": up.port}}]}},
        {
            "apiVersion": AIGW,
            "kind": "AIServiceBackend",
            "metadata": _meta(up.name, ns, labels),
            "spec": {"schema": {"name": "OpenAI"}, "backendRef": {"name": up.name, "kind": "Backend", "group": "gateway.envoyproxy.io"}},
        },
        {
            "apiVersion": AIGW,
            "kind": "AIGatewayRoute",
            "metadata": _meta(up.name, ns, labels),
            "spec": {
                "parentRefs": [{"name": NAME, "kind": "Gateway", "group": "gateway.networking.k8s.io"}],
                "rules": [{"matches": [{"headers": [{"type": "Exact", "name": MODEL_HEADER, "value": up.served_model_name}]}], "backendRefs": [{"name": up.name}]}],
                "llmRequestCosts": [{"metadataKey": TOTAL_TOKENS, "type": "TotalToken"}],
            },
        },
    ]
    if up.api_key_secret:
        out.append(
            {
                "apiVersion": AIGW,
                "kind": "BackendSecurityPolicy",
                "metadata": _meta(upstream_key_secret(up), ns, labels),
                "spec": {
                    "type": "APIKey",
                    "apiKey": {"secretRef": {"name": upstream_key_secret(up)}},
                    "targetRefs": [{"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": up.name}],
                },
            }
        )
    return out


def upstream_key_secret(up: Upstream) -> str:
    return f"{up.name}-upstream-key"


def upstream_key_object(spec: GatewaySpec, up: Upstream, value: Any) -> dict[str, Any]:
    """The endpoint's own key (G9), copied into the gateway's namespace under `apiKey`, the key
    BackendSecurityPolicy reads (its CRD: "The key of the secret should be \"apiKey\"")."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(upstream_key_secret(up), spec.namespace), "type": "Opaque", "stringData": {"apiKey": value}}


def tenant_key_object(spec: GatewaySpec, tenant_index: int, value: Any) -> dict[str, Any]:
    """The tenant's key: data key = client ID = tenant name, labelled with its tier."""
    tenant = spec.tenants[tenant_index]
    labels = {TIER_LABEL: tenant.tier, TENANT_LABEL: tenant.name}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(tenant_secret_name(tenant.name), spec.namespace, labels), "type": "Opaque", "stringData": {tenant.name: value}}


def allowed_tenants(spec: GatewaySpec, up: Upstream, routes: Sequence[Upstream]) -> list[str]:
    return [t.name for i, t in enumerate(spec.tenants) if up in tenant_models(spec, i, routes)]


def security_policy(spec: GatewaySpec, up: Upstream, tenants: Sequence[str]) -> dict[str, Any]:
    """Who may call one route: the keys of `tenants`; the client ID goes upstream as `x-tenant-id` (the
    rate-limit key) and the key itself is stripped."""
    return {
        "apiVersion": EG,
        "kind": "SecurityPolicy",
        "metadata": _meta(f"{up.name}-tenants", spec.namespace, {"app.kubernetes.io/name": up.name}),
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": up.name}],
            "apiKeyAuth": {
                "credentialRefs": [{"group": "", "kind": "Secret", "name": tenant_secret_name(t)} for t in tenants],
                "extractFrom": [{"headers": [KEY_HEADER]}],
                "forwardClientIDHeader": CLIENT_ID_HEADER,
                "sanitize": True,
            },
        },
    }


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
                "cost": {"request": {"from": "Number", "number": 0}, "response": {"from": "Metadata", "metadata": {"namespace": COST_NAMESPACE, "key": TOTAL_TOKENS}}},
            }
        )
    if tier.requests_per_minute is not None:
        rules.append({"clientSelectors": _selector(tenant), "limit": {"requests": tier.requests_per_minute, "unit": "Minute"}})
    return rules


def limit_policy(spec: GatewaySpec) -> dict[str, Any]:
    """One BackendTrafficPolicy on the Gateway (Envoy Gateway honours one per target), the rules grouped
    by tier in the order of `tiers`, one bucket per tenant."""
    rules: list[dict[str, Any]] = []
    for tier in spec.tiers:
        for tenant in spec.tenants:
            if tenant.tier == tier.name:
                rules += limit_rules(tier, tenant.name)
    return {
        "apiVersion": EG,
        "kind": "BackendTrafficPolicy",
        "metadata": _meta(f"{NAME}-limits", spec.namespace),
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": NAME}],
            "rateLimit": {"type": "Global", "global": {"rules": rules}},
        },
    }


def ingress(spec: GatewaySpec, tags: Optional[Mapping[str, str]] = None, idle_timeout_seconds: int = 600, allow_plaintext: bool = False) -> dict[str, Any]:
    """The ALB in front of Envoy's Service; health-checked on Envoy's readiness port, since every route
    of the listener answers 401 without a key. `allow_plaintext` (platform.ingress.allowPlaintextApiKey)
    marks a public ALB without a certificate for the stack policy, as endpoint Ingresses are (T3/S2)."""
    a = "alb.ingress.kubernetes.io/"
    annotations = {
        a + "scheme": "internet-facing" if spec.public else "internal",
        a + "target-type": "ip",
        a + "backend-protocol": "HTTP",
        a + "healthcheck-port": str(ENVOY_READY_PORT),
        a + "healthcheck-path": "/ready",
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
    return ingress_rules.alb_ingress(NAME, EG_NAMESPACE, {**PART_OF, "app.kubernetes.io/name": NAME}, annotations, NAME, LISTENER_PORT)


def redis_auth_object(value: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(REDIS_AUTH_SECRET, EG_NAMESPACE), "type": "Opaque", "stringData": {REDIS_AUTH_KEY: value}}


def render(spec: GatewaySpec, routes: Sequence[Upstream], tenant_keys: Sequence[Any] = (), upstream_keys: Optional[Mapping[str, Any]] = None) -> list[dict[str, Any]]:
    """Every object in the gateway's namespace (plus the GatewayClass), in declaration order: Secrets
    first (policies name them), then the Gateway, routes, route policies and the limit policy. Routes no
    tenant may call are not rendered (an unkeyed route would be open)."""
    keys = list(tenant_keys) or ["" for _ in spec.tenants]
    out = [tenant_key_object(spec, i, keys[i]) for i in range(len(spec.tenants))]
    served = [u for u in routes if allowed_tenants(spec, u, routes)]
    for up in served:
        if up.api_key_secret:
            out.append(upstream_key_object(spec, up, (upstream_keys or {}).get(up.endpoint, "")))
    out += gateway_objects(spec)
    for up in served:
        out += route_objects(spec, up)
        out.append(security_policy(spec, up, allowed_tenants(spec, up, routes)))
    out.append(limit_policy(spec))
    return out


def tier_table(spec: GatewaySpec) -> dict[str, dict[str, Optional[int]]]:
    """tenant -> {tokensPerMinute, requestsPerMinute}: what the limiter (and a test of it) applies."""
    out = {}
    for t in spec.tenants:
        tier = tier_of(spec, t.tier)
        out[t.name] = {"tokensPerMinute": tier.tokens_per_minute if tier else None, "requestsPerMinute": tier.requests_per_minute if tier else None}
    return out
