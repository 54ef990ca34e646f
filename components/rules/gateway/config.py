"""`llm-serving:gateway` against the stack: rules T1-T3 at config time, and the facts rendering needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .. import security
from ..addons import OPERATOR_NAMESPACE
from ..backends import kserve
from ..backends.front import SERVICE_PORT
from ..catalog import T1, T2, T3
from ..endpoint import resolve
from ..naming import fit, MAX_NAME
from ..paths import STACK_FILE, ConfigPaths
from ..problems import Problem
from ..spec import EndpointSpec, GatewaySpec, GatewayTier, PlatformSpec
from ..tls import OPT_OUT_KEY, plaintext_severity


@dataclass(frozen=True)
class Upstream:
    """Where the gateway sends one endpoint's traffic, and the model name clients send."""

    endpoint: str  # endpoints[].name, what tenants list in `models`
    name: str  # Kubernetes name of the endpoint (G1, G2)
    served_model_name: str  # G5: what the route matches (`x-ai-eg-model`, from the body's `model`)
    host: str
    port: int
    api_key_secret: Optional[str]  # the endpoint's own key Secret (G9), None without a key
    namespace: str


def upstream(spec: EndpointSpec, platform: PlatformSpec) -> Optional[Upstream]:
    """The endpoint's in-cluster Service, or None where the stack declares none the gateway could name
    (a HyperPod endpoint without the router, whose Service the operator makes; OME, whose Service
    name is its own)."""
    r = resolve(spec)
    backend = spec.backend
    if backend == "kubernetes":
        host = f"{r.name}.{r.namespace}.svc.cluster.local"
        port = SERVICE_PORT
    elif backend == "kserve":
        host = f"{kserve.gateway_service_name(spec)}.{r.namespace}.svc.cluster.local"
        port = SERVICE_PORT
    elif backend == "hyperpod" and spec.intelligent_routing:
        service = platform.ingress.router_service.replace("{name}", r.name)
        host = f"{service}.{OPERATOR_NAMESPACE}.svc.cluster.local"
        port = platform.ingress.router_port
    else:
        return None
    return Upstream(spec.name, r.name, r.served_model_name, host, port, r.api_key_secret if spec.api_key else None, r.namespace)


def upstreams(endpoints: Sequence[EndpointSpec], platform: PlatformSpec) -> list[Upstream]:
    return [u for ep in endpoints if (u := upstream(ep, platform)) is not None]


def tier_of(spec: GatewaySpec, name: str) -> Optional[GatewayTier]:
    return next((t for t in spec.tiers if t.name == name), None)


def tenant_models(spec: GatewaySpec, tenant_index: int, routes: Sequence[Upstream]) -> list[Upstream]:
    """The routes one tenant may call: its `models`, or every route."""
    allowed = spec.tenants[tenant_index].models
    return [u for u in routes if allowed is None or u.endpoint in allowed]


def counter_store(spec: GatewaySpec, stack: Optional[str]) -> str:
    """`in-cluster` on dev stacks, `elasticache` elsewhere, unless set."""
    if spec.counter_store:
        return spec.counter_store
    return "in-cluster" if security.is_dev_stack(stack, security.DEFAULT_DEV_STACKS) else "elasticache"


def tenant_secret_name(tenant: str) -> str:
    return fit(f"tenant-{tenant}", MAX_NAME)


def validate_gateway(spec: GatewaySpec, endpoints: Sequence[EndpointSpec], platform: PlatformSpec, stack: Optional[str] = None, paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    """T1 (tier without a token limit), T2 (unknown tier or model), T3 (public without TLS), and the
    structural errors (duplicate names, no tier, no tenant). Nothing is judged while `enabled` is false.
    `stack` is the Pulumi stack name: T3 takes S2's verdict (tls.plaintext_severity), so a dev stack's
    allowPlaintextApiKey makes it a warning."""
    if not spec.enabled:
        return []
    where = paths.gateway
    problems: list[Problem] = []
    if spec.public and not spec.certificate_arn:
        severity = plaintext_severity(platform.ingress.allow_plaintext_api_key, stack)
        why = f" ({OPT_OUT_KEY} is set: dev stack {stack!r} only)" if severity == "warning" else ""
        problems.append(Problem(f"{where}.certificateArn", None, T3, f"a public gateway carries tenant API keys and would take them over plain HTTP{why}", f"set {where}.certificateArn to an ACM certificate, or {where}.public: false", severity=severity))
    if not spec.tiers:
        problems.append(Problem(f"{where}.tiers", [], T1, "the gateway has no tier, so no key has a limit", "add tiers, e.g. [{name: free, tokensPerMinute: 200}]"))
    if not spec.tenants:
        problems.append(Problem(f"{where}.tenants", [], "CONFIG", "the gateway has no tenant, so nobody can call it", "add tenants, e.g. [{name: team-a, tier: free}]"))
    for kind, names in (("tiers", [t.name for t in spec.tiers]), ("tenants", [t.name for t in spec.tenants])):
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(Problem(f"{where}.{kind}[{i}].name", name, "CONFIG", f"two {kind} are named {name!r}", "give each a unique name"))
    for i, tier in enumerate(spec.tiers):
        if tier.tokens_per_minute is None:
            problems.append(Problem(f"{where}.tiers[{i}].tokensPerMinute", None, T1, f"tier {tier.name!r} has no token limit, so its keys are unlimited", "set tokensPerMinute, e.g. 1000"))
    known = {ep.name for ep in endpoints}
    routable = {u.endpoint for u in upstreams(endpoints, platform)}
    tiers = [t.name for t in spec.tiers]
    for i, tenant in enumerate(spec.tenants):
        if tenant.tier not in tiers:
            problems.append(Problem(f"{where}.tenants[{i}].tier", tenant.tier, T2, f"tenant {tenant.name!r} is on a tier that is not declared", f"use one of {tiers} or add the tier"))
        for j, model in enumerate(tenant.models or []):
            if model not in known:
                problems.append(Problem(f"{where}.tenants[{i}].models[{j}]", model, T2, f"tenant {tenant.name!r} lists a model that is not an endpoint of this stack", f"use endpoint names: {sorted(known)}"))
            elif model not in routable:
                problems.append(Problem(f"{where}.tenants[{i}].models[{j}]", model, T2, f"endpoint {model!r} has no in-cluster Service the gateway can route to (a HyperPod endpoint without intelligentRouting, or OME)", "enable intelligentRouting on it, or remove it from models"))
    for ep in endpoints:
        if ep.name not in routable:
            problems.append(Problem(f"{where}", ep.name, T2, f"endpoint {ep.name!r} is not behind the gateway: it has no in-cluster Service the gateway can name", "use the kubernetes or kserve backend, or intelligentRouting on hyperpod", severity="warning"))
    return problems
