"""`python -m stacks <command>`: the project's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="render, validate and check a stack offline (no credentials)")
    plan.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    plan.add_argument("--out", help="directory for the rendered manifests (default: plan-out/<stack>)")
    plan.add_argument("--crd-dir", help="directory of upstream CRD files (default: see README)")
    plan.add_argument("--kubernetes-version", default="1.33", help="schema version for core objects (default: 1.33)")
    plan.add_argument("--all", action="store_true", help="list every resource, not only Kubernetes objects")
    plan.add_argument("--project-dir", default=None, help="directory of Pulumi.yaml (default: this project)")

    crds = sub.add_parser("crds", help="manage the local cache of upstream CRD schemas")
    crds.add_argument("action", choices=["fetch", "where"], help="fetch: download the pinned CRDs; where: show which directory is used")

    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    if args.command == "plan":
        from . import plan as plan_cmd

        project_dir = Path(args.project_dir).resolve() if args.project_dir else plan_cmd.PROJECT_DIR
        return plan_cmd.run(args.stack, args.out, args.crd_dir, args.kubernetes_version, args.all, console, project_dir)
    if args.command == "crds":
        from . import schemas

        if args.action == "where":
            directory, origin = schemas.find_crd_dir()
            console.print(f"{directory or '-'} ({origin})")
            return 0 if directory else 1
        written = schemas.fetch_crds()
        console.print(f"{len(written)} CRD file(s) written to {schemas.CACHE_DIR}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
