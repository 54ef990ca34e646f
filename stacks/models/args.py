"""The arguments of `stacks models lock` (light: imported whenever the command line is parsed)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_TIMEOUT = 30.0
DEFAULT_TOKEN_ENV = "HF_TOKEN"


@dataclass(frozen=True)
class LockArgs:
    """`python -m stacks models lock [--stack S | --all] [--model ID]` (one dataclass per command)."""

    stack: str | None = None
    all: bool = False
    model: str | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    timeout: float = DEFAULT_TIMEOUT
    project_dir: Path = PROJECT_DIR

    @staticmethod
    def add_cli_args(parser: argparse.ArgumentParser) -> None:
        from ..tuning.cliargs import positive_seconds

        parser.add_argument(
            "action",
            choices=["lock"],
            help="lock: read each model's config.json and safetensors metadata and write models.lock.json",
        )
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--stack", "-s", help="lock the models of Pulumi.<stack>.yaml")
        which.add_argument(
            "--all", action="store_true", help="lock the models of every Pulumi.<stack>.yaml of the project"
        )
        parser.add_argument(
            "--model",
            metavar="ID",
            help="only this model (a Hugging Face id, or an endpoint's `model`); alone: lock this Hugging Face model",
        )
        parser.add_argument(
            "--token-env",
            default=DEFAULT_TOKEN_ENV,
            metavar="VAR",
            help=f"environment variable holding the Hugging Face token (default: {DEFAULT_TOKEN_ENV}; unset: anonymous)",
        )
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            default=DEFAULT_TIMEOUT,
            help=f"wall-clock seconds for each answer of the hub or S3 (default: {DEFAULT_TIMEOUT:g})",
        )
        parser.add_argument(
            "--project-dir", default=None, help="directory of Pulumi.yaml and models.lock.json (default: this project)"
        )

    @classmethod
    def from_cli_args(cls, args: argparse.Namespace) -> LockArgs:
        project_dir = Path(args.project_dir).resolve() if args.project_dir else PROJECT_DIR
        return cls(
            stack=args.stack,
            all=args.all,
            model=args.model,
            token_env=args.token_env,
            timeout=args.timeout,
            project_dir=project_dir,
        )
