"""`llm-serving:gateway` against the stack: rules T1-T3 at config time, and the facts rendering needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import inference_pool, namespaces, security
from ..addons import OPERATOR_NAMESPACE
from ..backends import backend_for
from ..catalog import T1, T2, T3
from ..endpoint import resolve
from ..naming import MAX_NAME, fit
from ..paths import STACK_FILE, ConfigPaths
from ..problems import Problem
from ..spec import EndpointSpec, GatewaySpec, GatewayTier, PlatformSpec
from ..tls import OPT_OUT_KEY, plaintext_severity

PATH = "gateway"
# What the gateway's policies hold, from Envoy Gateway's CRDs (envoyproxy/gateway@v1.8.1
# charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_backendtrafficpolicies.yaml and
# gateway.envoyproxy.io_securitypolicies.yaml): the one BackendTrafficPolicy's spec.rateLimit.global.rules
# (one rule per tenant and limit) and an authorization rule's principal.headers[].values (a tenant's served model
# names) are both maxItems 256. The SecurityPolicy's authorization.rules and apiKeyAuth.credentialRefs (one per
# tenant) have no maxItems; every tenant has a token rule (T1), so the rate-limit bound holds them to 256 too.
MAX_RATE_LIMIT_RULES = 256
MAX_HEADER_VALUES = 256


@dataclass(frozen=True)
class Upstream:
    """Where the gateway sends one endpoint's traffic, and the model name clients send."""

    endpoint: str  # endpoints[].name, what tenants list in `models`
    name: str  # Kubernetes name of the endpoint (G1, G2)
    served_model_name: str  # G5: what the route matches (`x-ai-eg-model`, from the body's `model`)
    host: str
    port: int
    api_key_secret: str | None  # the endpoint's own key Secret (G9), None without a key
    namespace: str
    pool: str | None = None  # the endpoint's InferencePool, in `namespace`, with kubernetes.routing: inferencePool


def router_host(service: str) -> str:
    """The in-cluster name of a HyperPod router Service: the operator runs routers in its own namespace."""
    return f"{service}.{OPERATOR_NAMESPACE}.svc.cluster.local"


def backend_spec(host: str, port: int) -> dict[str, Any]:
    """An Envoy Gateway `Backend`'s spec: one FQDN endpoint."""
    return {"endpoints": [{"fqdn": {"hostname": host, "port": port}}]}


def upstream(spec: EndpointSpec, platform: PlatformSpec) -> Upstream | None:
    """The endpoint's in-cluster Service, or None where the stack declares none the gateway could name
    (a HyperPod endpoint without the router, whose Service the operator makes; OME, whose Service
    name is its own)."""
    found = backend_for(spec).upstream(spec, platform)  # each backend's `upstream`
    if found is None:
        return None
    r = resolve(spec)
    pool = inference_pool.names(spec)["pool"] if inference_pool.uses_pool(spec) else None
    return Upstream(
        spec.name,
        r.name,
        r.served_model_name,
        found.host,
        found.port,
        r.api_key_secret if spec.api_key else None,
        r.namespace,
        pool,
    )


def upstreams(endpoints: Sequence[EndpointSpec], platform: PlatformSpec) -> list[Upstream]:
    return [u for ep in endpoints if (u := upstream(ep, platform)) is not None]


def tier_of(spec: GatewaySpec, name: str) -> GatewayTier | None:
    return next((t for t in spec.tiers if t.name == name), None)


def tenant_models(spec: GatewaySpec, tenant_index: int, routes: Sequence[Upstream]) -> list[Upstream]:
    """The routes one tenant may call: its `models`, or every route."""
    allowed = spec.tenants[tenant_index].models
    return [u for u in routes if allowed is None or u.endpoint in allowed]


def counter_store(spec: GatewaySpec, stack: str | None) -> str:
    """`in-cluster` on dev stacks, `elasticache` elsewhere, unless set."""
    if spec.counter_store:
        return spec.counter_store
    return "in-cluster" if security.is_dev_stack(stack, security.DEFAULT_DEV_STACKS) else "elasticache"


