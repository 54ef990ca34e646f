"""What every `python -m stacks` command is: a name and a summary (given by the registry, COMMANDS), a typed
arguments dataclass that declares its own options and is built from the parsed namespace, and one `run`.

Modelled on pip's base command (pypa/pip@26.2.1 src/pip/_internal/cli/base_command.py `Command`: name and
summary from the registry, `run(options, args) -> int`), with argparse sub-parsers instead of optparse.
Light: imported whenever the command line is parsed, so nothing heavy at module level here or in a command
module; each `run` imports what it needs.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from rich.console import Console


class CommandArgs(Protocol):
    """A command's arguments: declares its options, and is built from what argparse parsed."""

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None: ...

    @classmethod
    def from_cli_args(cls, args: argparse.Namespace) -> Any: ...


@dataclasses.dataclass(frozen=True)
class Args:
    """Base of the arguments dataclasses: each field is the parsed option of the same name."""

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    @classmethod
    def from_cli_args(cls, args: argparse.Namespace) -> Any:
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


class UsageError(Exception):
    """The options parsed but do not go together (`prices refresh` without `--region`): argparse's usage
    line and `error: <message>`, exit 2, as for an option argparse itself refuses."""


A = TypeVar("A")


class Command(Generic[A]):
    """One command. Subclasses set `Args` and implement `run`; the registry gives the name and summary."""

    Args: ClassVar[type[CommandArgs]]

    def __init__(self, name: str, summary: str) -> None:
        self.name = name
        self.summary = summary

    def add_to(self, commands: Any) -> argparse.ArgumentParser:
        """This command's sub-parser: its summary, its options and `--debug` after the command too."""
        from benchmarks import exits

        parser: argparse.ArgumentParser = commands.add_parser(self.name, help=self.summary)
        self.Args.add_cli_args(parser)
        # SUPPRESS keeps a `--debug` given before the command name.
        parser.add_argument(exits.DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return parser

    def run(self, args: A, console: Console) -> int:
        raise NotImplementedError
