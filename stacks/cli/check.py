"""`python -m stacks check`: the policies and schema validation on plain manifests (stacks/check.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Args, Command
from .options import CRD_DIR_HELP, DEFAULT_KUBERNETES_VERSION, POLICY_CONFIG_HELP, add_kubernetes_version

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class CheckArgs(Args):
    paths: tuple[str, ...] = ()
    policy_config: str | None = None
    json: bool = False
    crd_dir: str | None = None
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    stack: str | None = None
    all: bool = False

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "paths", nargs="+", metavar="FILE_OR_DIR", help="YAML files (multi-document) or directories of them"
        )
        parser.add_argument("--policy-config", help=POLICY_CONFIG_HELP)
        parser.add_argument("--json", action="store_true", help="print a JSON report instead of one line per violation")
        parser.add_argument("--crd-dir", help=CRD_DIR_HELP)
        add_kubernetes_version(parser)
        parser.add_argument(
            "--stack",
            "-s",
            help="the Pulumi stack the manifests belong to, for the policies that allow a dev stack's opt-outs (default: the stack a plan directory's marker names; unknown counts as not dev)",
        )
        parser.add_argument(
            "--all", action="store_true", help="list every unchecked document, not the first few of each reason"
        )

    @classmethod
    def from_cli_args(cls, args: argparse.Namespace) -> CheckArgs:
        return cls(
            tuple(args.paths),
            args.policy_config,
            args.json,
            args.crd_dir,
            args.kubernetes_version,
            args.stack,
            args.all,
        )


class CheckCommand(Command[CheckArgs]):
    Args = CheckArgs

    def run(self, args: CheckArgs, console: Console) -> int:
        from .. import check

        return check.main(
            list(args.paths),
            args.policy_config,
            args.json,
            args.crd_dir,
            args.kubernetes_version,
            stack=args.stack,
            show_all=args.all,
        )