def counter_store_problem(spec: GatewaySpec, stack: str | None, builds_vpc: bool) -> Problem | None:
    """ElastiCache needs the VPC and the cluster's security group this stack creates; an endpoints-only stack
    (`platformStack`) or an adopted cluster (`cluster.mode: existing`) creates neither."""
    if builds_vpc or counter_store(spec, stack) != "elasticache":
        return None
    why = "" if spec.counter_store else f" (the default outside dev stacks; stack {stack!r})"
    return Problem(
        f"{PATH}.counterStore",
        "elasticache",
        "CONFIG",
        f"ElastiCache counters{why} need a VPC and a node security group, and this stack builds neither (platformStack, or cluster mode existing)",
        "set gateway.counterStore: in-cluster",
    )


def tenant_secret_name(tenant: str) -> str:
    return fit(f"tenant-{tenant}", MAX_NAME)


def validate_gateway(
    spec: GatewaySpec,
    endpoints: Sequence[EndpointSpec],
    platform: PlatformSpec,
    stack: str | None = None,
    paths: ConfigPaths = STACK_FILE,
    builds_vpc: bool = True,
) -> list[Problem]:
    """T1 (tier without a token limit), T2 (unknown tier or model), T3 (public without TLS), and the
    structural errors (duplicate names, no tier, no tenant, a counter store the stack has no network for, more
    rules than the gateway's policies hold). Nothing is judged while `enabled` is false.
    `stack` is the Pulumi stack name: T3 takes S2's verdict (tls.plaintext_severity), so a dev stack's
    allowPlaintextApiKey makes it a warning. `builds_vpc`: the stack creates the VPC (not `platformStack`, not
    cluster mode `existing`)."""
    if not spec.enabled:
        return []
    where = paths.gateway
    problems: list[Problem] = []
    store = counter_store_problem(spec, stack, builds_vpc)
    if store is not None:
        problems.append(store)
    if spec.public and not spec.certificate_arn:
        severity = plaintext_severity(platform.ingress.allow_plaintext_api_key, stack)
        why = f" ({OPT_OUT_KEY} is set: dev stack {stack!r} only)" if severity == "warning" else ""
        problems.append(
            Problem(
                f"{where}.certificateArn",
                None,
                T3,
                f"a public gateway carries tenant API keys and would take them over plain HTTP{why}",
                f"set {where}.certificateArn to an ACM certificate, or {where}.public: false",
                severity=severity,
            )
        )
    problems += namespaces.check_config(spec.namespace, f"{where}.namespace")
    if not spec.tiers:
        problems.append(
            Problem(
                f"{where}.tiers",
                [],
                T1,
                "the gateway has no tier, so no key has a limit",
                "add tiers, e.g. [{name: free, tokensPerMinute: 200}]",
            )
        )
    if not spec.tenants:
        problems.append(
            Problem(
                f"{where}.tenants",
                [],
                "CONFIG",
                "the gateway has no tenant, so nobody can call it",
                "add tenants, e.g. [{name: team-a, tier: free}]",
            )
        )
    for kind, names in (("tiers", [t.name for t in spec.tiers]), ("tenants", [t.name for t in spec.tenants])):
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(
                    Problem(
                        f"{where}.{kind}[{i}].name",
                        name,
                        "CONFIG",
                        f"two {kind} are named {name!r}",
                        "give each a unique name",
                    )
                )
    for i, tier in enumerate(spec.tiers):
        if tier.tokens_per_minute is None:
            problems.append(
                Problem(
                    f"{where}.tiers[{i}].tokensPerMinute",
                    None,
                    T1,
                    f"tier {tier.name!r} has no token limit, so its keys are unlimited",
                    "set tokensPerMinute, e.g. 1000",
                )
            )
    known = {ep.name for ep in endpoints}
    routes = upstreams(endpoints, platform)
    routable = {u.endpoint for u in routes}
    tiers = [t.name for t in spec.tiers]
    problems += _policy_sizes(spec, routes)
    for i, tenant in enumerate(spec.tenants):
        if tenant.tier not in tiers:
            problems.append(
                Problem(
                    f"{where}.tenants[{i}].tier",
                    tenant.tier,
                    T2,
                    f"tenant {tenant.name!r} is on a tier that is not declared",
                    f"use one of {tiers} or add the tier",
                )
            )
        if tenant.models == []:
            problems.append(
                Problem(
                    f"{where}.tenants[{i}].models",
                    [],
                    T2,
                    f"tenant {tenant.name!r} lists no model, so its key reaches no endpoint",
                    "list the endpoints it may call, or drop `models` for every endpoint",
                    severity="warning",
                )
            )
        for j, model in enumerate(tenant.models or []):
            if model not in known:
                problems.append(
                    Problem(
                        f"{where}.tenants[{i}].models[{j}]",
                        model,
                        T2,
                        f"tenant {tenant.name!r} lists a model that is not an endpoint of this stack",
                        f"use endpoint names: {sorted(known)}",
                    )
                )
            elif model not in routable:
                problems.append(
                    Problem(
                        f"{where}.tenants[{i}].models[{j}]",
                        model,
                        T2,
                        f"endpoint {model!r} has no in-cluster Service the gateway can route to (a HyperPod endpoint without intelligentRouting, or OME)",
                        "enable intelligentRouting on it, or remove it from models",
                    )
                )
    for ep in endpoints:
        if ep.name not in routable:
            problems.append(
                Problem(
                    f"{where}",
                    ep.name,
                    T2,
                    f"endpoint {ep.name!r} is not behind the gateway: it has no in-cluster Service the gateway can name",
                    "use the kubernetes or kserve backend, or intelligentRouting on hyperpod",
                    severity="warning",
                )
            )
    return problems


