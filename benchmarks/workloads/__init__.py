"""Workload shapes the runner sends: what each request contains and, for traces, when.

- synthetic: the scenario's lengths, a fresh nonce first (the default, raw engine speed);
- shared prefix (``prefix_tokens``/``prefix_groups``): a group's system prompt, then the nonce;
- sessions (``turns``): each turn resends the history with the server's actual replies;
- dataset (``dataset``): ShareGPT / OpenAI-chat conversations as given;
- trace (``trace``): lengths, groups and arrival times from a trace file.

``make_workload(config, seed)`` builds one (``WorkloadError`` for bad options or files);
``summarize(records)`` gives what a level reports about its shape.
"""

from __future__ import annotations

import random
from typing import Any

from ..limits import MAX_FILE_MB, MAX_PREFIX_TOKENS, MAX_PREFIX_WORDS, MAX_THINK_TIME
from ..metrics import LatencyStats
from ..prompts import PromptBuilder
from ..scenario import parse_scenario
from .base import Request, Workload, WorkloadError
from .dataset import Dataset, load_dataset
from .prefix import MAX_GROUPS, PrefixTexts, group_width
from .sessions import DEFAULT_HEADER, Sessions
from .synthetic import Synthetic
from .trace import DEFAULT_PREFIX_TOKENS, FORMATS, Trace, check_groups, load_trace

__all__ = ["Request", "Workload", "WorkloadError", "make_workload", "summarize", "FORMATS", "DEFAULT_HEADER"]

MAX_TURNS = 1000


def _check(config: Any) -> None:
    c = config
    if c.prefix_groups is not None and not (isinstance(c.prefix_groups, int) and 1 <= c.prefix_groups <= MAX_GROUPS):
        raise WorkloadError("prefix_groups", c.prefix_groups, f"use an integer from 1 to {MAX_GROUPS}")
    if c.prefix_tokens is not None and not (
        isinstance(c.prefix_tokens, int) and 1 <= c.prefix_tokens <= MAX_PREFIX_TOKENS
    ):
        raise WorkloadError(
            "prefix_tokens", c.prefix_tokens, f"use a number of tokens from 1 to {MAX_PREFIX_TOKENS:,}, e.g. 512"
        )
    if c.prefix_tokens is not None and not c.trace and c.prefix_tokens * (c.prefix_groups or 1) > MAX_PREFIX_WORDS:
        raise WorkloadError(
            "prefix_tokens",
            c.prefix_tokens,
            f"{c.prefix_groups or 1:,} groups of {c.prefix_tokens:,} tokens are over the limit of "
            f"{MAX_PREFIX_WORDS:,} prefix tokens held at once; use fewer groups or shorter prefixes",
        )
    if c.prefix_groups is not None and c.prefix_tokens is None and not c.trace:
        raise WorkloadError(
            "prefix_groups", c.prefix_groups, "give --prefix-tokens too (the length of each shared prefix)"
        )
    if c.prefix_tokens is not None and c.prefix_tokens < group_width(c.prefix_groups or 1):
        raise WorkloadError(
            "prefix_tokens",
            c.prefix_tokens,
            f"{c.prefix_groups} groups need prefixes of at least {group_width(c.prefix_groups or 1)} tokens to differ",
        )
    if not (isinstance(c.turns, int) and 1 <= c.turns <= MAX_TURNS):
        raise WorkloadError("turns", c.turns, f"use an integer from 1 to {MAX_TURNS}")
    if not 0 <= c.think_time <= MAX_THINK_TIME:
        raise WorkloadError("think_time", c.think_time, f"use a number of seconds from 0 to {MAX_THINK_TIME:g}")
    header = c.session_header
    if not header or any(ch in header for ch in " :\r\n\t") or not header.isascii():
        raise WorkloadError("session_header", header, "use an HTTP header name such as X-Session-Id")
    if c.dataset and c.trace:
        raise WorkloadError("dataset", c.dataset, "replay a dataset or a trace, not both")
    if (c.dataset or c.trace) and c.turns > 1:
        raise WorkloadError("turns", c.turns, "multi-turn sessions are generated: drop --turns with --dataset/--trace")
    if c.dataset and c.prefix_tokens is not None:
        raise WorkloadError("prefix_tokens", c.prefix_tokens, "a dataset is replayed as given: drop --prefix-tokens")
    if c.dataset_order not in ("sequential", "random"):
        raise WorkloadError("dataset_order", c.dataset_order, "use sequential or random")
    if not c.trace_speed > 0 or c.trace_speed == float("inf"):
        raise WorkloadError("trace_speed", c.trace_speed, "use a positive factor, e.g. 2 to replay twice as fast")
    if not 0 < c.max_file_mb <= MAX_FILE_MB:
        raise WorkloadError(
            "max_file_mb", c.max_file_mb, f"use a positive number of megabytes, at most {MAX_FILE_MB:g}"
        )


