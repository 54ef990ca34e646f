"""Human-facing output: the rich results table, the progress bar, and the JSON file.

Server text (error bodies) and user data (model names) are printed as given: every console here
is made by ``literal_console``, with markup and emoji codes off, and colour comes from ``style=``.
A ``[/x]`` in an HTTP 500 body therefore prints as ``[/x]`` instead of raising MarkupError.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TextIO, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from .metrics import LatencyStats
from .outputs import Kind, Output, json_bytes, json_object_with
from .results import BenchmarkResult
from .secrets import ScrubbedStream, scrub, scrub_data
from .validity import summary

RESULTS_FILE = Kind(
    "load-generator results JSON", "results.json", json_object_with("schema_version", "config", "levels")
)
SHOW_AFTER_S = 2.0  # short runs finish before a bar would be useful


def literal_console(stderr: bool = False, **kw) -> Console:
    """A console that never interprets what it prints (no markup, no :emoji: codes, no
    highlighting), and never prints a known secret (every write is scrubbed)."""
    stream = kw.pop("file", None) or (sys.stderr if stderr else sys.stdout)
    return Console(markup=False, emoji=False, highlight=False, file=cast(TextIO, ScrubbedStream(stream)), **kw)


class ProgressBar:
    """Per-level progress (requests finished out of max_requests), shown only once a level
    has run for ``SHOW_AFTER_S``.  Implements the ``progress`` protocol of ``run_benchmark``."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            refresh_per_second=4,
        )
        self._task: TaskID | None = None
        self._shown = False
        self._timer: asyncio.TimerHandle | None = None

    def start_level(self, label: str, total: int) -> None:
        self._task = self._progress.add_task(label, total=total)
        if not self._shown:
            self._timer = asyncio.get_running_loop().call_later(SHOW_AFTER_S, self._show)

    def _show(self) -> None:
        self._shown = True
        self._progress.start()

    def advance(self) -> None:
        if self._task is not None:
            self._progress.advance(self._task)

    def end_level(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        assert self._task is not None  # start_level came first
        self._progress.remove_task(self._task)
        self._task = None

    def close(self) -> None:
        if self._shown:
            self._progress.stop()


def _ms(s: LatencyStats, attr: str) -> str:
    v = getattr(s, attr)
    return "-" if v is None else f"{v * 1000:.1f}"


def _hit_percent(engine: dict | None) -> str:
    """The server's prefix-cache hit rate over the level ("-": no /metrics or no lookups)."""
    rate = (engine or {}).get("prefix_hit_rate")
    return "-" if rate is None else f"{100 * rate:.1f}"


def results_table(result: BenchmarkResult) -> Table:
    c = result.config
    shape = (
        f"trace {os.path.basename(c['trace'])} ({c.get('trace_format')})" if c.get("trace") else c["scenario"]
    )  # a trace ignores the scenario
    t = Table(title=f"{c['served_model']} @ {c['endpoint_url']}  {shape}  (latencies p50/p99)")
    for col in (
        "level",
        "ok/err",
        "req/s",
        "out tok/s",
        "TTFT ms",
        "TPOT ms",
        "ITL ms",
        "E2E s",
        "queue ms",
        "goodput/s",
        "err %",
        "prefix hit %",
        "verdict",
    ):
        t.add_column(col, justify="right")
    for lv in result.levels:
        e2e = "-" if lv.e2e.p50 is None else f"{lv.e2e.p50:.2f}/{lv.e2e.p99:.2f}"
        figures = [
            f"{lv.request_throughput:.2f}",
            f"{lv.output_throughput:.1f}",
            f"{_ms(lv.ttft, 'p50')}/{_ms(lv.ttft, 'p99')}",
            f"{_ms(lv.tpot, 'p50')}/{_ms(lv.tpot, 'p99')}",
            f"{_ms(lv.itl, 'p50')}/{_ms(lv.itl, 'p99')}",
            e2e,
            _ms(lv.queue_time, "p50"),
            f"{lv.goodput:.2f}",
        ]
        if lv.invalid:  # no throughput or latency of a level that is no measurement (the JSON keeps them)
            figures = ["-"] * len(figures)
        t.add_row(
            level_label(lv),
            f"{lv.completed}/{lv.failed}",
            *figures,
            f"{100 * lv.error_rate:.1f}",
            _hit_percent(lv.engine_metrics),
            summary(lv.invalid, lv.saturated_at),
        )
    for skipped in result.skipped:
        t.add_row(level_label_of(skipped["mode"], skipped["value"]), *["-"] * 11, "SKIPPED")
    return t


def level_label(lv) -> str:
    trace = lv.workload.get("trace") if lv.mode == "trace" else None
    if trace:  # the trace and its speed, e.g. "azure_code_2023.csv x2"
        return f"{trace['file']} x{trace['speed']:g}"
    return level_label_of(lv.mode, lv.value)


def level_label_of(mode: str, value: float) -> str:
    return {"concurrency": "c", "request_rate": "rate ", "trace": "trace x"}.get(mode, "") + f"{value:g}"


def print_workload(lv, console: Console) -> None:
    """What the level's workload shape reports: shared-prefix share, TTFT by turn, arrival lag."""
    w, label = lv.workload, level_label(lv)
    if "shared_prefix_fraction" in w:
        reach = w.get("reachable_prefix_fraction")
        console.print(
            f"shared prefix ({label}): {100 * w['shared_prefix_fraction']:.1f}% of input tokens (first uses included)"
            + ("" if reach is None else f"; reachable prefix hits: {100 * reach:.1f}% (sent earlier in this run)")
        )
    if w.get("turns"):
        t = Table(title=f"sessions ({label}): TTFT and context length by turn")
        for col in ("turn", "ok", "TTFT ms p50/p99", "context tokens mean/max"):
            t.add_column(col, justify="right")
        for row in w["turns"]:
            p50, p99 = row["ttft"]["p50"], row["ttft"]["p99"]
            t.add_row(
                str(row["turn"]),
                str(row["completed"]),
                "-" if p50 is None else f"{p50 * 1000:.1f}/{p99 * 1000:.1f}",
                f"{row['context_tokens_mean']:.0f}/{row['context_tokens_max']}",
            )
        console.print(t)
    lag = w.get("arrival_lag")
    if lag and lag.get("p50") is not None:
        console.print(
            f"arrival lag ({label}): p50 {lag['p50'] * 1000:.2f} ms, p99 {lag['p99'] * 1000:.2f} ms, max {lag['max'] * 1000:.2f} ms"
        )


def tenants_table(level) -> Table:
    """Per tenant (--api-keys): sent, ok, rate_limited (HTTP 429, not errors), tokens, the request at
    which the first 429 came, and the last limit headers the gateway sent."""
    t = Table(title=f"per tenant ({level_label(level)})")
    for col in ("tenant", "sent", "ok", "rate_limited", "errors", "tokens", "first 429 after", "last limit headers"):
        t.add_column(col)
    for tenant, s in level.tenants.items():
        first = "" if s["first_rate_limited"] is None else str(s["first_rate_limited"])
        headers = " ".join(f"{k}={v}" for k, v in s["last_limits"].items())
        t.add_row(
            tenant,
            str(s["sent"]),
            str(s["ok"]),
            str(s["rate_limited"]),
            str(s["errors"]),
            str(s["tokens"]),
            first,
            headers[:120],
        )
    return t


def print_report(result: BenchmarkResult, console: Console) -> None:
    """``console`` should be a ``literal_console``: error texts come from the server."""
    if result.aborted:
        console.print(f"aborted: {scrub(result.aborted)}", style="red")
    if result.levels:
        console.print(results_table(result))
    for lv in result.levels:
        print_workload(lv, console)
        if lv.tenants:
            console.print(tenants_table(lv))
    for lv in result.levels:  # why each INVALID level is no measurement
        for verdict in lv.invalid:
            console.print(f"INVALID ({level_label(lv)}) {verdict['guard']}: {scrub(verdict['reason'])}", style="red")
    for skipped in result.skipped:
        console.print(
            f"SKIPPED ({level_label_of(skipped['mode'], skipped['value'])}): {skipped['reason']}", style="red"
        )
    for w in result.warnings:
        console.print(f"warning: {w}", style="yellow")
    for lv in result.levels:
        for w in lv.warnings:
            console.print(f"warning ({lv.mode} {lv.value:g}): {w}", style="yellow")
        for text, n in list(lv.errors.items())[:3]:
            console.print(f"errors ({lv.mode} {lv.value:g}): {n} x {scrub(text[:200])}", style="red")
        if lv.rate_limited:  # not in ok/err: a 429 is the gateway's limit working, not an error
            console.print(f"rate limited ({lv.mode} {lv.value:g}): {lv.rate_limited} x HTTP 429", style="yellow")
        if lv.shed:  # the endpoint's own limit (requestLimits), apart from errors and from the gateway's
            console.print(f"shed by the endpoint ({lv.mode} {lv.value:g}): {lv.shed} x HTTP 429", style="yellow")
    if result.interrupted:
        console.print("interrupted: the last level is partial", style="yellow")


def write_json(result: BenchmarkResult, out: Output | str) -> None:
    """Atomically, and only over a results file (benchmarks/outputs.py); `out` opened before the run
    keeps a second run off the same file."""
    if isinstance(out, Output):
        out.write(json_bytes(scrub_data(result.to_dict())))
        return
    with Output(Path(out), RESULTS_FILE, f"--out {out}") as target:
        target.write(json_bytes(scrub_data(result.to_dict())))