def rate_limit_rules(spec: GatewaySpec) -> int:
    """Rules the limit policy holds: per tenant, one for its tier's token limit and one for its request limit."""
    count = 0
    for tenant in spec.tenants:
        tier = tier_of(spec, tenant.tier)
        count += 0 if tier is None else (tier.tokens_per_minute is not None) + (tier.requests_per_minute is not None)
    return count


def _policy_sizes(spec: GatewaySpec, routes: Sequence[Upstream]) -> list[Problem]:
    """The gateway's limit and security policies within their CRDs' maxItems (an API server refuses the object
    otherwise, in one error line as long as the whole list)."""
    problems = []
    rules = rate_limit_rules(spec)
    if rules > MAX_RATE_LIMIT_RULES:
        problems.append(
            Problem(
                f"{PATH}.tenants",
                f"{len(spec.tenants)} tenants",
                "CONFIG",
                f"their tiers need {rules} rate-limit rules (one per tenant for tokensPerMinute, one more for requestsPerMinute), more than the "
                f"{MAX_RATE_LIMIT_RULES} the gateway's one BackendTrafficPolicy holds (Envoy Gateway CRD: rateLimit.global.rules maxItems {MAX_RATE_LIMIT_RULES})",
                f"keep it to {MAX_RATE_LIMIT_RULES} rules: fewer tenants, or no requestsPerMinute on the biggest tiers (one rule per tenant)",
            )
        )
    for i, tenant in enumerate(spec.tenants):
        models = {u.served_model_name for u in tenant_models(spec, i, routes)} if tenant.models is not None else set()
        if len(models) > MAX_HEADER_VALUES:
            problems.append(
                Problem(
                    f"{PATH}.tenants[{i}].models",
                    f"{len(tenant.models or [])} models",
                    "CONFIG",
                    f"tenant {tenant.name!r} may call {len(models)} served model names, more than the {MAX_HEADER_VALUES} one authorization rule matches "
                    f"(Envoy Gateway CRD: SecurityPolicy principal.headers[].values maxItems {MAX_HEADER_VALUES})",
                    "drop `models` (every endpoint) or list fewer endpoints",
                )
            )
    return problems
