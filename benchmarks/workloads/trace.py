"""Trace replay: one request per line, sent at its timestamp (divided by ``--trace-speed``).

Formats (``--trace-format``):

- ``native`` (JSONL): ``timestamp`` (seconds from the first request), ``input_tokens``,
  ``output_tokens``, optional ``prefix_group`` (requests of one group share a system prompt of
  ``--prefix-tokens`` tokens) and ``session_id`` (sent in the session header).
- ``mooncake`` (JSONL), the trace Mooncake published (kvcache-ai/Mooncake, README "open sourced
  the trace", mooncake_trace.jsonl; FAST25-release/traces): ``timestamp`` in ms from the first
  request, ``input_length``, ``output_length``, ``hash_ids``: one id per block of
  ``MOONCAKE_BLOCK_TOKENS`` tokens, and requests sharing leading ids share that prefix.
- ``azure`` (CSV), the Azure LLM inference trace (Azure/AzurePublicDataset,
  AzureLLMInferenceDataset2023.md): ``TIMESTAMP`` (a date-time, e.g. 2023-11-16 18:15:46.6805900),
  ``ContextTokens``, ``GeneratedTokens``.

Each request's own part starts with a fresh nonce after any shared prefix, as in the synthetic
shapes.  Every malformed line is one error naming file:line, the field and the fix.

What a trace costs is bounded (benchmarks/limits.py): its lines (``MAX_TRACE_REQUESTS``), a Mooncake
line's ``hash_ids`` (no more than its ``input_length`` has blocks), the group prompts of a native
trace (``MAX_GROUPS`` groups, ``MAX_PREFIX_WORDS`` words in all) and the block texts kept
(``MAX_CACHED_BLOCKS``); a request's shared prefix is built from the blocks it needs, no more.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from dataclasses import dataclass
from math import ceil
from datetime import datetime
from typing import Optional

from ..limits import MAX_PREFIX_WORDS, MAX_TRACE_REQUESTS
from ..prompts import PromptBuilder
from ..scenario import MAX_TOKENS
from .base import Request, Unit, WorkloadError, system, user
from .files import read_text
from .prefix import MAX_GROUPS, BlockTexts, PrefixTexts

FORMATS = ("native", "mooncake", "azure")
# Tokens per hash id in the Mooncake trace: kvcache-ai/Mooncake@v0.3.12 FAST25-release/README.md
# ("The block size is 512 tokens"); AIPerf's default too (ai-dynamo/aiperf@v0.1.1 config_defaults.py).
MOONCAKE_BLOCK_TOKENS = 512
DEFAULT_PREFIX_TOKENS = 256  # native traces: shared system prompt of a prefix_group, if --prefix-tokens is unset
FIELD = "trace"


@dataclass(frozen=True)
class TraceEntry:
    at: float  # seconds from the first request
    input_tokens: int
    output_tokens: int
    prefix_group: Optional[str] = None
    session_id: Optional[str] = None
    hash_ids: tuple[int, ...] = ()


def _count(where: str, path: str, row: dict, key: str) -> int:
    v = row.get(key)
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v)
    if type(v) is not int or not 1 <= v <= MAX_TOKENS:
        raise WorkloadError(FIELD, path, f"{where}: {key}={v!r} must be an integer from 1 to {MAX_TOKENS}; fix or drop the line")
    return v


def _time(where: str, path: str, value: object, key: str, scale: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise WorkloadError(FIELD, path, f"{where}: {key}={value!r} must be a number >= 0 ({'ms' if scale != 1 else 's'} from the first request)")
    return value * scale


def _json_rows(path: str, text: str) -> list[tuple[str, dict]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:  # depth was checked on reading: RecursionError is a second guard
            raise WorkloadError(FIELD, path, f"{where}: not valid JSON ({e}); give one JSON object per line") from None
        if not isinstance(row, dict):
            raise WorkloadError(FIELD, path, f"{where}: expected a JSON object, got {type(row).__name__}")
        rows.append((where, row))
    return rows


def _native(path: str, text: str) -> list[TraceEntry]:
    out = []
    for where, row in _json_rows(path, text):
        group, session = row.get("prefix_group"), row.get("session_id")
        for key, v in (("prefix_group", group), ("session_id", session)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int))):
                raise WorkloadError(FIELD, path, f"{where}: {key}={v!r} must be a string or an integer")
        out.append(TraceEntry(_time(where, path, row.get("timestamp"), "timestamp", 1.0), _count(where, path, row, "input_tokens"),
                              _count(where, path, row, "output_tokens"), None if group is None else str(group),
                              None if session is None else str(session)))
    return out


def _mooncake(path: str, text: str) -> list[TraceEntry]:
    out = []
    for where, row in _json_rows(path, text):
        ids = row.get("hash_ids", [])
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            raise WorkloadError(FIELD, path, f"{where}: hash_ids={ids!r:.80} must be a list of integers")
        length = _count(where, path, row, "input_length")
        # One id per block of the input (the trace's lines: 6755 tokens, 14 ids): more ids than blocks
        # would each expand to a block of text that no request sends.
        blocks = ceil(length / MOONCAKE_BLOCK_TOKENS)
        if len(ids) > blocks:
            raise WorkloadError(FIELD, path, f"{where}: {len(ids)} hash_ids for input_length={length}, which has {blocks} blocks of "
                                             f"{MOONCAKE_BLOCK_TOKENS} tokens; give one id per block (fix or drop the line)")
        out.append(TraceEntry(_time(where, path, row.get("timestamp"), "timestamp", 0.001), length,
                              _count(where, path, row, "output_length"), hash_ids=tuple(ids)))
    return out


def _azure_time(where: str, path: str, text: str) -> float:
    s = (text or "").strip()
    head, dot, frac = s.partition(".")
    try:  # the trace writes 7 fractional digits; datetime takes at most 6
        return datetime.fromisoformat(head + (dot + frac[:6] if dot else "")).timestamp()
    except ValueError:
        raise WorkloadError(FIELD, path, f"{where}: TIMESTAMP={s!r:.60} is not a date-time like 2023-11-16 18:15:46.6805900") from None


def _azure(path: str, text: str) -> list[TraceEntry]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [k for k in ("TIMESTAMP", "ContextTokens", "GeneratedTokens") if k not in (reader.fieldnames or ())]
    if missing:
        raise WorkloadError(FIELD, path, f"{path}:1: header lacks {', '.join(missing)}; the Azure trace's header is TIMESTAMP,ContextTokens,GeneratedTokens")
    rows = []
    try:
        for row in reader:
            rows.append((f"{path}:{reader.line_num}", row))
    except csv.Error as e:  # a field over csv.field_size_limit (128 KiB), a NUL, a stray quote
        raise WorkloadError(FIELD, path, f"{path}:{reader.line_num + 1}: not a CSV row of the Azure trace ({e}); fix or drop the line") from None
    out, first = [], None
    for where, row in rows:
        t = _azure_time(where, path, row["TIMESTAMP"])
        first = t if first is None else first
        out.append(TraceEntry(t - first, _count(where, path, row, "ContextTokens"), _count(where, path, row, "GeneratedTokens")))
    return out


def check_groups(path: str, entries: list[TraceEntry], prefix_tokens: int) -> None:
    """The group prompts of a native trace are built up front: bounded in number and in words."""
    groups = len({e.prefix_group for e in entries if e.prefix_group is not None})
    if groups > MAX_GROUPS or groups * prefix_tokens > MAX_PREFIX_WORDS:
        raise WorkloadError(FIELD, path, f"{path}: {groups:,} prefix groups of {prefix_tokens:,} tokens: over the limits of {MAX_GROUPS:,} groups "
                                         f"and {MAX_PREFIX_WORDS:,} prefix tokens in all; use fewer groups or a smaller --prefix-tokens")


def load_trace(path: str, fmt: str, max_mb: float) -> list[TraceEntry]:
    if fmt not in FORMATS:
        raise WorkloadError("trace_format", fmt, f"use one of {', '.join(FORMATS)}")
    text = read_text(path, FIELD, max_mb, None if fmt == "azure" else "jsonl")
    lines = text.count("\n") + (not text.endswith("\n"))  # counted before a line is parsed
    if lines > MAX_TRACE_REQUESTS + (fmt == "azure"):  # + the Azure header
        raise WorkloadError(FIELD, path, f"{path}: {lines:,} lines, over the limit of {MAX_TRACE_REQUESTS:,} requests a replay holds; "
                                         f"cut the file, e.g. head -n {MAX_TRACE_REQUESTS}")
    entries = {"native": _native, "mooncake": _mooncake, "azure": _azure}[fmt](path, text)
    if not entries:
        raise WorkloadError(FIELD, path, f"{path}: no requests; give at least one line")
    for prev, (i, e) in zip(entries, enumerate(entries[1:], 2)):
        if e.at < prev.at:
            raise WorkloadError(FIELD, path, f"{path}: request {i} is earlier than request {i - 1} ({e.at:g} s < {prev.at:g} s); sort the file by timestamp")
    start = entries[0].at  # replay from the first request, whatever the file's origin
    return [TraceEntry(e.at - start, *(getattr(e, k) for k in ("input_tokens", "output_tokens", "prefix_group", "session_id", "hash_ids")))
            for e in entries]


class Trace:
    name = "trace"

    def __init__(self, entries: list[TraceEntry], speed: float, prompts: PromptBuilder, prefix_tokens: int,
                 session_header: str, seed: object) -> None:
        self.entries, self.prompts, self.header = entries, prompts, session_header
        self.arrivals = [e.at / speed for e in entries]
        groups = list(dict.fromkeys(e.prefix_group for e in entries if e.prefix_group is not None))
        self.group_index = {g: i for i, g in enumerate(groups)}
        self.prefixes = PrefixTexts(prefix_tokens, len(groups), seed) if groups else None
        self.blocks = BlockTexts(MOONCAKE_BLOCK_TOKENS, seed)
        self.block_uses = Counter(h for e in entries for h in dict.fromkeys(e.hash_ids))

    def _prefix(self, e: TraceEntry, most: int) -> tuple[str, int]:
        """The shared part of the entry's prompt, at most `most` words, and its length in words: its
        group's system prompt, or its leading hash blocks that other requests use too (Mooncake ids
        chain: a shared block implies shared predecessors). Built from the blocks it sends only."""
        if e.prefix_group is not None and self.prefixes is not None:
            text = self.prefixes.texts[self.group_index[e.prefix_group]]
            if self.prefixes.tokens <= most:
                return text, self.prefixes.tokens
            return " ".join(text.split(" ", most)[:most]), most
        parts, words = [], 0
        for h in e.hash_ids:
            if words >= most or self.block_uses[h] < 2:
                break
            take = min(MOONCAKE_BLOCK_TOKENS, most - words)
            text = self.blocks.text(h)
            parts.append(text if take == MOONCAKE_BLOCK_TOKENS else " ".join(text.split(" ", take)[:take]))
            words += take
        return " ".join(parts), words

    def unit(self, number: int, rng: random.Random, nonces: random.Random) -> Unit:
        e = self.entries[number % len(self.entries)]  # warm-up requests reuse the first lines
        prefix, shared = self._prefix(e, e.input_tokens - 1)  # room for at least one own token
        own = user(self.prompts.build(e.input_tokens - shared, nonces))
        messages = ((system(prefix),) if shared else ()) + (own,)
        headers = {self.header: e.session_id} if e.session_id is not None else {}
        yield Request(messages, e.input_tokens, e.output_tokens, shared, headers)
