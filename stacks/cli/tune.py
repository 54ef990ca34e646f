"""`python -m stacks tune`: deploy and benchmark each point of a grid (stacks/tuning/cli.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..tuning.strategy_names import STRATEGY_NAMES
from .base import Args, Command

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class TuneArgs(Args):
    grid: str
    target: Literal["pulumi", "local"] | None = None
    workers: int | None = None
    parallel: int | None = None
    heartbeat: int | None = None
    max_error_rate: float | None = None
    db: str | None = None
    strategy: str | None = None
    dry_run: bool = False
    verbose: bool = False
    out: str | None = None
    all: bool = False

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        from ..tuning.cliargs import error_rate, heartbeat_seconds, positive_int

        parser.add_argument("grid", help="grid spec YAML (see stacks/grids/)")
        parser.add_argument(
            "--target", choices=["pulumi", "local"], help="where trials run (default: the grid's target)"
        )
        parser.add_argument(
            "--workers",
            type=positive_int,
            help="trials at once from this process, 1 to this machine's cores (default: the grid's parallel)",
        )
        parser.add_argument("--parallel", type=positive_int, help="the older name of --workers")
        parser.add_argument(
            "--heartbeat",
            type=heartbeat_seconds,
            help="with a shared --db: seconds between this worker's heartbeats; a trial 3 beats late is retried elsewhere (default: 20)",
        )
        parser.add_argument(
            "--max-error-rate",
            type=error_rate,
            help="fraction of failed requests above which a load level fails its trial (default: the grid's benchmark.maxErrorRate, 0.05)",
        )
        parser.add_argument(
            "--db",
            help="SQLite results file (default: tuning-runs/<grid name>.db), or postgresql://USER@HOST/DB shared by several workers (password from PGPASSWORD or ~/.pgpass)",
        )
        parser.add_argument("--strategy", choices=list(STRATEGY_NAMES), help="search strategy (default: the grid's)")
        parser.add_argument(
            "--dry-run", action="store_true", help="expand, prune and plan each point offline; deploy nothing"
        )
        parser.add_argument(
            "--verbose",
            "-v",
            action="store_true",
            help="list each pruned point (and, with --dry-run, each passed plan), not only one line per cause",
        )
        parser.add_argument("--out", help="report directory (default: next to the database)")
        parser.add_argument("--all", action="store_true", help="list every pruned point (same as --verbose)")


class TuneCommand(Command[TuneArgs]):
    Args = TuneArgs

    def run(self, args: TuneArgs, console: Console) -> int:
        from ..tuning import cli

        return cli.tune(args, console)
