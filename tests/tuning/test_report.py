"""Reports: ranking under SLOs, noise-aware verdicts, Pareto front, plot and config snippet."""

from __future__ import annotations

import yaml

from stacks.tuning import grid as grid_mod
from stacks.tuning import report
from stacks.tuning.store import TrialRecord, TrialStore

GRID = grid_mod.GridSpec.model_validate(
    {
        "name": "g",
        "base": {
            "name": "ep",
            "model": "org/m",
            "engine": "vllm",
            "instanceType": "g5.xlarge",
            "modelSource": {"type": "s3", "bucket": "bkt"},
        },
        "parameters": {"engineArgs.maxNumSeqs": [2, 8, 32, 64]},
        "slo": {"ttft_p90": 1.0},
    }
)


def trial(seqs, tput, ttft, spread=0.0, status="succeeded", repeats=2):
    values = [tput - spread, tput + spread] if repeats == 2 else [tput] * repeats
    metrics = {
        "output_throughput": {
            "mean": tput,
            "min": tput - spread,
            "max": tput + spread,
            "stdev": spread,
            "values": values,
        },
        "ttft_p90": {"mean": ttft, "min": ttft, "max": ttft, "stdev": 0.0, "values": [ttft]},
        "meets_slo": ttft <= 1.0,
    }
    return TrialRecord(
        "g", f"k{seqs}", {"engineArgs.maxNumSeqs": seqs}, status, metrics=metrics if status == "succeeded" else {}
    )


def test_winner_is_best_under_slo_and_decisive_when_margin_beats_spread():
    records = [trial(2, 100, 0.2), trial(8, 300, 0.5, spread=10), trial(32, 250, 0.8, spread=10), trial(64, 900, 3.0)]
    v = report.verdict(records, GRID)
    assert v.best.params == {"engineArgs.maxNumSeqs": 8}  # 64 is faster but misses the SLO
    assert v.decisive


def test_a_margin_within_the_noise_is_not_declared_a_win():
    v = report.verdict([trial(8, 300, 0.5, spread=30), trial(32, 290, 0.6, spread=30)], GRID)
    assert v.best.params == {"engineArgs.maxNumSeqs": 8} and not v.decisive
    assert "tie within noise" in v.reason


def test_one_measurement_per_point_is_never_decisive():
    v = report.verdict([trial(8, 300, 0.5, repeats=1), trial(32, 100, 0.6, repeats=1)], GRID)
    assert v.best.params == {"engineArgs.maxNumSeqs": 8} and not v.decisive
    assert "repeats" in v.reason


def test_no_trial_meeting_the_slo():
    v = report.verdict([trial(64, 900, 3.0), trial(2, 0, 0, status="infeasible")], GRID)
    assert v.best is None and "no trial met" in v.reason


def test_pareto_front_excludes_dominated_trials():
    records = [trial(2, 100, 0.2), trial(8, 300, 0.5), trial(32, 250, 0.8), trial(64, 900, 3.0)]
    assert [r.params["engineArgs.maxNumSeqs"] for r in report.pareto(records, GRID)] == [2, 8, 64]


def test_written_report_plot_and_ready_to_paste_config(tmp_path):
    store = TrialStore(tmp_path / "t.db")
    store.start_run("g", GRID.model_dump(mode="json", by_alias=True))
    for record in [trial(2, 100, 0.2), trial(8, 300, 0.5), trial(64, 900, 3.0), trial(32, 0, 0, status="pruned")]:
        store.save(record)
    written = report.write(store, tmp_path / "out")
    snippet = yaml.safe_load(written["snippet"].read_text())
    (entry,) = snippet["config"]["llm-serving:endpoints"]
    assert entry["engineArgs"] == {"maxNumSeqs": 8} and entry["name"] == "ep"
    text = written["report"].read_text()
    assert "Winner" in text and "pareto.png" in text and "1 pruned" in text
    assert written["plot"].read_bytes()[:4] == b"\x89PNG"


def test_report_shows_engine_metrics_from_the_servers_metrics_page(tmp_path):
    with_engine = trial(8, 300, 0.5)
    with_engine.metrics["prefix_hit_rate"] = {
        "mean": 0.375,
        "min": 0.35,
        "max": 0.4,
        "stdev": 0.035,
        "values": [0.35, 0.4],
    }
    with_engine.metrics["kv_cache_usage_max"] = {
        "mean": 0.5,
        "min": 0.5,
        "max": 0.5,
        "stdev": 0.0,
        "values": [0.5, 0.5],
    }
    with_engine.metrics["preemptions"] = {"mean": 3.0, "min": 2.0, "max": 4.0, "stdev": 1.4, "values": [2.0, 4.0]}
    header, table = report.rows([with_engine, trial(2, 100, 0.2)], GRID)
    cols = [header.index(c) for c in ("prefix hit %", "KV use max %", "preemptions")]
    assert [table[0][i] for i in cols] == ["37.5", "50.0", "3 ± 1.4"]
    assert [table[1][i] for i in cols] == ["-", "-", "-"]  # a server without /metrics


