"""Conversation datasets, replayed as given: ShareGPT JSON and OpenAI-chat JSONL.

Entries (a JSON array, or one JSON object per line) are either ShareGPT
(``{"conversations": [{"from": "human"|"gpt"|"system", "value": ...}, ...]}``, the layout of
ShareGPT_V3_unfiltered_cleaned_split.json that vLLM's benchmark_serving reads) or OpenAI chat
(``{"messages": [{"role": ..., "content": ...}, ...]}``).  Each request sends the conversation up
to and including its last user message; a trailing assistant reply is the reference answer and is
not sent.  Output lengths come from the scenario (the reply's length needs a tokenizer).
"""

from __future__ import annotations

import json
import random
from typing import Any, Literal

from ..scenario import Scenario
from .base import Request, Unit, WorkloadError
from .files import read_text

ROLES: dict[Any, str] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "bing": "assistant",
    "bard": "assistant",
}
FIELD = "dataset"


def _entries(path: str, text: str) -> list[tuple[str, object]]:
    """(where, entry) pairs; ``where`` is file:line (JSONL) or file: entry N (JSON array)."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except (ValueError, RecursionError) as e:  # depth was checked on reading: RecursionError is a second guard
            raise WorkloadError(
                FIELD, path, f"{path}:{getattr(e, 'lineno', '?')}: not valid JSON ({e}); give a ShareGPT JSON array"
            ) from None
        return [(f"{path}: entry {i + 1}", item) for i, item in enumerate(items)]
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"{path}:{n}", json.loads(line)))
        except (ValueError, RecursionError) as e:
            raise WorkloadError(
                FIELD, path, f"{path}:{n}: not valid JSON ({e}); give one JSON object per line"
            ) from None
    return out


def _messages(where: str, path: str, entry: object) -> tuple[dict, ...]:
    def bad(why: str) -> WorkloadError:
        return WorkloadError(
            FIELD,
            path,
            f'{where}: {why}; use {{"messages": [{{"role": "user", "content": "..."}}]}} '
            'or {"conversations": [{"from": "human", "value": "..."}]}',
        )

    if not isinstance(entry, dict):
        raise bad(f"expected an object, got {type(entry).__name__}")
    if isinstance(entry.get("messages"), list):
        turns = [(m.get("role"), m.get("content")) if isinstance(m, dict) else (None, None) for m in entry["messages"]]
    elif isinstance(entry.get("conversations"), list):
        turns = [
            (ROLES.get(m.get("from")), m.get("value")) if isinstance(m, dict) else (None, None)
            for m in entry["conversations"]
        ]
    else:
        raise bad("no 'messages' or 'conversations' list")
    for role, content in turns:
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise bad(f"a turn with role {role!r} and content of type {type(content).__name__}")
    while turns and turns[-1][0] != "user":
        turns.pop()  # the reference reply (and anything after the last question) is not sent
    if not turns:
        raise bad("no user message")
    return tuple({"role": r, "content": c} for r, c in turns)


def load_dataset(path: str, max_mb: float) -> list[tuple[dict, ...]]:
    entries = _entries(path, read_text(path, FIELD, max_mb, "json"))
    if not entries:
        raise WorkloadError(FIELD, path, f"{path}: no conversations; give at least one")
    return [_messages(where, path, entry) for where, entry in entries]


class Dataset:
    name = "dataset"
    arrivals = None

    def __init__(
        self, conversations: list[tuple[dict, ...]], scenario: Scenario, order: Literal["sequential", "random"]
    ) -> None:
        self.conversations, self.scenario, self.order = conversations, scenario, order

    def unit(self, number: int, rng: random.Random, nonces: random.Random) -> Unit:
        n = len(self.conversations)
        messages = self.conversations[number % n if self.order == "sequential" else rng.randrange(n)]
        _, n_out = self.scenario.sample(rng)
        words = sum(len(m["content"].split()) for m in messages)
        yield Request(messages, max(1, words), n_out)
