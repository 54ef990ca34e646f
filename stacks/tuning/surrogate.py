"""Bayesian optimisation over a finite grid: a Gaussian process surrogate of the objective and one
of the SLO margin, and expected improvement times the probability of meeting the SLOs, scored on
every untried grid point (a grid is small enough to score exhaustively, so nothing is sampled).

Pure functions of numbers: the strategy turns trial records into observations.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

# scipy and scikit-learn load when a model is fitted (seconds on 2 cores): `stacks tune` with another strategy,
# and `stacks report`, never need them.
if TYPE_CHECKING:
    from sklearn.gaussian_process import GaussianProcessRegressor

# A crashed trial, or one that missed an SLO by at least 100 %: the worst constraint value the model sees.
INFEASIBLE = 1.0


class Features:
    """Grid points as vectors in [0, 1]: numeric parameters with three or more values by rank (so
    "next to what worked" means one rank away), anything else one-hot; constant parameters dropped."""

    def __init__(self, points: Sequence[dict[str, Any]]):
        self.columns: list[tuple[str, list[Any], bool]] = []
        for key in sorted({k for p in points for k in p}):
            values = _distinct(p.get(key) for p in points)
            if len(values) < 2:
                continue
            ordinal = len(values) >= 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            self.columns.append((key, sorted(values) if ordinal else values, ordinal))

    @property
    def dims(self) -> int:
        return len(self.columns)

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        row: list[float] = []
        for key, values, ordinal in self.columns:
            value = params.get(key)
            if ordinal:
                row.append(values.index(value) / (len(values) - 1))
            else:
                row += [1.0 if value == v else 0.0 for v in values]
        return np.array(row, dtype=float)


def _distinct(values: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


@dataclass
class Observation:
    x: np.ndarray
    objective: float | None  # None: the trial crashed, nothing was measured
    constraint: float  # <= 0 meets the SLOs


def space_filling(candidates: np.ndarray, taken: np.ndarray, rng: random.Random) -> int:
    """The candidate farthest from everything already taken (a greedy maximin design), so the first
    trials span the grid instead of clustering; the very first is random."""
    if len(taken) == 0:
        return rng.randrange(len(candidates))
    gaps = np.abs(candidates[:, None, :] - taken[None, :, :]).sum(axis=2).min(axis=1)
    widest = np.flatnonzero(gaps >= gaps.max() - 1e-12)
    return int(widest[rng.randrange(len(widest))])


def _fit(x: np.ndarray, y: np.ndarray, seed: int, kernel: Any = None) -> GaussianProcessRegressor:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    if kernel is None:
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
            length_scale=np.full(x.shape[1], 0.5), length_scale_bounds=(0.05, 10.0), nu=2.5
        ) + WhiteKernel(1e-2, (1e-6, 1.0))
        model = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
    else:  # a fantasy refit for a pending trial: same hyperparameters, no optimisation
        model = GaussianProcessRegressor(kernel, normalize_y=True, optimizer=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def _probability_feasible(observations: list[Observation], candidates: np.ndarray, seed: int) -> np.ndarray:
    margins = np.clip([o.constraint for o in observations], -INFEASIBLE, INFEASIBLE)
    if np.all(margins <= 0):
        return np.ones(len(candidates))
    if np.all(margins > 0):
        return np.full(len(candidates), 0.5)  # nothing feasible yet: no model of where it is
    model = _fit(np.array([o.x for o in observations]), margins, seed)
    mean, std = model.predict(candidates, return_std=True)
    from scipy.stats import norm

    return norm.cdf(-mean / np.maximum(std, 1e-9))


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    from scipy.stats import norm

    std = np.maximum(std, 1e-9)
    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)


def suggest(
    observations: list[Observation], candidates: np.ndarray, pending: np.ndarray, maximize: bool, seed: int
) -> int:
    """Index of the candidate to try next. Pending trials (running, or chosen earlier in this batch)
    are believed to score what the model predicts for them (the kriging believer), so a batch
    spreads out instead of proposing the same spot N times. Needs two measured observations."""
    sign = 1.0 if maximize else -1.0
    measured = [o for o in observations if o.objective is not None]
    if len(measured) < 2:
        raise ValueError(f"a model needs two measured trials, got {len(measured)}: propose by space_filling until then")
    feasibility = _probability_feasible(observations, candidates, seed)
    # A crash measured nothing; the model sees it as the worst result so far, which keeps expected
    # improvement low next to it (the feasibility model alone is slow to learn a crash boundary).
    worst = min(sign * o.objective for o in measured if o.objective is not None)  # all of them
    x = np.array([o.x for o in observations])
    y = np.array([sign * o.objective if o.objective is not None else worst for o in observations])
    model = _fit(x, y, seed)
    if len(pending):
        x = np.vstack([x, pending])
        y = np.concatenate([y, model.predict(pending)])
        model = _fit(x, y, seed, kernel=model.kernel_)
    mean, std = model.predict(candidates, return_std=True)
    feasible = [sign * o.objective for o in measured if o.objective is not None and o.constraint <= 0]
    if not feasible:
        return int(np.argmax(feasibility * std))  # look for the feasible region where the model knows least
    return int(np.argmax(expected_improvement(mean, std, max(feasible)) * feasibility))
