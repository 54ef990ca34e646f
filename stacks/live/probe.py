"""`python -m stacks status --probe`: after the live table, one small request per ready endpoint and per gateway
tenant, each within a wall-clock deadline (`--timeout`), with the HTTP status, the latency and a one-line
diagnosis (stacks/live/diagnose.py).

Per endpoint with a URL: `GET <base>/v1/models` with its key (`apiKeys.<name>`), then, if that got an HTTP
answer, one `POST <invocationPath>` naming the served model with `max_tokens: 1`. Per gateway tenant: one call
to a model in its `models` and, when another tenant's model lies outside them, one call to that. So at most two
requests per endpoint and per tenant, all endpoints and tenants at once.

Keys go into request headers only: no line is built from one. Bodies are read up to BODY_CAP bytes."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from components.kube_reader import KubeReader, LiveError, Unreachable
from components.rules.gateway import charts, render
from components.rules.ingress import BACKEND_PROTOCOL_ANNOTATION

from ..literal import plain
from . import diagnose as dx
from .diagnose import Answer, EndpointFacts, Verdict, routed_alb

BODY_CAP = 64 * 1024  # bytes read of any answer: a model list or a one-token completion is far smaller
PROMPT = "Hi"
CHAT = "/v1/chat/completions"
# The paths AI Gateway's ext_proc serves for OpenAI requests (envoyproxy/ai-gateway@v1.1.0 cmd/extproc/mainlib/main.go).
GATEWAY_PATHS = (CHAT, "/v1/completions")
IN_CLUSTER = (".svc", ".svc.cluster.local", ".cluster.local")
USER_AGENT = "llm-serving stacks-status-probe"


@dataclass
class Call:
    """One request and how to judge its answer; `judge` runs after every request is done (it may read the cluster)."""

    method: str
    url: str
    shown: str  # e.g. "GET /v1/models"
    headers: dict[str, str]
    payload: dict[str, Any] | None
    judge: Callable[[Answer], Verdict]
    answer: Answer | None = None


@dataclass
class Target:
    """An endpoint or a gateway tenant: its calls are sent one after the other, stopping at one without an HTTP answer."""

    name: str
    calls: list[Call] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    target: str
    shown: str
    answer: Answer | None  # None: not sent, or not probed at all
    verdict: Verdict
    skipped: bool = False  # not probed for want of a key or a reachable URL: not a failure

    def line(self) -> str:
        if not self.shown:  # the whole target
            return f"{self.target}: not probed: {self.verdict.line}"
        what = f"{self.target}: {self.shown}: "
        a = self.answer
        if a is None:
            return f"{what}not sent: {self.verdict.line}"
        got = f"HTTP {a.status}" if a.status is not None else "no answer"
        return f"{what}{got} in {a.seconds:.3f} s: {'ok' if self.verdict.ok else 'FAIL'}: {self.verdict.line}"


def run(outputs: dict[str, Any], rows: list[Any], timeout: float, console: Console, where: str) -> bool:
    """Probe, print one line per request (or per target not probed) and return whether every probe passed."""
    secrets = _secrets(outputs)
    router = _RouterLookup(outputs.get("kubeconfig"), timeout, where)
    targets, outcomes = endpoint_targets(outputs, rows, router, secrets)
    gateway_targets, gateway_outcomes = tenant_targets(outputs, secrets)
    targets += gateway_targets
    outcomes += gateway_outcomes
    send_all(targets, timeout)
    for target in targets:
        for call in target.calls:
            if call.answer is None:
                outcomes.append(
                    Outcome(target.name, call.shown, None, Verdict(False, "the request before it got no answer"))
                )
            else:
                outcomes.append(Outcome(target.name, call.shown, call.answer, call.judge(call.answer)))
    console.print(
        plain(f"Probe: at most two requests per endpoint and per gateway tenant, {timeout:g} s each"), soft_wrap=True
    )
    for outcome in outcomes:
        console.print(plain(outcome.line(), "" if outcome.skipped or outcome.verdict.ok else "red"), soft_wrap=True)
    return all(o.verdict.ok or o.skipped for o in outcomes)


def _secrets(outputs: dict[str, Any]) -> list[str]:
    """Every key in the outputs: blanked out of any server text printed."""
    found = []
    for group in ("apiKeys", "gatewayKeys"):
        values = outputs.get(group)
        if isinstance(values, dict):
            found += [v for v in values.values() if isinstance(v, str) and v and v != "[secret]"]
    return found


def _key(outputs: dict[str, Any], group: str, name: str) -> tuple[str | None, str]:
    """(key, "") or (None, why it cannot be used)."""
    values = outputs.get(group)
    value = values.get(name) if isinstance(values, dict) else None
    if value is None:
        return None, f"{group}.{name} is not in the outputs"
    if value == "[secret]":
        return None, f"{group}.{name} is [secret]: read the outputs with `pulumi stack output --json --show-secrets`"
    if not isinstance(value, str) or not value:
        return None, f"{group}.{name} is not a key"
    return value, ""


def _in_cluster(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host.endswith(IN_CLUSTER)


def _body(path: str, model: str) -> dict[str, Any]:
    if path.endswith("chat/completions"):
        return {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 1, "stream": False}
    return {"model": model, "prompt": PROMPT, "max_tokens": 1, "stream": False}


def endpoint_targets(
    outputs: dict[str, Any], rows: list[Any], router: _RouterLookup, secrets: list[str]
) -> tuple[list[Target], list[Outcome]]:
    targets: list[Target] = []
    skipped: list[Outcome] = []
    endpoints = outputs.get("endpoints") or {}
    for row in rows:
        live = row.live
        if live is None or live.readiness != "ready":
            continue  # the live table already says why
        entry = endpoints.get(row.name) or {}
        url = live.url
        if not url:
            skipped.append(Outcome(row.name, "", None, Verdict(True, "no URL yet"), skipped=True))
            continue
        if _in_cluster(url):
            skipped.append(
                Outcome(
                    row.name,
                    "",
                    None,
                    Verdict(True, "its URL is in-cluster, not reachable from here (`kubectl port-forward`)"),
                    skipped=True,
                )
            )
            continue
        headers = {"User-Agent": USER_AGENT}
        needs_key = bool(entry.get("apiKeySecret")) or row.name in (outputs.get("apiKeys") or {})
        if needs_key:
            key, why = _key(outputs, "apiKeys", row.name)
            if key is None:
                skipped.append(Outcome(row.name, "", None, Verdict(True, why), skipped=True))
                continue
            headers["Authorization"] = f"Bearer {key}"
        facts = EndpointFacts(
            row.name,
            str(entry.get("backend") or live.backend),
            str(live.url_kind or entry.get("urlKind") or ""),
            str(entry.get("urlSource") or ""),
            str(entry.get("servedModelName") or ""),
            str(entry.get("namespace") or "default"),
            str(entry.get("apiKeySecret") or ""),
            needs_key,
        )
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        path = "/" + str(entry.get("invocationPath") or parts.path or CHAT).lstrip("/")
        lookup = router.for_entry(entry) if routed_alb(facts) else (lambda: "")
        targets.append(
            Target(
                row.name,
                [
                    Call(
                        "GET",
                        base + dx.MODEL_LIST_PATH,
                        f"GET {dx.MODEL_LIST_PATH}",
                        headers,
                        None,
                        lambda a, f=facts, r=lookup: dx.model_list(  # type: ignore[misc]  # defaults bind loop variables
                            a, f, r() if a.status in dx.UNHEALTHY else "", secrets
                        ),
                    ),
                    Call(
                        "POST",
                        base + path,
                        f"POST {path}",
                        headers,
                        _body(path, facts.served_model),
                        lambda a, f=facts, p=path, r=lookup: dx.invocation(  # type: ignore[misc]  # defaults bind loop variables
                            a, f, p, r() if a.status in dx.UNHEALTHY else "", secrets
                        ),
                    ),
                ],
            )
        )
    return targets, skipped


def _counter_store(gateway: dict[str, Any]) -> str:
    """The counter store `gateway.counterStore` names, and where to see it."""
    if gateway.get("counterStore") == "in-cluster":
        return f"in-cluster Redis {charts.in_cluster_redis_host()}:{charts.REDIS_PORT} (`kubectl get pods -n {charts.REDIS_NAMESPACE}`)"
    if gateway.get("counterStore") == "elasticache":
        return f"ElastiCache for Redis, whose address is the rate-limit container's REDIS_URL (`kubectl get deploy envoy-ratelimit -n {charts.EG_NAMESPACE} -o yaml`)"
    return "the Redis that gateway.counterStore names"


def tenant_targets(outputs: dict[str, Any], secrets: list[str]) -> tuple[list[Target], list[Outcome]]:
    gateway = outputs.get("gateway")
    if not isinstance(gateway, dict):
        return [], []
    url = gateway.get("url")
    if not url:
        return [], [
            Outcome(
                "gateway",
                "",
                None,
                Verdict(
                    False,
                    f"gateway.url is null: its ALB has no address (`kubectl describe ingress -n {charts.EG_NAMESPACE}`)",
                ),
            )
        ]
    tenants = found if isinstance(found := gateway.get("tenants"), dict) else {}
    everything = sorted({m for t in tenants.values() if isinstance(t, dict) for m in t.get("models") or []})
    paths = {
        str(e.get("servedModelName")): str(e.get("invocationPath"))
        for e in (outputs.get("endpoints") or {}).values()
        if isinstance(e, dict)
    }
    store = _counter_store(gateway)
    base = str(url).rstrip("/")
    targets: list[Target] = []
    skipped: list[Outcome] = []
    for tenant, entry in tenants.items():
        name = f"gateway {tenant}"
        models = list((entry or {}).get("models") or []) if isinstance(entry, dict) else []
        if not models:
            skipped.append(
                Outcome(
                    name,
                    "",
                    None,
                    Verdict(
                        True,
                        f"gateway.tenants.{tenant}.models is not in the outputs (a stack from before it was exported: run `pulumi up`)",
                    ),
                    skipped=True,
                )
            )
            continue
        key, why = _key(outputs, "gatewayKeys", tenant)
        if key is None:
            skipped.append(Outcome(name, "", None, Verdict(True, why), skipped=True))
            continue
        headers = {"User-Agent": USER_AGENT, render.KEY_HEADER: key}
        target = Target(name)
        allowed = models[0]
        denied = next((m for m in everything if m not in models), None)
        for model, judge in (
            (allowed, lambda a, m=allowed, t=tenant: dx.tenant_allowed(a, t, m, store, secrets)),
            (denied, lambda a, m=denied, t=tenant: dx.tenant_denied(a, t, m, secrets)),
        ):
            if model is None:
                continue
            path = paths.get(model, CHAT) if paths.get(model) in GATEWAY_PATHS else CHAT
            kind = "allowed" if model == allowed else "not in its models"
            target.calls.append(
                Call("POST", base + path, f"POST {path} {model} ({kind})", headers, _body(path, model), judge)
            )
        targets.append(target)
    return targets, skipped


class _RouterLookup:
    """What the stack's public ALB in front of a HyperPod router forwards to, read from its Ingress when an answer
    says no target is healthy: the Service, port and protocol `pulumi up` found (router_check.py)."""

    def __init__(self, kubeconfig: Any, timeout: float, where: str) -> None:
        self.kubeconfig, self.timeout, self.where = kubeconfig, timeout, where
        self.found: dict[str, str] = {}

    def for_entry(self, entry: dict[str, Any]) -> Callable[[], str]:
        source = str(entry.get("urlSource") or "")

        def lookup() -> str:
            if source not in self.found:  # once per Ingress, whatever the number of answers
                self.found[source] = self._read(source)
            return self.found[source]

        return lookup

    def _read(self, source: str) -> str:
        what, _, ref = source.partition(" ")
        namespace, _, name = ref.partition("/")
        if what != "Ingress" or not name:
            return ""
        try:
            with KubeReader(self.kubeconfig, f"the `kubeconfig` output of {self.where}", self.timeout) as kube:
                ingress = kube.ingress(namespace, name)
        except (LiveError, Unreachable) as exc:
            return f"the Service its Ingress {namespace}/{name} names (not read: {exc})"
        if ingress is None:
            return f"nothing: Ingress {namespace}/{name} is not found"
        annotations = (ingress.get("metadata") or {}).get("annotations") or {}
        rules = (ingress.get("spec") or {}).get("rules") or [{}]
        paths = ((rules[0] or {}).get("http") or {}).get("paths") or [{}]
        service = ((paths[0] or {}).get("backend") or {}).get("service") or {}
        port = service.get("port") or {}
        return (
            f"router Service {namespace}/{service.get('name', '?')} port {port.get('number', port.get('name', '?'))} "
            f"over {annotations.get(BACKEND_PROTOCOL_ANNOTATION, 'HTTP')}"
        )


def send_all(targets: list[Target], timeout: float) -> None:
    """Every target at once, each target's calls in order; fills `call.answer`. The loop is closed without waiting
    for the default executor, so a name lookup past its deadline does not hold the command."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_send_all(targets, timeout))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _send_all(targets: list[Target], timeout: float) -> None:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        await asyncio.gather(*(_send_target(session, t, timeout) for t in targets))


