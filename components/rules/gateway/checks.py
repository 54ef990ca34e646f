"""Stack checks over the rendered gateway objects (T1-T3), for the policy pack and the offline plan:
the same rules as config validation, judged on what is declared, hand-written objects included."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..catalog import T1, T2, T3
from ..dev_stacks import DEFAULT_DEV_STACKS
from ..problems import Problem
from ..resources import Resource, get
from ..tls import CERTIFICATE_ANNOTATION as CERTIFICATE
from ..tls import OPT_OUT_ANNOTATION, plaintext_severity, terminates_tls
from .render import CLIENT_ID_HEADER, COST_NAMESPACE, MODEL_HEADER, PART_OF, TENANT_LABEL, TIER_LABEL

Finding = tuple[Resource, Problem]
SCHEME = "alb.ingress.kubernetes.io/scheme"


def _of_kind(resources: Iterable[Resource], kind: str) -> list[tuple[Resource, dict[str, Any]]]:
    return [(r, m) for r in resources if (m := r.manifest) is not None and m.get("kind") == kind]


def _labels(m: dict[str, Any]) -> dict[str, Any]:
    value = get(m, "metadata", "labels")
    return value if isinstance(value, dict) else {}


def _token_limited(policies: list[tuple[Resource, dict[str, Any]]]) -> set[str]:
    """Tenants (client IDs) that a token rule selects: cost charged from AI Gateway's usage metadata."""
    out: set[str] = set()
    for _, m in policies:
        for rule in get(m, "spec", "rateLimit", "global", "rules") or []:
            if get(rule, "cost", "response", "metadata", "namespace") != COST_NAMESPACE or not get(
                rule, "limit", "requests"
            ):
                continue
            for selector in rule.get("clientSelectors") or []:
                for header in selector.get("headers") or []:
                    if (
                        header.get("name") == CLIENT_ID_HEADER
                        and header.get("type", "Exact") == "Exact"
                        and header.get("value")
                    ):
                        out.add(header["value"])
    return out


def check_tenant_limits(resources: list[Resource]) -> list[Finding]:
    """T1: every tenant key Secret (label llm-serving/tier) is selected by a token rule."""
    limited = _token_limited(_of_kind(resources, "BackendTrafficPolicy"))
    findings: list[Finding] = []
    for r, m in _of_kind(resources, "Secret"):
        labels = _labels(m)
        if TIER_LABEL not in labels:
            continue
        tenant = labels.get(TENANT_LABEL)
        if tenant not in limited:
            findings.append(
                (
                    r,
                    Problem(
                        "metadata.labels",
                        dict(labels),
                        T1,
                        f"tenant key of {tenant!r} (tier {labels[TIER_LABEL]!r}) is selected by no token rate-limit rule, so it is unlimited",
                        "give the tier tokensPerMinute; declare the gateway's BackendTrafficPolicy",
                    ),
                )
            )
    return findings


def _route_models(resources: Iterable[Resource]) -> set[str]:
    """The model names declared AIGatewayRoutes match (`x-ai-eg-model`, Exact)."""
    out: set[str] = set()
    for _, m in _of_kind(resources, "AIGatewayRoute"):
        for rule in get(m, "spec", "rules") or []:
            for match in rule.get("matches") or []:
                for header in match.get("headers") or []:
                    if (
                        header.get("name") == MODEL_HEADER
                        and header.get("type", "Exact") == "Exact"
                        and header.get("value")
                    ):
                        out.add(header["value"])
    return out


def check_tenant_routes(resources: list[Resource]) -> list[Finding]:
    """T2: a SecurityPolicy names declared tenant key Secrets, declared routes, and, in its allow-list,
    only models a declared route serves."""
    secrets = {
        (get(m, "metadata", "namespace"), get(m, "metadata", "name"))
        for _, m in _of_kind(resources, "Secret")
        if TIER_LABEL in _labels(m)
    }
    routes = {
        (get(m, "metadata", "namespace"), get(m, "metadata", "name")) for _, m in _of_kind(resources, "AIGatewayRoute")
    }
    routes |= {
        (get(m, "metadata", "namespace"), get(m, "metadata", "name")) for _, m in _of_kind(resources, "HTTPRoute")
    }
    models = _route_models(resources)
    findings: list[Finding] = []
    for r, m in _of_kind(resources, "SecurityPolicy"):
        ns = get(m, "metadata", "namespace")
        refs = get(m, "spec", "apiKeyAuth", "credentialRefs") or []
        missing = [ref.get("name") for ref in refs if (ref.get("namespace") or ns, ref.get("name")) not in secrets]
        if missing:
            findings.append(
                (
                    r,
                    Problem(
                        "spec.apiKeyAuth.credentialRefs",
                        missing,
                        T2,
                        "names tenant key Secrets that are not declared (or carry no llm-serving/tier label): those tenants' keys do not exist",
                        "declare the tenant in gateway.tenants",
                    ),
                )
            )
        for ref in get(m, "spec", "targetRefs") or []:
            if ref.get("kind") == "HTTPRoute" and (ns, ref.get("name")) not in routes:
                findings.append(
                    (
                        r,
                        Problem(
                            "spec.targetRefs",
                            ref.get("name"),
                            T2,
                            "protects a route that is not declared: the tenant's model has no route",
                            "list only endpoints of the stack in tenants[].models",
                        ),
                    )
                )
        for i, rule in enumerate(get(m, "spec", "authorization", "rules") or []):
            for header in get(rule, "principal", "headers") or []:
                unknown = [
                    v
                    for v in header.get("values") or []
                    if header.get("name", "").lower() == MODEL_HEADER and v not in models
                ]
                if unknown:
                    findings.append(
                        (
                            r,
                            Problem(
                                f"spec.authorization.rules[{i}].principal.headers",
                                unknown,
                                T2,
                                "allows a model that no declared AIGatewayRoute serves: the tenant's calls to it answer 404",
                                "list only endpoints of the stack in tenants[].models",
                            ),
                        )
                    )
    return findings


