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

``progress``, if given, is an object with ``start_level(label: str, total: int)``,
``advance()`` and ``end_level()`` (``benchmarks.report.ProgressBar`` is the rich one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal, Mapping

from . import eventloop, secrets, tenants
from .client import Target, make_session
from .engine_metrics import Scraper, metrics_url
from .limits import DEFAULT_MAX_FILE_MB, MAX_REQUESTS, MAX_SECONDS, MAX_TIMEOUT, MAX_WARMUP, MIN_METRICS_INTERVAL
from .metrics import SLO_KEYS
from .payload import check_url, endpoint_url, served_model_name
from .results import BenchmarkResult, LevelResult
from .runner import LevelContext, run_closed, run_open, run_trace
from .scenario import ScenarioError, parse_scenario
from .workloads import Workload, WorkloadError, make_workload, summarize

__all__ = ["BenchmarkConfig", "BenchmarkResult", "LevelResult", "ConfigError", "run_benchmark", "run_benchmark_sync"]

MAX_CONCURRENCY = 100_000  # sanity bound on any level


class ConfigError(ValueError):
    """A config value is unusable.  ``field`` names it, the message says how to fix it."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        super().__init__(f"{field}={value!r}: {fix}")
        self.field, self.value, self.fix = field, value, fix


@dataclass(frozen=True)
class BenchmarkConfig:
    url: str  # http://host:port, .../v1, or the full endpoint URL
    model: str  # model id; the served name (last path segment, G5) is sent unless raw_model_name
    api_key: str | None = None
    endpoint: Literal["chat", "completions"] = "chat"
    scenario: str = "D(100,100)"
    concurrency: tuple[int, ...] = ()  # closed-loop levels ...
    request_rates: tuple[float, ...] = ()  # ... or open-loop Poisson rates (req/s); exactly one
    max_requests: int = 200  # per level
    max_seconds: float = 60.0  # per level: no request starts after this
    timeout: float = 120.0  # per request, whole response
    warmup: int = 2  # requests before the first level, excluded from all results
    slo: Mapping[str, float] = field(default_factory=dict)  # seconds; keys ttft, tpot, e2e
    ignore_eos: bool = True  # send ignore_eos + min_tokens=max_tokens (vLLM, SGLang)
    max_concurrency: int | None = None  # open loop only: cap on requests in flight
    raw_model_name: bool = False  # send ``model`` as given instead of its served name
    seed: int | None = None  # reproducible lengths and arrivals (prompt nonces stay random)
    engine_metrics: bool = True  # scrape the server's /metrics around each level (engine_metrics.py)
    metrics_url: str | None = None  # default: http://host:port/metrics of ``url``
    metrics_interval: float | None = None  # also scrape every this many seconds during a level
    # Workload shapes (benchmarks/workloads/; benchmarks/README.md and docs/load-generator.md)
    prefix_tokens: int | None = None  # shared system prompt of this many tokens before each request's own part
    prefix_groups: int | None = None  # distinct shared prompts (default 1 with prefix_tokens)
    turns: int = 1  # > 1: multi-turn sessions resending their history
    think_time: float = 0.0  # seconds between a reply and the session's next turn
    session_header: str = "X-Session-Id"  # carries the session id (sessions, trace session_id)
    dataset: str | None = None  # ShareGPT JSON or OpenAI-chat JSONL file, replayed as given
    dataset_order: Literal["sequential", "random"] = "sequential"
    trace: str | None = None  # trace file: replaces concurrency/request_rates (one level)
    trace_format: Literal["native", "mooncake", "azure"] = "native"
    trace_speed: float = 1.0  # 2: replay twice as fast
    max_file_mb: float = DEFAULT_MAX_FILE_MB  # cap on dataset and trace files
    api_keys: str | None = None  # tenants' keys file (benchmarks/tenants.py): requests spread over them

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
            raise ConfigError("concurrency", self.concurrency, "give concurrency levels, request rates or a trace: exactly one")
        for c in self.concurrency:
            if not isinstance(c, int) or not 1 <= c <= MAX_CONCURRENCY:
                raise ConfigError("concurrency", c, f"each level must be an integer from 1 to {MAX_CONCURRENCY}")
        for r in self.request_rates:
            if not r > 0 or r == float("inf"):
                raise ConfigError("request_rates", r, "each rate must be a positive number of requests per second")
        if not isinstance(self.max_requests, int) or not 1 <= self.max_requests <= MAX_REQUESTS:
            raise ConfigError("max_requests", self.max_requests, f"use an integer from 1 to {MAX_REQUESTS:,}")
        for name, most in (("max_seconds", MAX_SECONDS), ("timeout", MAX_TIMEOUT)):
            v = getattr(self, name)
            if not 0 < v <= most:
                raise ConfigError(name, v, f"use a positive number of seconds, at most {most:g}")
        if not isinstance(self.warmup, int) or not 0 <= self.warmup <= MAX_WARMUP:
            raise ConfigError("warmup", self.warmup, f"use an integer from 0 to {MAX_WARMUP:,}")
        for k, v in self.slo.items():
            if k not in SLO_KEYS:
                raise ConfigError("slo", k, f"SLO keys are {', '.join(SLO_KEYS)}")
            if not v > 0:
                raise ConfigError("slo", f"{k}={v}", "SLO limits are positive seconds")
        if self.metrics_url is not None and check_url(self.metrics_url):
            raise ConfigError("metrics_url", secrets.without_credentials(self.metrics_url), check_url(self.metrics_url))
        if self.metrics_interval is not None and not (MIN_METRICS_INTERVAL <= self.metrics_interval < float("inf")):
            raise ConfigError("metrics_interval", self.metrics_interval, f"use a number of seconds of at least {MIN_METRICS_INTERVAL:g}, or leave it unset")
        if self.api_keys is not None:
            try:
                tenants.load_keys(self.api_keys)
            except tenants.KeysFileError as e:
                raise ConfigError("api_keys", self.api_keys, str(e)) from None
        if self.max_concurrency is not None and not (isinstance(self.max_concurrency, int) and self.max_concurrency >= 1):
            raise ConfigError("max_concurrency", self.max_concurrency, "use a positive integer or leave it unset")
        if self.max_concurrency is not None and self.trace:
            raise ConfigError("max_concurrency", self.max_concurrency, "a trace is replayed on its own arrivals: drop it")
        self.workload()  # options and files: one line per problem, before any request

    def workload(self) -> Workload:
        """The workload these options describe (reads any dataset or trace file); ConfigError if unusable."""
        try:
            return make_workload(self)
        except WorkloadError as e:
            raise ConfigError(e.field, e.value, e.fix) from None

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


class _Progress:
    """Adapts an optional progress object with ``start_level(label, total)``, ``advance()``
    and ``end_level()`` to the runner's per-request callback."""

    def __init__(self, ui: object | None) -> None:
        self.ui = ui

    def request_done(self, record) -> None:
        if self.ui is not None:
            self.ui.advance()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


async def run_benchmark(config: BenchmarkConfig, *, stop: asyncio.Event | None = None, progress: object | None = None) -> BenchmarkResult:
    """Runs every level of ``config``; see the module docstring."""
    config.validate()
    stop = stop or asyncio.Event()
    workload = config.workload()
    rng = random.Random(config.seed)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    target = Target(endpoint_url(config.url, config.endpoint), headers, config.timeout)
    if config.trace:
        mode, values = "trace", (config.trace_speed,)
    else:
        mode, values = ("concurrency", config.concurrency) if config.concurrency else ("request_rate", config.request_rates)
    result = BenchmarkResult(config=config.to_dict(), levels=[], started_at=_now(), finished_at="")
    sink = _Progress(progress)
    if config.concurrency and config.max_requests < max(config.concurrency):
        result.warnings.append(
            f"max_requests={config.max_requests} is below concurrency {max(config.concurrency)}: "
            "that level never reaches full concurrency"
        )

    keys = tenants.KeyRing(tenants.load_keys(config.api_keys)) if config.api_keys else None

    def context(records: list, with_progress: bool = True) -> LevelContext:
        return LevelContext(
            session, target, workload, rng, config.endpoint, config.served_model, config.ignore_eos, records,
            sink if with_progress else None, keys=keys,
        )

    session = make_session()
    scraper = None
    if config.engine_metrics:
        auth = {k: v for k, v in headers.items() if k == "Authorization"}
        scraper = Scraper(session, config.metrics_url or metrics_url(config.url), auth, config.metrics_interval, config.timeout)
    try:
        if config.warmup:
            records: list = []
            await run_closed(context(records, False), min(config.warmup, 8), config.warmup, config.timeout, stop)
            failed = [r for r in records if not r.ok and not r.cancelled and not r.rate_limited and not r.shed]  # a 429 is a limit working
            errors: dict[str, int] = {}
            for r in failed:
                errors[r.error] = errors.get(r.error, 0) + 1
            result.warmup = {"requests": len(records), "failed": len(failed), "errors": errors}
            if records and failed and len(failed) == len(records):
                result.aborted = f"all {len(records)} warm-up requests failed; first error: {failed[0].error}"
        for value in values if not result.aborted else ():
            if stop.is_set():
                break
            records = []
            label = f"{mode.replace('_', ' ')} {value:g}" + ("x" if mode == "trace" else "")
            if progress is not None:
                progress.start_level(label, config.max_requests)
            if scraper is not None:
                await scraper.start_level()
            cpu0 = time.process_time()
            try:
                if mode == "concurrency":
                    t0 = await run_closed(context(records), value, config.max_requests, config.max_seconds, stop)
                elif mode == "trace":
                    t0 = await run_trace(context(records), config.max_requests, config.max_seconds, stop)
                else:
                    t0 = await run_open(context(records), value, config.max_concurrency, config.max_requests, config.max_seconds, stop)
            finally:
                if progress is not None:
                    progress.end_level()
            level = LevelResult.from_records(mode, value, records, t0, config.slo, time.process_time() - cpu0)
            if scraper is not None:
                level.engine_metrics = await scraper.end_level()
            level.workload = {"shape": workload.name, **summarize(records, timed=mode == "trace")}
            result.levels.append(level)
    finally:
        await session.close()
    if scraper is not None and scraper.warning:
        result.warnings.append(scraper.warning)
    result.interrupted = result.interrupted or stop.is_set()
    result.finished_at = _now()
    return result


def run_benchmark_sync(config: BenchmarkConfig, *, progress: object | None = None) -> BenchmarkResult:
    """``run_benchmark`` in a fresh event loop (call it from plain code, not from a running loop).
    To stop early and keep partial results, use ``run_benchmark`` with a ``stop`` event."""
    return eventloop.run(run_benchmark(config, progress=progress))
