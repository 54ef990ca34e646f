"""Benchmark one deployed trial: every load level, repeated, optionally a capacity search.

Metrics of a level come from the load generator (benchmarks/); repeats are aggregated into
mean/min/max/stdev so every comparison carries its noise. A level the guards refuse
(benchmarks/validity.py) is recorded with its reasons and kept out of the choice of load, the SLO
check and the capacity; a trial with no valid level fails.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import validity
from benchmarks.loadgen import BenchmarkConfig, LevelResult, run_benchmark
from components.rules.cost import cost_per_mtok

from .deploy import Endpoint, Interrupted
from .grid import METRICS, Benchmark, GridSpec


class BenchmarkFailed(Exception):
    pass


# Server-side figures from the engine's /metrics (benchmarks/engine_metrics.py), recorded and
# reported beside the client's; not objectives.
ENGINE_METRICS = ("prefix_hit_rate", "kv_cache_usage_max", "waiting_max", "preemptions")


def engine_figures(level: LevelResult) -> dict[str, float | None]:
    em = getattr(level, "engine_metrics", None) or {}

    def peak(key: str) -> float | None:
        return (em.get(key) or {}).get("max")

    return {
        "prefix_hit_rate": em.get("prefix_hit_rate"),
        "kv_cache_usage_max": peak("kv_cache_usage"),
        "waiting_max": peak("waiting"),
        "preemptions": em.get("preemptions"),
    }


def level_metrics(level: LevelResult, gpus: int, price_per_hour: float | None = None) -> dict[str, Any]:
    def stat(name: str, pct: str) -> float | None:
        return getattr(getattr(level, name), pct)

    return {
        **engine_figures(level),
        # The guards' verdict: a level with any entry is no measurement (docs/tuning.md "Invalid levels")
        "invalid": list(getattr(level, "invalid", None) or []),
        "saturated_at": getattr(level, "saturated_at", None),
        "skipped": isinstance(level, SkippedLevel),
        "load": level.value,
        "output_throughput": level.output_throughput,
        "request_throughput": level.request_throughput,
        "goodput": level.goodput,
        "output_throughput_per_gpu": level.output_throughput / max(gpus, 1),
        "ttft_p50": stat("ttft", "p50"),
        "ttft_p90": stat("ttft", "p90"),
        "ttft_p99": stat("ttft", "p99"),
        "tpot_p50": stat("tpot", "p50"),
        "tpot_p90": stat("tpot", "p90"),
        "itl_p90": stat("itl", "p90"),
        "e2e_p90": stat("e2e", "p90"),
        "error_rate": level.error_rate,
        "completed": level.completed,
        "shed": level.shed,  # 429s from the endpoint's own request limit (requestLimits): not errors, kept per level
        "errors": dict(level.errors),
        "workload": dict(level.workload),  # shape, shared-prefix share, TTFT by turn, arrival lag
        **cost_metrics(level.output_throughput, price_per_hour),
    }


def cost_metrics(output_throughput: float, price_per_hour: float | None) -> dict[str, float]:
    """$ per hour and $ per million output tokens of one level (none without a price)."""
    if price_per_hour is None:
        return {}
    per_mtok = cost_per_mtok(price_per_hour, output_throughput)
    return {"cost_per_hour": price_per_hour, **({"cost_per_mtok": per_mtok} if per_mtok is not None else {})}


def aggregate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric over repeats: mean, min, max, stdev and the values themselves."""
    out: dict[str, Any] = {}
    for metric in (*METRICS, *ENGINE_METRICS):
        values = [s[metric] for s in samples if isinstance(s.get(metric), (int, float)) and not math.isnan(s[metric])]
        if not values:
            continue
        out[metric] = {
            "mean": statistics.fmean(values),
            "min": min(values),
            "max": max(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values,
        }
    return out


def meets_slo(metrics: dict[str, Any], slo: dict[str, float]) -> bool:
    return all(metric in metrics and metrics[metric]["mean"] <= bound for metric, bound in slo.items())


def better(a: float, b: float, sense: str) -> bool:
    return a > b if sense == "maximize" else a < b


@dataclass
class Measurement:
    metrics: dict[str, Any]  # aggregate at the chosen load
    levels: list[dict[str, Any]]  # every sample, for the record
    meets_slo: bool
    load: float
    capacity: dict[str, Any] | None = None  # highest load meeting every SLO, with its spread (see capacity_entry)


# The capacity's lower bound is the minimum over repeats: with the 1 to 5 repeats a tuning run
# affords, a percentile cannot be estimated, and the capacity contract (rule C1) wants the
# load every repeat sustained, not the typical one.
LOWER_BOUND_RULE = "min over repeats"


def capacity_entry(unit: str, source: str, values: list[float], at_load: dict[str, Any] | None) -> dict[str, Any]:
    """The capacity record of a trial: `values` one per repeat; `at_load` the aggregate measured at the lower
    bound's load (its request throughput converts a concurrency capacity into requests per second; its output
    throughput gives the capacity file's $ per million output tokens at the SLO)."""
    rate = (at_load or {}).get("request_throughput") or {}
    tokens = (at_load or {}).get("output_throughput") or {}
    return {
        "unit": unit,
        "source": source,
        "value": statistics.median(values),
        "lower_bound": min(values),
        "lower_bound_rule": LOWER_BOUND_RULE,
        "values": values,
        "request_rate": {"value": rate.get("mean"), "lower_bound": rate.get("min"), "values": rate.get("values", [])}
        if rate
        else None,
        "output_throughput": {
            "value": tokens.get("mean"),
            "lower_bound": tokens.get("min"),
            "values": tokens.get("values", []),
        }
        if tokens
        else None,
    }


class SkippedLevel(LevelResult):
    """A level the load generator did not run (above a saturated one): recorded, INVALID, with the reason."""

    @classmethod
    def of(cls, mode: str, value: float, reason: str) -> SkippedLevel:
        level = cls.from_records(mode, value, [], 0.0, {}, 0.0)
        level.invalid = [{"guard": validity.SATURATED, "reason": reason}]
        return level


BenchFn = Callable[[BenchmarkConfig, threading.Event], list[LevelResult]]


def run_loadgen(config: BenchmarkConfig, stop: threading.Event) -> list[LevelResult]:
    """The load generator in its own event loop, stoppable from another thread, with a wall-clock cap."""
    levels = len(config.concurrency or config.request_rates)
    cap = levels * (config.level_seconds() + config.timeout) + config.warmup * config.timeout + 60

    async def main() -> list[LevelResult]:
        event = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.2)
            event.set()

        watcher = asyncio.create_task(watch())
        try:
            result = await asyncio.wait_for(run_benchmark(config, stop=event), cap)
        except TimeoutError:
            raise BenchmarkFailed(f"benchmark did not finish within {cap:.0f} s") from None
        finally:
            watcher.cancel()
        if stop.is_set():
            raise Interrupted("stopped during the benchmark")
        if result.aborted:
            raise BenchmarkFailed(f"benchmark aborted: {result.aborted}")
        return result.levels + [SkippedLevel.of(s["mode"], s["value"], s["reason"]) for s in result.skipped]

    return asyncio.run(main())


