"""Replay a recorded response surface through the real driver: every strategy proposes, is told
and reports exactly as in a live run, but a trial's "deployment" looks its point up in the file.

Surfaces are what `stacks.local_engine.record_surface` exports (or any file of that shape):
`{instanceType, objective, slo, points: [{params, metrics | null}]}`; null metrics are a crash.
Used by the strategy tests and `stacks/tuning/compare_strategies.py` to compare strategies offline.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from benchmarks import inputs

from . import grid as grid_mod
from . import report
from .deploy import Endpoint, EndpointFailed
from .driver import Driver
from .measure import Measurement, aggregate
from .store import TrialStore

MAX_SURFACE_BYTES = 64 * 1024 * 1024  # a recorded surface is tens of kilobytes (one line per grid point)


@dataclass
class Surface:
    name: str
    grid: grid_mod.GridSpec
    metrics: dict[str, dict[str, float] | None]  # point key -> metrics (None: crashed)
    source: str

    @property
    def size(self) -> int:
        return len(self.metrics)

    def meets_slo(self, metrics: dict[str, float] | None) -> TypeGuard[dict[str, float]]:
        """The point ran and is within every SLO bound."""
        return metrics is not None and bool(metrics) and all(metrics[k] <= bound for k, bound in self.grid.slo.items())

    def optimum(self) -> float:
        """The best objective value among points that ran and meet every SLO."""
        sign = 1 if self.grid.objective.sense == "maximize" else -1
        feasible = [m[self.grid.objective.metric] for m in self.metrics.values() if self.meets_slo(m)]
        if not feasible:
            raise ValueError(
                f"surface {self.name}: no point ran and met the SLOs {self.grid.slo}; there is no optimum to find"
            )
        return sign * max(sign * v for v in feasible)


def load_surface(path: Path) -> Surface:
    """A surface file as a grid (its points' values) and each point's metrics. Raises ValueError
    naming the file and what is missing."""
    fix = "export one with stacks.local_engine.record_surface"
    try:
        doc = inputs.loads_json(
            inputs.read_text(path, max_bytes=MAX_SURFACE_BYTES, what="response surface", fix=fix), str(path), fix
        )
    except inputs.InputError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a response surface: a JSON object was expected; Fix: {fix}")
    missing = [key for key in ("instanceType", "objective", "points") if key not in doc]
    if missing or not all(
        isinstance(row, dict) and "params" in row and "metrics" in row for row in doc.get("points", [])
    ):
        raise ValueError(
            f"{path}: not a response surface: needs instanceType, objective and points of {{params, metrics}} (missing: {', '.join(missing) or 'params/metrics in a point'}); export one with stacks.local_engine.record_surface"
        )
    values = grid_mod.distinct_values(row["params"] for row in doc["points"])
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": Path(path).stem,
            "base": {
                "name": "surface",
                "model": "org/model",
                "engine": "vllm",
                "instanceType": doc["instanceType"],
                "modelSource": {"type": "s3", "bucket": "bkt"},
            },
            "parameters": values,
            "objective": {
                "metric": doc["objective"],
                **({"direction": doc["direction"]} if "direction" in doc else {}),
            },
            "slo": doc.get("slo", {}),
        }
    )
    metrics = {grid_mod.point_key(row["params"]): row["metrics"] for row in doc["points"]}
    return Surface(Path(path).stem, grid, metrics, doc.get("source", ""))


class ReplayDeployer:
    """Deploys nothing: each trial's endpoint URL carries its key, so the measurer can look it up.
    Points recorded as crashed (metrics null) fail like an engine that exits at start."""

    def __init__(self, metrics: dict[str, dict[str, float] | None]):
        self.metrics = metrics
        self.deployed: list[str] = []  # keys, in the order the strategy chose them
        self.live: set[str] = set()

    def start(self, key: str, spec: Any) -> str:
        self.deployed.append(key)
        self.live.add(key)
        return key

    def wait_ready(self, handle: str, timeout: float, stop: threading.Event) -> Endpoint:
        if self.metrics.get(handle) is None:
            raise EndpointFailed("engine exited with code 1 (recorded crash)")
        return Endpoint(f"replay://{handle}", "org/model")

    def stop(self, handle: str | None) -> None:
        self.live.discard(handle)

    def log_path(self, handle: Any) -> None:
        return None

    def describe(self, handle: Any) -> None:
        return None

    def cleanup(self, described: str) -> None:
        pass


class ReplayMeasurer:
    def __init__(self, metrics: dict[str, dict[str, float] | None], slo: dict[str, float]):
        self.metrics = metrics
        self.slo = slo

    def measure(self, endpoint: Endpoint, stop: threading.Event, **_: Any) -> Measurement:
        metrics = self.metrics[endpoint.base_url.split("://", 1)[1]]
        assert metrics is not None  # wait_ready failed a point that did not run
        agg = aggregate([metrics])
        return Measurement(agg, [metrics], all(agg[m]["mean"] <= b for m, b in self.slo.items()), 1)


@dataclass
class ReplayResult:
    best: float | None  # the objective of the best trial under the SLOs the report picks
    deployed: list[str]  # point keys in trial order
    live: set[str]  # endpoints left running (must be empty)

    def trials_to_reach(self, surface: Surface, within: float) -> int | None:
        """How many trials it took to first run a point within `within` (0.02 = 2 %) of the optimum."""
        target = surface.optimum()
        sign = 1 if surface.grid.objective.sense == "maximize" else -1
        for n, key in enumerate(self.deployed, start=1):
            m = surface.metrics.get(key)
            if surface.meets_slo(m) and sign * (m[surface.grid.objective.metric] - target) >= -within * abs(target):
                return n
        return None


def replay(
    surface: Surface, strategy: str, trials: int | None = None, seed: int = 0, db: Path | None = None
) -> ReplayResult:
    """One tuning run of `strategy` over the surface, `trials` at most, in a throwaway database
    unless `db` is given."""
    grid = surface.grid.model_copy(
        update={"strategy": strategy, "seed": seed, "budget": grid_mod.Budget(trials=trials)}
    )
    deployer = ReplayDeployer(surface.metrics)
    with tempfile.TemporaryDirectory(prefix="replay-") as scratch:
        store = TrialStore(db or Path(scratch) / "replay.db")
        try:
            summary = Driver(grid, store, deployer, ReplayMeasurer(surface.metrics, grid.slo)).run()
        finally:
            store.close()
        best = report.verdict(summary.records, grid).best
    return ReplayResult(best.value(grid.objective.metric) if best else None, deployer.deployed, deployer.live)
