"""A loopback stand-in for the tenant gateway: it applies the project's rendered objects in the order
Envoy Gateway v1.8.1 and Envoy AI Gateway v1.1.0 run them on one request.

1. The ClientTrafficPolicy's `headers.earlyRequestHeaders.remove`: before routing and every filter
   (envoyproxy/gateway@v1.8.1 internal/xds/translator/listener.go buildEarlyHeaderMutation).
2. Envoy matches a first route on the headers as they arrive. A client sends no `x-ai-eg-model`, so
   only the catch-all `route-not-found` rule that AI Gateway appends to every generated HTTPRoute
   matches (envoyproxy/ai-gateway@v1.1.0 internal/controller/ai_gateway_route.go); of equal matches the
   oldest route wins, here the AIGatewayRoute listed first.
3. api_key_auth (filter order 6) with the SecurityPolicy of that first route: a route's own policy, merged
   into the Gateway's when it sets `mergeType`, else the Gateway's (envoyproxy/gateway@v1.8.1
   internal/gatewayapi/securitypolicy.go). No key or an unknown one: 401. The client ID is set into
   `forwardClientIDHeader`, the key removed with `sanitize`.
4. AI Gateway's ext_proc (inserted before RBAC) sets `x-ai-eg-model` from the body's `model` and clears
   the route cache: the route is chosen again (internal/extproc/processor_impl.go).
5. RBAC (order 301) with the chosen route's policy: `authorization` rules in order, all headers of a
   principal must match one of their values; no match: the default action (Deny unless set). Deny: 403.
6. No route serves the model: 404 (the catch-all's direct response).
7. Limits (order 303): the BackendTrafficPolicy rules, per forwarded client ID, per minute, as Envoy AI
   Gateway documents token limits (site/versioned_docs/version-1.1/capabilities/traffic/
   usage-based-ratelimiting.md, "Token Usage Behavior"): a request is admitted while the usage already
   charged is below the limit, and the response's `usage.total_tokens` is charged when it ends (a stream
   at its end, never cut off). A request rule counts every request that reaches it.

Responses carry draft-03 `x-ratelimit-*` (computed before the charge, as Envoy does on the request path)
and the MaaS `x-tokens-*` headers. Everything is read from the manifests; the clock is injectable and
tests never cross a minute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from components.rules.gateway import render
from tests.loadgen.scripted_server import ScriptedServer

PROMPT_TOKENS = 20  # what the stand-in engine reports as prompt_tokens for every request
NOT_FOUND = "route-not-found"


def tier_table(objects: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(key -> tenant, tenant -> {"tokens": n, "requests": n}) from rendered objects."""
    keys: dict[str, str] = {}
    for o in objects:
        labels = o["metadata"].get("labels") or {}
        if o["kind"] == "Secret" and render.TIER_LABEL in labels:
            for tenant, key in o["stringData"].items():
                keys[key] = tenant
    limits: dict[str, dict[str, int]] = {}
    for o in objects:
        if o["kind"] != "BackendTrafficPolicy":
            continue
        for rule in o["spec"]["rateLimit"]["global"]["rules"]:
            assert rule["limit"]["unit"] == "Minute", rule
            tenant = rule["clientSelectors"][0]["headers"][0]["value"]
            kind = (
                "tokens"
                if rule.get("cost", {}).get("response", {}).get("metadata", {}).get("key") == render.TOTAL_TOKENS
                else "requests"
            )
            limits.setdefault(tenant, {})[kind] = rule["limit"]["requests"]
    return keys, limits


def _targets(policy: dict[str, Any], kind: str) -> list[str]:
    return [ref["name"] for ref in policy["spec"].get("targetRefs") or [] if ref["kind"] == kind]


