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


# ---------------------------------------------------------------- item 11: grid bounds and paths

GRID_HEAD = """name: g
target: local
base:
  name: ep
  model: org/m
  engine: vllm
  instanceType: g5.xlarge
  modelSource: {type: s3, bucket: b}
  engineArgs: {maxModelLen: 2048}
"""


def _tune_grid(tmp_path, capsys, text: str | bytes, *extra: str) -> tuple[int, str]:
    from stacks.__main__ import main

    path = tmp_path / "grid.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["tune", str(path), "--dry-run", "--db", str(tmp_path / "t.db"), *extra])
    return code, capsys.readouterr().out


def test_item11_a_parameter_path_through_a_scalar_is_a_named_error(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxModelLen.x: [1, 2]\n")
    assert code == 2
    assert "parameters.engineArgs.maxModelLen.x" in out and "base.engineArgs.maxModelLen is 2048, not a map" in out
    assert "Fix: use a path to a map key, e.g. engineArgs.maxModelLen" in out and "Traceback" not in out


def test_item11_a_parameter_path_through_another_parameter_is_a_named_error(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: [1]\n  engineArgs.maxNumSeqs.x: [2]\n")
    assert code == 2 and "goes through parameter engineArgs.maxNumSeqs" in out


def test_item11_a_grid_over_the_point_limit_fails_before_expansion_naming_the_limit(tmp_path, capsys):
    # 10 parameters of 4 values: 1,048,576 points; the bound is checked on the counts alone.
    params = "".join(f"  env.V{i}: [a, b, c, d]\n" for i in range(10))
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n" + params)
    assert code == 2
    assert "1,048,576 points" in out and "over the limit of 10,000 points" in out


def test_item11_a_huge_range_is_refused_by_its_count(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: {from: 1, to: 1000000000, step: 1}\n")
    assert code == 2 and "1,000,000,000 points" in out and "over the limit of 10,000 points" in out


def test_item11_a_geometric_range_from_zero_is_an_error_not_identical_points(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: {from: 0, to: 10, times: 2}\n")
    assert code == 2 and "never advances" in out and "parameters.engineArgs.maxNumSeqs" in out


def test_item11_a_range_that_rounds_to_duplicates_is_an_error(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.gpuMemoryUtilization: {from: 0.5, to: 0.5000000001, step: 0.00000000001}\n")
    assert code == 2 and "duplicate values" in out


def test_item11_grids_built_in_code_are_bounded_too():
    import pytest

    from components.rules import ConfigError

    grid = grid_mod.GridSpec.model_validate({"name": "g", "base": {}, "parameters": {f"env.V{i}": list(range(10)) for i in range(5)}})
    with pytest.raises(ConfigError, match="over the limit of 10,000 points"):
        grid_mod.expand(grid)


def test_item11_binary_duplicate_key_and_alias_bomb_grids_are_named_errors(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert code == 2 and "binary data" in out and "grid.yaml" in out and "Traceback" not in out
    code, out = _tune_grid(tmp_path, capsys, b"name: g\xff\xfe\n")
    assert code == 2 and "not UTF-8" in out
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters: {engineArgs.maxNumSeqs: [1]}\nname: h\n")
    assert code == 2 and "duplicate key 'name'" in out
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    code, out = _tune_grid(tmp_path, capsys, bomb)
    assert code == 2 and "alias bomb" in out
