"""Redaction of everything secret before a plan writes it: what Pulumi marked secret, the mocks'
secret values, Secret data, the values of secret-named env vars, and every secret value the run knows
(benchmarks/secrets.py), wherever it stands."""

from __future__ import annotations

from typing import Any

from benchmarks import secrets
from components.rules import security

from .mocks import SECRET_MARK

REDACTED = secrets.REDACTED


def redact(value: Any, secret_paths: Any = ()) -> Any:
    """A copy with every secret replaced: what Pulumi marked secret (`secret_paths`, from the wire), the
    mocks' secret values, a Secret's data, and, as defence in depth, the value of any env var with a
    secret-looking name (`HF_TOKEN`, `VLLM_API_KEY`, `*_PASSWORD`), whatever the plan's verdict; any other string
    is scrubbed of the secrets the run knows (a token in `extraArgs`, a password in a URL)."""
    return _redact(value, (), {tuple(p) for p in secret_paths})


def _redact(value: Any, path: tuple[Any, ...], paths: set[tuple[Any, ...]]) -> Any:
    if path in paths:
        return REDACTED
    if isinstance(value, dict):
        secret_object = path == () and value.get("kind") == "Secret"
        env_entry = security.is_secret_name(value.get("name")) and "value" in value
        return {
            k: {key: REDACTED for key in v}
            if secret_object and k in ("data", "stringData") and isinstance(v, dict)
            else REDACTED
            if env_entry and k == "value"
            else _redact(v, (*path, k), paths)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v, (*path, i), paths) for i, v in enumerate(value)]
    if isinstance(value, str):
        return REDACTED if SECRET_MARK in value else secrets.scrub(value)
    return value
