"""`python -m stacks charts`: the local copy of the HyperPod Helm chart (stacks/charts.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .base import Command
from .pinned_cache import CacheArgs, pinned_command

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class ChartsArgs(CacheArgs):
    FETCH_HELP: ClassVar[str] = "download the pinned chart"


class ChartsCommand(Command[ChartsArgs]):
    Args = ChartsArgs

    def run(self, args: ChartsArgs, console: Console) -> int:
        from .. import charts

        cache = charts.CACHE_ROOT / charts.HYPERPOD_CHART
        return pinned_command(
            console,
            args.action,
            charts.find_chart_dir,
            charts.ENV_VAR,
            charts.fetch_chart,
            "the HyperPod chart comes",
            "chart",
            cache,
        )
