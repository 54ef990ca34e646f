"""`python -m stacks preflight`: what only AWS knows, before `pulumi up` (stacks/preflight.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Args, Command
from .options import STACK_HELP

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class PreflightArgs(Args):
    stack: str = "dev"

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--stack", "-s", default="dev", help=STACK_HELP)


class PreflightCommand(Command[PreflightArgs]):
    Args = PreflightArgs

    def run(self, args: PreflightArgs, console: Console) -> int:
        from .. import preflight

        return preflight.main(args.stack, console)
