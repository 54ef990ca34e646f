"""Tenants and rate limits: spread requests over several tenants' API keys (``--api-keys FILE``),
record what a gateway says about their limits, and report per tenant.

A gateway in front of the endpoints (docs/gateway.md) answers HTTP 429 once a key's budget is spent:
such a request is ``rate_limited``, not an error.  The limit headers are recorded as the server sent
them: Envoy's draft-03 ``x-ratelimit-*`` (envoyproxy/gateway BackendTrafficPolicy ``xRateLimitHeaders``)
and the ``x-tokens-*`` names of the KServe MaaS platform.

The keys file is JSON: ``[{"tenant": "team-a", "key": "sk-..."}, ...]`` or ``{"team-a": "sk-...", ...}``.
Keys never reach results files; only tenant names do: every key read is registered with the scrubber
(benchmarks/secrets.py), so a server that echoes one back is scrubbed too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import inputs, secrets
from .limits import KEYS_MAX_BYTES

LIMIT_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-tokens-limit",
    "x-tokens-used",
    "x-tokens-remaining",
)
KEY_HEADER = "x-api-key"  # what the gateway reads (SecurityPolicy apiKeyAuth extractFrom)
MAX_KEYS = 10_000


class KeysFileError(ValueError):
    """The keys file is unusable; the message says what and how to fix it."""


def limit_headers(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The rate-limit headers of a response (names lowercased), or None without any."""
    found = {name: headers[name] for name in LIMIT_HEADERS if name in headers}
    return found or None


@dataclass(frozen=True)
class TenantKey:
    tenant: str
    key: str


def parse_keys(text: str, source: str) -> list[TenantKey]:
    try:
        inputs.check_depth(text, "json", source, 'write a flat list of {"tenant": ..., "key": ...} objects')
    except inputs.InputError as e:
        raise KeysFileError(str(e)) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise KeysFileError(f'{source} is not JSON ({e}); write [{{"tenant": "team-a", "key": "sk-..."}}]') from None
    if isinstance(data, dict):
        data = [{"tenant": t, "key": k} for t, k in data.items()]
    if not isinstance(data, list) or not data:
        raise KeysFileError(f'{source} holds no keys; write [{{"tenant": "team-a", "key": "sk-..."}}]')
    if len(data) > MAX_KEYS:
        raise KeysFileError(f"{source} holds {len(data)} keys; at most {MAX_KEYS}")
    keys: list[TenantKey] = []
    for i, entry in enumerate(data):
        tenant = entry.get("tenant") if isinstance(entry, dict) else None
        key = entry.get("key") if isinstance(entry, dict) else None
        if not (isinstance(tenant, str) and tenant.strip() and isinstance(key, str) and key.strip()):
            raise KeysFileError(
                f'{source} entry {i} is not {{"tenant": <name>, "key": <key>}} with two non-empty strings'
            )
        if any(ch in key for ch in "\r\n") or any(ch in tenant for ch in "\r\n"):
            raise KeysFileError(f"{source} entry {i} ({tenant!r:.40}): a line break cannot go into an HTTP header")
        keys.append(TenantKey(tenant.strip(), key.strip()))
    secrets.REGISTRY.add_all(k.key for k in keys)
    return keys


def load_keys(path: str) -> list[TenantKey]:
    try:
        text = inputs.read_text(
            path,
            max_bytes=KEYS_MAX_BYTES,
            what="keys file",
            fix='give the keys file itself: JSON [{"tenant": "team-a", "key": "sk-..."}]',
        )
    except inputs.InputError as e:
        raise KeysFileError(str(e)) from None
    return parse_keys(text, path)


class KeyRing:
    """Round-robin over the tenants' keys: unit ``i`` of the workload (a request, or a whole multi-turn
    session: a conversation is one tenant's) uses key ``i mod n``, so every tenant gets an equal share
    of the load whatever the concurrency."""

    def __init__(self, keys: list[TenantKey]):
        self.keys = keys

    def target(self, index: int, base: Any) -> tuple[str, Any]:
        """(tenant, the target with that tenant's key) for unit ``index``; ``base`` is a client.Target."""
        k = self.keys[index % len(self.keys)]
        headers = {**base.headers, KEY_HEADER: k.key, "Authorization": f"Bearer {k.key}"}
        return k.tenant, replace(base, headers=headers)


@dataclass
class TenantStats:
    sent: int = 0
    ok: int = 0
    rate_limited: int = 0
    errors: int = 0
    shed: int = 0  # HTTP 429 from the endpoint's own request limit, not the tenant's (client.RequestRecord.shed)
    tokens: int = 0  # input + output tokens of successful requests (what a token limit counts)
    first_rate_limited: int | None = None  # how many requests this tenant had sent before its first 429
    last_limits: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tenant_report(records: Iterable[Any]) -> dict[str, TenantStats]:
    """Per tenant, in the order the requests were sent; records without a tenant are skipped."""
    out: dict[str, TenantStats] = {}
    for r in sorted(records, key=lambda r: r.index):
        if r.tenant is None or r.cancelled:
            continue
        s = out.setdefault(r.tenant, TenantStats())
        s.sent += 1
        if r.ok:
            s.ok += 1
            s.tokens += (r.input_tokens or 0) + (r.output_tokens or 0)
        elif r.rate_limited:
            s.rate_limited += 1
            if s.first_rate_limited is None:
                s.first_rate_limited = s.sent - 1
        elif r.shed:
            s.shed += 1
        else:
            s.errors += 1
        if r.limits:
            s.last_limits = dict(r.limits)
    return out
