"""The command registry of `python -m stacks` (stacks/cli/__init__.py COMMANDS, after pip's `commands_dict`,
pypa/pip@26.2.1 src/pip/_internal/commands/__init__.py): every command is a module with a typed arguments
dataclass and one `run`, its `--help` works, `--debug` is accepted after its name, and a command added with one
line in COMMANDS runs with its command errors mapped in the one place (stacks/cli/__init__.py run_command)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import sys
import types
from dataclasses import dataclass

import pytest

from benchmarks import exits
from benchmarks.inputs import InputError
from stacks import cli
from stacks.cli.base import Args, Command, UsageError

EXPECTED = ["plan", "check", "tune", "report", "crds", "charts", "preflight", "status", "prices", "models", "docs"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _minimal_argv(parser: argparse.ArgumentParser) -> list[str]:
    """What the command needs to parse: a value for each positional and each required option."""
    argv: list[str] = []
    for action in parser._actions:
        value = str(next(iter(action.choices))) if action.choices else "x"
        if not action.option_strings:
            argv.append(value)
        elif action.required:
            argv += [action.option_strings[0], value]
    return argv


def test_the_registry_lists_every_command_in_help_order():
    assert list(cli.COMMANDS) == EXPECTED
    assert list(_subparsers(cli.build_parser())) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_every_command_has_an_args_dataclass_and_a_run(name):
    command = cli.create_command(name)
    assert isinstance(command, Command)
    assert command.name == name and command.summary == cli.COMMANDS[name].summary
    assert dataclasses.is_dataclass(command.Args)
    assert callable(command.Args.add_cli_args) and callable(command.Args.from_cli_args)
    assert type(command).run is not Command.run, f"{name} does not implement run"


@pytest.mark.parametrize("name", EXPECTED)
def test_every_command_takes_debug_after_its_name_and_builds_its_args(name):
    parser = cli.build_parser()
    argv = [name, *_minimal_argv(_subparsers(parser)[name]), exits.DEBUG_FLAG]
    parsed = parser.parse_args(argv)
    assert parsed.debug is True
    args = cli.create_command(name).Args.from_cli_args(parsed)
    assert dataclasses.is_dataclass(args) and not isinstance(args, type)


@pytest.mark.parametrize("name", EXPECTED)
def test_every_command_help_exits_0_with_its_usage(name, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args([name, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m stacks {name} ")


def test_debug_before_the_command_is_kept():
    parser = cli.build_parser()
    assert parser.parse_args([exits.DEBUG_FLAG, "docs", "--check"]).debug is True
    assert parser.parse_args(["docs", "--check"]).debug is False


# A command another branch could add: one module (here built in the test) and one line in COMMANDS.
@dataclass(frozen=True)
class HelloArgs(Args):
    who: str = "world"
    fail: str = ""

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--who", default="world", help="whom to greet")
        parser.add_argument("--fail", default="", choices=["", "usage", "input"], help="end with this command error")


class HelloCommand(Command[HelloArgs]):
    Args = HelloArgs

    def run(self, args: HelloArgs, console) -> int:
        if args.fail == "usage":
            raise UsageError("hello --fail usage needs nothing else")
        if args.fail == "input":
            raise InputError("hello.txt: not a regular file; Fix: give a file")
        console.print(f"hello {args.who}")
        return 3


@pytest.fixture
def hello(monkeypatch):
    module = types.ModuleType("tests_stack_hello_command")
    module.HelloCommand = HelloCommand  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(cli.COMMANDS, "hello", cli.CommandInfo(module.__name__, "HelloCommand", "greet someone"))


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = exits.run(cli.main, argv, prog="python -m stacks")
    return code, out.getvalue(), err.getvalue()


def test_a_command_added_with_one_line_in_commands_is_listed_parsed_and_run(hello):
    assert "greet someone" in cli.build_parser().format_help()
    assert _run(["hello", "--who", "tenant-a", exits.DEBUG_FLAG]) == (3, "hello tenant-a\n", "")


def test_a_usage_error_is_argparse_usage_and_exit_2(hello):
    code, out, err = _run(["hello", "--fail", "usage"])
    assert code == 2 and out == ""
    assert err.startswith("usage: python -m stacks") and err.rstrip().endswith(
        "error: hello --fail usage needs nothing else"
    )


def test_an_input_error_is_its_one_line_and_exit_2(hello):
    assert _run(["hello", "--fail", "input"]) == (2, "hello.txt: not a regular file; Fix: give a file\n", "")


def test_prices_refresh_without_region_is_a_usage_error(capsys):
    code, out, err = _run(["prices", "refresh"])
    assert code == 2 and out == ""
    assert err.rstrip().endswith("python -m stacks: error: prices refresh needs --region, e.g. --region us-east-1")
