"""Faults around the tuning driver (issue 13): engines that die or fail mid-benchmark, concurrent
and interrupted runs on one database, pid reuse, files that are not what they claim, grids that
are too large or malformed, and server text that looks like Rich markup."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from stacks.tuning import grid as grid_mod

ROOT = Path(__file__).resolve().parents[2]
FAKE_ENGINE = ROOT / "tests" / "tuning" / "fake_engine.py"
FAKE_GRID = ROOT / "stacks" / "grids" / "fake-engine-test.yaml"


# ---------------------------------------------------------------- item 12: dry-run thread leak


def test_item12_planning_points_in_a_row_leaves_the_thread_count_flat():
    from stacks import plan as plan_mod
    from stacks.tuning.pulumi_target import STAND_IN_CLUSTER, trial_config

    grid = grid_mod.load(FAKE_GRID)
    point = next(p for p in grid_mod.expand(grid) if not p.pruned)
    values = trial_config({"aws:region": "us-east-1", "llm-serving:cluster": STAND_IN_CLUSTER}, point.spec, {}, "llm-serving", "x")
    plan_mod.build_plan_from_values("leak-0", values)  # the first plan starts gRPC's one poller
    before = threading.active_count()
    for i in range(5):
        plan_mod.build_plan_from_values(f"leak-{i + 1}", values)
    assert threading.active_count() <= before + 1, [t.name for t in threading.enumerate()]
