"""`python -m stacks <command>`: the project's command line.

Exit status and error lines of every command: benchmarks/exits.py (one place for both command lines).
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import exits

if TYPE_CHECKING:
    from rich.console import Console

from benchmarks.secrets import ScrubbedStream


def build_parser() -> argparse.ArgumentParser:
    """Every command and its options (the registry tests walk)."""
    parser = argparse.ArgumentParser(prog="python -m stacks", description=__doc__)
    parser.add_argument(exits.DEBUG_FLAG, action="store_true", help=f"print the traceback of an internal error (also ${exits.DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    plan = sub.add_parser("plan", help="render, validate and check a stack offline (no credentials)")
    plan.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    plan.add_argument("--out", help="directory for the rendered manifests (default: plan-out/<stack>)")
    plan.add_argument("--crd-dir", help="directory of upstream CRD files (default: $LLM_SERVING_CRD_DIR, then the cache of `crds fetch`)")
    plan.add_argument("--kubernetes-version", type=kubernetes_version, default="1.33", help="schema version for core objects (default: 1.33)")
    plan.add_argument("--all", action="store_true", help="list every resource, not only Kubernetes objects")
    plan.add_argument("--project-dir", default=None, help="directory of Pulumi.yaml (default: this project)")
    plan.add_argument("--policy-config", help="policy pack config JSON (as for `pulumi preview --policy-pack-config`)")
    plan.add_argument("--json", metavar="FILE", help="also write the declared graph as `pulumi preview --json` shapes it (see docs/architecture.md)")

    check = sub.add_parser("check", help="run the policies and schema validation on plain Kubernetes manifests")
    check.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="YAML files (multi-document) or directories of them")
    check.add_argument("--policy-config", help="policy pack config JSON (as for `pulumi preview --policy-pack-config`)")
    check.add_argument("--json", action="store_true", help="print a JSON report instead of one line per violation")
    check.add_argument("--crd-dir", help="directory of upstream CRD files (default: $LLM_SERVING_CRD_DIR, then the cache of `crds fetch`)")
    check.add_argument("--kubernetes-version", type=kubernetes_version, default="1.33", help="schema version for core objects (default: 1.33)")
    check.add_argument("--stack", "-s", help="the Pulumi stack the manifests belong to, for the policies that allow a dev stack's opt-outs (default: the stack a plan directory's marker names; unknown counts as not dev)")
    check.add_argument("--all", action="store_true", help="list every unchecked document, not the first few of each reason")

    tune = sub.add_parser("tune", help="deploy and benchmark each point of a parameter grid; report the best")
    tune.add_argument("grid", help="grid spec YAML (see stacks/grids/)")
    tune.add_argument("--target", choices=["pulumi", "local"], help="where trials run (default: the grid's target)")
    from .tuning.cliargs import error_rate, heartbeat_seconds, positive_int, positive_seconds

    tune.add_argument("--workers", type=positive_int, help="trials at once from this process, 1 to this machine's cores (default: the grid's parallel)")
    tune.add_argument("--parallel", type=positive_int, help="the older name of --workers")
    tune.add_argument("--heartbeat", type=heartbeat_seconds, help="with a shared --db: seconds between this worker's heartbeats; a trial 3 beats late is retried elsewhere (default: 20)")
    tune.add_argument("--max-error-rate", type=error_rate, help="fraction of failed requests above which a load level fails its trial (default: the grid's benchmark.maxErrorRate, 0.05)")
    tune.add_argument("--db", help="SQLite results file (default: tuning-runs/<grid name>.db), or postgresql://USER@HOST/DB shared by several workers (password from PGPASSWORD or ~/.pgpass)")
    tune.add_argument("--strategy", choices=["grid", "random", "tpe", "gp"], help="search strategy (default: the grid's)")
    tune.add_argument("--dry-run", action="store_true", help="expand, prune and plan each point offline; deploy nothing")
    tune.add_argument("--verbose", "-v", action="store_true", help="list each pruned point (and, with --dry-run, each passed plan), not only one line per cause")
    tune.add_argument("--out", help="report directory (default: next to the database)")
    tune.add_argument("--all", action="store_true", help="list every pruned point (same as --verbose)")

    report = sub.add_parser("report", help="report a tuning run: table, Pareto front, best config, plot")
    report.add_argument("--db", required=True, help="SQLite results file of `stacks tune`, or the postgresql:// URL its workers shared")
    report.add_argument("--out", help="report directory (default: <db>-report)")
    report.add_argument("--run", help="run name when the file holds several (default: the latest)")
    report.add_argument("--export-capacity", metavar="DIR", help="also write one capacity file per configuration into DIR (rule C1: set an endpoint's capacity: to one)")

    crds = sub.add_parser("crds", help="manage the local cache of upstream CRD schemas")
    crds.add_argument("action", choices=["fetch", "where"], help="fetch: download the pinned CRDs; where: show which directory is used")

    charts = sub.add_parser("charts", help="manage the local copy of the HyperPod Helm chart (not published to a Helm repository)")
    charts.add_argument("action", choices=["fetch", "where"], help="fetch: download the pinned chart; where: show which directory is used")

    preflight = sub.add_parser("preflight", help="check AWS before `pulumi up`: model files (G14), instance types, quotas, HyperPod status, the ALB certificate (S2)")
    preflight.add_argument("--stack", "-s", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")

    status = sub.add_parser("status", help="each endpoint's live state, ready replicas, URL and last condition message, read from the cluster")
    from .live.args import StatusArgs

    StatusArgs.add_cli_args(status)

    prices = sub.add_parser("prices", help="on-demand instance prices: show the dated snapshot, or refresh it from the AWS Price List API")
    prices.add_argument("action", choices=["show", "refresh"], help="show: each price with its source and date, and the gaps; refresh: read the prices of every instance type in the instance table")
    prices.add_argument("--region", help="AWS region, e.g. us-east-1 (required by refresh; show without it: every snapshot)")
    prices.add_argument("--out", help="refresh: directory for <region>.json (default: stacks/prices/)")
    prices.add_argument("--timeout", type=positive_seconds, default=300.0, help="refresh: wall-clock seconds for each service's query, all its pages (default: 300)")

    models = sub.add_parser("models", help="lock the config.json and safetensors facts of the stacks' models (Hugging Face, S3) in models.lock.json, which the plan reads")
    from .models.args import LockArgs

    LockArgs.add_cli_args(models)

    docs = sub.add_parser("docs", help="regenerate docs/guardrails.md and docs/configuration.md from the code")
    docs.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated file is out of date")

    for command in sub.choices.values():  # `--debug` after the command too; SUPPRESS keeps one given before it
        command.add_argument(exits.DEBUG_FLAG, action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def kubernetes_version(text: str) -> str:
    """--kubernetes-version: one kubernetes-validate has schemas for (imported only when the option is given)."""
    from .schemas import supported_kubernetes_version

    try:
        return supported_kubernetes_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """One command; then, once, where each rule ID it printed is described (docs/guardrails.md)."""
    from .literal import forget_rules, rules_footer

    forget_rules()
    code = run_command(argv)
    footer = rules_footer()
    if footer:
        print(footer)
    return code


def run_command(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = build_parser()
    args = parser.parse_args(argv)
    # Every line the CLI prints is scrubbed of the secrets the run knows (benchmarks/secrets.py).
    console = Console(file=ScrubbedStream(sys.stdout), width=None if sys.stdout.isatty() else 160)
    from benchmarks.inputs import InputError

    try:
        return _run(args, console)
    except InputError as exc:  # each command names its own input errors; this is the net under them all
        from .literal import plain

        console.print(plain(str(exc)), soft_wrap=True)
        return 2


def _run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "plan":
        from . import plan as plan_cmd

        project_dir = Path(args.project_dir).resolve() if args.project_dir else plan_cmd.PROJECT_DIR
        return plan_cmd.run(args.stack, args.out, args.crd_dir, args.kubernetes_version, args.all, console, project_dir, args.policy_config, args.json)
    if args.command == "check":
        from . import check as check_cmd

        return check_cmd.main(args.paths, args.policy_config, args.json, args.crd_dir, args.kubernetes_version, stack=args.stack, show_all=args.all)
    if args.command == "preflight":
        from . import preflight as preflight_cmd

        return preflight_cmd.main(args.stack, console)
    if args.command in ("tune", "report"):
        from .tuning import cli as tuning_cli

        return tuning_cli.tune(args, console) if args.command == "tune" else tuning_cli.report(args, console)
    if args.command == "status":
        from .live import status as status_cmd
        from .live.args import StatusArgs

        return status_cmd.main(StatusArgs.from_cli_args(args), console)

    if args.command == "prices":
        if args.action == "show":
            from .prices import show

            return show.main(args.region, console)
        if not args.region:
            build_parser().error("prices refresh needs --region, e.g. --region us-east-1")
        from .prices import refresh

        return refresh.main(args.region, console, Path(args.out) if args.out else None, timeout=args.timeout)
    if args.command == "models":
        from .models import cli as models_cli
        from .models.args import LockArgs

        return models_cli.run(LockArgs.from_cli_args(args), console)
    if args.command == "docs":
        from . import docs as docs_cmd

        return docs_cmd.main(args.check)
    if args.command == "charts":
        from . import charts as charts_mod

        cache = charts_mod.CACHE_ROOT / charts_mod.HYPERPOD_CHART
        return _pinned_command(console, args.action, charts_mod.find_chart_dir, charts_mod.ENV_VAR, charts_mod.fetch_chart, "the HyperPod chart comes", "chart", cache)
    if args.command == "crds":
        from . import schemas

        return _pinned_command(console, args.action, schemas.find_crd_dir, schemas.ENV_VAR, schemas.fetch_crds, "CRD schemas come", "CRD", schemas.CACHE_DIR)
    return 2


def _pinned_command(console: Console, action: str, find: Any, env_var: str, fetch: Any, what: str, noun: str, cache: Path) -> int:
    """`crds` and `charts`: `where` shows the folder in use; `fetch` fills the cache unless CI hands one in.
    `what` is the subject with its verb, e.g. "CRD schemas come"."""
    from .literal import plain
    from .pinned import FetchError

    directory, origin = find()
    if action == "where":
        console.print(plain(f"{directory or '-'} ({origin})"), soft_wrap=True)
        return 0 if directory else 1
    if directory is not None and origin == f"${env_var}":
        console.print(plain(f"{what} from {directory} ({origin}); nothing to fetch"))
        return 0
    try:
        written = fetch()
    except FetchError as exc:
        console.print(plain(str(exc)), soft_wrap=True)
        return 1
    console.print(plain(f"{len(written)} {noun} file(s) written to {cache}"))
    return 0


if __name__ == "__main__":
    import sqlite3

    # A tuning database the disk refuses mid-run is the machine's fault, not the program's: one line, exit 1.
    code = exits.run(main, prog="python -m stacks", environment_errors=(sqlite3.OperationalError,))
    # Leaving: the interpreter's last collection would walk every imported SDK object for nothing (1 s).
    gc.freeze()
    exits.leave(code)
