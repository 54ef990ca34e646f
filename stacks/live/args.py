"""The arguments of `stacks status` (light: imported whenever the command line is parsed)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from . import DEFAULT_TIMEOUT

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StatusArgs:
    """The arguments of `stacks status` (one dataclass per command, as vLLM's benchmarks/sweep does)."""

    stack: str = "dev"
    outputs: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    project_dir: Path = PROJECT_DIR
    probe: bool = False

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        from ..tuning.cliargs import positive_seconds

        parser.add_argument("--stack", "-s", default="dev", help="stack whose outputs to read (default: dev)")
        parser.add_argument(
            "--outputs",
            metavar="FILE",
            help="outputs JSON (`pulumi stack output --json --show-secrets`) instead of asking Pulumi",
        )
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            default=DEFAULT_TIMEOUT,
            help=f"wall-clock seconds for each API read, the whole answer, and for each probe with --probe (default: {DEFAULT_TIMEOUT:g}); after one read runs out, no other endpoint is asked",
        )
        parser.add_argument("--project-dir", default=None, help="directory of Pulumi.yaml (default: this project)")
        parser.add_argument(
            "--probe",
            action="store_true",
            help="also send one small request to each ready endpoint and gateway tenant (needs the keys: outputs with --show-secrets)",
        )

    @classmethod
    def from_cli_args(cls, args: argparse.Namespace) -> StatusArgs:
        project_dir = Path(args.project_dir).resolve() if args.project_dir else PROJECT_DIR
        return cls(
            stack=args.stack, outputs=args.outputs, timeout=args.timeout, project_dir=project_dir, probe=args.probe
        )
