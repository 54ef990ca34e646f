"""GPU-hours of a search (stacks/tuning/gpu_hours.py): the trials a strategy took to reach the grid's best,
each costed at its hours x the GPUs of its point, replayed through the real driver on a four-point surface
with literal figures."""

from __future__ import annotations

import json

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning.gpu_hours import CostModel, _surface_rows, main, table
from stacks.tuning.replay import load_surface

# maxNumSeqs 1, 2, 4, 8 on ml.g5.12xlarge (4 GPUs); 2 crashes at start; 4 is the best.
POINTS = [(1, 10.0), (2, None), (4, 40.0), (8, 30.0)]


def _surface(tmp_path, instance="ml.g5.12xlarge", extra=None):
    rows = [
        {
            "params": {"engineArgs.maxNumSeqs": s},
            "metrics": None if v is None else {"output_throughput": v, "ttft_p90": 0.1},
        }
        for s, v in POINTS
    ]
    for row in rows:
        row.update((extra or {}).get(row["params"]["engineArgs.maxNumSeqs"], {}))
    path = tmp_path / "four.json"
    path.write_text(
        json.dumps(
            {"instanceType": instance, "objective": "output_throughput", "slo": {"ttft_p90": 1.0}, "points": rows}
        )
    )
    return path


def _model(path, bring_up_min=60.0, bench_min=30.0):
    rows, instance = _surface_rows(path)
    return CostModel(bring_up_min / 60, bench_min / 60, rows, instance)


def test_grid_order_reaches_the_best_at_its_third_trial_and_pays_for_the_crash_bring_up_only(tmp_path):
    path = _surface(tmp_path)
    lines = table(load_surface(path), _model(path), seeds=1, fraction=1.0, within=[0.0], strategies=("grid",))
    # Full grid: (1.5 + 1.0 + 1.5 + 1.5) h x 4 GPUs = 22 GPU-h; to the best: (1.5 + 1.0 + 1.5) x 4 = 16, 73 % of it.
    assert "exhaustive grid 4 trials = 22.0 GPU-h" in lines[0]
    assert (
        "bring-up 60 min + benchmark 30 min" in lines[0] and "GPUs per trial 4 (ml.g5.12xlarge x replicas)" in lines[0]
    )
    assert lines[-1] == "| `grid` | 0 % | 1/1 | 3 | 16.0 | 73% |"


def test_a_budget_that_stops_short_shows_what_was_spent_as_a_lower_bound(tmp_path):
    path = _surface(tmp_path)
    lines = table(load_surface(path), _model(path), seeds=1, fraction=0.5, within=[0.0], strategies=("grid",))
    assert lines[-1] == "| `grid` | 0 % | 0/1 | > 2 | > 10.0 | - |"  # (1.5 + 1.0) h x 4 GPUs


def test_time_and_gpus_recorded_on_a_point_replace_the_model(tmp_path):
    path = _surface(tmp_path, extra={1: {"seconds": 7200, "gpus": 2}, 2: {"seconds": 1800}})
    model = _model(path)
    surface = load_surface(path)
    keys = [grid_mod.point_key({"engineArgs.maxNumSeqs": s}) for s, _ in POINTS]
    assert model.gpu_hours(surface, keys[:1]) == pytest.approx(2 * 2)  # 2 h x 2 GPUs
    assert model.gpu_hours(surface, keys[1:2]) == pytest.approx(0.5 * 4)  # 0.5 h x the instance's 4 GPUs
    assert "per-trial time from the surface (2 of 4 points)" in model.stated(surface)


def test_an_instance_type_without_a_gpu_count_is_named(tmp_path, capsys):
    path = _surface(tmp_path, instance="m6i.large")
    assert main([str(path), "--seeds", "1"]) == 2
    assert "instance type 'm6i.large' has no GPU count" in capsys.readouterr().err
