"""Request URLs, the served model name (G5) and request bodies."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from . import secrets

try:  # a trace's 8,000-token prompt: ~0.7 ms with json, ~0.05 ms with orjson (pinned)
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - stdlib fallback keeps the module usable
    import json

    def _dumps(obj: dict) -> bytes:  # type: ignore[misc]  # a stand-in for orjson's dumps, with the arguments used here
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


ENDPOINT_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


def served_model_name(model_id: str) -> str:
    """G5: the engine serves a model under the last path segment of its id
    (``Qwen/Qwen3-4B-Instruct-2507`` -> ``Qwen3-4B-Instruct-2507``); clients send that name."""
    return model_id.rstrip("/").rsplit("/", 1)[-1]


def endpoint_url(base: str, endpoint: str) -> str:
    """Accepts ``http://host:port``, ``http://host:port/v1`` or the full endpoint URL."""
    base = base.rstrip("/")
    path = ENDPOINT_PATHS[endpoint]
    if base.endswith(path):
        return base
    if base.endswith("/v1"):
        base = base[:-3]
    return base + path


def check_url(url: str) -> str | None:
    """None if usable, else what is wrong with it.  A URL with user info is refused: its credential
    would be written into results files and logs with the URL."""
    if secrets.url_credentials(url):
        return (
            "a credential in the URL (user info before '@') would be written into results and logs: "
            "remove it and pass the key with --api-key (or $OPENAI_API_KEY), or tenants' keys with --api-keys FILE"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError as e:
        return str(e)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected http://HOST[:PORT][/v1]"
    return None


def build_body(endpoint: str, model: str, prompt: str | Sequence[dict], max_tokens: int, ignore_eos: bool) -> bytes:
    """A streaming request that asks for usage in the final chunk.  ``prompt`` is a user message's
    text or a list of chat messages (the completions endpoint gets their contents joined by blank
    lines).  With ``ignore_eos`` (vLLM, SGLang) the server must generate exactly ``max_tokens``
    tokens: ``min_tokens`` is set too."""
    body: dict = {"model": model}
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if endpoint == "chat":
        body["messages"] = messages
    else:
        body["prompt"] = "\n\n".join(m["content"] for m in messages)
    body["max_tokens"] = max_tokens
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    if ignore_eos:
        body["ignore_eos"] = True
        body["min_tokens"] = max_tokens
    return _dumps(body)
