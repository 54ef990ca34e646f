"""`python -m stacks report`: a tuning run's report (stacks/tuning/cli.py, stacks/tuning/report.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Args, Command

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class ReportArgs(Args):
    db: str
    out: str | None = None
    run: str | None = None
    export_capacity: str | None = None

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--db",
            required=True,
            help="SQLite results file of `stacks tune`, or the postgresql:// URL its workers shared",
        )
        parser.add_argument("--out", help="report directory (default: <db>-report)")
        parser.add_argument("--run", help="run name when the file holds several (default: the latest)")
        parser.add_argument(
            "--export-capacity",
            metavar="DIR",
            help="also write one capacity file per configuration into DIR (rule C1: set an endpoint's capacity: to one)",
        )


class ReportCommand(Command[ReportArgs]):
    Args = ReportArgs

    def run(self, args: ReportArgs, console: Console) -> int:
        from ..tuning import cli

        return cli.report(args, console)
