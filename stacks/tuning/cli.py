"""`python -m stacks tune` and `python -m stacks report`.

Everything printed here is a `Text` (never parsed as Rich markup): grid values, engine output and
stored errors may hold `[/x]`, which markup would reject (MarkupError) or swallow.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from benchmarks.outputs import OutputError, OutputLocked
from components.rules import ConfigError
from components.rules.problems import printable

from ..literal import linked
from . import capacity as capacity_mod
from . import grid as grid_mod
from . import report as report_mod
from .driver import Driver
from .grid import GridSpec, Point
from .sharedstore import is_url, open_store, sqlite_path
from .store import StoreError, TrialRecord


def say(console: Console, *parts: str | tuple[str, str]) -> None:
    """One literal line: plain strings, or (text, style) pairs for colour; never markup."""
    console.print(linked(Text.assemble(*parts)), highlight=False, soft_wrap=True)


class RichReporter:
    """Trial n of m, phase and elapsed time, one line per event (readable in CI logs too)."""

    def __init__(self, console: Console):
        self.console = console
        self.total = 0
        self.count = 0
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()

    def planned(self, total: int, pruned: list[Point], done: int) -> None:
        self.total = total
        self.count = done
        if done:
            say(self.console, f"resuming: {done} trial(s) finished earlier are not repeated")

    def note(self, message: str) -> None:
        say(self.console, ("note", "yellow"), f": {message}")

    def phase(self, point: Point, phase: str) -> None:
        with self.lock:
            if phase == "deploy":
                self.count += 1
                self.started[point.key] = time.monotonic()
            elapsed = time.monotonic() - self.started.get(point.key, time.monotonic())
            say(
                self.console,
                (f"trial {self.count} of {self.total}", "bold"),
                f" {_params(point.params)}: {phase} ",
                (f"({elapsed:.0f} s)", "dim"),
            )

    def finished(self, point: Point, record: TrialRecord) -> None:
        elapsed = (record.finished or 0) - (record.started or 0)
        color = {"succeeded": "green", "infeasible": "yellow"}.get(record.status, "red")
        detail = ""
        if record.status == "succeeded":
            detail = ", ".join(
                f"{m} {record.value(m):.4g}"
                for m in ("output_throughput", "ttft_p90", "tpot_p90")
                if record.value(m) is not None
            )
        elif record.error:
            detail = record.note[:160]
        say(self.console, "  ", (record.status, color), f" in {elapsed:.0f} s: {detail}")


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in params.items())


def print_pruned(console: Console, points: list[Point], verbose: bool = False) -> None:
    """The count, then one line per cause (how many points it prunes, the values, the fix); `verbose`: each point."""
    pruned = [p for p in points if p.pruned]
    say(
        console,
        f"grid: {len(points)} point(s), {len(pruned)} pruned by the rule library, {len(points) - len(pruned)} to try",
    )
    for count, line in prune_causes(pruned):
        say(console, f"  {count} point(s): {line}")
    if verbose:
        for point in pruned:
            for problem in point.problems:
                if problem.severity == "error":
                    say(console, f"  pruned {_params(point.params)}: {problem}")


MAX_SHOWN_VALUES = 6


def prune_causes(pruned: list[Point]) -> list[tuple[int, str]]:
    """Pruned points grouped by cause (rule, path, message, fix), most points first: a point with two causes
    counts under both. The values the points had at that path are listed once each."""
    causes: dict[tuple[str, str, str, str], tuple[set[str], list[Any]]] = {}
    for point in pruned:
        for problem in point.problems:
            if problem.severity != "error":
                continue
            keys, values = causes.setdefault((problem.rule, problem.path, problem.message, problem.fix), (set(), []))
            keys.add(point.key)
            if problem.value not in values:
                values.append(problem.value)
    lines = []
    for (rule, path, message, fix), (keys, values) in causes.items():
        shown = ", ".join(repr(v) for v in values[:MAX_SHOWN_VALUES]) + (
            f" and {len(values) - MAX_SHOWN_VALUES} more" if len(values) > MAX_SHOWN_VALUES else ""
        )
        lines.append(
            (len(keys), f"{printable(path)} = {printable(shown)}: [{rule}] {printable(message)}. Fix: {printable(fix)}")
        )
    return sorted(lines, key=lambda pair: -pair[0])  # stable: first seen first among equals


def nothing_to_try(grid: GridSpec, points: list[Point]) -> str:
    """The one line a grid with no point left says: how many were pruned, by how many causes, against what."""
    causes = len(prune_causes([p for p in points if p.pruned]))
    against = (
        f" against base stack {grid.pulumi.base_stack}" if grid.target == "pulumi" and grid.pulumi.base_stack else ""
    )
    return f"nothing to try: all {len(points)} point(s) of grid {grid.name} were pruned{against} ({causes} cause(s) above); fix them in the grid or the base stack"


def results_folder(db: str) -> Path:
    """Where logs, Pulumi's file state and reports go: beside a SQLite file; for a shared database, this
    machine's tuning-runs/ (each worker keeps its own trials' logs)."""
    return Path("tuning-runs") if is_url(db) else Path(db).parent


def workers(requested: int, console: Console) -> int:
    """Trials at once from this process, capped at this machine's cores with a line saying so: each trial's
    load generator needs a core to time requests, and on the local target so does its engine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if requested > cores:
        say(
            console,
            ("note", "yellow"),
            f": --workers {requested} capped at {cores}, this machine's cores (each trial's load generator, and on --target local its engine, needs one); run more workers on other machines with --db postgresql://...",
        )
        return cores
    return requested


