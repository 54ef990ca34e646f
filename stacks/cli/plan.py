"""`python -m stacks plan`: the real program under mocks, offline (stacks/plan.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Args, Command
from .options import CRD_DIR_HELP, DEFAULT_KUBERNETES_VERSION, POLICY_CONFIG_HELP, STACK_HELP, add_kubernetes_version

if TYPE_CHECKING:
    from rich.console import Console


@dataclass(frozen=True)
class PlanArgs(Args):
    stack: str = "dev"
    out: str | None = None
    crd_dir: str | None = None
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    all: bool = False
    project_dir: str | None = None
    policy_config: str | None = None
    json: str | None = None

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--stack", "-s", default="dev", help=STACK_HELP)
        parser.add_argument("--out", help="directory for the rendered manifests (default: plan-out/<stack>)")
        parser.add_argument("--crd-dir", help=CRD_DIR_HELP)
        add_kubernetes_version(parser)
        parser.add_argument("--all", action="store_true", help="list every resource, not only Kubernetes objects")
        parser.add_argument("--project-dir", default=None, help="directory of Pulumi.yaml (default: this project)")
        parser.add_argument("--policy-config", help=POLICY_CONFIG_HELP)
        parser.add_argument(
            "--json",
            metavar="FILE",
            help="also write the declared graph as `pulumi preview --json` shapes it (see docs/architecture.md)",
        )


class PlanCommand(Command[PlanArgs]):
    Args = PlanArgs

    def run(self, args: PlanArgs, console: Console) -> int:
        from .. import plan

        project_dir = Path(args.project_dir).resolve() if args.project_dir else plan.PROJECT_DIR
        return plan.run(
            args.stack,
            args.out,
            args.crd_dir,
            args.kubernetes_version,
            args.all,
            console,
            project_dir,
            args.policy_config,
            args.json,
        )
