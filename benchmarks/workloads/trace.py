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

The file is parsed once, line by line, into columns (``TraceTable``): a million Mooncake lines take
3.4 CPU-seconds and 193 MB, shared blocks included (``python -m benchmarks.experiments.trace_parse_speed``), where reading the text whole,
splitting it and keeping a dict and an entry per line took ~11 s and 1 GB.

Shared prefixes come in two measures: ``shared_tokens`` counts every request's leading blocks that
some request of the trace shares (the first use included: a cold server misses it), and
``reachable_tokens`` only those already sent earlier in this run (what a prefix cache can hit).
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_left
from collections.abc import Sequence

from ..limits import MAX_PREFIX_WORDS
from ..prompts import PromptBuilder
from .base import Request, Unit, WorkloadError, system, user
from .prefix import MAX_GROUPS, BlockTexts, PrefixTexts
from .trace_file import FIELD, FORMATS, MOONCAKE_BLOCK_TOKENS, TraceEntry, TraceTable, load_trace

__all__ = [
    "DEFAULT_PREFIX_TOKENS",
    "FORMATS",
    "MOONCAKE_BLOCK_TOKENS",
    "SeenBlocks",
    "SharedBlocks",
    "Trace",
    "TraceEntry",
    "TraceTable",
    "check_groups",
    "load_trace",
]

DEFAULT_PREFIX_TOKENS = 256  # native traces: shared system prompt of a prefix_group, if --prefix-tokens is unset
DENSE_IDS = 1 << 26  # hash ids below this are counted in a bytearray (64 MB at most); larger ones in a dict


class SharedBlocks:
    """The hash ids that occur more than once in the trace, sorted (``h in shared`` is a binary search),
    and the largest id.  Found by numpy (pinned) with one sorted copy of the ids: a million Mooncake lines
    (15 million ids) in under 1 s and 120 MB, where a Python loop took 2 s and a bincount 200 MB.  An id
    repeated within one line counts as shared."""

    def __init__(self, ids: array) -> None:
        self.ids = array(ids.typecode)
        self.max_id = -1
        if not ids:
            return
        import numpy  # imported here: only traces with hash ids need it

        values = numpy.sort(numpy.frombuffer(ids, dtype=numpy.dtype(ids.typecode)))
        self.max_id = int(values[-1])
        repeated = values[1:][values[1:] == values[:-1]]  # sorted: each id once per repeat
        del values
        first = numpy.empty(len(repeated), dtype=bool)
        first[:1] = True
        numpy.not_equal(repeated[1:], repeated[:-1], out=first[1:])  # numpy.unique took 5 s on 4 million
        self.ids = array(ids.typecode, repeated[first].tobytes())

    def __contains__(self, h: int) -> bool:
        i = bisect_left(self.ids, h)
        return i < len(self.ids) and self.ids[i] == h


class SeenBlocks:
    """The hash ids sent so far in this run: a bytearray for the dense small ids the published traces use."""

    def __init__(self, max_id: int) -> None:
        self.dense = bytearray(max_id + 1) if 0 <= max_id < DENSE_IDS else None
        self.sparse: set[int] = set()

    def __contains__(self, h: int) -> bool:
        if self.dense is not None:
            return 0 <= h < len(self.dense) and bool(self.dense[h])
        return h in self.sparse

    def add(self, h: int) -> None:
        if self.dense is not None and 0 <= h < len(self.dense):
            self.dense[h] = 1
        else:
            self.sparse.add(h)


def check_groups(path: str, entries: TraceTable, prefix_tokens: int) -> None:
    """The group prompts of a native trace are built up front: bounded in number and in words."""
    groups = len(entries.group_names)
    if groups > MAX_GROUPS or groups * prefix_tokens > MAX_PREFIX_WORDS:
        raise WorkloadError(
            FIELD,
            path,
            f"{path}: {groups:,} prefix groups of {prefix_tokens:,} tokens: over the limits of {MAX_GROUPS:,} groups "
            f"and {MAX_PREFIX_WORDS:,} prefix tokens in all; use fewer groups or a smaller --prefix-tokens",
        )


class Trace:
    name = "trace"
    tracks_reachable = True

    def __init__(
        self,
        entries: TraceTable | Sequence[TraceEntry],
        speed: float,
        prompts: PromptBuilder,
        prefix_tokens: int,
        session_header: str,
        seed: object,
    ) -> None:
        table = entries if isinstance(entries, TraceTable) else TraceTable.of(entries)
        self.entries, self.prompts, self.header, self.text_seed = table, prompts, session_header, seed
        self.arrivals = array("d", (at / speed for at in table.at)) if speed != 1 else table.at
        groups = len(table.group_names)
        self.prefixes = PrefixTexts(prefix_tokens, groups, seed) if groups else None
        self.blocks = BlockTexts(MOONCAKE_BLOCK_TOKENS, seed)
        self.shared_blocks = SharedBlocks(table.hash_ids)
        self.seen_blocks = SeenBlocks(self.shared_blocks.max_id)  # sent earlier in this run (warm-up included)
        self.seen_groups: set[int] = set()

    def _prefix(self, i: int, most: int) -> tuple[str, int, int]:
        """The shared part of line i's prompt, at most `most` words: its text, its length in words, and how
        many of those words this run has sent before (a cache can hit those). The shared part is the line's
        group system prompt, or its leading hash blocks that other lines use too (Mooncake ids chain: a
        shared block implies shared predecessors). Built from the blocks it sends only."""
        group = self.entries.group(i)
        if group is not None and self.prefixes is not None:
            text, words = self.prefixes.texts[group], min(self.prefixes.tokens, most)
            if self.prefixes.tokens > most:
                text = " ".join(text.split(" ", most)[:most])
            reachable = words if group in self.seen_groups else 0
            self.seen_groups.add(group)
            return text, words, reachable
        parts, words, reachable, leading = [], 0, 0, True
        hashes = self.entries.hashes(i)
        for h in hashes:
            if words >= most or h not in self.shared_blocks:
                break
            take = min(MOONCAKE_BLOCK_TOKENS, most - words)
            text = self.blocks.text(h)
            parts.append(text if take == MOONCAKE_BLOCK_TOKENS else " ".join(text.split(" ", take)[:take]))
            leading = leading and h in self.seen_blocks
            reachable += take if leading else 0
            words += take
        for h in hashes:
            self.seen_blocks.add(h)
        return " ".join(parts), words, reachable

    def unit(self, number: int, rng: random.Random, nonces: random.Random) -> Unit:
        i = number % len(self.entries)  # warm-up requests reuse the first lines
        n_in, n_out = self.entries.input_tokens[i], self.entries.output_tokens[i]
        prefix, shared, reachable = self._prefix(i, n_in - 1)  # room for at least one own token
        own = user(self.prompts.build(n_in - shared, nonces))
        messages = ((system(prefix),) if shared else ()) + (own,)
        session = self.entries.sessions[i] if self.entries.sessions is not None else None
        headers = {self.header: session} if session is not None else {}
        yield Request(messages, n_in, n_out, shared, headers, reachable_tokens=reachable)
