"""Secrets are scrubbed by value, in one place: every secret value the tool meets in a run is registered
here once, and every text it hands out (problem lines, console lines, plan files, `--json` reports,
load-generator results, the tuning database, reports, capacity files) passes through `scrub` or
`scrub_data` first.

Standard library only and importing nothing of the project, so every layer may import it: the rule
library (problem lines), `stacks` (config, plan, check, tuning) and the load generator, which imports
nothing outside `benchmarks` (tests/stack/test_dependency_direction.py).

What counts as a secret (`collect`): the value of a Pulumi `secure:` entry (its ciphertext), the value of a
key or env var with a secret name (`is_secret_name`: HF_TOKEN, VLLM_API_KEY, *_PASSWORD, ...), the
credential in a URL's user info, the value of a credential flag (`--hf-token X`, `--api-key=X`), the data
of a Kubernetes Secret, and values of well-known token shapes (`sk-...`, `hf_...`, `AKIA...`). Callers
register what only they know: API keys (`--api-key`, a keys file, a stack's `apiKeys` output).

What is scrubbed: a registered value wherever it is a whole value, and any run of `FRAGMENT` or more of its
characters wherever it appears in text, so a message that quotes the first 40 characters of a token, or
a server that echoes part of a key, still shows none of it. Credentials in URLs (`scheme://user:pass@`) are
masked in every text whether registered or not.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

REDACTED = "[secret]"
FRAGMENT = 8  # this many characters of a known secret, anywhere in a text, are scrubbed
SHORTEST = 4  # shorter values are never registered: they cannot be told from ordinary words
# Grams kept per secret: a hostile value of megabytes is shown at most by its ends (messages shorten values).
_MAX_SPAN = 32 * 1024
_TRIVIAL = frozenset({"true", "false", "null", "none", "yes", "no", "on", "off", REDACTED})

# ---------------------------------------------------------------- names and shapes that hold secrets

# VLLM_API_KEY, HF_TOKEN, *_TOKEN, *_KEY, *PASSWORD*, *SECRET*, *CREDENTIAL*, apiKey, clientSecret. Names of
# references to a secret (`*_SECRET_NAME`, `*_KEY_ID`, `*_TOKEN_FILE`, `apiKeySecretArn`) are not secrets.
SECRET_WORD = re.compile(
    r"(?i)(^|[_.-])(api[_-]?key|apikey|secret|token|passw(or)?d|passwd|credentials?|private[_-]?key|access[_-]?key)($|[_.-])"
)
_SECRET_ENV_NAME = re.compile(r"(?i)(^|_)(token|key|api_?key|apikey)$|passw(or)?d|secret|credential|private_?key")
NOT_A_SECRET = re.compile(r"(?i)(name|file|path|arn|ref|id|url|ttl|length|size)$")
# Well-known token shapes: OpenAI-style keys, AWS access keys, Hugging Face and GitHub tokens, Slack, PEM.
SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)"
)
ENV_REFERENCE = re.compile(r"^\$\([A-Za-z_][A-Za-z0-9_]*\)$")  # `$(VLLM_API_KEY)`: Kubernetes expands it


def is_secret_name(name: Any) -> bool:
    """A key or env var name that holds a secret (rule S3); its value is a secret whatever it looks like."""
    if not isinstance(name, str):
        return False
    return bool(_SECRET_ENV_NAME.search(name) or SECRET_WORD.search(name)) and not NOT_A_SECRET.search(name)


# Engine flags that carry a credential, in any spelling: `--hf-token`, `--hf_token=X`, `--api-key`,
# `--admin-api-key`, `--token`, `--password`, `--db-password`, `--secret-key`, `--access-key`.
_CREDENTIAL_FLAG = re.compile(
    r"(?i)^--?(?:[a-z0-9]+[-_])*(token|api[-_]?key|apikey|passw(?:or)?d|secret|secret[-_]key|access[-_]key|private[-_]key|credentials?)$"
)


def credential_flag(arg: Any) -> str | None:
    """The flag name (`--hf-token`) when `arg` is a flag that carries a credential, `--flag=value` included."""
    if not isinstance(arg, str) or not arg.startswith("-"):
        return None
    flag = arg.split("=", 1)[0]
    return flag if _CREDENTIAL_FLAG.match(flag) else None


def credential_args(args: Iterable[Any]) -> list[tuple[int, str, str | None]]:
    """(index, flag, value) of every credential flag in an argument list; the value is the text after `=`
    or the next argument when that is not a flag (None: a bare flag, no credential written)."""
    items = list(args)
    out = []
    for i, arg in enumerate(items):
        flag = credential_flag(arg)
        if flag is None:
            continue
        if "=" in arg:
            value: str | None = arg.split("=", 1)[1]
        elif i + 1 < len(items) and isinstance(items[i + 1], str) and not items[i + 1].startswith("-"):
            value = items[i + 1]
        else:
            value = None
        out.append((i, flag, value))
    return out


# `scheme://userinfo@host`: the user info is everything up to the last `@` before the path.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s?#\"'<>]*)@")


def url_credentials(text: Any) -> list[str]:
    """The credentials in the URLs of `text`: each URL's password, or its user when it has no password (a
    token given as the user, `https://TOKEN@host`)."""
    if not isinstance(text, str) or "://" not in text:
        return []
    out = []
    for found in _USERINFO.finditer(text):
        user, colon, password = found.group(2).partition(":")
        out.append(password if colon else user)
    return [c for c in out if c]


def without_credentials(text: str) -> str:
    """`text` with the user info of every URL replaced: `redis://[secret]@cache:6379`."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text) if "://" in text else text


