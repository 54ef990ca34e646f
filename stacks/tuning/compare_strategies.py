"""How the tuning strategies compare: each one replayed through the real driver on recorded
response surfaces, side by side, same seeds, same budget.

    venv/bin/python -m stacks.tuning.compare_strategies [SURFACE.json ...] [--seeds 20] [--budget 0.3]

Per surface and strategy: in how many seeds a run of `budget` x the grid's trials found a point
within 2 % (and 5 %) of the optimum, the median number of trials it took to get within 2 %, and
how many times fewer that is than random order's median. Surfaces default to the ones shipped in
`stacks/tuning/surfaces/` (the strategy tests replay them too); record your own with
`stacks.local_engine.record_surface`. Not run in CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stacks.tuning import strategies
from stacks.tuning.replay import Surface, load_surface, replay

SURFACES = Path(__file__).resolve().parent / "surfaces"
# Every registered strategy, the model-based ones first (the registry lists the simplest first).
STRATEGIES = tuple(reversed(strategies.STRATEGIES))


def _median(trials: list[int | None], budget: int) -> int:
    """The median seed's trials to get within 2 %; budget + 1 stands for "not within the budget"."""
    return statistics.median_low(n if n is not None else budget + 1 for n in trials)


def compare(surface: Surface, seeds: int, fraction: float) -> Table:
    budget = max(1, int(surface.size * fraction))
    optimum = surface.optimum()
    table = Table(
        title=f"{surface.name}: {surface.size} points, optimum {optimum:.1f}, {budget} trials per run, {seeds} seeds"
    )
    for column in ("strategy", "within 2 %", "within 5 %", "median trials to 2 %", "speed-up over random"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    rows = {}
    for strategy in STRATEGIES:
        # Exhaustive grid has one order: one run stands for every seed.
        runs = [
            replay(surface, strategy, trials=budget, seed=seed) for seed in range(1 if strategy == "grid" else seeds)
        ]
        runs = runs * (seeds // len(runs))
        hit2 = sum(r.best is not None and r.best >= 0.98 * optimum for r in runs)
        hit5 = sum(r.best is not None and r.best >= 0.95 * optimum for r in runs)
        rows[strategy] = (hit2, hit5, _median([r.trials_to_reach(surface, 0.02) for r in runs], budget))
    random_median = rows["random"][2]
    for strategy, (hit2, hit5, median) in rows.items():
        if median > budget:
            shown, speedup = f"> {budget}", "-"
        else:
            # Median trials, random order's over this one's; "at least" when random's ran out of budget.
            shown, speedup = str(median), f"{'>= ' if random_median > budget else ''}{random_median / median:.1f}x"
        table.add_row(strategy, f"{hit2}/{seeds}", f"{hit5}/{seeds}", shown, speedup)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stacks.tuning.compare_strategies", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("surfaces", nargs="*", type=Path, default=sorted(SURFACES.glob("*.json")))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument(
        "--budget", type=float, default=0.3, help="trials per run, as a fraction of the grid (default 0.3)"
    )
    args = parser.parse_args(argv)
    console = Console(width=max(110, Console().width))
    for path in args.surfaces:
        try:
            console.print(compare(load_surface(path), args.seeds, args.budget))
        except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
            console.print(f"[red]{error}[/red]")
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
