"""Command line: ``python -m benchmarks run --url URL --model NAME ...`` (see ``--help``).

Bad input ends with one line on stderr naming the option, the value and the fix (exit 2),
before any request is sent; never a traceback.  Exit status: 0 done, 1 nothing measured (every
warm-up request failed, or no request of the run succeeded: every one failed, or was rate limited
with HTTP 429, one line saying which with the counts), 2 bad input, 130 interrupted by SIGINT / 143
by SIGTERM (results measured so far are still printed and written).  What escapes ``main`` (a closed
stdout, a pipe closed early, an unexpected error) is mapped in ``benchmarks/exits.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from rich.console import Console

from .loadgen import MAX_CONCURRENCY, BenchmarkConfig, ConfigError, run_benchmark
from . import eventloop, exits
from .export import KINDS, export, parse_spec
from .inputs import InputError
from .limits import (MAX_FILE_MB, MAX_PREFIX_TOKENS, MAX_REQUESTS, MAX_SECONDS, MAX_THINK_TIME, MAX_TIMEOUT, MAX_WARMUP,
                     MIN_METRICS_INTERVAL)
from .metrics import SLO_KEYS
from .outputs import Output, OutputError
from .workloads import MAX_TURNS
from .workloads.prefix import MAX_GROUPS
from .report import RESULTS_FILE, ProgressBar, literal_console, print_report, write_json
from .scenario import SCENARIO_HELP
from .secrets import quoted, scrub

OPTION_OF_FIELD = {"request_rates": "--request-rate"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + traceback-like noise
        sys.stderr.write(scrub(f"benchmarks: error: {message} (see python -m benchmarks run --help)") + "\n")
        raise SystemExit(2)


def _list_of(kind, example: str, most: float = float("inf")):
    def parse(text: str):
        try:
            values = tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError:
            values = ()
        if not values or any(not 0 < v <= most or v == float("inf") for v in values):
            noun = "integers" if kind is int else "numbers"
            bound = f" up to {most:,}" if most != float("inf") else ""
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use comma-separated positive {noun}{bound}, e.g. {example}")
        return values

    return parse


# Options are bounded where they are parsed (benchmarks/limits.py says why each bound): one line, exit 2.
def _positive(kind, example: str, most: float = float("inf"), least: float = 0):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            v = 0
        if not (v >= least if least else v > 0) or not v <= most or v == float("inf"):
            noun = kind.__name__.replace("float", "number").replace("int", "integer")
            if least:
                bound = f" of at least {least:g}"
            elif most != float("inf"):
                bound = f" up to {most:,}" if kind is int else f" up to {most:g}"
            else:
                bound = ""
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use a positive {noun}{bound}, e.g. {example}")
        return v

    return parse


def _count(most: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = -1
        if not 0 <= v <= most:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use 0 or a positive integer up to {most:,}, e.g. 2")
        return v

    return parse


def _non_negative(most: float):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            v = -1.0
        if not 0 <= v <= most:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}: use 0 or a positive number of seconds up to {most:g}, e.g. 1.5")
        return v

    return parse


def _slo(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            limit = float(value)
        except ValueError:
            limit = -1.0
        if not sep or key.strip() not in SLO_KEYS or not limit > 0:
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: use KEY=SECONDS pairs with keys {', '.join(SLO_KEYS)}, e.g. ttft=0.5,tpot=0.05"
            )
        out[key.strip()] = limit
    return out


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m benchmarks", description="Streaming load generator for OpenAI-compatible endpoints.")
    p.add_argument(exits.DEBUG_FLAG, action="store_true", help=f"print the traceback of an internal error (also ${exits.DEBUG_ENV}=1)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="benchmark an endpoint", description="Benchmark an OpenAI-compatible streaming endpoint.")
    r.add_argument(exits.DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8000 (or .../v1)")
    r.add_argument("--model", required=True, help="model id; its last path segment is sent as the served name (G5)")
    r.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"), help="bearer token (default: $OPENAI_API_KEY)")
    r.add_argument("--api-keys", metavar="FILE", help='spread requests over tenants\' keys: JSON [{"tenant": ..., "key": ...}]; reports per tenant (docs/gateway.md)')
    r.add_argument("--endpoint", choices=("chat", "completions"), default="chat")
    r.add_argument("--scenario", default="D(100,100)", help=SCENARIO_HELP)
    load = r.add_mutually_exclusive_group(required=True)
    load.add_argument("--concurrency", type=_list_of(int, "1,4,16", MAX_CONCURRENCY), help="closed-loop levels, e.g. 1,4,16")
    load.add_argument("--request-rate", type=_list_of(float, "2,8"), help="open-loop Poisson rates in req/s, e.g. 2,8")
    load.add_argument("--trace", metavar="FILE", help="replay a trace: one request per line, sent at its timestamp (one level)")
    r.add_argument("--max-concurrency", type=_positive(int, "64", MAX_CONCURRENCY), help="with --request-rate: cap on requests in flight")
    r.add_argument("--max-requests", type=_positive(int, "200", MAX_REQUESTS), default=None, help="per level (default 200; a trace: all its lines)")
    r.add_argument("--max-seconds", type=_positive(float, "60", MAX_SECONDS), default=None, help="per level; no request starts later (default 60; a trace: its whole span)")
    r.add_argument("--timeout", type=_positive(float, "120", MAX_TIMEOUT), default=120.0,
                   help="per-request deadline in seconds (default 120); also bounds each /metrics scrape (at most 5 s)")
    r.add_argument("--warmup", type=_count(MAX_WARMUP), default=2, help="warm-up requests before the first level, excluded from results (default 2)")
    r.add_argument("--slo", type=_slo, default={}, help="goodput SLOs in seconds, e.g. ttft=0.5,tpot=0.05,e2e=10")
    r.add_argument("--no-ignore-eos", dest="ignore_eos", action="store_false",
                   help="do not send ignore_eos/min_tokens (for servers that reject them, e.g. OpenAI)")
    r.add_argument("--raw-model-name", action="store_true", help="send --model as given, not its last path segment")
    r.add_argument("--seed", type=int, default=None, help="reproducible lengths and arrivals (prompt nonces stay random)")
    r.add_argument("--prefix-seed", type=int, default=None,
                   help="shared-prefix and trace block texts (default: new each run, so no cache is warm from an earlier run)")
    r.add_argument("--no-engine-metrics", dest="engine_metrics", action="store_false",
                   help="do not scrape the server's Prometheus /metrics around each level")
    r.add_argument("--metrics-url", help="the server's metrics page (default: http://HOST:PORT/metrics of --url)")
    r.add_argument("--metrics-interval", type=_positive(float, "5", float("inf"), MIN_METRICS_INTERVAL), help="also scrape /metrics every this many seconds during a level")
    w = r.add_argument_group("workload shapes (docs/load-generator.md)")
    w.add_argument("--prefix-tokens", metavar="N", type=_positive(int, "512", MAX_PREFIX_TOKENS), help="shared system prompt of N tokens before each request's own part")
    w.add_argument("--prefix-groups", metavar="G", type=_positive(int, "4", MAX_GROUPS), help="with --prefix-tokens: G distinct shared prompts (default 1)")
    w.add_argument("--turns", metavar="T", type=_positive(int, "4", MAX_TURNS), default=1, help="multi-turn sessions of T turns, each resending its history")
    w.add_argument("--think-time", metavar="S", type=_non_negative(MAX_THINK_TIME), default=0.0, help="seconds between a reply and the next turn (default 0)")
    w.add_argument("--session-header", metavar="NAME", default="X-Session-Id", help="header carrying the session id (default X-Session-Id)")
    w.add_argument("--dataset", metavar="FILE", help="ShareGPT JSON or OpenAI-chat JSONL conversations, replayed as given")
    w.add_argument("--dataset-order", choices=("sequential", "random"), default="sequential", help="in file order or sampled (seeded)")
    w.add_argument("--trace-format", choices=("native", "mooncake", "azure"), default="native", help="format of --trace (default native)")
    w.add_argument("--trace-speed", metavar="X", type=_positive(float, "2"), default=1.0, help="replay speed-up factor (default 1)")
    w.add_argument("--max-file-mb", metavar="MB", type=_positive(float, "256", MAX_FILE_MB), default=256.0, help="cap on --dataset/--trace file size (default 256)")
    r.add_argument("--out", help="write results JSON here")
    r.add_argument("--export", action="append", default=[], metavar="FORMAT:FILE",
                   help="also write a genai-bench or inference-perf summary (one file per level), e.g. genai-bench:gb.json")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _config(a: argparse.Namespace) -> BenchmarkConfig:
    return BenchmarkConfig(
        url=a.url, model=a.model, api_key=a.api_key, api_keys=a.api_keys, endpoint=a.endpoint, scenario=a.scenario,
        concurrency=a.concurrency or (), request_rates=a.request_rate or (), max_requests=a.max_requests,
        max_seconds=a.max_seconds, timeout=a.timeout, warmup=a.warmup, slo=a.slo, ignore_eos=a.ignore_eos,
        max_concurrency=a.max_concurrency, raw_model_name=a.raw_model_name, seed=a.seed, prefix_seed=a.prefix_seed,
        engine_metrics=a.engine_metrics, metrics_url=a.metrics_url, metrics_interval=a.metrics_interval,
        prefix_tokens=a.prefix_tokens, prefix_groups=a.prefix_groups, turns=a.turns, think_time=a.think_time,
        session_header=a.session_header, dataset=a.dataset, dataset_order=a.dataset_order, trace=a.trace,
        trace_format=a.trace_format, trace_speed=a.trace_speed, max_file_mb=a.max_file_mb,
    )


def _fail(option: str, value: object, fix: str) -> int:
    sys.stderr.write(scrub(f"benchmarks: error: {option} {quoted(value)}: {fix}") + "\n")
    return 2


def _error(e: OutputError) -> int:
    """An output refused or not writable: the writer's one line (path, what, nothing changed, fix)."""
    sys.stderr.write(f"benchmarks: error: {e}\n")
    return 2


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def _run(config: BenchmarkConfig, quiet: bool, err: Console):
    """Returns (result, the signal that stopped the run or None)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    stopped_by: list[int] = []

    def on_signal(signum: int) -> None:
        err.print(f"{signal.Signals(signum).name}: stopping, keeping what was measured (send it again to quit at once)",
                  style="yellow")
        stopped_by.append(signum)
        stop.set()
        for s in STOP_SIGNALS:  # a second signal has its default effect: quit at once
            loop.remove_signal_handler(s)

    for s in STOP_SIGNALS:
        loop.add_signal_handler(s, on_signal, s)
    bar = None if quiet else ProgressBar(err)
    try:
        result = await run_benchmark(config, stop=stop, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    return result, (stopped_by[0] if stopped_by else None)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = _config(args)
    try:
        config.validate()
    except ConfigError as e:
        return _fail(OPTION_OF_FIELD.get(e.field, "--" + e.field.replace("_", "-")), e.value, e.fix)
    results = Output(args.out, RESULTS_FILE, f"--out {args.out}") if args.out else None
    try:
        return _checked_run(args, config, results)
    except OutputError as e:
        return _error(e)
    finally:
        if results is not None:
            results.close()


def _checked_run(args: argparse.Namespace, config: BenchmarkConfig, results: Output | None) -> int:
    """The run, with --out locked and checked and each --export checked before the first request."""
    if results is not None:
        results.open()
    exports = []
    for spec in args.export:
        try:
            fmt, path = parse_spec(spec)
        except ValueError as e:
            return _fail("--export", spec, str(e))
        with Output(path, KINDS[fmt], f"--export {spec}"):  # refused, or not writable: before the run
            pass
        exports.append((fmt, path))
    out, err = literal_console(), literal_console(stderr=True)
    if not out.is_terminal:  # files and pipes: wide enough for the whole table
        out = literal_console(width=160)
    try:
        result, signum = eventloop.run(_run(config, args.quiet, err))
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except InputError as e:  # files are read and named in validate(); this is the net under it
        sys.stderr.write(f"benchmarks: error: {e}\n")
        return 2
    if results is not None:
        write_json(result, results)
        err.print(f"results written to {args.out}")
    for fmt, path in exports if result.levels else ():
        written = export(result, fmt, path)
        err.print(f"{fmt} summary written to {', '.join(written)}")
    print_report(result, out)  # after the files: a reader that leaves early (`| head`) costs no results
    if result.aborted:
        sys.stderr.write(f"benchmarks: error: {' '.join(result.aborted.split())[:300]}\n")
        return 1
    if result.all_failed:
        sys.stderr.write(scrub(f"benchmarks: error: {result.all_failed} (see the errors above and the server's log)") + "\n")
        return 1
    if result.interrupted:
        return 128 + (signum or signal.SIGINT)
    return 0
