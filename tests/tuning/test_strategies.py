"""The model-based strategy (Optuna TPE) against exhaustive grid on recorded response surfaces:
it must find the optimum within 2 % using at most 30 % of the grid's trials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning import report
from stacks.tuning.driver import Driver
from stacks.tuning.store import TrialStore

from .doubles import ReplayDeployer, ReplayMeasurer

DATA = Path(__file__).resolve().parent / "data"
SURFACES = sorted(DATA.glob("*.json"))


def load_surface(path: Path):
    doc = json.loads(path.read_text())
    values: dict[str, list] = {}
    for row in doc["points"]:
        for key, value in row["params"].items():
            values.setdefault(key, [])
            if value not in values[key]:
                values[key].append(value)
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": path.stem,
            "base": {"name": "surface", "model": "org/model", "engine": "vllm", "instanceType": doc["instanceType"], "modelSource": {"type": "s3", "bucket": "bkt"}},
            "parameters": values,
            "objective": {"metric": doc["objective"]},
            "slo": doc["slo"],
        }
    )
    surface = {grid_mod.point_key(row["params"]): row["metrics"] for row in doc["points"]}
    return grid, surface, doc


def optimum(grid, surface):
    metric = grid.objective.metric
    feasible = [m for m in surface.values() if m and all(m[k] <= b for k, b in grid.slo.items())]
    return max(m[metric] for m in feasible)


def run(tmp_path, grid, surface, strategy, trials=None, seed=0):
    grid = grid.model_copy(update={"strategy": strategy, "seed": seed, "budget": grid_mod.Budget(trials=trials)})
    deployer = ReplayDeployer(surface)
    store = TrialStore(tmp_path / f"{strategy}-{seed}.db")
    summary = Driver(grid, store, deployer, ReplayMeasurer(surface, grid.slo)).run()
    best = report.verdict(summary.records, grid).best
    return best.value(grid.objective.metric) if best else 0.0, len(deployer.deployed), deployer


@pytest.mark.parametrize("path", SURFACES, ids=[p.stem for p in SURFACES])
def test_exhaustive_grid_finds_the_recorded_optimum(tmp_path, path):
    grid, surface, _ = load_surface(path)
    found, deployed, deployer = run(tmp_path, grid, surface, "grid")
    assert found == pytest.approx(optimum(grid, surface))
    assert deployed == sum(1 for p in grid_mod.expand(grid) if not p.pruned)
    assert deployer.live == set()


@pytest.mark.parametrize("path", SURFACES, ids=[p.stem for p in SURFACES])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tpe_finds_the_optimum_within_2_percent_in_30_percent_of_the_trials(tmp_path, path, seed):
    grid, surface, doc = load_surface(path)
    points = len(doc["points"])
    budget = max(1, int(points * 0.3))
    found, deployed, _ = run(tmp_path, grid, surface, "tpe", trials=budget, seed=seed)
    assert deployed <= budget
    assert found >= 0.98 * optimum(grid, surface), f"{path.stem} seed {seed}: {found:.1f} vs optimum {optimum(grid, surface):.1f} in {deployed} trials"


def test_random_order_is_seeded_and_covers_the_grid(tmp_path):
    grid, surface, _ = load_surface(DATA / "synthetic-g5-12xlarge.json")
    _, first, d1 = run(tmp_path / "a", grid, surface, "random", trials=10, seed=7)
    _, _, d2 = run(tmp_path / "b", grid, surface, "random", trials=10, seed=7)
    assert d1.deployed == d2.deployed and first == 10
