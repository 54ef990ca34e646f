"""Search strategies: exhaustive grid, random order, and two model-based ones.

`gp`: Bayesian optimisation with a Gaussian process over the grid (see `surrogate`): a space-filling
start, then the untried point of highest expected improvement times probability of meeting the SLOs.
`tpe`: Optuna's TPE over parameter ranks; after its random start, every other proposal is the best
untried neighbour of the incumbent (one rank along one parameter), TPE choosing the rest.

Every strategy proposes grid points; the driver deploys them and tells the result back. Pruned points
and trials that crashed (out of memory, failed state) are infeasible: the models learn to avoid their
region through a constraint, and nothing infeasible is proposed twice.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import optuna

from . import surrogate
from .grid import GridSpec, Point, make_point, parameter_values, point_key
from .store import TrialRecord

optuna.logging.set_verbosity(logging.WARNING)


def objective_value(record: TrialRecord, grid: GridSpec) -> float | None:
    return record.value(grid.objective.metric) if record.status == "succeeded" else None


def slo_excess(record: TrialRecord, grid: GridSpec) -> float | None:
    """The worst relative excess over the SLO bounds (negative: inside them all; -1 with no SLOs);
    None for a trial that measured nothing to compare (crashed, failed, a metric missing)."""
    values = {metric: record.value(metric) for metric in grid.slo}
    known = {m: v for m, v in values.items() if v is not None}
    if record.status != "succeeded" or len(known) < len(values):
        return None
    return max(((known[m] - bound) / bound if bound else known[m] for m, bound in grid.slo.items()), default=-1.0)


def constraint(record: TrialRecord, grid: GridSpec) -> float:
    """Optuna's constraint, <= 0 feasible: SLO misses by their relative excess, anything that did not run 1."""
    excess = slo_excess(record, grid)
    return 1.0 if excess is None else max(0.0, excess)


def slo_margin(record: TrialRecord, grid: GridSpec) -> float:
    """The `gp` model's constraint: how far inside (< 0) or outside (> 0) the SLOs a trial landed, in
    [-1, 1]; a trial that did not run is as far outside as it gets."""
    excess = slo_excess(record, grid)
    return surrogate.INFEASIBLE if excess is None else max(-1.0, min(surrogate.INFEASIBLE, excess))


class Strategy:
    """Base: a fixed order over the feasible points (grid)."""

    name = "grid"

    def __init__(self, grid: GridSpec, points: list[Point], known: dict[str, TrialRecord], study: optuna.Study):
        self.grid = grid
        self.points = points
        self.known = known  # key -> finished record (this run, earlier invocations included)
        self.study = study
        self.order = [p for p in points if not p.pruned]

    def propose(self, n: int, in_flight: set[str]) -> list[Point]:
        out: list[Point] = []
        for point in self.order:
            if len(out) == n:
                break
            if point.key not in self.known and point.key not in in_flight:
                out.append(point)
        return out

    def tell(self, point: Point, record: TrialRecord) -> None:
        self.known[point.key] = record
        log_trial(self.study, self.grid, point, record)

    def withdraw(self, point: Point) -> None:
        """A proposed point another worker of a shared study holds or finished: nothing was deployed."""


class RandomStrategy(Strategy):
    name = "random"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        random.Random(self.grid.seed).shuffle(self.order)


