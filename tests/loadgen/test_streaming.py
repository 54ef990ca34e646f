"""End-to-end against the scripted loopback server: timing accuracy, token counts, payloads."""

import asyncio

import aiohttp
import pytest

from benchmarks.client import SendStamp, StampingHandler, make_session
from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync
from tests.loadgen.scripted_server import PROMPT_TOKENS

# No durations are asserted here (a loaded machine stretches them): the server stamps its writes
# on the client's clock, and tests check the order of events.  How close the measured latencies
# are to the server's is measured side by side by benchmarks/experiments/pool_latency.py.


def run(server, model, **kw):
    kw.setdefault("concurrency", (1,))
    kw.setdefault("max_requests", 1)
    kw.setdefault("warmup", 0)
    kw.setdefault("timeout", 10.0)
    return run_benchmark_sync(BenchmarkConfig(url=server.url, model=model, **kw))


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_ttft_is_stamped_on_the_first_text_chunk(server, endpoint):
    n = 6
    server.stamps.clear()
    res = run(server, "scripts/timed", endpoint=endpoint, scenario=f"D(40,{n})", max_requests=3)
    lv = res.levels[0]
    assert lv.completed == 3 and lv.failed == 0
    stamps = {event: [t for e, t in server.stamps if e == event] for event in ("empty-delta", "first-text", "done")}
    for i, r in enumerate(sorted(lv.records, key=lambda r: r.start)):  # concurrency 1: one after another
        # the role prelude, the keep-alive and the empty delta come first and are not text: the
        # stamp is taken no earlier than the server's write of the first text chunk
        first_text = r.start + r.ttft
        assert stamps["empty-delta"][i] < stamps["first-text"][i] <= first_text
        assert stamps["done"][i] <= r.start + r.e2e
        assert len(r.itl) == n - 1 and r.chunks == n and not r.multi_token_chunks
        assert r.input_tokens == PROMPT_TOKENS and r.output_tokens == n and r.usage_from_server
    assert lv.output_throughput == pytest.approx(3 * n / lv.duration_s)


def test_request_body_and_served_name(server):
    server.bodies.clear()
    run(server, "org/echo", scenario="D(30,7)", max_requests=3)
    bodies = server.bodies
    assert len(bodies) == 3
    b = bodies[0]
    assert b["model"] == "echo"  # G5: last path segment of the model id
    assert b["stream"] is True and b["stream_options"] == {"include_usage": True}
    assert b["max_tokens"] == 7 and b["min_tokens"] == 7 and b["ignore_eos"] is True
    prompts = [x["messages"][0]["content"] for x in bodies]
    assert all(len(p.split()) == 30 for p in prompts)
    assert len({tuple(p.split()[:6]) for p in prompts}) == 3  # a fresh nonce per request


def test_ignore_eos_off_and_raw_name(server):
    server.bodies.clear()
    run(server, "echo", scenario="D(10,3)", ignore_eos=False, raw_model_name=True, endpoint="completions")
    b = server.bodies[0]
    assert "ignore_eos" not in b and "min_tokens" not in b
    assert b["model"] == "echo" and isinstance(b["prompt"], str)


def test_reasoning_content_counts_as_first_token(server):
    lv = run(server, "reasoning", scenario="D(10,5)").levels[0]
    r = lv.records[0]
    assert r.ok and r.chunks == 5 and r.output_tokens == 5


def test_usage_fallback(server):
    lv = run(server, "no-usage", scenario="D(25,5)", max_requests=2).levels[0]
    r = lv.records[0]
    assert r.ok and not r.usage_from_server
    assert r.output_tokens == 5 and r.input_tokens == 25  # chunks; requested length
    assert any("no usage" in w for w in lv.warnings)


def test_multi_token_chunks_warn(server):
    lv = run(server, "multi", scenario="D(10,4)", max_requests=2).levels[0]
    r = lv.records[0]
    assert r.ok and r.chunks == 4 and r.output_tokens == 12 and r.multi_token_chunks
    assert any("several tokens" in w for w in lv.warnings)
    # TPOT divides by tokens, not chunks
    assert r.tpot == pytest.approx((r.e2e - r.ttft) / 11)


def test_long_context_prompt(server):
    lv = run(server, "fast", scenario="D(50000,2)", max_requests=2).levels[0]
    assert lv.completed == 2
    # the server counts whitespace-separated words of the JSON-encoded messages
    assert all(abs(r.input_tokens - 50000) <= 5 for r in lv.records)


def test_high_concurrency_not_throttled_by_pool(server):
    # aiohttp's default pool would cap this at 100 connections.  "hold-512" holds every request
    # until 512 are in flight at once, so the server's peak counts the client's parallelism.
    server.peak = 0
    lv = run(server, "hold-512", scenario="D(5,2)", concurrency=(512,), max_requests=512, timeout=60).levels[0]
    assert lv.completed == 512
    assert server.peak == 512


def test_seeded_runs_repeat_lengths_but_not_nonces(server):
    prompts = []
    for _ in range(2):
        server.bodies.clear()
        run(server, "echo", scenario="U(10,60)/(2,4)", max_requests=4, seed=5)
        prompts.append([b["messages"][0]["content"] for b in server.bodies])
    lengths = [sorted(len(p.split()) for p in run_) for run_ in prompts]
    assert lengths[0] == lengths[1]  # same seed, same lengths
    first = {tuple(p.split()[:6]) for p in prompts[0]}
    assert not first & {tuple(p.split()[:6]) for p in prompts[1]}  # prefix cache cannot reuse them


def test_socket_stamps_use_aiohttps_private_connector_factory(server):
    """aio-libs/aiohttp@v3.14.3 (and the pinned 3.14.5) ``aiohttp/connector.py``: ``BaseConnector.__init__`` sets
    ``self._factory = functools.partial(ResponseHandler, loop=loop)`` and every connection is built with it. The
    session's connections must be ``StampingHandler``s that stamp the socket write and the reads; the request's
    own ``SendStamp`` (its ``trace_request_ctx``) gets the write's time and the protocol that carried it."""
    body = b'{"model": "echo", "messages": [{"role": "user", "content": "a b c"}], "stream": true, "max_tokens": 3}'
    stamp = SendStamp()

    async def go():
        async with make_session() as session:
            async with session.post(
                server.url + "/v1/chat/completions",
                data=body,
                headers={"Content-Type": "application/json"},
                trace_request_ctx=stamp,
            ) as resp:
                proto = resp.connection.protocol
                await resp.read()
                return proto

    proto = asyncio.run(go())
    assert isinstance(proto, StampingHandler) and stamp.proto is proto
    assert stamp.sent_at is not None and proto.last_read > stamp.sent_at


def test_an_aiohttp_without_the_connector_factory_stops_the_run_not_the_stamps(monkeypatch):
    """If a release renames ``_factory``, setting it would be silently ignored and every latency would be
    stamped in the coroutine again; ``make_session`` refuses instead, naming the attribute and the fix."""

    class Renamed(aiohttp.TCPConnector):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            del self._factory

    monkeypatch.setattr(aiohttp, "TCPConnector", Renamed)

    async def go():
        make_session()

    with pytest.raises(RuntimeError) as e:
        asyncio.run(go())
    assert f"aiohttp {aiohttp.__version__}: Renamed._factory is None, not a partial of ResponseHandler" in str(e.value)
    assert "BENCHMARKS_STAMP=resume" in str(e.value)
