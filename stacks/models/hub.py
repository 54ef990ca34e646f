"""Reading a model on the Hugging Face Hub: its info (commit, gating), `config.json`, and the safetensors
index or headers, through huggingface_hub. Every failure is one `HubError` line naming the model and the fix.

What huggingface_hub does that this relies on (huggingface/huggingface_hub@v2.4.0):
- `HF_ENDPOINT` is read once, when huggingface_hub is imported (`src/huggingface_hub/constants.py`
  `ENDPOINT = os.getenv("HF_ENDPOINT", ...)`), so `endpoint()` reads it again at call time and hands it
  to `HfApi(endpoint=...)` and `hf_hub_url(endpoint=...)`;
- `HfApi.model_info` GETs `/api/models/<id>[/revision/<rev>]` and raises through `hf_raise_for_status`
  (`src/huggingface_hub/hf_api.py`, `src/huggingface_hub/utils/_http.py`): `X-Error-Code: GatedRepo` ->
  `GatedRepoError`, `RevisionNotFound` -> `RevisionNotFoundError`, `EntryNotFound` ->
  `RemoteEntryNotFoundError`, `RepoNotFound` (and a 401 on an https repo URL) -> `RepositoryNotFoundError`;
  `GatedRepoError` subclasses `RepositoryNotFoundError` (`src/huggingface_hub/errors.py`), so it is caught
  first; anything else is `HfHubHTTPError` with `.response.status_code`;
- `ModelInfo.gated` is `"auto"`, `"manual"` or `False` (`src/huggingface_hub/hf_api.py` class ModelInfo):
  the hub answers model info of a gated model without a token, and refuses its files (401/403, GatedRepo);
- the shared client (`get_session()`) has no timeout of its own (`default_client_factory`, `timeout=None`),
  so every call here passes one, and `benchmarks/inputs.py:within` bounds the whole answer;
- `HF_HUB_OFFLINE` makes every request raise `OfflineModeIsEnabled` (`hf_request_event_hook`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from benchmarks import inputs
from benchmarks.secrets import register
from components.rules.model_facts import ModelFacts
from components.rules.model_files import ModelFilesError, facts, header_length

T = TypeVar("T")

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TOKEN_ENV = "HF_TOKEN"
DEFAULT_TIMEOUT = 30.0  # seconds for each answer, its whole body included
MAX_JSON_BYTES = 32 << 20  # config.json and indexes are kilobytes; an index of a 1000-shard model a few MB
INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"


class HubError(Exception):
    """One line: the model, what the hub said, the fix."""


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def token_from(env: str = DEFAULT_TOKEN_ENV) -> str | None:
    """The token in `$env`, registered with the scrubber so no line ever prints it; None when unset."""
    value = (os.environ.get(env) or "").strip()
    if value:
        register(value)
    return value or None


@dataclass(frozen=True)
class HubModel:
    repo_id: str
    sha: str
    gated: bool | None
    files: frozenset[str] | None  # None when the answer listed none


class Hub:
    """One endpoint and token; `timeout` bounds each answer."""

    def __init__(
        self,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        token_env: str = DEFAULT_TOKEN_ENV,
        base: str | None = None,
    ):
        from huggingface_hub import HfApi

        self.base = base or endpoint()
        self.token = token
        self.token_env = token_env
        self.timeout = timeout
        # token=False: anonymous, never a token saved by `hf auth login` that the user did not hand in.
        self.api = HfApi(endpoint=self.base, token=token or False)

    # ------------------------------------------------------------ calls

    def info(self, repo_id: str, revision: str | None = None) -> HubModel:
        what = "model info" if revision is None else f"model info at revision {revision}"
        found = self._call(
            repo_id,
            what,
            lambda: self.api.model_info(repo_id, revision=revision, timeout=self.timeout, token=self.token or False),
            revision,
        )
        gated = found.gated
        files = frozenset(s.rfilename for s in found.siblings) if found.siblings else None
        if not isinstance(found.sha, str) or not found.sha:
            raise HubError(
                f"{repo_id}: {self.base} answered model info without a commit sha. Fix: check HF_ENDPOINT points at a Hugging Face Hub"
            )
        return HubModel(repo_id, found.sha, None if gated is None else bool(gated), files)

    def read(
        self,
        repo_id: str,
        revision: str,
        filename: str,
        byte_range: tuple[int, int] | None = None,
        max_bytes: int = MAX_JSON_BYTES,
    ) -> bytes:
        """The bytes of one file at `revision` (or `byte_range`, inclusive), capped at `max_bytes`."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=self.base)
        headers = build_hf_headers(token=self.token or False)
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"

        def get() -> bytes:
            with get_session().stream("GET", url, headers=headers, timeout=self.timeout) as response:
                if response.status_code >= 400:
                    response.read()  # the error mapping reads the body
                hf_raise_for_status(response)
                chunks = response.iter_bytes(inputs.CHUNK)
                return inputs.read_capped(lambda _n: next(chunks, b""), max_bytes, url)

        return self._call(repo_id, filename, get, revision)

    def read_json(self, repo_id: str, revision: str, filename: str) -> Any:
        data = self.read(repo_id, revision, filename)
        source = f"{repo_id}: {filename} at {revision[:12]}"
        try:
            return inputs.loads_json(
                inputs.decode(data, source, "check the file on the hub"), source, "check the file on the hub"
            )
        except inputs.InputError as exc:
            raise HubError(str(exc)) from None

    def header(self, repo_id: str, revision: str, filename: str) -> dict[str, Any]:
        """A safetensors file's JSON header: its 8-byte length, then that many bytes."""
        source = f"{repo_id}: {filename}"
        try:
            length = header_length(self.read(repo_id, revision, filename, (0, 7), 8), source)
            data = self.read(repo_id, revision, filename, (8, 8 + length - 1), length)
            doc = inputs.loads_json(inputs.decode(data, source, "re-upload the file"), source, "re-upload the file")
        except (inputs.InputError, ModelFilesError) as exc:
            raise HubError(str(exc)) from None
        if not isinstance(doc, dict):
            raise HubError(f"{source}: the safetensors header is not a JSON object. Fix: re-upload the file")
        return doc

    def _call(self, repo_id: str, what: str, call: Callable[[], T], revision: str | None = None) -> T:
        import httpx2
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        token_fix = (
            f"set ${self.token_env} to a token of an account with read access"
            if not self.token
            else f"check the token in ${self.token_env} (read access, not expired)"
        )
        try:
            return inputs.within(self.timeout + 1, call, f"{repo_id}: {what}")
        except GatedRepoError as exc:
            status = _status(exc)
            raise HubError(
                f"{repo_id}: gated on Hugging Face and {'no token was given' if not self.token else 'the token cannot read it'} (HTTP {status}). "
                f"Fix: accept the model's terms at {self.base}/{repo_id} with your account, and {token_fix}"
            ) from None
        except RevisionNotFoundError:
            raise HubError(
                f"{repo_id}: revision {revision} does not exist (HTTP 404). Fix: set modelSource.revision to a commit sha of the model"
            ) from None
        except RemoteEntryNotFoundError:
            raise HubError(
                f"{repo_id}: no {what} at revision {revision} (HTTP 404). Fix: pick a revision with safetensors weights"
            ) from None
        except RepositoryNotFoundError as exc:
            status = _status(exc)
            private = (
                ""
                if status == 404 and self.token
                else ", or it is private or gated and "
                + ("no token was given" if not self.token else "the token cannot read it")
            )
            raise HubError(
                f"{repo_id}: no such model on {self.base}{private} (HTTP {status}). Fix: check the model id, or {token_fix}"
            ) from None
        except HfHubHTTPError as exc:
            status = _status(exc)
            if status == 401:
                refused = "asks for a token and none was given" if not self.token else "refused the token"
                raise HubError(f"{repo_id}: the hub {refused} (HTTP 401). Fix: {token_fix}") from None
            if status == 403:
                raise HubError(
                    f"{repo_id}: the token may not read this model (HTTP 403). Fix: {token_fix}, and accept the model's terms at {self.base}/{repo_id}"
                ) from None
            raise HubError(f"{repo_id}: {self.base} answered HTTP {status} for {what}. Fix: retry later") from None
        except (inputs.DeadlineExceeded, httpx2.TimeoutException):
            raise HubError(
                f"{repo_id}: {self.base} did not answer {what} within {self.timeout:g} s. Fix: retry, or raise --timeout"
            ) from None
        except OfflineModeIsEnabled:
            raise HubError(
                f"{repo_id}: HF_HUB_OFFLINE is set, so the hub is not asked. Fix: unset HF_HUB_OFFLINE"
            ) from None
        except httpx2.TransportError as exc:
            raise HubError(
                f"{repo_id}: cannot reach {self.base}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}. Fix: check the network, or HF_ENDPOINT"
            ) from None
        except (inputs.InputError, ModelFilesError) as exc:
            raise HubError(str(exc)) from None
        except (
            ValueError,
            TypeError,
            KeyError,
        ):  # model_info parses the answer itself (`r.json()`, `ModelInfo(**data)`)
            raise HubError(
                f"{repo_id}: {self.base} answered {what} with malformed JSON. Fix: check HF_ENDPOINT points at a Hugging Face Hub, or retry"
            ) from None