class TpeStrategy(Strategy):
    name = "tpe"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.by_key = {p.key: p for p in self.points}
        self.pending: dict[str, optuna.trial.Trial] = {}
        self.rng = random.Random(self.grid.seed)
        self.startup = startup_trials(self.grid)

    def propose(self, n: int, in_flight: set[str]) -> list[Point]:
        out: list[Point] = []
        stale = 0  # proposals in a row that were pruned, known or taken
        while len(out) < n:
            unseen = self._unseen(in_flight, out)
            if not unseen:
                break
            refine = self._refinement(in_flight, out)
            if refine is not None:
                self.study.enqueue_trial(encode(self.grid, refine.params))
            elif stale >= 10:
                # TPE keeps proposing what it knows (a small grid): hand it an unseen point.
                self.study.enqueue_trial(encode(self.grid, self.rng.choice(unseen).params))
                stale = 0
            trial = self.study.ask(distributions(self.grid))
            params = decode(self.grid, trial.params)
            point = self.by_key.get(point_key(params)) or make_point(self.grid, params)
            if point.pruned:
                self._tell_known(trial, TrialRecord("", point.key, point.params, "pruned", error=_reasons(point)))
            elif point.key in self.known:
                self._tell_known(trial, self.known[point.key])  # teaches TPE again; costs no deployment
            elif point.key in in_flight or any(p.key == point.key for p in out):
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                self.pending[point.key] = trial
                out.append(point)
                stale = 0
                continue
            stale += 1
        return out

    def _refinement(self, in_flight: set[str], chosen: list[Point]) -> Point | None:
        """Every other proposal after the random start: the best untried neighbour of the incumbent
        (one step along one parameter). TPE finds the good region; on a small grid whose response is
        smooth in each parameter, the optimum is usually next to the best point seen so far."""
        measured = [r for r in self.known.values() if r.status == "succeeded"]
        if len(measured) < self.startup or (len(self.known) + len(in_flight) + len(chosen)) % 2:
            return None
        feasible = [r for r in measured if constraint(r, self.grid) <= 0] or measured
        sign = 1 if self.grid.objective.sense == "maximize" else -1
        best = max(feasible, key=lambda r: sign * (objective_value(r, self.grid) or 0.0))
        taken = {p.key for p in chosen} | in_flight | set(self.known)
        for params in neighbours(self.grid, best.params):
            point = self.by_key.get(point_key(params))
            if point is not None and not point.pruned and point.key not in taken:
                return point
        return None

    def _unseen(self, in_flight: set[str], chosen: list[Point]) -> list[Point]:
        taken = {p.key for p in chosen} | in_flight | set(self.known)
        return [p for p in self.order if p.key not in taken]

    def _tell_known(self, trial: optuna.trial.Trial, record: TrialRecord) -> None:
        trial.set_constraint("feasible", constraint(record, self.grid))
        trial.set_user_attr("status", record.status)
        self.study.tell(trial, objective_value(record, self.grid) if record.status == "succeeded" else worst(self.grid))

    def withdraw(self, point: Point) -> None:
        trial = self.pending.pop(point.key, None)
        if trial is not None:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def tell(self, point: Point, record: TrialRecord) -> None:
        self.known[point.key] = record
        trial = self.pending.pop(point.key, None)
        if trial is not None:
            self._tell_known(trial, record)


class GpStrategy(Strategy):
    name = "gp"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.features = surrogate.Features([p.params for p in self.order])
        self.vectors = {p.key: self.features.encode(p.params) for p in self.order}
        self.rng = random.Random(self.grid.seed)
        self.startup = gp_startup_trials(self.grid, self.features.dims)
        self.width = len(next(iter(self.vectors.values()), []))

    def propose(self, n: int, in_flight: set[str]) -> list[Point]:
        if not self.features.dims:  # one point, or all points alike: nothing to model, grid order
            return super().propose(n, in_flight)
        # What is known does not change while a batch is proposed: only the pending points grow.
        tried = [r for r in self.known.values() if r.status != "pruned" and r.key in self.vectors]
        observations = [
            surrogate.Observation(self.vectors[r.key], objective_value(r, self.grid), slo_margin(r, self.grid))
            for r in tried
        ]
        measured = sum(o.objective is not None for o in observations)
        earlier = np.array([o.x for o in observations]).reshape(-1, self.width)
        out: list[Point] = []
        while len(out) < n:
            taken = in_flight | {p.key for p in out}
            unseen = [p for p in self.order if p.key not in self.known and p.key not in taken]
            if not unseen:
                break
            candidates = np.array([self.vectors[p.key] for p in unseen])
            pending = np.array([self.vectors[k] for k in sorted(taken) if k in self.vectors]).reshape(-1, self.width)
            if len(tried) + len(taken) < self.startup or measured < 2:
                # The start, or nothing to model yet (every trial crashed): spread out, away from all tried.
                pick = surrogate.space_filling(candidates, np.vstack([earlier, pending]), self.rng)
            else:
                pick = surrogate.suggest(
                    observations, candidates, pending, self.grid.objective.sense == "maximize", self.grid.seed
                )
            out.append(unseen[pick])
        return out


