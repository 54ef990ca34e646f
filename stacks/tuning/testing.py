"""The contract every search strategy passes, as library code (after optuna's `optuna/testing/pytest_samplers.py`):
a test class a test file subclasses once and runs over every strategy in `strategies.STRATEGIES`, through the real
driver on a recorded response surface (`replay`). A new strategy is held to it the day it is registered. Imported
by tests only (it imports pytest).

- it deploys only feasible points (never one the rule library pruned), each at most once, within the budget, and
  leaves no endpoint running;
- the same seed gives the same trials;
- with the whole grid as its budget it deploys every feasible point.
"""

from __future__ import annotations

import pytest

from . import grid as grid_mod
from .replay import Surface, replay


def feasible(surface: Surface) -> set[str]:
    return {p.key for p in grid_mod.expand(surface.grid) if not p.pruned}


class StrategyContract:
    """Subclass in a test module; parametrise `strategy` over `strategies.STRATEGIES` and give a `surface`."""

    @pytest.fixture
    def strategy(self) -> str:  # pragma: no cover - overridden by the subclass
        raise NotImplementedError

    @pytest.fixture
    def surface(self) -> Surface:  # pragma: no cover - overridden by the subclass
        raise NotImplementedError

    def test_deploys_only_feasible_points_once_each_within_its_budget(self, strategy: str, surface: Surface) -> None:
        budget = max(1, len(feasible(surface)) // 3)
        result = replay(surface, strategy, trials=budget, seed=0)
        assert 0 < len(result.deployed) <= budget
        assert len(set(result.deployed)) == len(result.deployed), "a point deployed twice"
        assert set(result.deployed) <= feasible(surface), "a pruned point deployed"
        assert result.live == set(), "an endpoint left running"

    def test_the_same_seed_gives_the_same_trials(self, strategy: str, surface: Surface) -> None:
        budget = max(1, len(feasible(surface)) // 3)
        assert (
            replay(surface, strategy, trials=budget, seed=7).deployed
            == replay(surface, strategy, trials=budget, seed=7).deployed
        )

    def test_the_whole_grid_as_budget_deploys_every_feasible_point(self, strategy: str, surface: Surface) -> None:
        result = replay(surface, strategy, trials=len(feasible(surface)), seed=0)
        assert sorted(result.deployed) == sorted(feasible(surface))
        assert result.best is not None
