"""Trace replay as faithful as the trace: what a replay of the public traces (Azure LLM inference 2023,
Mooncake FAST'25) against a recording server showed, one test per finding.

No durations are asserted (a loaded 2-core machine stretches them): counts, order and structure only;
the timing itself is ``python -m benchmarks.experiments.replay_accuracy`` (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
from array import array
from time import perf_counter

import pytest

from benchmarks import client, runner
from benchmarks.export import genai_bench
from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync
from benchmarks.prompts import PromptBuilder
from benchmarks.report import (
    level_label,
    literal_console,
    print_workload,
    results_table,
)
from benchmarks.workloads.trace import (
    MOONCAKE_BLOCK_TOKENS,
    SharedBlocks,
    Trace,
    TraceEntry,
    load_trace,
)


def cfg(server, **kw):
    return BenchmarkConfig(
        **{"url": server.url, "model": "fast", "warmup": 0, "timeout": 10.0, "engine_metrics": False, **kw}
    )


def native_trace(path, times):
    path.write_text("".join(json.dumps({"timestamp": t, "input_tokens": 8, "output_tokens": 2}) + "\n" for t in times))
    return str(path)


def mooncake_trace(path, rows):
    path.write_text(
        "".join(
            json.dumps({"timestamp": t, "input_length": n, "output_length": 2, "hash_ids": ids}) + "\n"
            for t, n, ids in rows
        )
    )
    return str(path)


# ---------------------------------------------------------------- send stamp


def test_every_request_gets_its_socket_send_stamp_when_the_answer_is_in_before_post_returns(server):
    """The "oneshot" answer arrives whole in one read, so aiohttp releases the connection before
    ``session.post`` returns; the stamp used to be read from ``resp.connection`` (None then) and the
    request kept the time taken before aiohttp sent anything (16 of 160 requests got a true stamp)."""
    lv = run_benchmark_sync(cfg(server, model="oneshot", scenario="D(8,4)", concurrency=(1, 4), max_requests=40)).levels
    for level in lv:
        assert level.completed == 40
        assert [r.start_stamped for r in level.records] == [True] * 40
        assert level.send_stamp_fallbacks == 0 and not any("send stamp" in w for w in level.warnings)
        assert {r.to_dict(level.t0)["start_stamp"] for r in level.records} == {"socket"}


def test_a_request_without_a_socket_send_stamp_is_marked_and_counted(server, monkeypatch):
    """With the stamping off (``BENCHMARKS_STAMP=resume``, timing_accuracy's "before"), every request is
    on the fallback: marked in its record and counted, with a warning, in its level."""
    monkeypatch.setattr(client, "STAMP_AT_READ", False)
    level = run_benchmark_sync(cfg(server, scenario="D(8,4)", concurrency=(2,), max_requests=6)).levels[0]
    assert level.completed == 6 and level.send_stamp_fallbacks == 6
    assert {r.to_dict(level.t0)["start_stamp"] for r in level.records} == {"fallback"}
    assert any(w.startswith("6 of 6 sent requests have no socket send stamp") for w in level.warnings)


# ---------------------------------------------------------------- idle gaps


def test_a_48_s_gap_is_slept_in_slices_that_end_on_time(monkeypatch):
    """One sleep of 48 s ended 48 ms late: Linux lets a timed wait run 0.1 % over (torvalds/linux
    fs/select.c ``__estimate_accuracy``).  ``sleep_until`` sleeps to a margin before the deadline and
    again on what is left.  The fake clock runs every sleep 0.1 % long, plus 0.1 ms per wake-up."""
    clock = [0.0]
    sleeps: list[float] = []

    async def late_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds * 1.001 + 0.0001

    monkeypatch.setattr(runner, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(runner.asyncio, "sleep", late_sleep)
    coro = runner.sleep_until(48.0)
    with pytest.raises(StopIteration):
        while True:
            coro.send(None)
    assert sleeps[0] == pytest.approx(48.0 - 0.1 - 0.0015)  # the kernel's slack is at most 100 ms
    assert 48.0 <= clock[0] < 48.0003
    assert 3 <= len(sleeps) <= 30


def test_a_deadline_already_passed_returns_without_yielding(monkeypatch):
    monkeypatch.setattr(runner.asyncio, "sleep", None)  # would raise if called
    coro = runner.sleep_until(perf_counter() - 1)
    with pytest.raises(StopIteration):
        coro.send(None)


# ---------------------------------------------------------------- garbage collector


class GcWatch:
    """A progress sink that notes, at every finished request, whether the collector could run."""

    def __init__(self) -> None:
        self.enabled: list[bool] = []

    def start_level(self, label: str, total: int) -> None:
        self.label, self.total = label, total

    def advance(self) -> None:
        self.enabled.append(gc.isenabled())

    def end_level(self) -> None:
        pass


def test_no_collection_inside_a_level_and_one_between_levels(server, tmp_path):
    """A full collection at the end-of-level gather delayed the last request 29-69 ms and became the max lag."""
    watch = GcWatch()
    run_benchmark_sync(cfg(server, trace=native_trace(tmp_path / "t.jsonl", [0, 0.01, 0.02, 0.03])), progress=watch)
    assert watch.enabled == [False] * 4
    assert gc.isenabled() and gc.get_freeze_count() == 0


# ---------------------------------------------------------------- whole trace by default


def test_a_trace_longer_than_200_lines_is_replayed_whole_by_default(server, tmp_path):
    """A 1,445-line trace sent 200 requests, exited 0 and said nothing."""
    path = native_trace(tmp_path / "t.jsonl", [i / 1000 for i in range(250)])
    watch = GcWatch()
    result = run_benchmark_sync(cfg(server, trace=path), progress=watch)
    assert len(result.levels[0].records) == 250 and result.levels[0].completed == 250
    assert watch.total == 250 and result.warnings == []
    assert result.levels[0].workload["trace"] == {
        "file": "t.jsonl",
        "format": "native",
        "speed": 1.0,
        "requests": 250,
        "sent": 250,
        "span_s": 0.249,
    }


def test_a_cap_on_a_trace_is_announced(server, tmp_path):
    path = native_trace(tmp_path / "t.jsonl", [i / 1000 for i in range(250)])
    watch = GcWatch()
    result = run_benchmark_sync(cfg(server, trace=path, max_requests=100), progress=watch)
    assert len(result.levels[0].records) == 100
    assert result.warnings == [
        (
            "trace t.jsonl x1: replaying 100 of its 250 requests, capped by max_requests=100; "
            "leave them unset to replay the whole trace"
        )
    ]
    assert watch.label == "t.jsonl x1 (capped: 100 of 250)" and watch.total == 100
    result = run_benchmark_sync(cfg(server, trace=path, max_seconds=0.0995))
    assert len(result.levels[0].records) == 100
    assert result.warnings == [
        (
            "trace t.jsonl x1: replaying 100 of its 250 requests, capped by max_seconds=0.0995 (the replay spans 0.2 s); "
            "leave them unset to replay the whole trace"
        )
    ]


def test_without_a_trace_the_defaults_stay_200_requests_and_60_s():
    c = BenchmarkConfig(url="http://127.0.0.1:9", model="m", concurrency=(1,))
    assert (c.level_requests(), c.level_seconds()) == (200, 60.0)
    t = BenchmarkConfig(url="http://127.0.0.1:9", model="m", trace="t.jsonl")
    assert t.level_seconds() == float("inf")


# ---------------------------------------------------------------- labels


def test_trace_levels_are_labelled_by_trace_and_speed_in_the_table_and_exports(server, tmp_path):
    """The table said D(100,100) (the unused scenario) and the genai-bench export wrote the speed-up as
    num_concurrency.  genai-bench's num_concurrency is "Number of concurrency (or QPS for open-loop
    mode)" (sgl-project/genai-bench@025cf1c genai_bench/metrics/metrics.py ``AggregatedMetrics``): a
    replay is open loop, so it gets the trace's mean arrival rate."""
    path = native_trace(tmp_path / "azure_code.jsonl", [0, 0.02, 0.04, 0.06, 0.08, 0.1])
    result = run_benchmark_sync(cfg(server, trace=path, trace_speed=2.0))
    lv = result.levels[0]
    assert level_label(lv) == "azure_code.jsonl x2"
    console = literal_console(width=200, record=True)
    console.print(results_table(result))
    text = console.export_text()
    assert "trace azure_code.jsonl (native)" in text and "D(100,100)" not in text and "azure_code.jsonl x2" in text
    agg = genai_bench(result, lv)["aggregated_metrics"]
    assert agg["scenario"] == "trace(azure_code.jsonl, x2)"
    assert agg["num_concurrency"] == pytest.approx(100.0) and agg["arrival_requests_per_second"] == pytest.approx(
        100.0
    )  # 5 gaps in 0.05 s
    assert agg["total_arrivals"] == 6


