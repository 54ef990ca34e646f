"""Closed/open loop behaviour, queue time, warm-up exclusion, bounds and stopping.

No durations are asserted (a loaded machine stretches them): only counts and the order of events,
with the server's stamps taken on the client's clock (see scripted_server).
"""

import asyncio

import pytest

from benchmarks.loadgen import BenchmarkConfig, run_benchmark, run_benchmark_sync
from tests.loadgen.scripted_server import SLOW_SECONDS


def cfg(server, model="fast", **kw):
    base = dict(url=server.url, model=model, scenario="D(10,4)", warmup=0, timeout=10.0)
    base.update(kw)
    return BenchmarkConfig(**base)


def test_closed_loop_has_no_queue_time_and_keeps_concurrency(server):
    server.peak = 0
    lv = run_benchmark_sync(cfg(server, "slow", concurrency=(4,), max_requests=8)).levels[0]
    assert lv.completed == 8 and server.peak == 4
    assert lv.queue_time.max == 0.0  # each request is due when it is sent
    assert lv.ttft_with_queue == lv.ttft and lv.e2e_with_queue == lv.e2e


def test_open_loop_reports_slot_wait_as_queue_time(server):
    # 50 req/s against a 0.3 s response with 1 slot: arrivals pile up waiting for the slot
    lv = run_benchmark_sync(
        cfg(server, "slow", request_rates=(50.0,), max_concurrency=1, max_requests=4, seed=1)
    ).levels[0]
    assert lv.completed == 4
    records = sorted(lv.records, key=lambda r: r.start)
    assert [r.index for r in records] == [0, 1, 2, 3]
    for prev, r in zip(records, records[1:]):
        assert r.start >= prev.end  # one slot: sent only once the previous one ended
        assert r.queue_time == r.start - r.scheduled
    # the seeded arrivals are 20 ms apart on average, each response takes SLOW_SECONDS: the 4th is
    # due before the 1st can end, so it waited for the slot
    assert records[3].scheduled - lv.t0 < SLOW_SECONDS <= records[0].end - records[0].start
    assert records[3].queue_time >= records[2].end - records[3].scheduled > 0
    assert lv.ttft_with_queue.mean == pytest.approx(lv.ttft.mean + lv.queue_time.mean)
    assert lv.e2e_with_queue.max > lv.e2e.max


def test_open_loop_rate_is_poisson_and_bounded_by_time(server):
    lv = run_benchmark_sync(cfg(server, request_rates=(40.0,), max_requests=10_000, max_seconds=1.0, seed=3)).levels[0]
    # ~40 arrivals in 1 s (the seeded arrival times, not the machine's speed, decide the count);
    # a Poisson count is within +-4 sd with overwhelming probability
    assert 15 <= len(lv.records) <= 65
    assert all(r.scheduled - lv.t0 < 1.0 for r in lv.records)
    gaps = sorted(b.scheduled - a.scheduled for a, b in zip(lv.records, lv.records[1:]))
    assert gaps[0] < gaps[-1] / 3  # not evenly spaced


def test_closed_loop_bounded_by_time(server):
    lv = run_benchmark_sync(cfg(server, "slow", concurrency=(2,), max_requests=10_000, max_seconds=0.5)).levels[0]
    # each response takes at least SLOW_SECONDS (0.3 s), so a worker can start at most two
    # requests within 0.5 s however fast or slow the machine is: the time bound ended the level
    assert len(lv.records) <= 4 and lv.failed == 0


def test_warmup_excluded_from_counts_and_duration(server):
    server.bodies.clear()
    server.stamps.clear()
    res = run_benchmark_sync(cfg(server, "slow", concurrency=(1,), max_requests=2, warmup=3))
    lv = res.levels[0]
    assert len(server.bodies) == 5 and res.warmup == {"requests": 3, "failed": 0, "errors": {}}
    assert len(lv.records) == 2 and lv.completed == 2
    done = sorted(t for e, t in server.stamps if e == "done")
    assert len(done) == 5
    # the level's clock starts after the last warm-up response was sent, and its duration is
    # measured from there
    assert done[2] < lv.t0 < min(r.start for r in lv.records)
    assert lv.output_throughput == pytest.approx(8 / lv.duration_s)


def test_stop_event_keeps_partial_results(server):
    server.bodies.clear()

    async def main():
        stop = asyncio.Event()
        task = asyncio.ensure_future(
            run_benchmark(cfg(server, "slow", concurrency=(2, 4), max_requests=1000, max_seconds=30), stop=stop)
        )
        for _ in range(600):  # bounded: until 6 were sent, so at least 4 finished (2 in flight)
            if len(server.bodies) >= 6:
                break
            await asyncio.sleep(0.05)
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