class Measurer:
    def __init__(
        self,
        grid: GridSpec,
        bench: BenchFn = run_loadgen,
        seed: int = 0,
        in_cluster: Callable[..., list[LevelResult]] | None = None,
    ):
        self.grid = grid
        self.bench = bench
        self.seed = seed
        self.in_cluster = in_cluster  # benchmark.clients > 1: (endpoint, config, clients, stop) -> merged levels

    def _run(
        self, config: BenchmarkConfig, endpoint: Endpoint, stop: threading.Event, benchmark: Benchmark | None
    ) -> list[LevelResult]:
        clients = (benchmark or self.grid.benchmark).clients
        if clients <= 1:
            return self.bench(config, stop)
        from .incluster import InClusterFailed, bench_in_cluster

        try:
            return (self.in_cluster or bench_in_cluster)(endpoint, config, clients, stop)
        except InClusterFailed as exc:
            raise BenchmarkFailed(str(exc)) from None

    def config(
        self,
        endpoint: Endpoint,
        concurrency: tuple[int, ...] = (),
        rates: tuple[float, ...] = (),
        warmup: int | None = None,
        benchmark: Benchmark | None = None,
    ) -> BenchmarkConfig:
        """The load generator's config: the grid's benchmark block, or the point's (`benchmark.*` parameters)."""
        b = benchmark or self.grid.benchmark
        if b.trace:  # the trace's own arrivals: one level
            concurrency, rates = (), ()
        elif not concurrency and not rates:
            concurrency, rates = tuple(b.concurrency), tuple(b.request_rates)
            if not concurrency and not rates:
                concurrency = (8,)
        # Every option of the block (a new load-generator option included); the trial's own values over it.
        return BenchmarkConfig(
            **{
                **b.loadgen_options(),
                "url": endpoint.base_url,
                "model": endpoint.model,
                "api_key": endpoint.api_key,
                "concurrency": concurrency,
                "request_rates": rates,
                "warmup": b.warmup if warmup is None else warmup,
                "seed": self.seed,
            }
        )

    def _levels(
        self,
        config: BenchmarkConfig,
        endpoint: Endpoint,
        stop: threading.Event,
        probe: bool = False,
        benchmark: Benchmark | None = None,
    ) -> list[dict[str, Any]]:
        """Each level's metrics with the guards' verdict (judged here with `config`'s thresholds, so every
        bench function, in-cluster clients included, is held to them). A trial whose every level is INVALID
        fails; in a capacity probe (`probe`) the levels are returned, and the probe counts an INVALID one as
        over capacity."""
        levels = self._run(config, endpoint, stop, benchmark)
        for level in levels:
            if not isinstance(level, SkippedLevel):
                validity.judge(level, config)
        samples = [level_metrics(level, endpoint.gpus, endpoint.price_per_hour) for level in levels]
        ran = [s for s in samples if not s["skipped"]]
        if ran and all(s["completed"] == 0 for s in ran):
            errors = {k: v for s in ran for k, v in s["errors"].items()}
            raise BenchmarkFailed(f"every request failed: {errors}")
        if samples and not probe and all(s["invalid"] for s in samples):
            raise BenchmarkFailed(
                "no valid level: "
                + "; ".join(
                    f"load {s['load']:g}: " + "; ".join(f"{v['guard']}: {v['reason']}" for v in s["invalid"])
                    for s in samples
                )
                + " (thresholds: benchmark.maxErrorRate, saturationTolerance, maxSendLag, maxClientCpu; docs/tuning.md)"
            )
        return samples

    def measure(self, endpoint: Endpoint, stop: threading.Event, benchmark: Benchmark | None = None) -> Measurement:
        """``benchmark``: the point's own benchmark block (its `benchmark.*` parameters), else the grid's."""
        searched: list[float] = []
        if self.grid.capacity_search.enabled:
            # One search per capacity repeat; the repeated benchmark runs at the lowest (the lower bound).
            whole = self.grid.capacity_search.by == "concurrency"
            searched = [self.capacity(endpoint, stop, benchmark) for _ in range(self.grid.capacity_search.repeats)]
            searched = [int(v) if whole else v for v in searched]  # a concurrency is a count
            config = self.config(endpoint, **self._load_kwargs(min(searched)), benchmark=benchmark)
        else:
            config = self.config(endpoint, benchmark=benchmark)
        runs: list[list[dict[str, Any]]] = []
        for repeat in range(self.grid.repeats):
            # Warm-up once; later repeats measure a warm server like the first.
            cfg = (
                config
                if repeat == 0
                else self.config(endpoint, config.concurrency, config.request_rates, warmup=0, benchmark=benchmark)
            )
            runs.append(self._levels(cfg, endpoint, stop, benchmark=benchmark))
        measurement = self._choose(runs, "concurrency" if config.concurrency else "requests_per_second")
        if searched:
            unit = "concurrency" if self.grid.capacity_search.by == "concurrency" else "requests_per_second"
            at = aggregate([s for samples in runs for s in samples if s["load"] == min(searched)])
            measurement.capacity = capacity_entry(unit, "capacity search", searched, at)
        return measurement

    def _slo_ok(self, samples: list[dict[str, Any]]) -> bool:
        limit = self.grid.benchmark.max_error_rate
        valid = all(not s.get("invalid") and (s.get("error_rate") or 0) <= limit for s in samples)
        return valid and meets_slo(aggregate(samples), self.grid.slo)

    def _level_capacity(self, runs: list[list[dict[str, Any]]], unit: str) -> dict[str, Any] | None:
        """Without a capacity search: per repeat, the highest level that met every SLO (a trace has no load)."""
        if self.grid.benchmark.trace:
            return None
        refused = {
            s["load"] for samples in runs for s in samples if s.get("invalid")
        }  # INVALID in any repeat, as in _choose
        per_repeat = [
            max((s["load"] for s in samples if s["load"] not in refused and self._slo_ok([s])), default=0.0)
            for samples in runs
        ]
        if not per_repeat or max(per_repeat) <= 0:
            return None
        lowest = min(per_repeat)
        at = aggregate([s for samples in runs for s in samples if s["load"] == lowest]) if lowest > 0 else None
        return capacity_entry(unit, "best SLO-meeting level", per_repeat, at)

    def _choose(self, runs: list[list[dict[str, Any]]], unit: str = "concurrency") -> Measurement:
        """The load whose mean meets every SLO with the best objective (else the best overall)."""
        objective, sense, slo = self.grid.objective.metric, self.grid.objective.sense, self.grid.slo
        by_load: dict[float, list[dict[str, Any]]] = {}
        # A load INVALID in any repeat is no candidate: its other repeats would hide what that one showed.
        refused = {s["load"] for samples in runs for s in samples if s.get("invalid")}
        for samples in runs:
            for sample in samples:
                if sample["load"] not in refused:
                    by_load.setdefault(sample["load"], []).append(sample)
        best: tuple[bool, float, float, dict[str, Any]] | None = None
        for load, samples in by_load.items():
            agg = aggregate(samples)
            if objective not in agg:
                continue
            ok = meets_slo(agg, slo)
            value = agg[objective]["mean"]
            if best is None or (ok and not best[0]) or (ok == best[0] and better(value, best[1], sense)):
                best = (ok, value, load, agg)
        if best is None:
            raise BenchmarkFailed(f"no valid level produced {objective}")
        flat = [s for samples in runs for s in samples]
        return Measurement(best[3], flat, best[0], best[2], self._level_capacity(runs, unit))

    def _load_kwargs(self, load: float) -> dict[str, Any]:
        if self.grid.capacity_search.by == "concurrency":
            return {"concurrency": (int(load),)}
        return {"rates": (load,)}

    def capacity(self, endpoint: Endpoint, stop: threading.Event, benchmark: Benchmark | None = None) -> float:
        """Highest load meeting every SLO: double until it fails (bracket), then bisect."""
        cap = self.grid.capacity_search
        integral = cap.by == "concurrency"

        def ok(load: float) -> bool:
            return self._slo_ok(
                self._levels(
                    self.config(endpoint, **self._load_kwargs(load), warmup=0, benchmark=benchmark),
                    endpoint,
                    stop,
                    probe=True,
                    benchmark=benchmark,
                )
            )

        return capacity_search(ok, cap.start, cap.max, cap.steps, integral)


def capacity_search(ok: Callable[[float], bool], start: float, maximum: float, steps: int, integral: bool) -> float:
    """Largest x in [start, maximum] with ok(x), for a monotone ok (true up to some load, then false).
    0 when even `start` fails."""
    good, load = 0.0, start
    while True:
        load = min(load, maximum)
        if not ok(load):
            bad = load
            break
        good = load
        if load >= maximum:
            return good
        load *= 2
    for _ in range(steps):
        mid = math.floor((good + bad) / 2) if integral else (good + bad) / 2
        if mid <= good or mid >= bad:
            break
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good
