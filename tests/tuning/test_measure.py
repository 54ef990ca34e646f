"""Arithmetic of measurements: repeats, SLO choice among loads, capacity search."""

from __future__ import annotations

import threading

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning.measure import Measurer, aggregate, capacity_search, meets_slo


def test_aggregate_over_repeats():
    agg = aggregate(
        [
            {"output_throughput": 100.0, "ttft_p90": 0.5},
            {"output_throughput": 120.0, "ttft_p90": 0.7},
            {"output_throughput": 110.0, "ttft_p90": None},
        ]
    )
    assert agg["output_throughput"]["mean"] == pytest.approx(110.0)
    assert agg["output_throughput"]["stdev"] == pytest.approx(10.0)
    assert (agg["output_throughput"]["min"], agg["output_throughput"]["max"]) == (100.0, 120.0)
    assert agg["ttft_p90"]["values"] == [0.5, 0.7]


def test_meets_slo_on_means():
    agg = aggregate([{"ttft_p90": 0.9}, {"ttft_p90": 1.2}])
    assert not meets_slo(agg, {"ttft_p90": 1.0})
    assert meets_slo(agg, {"ttft_p90": 1.1})
    assert not meets_slo(agg, {"tpot_p90": 1.0})  # a metric that was never measured cannot be met


def make_grid(**extra):
    return grid_mod.GridSpec.model_validate(
        {"name": "g", "base": {}, "parameters": {"x": [1]}, "slo": {"ttft_p90": 1.0}, **extra}
    )


def test_the_best_load_meeting_the_slo_is_chosen():
    measurer = Measurer(make_grid())
    runs = [
        [
            {"load": 4, "output_throughput": 100.0, "ttft_p90": 0.3},
            {"load": 16, "output_throughput": 300.0, "ttft_p90": 0.9},
            {"load": 64, "output_throughput": 500.0, "ttft_p90": 3.0},
        ],
        [
            {"load": 4, "output_throughput": 110.0, "ttft_p90": 0.3},
            {"load": 16, "output_throughput": 320.0, "ttft_p90": 0.95},
            {"load": 64, "output_throughput": 520.0, "ttft_p90": 3.2},
        ],
    ]
    m = measurer._choose(runs)
    assert (m.load, m.meets_slo) == (16, True)
    assert m.metrics["output_throughput"]["mean"] == pytest.approx(310.0)


def test_when_no_load_meets_the_slo_the_best_is_kept_and_flagged():
    m = Measurer(make_grid())._choose(
        [
            [
                {"load": 4, "output_throughput": 100.0, "ttft_p90": 2.0},
                {"load": 8, "output_throughput": 150.0, "ttft_p90": 4.0},
            ]
        ]
    )
    assert (m.load, m.meets_slo) == (8, False)


@pytest.mark.parametrize("limit", [1, 3, 7, 8, 20, 100, 255, 256])
def test_capacity_search_finds_the_largest_concurrency_meeting_the_slo(limit):
    calls = []

    def ok(load):
        calls.append(load)
        return load <= limit

    assert capacity_search(ok, 1, 256, 10, integral=True) == limit
    assert len(calls) <= 20  # bracketing + bisection, not a sweep


def test_capacity_search_when_even_the_first_load_fails():
    assert capacity_search(lambda load: False, 2, 64, 6, integral=True) == 0


def test_capacity_search_continuous_rates_converge():
    assert capacity_search(lambda r: r <= 5.3, 0.5, 64, 12, integral=False) == pytest.approx(5.3, abs=0.01)


def test_engine_metrics_of_a_level_are_recorded_and_aggregated():
    from benchmarks.results import LevelResult
    from stacks.tuning.measure import level_metrics

    level = LevelResult.from_records("concurrency", 4, [], 0.0, {}, 0.0)
    level.engine_metrics = {
        "prefix_hit_rate": 0.25,
        "kv_cache_usage": {"max": 0.6, "mean": 0.3},
        "waiting": {"max": 2.0, "mean": 0.5},
        "preemptions": 1.0,
    }
    m = level_metrics(level, 1)
    assert (m["prefix_hit_rate"], m["kv_cache_usage_max"], m["waiting_max"], m["preemptions"]) == (0.25, 0.6, 2.0, 1.0)
    other = dict(m, prefix_hit_rate=0.75)
    assert aggregate([m, other])["prefix_hit_rate"]["mean"] == 0.5
    level.engine_metrics = None  # no /metrics: nothing recorded, nothing aggregated
    assert "prefix_hit_rate" not in aggregate([level_metrics(level, 1)])