def make_deployer(grid: GridSpec, target: str, db: Path | str, run: str) -> Any:
    log_dir = results_folder(str(db)) / f"{run}-logs"
    if target == "local":
        from .local import LocalEngineDeployer

        return LocalEngineDeployer(grid.local, log_dir)
    from .pulumi_target import AutomationStackRunner, PulumiDeployer

    backend = grid.pulumi.backend_url or f"file://{(results_folder(str(db)) / '.pulumi-state').resolve()}"
    runner = AutomationStackRunner(Path(grid.pulumi.project_dir), backend)
    return PulumiDeployer(grid.pulumi, runner, log_dir, run)


def tune(args: Any, console: Console) -> int:
    if getattr(args, "parallel", None) is not None:  # the older name, kept working
        say(
            console,
            ("note", "yellow"),
            ": --parallel is the older name of --workers (trials at once from this process)",
        )
    count = getattr(args, "workers", None) or getattr(args, "parallel", None)
    overrides: dict[str, Any] = {
        k: v for k, v in (("target", args.target), ("strategy", args.strategy), ("parallel", count)) if v is not None
    }
    try:
        grid = grid_mod.load(args.grid)
        if getattr(args, "max_error_rate", None) is not None:
            overrides["benchmark"] = {
                **grid.benchmark.model_dump(mode="json", by_alias=True),
                "maxErrorRate": args.max_error_rate,
            }
        grid = grid_mod.with_overrides(grid, overrides)
    except ConfigError as exc:
        say(console, (f"{args.grid} has {len(exc.problems)} problem(s):", "red"))
        for problem in exc.problems:
            say(console, f"  {problem}")
        return 2
    if grid.target == "pulumi":
        from .deploy import DeployError
        from .pulumi_target import base_problems, with_cluster_context

        if not grid.pulumi.base_stack and not args.dry_run:
            say(
                console,
                (f"{args.grid}: pulumi.baseStack = None", "red"),
                ": --target pulumi needs the platform stack the trials run on; set pulumi.baseStack (e.g. staging), or use --dry-run or --target local",
            )
            return 2
        try:
            grid = with_cluster_context(grid)
            base = base_problems(grid.pulumi)
        except DeployError as exc:
            say(console, (str(exc), "red"))
            return 2
        if base:
            # Every trial runs on the base stack as the driver brings it up: its problems are every trial's, said once.
            say(
                console,
                (
                    f"base stack {grid.pulumi.base_stack} (Pulumi.{grid.pulumi.base_name}.yaml) has {len(base)} problem(s); every trial runs on it:",
                    "red",
                ),
            )
            for problem in base:
                say(console, f"  {problem}")
            return 2
    db: Any = args.db if args.db and is_url(args.db) else sqlite_path(args.db or f"tuning-runs/{grid.name}.db")
    if is_url(str(db)) and grid.target == "pulumi" and not grid.pulumi.backend_url and not args.dry_run:
        # A retry on another machine must reach the dead worker's trial stack to destroy it.
        say(
            console,
            ("a shared --db needs a shared Pulumi backend", "red"),
            ": pulumi.backendUrl = None; Fix: set pulumi.backendUrl (e.g. s3://BUCKET/tuning) in the grid, the same for every worker",
        )
        return 2
    grid = grid_mod.with_overrides(grid, {"parallel": workers(grid.parallel, console)}) if not args.dry_run else grid
    if grid.target == "pulumi" and not args.dry_run:
        from shutil import which

        if which("pulumi") is None:
            say(
                console,
                ("--target pulumi needs the pulumi CLI on PATH", "red"),
                " (https://www.pulumi.com/docs/install/); use --target local or --dry-run here",
            )
            return 2
        kept = drop_unobtainable(grid, console)
        if kept is None:
            return 1
        grid = kept
    if not args.dry_run:
        try:
            store = open_store(db)  # a file that is not a results database: named before anything runs
        except StoreError as exc:
            say(console, (str(exc), "red"))
            return 2
    points = grid_mod.expand(grid)
    verbose = bool(getattr(args, "verbose", False) or getattr(args, "all", False))
    print_pruned(console, points, verbose)
    if args.dry_run:
        if all(p.pruned for p in points):
            say(console, (nothing_to_try(grid, points), "red"))
            return 1
        return dry_run(grid, points, console, verbose)
    stop = threading.Event()
    driver = Driver(
        grid,
        store,
        make_deployer(grid, grid.target, db, grid.name),
        reporter=RichReporter(console),
        stop=stop,
        heartbeat=getattr(args, "heartbeat", None),
    )
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # CI timeouts: tear down like Ctrl-C
    try:
        summary = driver.run()
    except OutputError as exc:  # RunLocked: another run holds this database, by whatever path
        say(console, (str(exc), "red"))
        return 2
    except StoreError as exc:  # the database failed mid-run; every started trial was torn down first
        say(console, (str(exc), "red"))
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    say(
        console,
        f"ran {summary.ran} trial(s), {summary.skipped} finished earlier, {summary.pruned} pruned; results in {store.path}",
    )
    code = 0
    if summary.interrupted:
        say(
            console,
            ("interrupted", "yellow"),
            ": every started trial was torn down; run the same command again to resume",
        )
        code = 130
    elif not any(r.status == "succeeded" for r in summary.records):
        counts = ", ".join(
            f"{sum(r.status == s for r in summary.records)} {s}" for s in ("failed", "infeasible", "pruned")
        )
        say(console, ("no trial succeeded", "red"), f" ({counts}); see the notes in the report and the trial logs")
        code = 1
    return report(argparse_namespace(db=str(db), out=args.out, run=grid.name, worker=is_url(str(db))), console, code)