def check_tenant_auth(resources: list[Resource]) -> list[Finding]:
    """T2: tenant keys are checked on the Gateway, not on a route, and the client-ID header a Gateway policy
    forwards is removed from client requests by a ClientTrafficPolicy of that Gateway (before any filter)."""
    removed: dict[tuple[Any, Any], set[str]] = {}
    for _, m in _of_kind(resources, "ClientTrafficPolicy"):
        ns = get(m, "metadata", "namespace")
        names = {h.lower() for h in get(m, "spec", "headers", "earlyRequestHeaders", "remove") or []}
        for ref in get(m, "spec", "targetRefs") or []:
            if ref.get("kind") == "Gateway":
                removed.setdefault((ns, ref.get("name")), set()).update(names)
    findings: list[Finding] = []
    for r, m in _of_kind(resources, "SecurityPolicy"):
        auth = get(m, "spec", "apiKeyAuth")
        if not isinstance(auth, dict):
            continue
        ns = get(m, "metadata", "namespace")
        targets = get(m, "spec", "targetRefs") or []
        on_routes = [ref.get("name") for ref in targets if ref.get("kind") != "Gateway"]
        if on_routes:
            findings.append(
                (
                    r,
                    Problem(
                        "spec.targetRefs",
                        on_routes,
                        T2,
                        "checks tenant keys on a route: AI Gateway picks the route from the body only after the key check, so the key is judged by whichever route Envoy matched first and a tenant can get 401 on its own model",
                        "target the Gateway with one apiKeyAuth listing every tenant's Secret, and give each tenant an authorization Allow rule on x-tenant-id and x-ai-eg-model",
                    ),
                )
            )
        header = auth.get("forwardClientIDHeader")
        if not header:
            continue
        for ref in targets:
            if ref.get("kind") == "Gateway" and header.lower() not in removed.get((ns, ref.get("name")), set()):
                findings.append(
                    (
                        r,
                        Problem(
                            "spec.apiKeyAuth.forwardClientIDHeader",
                            header,
                            T2,
                            f"no ClientTrafficPolicy of Gateway {ref.get('name')!r} removes a client's own {header} before authentication: the rate-limit and allow-list key would not come from the gateway alone",
                            f"declare a ClientTrafficPolicy on the Gateway with headers.earlyRequestHeaders.remove: [{header}]",
                        ),
                    )
                )
    return findings


def check_public_gateway_tls(
    resources: list[Resource], stack: str | None = None, dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS
) -> list[Finding]:
    """T3: the gateway's internet-facing ALB listens with a certificate (it carries tenant keys). S2's
    verdict (tls.plaintext_severity): a dev stack's opt-out annotation makes it a warning."""
    findings: list[Finding] = []
    for r, m in _of_kind(resources, "Ingress"):
        labels = _labels(m)
        annotations = get(m, "metadata", "annotations") or {}
        if (
            labels.get("app.kubernetes.io/part-of") != PART_OF["app.kubernetes.io/part-of"]
            or annotations.get(SCHEME) != "internet-facing"
        ):
            continue
        if terminates_tls(m):
            continue
        opted_out = annotations.get(OPT_OUT_ANNOTATION) == "true"
        if plaintext_severity(opted_out, stack, dev_stacks) == "warning":
            problem = Problem(
                f"metadata.annotations.{OPT_OUT_ANNOTATION}",
                "true",
                T3,
                f"dev stack {stack!r} opted out of TLS: tenant API keys cross the internet in clear text",
                "set gateway.certificateArn, and remove allowPlaintextApiKey",
                severity="warning",
            )
        else:
            why = (
                f" (the opt-out {OPT_OUT_ANNOTATION} is for dev stacks only; stack {stack or '(unknown)'!r} is not one)"
                if opted_out
                else ""
            )
            problem = Problem(
                f"metadata.annotations.{CERTIFICATE}",
                None,
                T3,
                f"the public gateway would take tenant API keys over plain HTTP{why}",
                "set gateway.certificateArn",
            )
        findings.append((r, problem))
    return findings
