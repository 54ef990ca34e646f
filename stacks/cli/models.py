"""`python -m stacks models lock`: model facts for the fit rule (stacks/models/); its arguments are stacks/models/args.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models.args import LockArgs
from .base import Command

if TYPE_CHECKING:
    from rich.console import Console


class ModelsCommand(Command[LockArgs]):
    Args = LockArgs

    def run(self, args: LockArgs, console: Console) -> int:
        from ..models import cli

        return cli.run(args, console)
