"""`python -m stacks <command>`: the command registry and the one place a command's own errors become an exit status.

A new command is one module in this package (an `Args` dataclass and a `Command` subclass, see base.py) and one
line in COMMANDS. The registry is pip's (pypa/pip@26.2.1 src/pip/_internal/commands/__init__.py
`commands_dict`, `create_command`): name -> (module, class, summary), in the order `--help` lists them.
What escapes a command (Ctrl-C, a closed stdout, a disk error, a bug) is mapped in benchmarks/exits.py.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple, TextIO, cast

from benchmarks import exits
from benchmarks.secrets import ScrubbedStream

from .base import Command, UsageError

DESCRIPTION = (
    "`python -m stacks <command>`: the project's command line. "
    "Exit status and error lines of every command: benchmarks/exits.py (one place for both command lines)."
)


class CommandInfo(NamedTuple):
    module_path: str
    class_name: str
    summary: str


# One line per command; the order is the order of `python -m stacks --help`.
COMMANDS: dict[str, CommandInfo] = {
    "plan": CommandInfo(
        "stacks.cli.plan", "PlanCommand", "render, validate and check a stack offline (no credentials)"
    ),
    "check": CommandInfo(
        "stacks.cli.check", "CheckCommand", "run the policies and schema validation on plain Kubernetes manifests"
    ),
    "tune": CommandInfo(
        "stacks.cli.tune", "TuneCommand", "deploy and benchmark each point of a parameter grid; report the best"
    ),
    "report": CommandInfo(
        "stacks.cli.report", "ReportCommand", "report a tuning run: table, Pareto front, best config, plot"
    ),
    "crds": CommandInfo("stacks.cli.crds", "CrdsCommand", "manage the local cache of upstream CRD schemas"),
    "charts": CommandInfo(
        "stacks.cli.charts",
        "ChartsCommand",
        "manage the local copy of the HyperPod Helm chart (not published to a Helm repository)",
    ),
    "preflight": CommandInfo(
        "stacks.cli.preflight",
        "PreflightCommand",
        "check AWS before `pulumi up`: model files (G14), instance types, quotas, HyperPod status, the ALB certificate (S2)",
    ),
    "status": CommandInfo(
        "stacks.cli.status",
        "StatusCommand",
        "each endpoint's live state, ready replicas, URL and last condition message, read from the cluster",
    ),
    "prices": CommandInfo(
        "stacks.cli.prices",
        "PricesCommand",
        "on-demand instance prices: show the dated snapshot, or refresh it from the AWS Price List API",
    ),
    "models": CommandInfo(
        "stacks.cli.models",
        "ModelsCommand",
        "lock the config.json and safetensors facts of the stacks' models (Hugging Face, S3) in models.lock.json, which the plan reads",
    ),
    "docs": CommandInfo(
        "stacks.cli.docs", "DocsCommand", "regenerate docs/guardrails.md and docs/configuration.md from the code"
    ),
}


def create_command(name: str) -> Command:
    module_path, class_name, summary = COMMANDS[name]
    command_class = getattr(importlib.import_module(module_path), class_name)
    return command_class(name=name, summary=summary)


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (the registry tests walk)."""
    parser = argparse.ArgumentParser(prog="python -m stacks", description=DESCRIPTION)
    parser.add_argument(
        exits.DEBUG_FLAG,
        action="store_true",
        help=f"print the traceback of an internal error (also ${exits.DEBUG_ENV}=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        create_command(name).add_to(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """One command; then, once, where each rule ID it printed is described (docs/guardrails.md)."""
    from ..literal import forget_rules, rules_footer

    forget_rules()
    code = run_command(argv)
    footer = rules_footer()
    if footer:
        print(footer)
    return code


def run_command(argv: list[str] | None = None) -> int:
    """Parse, build the command's arguments, run it. The command errors every command shares end here: an
    input error (a file refused by benchmarks/inputs.py) is its one line and 2, a usage error argparse's."""
    from rich.console import Console

    from benchmarks.inputs import InputError

    parser = build_parser()
    parsed = parser.parse_args(argv)
    command = create_command(parsed.command)
    args = command.Args.from_cli_args(parsed)
    # Every line the CLI prints is scrubbed of the secrets the run knows (benchmarks/secrets.py).
    console = Console(file=cast(TextIO, ScrubbedStream(sys.stdout)), width=None if sys.stdout.isatty() else 160)
    try:
        return command.run(args, console)
    except UsageError as exc:
        parser.error(str(exc))
    except InputError as exc:  # each command names its own input errors; this is the net under them all
        from ..literal import plain

        console.print(plain(str(exc)), soft_wrap=True)
        return 2


def entry() -> None:
    """`python -m stacks`: main() through the exit mapping, then leave."""
    import gc
    import sqlite3

    # A tuning database the disk refuses mid-run is the machine's fault, not the program's: one line, exit 1.
    code = exits.run(main, prog="python -m stacks", environment_errors=(sqlite3.OperationalError,))
    # Leaving: the interpreter's last collection would walk every imported SDK object for nothing (1 s).
    gc.freeze()
    exits.leave(code)