def make_workload(config: Any, prompts: PromptBuilder | None = None) -> Workload:
    """The workload ``config`` (a ``BenchmarkConfig``) asks for.  Lengths and arrivals follow ``config.seed``;
    shared-prefix and trace block texts follow ``config.prefix_seed``, a fresh one per run when unset: a
    server whose cache is warm from an earlier run must not hit blocks a cold one would miss."""
    _check(config)
    seed = config.seed
    text_seed = (
        config.prefix_seed
        if getattr(config, "prefix_seed", None) is not None
        else random.SystemRandom().getrandbits(48)
    )
    prompts = prompts or PromptBuilder(random.Random(seed).random())
    scenario = parse_scenario(config.scenario)
    if config.trace:
        entries = load_trace(config.trace, config.trace_format, config.max_file_mb)
        check_groups(config.trace, entries, config.prefix_tokens or DEFAULT_PREFIX_TOKENS)
        return Trace(
            entries,
            config.trace_speed,
            prompts,
            config.prefix_tokens or DEFAULT_PREFIX_TOKENS,
            config.session_header,
            text_seed,
        )
    if config.dataset:
        return Dataset(load_dataset(config.dataset, config.max_file_mb), scenario, config.dataset_order)
    prefix = PrefixTexts(config.prefix_tokens, config.prefix_groups or 1, text_seed) if config.prefix_tokens else None
    base = Synthetic(scenario, prompts, prefix)
    if config.turns > 1:
        return Sessions(base, config.turns, config.think_time, config.session_header, seed)
    return base


def summarize(records: list, timed: bool = False, reachable: bool = False) -> dict[str, Any]:
    """What a level reports about its workload: the shared-prefix share of input tokens (and, for shapes
    that track it, the share a prefix cache can reach: blocks this run sent before), per-turn TTFT and
    context length, and the arrival lag of trace replay (only what applies)."""
    ok = [r for r in records if r.ok]
    out: dict[str, Any] = {}
    shared = sum(r.shared_tokens for r in ok)
    total = sum(r.input_tokens or 0 for r in ok)
    if shared and total:
        # Requested prefix length over the server's count (which adds the chat template's tokens).
        out["shared_prefix_fraction"] = min(1.0, shared / total)
    if reachable and total:  # first uses excluded: what a cache cold at the run's start can hit at most
        out["reachable_prefix_fraction"] = min(1.0, sum(r.reachable_tokens for r in ok) / total)
    turns = sorted({r.turn for r in ok if r.turn is not None})
    if turns:
        out["turns"] = [
            {
                "turn": t,
                "completed": len(rs),
                "ttft": LatencyStats.of(r.ttft for r in rs).to_dict(),
                "context_tokens_mean": sum(r.input_tokens or 0 for r in rs) / len(rs),
                "context_tokens_max": max(r.input_tokens or 0 for r in rs),
            }
            for t in turns
            for rs in [[r for r in ok if r.turn == t]]
        ]
    if timed:  # trace replay: how late each request left against its timestamp
        out["arrival_lag"] = LatencyStats.of(r.start - r.scheduled for r in records if r.start).to_dict()
    return out
