"""`make tour` (stacks/tour): tune -> report -> capacity file -> a plan that rule C1 checks against that file, on
the stand-in engine, with nothing installed. The whole tour runs here (7 to 20 s on 2 shared cores)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stacks import tour
from stacks.tuning.store import TrialStore

ROOT = Path(__file__).resolve().parents[2]
# The file the shipped stack names: the tour grid's maxNumSeqs 32 configuration.
WINNER_FILE = "tour-model-vllm-g5.xlarge-201244e0.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(120)
def test_make_tour_tunes_reports_exports_the_capacity_file_and_prints_the_c1_verdict_of_the_plan(tmp_path, capsys):
    assert tour.main(["--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for header in ("── tour 1/3: tune", "── tour 2/3: report", "── tour 3/3: plan"):
        assert out.count(header) == 1, out
    assert f"$ python -m stacks tune stacks/grids/tour.yaml --target local --db {tmp_path}/tour.db" in out

    report = (tmp_path / "tour-report" / "report.md").read_text()
    assert "> **Stand-in engine**: trials ran on the stand-in engine" in report
    assert "Winner: {'engineArgs.maxNumSeqs': 32}" in report  # the largest batch that starts wins by construction

    doc = json.loads((tmp_path / "tour" / "capacity" / WINNER_FILE).read_text())
    assert (doc["model"], doc["engineArgs"], doc["workload"], doc["slo"]) == (
        "stand-in/tour-model",
        {"maxModelLen": 2048, "maxNumSeqs": 32},
        "D(16,24)",
        {"ttftP90": 0.06},
    )
    assert doc["source"]["standIn"] is True and doc["requestRate"]["lowerBound"] > 0

    # The plan judged the shipped stack against that file: a verdict with the sums, never "no capacity file".
    verdict = next(line for line in out.splitlines() if line.startswith("C1 "))
    assert verdict.startswith(
        (
            "C1 passed: endpoints[0].autoscaling.maxReplicas: 3 × ",
            "C1 failed: endpoints[0].autoscaling.maxReplicas = 3: ",
        )
    ), verdict
    assert f"(lower bound, capacity/{WINNER_FILE})" in verdict and "peak 80 × (1 + headroom 0.2) = 96" in verdict
    assert "[C1] the capacity file was measured on the stand-in engine" in out
    assert "tour done in" in out and "stand-in engine: not real numbers" in out

    store = TrialStore(tmp_path / "tour.db")
    trials = store.trials("tour")
    assert {r.params["engineArgs.maxNumSeqs"]: r.status for r in trials}[128] == "infeasible"
    assert not [r.engine["pid"] for r in trials if r.engine and _alive(r.engine["pid"])]


def _project(tmp_path: Path, per_replica: float, max_replicas: int) -> Path:
    project = tmp_path / "project"
    (project / "capacity").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, project / name)
    stack = tour.STACK_FILE.read_text().replace("maxReplicas: 3,", f"maxReplicas: {max_replicas},")
    (project / "Pulumi.tour.yaml").write_text(stack)
    doc = {
        "schemaVersion": 1,
        "model": "stand-in/tour-model",
        "engine": "vllm",
        "instanceType": "g5.xlarge",
        "engineArgs": {"maxModelLen": 2048, "maxNumSeqs": 32},
        "workload": "D(16,24)",
        "slo": {"ttftP90": 0.06},
        "capacity": {
            "unit": "concurrency",
            "value": 16,
            "lowerBound": 16,
            "lowerBoundRule": "min over repeats",
            "values": [16, 16],
            "source": "best SLO-meeting level",
        },
        "requestRate": {"value": per_replica, "lowerBound": per_replica, "values": [per_replica]},
        "measured": "2026-12-06",
        "run": "tour",
        "trial": "k",
        "source": {"database": "tour.db", "target": "local", "standIn": True},
        "cost": None,
    }
    (project / "capacity" / WINNER_FILE).write_text(json.dumps(doc))
    return project


def test_tour_verdict_passes_with_the_sums_when_the_replicas_carry_the_peak(tmp_path):
    assert tour.c1_verdict(_project(tmp_path, 50.0, 3)) == [
        (
            "passed",
            f"endpoints[0].autoscaling.maxReplicas: 3 × 50 requests/s per replica (lower bound, capacity/{WINNER_FILE}) = 150 ≥ peak 80 × (1 + headroom 0.2) = 96",
        )
    ]


def test_tour_verdict_fails_with_the_replicas_needed_then_the_fix(tmp_path):
    assert tour.c1_verdict(_project(tmp_path, 50.0, 1)) == [
        (
            "failed",
            f"endpoints[0].autoscaling.maxReplicas = 1: 1 × 50 requests/s per replica (lower bound, capacity/{WINNER_FILE}) = 50 < peak 80 × (1 + headroom 0.2) = 96: "
            "needs 2 replicas, has 1\n  fix: set autoscaling.maxReplicas: 2",
        )
    ]


def test_tour_verdict_names_a_missing_capacity_file(tmp_path):
    project = _project(tmp_path, 50.0, 3)
    (project / "capacity" / WINNER_FILE).unlink()
    (verdict, line), (also, derived) = tour.c1_verdict(project)
    assert verdict == "failed" and line.startswith(
        f"endpoints[0].capacity = 'capacity/{WINNER_FILE}': no capacity file at "
    )
    assert also == "failed" and derived.startswith(
        "endpoints[0].autoscaling.target = 'fromCapacity': needs a matching capacity file"
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_tour_target_runs_the_tour_after_setup():
    # --no-print-directory: under `make test` (a make inside make) the nested make would print its directory.
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "tour", "VENV=/nonexistent-venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[-1] == "/nonexistent-venv/bin/python -m stacks.tour"
    assert any("crds fetch" in line for line in lines)  # setup first, as for make demo
