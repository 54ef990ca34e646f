"""`python -m stacks prices`: the dated price snapshot (stacks/prices/)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .base import Args, Command, UsageError

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class PricesArgs(Args):
    action: Literal["show", "refresh"] = "show"
    region: str | None = None
    out: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        from ..tuning.cliargs import positive_seconds

        parser.add_argument(
            "action",
            choices=["show", "refresh"],
            help="show: each price with its source and date, and the gaps; refresh: read the prices of every instance type in the instance table",
        )
        parser.add_argument(
            "--region", help="AWS region, e.g. us-east-1 (required by refresh; show without it: every snapshot)"
        )
        parser.add_argument("--out", help="refresh: directory for <region>.json (default: stacks/prices/)")
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            default=DEFAULT_TIMEOUT,
            help="refresh: wall-clock seconds for each service's query, all its pages (default: 300)",
        )


class PricesCommand(Command[PricesArgs]):
    Args = PricesArgs

    def run(self, args: PricesArgs, console: Console) -> int:
        if args.action == "show":
            from ..prices import show

            return show.main(args.region, console)
        if not args.region:
            raise UsageError("prices refresh needs --region, e.g. --region us-east-1")
        from ..prices import refresh

        return refresh.main(args.region, console, Path(args.out) if args.out else None, timeout=args.timeout)