class RenderedGateway:
    """The decisions of steps 1-6 above, from the rendered objects alone."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.removed = {
            h.lower()
            for o in objects
            if o["kind"] == "ClientTrafficPolicy"
            for h in o["spec"].get("headers", {}).get("earlyRequestHeaders", {}).get("remove", [])
        }
        # AIGatewayRoutes in creation order: (route name, the model values its rules match).
        self.routes = [
            (
                o["metadata"]["name"],
                {
                    h["value"]
                    for rule in o["spec"]["rules"]
                    for m in rule.get("matches", [])
                    for h in m.get("headers", [])
                    if h["name"] == render.MODEL_HEADER
                },
            )
            for o in objects
            if o["kind"] == "AIGatewayRoute"
        ]
        self.secrets = {
            (o["metadata"].get("namespace"), o["metadata"]["name"]): o.get("stringData") or {}
            for o in objects
            if o["kind"] == "Secret"
        }
        policies = [o for o in objects if o["kind"] == "SecurityPolicy"]
        self.gateway_policy = next((p for p in policies if _targets(p, "Gateway")), None)
        # A generated HTTPRoute has its AIGatewayRoute's name (ai_gateway_route.go).
        self.route_policies = {name: p for p in policies for name in _targets(p, "HTTPRoute")}

    def route(self, headers: dict[str, str]) -> tuple[str, bool]:
        """(route name, whether a model rule matched): the oldest route with a rule for the model header,
        else the oldest route's catch-all."""
        model = headers.get(render.MODEL_HEADER)
        for name, models in self.routes:
            if model in models:
                return name, True
        return (self.routes[0][0] if self.routes else ""), False

    def security(self, route: str) -> dict[str, Any]:
        """The effective SecurityPolicy spec of a route: its own, merged into the Gateway's with mergeType."""
        gateway = (self.gateway_policy or {}).get("spec", {})
        own = self.route_policies.get(route)
        if own is None:
            return {**gateway, "_ns": (self.gateway_policy or {}).get("metadata", {}).get("namespace")}
        spec = {**gateway, **own["spec"]} if own["spec"].get("mergeType") else own["spec"]
        return {**spec, "_ns": own["metadata"].get("namespace")}

    def _authenticate(self, spec: dict[str, Any], headers: dict[str, str]) -> int | None:
        auth = spec.get("apiKeyAuth")
        if auth is None:
            return None
        credentials = {
            key: client
            for ref in auth["credentialRefs"]
            for client, key in self.secrets.get((ref.get("namespace") or spec["_ns"], ref["name"]), {}).items()
        }
        names = [h.lower() for source in auth["extractFrom"] for h in source.get("headers", [])]
        key = next((headers[n] for n in names if headers.get(n)), "")
        key = key[len("Bearer ") :] if key.startswith("Bearer ") else key
        client = credentials.get(key) if key else None
        if client is None:
            return 401
        if auth.get("forwardClientIDHeader"):
            headers[auth["forwardClientIDHeader"].lower()] = client
        if auth.get("sanitize"):
            for n in names:
                headers.pop(n, None)
        return None

    @staticmethod
    def _authorize(spec: dict[str, Any], headers: dict[str, str]) -> int | None:
        authz = spec.get("authorization")
        if authz is None:
            return None
        for rule in authz.get("rules") or []:
            if all(headers.get(h["name"].lower()) in h["values"] for h in rule["principal"].get("headers", [])):
                return None if rule["action"] == "Allow" else 403
        return None if authz.get("defaultAction") == "Allow" else 403

    def decide(self, request_headers: dict[str, str], model: str) -> tuple[int, dict[str, str]]:
        """(status, the request headers as the upstream would get them); status 200 = routed."""
        headers = {k.lower(): v for k, v in request_headers.items() if k.lower() not in self.removed}
        first, _ = self.route(headers)
        refused = self._authenticate(self.security(first), headers)
        if refused:
            return refused, headers
        headers[render.MODEL_HEADER] = model  # ext_proc: from the body, overwriting, then the route again
        chosen, served = self.route(headers)
        refused = self._authorize(self.security(chosen), headers)
        if refused:
            return refused, headers
        return (200 if served else 404), headers


class LimiterServer(ScriptedServer):
    """The loopback server of tests/loadgen (thread, loop, start/stop), answering as the gateway would."""

    def __init__(self, objects: list[dict[str, Any]], clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.gateway = RenderedGateway(objects)
        self.keys, self.limits = tier_table(objects)
        self.clock = clock
        self.used: dict[tuple[str, str, int], int] = {}  # (tenant, tokens|requests, minute) -> count
        self.upstream_headers: list[dict[str, str]] = []  # what reached the engine

    def _headers(self, tenant: str, minute: int) -> dict[str, str]:
        limit = self.limits.get(tenant, {}).get("tokens")
        if limit is None:
            return {}
        used = self.used.get((tenant, "tokens", minute), 0)
        left = str(max(0, limit - used))
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": left,
            "x-tokens-limit": str(limit),
            "x-tokens-used": str(used),
            "x-tokens-remaining": left,
        }

    async def _script(self, request: web.Request, body: dict, number: int) -> web.StreamResponse:
        status, upstream = self.gateway.decide(dict(request.headers), str(body.get("model", "")))
        if status != 200:
            return web.Response(
                status=status,
                text={
                    401: "Client authentication failed.",
                    403: "RBAC: access denied",
                    404: "No matching route found.",
                }[status],
            )
        tenant = upstream.get(render.CLIENT_ID_HEADER, "")
        minute = int(self.clock() // 60)
        limits = self.limits.get(tenant, {})
        requests_key = (tenant, "requests", minute)
        self.used[requests_key] = self.used.get(requests_key, 0) + 1
        spent = self.used.get((tenant, "tokens", minute), 0)
        headers = self._headers(tenant, minute)
        if ("tokens" in limits and spent >= limits["tokens"]) or (
            "requests" in limits and self.used[requests_key] > limits["requests"]
        ):
            return web.Response(
                status=429, text="Too Many Requests", headers={**headers, "x-envoy-ratelimited": "true"}
            )
        self.upstream_headers.append(upstream)
        n = int(body.get("max_tokens", 4))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", **headers})
        await resp.prepare(request)

        async def event(obj: Any) -> None:
            await resp.write(b"data: " + json.dumps(obj).encode() + b"\n\n")

        await event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for _ in range(n):
            await event({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}]})
        await event({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": n, "total_tokens": PROMPT_TOKENS + n}
        await event({"choices": [], "usage": usage})
        await resp.write(b"data: [DONE]\n\n")
        # Charged when the response ends (usage-based-ratelimiting.md: "charged after the response completes").
        tokens_key = (tenant, "tokens", minute)
        self.used[tokens_key] = self.used.get(tokens_key, 0) + usage["total_tokens"]
        await resp.write_eof()
        return resp
