"""`make tour` (`python -m stacks.tour`): tuning end to end in 10 to 20 s, with nothing installed.

Three steps, each the CLI command it prints, run in this process (one start-up instead of three):

1. `stacks tune stacks/grids/tour.yaml --target local --db tuning-runs/tour.db`: four configurations of the
   stand-in engine (stacks/local_engine/stand_in.py, a script that serves no model), the report and the winner;
2. `stacks report --db tuning-runs/tour.db --export-capacity tuning-runs/tour/capacity`: one capacity file per
   configuration that met the SLO;
3. `stacks plan --stack tour --project-dir tuning-runs/tour`: the shipped stack stacks/tour/Pulumi.tour.yaml,
   whose endpoint names the winner's capacity file, planned offline; then the C1 verdict in one line (passed,
   with the sums; or failed, then the fix).

Every run starts afresh: the tour's own database, logs, report and capacity files are removed first. It exits
0 once it reaches a C1 verdict, passed or failed (a machine too busy to carry the declared peak is an answer),
and 1 when a step could not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from components.rules import ConfigError
from components.rules import capacity as capacity_rules
from components.rules.catalog import C1

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parents[1]
GRID = PROJECT_DIR / "stacks" / "grids" / "tour.yaml"
STACK = "tour"
STACK_FILE = HERE / f"Pulumi.{STACK}.yaml"
STEPS = 3
STARTED = time.monotonic()  # at import: the tour's time includes loading the project


def _shown(path: Path) -> str:
    """A path as a reader would type it: relative to the working directory when under it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)


def _say(console: Console, *parts: str | tuple[str, str]) -> None:
    console.print(Text.assemble(*parts), highlight=False, soft_wrap=True)


def _step(console: Console, n: int, what: str, argv: list[str]) -> None:
    _say(console, "")
    _say(console, (f"── tour {n}/{STEPS}: {what}", "bold cyan"))
    _say(console, ("$ python -m stacks " + " ".join(argv), "dim"))


def _fresh(root: Path, project: Path) -> None:
    """Remove what an earlier tour left (the database would make tune resume and run nothing)."""
    db = root / "tour.db"
    for path in (db, db.with_name(db.name + ".lock")):
        path.unlink(missing_ok=True)
    for directory in (root / "tour-logs", root / "tour-report"):
        shutil.rmtree(directory, ignore_errors=True)
    for old in (project / "capacity").glob("*.json"):
        old.unlink()


def _project(project: Path) -> None:
    """The plan's project directory: this project's Pulumi.yaml and program, and the tour's stack file."""
    (project / "capacity").mkdir(parents=True, exist_ok=True)
    for source in (PROJECT_DIR / "Pulumi.yaml", PROJECT_DIR / "__main__.py", STACK_FILE):
        shutil.copyfile(source, project / source.name)


def c1_verdict(project: Path, stack: str = STACK) -> list[tuple[str, str]]:
    """Rule C1 on the stack's endpoints, as the plan judges them: (verdict, line) per endpoint that declares a load,
    verdict `passed`, `failed` (the line is the problem, then its fix) or `advisory` (no matching file)."""
    from stacks import plan as plan_cmd

    values = plan_cmd.read_stack_config(stack, project)
    try:
        cfg = plan_cmd.parse_stack_config(values, plan_cmd.project_name(project), stack, project)
    except ConfigError as exc:
        failed = [p for p in exc.problems if p.rule == C1]
        if not failed:
            raise
        return [("failed", f"{p.path} = {p.value!r}: {p.message}\n  fix: {p.fix}") for p in failed]
    out = []
    for i, (spec, terms) in enumerate(zip(cfg.endpoints, cfg.contracts)):
        if terms is None:
            continue
        have, key = capacity_rules.max_replicas(spec)
        if not terms["perReplicaRequestsPerSecond"]:
            why = [str(p) for p in cfg.warnings if p.rule == C1 and p.path.startswith(f"endpoints[{i}]")]
            out.append(
                (
                    "advisory",
                    f"endpoints[{i}]: no matching capacity file, so the contract is a warning: " + "; ".join(why),
                )
            )
            continue
        _, sums = capacity_rules.arithmetic(terms, have)
        out.append(("passed", f"endpoints[{i}].{key}: {sums}"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stacks.tour",
        description="tune -> report -> capacity file -> a plan C1 checks, on the stand-in engine",
    )
    parser.add_argument("--dir", default="tuning-runs", help="where the tour writes (default: tuning-runs)")
    args = parser.parse_args(argv)
    from stacks.__main__ import main as stacks_main
    from stacks.tuning.grid import STAND_IN_NOTE

    console = Console(width=None if sys.stdout.isatty() else 160)
    root = Path(args.dir)
    db, project = root / "tour.db", root / "tour"
    _fresh(root, project)
    _say(
        console,
        ("Tour of tuning", "bold"),
        ": tune -> report -> capacity file -> a plan that rule C1 checks against it. ",
        ("Stand-in engine", "yellow"),
        f": {STAND_IN_NOTE}.",
    )

    tune = ["tune", _shown(GRID), "--target", "local", "--db", _shown(db)]
    _step(console, 1, "tune 4 configurations of the stand-in engine (its numbers are not real)", tune)
    if stacks_main(tune) != 0:
        _say(console, ("tour stopped", "red"), ": the tuning run did not succeed (above)")
        return 1

    _project(project)
    report = ["report", "--db", _shown(db), "--export-capacity", _shown(project / "capacity")]
    _step(console, 2, "report the run and export one capacity file per configuration that met the SLO", report)
    if stacks_main(report) != 0 or not any((project / "capacity").glob("*.json")):
        _say(console, ("tour stopped", "red"), ": no capacity file was exported (above)")
        return 1

    plan = ["plan", "--stack", STACK, "--project-dir", _shown(project)]
    _step(
        console,
        3,
        f"plan {_shown(STACK_FILE)}: its endpoint names the winner's capacity file, rule C1 checks its peak",
        plan,
    )
    stacks_main(plan)  # exit 2 when C1 fails: the verdict below says so, with the fix
    try:
        verdicts = c1_verdict(project)
    except ConfigError as exc:
        _say(
            console,
            ("tour stopped", "red"),
            f": the stack has problems other than C1: {'; '.join(str(p) for p in exc.problems)}",
        )
        return 1
    if not verdicts:
        _say(
            console,
            ("tour stopped", "red"),
            f": no endpoint of {_shown(STACK_FILE)} declares a load, so C1 had nothing to check",
        )
        return 1
    _say(console, "")
    colours = {"passed": "green", "failed": "red", "advisory": "yellow"}
    for verdict, line in verdicts:
        _say(console, (f"C1 {verdict}", f"bold {colours[verdict]}"), f": {line}")
    _say(
        console,
        (f"tour done in {time.monotonic() - STARTED:.0f} s", "bold"),
        f" (stand-in engine: not real numbers). Report: {_shown(root / 'tour-report' / 'report.md')}; "
        f"capacity files: {_shown(project / 'capacity')}; plan: {_shown(project / 'plan-out' / STACK)}",
    )
    return 0
