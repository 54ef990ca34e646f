"""What one `stacks status --probe` answer means: pure (no I/O), one verdict and one line per answer, naming
the output key, config key or object to look at. The requests themselves are sent by stacks/live/probe.py.

No line is ever built from a key: keys travel in request headers only, and server text is printed with any
key it echoes replaced (`excerpt`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from components.rules.addons import OPERATOR_NAMESPACE
from components.rules.backends import BACKENDS
from components.rules.gateway import charts, render

MODEL_LIST_PATH = "/v1/models"
EXCERPT_CHARS = 160
RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining")
UNHEALTHY = (502, 503, 504)  # what an ALB answers when no target is healthy, or a target fails mid-request
# The rate-limit Deployment and its container are both named `envoy-ratelimit`, in Envoy Gateway's own namespace
# (envoyproxy/gateway@v1.8.1 internal/infrastructure/kubernetes/ratelimit/resource.go InfraName, resource_provider.go).
RATELIMIT_LOGS = f"kubectl logs -n {charts.EG_NAMESPACE} deploy/envoy-ratelimit -c envoy-ratelimit"
TENANTS_POLICY = f"{render.NAME}-tenants"  # the Gateway's one SecurityPolicy (components/rules/gateway/render.py)


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange: the status and headers, the body up to the byte cap, or why there was no answer."""

    status: int | None  # None: no HTTP answer (deadline, TLS, connection)
    seconds: float  # until the status line (or until the request gave up)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    error: str = ""  # one line when status is None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    line: str


@dataclass(frozen=True)
class EndpointFacts:
    """An endpoint as its outputs describe it (`endpoints.<name>`)."""

    name: str
    backend: str
    url_kind: str
    url_source: str  # e.g. "Ingress hyperpod-inference-system/llm-llama"
    served_model: str
    namespace: str
    key_secret: str = ""  # apiKeySecret; "" without a key
    sent_key: bool = False  # an Authorization header went with the request


def excerpt(body: bytes, secrets: Iterable[str] = ()) -> str:
    """The start of a server's answer on one line, with any key it echoes blanked out."""
    text = " ".join(body.decode("utf-8", "replace").split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key]")
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


def model_ids(body: bytes) -> list[str] | None:
    """The `data[].id` of an OpenAI model list, or None when the body is not one (or was cut at the byte cap)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        return None
    return [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id") is not None]


def no_answer(answer: Answer, facts: EndpointFacts | None = None) -> Verdict:
    """A deadline, TLS or connection failure, with where to look for the load balancer kind."""
    hint = ""
    if facts is not None and "no answer within" in answer.error:
        if facts.url_kind == "operator-alb":
            hint = ": the operator's ALB is internal (reachable from inside the cluster's VPC only)"
        elif facts.url_kind in ("alb", "nlb"):
            hint = f": an internal load balancer is reachable from inside its VPC only, and inbound-cidrs or the security group may not admit this machine ({facts.url_source})"
    return Verdict(False, f"{answer.error}{hint}")


def _redirect(answer: Answer) -> Verdict:
    return Verdict(
        False,
        f"HTTP {answer.status}: redirects to {answer.headers.get('location', '?')}; probe the URL it names (the listener redirects, e.g. HTTP to HTTPS)",
    )


def routed_alb(facts: EndpointFacts) -> bool:
    """The stack's ALB forwards to an operator's router (a backend with `has_router`), not to the engine's pods."""
    backend = BACKENDS.get(facts.backend)
    return backend is not None and backend.has_router and facts.url_kind == "alb"


