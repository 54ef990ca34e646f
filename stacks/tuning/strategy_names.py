"""The search strategies' names, for what must know them without importing them: the grid schema, the command
line, messages (light: no Optuna, no NumPy; imported whenever the command line is parsed).

The registry is `STRATEGIES` in stacks/tuning/strategies.py (name -> class); it imports the grid, so the grid
cannot import it (no import cycle, tests/stack/test_architecture.py), and it imports Optuna (1 s), which the
command line must not wait for. tests/tuning/test_strategy_names.py holds these names to that registry.
"""

from __future__ import annotations

STRATEGY_NAMES = ("grid", "random", "tpe", "gp")
# Strategies that try every point in turn; the others sample (seeded) within budget.trials.
EXHAUSTIVE = ("grid",)
# Strategies that model the response surface from value lists; `points` (an explicit list) cannot feed TPE.
NEEDS_PARAMETERS = ("tpe",)


def listed(names: tuple[str, ...] | list[str], last: str = "or") -> str:
    """`grid, random or gp`."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def without(*excluded: str) -> tuple[str, ...]:
    return tuple(name for name in STRATEGY_NAMES if name not in excluded)
