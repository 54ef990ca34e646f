"""How the tuning strategies compare: each one replayed through the real driver on recorded
response surfaces, side by side, same seeds, same budget.

    venv/bin/python -m benchmarks.search_strategies [SURFACE.json ...] [--seeds 20] [--budget 0.3]

Per surface and strategy: in how many seeds a run of `budget` x the grid's trials found a point
within 2 % (and 5 %) of the optimum, the median number of trials it took to get within 2 %, and
each strategy's 2 % hit count over random order's. Surfaces default to the ones the tests ship
(`tests/tuning/data/`); record your own with `stacks.local_engine.record_surface`. Not run in CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.table import Table

from stacks.tuning.replay import Surface, load_surface, replay

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("gp", "tpe", "random", "grid")


def _median(trials: list[Optional[int]], budget: int) -> str:
    reached = sorted(n if n is not None else budget + 1 for n in trials)
    middle = statistics.median_low(reached)
    return f"> {budget}" if middle > budget else str(middle)


def compare(surface: Surface, seeds: int, fraction: float) -> Table:
    budget = max(1, int(surface.size * fraction))
    optimum = surface.optimum()
    table = Table(title=f"{surface.name}: {surface.size} points, optimum {optimum:.1f}, {budget} trials per run, {seeds} seeds")
    for column in ("strategy", "within 2 %", "within 5 %", "median trials to 2 %", "2 % hits / random's"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    rows = {}
    for strategy in STRATEGIES:
        runs = [replay(surface, strategy, trials=budget, seed=seed) for seed in range(1 if strategy == "grid" else seeds)]
        hit2 = sum(r.best is not None and r.best >= 0.98 * optimum for r in runs) * (seeds if strategy == "grid" else 1)
        hit5 = sum(r.best is not None and r.best >= 0.95 * optimum for r in runs) * (seeds if strategy == "grid" else 1)
        rows[strategy] = (hit2, hit5, _median([r.trials_to_reach(surface, 0.02) for r in runs], budget))
    for strategy, (hit2, hit5, median) in rows.items():
        ratio = f"{hit2 / rows['random'][0]:.1f}x" if rows["random"][0] else ("-" if not hit2 else "inf")
        table.add_row(strategy, f"{hit2}/{seeds}", f"{hit5}/{seeds}", median, ratio)
    return table


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_strategies", description=__doc__.split("\n\n")[0])
    parser.add_argument("surfaces", nargs="*", type=Path, default=sorted((ROOT / "tests" / "tuning" / "data").glob("*.json")))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=0.3, help="trials per run, as a fraction of the grid (default 0.3)")
    args = parser.parse_args(argv)
    console = Console(width=max(110, Console().width))
    for path in args.surfaces:
        console.print(compare(load_surface(path), args.seeds, args.budget))
    return 0


if __name__ == "__main__":
    sys.exit(main())