def test_ready_to_paste_config_leaves_out_the_benchmark_values_a_point_was_measured_under(tmp_path):
    # tiny-cpu-prefix-caching.yaml varies benchmark.prefixGroups beside the engine option: the winner's
    # workload is no endpoint key, and EndpointSpec would reject a `benchmark` block in the stack config.
    grid = grid_mod.GridSpec.model_validate(
        {
            **GRID.model_dump(by_alias=True, exclude_none=True),
            "benchmark": {"prefixTokens": 1024},
            "parameters": {"engineArgs.enablePrefixCaching": [True, False], "benchmark.prefixGroups": [1, 4]},
        }
    )
    store = TrialStore(tmp_path / "t.db")
    store.start_run("g", grid.model_dump(mode="json", by_alias=True))
    best = trial(8, 300, 0.5)
    best.params = {"benchmark.prefixGroups": 4, "engineArgs.enablePrefixCaching": True}
    store.save(best)
    written = report.write(store, tmp_path / "out")
    (entry,) = yaml.safe_load(written["snippet"].read_text())["config"]["llm-serving:endpoints"]
    assert entry["engineArgs"] == {"enablePrefixCaching": True} and "benchmark" not in entry
    assert "prefixGroups" not in written["report"].read_text().split("Paste into")[1]


def test_a_note_never_ends_in_an_empty_log_tail_label():
    died = "engine on port 41234 failed: engine exited with code 1; log tail:\n$ python -m vllm.entrypoints.openai.api_server\nValueError: max_model_len 99999 is too large\n"
    silent = "engine exited with code 137 during the benchmark; log tail:\n\n"
    records = [
        TrialRecord("g", "k8", {"engineArgs.maxNumSeqs": 8}, "infeasible", error=died),
        TrialRecord("g", "k2", {"engineArgs.maxNumSeqs": 2}, "infeasible", error=silent),
    ]
    _, rows = report.rows(records, GRID)
    notes = {row[0]: row[-1] for row in rows}
    assert (
        notes["8"]
        == "engine on port 41234 failed: engine exited with code 1; last log line: ValueError: max_model_len 99999 is too large"
    )
    assert notes["2"] == "engine exited with code 137 during the benchmark"
    assert not any(note.endswith("log tail:") for note in notes.values())


def test_an_engine_that_wrote_nothing_gets_no_log_tail_label(tmp_path):
    from stacks.tuning.local import exited

    empty = tmp_path / "trial.log"
    empty.write_text("")
    assert exited(1, empty) == "engine exited with code 1"
    empty.write_text("$ python -m vllm\nOOM\n")
    assert (
        exited(1, empty, " during the benchmark")
        == "engine exited with code 1 during the benchmark: OOM; log tail:\n$ python -m vllm\nOOM"
    )


def test_invalid_levels_are_named_in_the_table_and_the_report_with_their_reasons(tmp_path):
    # The trial ran rates 4, 16 and 32: 16 was saturated, 32 never ran, and in the other repeat 4 had 500s.
    measured = trial(8, 300, 0.5)
    measured.levels = [
        {"load": 4, "invalid": []},
        {
            "load": 16,
            "saturated_at": 11.2,
            "invalid": [{"guard": "saturated", "reason": "saturated at 11.2 req/s: 16.1 req/s were offered"}],
        },
        {
            "load": 32,
            "skipped": True,
            "invalid": [{"guard": "saturated", "reason": "not run: above 16, which was saturated at 11.2 req/s"}],
        },
        {"load": 4, "invalid": [{"guard": "error-rate", "reason": "error rate 12.0% is over the limit of 5.0%"}]},
    ]
    header, table = report.rows([measured, trial(2, 100, 0.2)], GRID)
    column = header.index("invalid levels")
    assert [row[column] for row in table] == ["4 error-rate; 16 saturated at 11.2 req/s; 32 skipped", ""]
    store = TrialStore(tmp_path / "t.db")
    store.start_run("g", GRID.model_dump(mode="json", by_alias=True))
    store.save(measured)
    text = report.write(store, tmp_path / "out")["report"].read_text()
    assert "## Invalid levels" in text
    assert (
        "- {'engineArgs.maxNumSeqs': 8}: load 16: saturated: saturated at 11.2 req/s: 16.1 req/s were offered" in text
    )
    assert (
        "- {'engineArgs.maxNumSeqs': 8}: load 32: saturated: not run: above 16, which was saturated at 11.2 req/s"
        in text
    )
    assert "- {'engineArgs.maxNumSeqs': 8}: load 4: error-rate: error rate 12.0% is over the limit of 5.0%" in text


def test_a_run_without_invalid_levels_has_no_such_section(tmp_path):
    store = TrialStore(tmp_path / "t.db")
    store.start_run("g", GRID.model_dump(mode="json", by_alias=True))
    store.save(trial(8, 300, 0.5))
    assert "## Invalid levels" not in report.write(store, tmp_path / "out")["report"].read_text()
