"""Exporting a tuning run as a replayable response surface (how stacks/tuning/surfaces/vllm-cpu-tiny.json is made)."""

from __future__ import annotations

import json

from stacks.local_engine import record_surface
from stacks.tuning.store import TrialRecord, TrialStore


def _metric(mean: float) -> dict:
    return {"mean": mean, "min": mean, "max": mean, "stdev": 0.0, "values": [mean]}


def test_a_run_becomes_a_surface_with_infeasible_points_kept(tmp_path):
    store = TrialStore(tmp_path / "runs.db")
    grid = {
        "name": "s",
        "base": {"instanceType": "g5.xlarge"},
        "objective": {"metric": "output_throughput"},
        "slo": {"ttft_p90": 2.0},
    }
    store.start_run("s", grid)
    store.save(
        TrialRecord(
            "s",
            "k1",
            {"engineArgs.maxNumSeqs": 8},
            "succeeded",
            metrics={"output_throughput": _metric(900.0), "ttft_p90": _metric(0.4), "meets_slo": True},
        )
    )
    store.save(
        TrialRecord("s", "k2", {"engineArgs.maxNumSeqs": 64}, "infeasible", error="engine exited with code 1\nOOM")
    )
    store.save(TrialRecord("s", "k3", {"engineArgs.maxNumSeqs": 16}, "running"))  # unfinished: left out
    out = tmp_path / "surface.json"
    assert record_surface.main(["--db", str(tmp_path / "runs.db"), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["instanceType"], doc["objective"], doc["slo"]) == ("g5.xlarge", "output_throughput", {"ttft_p90": 2.0})
    by_seqs = {p["params"]["engineArgs.maxNumSeqs"]: p for p in doc["points"]}
    assert set(by_seqs) == {8, 64}
    assert by_seqs[8]["metrics"] == {"output_throughput": 900.0, "ttft_p90": 0.4}
    assert by_seqs[64]["metrics"] is None and by_seqs[64]["error"] == "engine exited with code 1"
    assert doc["source"].startswith("measured:")


def test_missing_database_or_run_is_a_clear_error(tmp_path, capsys):
    assert record_surface.main(["--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "x.json")]) == 2
    assert "no results database" in capsys.readouterr().err
    TrialStore(tmp_path / "empty.db")
    assert record_surface.main(["--db", str(tmp_path / "empty.db"), "--out", str(tmp_path / "x.json")]) == 2
    assert "holds no tuning run" in capsys.readouterr().err


def test_runs_of_one_grid_pool_their_measurements(tmp_path):
    store = TrialStore(tmp_path / "runs.db")
    grid = {"name": "s", "base": {"instanceType": "g5.xlarge"}, "objective": {"metric": "output_throughput"}, "slo": {}}
    for run in ("s", "s-r2"):
        store.start_run(run, {**grid, "name": run})
    values = {"s": [600.0], "s-r2": [700.0, 800.0]}
    for run, vals in values.items():
        metric = {"mean": sum(vals) / len(vals), "min": min(vals), "max": max(vals), "stdev": 0.0, "values": vals}
        store.save(
            TrialRecord(run, "k1", {"engineArgs.maxNumSeqs": 8}, "succeeded", metrics={"output_throughput": metric})
        )
    store.save(
        TrialRecord(
            "s", "k2", {"engineArgs.maxNumSeqs": 64}, "succeeded", metrics={"output_throughput": _metric(999.0)}
        )
    )
    store.save(TrialRecord("s-r2", "k2", {"engineArgs.maxNumSeqs": 64}, "infeasible", error="OOM"))
    doc = record_surface.surface(store)
    by_seqs = {p["params"]["engineArgs.maxNumSeqs"]: p for p in doc["points"]}
    assert (
        by_seqs[8]["metrics"] == {"output_throughput": 700.0} and by_seqs[8]["measurements"] == 3
    )  # mean of all three
    assert by_seqs[64]["metrics"] is None and by_seqs[64]["error"] == "OOM"  # crashed once: infeasible
    first_run_only = {
        p["params"]["engineArgs.maxNumSeqs"]: p["metrics"] for p in record_surface.surface(store, ["s"])["points"]
    }
    assert first_run_only == {8: {"output_throughput": 600.0}, 64: {"output_throughput": 999.0}}