# ---------------------------------------------------------------- shared blocks: per-run text, reachable hits


def test_shared_blocks_are_ids_used_more_than_once():
    shared = SharedBlocks(array("i", [0, 1, 2, 0, 1, 3, 9, 9]))
    assert [h in shared for h in range(11)] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
    ]
    assert shared.max_id == 9


def test_reachable_prefix_counts_only_blocks_this_run_sent_before():
    """ "Shared prefix %" counted first uses too (33.5 % where a cold server could hit 20.7 %)."""
    entries = [
        TraceEntry(0, 1200, 4, hash_ids=(0, 1, 2)),
        TraceEntry(0, 1200, 4, hash_ids=(0, 1, 3)),
        TraceEntry(0, 1200, 4, hash_ids=(0, 4, 5)),
        TraceEntry(0, 40, 4, hash_ids=(9,)),
    ]
    trace = Trace(entries, 1.0, PromptBuilder(1), 256, "X-Session-Id", seed=1)
    requests = [next(trace.unit(k, random.Random(k), random.Random())) for k in range(4)]
    assert [r.shared_tokens for r in requests] == [1024, 1024, 512, 0]
    assert [r.reachable_tokens for r in requests] == [0, 1024, 512, 0]
    assert MOONCAKE_BLOCK_TOKENS == 512


