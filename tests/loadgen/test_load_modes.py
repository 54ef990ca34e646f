"""Closed/open loop behaviour, queue time, warm-up exclusion, bounds and stopping."""

import asyncio
import time

import pytest

from benchmarks.loadgen import BenchmarkConfig, run_benchmark, run_benchmark_sync


def cfg(server, model="fast", **kw):
    base = dict(url=server.url, model=model, scenario="D(10,4)", warmup=0, timeout=10.0)
    base.update(kw)
    return BenchmarkConfig(**base)


def test_closed_loop_has_no_queue_time_and_keeps_concurrency(server):
    server.peak = 0
    lv = run_benchmark_sync(cfg(server, "slow", concurrency=(4,), max_requests=8)).levels[0]
    assert lv.completed == 8 and server.peak == 4
    assert lv.queue_time.max < 0.005
    assert lv.ttft_with_queue.p50 == pytest.approx(lv.ttft.p50, abs=0.005)


def test_open_loop_reports_slot_wait_as_queue_time(server):
    # 50 req/s against a 0.3 s response with 1 slot: arrivals pile up waiting for the slot
    lv = run_benchmark_sync(cfg(server, "slow", request_rates=(50.0,), max_concurrency=1, max_requests=4, seed=1)).levels[0]
    assert lv.completed == 4
    waits = sorted(r.queue_time for r in lv.records)
    assert waits[0] < 0.05 and waits[-1] > 0.6  # the 4th waited for ~3 responses
    assert lv.ttft_with_queue.mean == pytest.approx(lv.ttft.mean + lv.queue_time.mean)
    assert lv.e2e_with_queue.max > lv.e2e.max


def test_open_loop_rate_is_poisson_and_bounded_by_time(server):
    t = time.perf_counter()
    lv = run_benchmark_sync(cfg(server, request_rates=(40.0,), max_requests=10_000, max_seconds=1.0, seed=3)).levels[0]
    assert time.perf_counter() - t < 3
    # ~40 arrivals in 1 s; a Poisson count is within +-4 sd with overwhelming probability
    assert 15 <= len(lv.records) <= 65
    assert all(r.scheduled - lv.t0 < 1.0 for r in lv.records)
    gaps = sorted(b.scheduled - a.scheduled for a, b in zip(lv.records, lv.records[1:]))
    assert gaps[0] < gaps[-1] / 3  # not evenly spaced


def test_closed_loop_bounded_by_time(server):
    t = time.perf_counter()
    lv = run_benchmark_sync(cfg(server, "slow", concurrency=(2,), max_requests=10_000, max_seconds=0.5)).levels[0]
    assert time.perf_counter() - t < 2.5
    assert 2 <= lv.completed <= 6


def test_warmup_excluded_from_counts_and_duration(server):
    server.bodies.clear()
    res = run_benchmark_sync(cfg(server, "slow", concurrency=(1,), max_requests=2, warmup=3))
    lv = res.levels[0]
    assert len(server.bodies) == 5 and res.warmup == {"requests": 3, "failed": 0, "errors": {}}
    assert len(lv.records) == 2 and lv.completed == 2
    # two sequential 0.3 s requests; the three warm-ups (another ~0.9 s) are not in it
    assert 0.55 < lv.duration_s < 0.9
    assert lv.output_throughput == pytest.approx(8 / lv.duration_s)


def test_stop_event_keeps_partial_results(server):
    async def main():
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_benchmark(cfg(server, "slow", concurrency=(2, 4), max_requests=1000, max_seconds=30), stop=stop))
        await asyncio.sleep(1.0)
        stop.set()
        return await asyncio.wait_for(task, 5)

    res = asyncio.run(main())
    assert res.interrupted and len(res.levels) == 1
    lv = res.levels[0]
    assert lv.completed >= 4 and lv.cancelled == 2 and lv.failed == 0
    assert lv.error_rate == 0.0


def test_levels_run_in_order_with_their_own_records(server):
    res = run_benchmark_sync(cfg(server, concurrency=(1, 3), max_requests=6))
    assert [lv.value for lv in res.levels] == [1, 3]
    assert all(lv.completed == 6 for lv in res.levels)
    d = res.to_dict()
    assert d["schema_version"] == 1 and len(d["levels"][1]["requests"]) == 6
    assert set(d["levels"][0]["ttft"]) == {"count", "mean", "p50", "p90", "p95", "p99", "min", "max"}