def is_secure(value: Any) -> bool:
    """Pulumi's stack-file form of a secret, `{secure: <ciphertext>}` (`pulumi config set --secret`)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


# ---------------------------------------------------------------- the registry


def _tokens(value: str) -> list[str]:
    """What of a value is matched by fragments: the whole value when it is one word; in a document (a value
    with spaces or lines, e.g. a config file in a Secret) only its token-like words, so the document's
    ordinary words (`apiVersion`, `namespace`) are not scrubbed from every later text."""
    if not re.search(r"\s", value):
        return [value]
    words = re.split(r"[\s\"'{}\[\](),;:=]+", value)
    return [w for w in words if len(w) >= FRAGMENT and re.search(r"[0-9]", w) and re.search(r"[A-Za-z]", w)]


class Registry:
    """The secret values known in this process. Thread-safe: trials register keys while others scrub."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: set[str] = set()
        self._grams: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self._exact)

    def clear(self) -> None:
        with self._lock:
            self._exact.clear()
            self._grams.clear()

    def add(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        stripped = value.strip()
        if len(stripped) < SHORTEST or stripped.lower() in _TRIVIAL or ENV_REFERENCE.match(stripped):
            return
        grams: set[str] = set()
        for token in _tokens(stripped):
            spans = [token] if len(token) <= 2 * _MAX_SPAN else [token[:_MAX_SPAN], token[-_MAX_SPAN:]]
            for span in spans:
                grams.update(span[i : i + FRAGMENT] for i in range(len(span) - FRAGMENT + 1))
        grams.discard(REDACTED)
        with self._lock:
            self._exact.update((value, stripped))
            self._grams.update(grams)

    def add_all(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    def holds(self, text: Any) -> bool:
        """Whether `text` shows any known secret (whole, or `FRAGMENT` characters of one)."""
        return isinstance(text, str) and self.scrub(text) != text

    def scrub(self, text: Any) -> str:
        """`text` with every known secret, any `FRAGMENT` characters of one and every URL credential replaced."""
        text = without_credentials(text if isinstance(text, str) else str(text))
        if not self._exact:
            return text
        if text.strip() in self._exact:
            return REDACTED
        grams = self._grams
        if len(text) < FRAGMENT or not grams:
            return text
        out, done, start, end = [], 0, -1, -1
        for i in range(len(text) - FRAGMENT + 1):
            if text[i : i + FRAGMENT] in grams:
                if i > end:  # a new run: the previous one is written
                    if start >= 0:
                        out += [text[done:start], REDACTED]
                        done = end
                    start = i
                end = i + FRAGMENT
        if start < 0:
            return text
        out += [text[done:start], REDACTED, text[end:]]
        return "".join(out)

    def scrub_data(self, data: Any) -> Any:
        """A copy of `data` (JSON-like) with every string scrubbed, keys included; a number that is a known
        secret (a Secret's data written as a number) becomes the marker too."""
        if isinstance(data, dict):
            return {self.scrub_data(k) if isinstance(k, str) else k: self.scrub_data(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self.scrub_data(v) for v in data]
        if isinstance(data, tuple):
            return tuple(self.scrub_data(v) for v in data)
        if isinstance(data, str):
            return self.scrub(data)
        if isinstance(data, (int, float)) and not isinstance(data, bool) and self._exact and str(data) in self._exact:
            return REDACTED
        return data


REGISTRY = Registry()
register = REGISTRY.add
scrub = REGISTRY.scrub
scrub_data = REGISTRY.scrub_data


def quoted(value: Any) -> str:
    """`repr(value)` that never shows a known secret: the value-quoting helper of every problem line. The
    value is scrubbed before it is quoted (a control character in a token would otherwise break it into
    pieces that no longer match) and the quote after (a shortened value shows only a piece)."""
    return scrub(repr(scrub_data(value)))


def collect(data: Any) -> None:
    """Register every secret in a config or manifest: `secure:` values, values of secret-named keys and of
    secret-named `{name, value}` env entries, URL credentials, credential flags' values, Secret data, and
    values of well-known token shapes."""
    if isinstance(data, dict):
        if is_secure(data):
            register(data["secure"])
            return
        if data.get("kind") == "Secret":
            _secret_data(data)
        if isinstance(data.get("value"), str) and is_secret_name(data.get("name")):
            register(data["value"])
        for key, value in data.items():
            # `key` alone names the key of a Secret in a reference ({name, key}), not a value.
            if (
                key != "key"
                and is_secret_name(key)
                and isinstance(value, (str, int, float))
                and not isinstance(value, bool)
            ):
                register(str(value))
            collect(value)
    elif isinstance(data, (list, tuple)):
        for _, _, value in credential_args(data):
            register(value)
        for item in data:
            collect(item)
    elif isinstance(data, str):
        REGISTRY.add_all(url_credentials(data))
        REGISTRY.add_all(unquote(c) for c in url_credentials(data))
        REGISTRY.add_all(m.group() for m in SECRET_VALUE.finditer(data))


def _secret_data(secret: dict) -> None:
    """Every value in a Secret's `data` (and its base64-decoded text) and `stringData`, whatever its shape: a
    malformed Secret is quoted by the schema error that rejects it."""
    for field in ("data", "stringData"):
        for value in _leaves(secret.get(field)):
            register(value)
            if field == "data":
                try:
                    register(base64.b64decode(value, validate=True).decode("utf-8"))
                except (binascii.Error, ValueError):
                    pass


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


class ScrubbedStream:
    """A text stream (stdout, stderr) whose every write is scrubbed: the CLIs print through it."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(scrub(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