def drop_unobtainable(grid: GridSpec, console: Console, aws: Any = None) -> GridSpec | None:
    """The preflight quota check on a grid that varies instanceType: the types the account cannot get
    are dropped, each named; None (after printing why) when none is left."""
    from stacks import preflight
    from stacks.aws import Aws, AwsError

    from .availability import check
    from .pulumi_target import load_base

    region = str(load_base(grid.pulumi)[1].get("aws:region") or grid.cost.region)
    aws = aws or Aws(region)
    try:
        return check(
            grid,
            region,
            lambda wanted, hyperpod, r: preflight.unobtainable(wanted, hyperpod, r, aws),
            lambda line: say(console, (line, "yellow")),
        )
    except AwsError as exc:
        say(console, ("preflight skipped", "yellow"), f": {exc}; every instance type of the grid is kept")
        return grid
    except ConfigError as exc:
        for problem in exc.problems:
            say(console, (str(problem), "red"))
        return None


def argparse_namespace(**kwargs: Any) -> Any:
    import argparse

    return argparse.Namespace(**kwargs)


def dry_run(grid: GridSpec, points: list[Point], console: Console, verbose: bool = False) -> int:
    """The offline plan of each surviving point, as its trial stack (name included): the endpoint rendered,
    validated, checked. A failed plan is listed with its problems; a passed one only with `verbose`."""
    from components.rules import ConfigError
    from stacks import plan as plan_mod

    from .pulumi_target import STAND_IN_CLUSTER, load_base, trial_config

    project, base_config = load_base(grid.pulumi) if grid.target == "pulumi" else ("llm-serving", {})
    if not base_config:  # local target, or no base stack: an adopted cluster stands in
        cluster = (
            grid.cluster.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            if grid.cluster
            else STAND_IN_CLUSTER
        )
        base_config = {"aws:region": "us-east-1", f"{project}:cluster": cluster}
    extra = grid.pulumi.config if grid.target == "pulumi" else {}
    failed = passed = 0
    for point in points:
        if point.pruned or point.spec is None:
            continue
        # Exactly what a trial stack declares: the endpoint half, on the base stack's cluster, under the trial's name.
        values = trial_config(base_config, point.spec, extra, project, grid.pulumi.base_stack or "dry-run-platform")
        stack = grid.pulumi.trial_stack(grid.name, point.key) if grid.target == "pulumi" else f"dry-run-{point.key}"
        try:
            plan = plan_mod.build_plan_from_values(stack, values)
        except ConfigError as exc:
            failed += 1
            say(console, f"  plan {_params(point.params)}: ", ("failed", "red"), " (stack config)")
            for problem in exc.problems:
                say(console, f"    {problem}")
            continue
        ok = not plan.failed
        failed += not ok
        passed += ok
        if ok and not verbose:
            continue
        say(
            console,
            f"  plan {_params(point.params)}: ",
            ("passed", "green") if ok else ("failed", "red"),
            f" ({len(plan.objects)} objects)",
        )
        for obj in plan.objects:
            for problem in obj.errors:
                say(console, f"    {obj.kind}/{obj.name}: {problem}")
            for error in obj.schema.errors if obj.schema else ():
                say(console, f"    {obj.kind}/{obj.name}: schema: {error}")
            for violation in obj.schema.cel.violations if obj.schema else ():
                say(console, f"    {obj.kind}/{obj.name}: schema: {violation}")
    say(
        console,
        f"plans: {passed} passed, {failed} failed" + ("" if verbose or not passed else " (--verbose lists each)"),
    )
    say(console, "dry run: nothing was deployed")
    return 1 if failed else 0


