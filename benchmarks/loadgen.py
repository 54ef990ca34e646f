"""Public API of the load generator, for in-process callers such as the tuning driver.

    from benchmarks.loadgen import BenchmarkConfig, run_benchmark, run_benchmark_sync

    cfg = BenchmarkConfig(url="http://127.0.0.1:8000", model="Qwen/Qwen3-4B-Instruct-2507",
                          scenario="D(100,100)", concurrency=(1, 4, 16), slo={"ttft": 0.5})
    result = run_benchmark_sync(cfg)          # or: await run_benchmark(cfg)
    for lv in result.levels:
        print(lv.value, lv.output_throughput, lv.ttft.p50, lv.goodput, lv.error_rate)
    json.dump(result.to_dict(), f)

``run_benchmark`` runs the warm-up requests once, then each level in order (all of
``concurrency`` or all of ``request_rates``, or one level replaying ``trace``).  What each request
contains comes from the workload shape (``prefix_tokens``, ``turns``, ``dataset``, ``trace``; see
benchmarks/workloads/), reported per level in ``LevelResult.workload``.  It never raises for server or network problems:
they become per-request errors, ``LevelResult.error_rate`` and ``LevelResult.errors``; if every
warm-up request fails, it returns early with ``result.aborted`` set and no levels.  Setting the
``stop`` event stops at once (requests in flight are cancelled); the result then has
``interrupted=True`` and keeps what was measured.  Cancelling the call raises CancelledError
as usual and returns nothing.  Invalid config raises ``ConfigError`` before any request.

Metric definitions (benchmarks/README.md has the full JSON schema): TTFT is stamped on the first
chunk carrying generated text; TPOT = (e2e - ttft) / (output_tokens - 1); ITL is per chunk;
``queue_time`` is the wait for a client-side slot (open loop with ``max_concurrency``) and the
``*_with_queue`` stats add it; SLOs and goodput use the latencies without queue time.

Every level is judged by the guards of ``benchmarks/validity.py`` (thresholds: ``max_error_rate``,
``saturation_tolerance``, ``max_send_lag``, ``max_client_cpu``): ``LevelResult.invalid`` lists why a
level is no measurement, and no level above a saturated one is run (``result.skipped``).

``progress``, if given, is an object with ``start_level(label: str, total: int)``,
``advance()`` and ``end_level()`` (``benchmarks.report.ProgressBar`` is the rich one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from . import eventloop, secrets, tenants, validity
from .client import Target, make_session
from .engine_metrics import Scraper, metrics_url
from .limits import (
    DEFAULT_MAX_FILE_MB,
    MAX_FILE_MB,
    MAX_PREFIX_TOKENS,
    MAX_REQUESTS,
    MAX_SECONDS,
    MAX_THINK_TIME,
    MAX_TIMEOUT,
    MAX_WARMUP,
    MIN_METRICS_INTERVAL,
)
from .metrics import SLO_KEYS, parse_slo
from .options import option
from .payload import check_url, endpoint_url, served_model_name
from .progress import ProgressUI, _Progress
from .results import BenchmarkResult, LevelResult
from .runner import LevelContext, no_gc_pauses, run_closed, run_open, run_trace
from .scenario import SCENARIO_HELP, ScenarioError, parse_scenario
from .send_lag import ClientMeter
from .trace_levels import trace_caps, trace_info, trace_label
from .workloads import MAX_TURNS, Workload, WorkloadError, make_workload, summarize
from .workloads.prefix import MAX_GROUPS

__all__ = ["BenchmarkConfig", "BenchmarkResult", "LevelResult", "ConfigError", "run_benchmark", "run_benchmark_sync"]

MAX_CONCURRENCY = 100_000  # sanity bound on any level
DEFAULT_MAX_REQUESTS = 200  # per level when max_requests is unset (not a trace)
DEFAULT_MAX_SECONDS = 60.0  # per level when max_seconds is unset (not a trace)


class ConfigError(ValueError):
    """A config value is unusable.  ``field`` names it, the message says how to fix it."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        super().__init__(f"{field}={value!r}: {fix}")
        self.field, self.value, self.fix = field, value, fix


def _share(default: float, example: str, text: str) -> Any:
    """A guard's threshold that is a share of something (benchmarks/validity.py): a fraction from 0 to 1."""
    return option(
        default,
        section="guards",
        parse=validity.parse_fraction,
        metavar="F",
        example=example,
        ge=0,
        le=1,
        help=f"{text} (default {default:g})",
    )


