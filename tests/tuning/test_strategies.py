"""Search strategies replayed through the real driver on recorded response surfaces
(`stacks/tuning/surfaces/`: a synthetic g5 model and a real vLLM-on-CPU measurement).

The model-based claim: `gp` finds the optimum within 2 % using at most 30 % of the grid's trials."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning.replay import ReplayResult, Surface, load_surface, replay

DATA = Path(__file__).resolve().parents[2] / "stacks" / "tuning" / "surfaces"
SURFACES = sorted(DATA.glob("*.json"))
REAL = DATA / "vllm-cpu-tiny.json"
SYNTHETIC = DATA / "synthetic-g5-12xlarge.json"


def budget(surface: Surface) -> int:
    return int(surface.size * 0.3)


@functools.cache
def budget_run(path: Path, strategy: str, seed: int) -> ReplayResult:
    """A run of 30 % of the grid's trials (shared by the tests that compare the same runs)."""
    surface = load_surface(path)
    result = replay(surface, strategy, trials=budget(surface), seed=seed)
    assert len(result.deployed) <= budget(surface) and len(set(result.deployed)) == len(result.deployed)
    assert result.live == set()
    return result


def reached(path: Path, strategy: str, seeds: range, within: float) -> list[bool]:
    """Per seed: did 30 % of the grid's trials find a point within `within` of the optimum?"""
    optimum = load_surface(path).optimum()
    return [
        (best := budget_run(path, strategy, seed).best) is not None and best >= (1 - within) * optimum for seed in seeds
    ]


@pytest.mark.parametrize("path", SURFACES, ids=[p.stem for p in SURFACES])
def test_exhaustive_grid_finds_the_recorded_optimum(path):
    surface = load_surface(path)
    result = replay(surface, "grid")
    assert result.best == pytest.approx(surface.optimum())
    assert len(result.deployed) == sum(1 for p in grid_mod.expand(surface.grid) if not p.pruned)
    assert result.live == set()


# Seeds per surface: a replay of the 360-point synthetic grid fits ~200 models (about 9 s).
GP_SEEDS = {REAL: range(20), SYNTHETIC: range(3)}


@pytest.mark.parametrize("path", SURFACES, ids=[p.stem for p in SURFACES])
@pytest.mark.timeout(900)  # ten seeded GP replays: a few minutes on a busy 2-core machine
def test_gp_finds_the_optimum_within_2_percent_in_30_percent_of_the_trials(path):
    """A search that starts from random points finds nothing with certainty: the claim is about most
    runs (60 % of seeds; docs/notes/tuning-surfaces.md gives the measured rates)."""
    surface = load_surface(path)
    trials = [budget_run(path, "gp", seed).trials_to_reach(surface, 0.02) for seed in GP_SEEDS[path]]
    within = [n for n in trials if n is not None]
    assert len(within) >= 0.6 * len(trials), (
        f"{path.stem}: within 2 % in {budget(surface)} trials for {len(within)} of {len(trials)} seeds: {trials}"
    )


def test_on_the_real_cpu_surface_gp_finds_the_optimum_at_least_twice_as_often_as_tpe_or_random_order():
    """The real surface's best point is 4 % ahead of the next: within 2 % means finding that one point."""
    hits = {strategy: sum(reached(REAL, strategy, range(20), within=0.02)) for strategy in ("gp", "tpe", "random")}
    assert hits["gp"] >= 2 * max(hits["tpe"], hits["random"]), hits


def test_on_the_real_cpu_surface_tpe_lands_within_5_percent_more_often_than_random_order():
    hits = {strategy: sum(reached(REAL, strategy, range(20), within=0.05)) for strategy in ("tpe", "random")}
    assert hits["tpe"] >= 14 and hits["tpe"] > hits["random"], hits


def test_random_order_is_seeded_and_covers_the_grid():
    surface = load_surface(SYNTHETIC)
    first = replay(surface, "random", trials=10, seed=7)
    second = replay(surface, "random", trials=10, seed=7)
    other = replay(surface, "random", trials=10, seed=8)
    assert first.deployed == second.deployed and len(first.deployed) == 10
    assert other.deployed != first.deployed


@pytest.mark.parametrize("strategy", ["gp", "tpe"])
def test_model_based_runs_are_reproducible_from_their_seed(strategy):
    surface = load_surface(REAL)
    assert replay(surface, strategy, trials=8, seed=3).deployed == replay(surface, strategy, trials=8, seed=3).deployed


def test_neighbours_step_one_rank_along_one_parameter():
    from stacks.tuning.strategies import neighbours

    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "n",
            "base": {
                "name": "ep",
                "model": "org/m",
                "engine": "vllm",
                "instanceType": "ml.g5.12xlarge",
                "modelSource": {"type": "s3", "bucket": "models"},
            },
            "parameters": {"engineArgs.maxNumSeqs": [64, 8, 16, 32], "engine": ["vllm", "sglang"]},
        }
    )
    found = neighbours(grid, {"engineArgs.maxNumSeqs": 16, "engine": "vllm"})
    # Ordinal values by rank (8 < 16 < 32 < 64 whatever the file's order); categorical: every other value.
    assert found == [
        {"engineArgs.maxNumSeqs": 16, "engine": "sglang"},
        {"engineArgs.maxNumSeqs": 8, "engine": "vllm"},
        {"engineArgs.maxNumSeqs": 32, "engine": "vllm"},
    ]
    assert {"engineArgs.maxNumSeqs": 64, "engine": "vllm"} not in found


def test_a_file_that_is_not_a_surface_is_named_with_what_it_lacks(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"objective": "output_throughput", "points": []}))
    with pytest.raises(ValueError, match=r"runs.json: not a response surface.*missing: instanceType.*record_surface"):
        load_surface(path)