def _unhealthy(answer: Answer, facts: EndpointFacts, router: str, secrets: Iterable[str]) -> Verdict:
    status = answer.status
    if routed_alb(facts):
        return Verdict(
            False,
            (
                f"HTTP {status}: the ALB reaches no healthy target: it forwards to {router or 'the router Service `pulumi up` found'}; if that is not "
                "the router's serving Service, port or protocol, set platform.ingress.routerService, platform.ingress.routerPort and "
                f"platform.ingress.routerProtocol (`kubectl get svc -n {OPERATOR_NAMESPACE}`) and run `pulumi up`"
            ),
        )
    if facts.url_kind == "operator-alb":
        return Verdict(
            False,
            (
                f"HTTP {status}: the operator's ALB reaches no healthy target: the model pods fail its health check "
                f"(InferenceEndpointConfig {facts.namespace}/{facts.name} spec.loadBalancer.healthCheckPath) or are not registered yet ({facts.url_source})"
            ),
        )
    if facts.url_kind == "alb":
        return Verdict(
            False,
            (
                f"HTTP {status}: the ALB reaches no healthy target: the pods fail its health check (the healthcheck-path annotation) or are not "
                f"registered yet (`{_describe(facts.url_source)}`)"
            ),
        )
    return Verdict(False, f"HTTP {status} from the engine's Service: {excerpt(answer.body, secrets)}")


def _describe(source: str) -> str:
    """`kubectl describe` of an output's urlSource ("Ingress inference/llm-qwen")."""
    kind, _, ref = source.partition(" ")
    namespace, _, name = ref.partition("/")
    return f"kubectl describe {kind.lower()} {name} -n {namespace}" if name else f"kubectl describe {source}"


def _auth(answer: Answer, facts: EndpointFacts) -> Verdict:
    if not facts.sent_key:
        return Verdict(
            False,
            f"HTTP {answer.status}: key or auth: the endpoint asks for a key and the outputs have none for it (apiKeys.{facts.name})",
        )
    where = (
        f" (the engine reads Secret {facts.namespace}/{facts.key_secret} when its pods start)"
        if facts.key_secret
        else ""
    )
    return Verdict(
        False, f"HTTP {answer.status}: key or auth: the endpoint refused the key in apiKeys.{facts.name}{where}"
    )


def _common(answer: Answer, facts: EndpointFacts, router: str, secrets: Iterable[str]) -> Verdict | None:
    """What every endpoint request shares: no answer, auth, redirects, no healthy target."""
    if answer.status is None:
        return no_answer(answer, facts)
    if answer.status in (401, 403):
        return _auth(answer, facts)
    if 300 <= answer.status < 400:
        return _redirect(answer)
    if answer.status in UNHEALTHY:
        return _unhealthy(answer, facts, router, secrets)
    return None


def model_list(answer: Answer, facts: EndpointFacts, router: str = "", secrets: Iterable[str] = ()) -> Verdict:
    """GET /v1/models: the endpoint answers and lists the served model name (G5)."""
    common = _common(answer, facts, router, secrets)
    if common is not None:
        return common
    if answer.status == 404:
        return Verdict(
            False,
            f"HTTP 404: path: {MODEL_LIST_PATH} is not served here (the load balancer or router does not forward it): {excerpt(answer.body, secrets)}",
        )
    if answer.status != 200:
        return Verdict(False, f"HTTP {answer.status}: {excerpt(answer.body, secrets)}")
    ids = model_ids(answer.body)
    if ids is None:
        return Verdict(True, f"answered, but not with an OpenAI model list: {excerpt(answer.body, secrets)}")
    if facts.served_model not in ids:
        return Verdict(
            False,
            (
                f"model name: the list is {ids}, without servedModelName {facts.served_model!r}: the engine serves another name, "
                "so every request naming it gets 404 (G5)"
            ),
        )
    return Verdict(True, f"serves {facts.served_model}")


def invocation(
    answer: Answer, facts: EndpointFacts, path: str, router: str = "", secrets: Iterable[str] = ()
) -> Verdict:
    """POST <invocationPath> with max_tokens 1."""
    common = _common(answer, facts, router, secrets)
    if common is not None:
        return common
    if answer.status == 200:
        return Verdict(True, "answered")
    if answer.status == 404:
        return Verdict(
            False,
            (
                f"HTTP 404: path or model name: {path} or model {facts.served_model!r} is not served here (invocationPath, servedModelName G5): "
                f"{excerpt(answer.body, secrets)}"
            ),
        )
    return Verdict(False, f"HTTP {answer.status}: the engine refused the request: {excerpt(answer.body, secrets)}")


