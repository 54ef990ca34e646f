"""The guards of benchmarks/validity.py, each against the fake engine (benchmarks/stream_server.py) switched
to misbehave exactly the way that guard refuses. A refused level is INVALID with its reason, in the
result, in `python -m benchmarks` output and in its JSON; the sweep runs no rate above a saturated one.

Peer failures they prevent (docs/tuning.md, "Invalid levels"): ome-projects/ome#781 (a benchmark job
Completed while every request got 404 for a hardcoded model name), vllm-project/guidellm#460 (prompts
repeated across sweep rounds: 100 % prefix hits), vllm-project/guidellm#242 (sweeps past saturation).
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest

from benchmarks import stream_server, validity
from benchmarks.cli import main
from benchmarks.engine_metrics import restart
from benchmarks.loadgen import BenchmarkConfig, ConfigError, run_benchmark_sync
from benchmarks.send_lag import client_figures


@contextlib.contextmanager
def fake_engine(*misbehave: str, ttft: float = 0.005, itl: float = 0.0, metrics: str = "vllm"):
    proc, url = stream_server.start(ttft, itl, metrics=metrics, misbehave=misbehave)
    try:
        yield url
    finally:
        proc.kill()
        proc.wait(5)


def config(url: str, **kw) -> BenchmarkConfig:
    options = {
        "url": url,
        "model": "Qwen/Qwen3-4B",
        "scenario": "D(16,4)",
        "concurrency": (2,),
        "max_requests": 12,
        "warmup": 1,
        "timeout": 10,
        "max_seconds": 20,
        "seed": 7,
        **kw,
    }
    return BenchmarkConfig(**options)


def guards(level) -> list[str]:
    return [v["guard"] for v in level.invalid]


def test_model_name_responses_from_another_model_make_the_level_invalid_in_output_and_json(tmp_path, capsys):
    # The engine answers as "llama-3-8b" whatever it is asked: a gateway that routes to the wrong backend.
    out = tmp_path / "r.json"
    with fake_engine("--model-name", "llama-3-8b") as url:
        code = main(
            [
                "run",
                "--url",
                url,
                "--model",
                "Qwen/Qwen3-4B",
                "--scenario",
                "D(16,4)",
                "--concurrency",
                "2",
                "--max-requests",
                "6",
                "--warmup",
                "1",
                "--quiet",
                "--out",
                str(out),
                "--export",
                f"genai-bench:{tmp_path / 'gb.json'}",
            ]
        )
    assert code == 0  # measured; the verdict is in the output
    printed = " ".join(capsys.readouterr().out.split())  # the table wraps its cells
    assert "INVALID: model-name" in printed
    assert (
        "INVALID (c2) model-name: 6 of 6 responses named model 'llama-3-8b', not 'Qwen/Qwen3-4B' or 'Qwen3-4B'"
        in printed
    )
    level = json.loads(out.read_text())["levels"][0]
    # model-name first; on a loaded machine client-overload may follow it (a busy CPU is not this test's subject)
    assert [v["guard"] for v in level["invalid"]][0] == "model-name"
    assert {r["model"] for r in level["requests"]} == {"llama-3-8b"}
    exported = json.loads((tmp_path / "gb.json").read_text())
    assert [v["guard"] for v in exported["invalid"]][0] == "model-name" and "aggregated_metrics" in exported


def test_model_name_the_served_name_asked_for_is_valid():
    with fake_engine() as url:  # echoes the name each request asks for: "Qwen3-4B"
        result = run_benchmark_sync(config(url))
    (level,) = result.levels
    assert "model-name" not in guards(level)
    assert {r.model for r in level.records} == {"Qwen3-4B"}


def test_error_rate_over_max_error_rate_is_invalid_and_the_limit_is_configurable():
    # Every 2nd request is an HTTP 500: about half fail, over the default 5 %.
    with fake_engine("--fail-every", "2") as url:
        strict = run_benchmark_sync(config(url, warmup=0))
        lenient = run_benchmark_sync(config(url, warmup=0, max_error_rate=0.6))
    (level,) = strict.levels
    assert level.failed == 6 and "error-rate" in guards(level)
    reason = next(v["reason"] for v in level.invalid if v["guard"] == "error-rate")
    assert reason.startswith(
        "error rate 50.0% is over the limit of 5.0% (6 of 12 failed; most frequent: HTTP 500: engine overloaded 500"
    )
    assert "error-rate" not in guards(lenient.levels[0])


def test_saturated_a_rate_the_server_cannot_keep_up_with_is_reported_as_saturated_and_higher_rates_are_skipped(
    tmp_path, capsys
):
    # One request at a time, 40 ms each: about 25 req/s at most. 10 req/s keeps up; 100 req/s cannot, and
    # 200 req/s is never sent (a sweep past saturation only queues more).
    out = tmp_path / "r.json"
    with fake_engine("--max-running", "1", ttft=0.02, itl=0.005) as url:
        code = main(
            [
                "run",
                "--url",
                url,
                "--model",
                "Qwen/Qwen3-4B",
                "--scenario",
                "D(16,4)",
                "--request-rate",
                "10,100,200",
                "--max-requests",
                "30",
                "--warmup",
                "1",
                "--seed",
                "3",
                "--quiet",
                "--out",
                str(out),
            ]
        )
    assert code == 0
    doc = json.loads(out.read_text())
    low, high = doc["levels"]
    assert "saturated" not in [v["guard"] for v in low["invalid"]] and low["saturated_at"] is None
    assert "saturated" in [v["guard"] for v in high["invalid"]]
    assert 10 < high["saturated_at"] < 30
    assert doc["skipped_levels"] == [
        {
            "mode": "request_rate",
            "value": 200.0,
            "reason": f"not run: above 100, which was saturated at {high['saturated_at']:.3g} req/s",
        }
    ]
    printed = " ".join(capsys.readouterr().out.split())  # the table wraps its cells
    assert f"INVALID (rate 100) saturated: saturated at {high['saturated_at']:.3g} req/s" in printed
    assert "SKIPPED (rate 200): not run: above 100" in printed


def test_saturated_needs_an_open_loop_and_enough_requests():
    with fake_engine("--max-running", "1", ttft=0.02) as url:
        closed = run_benchmark_sync(config(url, concurrency=(8,), max_requests=24))
        few = run_benchmark_sync(config(url, concurrency=(), request_rates=(500.0,), max_requests=19))
    assert validity.rates(closed.levels[0]) is None  # a closed loop offers no rate to fall behind
    assert validity.rates(few.levels[0]) is None  # 19 successes: fewer than MIN_RATE_REQUESTS
    assert "saturated" not in guards(closed.levels[0]) + guards(few.levels[0])


class SlowClient:
    """A progress display that burns 80 ms of the load generator's thread after every request: the
    client, not the server, is the bottleneck."""

    def start_level(self, label: str, total: int) -> None:
        pass

    def advance(self) -> None:
        end = time.thread_time() + 0.08
        while time.thread_time() < end:
            pass

    def end_level(self) -> None:
        pass


def test_client_overload_a_busy_load_generator_reports_its_send_lag():
    with fake_engine() as url:
        slow = run_benchmark_sync(
            config(url, concurrency=(4,), max_requests=16, max_send_lag=0.05), progress=SlowClient()
        )
    (level,) = slow.levels
    assert level.client["send_lag"]["p99"] > 0.08  # at least one blocked stretch
    reason = next(v["reason"] for v in level.invalid if v["guard"] == "client-overload")
    assert reason.startswith("the load generator could not keep up: send lag p99 ") and "ms is over 50 ms" in reason


class Level:
    """Only what client_overload reads: the figures a level recorded of its own client."""

    def __init__(self, lag_p99: float, cpu_fraction: float) -> None:
        self.client = {"send_lag": {"p99": lag_p99}, "cpu_fraction": cpu_fraction}


def test_client_overload_a_thread_busy_past_the_limit():
    # The CPU share is measured on the loop's own thread (time.thread_time): on a machine shared with other
    # work the thread waits for a core, so a loopback run cannot pin it above 90 %; these are figures a
    # dedicated client recorded.
    assert validity.client_overload(Level(0.004, 0.97), 0.05, 0.9) == (
        "the load generator could not keep up: its thread was busy 97% of the level (limit 90%): "
        "lower the load per client, or spread it over more load-generator processes"
    )
    assert validity.client_overload(Level(0.004, 0.6), 0.05, 0.9) is None


def test_client_overload_an_idle_client_is_not_busy():
    # One request at a time against a 50 ms TTFT: the client's thread mostly waits.
    with fake_engine(ttft=0.05) as url:
        result = run_benchmark_sync(config(url, concurrency=(1,), max_requests=8))
    (level,) = result.levels
    # Measured: the share is a fraction of the level's wall time and the loop's timer ticked through the level.
    # How busy the thread was depends on the machine's load, so the verdict is judged on literal figures.
    assert 0 <= level.client["cpu_fraction"] <= 1 and level.client["send_lag"]["count"] > 10
    idle = client_figures({"count": 40, "p99": 0.002}, cpu_s=0.25, wall_s=1.0)
    assert idle["cpu_fraction"] == 0.25
    assert validity.client_overload(type("Level", (), {"client": idle})(), max_send_lag=0.05, max_cpu=0.9) is None


def test_prefix_reuse_hits_beyond_the_declared_sharing_make_the_level_invalid():
    # The engine reports every prompt token as a prefix-cache hit, as if the prompts had been sent before.
    with fake_engine("--inflate-hits") as url:
        result = run_benchmark_sync(config(url, scenario="D(256,4)"))
    (level,) = result.levels
    assert level.engine_metrics["prefix_hit_rate"] == 1.0
    reason = next(v["reason"] for v in level.invalid if v["guard"] == "prefix-reuse")
    assert reason.startswith("the engine's prefix cache hit 100% of prompt tokens")
    assert "prompts were reused or other traffic shared the engine" in reason


def test_prefix_reuse_a_declared_shared_prefix_is_no_reuse():
    # 96 tokens of shared system prompt: the fake engine hits them on every request after the first.
    with fake_engine() as url:
        result = run_benchmark_sync(config(url, prefix_tokens=96))
    (level,) = result.levels
    assert level.engine_metrics["prefix_cache_hits"] > 96 * 6
    assert "prefix-reuse" not in guards(level)


def test_engine_restart_a_new_process_start_time_makes_the_level_invalid():
    # vLLM's page carries process_start_time_seconds; the engine "restarts" after 5 requests (1 warm-up).
    with fake_engine("--restart-after", "5") as url:
        result = run_benchmark_sync(config(url, concurrency=(1,), max_requests=10))
    (level,) = result.levels
    reason = next(v["reason"] for v in level.invalid if v["guard"] == "engine-restart")
    assert reason.startswith("the engine restarted during the level: its process_start_time_seconds went from ")


def test_engine_restart_counters_that_go_back_show_it_without_a_start_time():
    # SGLang's page has no process start time. Level 1 (10 requests after 1 warm-up) runs whole; the
    # engine restarts after request 19, so level 2 ends with counters below where it started.
    with fake_engine("--restart-after", "19", metrics="sglang") as url:
        result = run_benchmark_sync(config(url, concurrency=(1, 1), max_requests=10))
    first, second = result.levels
    assert "engine-restart" not in guards(first)
    reason = next(v["reason"] for v in second.invalid if v["guard"] == "engine-restart")
    assert reason.startswith("the engine restarted during the level: its counter prefix_cache_queries went back from ")


def test_engine_restart_read_from_scrapes_between_the_first_and_the_last():
    # A restart early in a level can leave the last scrape above the first; the scrape in between shows it.
    assert restart(
        [{"prefix_cache_queries": 500.0}, {"prefix_cache_queries": 20.0}, {"prefix_cache_queries": 900.0}]
    ) == ("the engine restarted during the level: its counter prefix_cache_queries went back from 500 to 20")
    assert restart([{"prefix_cache_queries": 500.0}, {"prefix_cache_queries": 900.0}]) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_error_rate", 1.5), ("saturation_tolerance", -0.1), ("max_client_cpu", 2.0), ("max_send_lag", 0.0)],
)
def test_guard_thresholds_out_of_range_are_refused_before_any_request(field, value):
    with pytest.raises(ConfigError, match=field):
        config("http://127.0.0.1:1", **{field: value}).validate()


def test_guard_thresholds_out_of_range_on_the_command_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "run",
                "--url",
                "http://127.0.0.1:1",
                "--model",
                "m",
                "--concurrency",
                "1",
                "--saturation-tolerance",
                "1.5",
            ]
        )
    assert exit_.value.code == 2
    assert (
        "--saturation-tolerance: invalid value '1.5': use a fraction from 0 to 1, e.g. 0.1" in capsys.readouterr().err
    )
