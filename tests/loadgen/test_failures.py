"""Every failure mode is a recorded error: no exception, no hang."""

import socket

import pytest

from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync


def one(url, model, timeout=5.0, **kw):
    cfg = BenchmarkConfig(
        url=url, model=model, concurrency=(2,), max_requests=2, warmup=0, timeout=timeout, scenario="D(10,4)", **kw
    )
    res = run_benchmark_sync(cfg)
    lv = res.levels[0]
    assert len(lv.records) == 2
    return lv


@pytest.mark.parametrize(
    "model, expected",
    [
        ("http500", "HTTP 500: boom: engine overloaded"),
        ("nonstream", "non-streaming response"),
        ("malformed", "malformed SSE data"),
        ("error-event", "KV cache exhausted"),
        ("drop", ""),  # aiohttp's own text; any error is fine
        ("no-done", "stream ended before [DONE]"),
        ("empty", "without any generated text"),
    ],
)
def test_bad_server_behaviour_is_recorded(server, model, expected):
    lv = one(server.url, model)
    assert lv.completed == 0 and lv.failed == 2 and lv.error_rate == 1.0
    for r in lv.records:
        assert not r.ok and r.error and expected in r.error
    assert sum(lv.errors.values()) == 2


@pytest.mark.parametrize("model", ["stall", "stall-headers"])
def test_stalled_server_hits_the_deadline(server, model):
    lv = one(server.url, model, timeout=0.5)  # the server stalls for 30 s
    for r in lv.records:
        assert r.error.startswith("timeout: no complete response within 0.5 s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused():
    lv = one(f"http://127.0.0.1:{free_port()}", "x")
    assert all(r.error.startswith("connection error") for r in lv.records)


def test_all_warmups_failing_aborts_early():
    cfg = BenchmarkConfig(url=f"http://127.0.0.1:{free_port()}", model="x", concurrency=(1, 4), warmup=2, timeout=2)
    res = run_benchmark_sync(cfg)
    assert res.levels == [] and res.aborted.startswith("all 2 warm-up requests failed; first error: connection error")
    assert res.to_dict()["aborted"] == res.aborted