def _status(exc: Exception) -> Any:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", "?")


def lock_facts(hub: Hub, repo_id: str, revision: str | None = None, today: dt.date | None = None) -> ModelFacts:
    """The facts of `repo_id` at `revision` (default: the main branch's commit), read file by file at one commit."""
    model = hub.info(repo_id, revision)
    sha = model.sha
    config = hub.read_json(repo_id, sha, "config.json")
    index = headers = None
    sharded = INDEX in model.files if model.files is not None else None
    if sharded is None:  # the answer listed no files: try the index, then the single file
        try:
            index = hub.read_json(repo_id, sha, INDEX)
        except HubError as exc:
            if "HTTP 404" not in str(exc):
                raise
    elif sharded:
        index = hub.read_json(repo_id, sha, INDEX)
    elif SINGLE not in (model.files or ()):
        raise HubError(
            f"{repo_id}: no {INDEX} and no {SINGLE} at {sha[:12]}: not a safetensors checkpoint. Fix: serve a safetensors checkpoint"
        )
    try:
        if index is None:
            headers = {SINGLE: hub.header(repo_id, sha, SINGLE)}
        elif isinstance(config, dict) and _quantised(config):
            shards = (
                sorted({f for f in (index.get("weight_map") or {}).values() if isinstance(f, str)})
                if isinstance(index, dict)
                else []
            )
            headers = {f: hub.header(repo_id, sha, f) for f in shards}
        return facts(
            repo_id,
            f"{hub.base}/{repo_id}/blob/{sha}/config.json",
            config,
            index=index,
            headers=headers,
            revision=sha,
            gated=model.gated,
            locked_at=(today or dt.date.today()).isoformat(),
        )
    except ModelFilesError as exc:
        raise HubError(str(exc)) from None


def _quantised(config: dict) -> bool:
    from components.rules.model_files import quantization

    return quantization(config) is not None