@dataclass(frozen=True)
class BenchmarkConfig:
    """The load generator's options, each declared once: the command line (benchmarks/cli.py) and a tuning grid's
    `benchmark:` block (stacks/tuning/grid_benchmark.py) are built from these fields (benchmarks/options.py)."""

    url: str = option(grid=False, help="server base URL, e.g. http://127.0.0.1:8000 (or .../v1)")
    model: str = option(grid=False, help="model id; its last path segment is sent as the served name (G5)")
    api_key: str | None = option(None, grid=False, env="OPENAI_API_KEY", help="bearer token (default: $OPENAI_API_KEY)")
    # Tenants' keys file (benchmarks/tenants.py): requests spread over them.
    api_keys: str | None = option(
        None,
        grid=False,
        metavar="FILE",
        help='spread requests over tenants\' keys: JSON [{"tenant": ..., "key": ...}]; reports per tenant (docs/gateway.md)',
    )
    endpoint: Literal["chat", "completions"] = option("chat")
    scenario: str = option("D(100,100)", help=SCENARIO_HELP, grid_default="D(512,128)")
    # The load: closed-loop levels, open-loop Poisson rates (req/s) or a trace (one level); exactly one.
    concurrency: tuple[int, ...] = option(
        (), exclusive=True, example="1,4,16", gt=0, le=MAX_CONCURRENCY, help="closed-loop levels, e.g. 1,4,16"
    )
    request_rates: tuple[float, ...] = option(
        (),
        exclusive=True,
        flag="--request-rate",
        example="2,8",
        gt=0,
        help="open-loop Poisson rates in req/s, e.g. 2,8",
    )
    trace: str | None = option(
        None,
        exclusive=True,
        section="workload",
        metavar="FILE",
        help="replay a trace: one request per line, sent at its timestamp (one level)",
    )
    # Open loop only: cap on requests in flight.
    max_concurrency: int | None = option(
        None, grid=False, example="64", ge=1, le=MAX_CONCURRENCY, help="with --request-rate: cap on requests in flight"
    )
    # Unset: 200 requests and 60 s per level, a trace every line and its whole span (a smaller cap is announced).
    max_requests: int | None = option(
        None,
        example="200",
        ge=1,
        le=MAX_REQUESTS,
        grid_default=64,
        help="per level (default 200; a trace: all its lines)",
    )
    max_seconds: float | None = option(
        None,
        example="60",
        gt=0,
        le=MAX_SECONDS,
        grid_default=60.0,
        help="per level; no request starts later (default 60; a trace: its whole span)",
    )
    timeout: float = option(
        120.0,
        example="120",
        gt=0,
        le=MAX_TIMEOUT,
        help="per-request deadline in seconds (default 120); also bounds each /metrics scrape (at most 5 s)",
    )
    warmup: int = option(
        2, ge=0, le=MAX_WARMUP, help="warm-up requests before the first level, excluded from results (default 2)"
    )
    # A grid's SLOs are its own `slo:` block.
    slo: Mapping[str, float] = option(
        default_factory=dict,
        grid=False,
        parse=parse_slo,
        help="goodput SLOs in seconds, e.g. ttft=0.5,tpot=0.05,e2e=10",
    )
    # Send ignore_eos + min_tokens=max_tokens (vLLM, SGLang).
    ignore_eos: bool = option(
        True, grid=False, help="do not send ignore_eos/min_tokens (for servers that reject them, e.g. OpenAI)"
    )
    raw_model_name: bool = option(False, grid=False, help="send --model as given, not its last path segment")
    # A trial's seed is the grid's `seed`.
    seed: int | None = option(None, grid=False, help="reproducible lengths and arrivals (prompt nonces stay random)")
    # Shared-prefix and trace block texts: unset gives each run its own, so a server warm from an earlier run
    # hits nothing a cold one would miss; runs given the same value send the same texts.
    prefix_seed: int | None = option(
        None,
        help="shared-prefix and trace block texts (default: new each run, so no cache is warm from an earlier run)",
    )
    engine_metrics: bool = option(
        True, grid=False, help="do not scrape the server's Prometheus /metrics around each level"
    )
    metrics_url: str | None = option(
        None, grid=False, help="the server's metrics page (default: http://HOST:PORT/metrics of --url)"
    )
    # A grid scrapes during each level by default: gauges (KV use, waiting) are reported as their max over the
    # scrapes, and the scrapes before and after a level alone only ever see an idle server.
    metrics_interval: float | None = option(
        None,
        example="5",
        ge=MIN_METRICS_INTERVAL,
        grid_default=1.0,
        help="also scrape /metrics every this many seconds during a level",
    )
    # Workload shapes (benchmarks/workloads/; benchmarks/README.md and docs/load-generator.md)
    prefix_tokens: int | None = option(
        None,
        section="workload",
        metavar="N",
        example="512",
        ge=1,
        le=MAX_PREFIX_TOKENS,
        help="shared system prompt of N tokens before each request's own part",
    )
    prefix_groups: int | None = option(
        None,
        section="workload",
        metavar="G",
        example="4",
        ge=1,
        le=MAX_GROUPS,
        help="with --prefix-tokens: G distinct shared prompts (default 1)",
    )
    turns: int = option(
        1,
        section="workload",
        metavar="T",
        example="4",
        ge=1,
        le=MAX_TURNS,
        help="multi-turn sessions of T turns, each resending its history",
    )
    think_time: float = option(
        0.0,
        section="workload",
        metavar="S",
        ge=0,
        le=MAX_THINK_TIME,
        help="seconds between a reply and the next turn (default 0)",
    )
    session_header: str = option(
        "X-Session-Id", section="workload", metavar="NAME", help="header carrying the session id (default X-Session-Id)"
    )
    # Path as given (in a grid: relative to where `tune` runs).
    dataset: str | None = option(
        None,
        section="workload",
        metavar="FILE",
        help="ShareGPT JSON or OpenAI-chat JSONL conversations, replayed as given",
    )
    dataset_order: Literal["sequential", "random"] = option(
        "sequential", section="workload", help="in file order or sampled (seeded)"
    )
    trace_format: Literal["native", "mooncake", "azure"] = option(
        "native", section="workload", help="format of --trace (default native)"
    )
    trace_speed: float = option(
        1.0, section="workload", metavar="X", example="2", gt=0, help="replay speed-up factor (default 1)"
    )
    max_file_mb: float = option(
        DEFAULT_MAX_FILE_MB,
        section="workload",
        metavar="MB",
        example="256",
        gt=0,
        le=MAX_FILE_MB,
        help="cap on --dataset/--trace file size (default 256)",
    )
    # Guards (benchmarks/validity.py, docs/tuning.md "Invalid levels"): past these a level is INVALID.
    max_error_rate: float = _share(validity.DEFAULT_MAX_ERROR_RATE, "0.05", "share of finished requests that may fail")
    saturation_tolerance: float = _share(
        validity.DEFAULT_SATURATION_TOLERANCE, "0.1", "how far the achieved rate may fall below the offered one"
    )
    max_send_lag: float = option(
        validity.DEFAULT_MAX_SEND_LAG,
        section="guards",
        metavar="S",
        example="0.05",
        gt=0,
        help=f"seconds: p99 of the client's own send lag (default {validity.DEFAULT_MAX_SEND_LAG:g})",
    )
    max_client_cpu: float = _share(
        validity.DEFAULT_MAX_CLIENT_CPU, "0.9", "share of a level the client's thread may be busy"
    )

    def validate(self) -> None:
        """Raises ConfigError for the first unusable value.  Registers the secrets it holds first (the API
        key, URL credentials, the keys file's keys), so no message, result or export shows them."""
        secrets.register(self.api_key)
        for url in (self.url, self.metrics_url):
            secrets.collect(url)
        problem = check_url(self.url)
        if problem:
            raise ConfigError("url", secrets.without_credentials(self.url), problem)
        if not self.model.strip():
            raise ConfigError("model", self.model, "give the model id, e.g. Qwen/Qwen3-4B-Instruct-2507")
        if self.endpoint not in ("chat", "completions"):
            raise ConfigError("endpoint", self.endpoint, "use chat or completions")
        try:
            parse_scenario(self.scenario)
        except ScenarioError as e:
            raise ConfigError("scenario", self.scenario, str(e).split(": ", 1)[-1]) from None
        if bool(self.concurrency) + bool(self.request_rates) + bool(self.trace) != 1:
            raise ConfigError(
                "concurrency", self.concurrency, "give concurrency levels, request rates or a trace: exactly one"
            )
        for c in self.concurrency:
            if not isinstance(c, int) or not 1 <= c <= MAX_CONCURRENCY:
                raise ConfigError("concurrency", c, f"each level must be an integer from 1 to {MAX_CONCURRENCY}")
        for r in self.request_rates:
            if not r > 0 or r == float("inf"):
                raise ConfigError("request_rates", r, "each rate must be a positive number of requests per second")
        if self.max_requests is not None and (
            not isinstance(self.max_requests, int) or not 1 <= self.max_requests <= MAX_REQUESTS
        ):
            raise ConfigError(
                "max_requests", self.max_requests, f"use an integer from 1 to {MAX_REQUESTS:,}, or leave it unset"
            )
        for name, most in (("max_seconds", MAX_SECONDS), ("timeout", MAX_TIMEOUT)):
            v = getattr(self, name)
            if v is None and name == "max_seconds":
                continue
            if not 0 < v <= most:
                raise ConfigError(name, v, f"use a positive number of seconds, at most {most:g}")
        if not isinstance(self.warmup, int) or not 0 <= self.warmup <= MAX_WARMUP:
            raise ConfigError("warmup", self.warmup, f"use an integer from 0 to {MAX_WARMUP:,}")
        for k, v in self.slo.items():
            if k not in SLO_KEYS:
                raise ConfigError("slo", k, f"SLO keys are {', '.join(SLO_KEYS)}")
            if not v > 0:
                raise ConfigError("slo", f"{k}={v}", "SLO limits are positive seconds")
        if self.metrics_url is not None and (problem := check_url(self.metrics_url)):
            raise ConfigError("metrics_url", secrets.without_credentials(self.metrics_url), problem)
        if self.metrics_interval is not None and not (MIN_METRICS_INTERVAL <= self.metrics_interval < float("inf")):
            raise ConfigError(
                "metrics_interval",
                self.metrics_interval,
                f"use a number of seconds of at least {MIN_METRICS_INTERVAL:g}, or leave it unset",
            )
        if self.api_keys is not None:
            try:
                tenants.load_keys(self.api_keys)
            except tenants.KeysFileError as e:
                raise ConfigError("api_keys", self.api_keys, str(e)) from None
        if self.max_concurrency is not None and not (
            isinstance(self.max_concurrency, int) and self.max_concurrency >= 1
        ):
            raise ConfigError("max_concurrency", self.max_concurrency, "use a positive integer or leave it unset")
        if self.max_concurrency is not None and self.trace:
            raise ConfigError(
                "max_concurrency", self.max_concurrency, "a trace is replayed on its own arrivals: drop it"
            )
        for name in ("max_error_rate", "saturation_tolerance", "max_client_cpu"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(name, getattr(self, name), "use a fraction from 0 to 1, e.g. 0.1")
        if not 0 < self.max_send_lag < float("inf"):
            raise ConfigError("max_send_lag", self.max_send_lag, "use a positive number of seconds, e.g. 0.05")
        self.workload()  # options and files: one line per problem, before any request

    def workload(self) -> Workload:
        """The workload these options describe (reads any dataset or trace file); ConfigError if unusable."""
        try:
            return make_workload(self)
        except WorkloadError as e:
            raise ConfigError(e.field, e.value, e.fix) from None

    def level_requests(self, workload: Workload | None = None) -> int:
        """Requests per level: ``max_requests``, else 200, or every line of the trace."""
        if self.max_requests is not None:
            return self.max_requests
        arrivals = workload.arrivals if workload is not None else None
        return len(arrivals) if self.trace and arrivals is not None else DEFAULT_MAX_REQUESTS

    def level_seconds(self) -> float:
        """Seconds per level in which requests start: ``max_seconds``, else 60, or a trace's whole span."""
        if self.max_seconds is not None:
            return self.max_seconds
        return float("inf") if self.trace else DEFAULT_MAX_SECONDS

    @property
    def served_model(self) -> str:
        return self.model if self.raw_model_name else served_model_name(self.model)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["slo"] = dict(self.slo)
        d["api_key"] = "***" if self.api_key else None  # never written to results files
        d["served_model"] = self.served_model
        d["endpoint_url"] = endpoint_url(self.url, self.endpoint)
        return d


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def run_benchmark(
    config: BenchmarkConfig, *, stop: asyncio.Event | None = None, progress: ProgressUI | None = None
) -> BenchmarkResult:
    """Runs every level of ``config``; see the module docstring."""
    config.validate()
    stop = stop or asyncio.Event()
    workload = config.workload()
    rng = random.Random(config.seed)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    target = Target(endpoint_url(config.url, config.endpoint), headers, config.timeout)
    values: tuple[float, ...]
    if config.trace:
        mode, values = "trace", (config.trace_speed,)
    else:
        mode, values = (
            ("concurrency", config.concurrency) if config.concurrency else ("request_rate", config.request_rates)
        )
    result = BenchmarkResult(config=config.to_dict(), levels=[], started_at=_now(), finished_at="")
    sink = _Progress(progress)
    max_requests, max_seconds = config.level_requests(workload), config.level_seconds()
    if config.concurrency and max_requests < max(config.concurrency):
        result.warnings.append(
            f"max_requests={max_requests} is below concurrency {max(config.concurrency)}: "
            "that level never reaches full concurrency"
        )
    trace_note = trace_caps(config, workload, max_requests, max_seconds) if config.trace else None
    if trace_note:
        result.warnings.append(trace_note)

    keys = tenants.KeyRing(tenants.load_keys(config.api_keys)) if config.api_keys else None

    def context(records: list, with_progress: bool = True) -> LevelContext:
        return LevelContext(
            session,
            target,
            workload,
            rng,
            config.endpoint,
            config.served_model,
            config.ignore_eos,
            records,
            sink if with_progress else None,
            keys=keys,
        )

    session = make_session()
    scraper = None
    if config.engine_metrics:
        auth = {k: v for k, v in headers.items() if k == "Authorization"}
        scraper = Scraper(
            session, config.metrics_url or metrics_url(config.url), auth, config.metrics_interval, config.timeout
        )
    try:
        if config.warmup:
            records: list = []
            await run_closed(context(records, False), min(config.warmup, 8), config.warmup, config.timeout, stop)
            failed = [
                r for r in records if not r.ok and not r.cancelled and not r.rate_limited and not r.shed
            ]  # a 429 is a limit working
            errors: dict[str, int] = {}
            for r in failed:
                errors[r.error] = errors.get(r.error, 0) + 1
            result.warmup = {"requests": len(records), "failed": len(failed), "errors": errors}
            if records and failed and len(failed) == len(records):
                result.aborted = f"all {len(records)} warm-up requests failed; first error: {failed[0].error}"
        above: tuple[float, str] | None = None  # a saturated level: higher ones are not run
        for value in values if not result.aborted else ():
            if stop.is_set():
                break
            if above is not None and value > above[0]:
                result.skipped.append({"mode": mode, "value": value, "reason": above[1]})
                continue
            records = []
            label = f"{mode.replace('_', ' ')} {value:g}" if mode != "trace" else trace_label(config)
            total = max_requests if mode != "trace" else min(max_requests, len(workload.arrivals or ()))
            if progress is not None:
                progress.start_level(
                    label + (f" (capped: {total:,} of {len(workload.arrivals or ()):,})" if trace_note else ""), total
                )
            if scraper is not None:
                await scraper.start_level()
            meter = ClientMeter()
            meter.start()
            try:
                with no_gc_pauses():
                    if mode == "concurrency":
                        t0 = await run_closed(context(records), int(value), max_requests, max_seconds, stop)
                    elif mode == "trace":
                        t0 = await run_trace(context(records), max_requests, max_seconds, stop)
                    else:
                        t0 = await run_open(
                            context(records), value, config.max_concurrency, max_requests, max_seconds, stop
                        )
            finally:
                meter.stop()
                if progress is not None:
                    progress.end_level()
            level = LevelResult.from_records(mode, value, records, t0, config.slo, meter.process_cpu_s)
            level.client = meter.figures
            if scraper is not None:
                level.engine_metrics = await scraper.end_level()
            level.workload = {
                "shape": workload.name,
                **summarize(records, timed=mode == "trace", reachable=getattr(workload, "tracks_reachable", False)),
            }
            if (text_seed := getattr(workload, "text_seed", None)) is not None:
                level.workload["prefix_seed"] = text_seed  # give it as prefix_seed to send the same texts again
            if mode == "trace":
                level.workload["trace"] = trace_info(config, workload, len(records))
            validity.judge(level, config)
            reason = validity.skip_reason(level)
            if reason is not None and (above is None or value < above[0]):
                above = (value, reason)
            result.levels.append(level)
    finally:
        await session.close()
    if scraper is not None and scraper.warning:
        result.warnings.append(scraper.warning)
    result.interrupted = result.interrupted or stop.is_set()
    result.finished_at = _now()
    return result


def run_benchmark_sync(config: BenchmarkConfig, *, progress: ProgressUI | None = None) -> BenchmarkResult:
    """``run_benchmark`` in a fresh event loop (call it from plain code, not from a running loop).
    To stop early and keep partial results, use ``run_benchmark`` with a ``stop`` event."""
    return eventloop.run(run_benchmark(config, progress=progress))
