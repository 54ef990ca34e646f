"""Percentiles, per-request latencies and goodput on hand-computed cases."""

import pytest

from benchmarks.client import RequestRecord
from benchmarks.metrics import LatencyStats, meets_slo, percentile, request_latencies
from benchmarks.results import LevelResult


def test_percentile_linear_interpolation():
    v = [1.0, 2.0, 3.0, 4.0]
    assert percentile(v, 50) == pytest.approx(2.5)  # rank 1.5
    assert percentile(v, 90) == pytest.approx(3.7)  # rank 2.7
    assert percentile(v, 99) == pytest.approx(3.97)  # rank 2.97
    assert percentile(v, 0) == 1.0 and percentile(v, 100) == 4.0
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_latency_stats_sorts_and_handles_empty():
    s = LatencyStats.of([10.0, 0.0, 30.0, 20.0, 40.0])
    assert (s.count, s.mean, s.p50, s.min, s.max) == (5, 20.0, 20.0, 0.0, 40.0)
    assert s.p90 == pytest.approx(36.0)  # rank 3.6 between 30 and 40
    assert s.p95 == pytest.approx(38.0)
    assert LatencyStats.of([]) == LatencyStats(count=0)


def test_request_latencies():
    ttft, itl, tpot, e2e = request_latencies(10.0, 10.9, [10.2, 10.3, 10.5, 10.9], 4)
    assert ttft == pytest.approx(0.2) and e2e == pytest.approx(0.9)
    assert itl == pytest.approx([0.1, 0.2, 0.4])
    assert tpot == pytest.approx(0.7 / 3)
    assert request_latencies(0.0, 1.0, [0.5], 1) == (0.5, [], None, 1.0)
    assert request_latencies(0.0, 1.0, [], None) == (None, [], None, 1.0)


def test_meets_slo():
    assert meets_slo({}, 9.0, 9.0, 9.0)
    assert meets_slo({"ttft": 0.5, "tpot": 0.05}, 0.5, 0.05, 99.0)
    assert not meets_slo({"ttft": 0.5}, 0.51, 0.01, 1.0)
    assert not meets_slo({"e2e": 2.0}, 0.1, 0.01, 2.5)
    assert meets_slo({"tpot": 0.01}, 0.1, None, 0.2)  # one-token answer: TPOT undefined
    assert not meets_slo({"ttft": 1.0}, None, None, 0.2)


def rec(i, ttft, tpot, e2e, out, ok=True, cancelled=False, start=0.0):
    r = RequestRecord(i, 10, out)
    r.scheduled = start
    r.start, r.start_stamped = start, True  # as a socket-stamped send
    r.end = start + e2e
    r.ok, r.cancelled = ok, cancelled
    r.error = None if ok else ("cancelled" if cancelled else "HTTP 500: x")
    r.ttft, r.tpot, r.e2e = ttft, tpot, e2e
    r.output_tokens, r.input_tokens = out, 10
    r.usage_from_server = True
    r.chunks = out
    return r


def test_goodput_and_throughput_by_hand():
    records = [
        rec(0, 0.2, 0.02, 1.0, 41),  # meets both
        rec(1, 0.6, 0.02, 2.0, 40),  # ttft too slow
        rec(2, 0.3, 0.06, 3.0, 40),  # tpot too slow
        rec(3, 0.1, 0.01, 4.0, 39),  # meets both; ends last at t=4
        rec(4, 0.1, 0.01, 1.0, 0, ok=False),  # failed: never good, counts as an error
        rec(5, 0.1, 0.01, 0.5, 0, ok=False, cancelled=True),  # cancelled: ignored
    ]
    lv = LevelResult.from_records("concurrency", 4, records, 0.0, {"ttft": 0.5, "tpot": 0.05}, cpu_s=0.1)
    assert lv.duration_s == 4.0
    assert (lv.completed, lv.failed, lv.cancelled) == (4, 1, 1)
    assert lv.error_rate == pytest.approx(1 / 5)
    assert lv.request_throughput == pytest.approx(4 / 4.0)
    assert lv.output_throughput == pytest.approx(160 / 4.0)
    assert lv.input_throughput == pytest.approx(40 / 4.0)
    assert lv.goodput == pytest.approx(2 / 4.0)
    assert lv.goodput_fraction == pytest.approx(2 / 5)
    assert lv.ttft.p50 == pytest.approx(0.25)  # of 0.1, 0.2, 0.3, 0.6
    assert lv.e2e.mean == pytest.approx(2.5)
    assert lv.mean_output_tokens == pytest.approx(40.0)
    assert lv.errors == {"HTTP 500: x": 1}
    assert lv.warnings == []


def test_no_slo_means_every_success_is_good():
    lv = LevelResult.from_records("request_rate", 2.0, [rec(0, 0.2, 0.02, 2.0, 5)], 0.0, {}, 0.0)
    assert lv.goodput == lv.request_throughput == pytest.approx(0.5)


def test_short_answers_warn():
    r = rec(0, 0.2, 0.02, 2.0, 5)
    r.output_tokens_requested = 50
    lv = LevelResult.from_records("concurrency", 1, [r], 0.0, {}, 0.0)
    assert any("fewer tokens than max_tokens" in w for w in lv.warnings)
