"""`--target local` end to end: a real engine process (the fake engine) per trial, the real load
generator, SQLite, the report. The best point is known by construction (fake_engine.py)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning import report
from stacks.tuning.driver import Driver
from stacks.tuning.local import LocalEngineDeployer
from stacks.tuning.store import TrialStore

HERE = Path(__file__).resolve().parent
GRID = HERE.parents[1] / "stacks" / "grids" / "fake-engine-test.yaml"


def fake_grid(**updates):
    grid = grid_mod.load(GRID)
    local = grid.local.model_copy(update={"command": [sys.executable, str(HERE / "fake_engine.py")], "model_dir": "/tmp/unused"})
    return grid.model_copy(update={"local": local, **updates})


def processes_of(log_dir: Path) -> list[int]:
    """PIDs of fake engines still alive (matched by the script path in their command line)."""
    alive = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"fake_engine.py" in cmdline:
                alive.append(int(pid))
    return alive


def test_local_target_ranks_the_known_best_point_first_and_leaves_no_process(tmp_path):
    grid = fake_grid()
    store = TrialStore(tmp_path / "runs.db")
    summary = Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()
    by_seqs = {r.params["engineArgs.maxNumSeqs"]: r for r in summary.records}
    assert by_seqs[128].status == "infeasible"  # the fake engine "runs out of memory" above 64
    assert "out of memory" in by_seqs[128].error
    assert [by_seqs[n].status for n in (1, 2, 8)] == ["succeeded"] * 3
    throughput = {n: by_seqs[n].value("output_throughput") for n in (1, 2, 8)}
    assert throughput[8] > throughput[2] > throughput[1]
    assert all(len(by_seqs[n].metrics["output_throughput"]["values"]) == 2 for n in (1, 2, 8))  # repeats
    written = report.write(store, tmp_path / "report")
    assert written["verdict"].best.params == {"engineArgs.maxNumSeqs": 8}
    assert written["verdict"].decisive
    assert "maxNumSeqs: 8" in written["snippet"].read_text()
    assert written["plot"].exists() and written["report"].exists()
    assert Path(by_seqs[8].log_path).read_text().startswith("$ ")
    assert processes_of(tmp_path) == []


def test_rerun_resumes_without_repeating_finished_trials(tmp_path):
    grid = fake_grid(parameters={"engineArgs.maxNumSeqs": [1, 2]}, repeats=1)
    store = TrialStore(tmp_path / "runs.db")
    first = Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()
    assert first.ran == 2
    second = Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()
    assert (second.ran, second.skipped) == (0, 2)


def test_stop_during_a_trial_tears_the_engine_down(tmp_path):
    grid = fake_grid(parameters={"engineArgs.maxNumSeqs": [1]}, repeats=1)
    grid = grid.model_copy(update={"benchmark": grid.benchmark.model_copy(update={"maxRequests": 10_000, "max_requests": 10_000, "max_seconds": 60})})
    stop = threading.Event()
    deployer = LocalEngineDeployer(grid.local, tmp_path / "logs")

    class StopInBenchmark:
        def phase(self, point, phase):
            if phase == "benchmark":
                threading.Timer(1.0, stop.set).start()

        def planned(self, *a):
            pass

        def finished(self, *a):
            pass

    summary = Driver(grid, TrialStore(tmp_path / "runs.db"), deployer, reporter=StopInBenchmark(), stop=stop).run()
    assert summary.interrupted
    (record,) = summary.records
    assert record.status == "interrupted" and record.stack is None
    assert processes_of(tmp_path) == []


@pytest.mark.parametrize("target", ["local"])
def test_cli_tune_and_report(tmp_path, target, monkeypatch):
    from stacks.__main__ import main

    grid_file = tmp_path / "grid.yaml"
    text = GRID.read_text().replace("  readyTimeout: 30\n", f"  readyTimeout: 30\n  command: [{sys.executable}, {HERE / 'fake_engine.py'}]\n")
    text = text.replace("[1, 2, 8, 128]", "[2, 128]").replace("repeats: 2", "repeats: 1")
    grid_file.write_text(text)
    code = main(["tune", str(grid_file), "--target", target, "--db", str(tmp_path / "t.db")])
    assert code == 0
    assert (tmp_path / "t-report" / "report.md").exists()
    assert main(["report", "--db", str(tmp_path / "t.db"), "--out", str(tmp_path / "r2")]) == 0
    assert main(["report", "--db", str(tmp_path / "missing.db")]) == 2
