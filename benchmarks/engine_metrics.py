"""Engine-side metrics per level: the server's Prometheus ``/metrics`` scraped before and after a
level (and every ``interval`` seconds during it), parsed with ``prometheus_client``'s parser.

What vLLM and SGLang expose (sample names as scraped):

- vLLM v1 (``vllm/v1/metrics/loggers.py``, docs ``docs/design/metrics.md``, v0.11):
  ``vllm:num_requests_running``, ``vllm:num_requests_waiting`` (gauges), ``vllm:kv_cache_usage_perc``
  (gauge, 0-1; before v0.10 ``vllm:gpu_cache_usage_perc``), ``vllm:prefix_cache_queries_total`` and
  ``vllm:prefix_cache_hits_total`` (counters, in tokens), ``vllm:num_preemptions_total`` (counter).
  Labels ``model_name`` and ``engine`` (one series per data-parallel engine).
- SGLang (sgl-project/sglang@v0.5.19 ``python/sglang/srt/observability/metrics_collector.py``, the
  version of the pinned image ``lmsysorg/sglang:v0.5.19-cu129``): ``sglang:num_running_reqs``,
  ``sglang:num_queue_reqs`` (gauges), ``sglang:token_usage`` (gauge, 0-1, KV pool in use),
  ``sglang:prompt_tokens_total`` and ``sglang:cached_tokens_total`` (counters, in tokens, both added
  once per finished request by ``observe_one_finished_request``; cached tokens carry a
  ``cache_source`` label: device, host, storage_<backend>). Its ``sglang:cache_hit_rate`` gauge is
  not read: it holds the hit rate of the latest prefill batch and every decode log sets it to 0
  (``python/sglang/srt/managers/scheduler_components/metrics_reporter.py``), so its mean over scrapes is no hit rate.
  No preemption counter. With priority scheduling on, the request gauges hold the total under
  ``priority=""`` and each priority's share under ``priority="<n>"`` (``_log_gauge_queue_count``); the
  shares are skipped, not added to the total.

Counters are reported as deltas over the level, gauges as max and mean over the scrapes.  Series
that differ only by labels are summed (requests, tokens) or averaged (fractions).

A restart during the level is reported (``restarted``, one line) when ``process_start_time_seconds``
changed between two scrapes or a counter went backwards. vLLM's page carries the start time of its API
server when it serves from one process (prometheus_client's default registry, whose process collector
adds it; vllm-project/vllm@0fa7aac8 ``vllm/v1/metrics/prometheus.py`` ``get_prometheus_registry``);
SGLang's, in prometheus_client's multiprocess mode, does not (sgl-project/sglang@004f0c7a
``python/sglang/srt/utils/common.py`` ``add_prometheus_middleware``), so there only the counters tell
(docs/doubts.md: neither commit is the pinned release).
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

# key -> (kind, sample names in order of preference: the first one present is used)
COUNTERS = {
    "prefix_cache_queries": ("vllm:prefix_cache_queries_total", "sglang:prompt_tokens_total"),
    "prefix_cache_hits": ("vllm:prefix_cache_hits_total", "sglang:cached_tokens_total"),
    "preemptions": ("vllm:num_preemptions_total",),
}
GAUGES = {
    "running": ("vllm:num_requests_running", "sglang:num_running_reqs"),
    "waiting": ("vllm:num_requests_waiting", "sglang:num_queue_reqs"),
    "kv_cache_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage"),
}
# The server process's start time (Unix seconds): a new value means a new process.
START_TIME = "process_start_time"
START_TIME_NAMES = ("process_start_time_seconds",)
FRACTIONS = {"kv_cache_usage"}  # averaged across label sets, not summed
# SGLang's token counters carry per-request labels (is_streaming, cache_source), and a labelled
# prometheus_client counter has no sample until its first increment: on an SGLang page, absent is 0.
ZERO_WHEN_ABSENT_ON_SGLANG = ("prefix_cache_queries", "prefix_cache_hits")
SCRAPE_TIMEOUT_S = 5.0  # wall-clock for a whole scrape (never more than the run's --timeout): vLLM answers in ms
MAX_BODY_BYTES = 16 * 1024 * 1024  # a metrics page this large is not one


class MetricsUnavailable(Exception):
    """One line saying why the server's metrics cannot be used."""


