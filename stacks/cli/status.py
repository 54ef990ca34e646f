"""`python -m stacks status`: each endpoint's live state (stacks/live/); its arguments are stacks/live/args.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..live.args import StatusArgs
from .base import Command

if TYPE_CHECKING:
    from rich.console import Console


class StatusCommand(Command[StatusArgs]):
    Args = StatusArgs

    def run(self, args: StatusArgs, console: Console) -> int:
        from ..live import status

        return status.main(args, console)