def gp_startup_trials(grid: GridSpec, dims: int) -> int:
    """Space-filling trials before the model proposes: two per parameter, 4 to 10, and no more than
    half a trial budget."""
    count = min(10, max(4, 2 * dims))
    return min(count, max(2, grid.budget.trials // 2)) if grid.budget.trials else count


def _reasons(point: Point) -> str:
    return "; ".join(str(p) for p in point.problems if p.severity == "error")


def worst(grid: GridSpec) -> float:
    return 0.0 if grid.objective.sense == "maximize" else 1e12


def _ordinal(values: list[Any]) -> bool:
    """Numeric parameters with an order worth modelling (max_num_seqs 8..256): TPE sees their rank,
    so "more of what worked" means something; as categories every value would be unrelated."""
    return len(values) >= 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def search_space(grid: GridSpec) -> dict[str, list[Any]]:
    return {k: sorted(v) if _ordinal(v) else list(v) for k, v in sorted(parameter_values(grid).items())}


def distributions(grid: GridSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    return {
        k: optuna.distributions.IntDistribution(0, len(v) - 1)
        if _ordinal(v)
        else optuna.distributions.CategoricalDistribution(v)
        for k, v in search_space(grid).items()
    }


def encode(grid: GridSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Grid values -> the study's parameters (ranks for ordinal parameters)."""
    space = search_space(grid)
    return {k: space[k].index(v) if _ordinal(space[k]) else v for k, v in params.items()}


def decode(grid: GridSpec, params: dict[str, Any]) -> dict[str, Any]:
    space = search_space(grid)
    return {k: space[k][v] if _ordinal(space[k]) else v for k, v in params.items()}


def neighbours(grid: GridSpec, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Points one step away along one parameter: the next rank up or down for ordinal parameters,
    any other value for categorical ones."""
    space = search_space(grid)
    out = []
    for key, values in space.items():
        if key not in params:
            continue
        here = values.index(params[key])
        steps = [here - 1, here + 1] if _ordinal(values) else [i for i in range(len(values)) if i != here]
        out += [{**params, key: values[i]} for i in steps if 0 <= i < len(values)]
    return out


def startup_trials(grid: GridSpec) -> int:
    n_points = 1
    for values in parameter_values(grid).values():
        n_points *= len(values)
    return max(3, min(10, n_points // 12))


def make_study(grid: GridSpec, run: str, storage: str | None) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(
        seed=grid.seed,
        n_startup_trials=startup_trials(grid),
        multivariate=True,  # constraints come from Trial.set_constraint (Optuna 5)
    )
    return optuna.create_study(
        study_name=run, storage=storage, sampler=sampler, direction=grid.objective.sense, load_if_exists=True
    )


def log_trial(study: optuna.Study, grid: GridSpec, point: Point, record: TrialRecord) -> None:
    """Grid and random runs are logged into the study too, so optuna-dashboard shows every run."""
    value = objective_value(record, grid)
    study.add_trial(
        optuna.trial.create_trial(
            params=encode(grid, point.params),
            distributions=distributions(grid),
            value=value if value is not None else worst(grid),
            user_attrs={"status": record.status},
            constraints={"feasible": constraint(record, grid)},
        )
    )


STRATEGIES = {"grid": Strategy, "random": RandomStrategy, "tpe": TpeStrategy, "gp": GpStrategy}


def make(
    name: str, grid: GridSpec, points: list[Point], known: dict[str, TrialRecord], study: optuna.Study
) -> Strategy:
    return STRATEGIES[name](grid, points, known, study)
