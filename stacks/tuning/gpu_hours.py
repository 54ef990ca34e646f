"""What each search strategy costs in GPU-hours, against the exhaustive grid, on the recorded surfaces.

    venv/bin/python -m stacks.tuning.gpu_hours [SURFACE.json ...] [--seeds 10] [--budget 1.0] [--within 0 2]
        [--strategies gp tpe random grid] [--bring-up-min 15] [--bench-min 6]

Each strategy is replayed through the real driver (`replay.replay`, as `compare_strategies` does), once per
seed. For every run: the trials it took to first run a point within x % of the grid's best, and what those
trials cost: the sum of each trial's hours x the GPUs of its point. Printed as a Markdown table per surface,
median and [min to max] over the seeds.

A trial's hours and GPUs come from its surface record when it has them (`seconds`, `gpus` beside `params`);
the shipped surfaces have neither, so the model is stated in the output: GPUs = the instance type's GPUs
(components/rules/instances.py) x `replicas` (a trial holds the whole instance whatever its tensor-parallel
size); hours = bring-up + benchmark for a trial that ran, bring-up alone for one that crashed at start.
While every trial costs the same, a strategy's share of the grid's GPU-hours is its share of the grid's
trials, whatever the per-trial time: the ratio column does not depend on the model, the hours do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.rules import instances

from . import grid as grid_mod
from .replay import Surface, load_surface, replay

SURFACES = Path(__file__).resolve().parent / "surfaces"
STRATEGIES = ("gp", "tpe", "random", "grid")
# Defaults of the time model: an endpoint's bring-up on a GPU cluster (image pull and model load,
# docs/deploying.md "Expected durations": 5-30 min, an estimate) and three repeats of a 2-minute
# benchmark (stacks/grids/qwen3-4b-g5.yaml: maxSeconds 120, repeats 3).
BRING_UP_MIN = 15.0
BENCH_MIN = 6.0


@dataclass
class CostModel:
    bring_up_h: float
    bench_h: float
    recorded: dict[str, dict[str, Any]]  # point key -> the surface row (its optional `seconds`, `gpus`)
    instance_type: str

    def gpus(self, surface: Surface, key: str) -> int:
        row = self.recorded.get(key, {})
        if isinstance(row.get("gpus"), (int, float)):
            return int(row["gpus"])
        params = row.get("params", {})
        name = str(params.get("instanceType", self.instance_type))
        found = instances.lookup(name)
        if found is None:
            raise ValueError(
                f"{surface.name}: instance type {name!r} has no GPU count in components/rules/instances.py; Fix: add `gpus` to each point of the surface"
            )
        return found.gpus * int(params.get("replicas", 1))

    def hours(self, surface: Surface, key: str) -> float:
        row = self.recorded.get(key, {})
        if isinstance(row.get("seconds"), (int, float)):
            return float(row["seconds"]) / 3600
        return self.bring_up_h + (0.0 if surface.metrics.get(key) is None else self.bench_h)

    def gpu_hours(self, surface: Surface, keys: list[str]) -> float:
        return sum(self.hours(surface, k) * self.gpus(surface, k) for k in keys)

    def stated(self, surface: Surface) -> str:
        timed = sum(isinstance(r.get("seconds"), (int, float)) for r in self.recorded.values())
        counted = sum(isinstance(r.get("gpus"), (int, float)) for r in self.recorded.values())
        gpus = sorted({self.gpus(surface, k) for k in surface.metrics})
        time = (
            f"per-trial time from the surface ({timed} of {surface.size} points)"
            if timed
            else f"per-trial time modelled: bring-up {self.bring_up_h * 60:g} min + benchmark {self.bench_h * 60:g} min (crash at start: bring-up only)"
        )
        where = "from the surface" if counted else f"{self.instance_type} x replicas"
        return f"{time}; GPUs per trial {'/'.join(map(str, gpus))} ({where})"


def _surface_rows(path: Path) -> tuple[dict[str, dict[str, Any]], str]:
    """The raw rows by point key (load_surface keeps metrics only) and the instance type."""
    doc = json.loads(Path(path).read_text())
    return {grid_mod.point_key(row["params"]): row for row in doc["points"]}, doc["instanceType"]


def _ranked(values: Sequence[float | None]) -> list[float | None]:
    """Ascending, a run that missed (None) after every run that got there."""
    return sorted(values, key=lambda v: float("inf") if v is None else v)


def _median(values: Sequence[float | None]) -> float | None:
    """The lower median over every run; None when that run missed."""
    return _ranked(values)[(len(values) - 1) // 2]


def _spread(values: Sequence[float | None], fmt: str, over: str) -> str:
    """Median [min to max] over every run; a run that missed shows as more than `over`."""
    ranked, median = _ranked(values), _median(values)

    def show(v: float | None) -> str:
        return f"> {over}" if v is None else format(v, fmt)

    if len(set(ranked)) == 1:
        return show(median)
    return f"{show(median)} [{show(ranked[0])} to {show(ranked[-1])}]"


def table(
    surface: Surface,
    model: CostModel,
    seeds: int,
    fraction: float,
    within: list[float],
    strategies: tuple[str, ...] = STRATEGIES,
) -> list[str]:
    """The Markdown lines of one surface's table."""
    budget = max(1, round(surface.size * fraction))
    grid_total = model.gpu_hours(surface, list(surface.metrics))
    runs = {
        s: [replay(surface, s, trials=budget, seed=seed) for seed in range(1 if s == "grid" else seeds)]
        for s in strategies
    }
    lines = [
        (
            f"**{surface.name}**: {surface.size} points, exhaustive grid {surface.size} trials = {grid_total:,.1f} GPU-h; "
            f"{budget} trials per run at most, seeds 0-{seeds - 1} (grid order: one run). {model.stated(surface)}."
        ),
        "",
        "| strategy | within | runs that got there | trials: median [min to max] | GPU-h: median [min to max] | share of the exhaustive grid's GPU-h (median) |",
        "|---|---|---|---|---|---|",
    ]
    for x in within:
        for strategy in strategies:
            reached = [r.trials_to_reach(surface, x / 100) for r in runs[strategy]]
            costs = [
                None if n is None else model.gpu_hours(surface, r.deployed[:n]) for r, n in zip(runs[strategy], reached)
            ]
            spent = max(model.gpu_hours(surface, r.deployed) for r in runs[strategy])
            median = _median(costs)
            share = "-" if median is None else f"{median / grid_total:.0%}"
            lines.append(
                f"| `{strategy}` | {x:g} % | {sum(c is not None for c in costs)}/{len(costs)} | {_spread(reached, 'g', str(budget))} "
                f"| {_spread(costs, ',.1f', f'{spent:,.1f}')} | {share} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.tuning.gpu_hours", description=__doc__.split("\n\n")[0])
    parser.add_argument("surfaces", nargs="*", type=Path, default=sorted(SURFACES.glob("*.json")))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--budget",
        type=float,
        default=1.0,
        help="trials per run, as a fraction of the grid (default 1.0: the whole grid)",
    )
    parser.add_argument(
        "--within", type=float, nargs="+", default=[0.0, 2.0], help="percent of the grid's best (default 0 2)"
    )
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument(
        "--bring-up-min",
        type=float,
        default=BRING_UP_MIN,
        help=f"modelled minutes to bring a trial's endpoint up (default {BRING_UP_MIN:g})",
    )
    parser.add_argument(
        "--bench-min",
        type=float,
        default=BENCH_MIN,
        help=f"modelled minutes of a trial's benchmarks (default {BENCH_MIN:g})",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or not 0 < args.budget <= 1 or min(args.within) < 0:
        parser.error("--seeds must be >= 1, --budget in (0, 1], --within >= 0")
    print(f"python -m stacks.tuning.gpu_hours {' '.join(sys.argv[1:] if argv is None else argv)}\n")
    for path in args.surfaces:
        try:
            surface = load_surface(path)
            rows, instance_type = _surface_rows(path)
            model = CostModel(args.bring_up_min / 60, args.bench_min / 60, rows, instance_type)
            print(
                "\n".join(table(surface, model, args.seeds, args.budget, args.within, tuple(args.strategies))),
                end="\n\n",
                flush=True,
            )
        except (OSError, ValueError) as error:
            print(f"{path}: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
