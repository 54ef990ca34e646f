"""Grid spec files: what to tune, how to measure, what "best" means, and what it may cost.

Reading a file is here; the schema is stacks/tuning/grid_spec.py, what the schema alone cannot see
stacks/tuning/grid_checks.py, the points and their pruning stacks/tuning/grid_points.py. The names below
are this module's public face (`from .grid import GridSpec, expand`, `grid_mod.load`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from benchmarks import secrets
from components.rules import ConfigError, Problem
from stacks.yamlio import YamlInputError, load_file

from .grid_checks import check, grid_problem, with_overrides
from .grid_points import (
    Point,
    apply,
    distinct_values,
    dpd_shape,
    endpoint_params,
    expand,
    make_point,
    parameter_values,
    point_benchmark,
    point_key,
)
from .grid_spec import METRICS, STAND_IN_NOTE, Benchmark, Budget, GridSpec, LocalTarget, PulumiTarget, Range

__all__ = [
    "METRICS",
    "STAND_IN_NOTE",
    "Benchmark",
    "Budget",
    "GridSpec",
    "LocalTarget",
    "Point",
    "PulumiTarget",
    "Range",
    "apply",
    "distinct_values",
    "dpd_shape",
    "endpoint_params",
    "expand",
    "load",
    "make_point",
    "parameter_values",
    "point_benchmark",
    "point_key",
    "with_overrides",
]


def load(path: str | Path) -> GridSpec:
    """Parse a grid file; every problem at once, as ConfigError lines."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            [
                Problem(
                    str(path), None, "CONFIG", "grid file not found", "give the path of a grid YAML (see stacks/grids/)"
                )
            ]
        )
    try:
        raw = load_file(path)
    except YamlInputError as exc:
        message, _, fix = str(exc).partition("; Fix: ")
        raise ConfigError(
            [Problem(str(path), None, "CONFIG", message.removeprefix(f"{path}: "), fix or "fix the YAML syntax")]
        ) from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(
            [
                Problem(
                    str(path),
                    type(raw).__name__,
                    "CONFIG",
                    "a grid file is a YAML map",
                    "start from a grid in stacks/grids/",
                )
            ]
        )
    secrets.collect(raw)  # `local.env` tokens, keys, URL credentials: registered before any line can quote them
    try:
        grid = GridSpec.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError([grid_problem(err) for err in exc.errors()]) from None
    check(grid)
    return grid