def test_kv_use_max_of_a_trial_is_read_during_the_level_not_only_around_it():
    # The tiny-cpu-prefix-caching grid on vLLM-CPU reported "KV use max % 0.0" for every trial: the scrapes
    # before and after a level see an idle engine. The fake engine's KV use is running/100, so only a scrape
    # while requests stream sees it above 0.
    from benchmarks import stream_server
    from stacks.tuning.deploy import Endpoint

    proc, url = stream_server.start(0.8, metrics="vllm")
    try:
        grid = grid_mod.GridSpec.model_validate(
            {
                "name": "g",
                "base": {},
                "points": [{}],
                "benchmark": {
                    "scenario": "D(8,4)",
                    "concurrency": [4],
                    "maxRequests": 8,
                    "maxSeconds": 10,
                    "timeout": 10,
                    "warmup": 0,
                    "metricsInterval": 0.2,
                },
            }
        )
        measured = Measurer(grid).measure(Endpoint(url, "m", None, gpus=1), threading.Event())
    finally:
        proc.kill()
        proc.wait()
    assert measured.metrics["kv_cache_usage_max"]["max"] == 0.04  # 4 requests in flight
    assert (
        Measurer(grid_mod.GridSpec.model_validate({"name": "g", "base": {}, "points": [{}]}))
        .config(Endpoint(url, "m", None, gpus=1))
        .metrics_interval
        == 1.0
    )  # the default: on


def test_an_invalid_level_is_no_candidate_even_with_the_best_objective():
    # Load 64 has the most throughput and meets the SLO in both repeats, but one repeat's level was refused
    # (benchmarks/validity.py): its other repeat does not make it a result.
    refused = [{"guard": "saturated", "reason": "saturated at 40 req/s: 64 req/s were offered"}]
    runs = [
        [
            {"load": 16, "output_throughput": 300.0, "ttft_p90": 0.5, "invalid": []},
            {"load": 64, "output_throughput": 500.0, "ttft_p90": 0.6, "invalid": refused},
        ],
        [
            {"load": 16, "output_throughput": 310.0, "ttft_p90": 0.5, "invalid": []},
            {"load": 64, "output_throughput": 520.0, "ttft_p90": 0.6, "invalid": []},
        ],
    ]
    m = Measurer(make_grid())._choose(runs, "requests_per_second")
    assert (m.load, m.meets_slo) == (16, True)
    assert m.capacity["values"] == [16, 16]  # nor is it a capacity
    assert len(m.levels) == 4  # every sample stays on record


def test_a_saturated_rate_is_kept_out_of_the_choice_and_the_capacity_and_higher_rates_are_skipped():
    # One request at a time, 40 ms each (about 25 req/s): at 100 req/s the fake engine serves more tokens per
    # second than at 10, so without the rate guard 100 would win; 200 is never sent.
    from benchmarks import stream_server
    from stacks.tuning.deploy import Endpoint

    proc, url = stream_server.start(0.02, 0.005, misbehave=("--max-running", "1"))
    try:
        grid = grid_mod.GridSpec.model_validate(
            {
                "name": "g",
                "base": {},
                "points": [{}],
                "slo": {"ttft_p90": 30.0},
                "benchmark": {
                    "scenario": "D(16,4)",
                    "requestRates": [10, 100, 200],
                    "maxRequests": 30,
                    "maxSeconds": 20,
                    "timeout": 20,
                    "warmup": 1,
                },
            }
        )
        measured = Measurer(grid, seed=3).measure(Endpoint(url, "m", None, gpus=1), threading.Event())
    finally:
        proc.kill()
        proc.wait()
    assert measured.load == 10 and measured.capacity["values"] == [10]
    by_load = {s["load"]: s for s in measured.levels}
    assert [v["guard"] for v in by_load[100]["invalid"]][:1] == ["saturated"] and 10 < by_load[100]["saturated_at"] < 30
    assert by_load[200]["skipped"] and by_load[200]["invalid"][0]["reason"].startswith(
        "not run: above 100, which was saturated at "
    )


def test_a_trial_whose_every_level_is_invalid_fails_with_the_reasons():
    # The engine answers as another model: every level measures that model, so none is a result.
    from benchmarks import stream_server
    from stacks.tuning.deploy import Endpoint
    from stacks.tuning.measure import BenchmarkFailed

    proc, url = stream_server.start(0.001, misbehave=("--model-name", "llama-3-8b"))
    try:
        grid = grid_mod.GridSpec.model_validate(
            {
                "name": "g",
                "base": {},
                "points": [{}],
                "benchmark": {
                    "scenario": "D(8,4)",
                    "concurrency": [2],
                    "maxRequests": 6,
                    "maxSeconds": 10,
                    "timeout": 10,
                    "warmup": 0,
                },
            }
        )
        with pytest.raises(
            BenchmarkFailed,
            match="no valid level: load 2: model-name: 6 of 6 responses named model 'llama-3-8b', not 'm'",
        ):
            Measurer(grid).measure(Endpoint(url, "m", None, gpus=1), threading.Event())
    finally:
        proc.kill()
        proc.wait()


def test_the_grids_guard_thresholds_reach_the_load_generator():
    from stacks.tuning.deploy import Endpoint

    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "base": {},
            "points": [{}],
            "benchmark": {"maxErrorRate": 0.2, "saturationTolerance": 0.25, "maxSendLag": 0.1, "maxClientCpu": 0.8},
        }
    )
    cfg = Measurer(grid).config(Endpoint("http://127.0.0.1:1", "m", None, gpus=1))
    assert (cfg.max_error_rate, cfg.saturation_tolerance, cfg.max_send_lag, cfg.max_client_cpu) == (0.2, 0.25, 0.1, 0.8)