def metrics_url(url: str) -> str:
    """``http://host:port/metrics`` of a server given as ``http://host:port[/v1[/...]]``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))


WANTED = tuple(name for names in (*COUNTERS.values(), *GAUGES.values(), START_TIME_NAMES) for name in names)
WANTED_FAMILIES = frozenset(name.removesuffix("_total") for name in WANTED)


def wanted_lines(text: str) -> str:
    """The page's lines of the metrics read here: vLLM's page is ~50 KB of histograms, and parsing all of it on
    the load generator's loop took 8 ms per scrape (vLLM 0.11's page, idle machine) of time no send could leave.
    A page with none of them is returned whole, so what is not Prometheus text is still told apart."""
    kept = [
        line
        for line in text.splitlines()
        if line.startswith(WANTED)
        or (line.startswith("# ") and len(parts := line.split(None, 3)) > 2 and parts[2] in WANTED_FAMILIES)
    ]
    return "\n".join(kept) + "\n" if kept else text


def parse(text: str) -> dict[str, float]:
    """The known metrics of one scrape, by key (absent keys: the server does not expose them).
    Raises MetricsUnavailable for text that is not the Prometheus exposition format."""
    by_name: dict[str, list[float]] = {}
    try:
        for family in text_string_to_metric_families(wanted_lines(text)):
            for s in family.samples:
                if s.name.startswith("sglang:") and s.labels.get("priority"):
                    continue  # a per-priority share of the total under priority="" (see the module doc)
                by_name.setdefault(s.name, []).append(float(s.value))
    except (ValueError, TypeError, IndexError) as e:
        raise MetricsUnavailable(f"not Prometheus text ({str(e)[:80]})") from None
    out: dict[str, float] = {}
    for key, names in (*COUNTERS.items(), *GAUGES.items()):
        values = next((by_name[n] for n in names if n in by_name), None)
        if values:
            out[key] = statistics.fmean(values) if key in FRACTIONS else sum(values)
    starts = next((by_name[n] for n in START_TIME_NAMES if n in by_name), None)
    if starts and out:  # only beside engine metrics: any Python server has one
        out[START_TIME] = max(starts)
    if any(name.startswith("sglang:") for name in by_name):
        for key in ZERO_WHEN_ABSENT_ON_SGLANG:
            out.setdefault(key, 0.0)
    return out


def summarize(samples: list[dict[str, float]], engine: str) -> dict:
    """Level figures from the scrapes in time order (first: before the level, last: after)."""
    first, last = samples[0], samples[-1]
    out: dict = {"engine": engine, "scrapes": len(samples)}
    for key in GAUGES:
        values = [s[key] for s in samples if key in s]
        out[key] = {"max": max(values), "mean": statistics.fmean(values)} if values else None
    for key in COUNTERS:
        # A negative delta means the server restarted during the level: no honest figure.
        delta = last[key] - first[key] if key in first and key in last else None
        out[key] = delta if delta is not None and delta >= 0 else None
    queries, hits = out["prefix_cache_queries"], out["prefix_cache_hits"]
    out["prefix_hit_rate"] = hits / queries if queries and hits is not None else None
    out["restarted"] = restart(samples)
    return out


def restart(samples: list[dict[str, float]]) -> str | None:
    """Why the scrapes (in time order) show a restart, or None: the process start time changed, or a
    counter went backwards between two scrapes."""
    for before, after in zip(samples, samples[1:]):
        if START_TIME in before and START_TIME in after and after[START_TIME] != before[START_TIME]:
            return (
                f"the engine restarted during the level: its process_start_time_seconds went from "
                f"{before[START_TIME]:.0f} to {after[START_TIME]:.0f}"
            )
        for key in COUNTERS:
            if key in before and key in after and after[key] < before[key]:
                return f"the engine restarted during the level: its counter {key} went back from {before[key]:.0f} to {after[key]:.0f}"
    return None


async def _read_capped(content: aiohttp.StreamReader, max_bytes: int) -> bytes:
    """The whole body (one `read(n)` returns what has arrived, not the page), refused past `max_bytes`."""
    parts, size = [], 0
    while chunk := await content.read(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise MetricsUnavailable(f"the page is over {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


@dataclass
class Scraper:
    """Scrapes one server. A server without ``/metrics`` (a non-200 answer, a page with no engine
    metrics, or no answer before the first success) is not an error: it stops trying and says why
    once (``warning``). Once a scrape has succeeded, a slow or dropped one is skipped and counted
    (``missed``): a CPU-bound engine may answer /metrics late under load, and one late answer must
    not cost the level its figures."""

    session: aiohttp.ClientSession
    url: str
    headers: dict = field(default_factory=dict)
    interval: float | None = None
    timeout: float | None = None  # the run's --timeout: a scrape never waits longer (nor over SCRAPE_TIMEOUT_S)
    warning: str | None = None
    missed: int = 0  # scrapes skipped after a first success (timeouts, dropped connections)
    _seen: bool = False
    _samples: list[dict[str, float]] = field(default_factory=list)
    _engine: str = "unknown"
    _task: asyncio.Task | None = None

    @property
    def enabled(self) -> bool:
        return self.warning is None

    async def scrape(self) -> dict[str, float] | None:
        if not self.enabled:
            return None
        deadline = SCRAPE_TIMEOUT_S if self.timeout is None else min(self.timeout, SCRAPE_TIMEOUT_S)
        try:
            async with asyncio.timeout(deadline):  # the whole answer, however slowly it trickles in
                async with self.session.get(self.url, headers=self.headers) as resp:
                    if resp.status != 200:
                        raise MetricsUnavailable(f"HTTP {resp.status}")
                    body = await _read_capped(resp.content, MAX_BODY_BYTES)
            text = body.decode("utf-8", "replace")
            snapshot = parse(text)
            if not snapshot:
                raise MetricsUnavailable("no vLLM or SGLang metrics in it")
            self._engine = "vllm" if "vllm:" in text else "sglang"
            self._seen = True
            return snapshot
        except MetricsUnavailable as e:
            self.warning = f"engine metrics off: {self.url}: {e}"
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            if self._seen:
                self.missed += 1
                return None
            self.warning = f"engine metrics off: {self.url}: {type(e).__name__}: {str(e)[:120]}"
        return None

    async def start_level(self) -> None:
        self._samples = []
        snapshot = await self.scrape()
        if snapshot is not None:
            self._samples.append(snapshot)
            if self.interval:
                self._task = asyncio.ensure_future(self._every(self.interval))

    async def _every(self, interval: float) -> None:
        while self.enabled:
            await asyncio.sleep(interval)
            snapshot = await self.scrape()
            if snapshot is not None:
                self._samples.append(snapshot)

    async def end_level(self) -> dict | None:
        """The level's figures, or None if the server's metrics were not available."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not self._samples:
            return None
        snapshot = await self.scrape()
        if snapshot is None and self.enabled:
            snapshot = await self.scrape()  # one more try: the engine is idle now the level is over
        if snapshot is not None:
            self._samples.append(snapshot)
        if len(self._samples) < 2:  # no end of the level to take deltas against
            return None
        return summarize(self._samples, self._engine)