def test_block_texts_are_new_each_run_unless_the_run_shares_them(server, tmp_path):
    path = mooncake_trace(tmp_path / "m.jsonl", [(0, 1100, [0, 1, 2]), (5, 1100, [0, 1, 3])])

    def system_texts(**kw):
        server.clear()
        result = run_benchmark_sync(cfg(server, trace=path, trace_format="mooncake", **kw))
        assert result.levels[0].workload["reachable_prefix_fraction"] > 0
        return {b["messages"][0]["content"] for b in server.bodies}, result.levels[0].workload["prefix_seed"]

    first, seed = system_texts()
    again, _ = system_texts()
    assert len(first) == 1 and first.isdisjoint(again)
    assert system_texts(prefix_seed=seed)[0] == first


def test_the_report_names_both_prefix_measures():
    class Lv:
        mode, value, workload = (
            "trace",
            1.0,
            {
                "shared_prefix_fraction": 0.335,
                "reachable_prefix_fraction": 0.207,
                "trace": {"file": "conversation_trace.jsonl", "speed": 1.0},
            },
        )

    console = literal_console(width=200, record=True)
    print_workload(Lv(), console)
    assert console.export_text().strip() == (
        "shared prefix (conversation_trace.jsonl x1): 33.5% of input tokens (first uses included); "
        "reachable prefix hits: 20.7% (sent earlier in this run)"
    )


# ---------------------------------------------------------------- parsing


def test_a_trace_is_parsed_into_columns(tmp_path):
    path = mooncake_trace(tmp_path / "m.jsonl", [(1000, 600, [7, 8]), (1500, 40, [7]), (1500, 9, [])])
    table = load_trace(path, "mooncake", 1)
    assert (list(table.at), list(table.input_tokens), list(table.output_tokens)) == (
        [0.0, 0.5, 0.5],
        [600, 40, 9],
        [2, 2, 2],
    )
    assert (list(table.hash_ids), list(table.hash_start)) == ([7, 8, 7], [0, 2, 3, 3])
    assert table.groups is None and table.sessions is None  # columns a trace does not use take no memory


# ---------------------------------------------------------------- bursts


def test_a_bursts_prompts_are_built_before_its_first_request_is_sent(server, tmp_path, monkeypatch):
    """Mooncake's conversation trace packs ~9 requests into one millisecond; prompts built one after
    another at send time made the 16th of a burst 25 ms late."""
    built: dict[int, float] = {}
    original = Trace.unit

    def unit(self, number, rng, nonces):
        built[number] = perf_counter()
        yield from original(self, number, rng, nonces)

    monkeypatch.setattr(Trace, "unit", unit)
    path = mooncake_trace(tmp_path / "m.jsonl", [(0, 900, [0, 1])] + [(100, 900 + k, [0, 1]) for k in range(10)])
    level = run_benchmark_sync(cfg(server, trace=path, trace_format="mooncake")).levels[0]
    burst = [r for r in level.records if r.index >= 1]
    assert len(burst) == 10 and all(r.ok for r in burst)
    assert max(built[r.index] for r in burst) < min(r.start for r in burst)


def test_a_request_waits_at_its_gate_with_no_byte_sent(server):
    """The requests of a burst start ahead, connected and with their headers buffered; the body, and so
    every byte, waits for the gate (aiohttp writes it through the payload's ``write_with_length``)."""
    body = b'{"model": "fast", "messages": [{"role": "user", "content": "a b c"}], "stream": true, "max_tokens": 2}'

    async def go():
        gate = client.Gate()
        record = client.RequestRecord(0, 3, 2)
        async with client.make_session() as session:
            target = client.Target(server.url + "/v1/chat/completions", {"Content-Type": "application/json"}, 10.0)
            task = asyncio.ensure_future(client.send(session, target, record, body, gate))
            await asyncio.sleep(0.3)
            held = len(server.bodies)
            gate.open()
            await task
        return held, gate, record

    server.clear()
    held, gate, record = asyncio.run(go())
    assert held == 0 and len(server.bodies) == 1
    assert record.ok and record.start_stamped and record.start >= gate.opened_at


def test_a_request_after_an_idle_gap_longer_than_its_timeout_is_not_started_early(server, tmp_path):
    """Started at its build time, the request after a gap would wait at its gate past its own timeout."""
    level = run_benchmark_sync(cfg(server, trace=native_trace(tmp_path / "t.jsonl", [0, 1.5]), timeout=1.0)).levels[0]
    assert [r.ok for r in sorted(level.records, key=lambda r: r.index)] == [True, True]
