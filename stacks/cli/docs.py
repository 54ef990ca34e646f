"""`python -m stacks docs`: the generated pages (stacks/docs.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Args, Command

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class DocsArgs(Args):
    check: bool = False

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="write nothing; exit 1 when a generated file is out of date"
        )


class DocsCommand(Command[DocsArgs]):
    Args = DocsArgs

    def run(self, args: DocsArgs, console: Console) -> int:
        from .. import docs

        return docs.main(args.check)
