"""A loopback stand-in for the tenant gateway: it applies the project's rendered objects the way
Envoy AI Gateway documents token limits (envoyproxy/ai-gateway v1.1.0
`site/versioned_docs/version-1.1/capabilities/traffic/usage-based-ratelimiting.md`, "Token Usage
Behavior"): per key (the tenant's client ID), per minute, a request is admitted while the usage
already charged is below the limit, and the response's `usage.total_tokens` is charged when it ends
(a stream at its end, never cut off). A request rule, where rendered, counts every request.

It reads only rendered manifests: tenant keys from the key Secrets' `stringData`, limits from the
BackendTrafficPolicy rules. Keys come in `x-api-key` (SecurityPolicy extractFrom); an unknown key
gets 401. Responses carry draft-03 `x-ratelimit-*` (computed before the charge, as Envoy does on the
request path) and the MaaS `x-tokens-*` headers. The clock is injectable; tests never cross a minute.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from aiohttp import web

from components.rules.gateway import render
from tests.loadgen.scripted_server import ScriptedServer

PROMPT_TOKENS = 20  # what the stand-in engine reports as prompt_tokens for every request


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
            kind = "tokens" if rule.get("cost", {}).get("response", {}).get("metadata", {}).get("key") == render.TOTAL_TOKENS else "requests"
            limits.setdefault(tenant, {})[kind] = rule["limit"]["requests"]
    return keys, limits


class LimiterServer(ScriptedServer):
    """The loopback server of tests/loadgen (thread, loop, start/stop), answering as the gateway would."""

    def __init__(self, objects: list[dict[str, Any]], clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.keys, self.limits = tier_table(objects)
        self.clock = clock
        self.used: dict[tuple[str, str, int], int] = {}  # (tenant, tokens|requests, minute) -> count

    def _headers(self, tenant: str, minute: int) -> dict[str, str]:
        limit = self.limits.get(tenant, {}).get("tokens")
        if limit is None:
            return {}
        used = self.used.get((tenant, "tokens", minute), 0)
        left = str(max(0, limit - used))
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": left, "x-tokens-limit": str(limit), "x-tokens-used": str(used), "x-tokens-remaining": left}

    async def _script(self, request: web.Request, body: dict, number: int) -> web.StreamResponse:
        tenant = self.keys.get(request.headers.get(render.KEY_HEADER, ""))
        if tenant is None:
            return web.Response(status=401, text="Unauthorized")
        minute = int(self.clock() // 60)
        limits = self.limits.get(tenant, {})
        requests_key = (tenant, "requests", minute)
        self.used[requests_key] = self.used.get(requests_key, 0) + 1
        spent = self.used.get((tenant, "tokens", minute), 0)
        headers = self._headers(tenant, minute)
        if ("tokens" in limits and spent >= limits["tokens"]) or ("requests" in limits and self.used[requests_key] > limits["requests"]):
            return web.Response(status=429, text="Too Many Requests", headers={**headers, "x-envoy-ratelimited": "true"})
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
