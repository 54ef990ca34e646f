"""Workload shapes against the recording loopback server: what was sent, and when.

The server records every body, header and arrival; the "reply" script streams deterministic
text (`` r<k>w<i>``), so a test can check that a session resends exactly what it received.
Timing: trace replay is checked against a generous 50 ms bound on at most 30 requests.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from benchmarks.loadgen import BenchmarkConfig, ConfigError, run_benchmark_sync
from benchmarks.workloads import samples


def cfg(server, **kw):
    base = dict(url=server.url, model="reply", scenario="D(10,4)", warmup=0, timeout=10.0)
    base.update(kw)
    return BenchmarkConfig(**base)


def _messages(server):
    return [b["messages"] for b in server.bodies]


def test_shared_prefix_sends_exactly_G_distinct_prefixes_of_N_tokens_with_unique_suffixes(server):
    server.clear()
    lv = run_benchmark_sync(
        cfg(server, concurrency=(4,), max_requests=24, prefix_tokens=40, prefix_groups=3, seed=7)
    ).levels[0]
    assert lv.completed == 24
    sent = _messages(server)
    assert all([m["role"] for m in msgs] == ["system", "user"] for msgs in sent)
    prefixes = {msgs[0]["content"] for msgs in sent}
    assert len(prefixes) == 3
    assert all(len(p.split()) == 40 for p in prefixes)
    suffixes = [msgs[1]["content"] for msgs in sent]
    assert len(set(suffixes)) == 24 and all(len(s.split()) == 10 for s in suffixes)
    # the server counts 50 words per request, 40 of them shared; each group's first use is not reachable:
    # 21 of 24 requests can hit 40 words, 840 of 1200
    seed = lv.workload.pop("prefix_seed")
    assert isinstance(seed, int)
    assert lv.workload == {
        "shape": "shared-prefix",
        "shared_prefix_fraction": pytest.approx(0.8),
        "reachable_prefix_fraction": pytest.approx(0.7),
    }


def test_shared_prefix_texts_are_new_each_run_unless_the_run_shares_them(server):
    """Unseeded texts were the same in every run, so a server warm from an earlier run hit prefixes a cold
    one misses. Now each run draws its own prefix_seed (reported per level); giving one shares the texts."""

    def prefixes(**kw):
        server.clear()
        result = run_benchmark_sync(
            cfg(server, concurrency=(2,), max_requests=12, prefix_tokens=20, prefix_groups=2, **kw)
        )
        return {msgs[0]["content"] for msgs in _messages(server)}, result.levels[0].workload["prefix_seed"]

    first, seed = prefixes(seed=1)
    again, _ = prefixes(seed=1)
    assert len(first) == 2 and first.isdisjoint(again)
    assert prefixes(seed=3, prefix_seed=seed)[0] == first
    assert prefixes(prefix_seed=5) == prefixes(prefix_seed=5)
    assert prefixes(prefix_seed=5)[0].isdisjoint(prefixes(prefix_seed=6)[0])


def test_sessions_grow_by_the_servers_actual_replies(server):
    server.clear()
    # One worker: with two, a worker that ends its session first starts the next one, and which sessions
    # max_requests cuts short depends on scheduling (seen as [1, 2, 3, 3, 3] on a loaded machine).
    lv = run_benchmark_sync(
        cfg(server, concurrency=(1,), max_requests=12, turns=3, session_header="X-Conversation", seed=3)
    ).levels[0]
    assert lv.completed == 12
    by_session = defaultdict(list)
    for number, headers in enumerate(server.headers):
        by_session[headers["X-Conversation"]].append(number)
    assert sorted(len(v) for v in by_session.values()) == [3, 3, 3, 3]
    for numbers in by_session.values():
        first, *later = numbers
        assert [m["role"] for m in server.bodies[first]["messages"]] == ["user"]
        for prev, number in zip(numbers, later):
            before, now = server.bodies[prev]["messages"], server.bodies[number]["messages"]
            assert now[: len(before)] == before
            assert now[len(before)] == {"role": "assistant", "content": server.replies[prev]}
            assert now[len(before) + 1]["role"] == "user" and len(now) == len(before) + 2
    # context per turn: 10 words, then + 4 reply words + 10 new words each turn
    turns = lv.workload["turns"]
    assert [(t["turn"], t["completed"], t["context_tokens_max"]) for t in turns] == [(1, 4, 10), (2, 4, 24), (3, 4, 38)]
    assert all(t["ttft"]["p50"] is not None for t in turns)


def test_session_turns_count_against_max_requests(server):
    server.clear()
    lv = run_benchmark_sync(cfg(server, concurrency=(1,), max_requests=5, turns=2)).levels[0]
    assert len(lv.records) == 5 and len(server.bodies) == 5
    assert [r.turn for r in sorted(lv.records, key=lambda r: r.index)] == [1, 2, 1, 2, 1]


@pytest.mark.parametrize("writer", [samples.write_sharegpt, samples.write_openai_chat])
def test_dataset_file_is_replayed_as_given(server, tmp_path, writer):
    path = writer(tmp_path / "data", count=6, seed=5)
    text = path.read_text()
    if text.startswith("["):
        who = {"human": "user", "gpt": "assistant", "system": "system"}
        convs = [
            [{"role": who[t["from"]], "content": t["value"]} for t in item["conversations"]]
            for item in json.loads(text)
        ]
    else:
        convs = [json.loads(line)["messages"] for line in text.splitlines()]
    expected = [c[:-1] if c[-1]["role"] == "assistant" else c for c in convs]  # the reference reply is not sent
    server.clear()
    lv = run_benchmark_sync(cfg(server, concurrency=(1,), max_requests=6, dataset=str(path))).levels[0]
    assert lv.completed == 6 and lv.workload["shape"] == "dataset"
    assert _messages(server) == expected


def test_dataset_sampled_order_follows_the_seed(server, tmp_path):
    path = samples.write_openai_chat(tmp_path / "chat.jsonl", count=8)

    def order(seed):
        server.clear()
        run_benchmark_sync(
            cfg(server, concurrency=(1,), max_requests=8, dataset=str(path), dataset_order="random", seed=seed)
        )
        return [json.dumps(m) for m in _messages(server)]

    assert order(4) == order(4)
    assert len(set(order(4))) < 8 or order(4) != order(5)  # sampled with replacement, seeded


def test_dataset_over_the_size_cap_is_a_named_error(tmp_path):
    path = samples.write_sharegpt(tmp_path / "big.json", count=50)
    with pytest.raises(ConfigError) as e:
        BenchmarkConfig(
            url="http://127.0.0.1:9", model="m", concurrency=(1,), dataset=str(path), max_file_mb=0.001
        ).validate()
    assert (
        e.value.field == "dataset"
        and "19751 bytes is over the 1048-byte limit for a dataset file" in e.value.fix
        and "--max-file-mb" in e.value.fix
    )


def test_trace_replay_keeps_arrivals_on_their_timestamps(server, tmp_path):
    path = samples.write_native_trace(tmp_path / "t.jsonl", count=30, gap_s=0.02, groups=2)
    stamps = [json.loads(line)["timestamp"] for line in path.read_text().splitlines()]
    server.clear()
    lv = run_benchmark_sync(cfg(server, model="fast", trace=str(path), max_requests=30, prefix_tokens=5)).levels[0]
    assert lv.mode == "trace" and lv.completed == 30
    records = sorted(lv.records, key=lambda r: r.index)
    assert [r.scheduled - lv.t0 for r in records] == pytest.approx(stamps, abs=1e-6)
    lag = lv.workload["arrival_lag"]
    assert lag["count"] == 30 and 0 <= lag["min"] and lag["max"] < 0.05
    arrived = sorted(server.arrivals)
    assert [a - arrived[0] for a in arrived] == pytest.approx(stamps, abs=0.05)
    # prefix groups share a system prompt; session ids go in the session header
    prefixes = {b["messages"][0]["content"] for b in server.bodies}
    assert len(prefixes) == 2 and all(len(p.split()) == 5 for p in prefixes)
    assert {h["X-Session-Id"] for h in server.headers} == {"s0", "s1", "s2"}


def test_trace_speed_divides_the_timestamps(server, tmp_path):
    path = samples.write_native_trace(tmp_path / "t.jsonl", count=6, gap_s=0.04)
    lv = run_benchmark_sync(cfg(server, model="fast", trace=str(path), trace_speed=2.0)).levels[0]
    records = sorted(lv.records, key=lambda r: r.index)
    assert [r.scheduled - lv.t0 for r in records] == pytest.approx([0, 0.02, 0.04, 0.06, 0.08, 0.1], abs=1e-6)
    assert lv.value == 2.0


def test_trace_warmup_reuses_the_first_lines_when_the_trace_is_shorter(server, tmp_path):
    path = samples.write_native_trace(tmp_path / "t.jsonl", count=2, gap_s=0.01)
    result = run_benchmark_sync(cfg(server, model="fast", trace=str(path), warmup=3))
    assert result.warmup["requests"] == 3 and result.warmup["failed"] == 0
    assert result.levels[0].completed == 2


def test_trace_with_max_concurrency_is_refused():
    with pytest.raises(ConfigError) as e:
        BenchmarkConfig(url="http://127.0.0.1:9", model="m", trace="t.jsonl", max_concurrency=4).validate()
    assert e.value.field == "max_concurrency"