def _gateway_common(answer: Answer, tenant: str, model: str, secrets: Iterable[str]) -> Verdict | None:
    if answer.status is None:
        return no_answer(answer)
    if answer.status == 401:
        return Verdict(
            False,
            (
                f"HTTP 401: the gateway refused gatewayKeys.{tenant}: SecurityPolicy {TENANTS_POLICY} does not list Secret "
                f"tenant-{tenant}, or the key was rotated after these outputs were read (`kubectl get securitypolicy {TENANTS_POLICY} -A -o yaml`, its status)"
            ),
        )
    if 300 <= answer.status < 400:
        return _redirect(answer)
    if answer.status in UNHEALTHY:
        return Verdict(
            False,
            (
                f"HTTP {answer.status}: the gateway reaches no healthy upstream for {model}: see its Backend (`kubectl get backend -A`); a HyperPod "
                "endpoint is reached at the configured platform.ingress.routerService and routerPort, not the Service `up` found for its public ALB"
            ),
        )
    return None


def tenant_allowed(answer: Answer, tenant: str, model: str, counter_store: str, secrets: Iterable[str] = ()) -> Verdict:
    """A tenant's call to a model in its `models`: expect 200 with the draft-03 rate-limit headers, which Envoy Gateway
    turns on unless a ClientTrafficPolicy disables them (envoyproxy/gateway@v1.8.1 internal/xds/translator/ratelimit.go)."""
    common = _gateway_common(answer, tenant, model, secrets)
    if common is not None:
        return common
    missing = [h for h in RATE_LIMIT_HEADERS if h not in answer.headers]
    if answer.status == 429:
        return Verdict(
            True,
            f"HTTP 429: the tenant's budget for this minute is spent: the limit answers (x-ratelimit-remaining {answer.headers.get('x-ratelimit-remaining', '?')})",
        )
    if answer.status == 403:
        return Verdict(
            False,
            (
                f"HTTP 403 on a model tenant {tenant} may call: the allow-list check did not see AI Gateway's model header "
                f"{render.MODEL_HEADER} (RBAC ran before AI Gateway's ext_proc set it from the body, or the ext_proc did not run on this route)"
            ),
        )
    if answer.status == 404:
        return Verdict(
            False,
            f"HTTP 404: no route serves model {model!r}: its AIGatewayRoute is not accepted (`kubectl get aigatewayroute -A`)",
        )
    if answer.status != 200:
        return Verdict(False, f"HTTP {answer.status}: {excerpt(answer.body, secrets)}")
    if missing:
        return Verdict(
            False,
            (
                f"no {' / '.join(missing)} on an allowed answer: the rate-limit service did not answer and Envoy Gateway let the request "
                f"through (it fails open), so the tiers are unlimited now; counter store: {counter_store}; see `{RATELIMIT_LOGS}`"
            ),
        )
    return Verdict(True, f"allowed, x-ratelimit-remaining {answer.headers['x-ratelimit-remaining']}")


def tenant_denied(answer: Answer, tenant: str, model: str, secrets: Iterable[str] = ()) -> Verdict:
    """A tenant's call to a model outside its `models`: expect 403 from the allow-list."""
    common = _gateway_common(answer, tenant, model, secrets)
    if common is not None:
        return common
    if answer.status == 403:
        return Verdict(True, "denied (403), as its models say")
    if answer.status in (200, 429):  # 429: the rate limit runs after the allow-list, so the call was let through
        return Verdict(
            False,
            f"HTTP {answer.status}: the allow-list is not enforced: tenant {tenant} reached {model}, outside its models (SecurityPolicy {TENANTS_POLICY}, authorization)",
        )
    return Verdict(
        False,
        f"HTTP {answer.status}, expected 403: the allow-list did not deny {model}: {excerpt(answer.body, secrets)}",
    )
