"""Before a `--target pulumi` run deploys anything: drop the instance types of a grid the account cannot
get (not offered in the region, or over its quota; `stacks/preflight.py` does the checking)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.rules import ConfigError, Problem

from .cost import service
from .grid import GridSpec, expand, with_overrides

KEY = "instanceType"


def wanted(grid: GridSpec) -> dict[str, int]:
    """Instance type -> the most instances one trial of it runs (its replicas), over the grid's points."""
    out: dict[str, int] = {}
    for point in expand(grid):
        if not point.pruned and point.spec is not None and KEY in point.params:
            out[point.spec.instance_type] = max(out.get(point.spec.instance_type, 0), max(point.spec.replicas, 1))
    return out


def drop(grid: GridSpec, reasons: dict[str, str]) -> GridSpec:
    """The grid without the points of the instance types in `reasons`; ConfigError when none is left."""
    gone = {t.lower() for t in reasons}
    why = "; ".join(f"{t}: {r}" for t, r in sorted(reasons.items()))
    if grid.points:
        kept = [p for p in grid.points if str(p.get(KEY, "")).lower() not in gone]
        change: dict[str, Any] = {"points": kept}
        empty = not kept
    else:
        values = [v for v in grid.parameters[KEY] if str(v).lower() not in gone]
        change = {"parameters": {**grid.model_dump(mode="json", by_alias=True)["parameters"], KEY: values}}
        empty = not values
    if empty:
        raise ConfigError(
            [
                Problem(
                    f"parameters.{KEY}",
                    sorted(reasons),
                    "PREFLIGHT",
                    f"the account can get none of the grid's instance types ({why})",
                    "request a quota increase in Service Quotas, or tune other instance types or another region",
                )
            ]
        )
    return with_overrides(grid, change)


def check(
    grid: GridSpec,
    region: str,
    unobtainable: Callable[[dict[str, int], bool, str], dict[str, str]],
    say: Callable[[str], None],
) -> GridSpec:
    """`grid` minus what the account cannot get, one printed line per dropped type."""
    if not (grid.points and any(KEY in p for p in grid.points)) and KEY not in grid.parameters:
        return grid
    reasons = unobtainable(wanted(grid), service(grid) == "sagemaker-hyperpod", region)
    for t, why in sorted(reasons.items()):
        say(f"preflight: dropped instanceType {t}: {why}")
    return drop(grid, reasons) if reasons else grid