def report(args: Any, console: Console, code: int = 0) -> int:
    shared = is_url(str(args.db))
    db: Any = str(args.db) if shared else sqlite_path(args.db)
    if not shared and not db.exists():
        say(
            console,
            (f"no results database at {db}", "red"),
            f" (run `python -m stacks tune GRID.yaml --db {db}` first)",
        )
        return 2
    try:
        store = open_store(db, create=False)  # a report adds no table to a file that is not a results database
    except StoreError as exc:
        say(console, (str(exc), "red"))
        return 2
    out = Path(args.out) if args.out else results_folder(str(db)) / f"{store.path.stem}-report"
    capacity, files = None, None
    try:
        if getattr(args, "export_capacity", None):  # its files checked and locked before the report is written
            capacity = capacity_mod.Export.of_run(store, Path(args.export_capacity), getattr(args, "run", None)).open()
        written = report_mod.write(
            store, out, getattr(args, "run", None), f"--out {out}" if args.out else f"report folder {out}"
        )
        files = capacity.write() if capacity is not None else None
    except OutputLocked as exc:
        if not getattr(args, "worker", False):
            say(console, (str(exc), "red"))
            return 2
        # Workers of one shared study on one machine finish together: the first writes the report.
        say(
            console,
            ("note", "yellow"),
            f": another worker on this machine is writing the report in {out}; `python -m stacks report --db {store.path}` writes it again with every result",
        )
        return code
    except (ValueError, OutputError, StoreError) as exc:
        say(console, (str(exc), "red"))
        return 2
    finally:
        if capacity is not None:
            capacity.close()
    if written.get("stand_in"):
        say(console, ("stand-in engine", "yellow"), f": {grid_mod.STAND_IN_NOTE}")
    table = Table(title=Text(f"Trials of {written['run']}"))
    for column in written["header"]:
        table.add_column(Text(column))
    for row in written["rows"]:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)
    decision = written["verdict"]
    if not written["complete"]:
        say(
            console,
            ("this run did not finish", "yellow"),
            f": {_finished(written['counts'])}; run the same `stacks tune` command again to resume",
        )
    if decision.best is not None:
        label = (
            ("winner", "green")
            if decision.decisive
            else ("best, not decisive" if written["complete"] else "best so far, not decisive", "yellow")
        )
        say(console, label, f": {_params(decision.best.params)} — {decision.reason}")
        say(console, f"ready-to-paste stack config: {written['snippet']}")
    else:
        say(console, (decision.reason, "yellow"))
    say(
        console,
        f"report: {written['report']}"
        + (f"; plot: {written['plot']}" if written["plot"] else "")
        + (f"; cost plot: {written['cost_plot']}" if written.get("cost_plot") else ""),
    )
    if files is not None:
        if not files:
            say(
                console,
                ("no capacity to export", "yellow"),
                ": no succeeded trial recorded the highest load that met the SLO",
            )
        for path in files:
            say(console, f"capacity file: {path}")
        if files:
            say(console, f"which configuration each file measured: {files[0].parent / capacity_mod.INDEX}")
    return code


def _finished(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no trials"