async def _send_target(session: Any, target: Target, timeout: float) -> None:
    for call in target.calls:
        call.answer = await send(session, call, timeout)
        if call.answer.status is None:
            return


async def send(session: Any, call: Call, timeout: float) -> Answer:
    """One request within `timeout` seconds of wall-clock time, connection, TLS and the capped body included."""
    import aiohttp

    start = time.perf_counter()
    status: int | None = None
    seconds = 0.0
    headers: dict[str, str] = {}
    body = b""
    try:
        async with asyncio.timeout(timeout):
            async with session.request(
                call.method, call.url, headers=call.headers, json=call.payload, allow_redirects=False
            ) as resp:
                seconds = time.perf_counter() - start
                status, headers = resp.status, {k.lower(): v for k, v in resp.headers.items()}
                body = await _read_capped(resp.content, BODY_CAP)
        return Answer(status, seconds, headers, body)
    except TimeoutError:
        if status is not None:  # the status came in time; the body did not
            return Answer(status, seconds, headers, body)
        return _failed(start, f"no answer within {timeout:g} s")
    except aiohttp.ClientConnectorCertificateError as exc:
        why = getattr(exc.certificate_error, "verify_message", None) or _first_line(exc.certificate_error)
        return _failed(
            start,
            f"TLS: the certificate of {exc.host} was refused ({why}): the ALB must serve one that covers this name (certificateArn, or the one issued for platform.ingress.domain)",
        )
    except aiohttp.ClientConnectorSSLError as exc:
        why = getattr(exc.os_error, "reason", None) or _first_line(exc.os_error)
        return _failed(
            start,
            f"TLS with {exc.host}:{exc.port} failed ({why}){': the listener there does not speak TLS' if why == 'WRONG_VERSION_NUMBER' else ''}",
        )
    except aiohttp.ClientSSLError as exc:
        return _failed(start, f"TLS: {_first_line(exc)}")
    except aiohttp.ClientConnectorError as exc:
        return _failed(start, f"connection to {exc.host}:{exc.port} failed: {_os_reason(exc.os_error)}")
    except aiohttp.ClientError as exc:
        return _failed(start, f"{type(exc).__name__}: {_first_line(exc)}")


def _failed(start: float, error: str) -> Answer:
    return Answer(None, time.perf_counter() - start, error=error)


def _os_reason(error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        return "the name does not resolve (its DNS record is not there yet, or the load balancer is gone)"
    if isinstance(error, ConnectionRefusedError):
        return "refused (nothing listens on that port)"
    return error.strerror or _first_line(error)


async def _read_capped(content: Any, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await content.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
