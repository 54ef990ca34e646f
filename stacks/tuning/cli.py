"""`python -m stacks tune` and `python -m stacks report`."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from components.rules import ConfigError

from . import grid as grid_mod
from . import report as report_mod
from .driver import Driver
from .grid import GridSpec, Point
from .store import TrialRecord, TrialStore


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
            self.console.print(f"resuming: {done} trial(s) finished earlier are not repeated")

    def phase(self, point: Point, phase: str) -> None:
        with self.lock:
            if phase == "deploy":
                self.count += 1
                self.started[point.key] = time.monotonic()
            elapsed = time.monotonic() - self.started.get(point.key, time.monotonic())
            self.console.print(f"[bold]trial {self.count} of {self.total}[/] {_params(point.params)}: {phase} [dim]({elapsed:.0f} s)[/]", highlight=False)

    def finished(self, point: Point, record: TrialRecord) -> None:
        elapsed = (record.finished or 0) - (record.started or 0)
        color = {"succeeded": "green", "infeasible": "yellow"}.get(record.status, "red")
        detail = ""
        if record.status == "succeeded":
            detail = ", ".join(f"{m} {record.value(m):.4g}" for m in ("output_throughput", "ttft_p90", "tpot_p90") if record.value(m) is not None)
        elif record.error:
            detail = record.error.splitlines()[0][:160]
        self.console.print(f"  [{color}]{record.status}[/] in {elapsed:.0f} s: {detail}", highlight=False)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in params.items())


def print_pruned(console: Console, points: list[Point]) -> None:
    pruned = [p for p in points if p.pruned]
    console.print(f"grid: {len(points)} point(s), {len(pruned)} pruned by the rule library, {len(points) - len(pruned)} to try")
    for point in pruned:
        for problem in point.problems:
            if problem.severity == "error":
                console.print(f"  pruned {_params(point.params)}: {problem}", highlight=False)


def make_deployer(grid: GridSpec, target: str, db: Path, run: str) -> Any:
    log_dir = db.parent / f"{run}-logs"
    if target == "local":
        from .local import LocalEngineDeployer

        return LocalEngineDeployer(grid.local, log_dir)
    from .pulumi_target import AutomationStackRunner, PulumiDeployer

    backend = grid.pulumi.backend_url or f"file://{(db.parent / '.pulumi-state').resolve()}"
    runner = AutomationStackRunner(Path(grid.pulumi.project_dir), backend)
    return PulumiDeployer(grid.pulumi, runner, log_dir, run)


def tune(args: Any, console: Console) -> int:
    overrides = {k: v for k, v in (("target", args.target), ("strategy", args.strategy), ("parallel", args.parallel)) if v}
    try:
        grid = grid_mod.with_overrides(grid_mod.load(args.grid), overrides)
    except ConfigError as exc:
        console.print(f"[red]{args.grid} has {len(exc.problems)} problem(s):[/]")
        for problem in exc.problems:
            console.print(f"  {problem}", highlight=False)
        return 2
    if grid.target == "pulumi":
        from .deploy import DeployError
        from .pulumi_target import with_cluster_context

        if not grid.pulumi.base_stack and not args.dry_run:
            console.print(f"[red]{args.grid}: pulumi.baseStack = None[/]: --target pulumi needs the platform stack the trials run on; set pulumi.baseStack (e.g. staging), or use --dry-run or --target local")
            return 2
        try:
            grid = with_cluster_context(grid)
        except DeployError as exc:
            console.print(f"[red]{exc}[/]")
            return 2
    points = grid_mod.expand(grid)
    print_pruned(console, points)
    if args.dry_run:
        return dry_run(grid, points, console)
    db = Path(args.db or f"tuning-runs/{grid.name}.db")
    if grid.target == "pulumi":
        from shutil import which

        if which("pulumi") is None:
            console.print("[red]--target pulumi needs the pulumi CLI on PATH[/] (https://www.pulumi.com/docs/install/); use --target local or --dry-run here")
            return 2
    store = TrialStore(db)
    stop = threading.Event()
    driver = Driver(grid, store, make_deployer(grid, grid.target, db, grid.name), reporter=RichReporter(console), stop=stop)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # CI timeouts: tear down like Ctrl-C
    try:
        summary = driver.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print(f"ran {summary.ran} trial(s), {summary.skipped} finished earlier, {summary.pruned} pruned; results in {db}")
    if summary.interrupted:
        console.print("[yellow]interrupted[/]: every started trial was torn down; run the same command again to resume")
    return report(argparse_namespace(db=str(db), out=args.out, run=grid.name), console, 130 if summary.interrupted else 0)


def argparse_namespace(**kwargs: Any) -> Any:
    import argparse

    return argparse.Namespace(**kwargs)


def dry_run(grid: GridSpec, points: list[Point], console: Console) -> int:
    """The offline plan of each surviving point: the trial's endpoint rendered, validated, checked."""
    from stacks import plan as plan_mod

    from components.rules import ConfigError

    from .pulumi_target import STAND_IN_CLUSTER, load_base, trial_config

    project, base_config = load_base(grid.pulumi) if grid.target == "pulumi" else ("llm-serving", {})
    if not base_config:  # local target, or no base stack: an adopted cluster stands in
        cluster = grid.cluster.model_dump(mode="json", by_alias=True, exclude_defaults=True) if grid.cluster else STAND_IN_CLUSTER
        base_config = {"aws:region": "us-east-1", f"{project}:cluster": cluster}
    extra = grid.pulumi.config if grid.target == "pulumi" else {}
    failed = 0
    for point in points:
        if point.pruned or point.spec is None:
            continue
        # Exactly what a trial stack declares: the endpoint half, on the base stack's cluster.
        values = trial_config(base_config, point.spec, extra, project, grid.pulumi.base_stack or "dry-run-platform")
        try:
            plan = plan_mod.build_plan_from_values(f"dry-run-{point.key}", values)
        except ConfigError as exc:
            failed += 1
            console.print(f"  plan {_params(point.params)}: [red]failed[/] (stack config)", highlight=False)
            for problem in exc.problems:
                console.print(f"    {problem}", highlight=False)
            continue
        ok = not plan.failed
        failed += not ok
        console.print(f"  plan {_params(point.params)}: {'[green]passed[/]' if ok else '[red]failed[/]'} ({len(plan.objects)} objects)", highlight=False)
        for obj in plan.objects:
            for problem in obj.errors:
                console.print(f"    {obj.kind}/{obj.name}: {problem}", highlight=False)
            for error in obj.schema.errors if obj.schema else ():
                console.print(f"    {obj.kind}/{obj.name}: schema: {error}", highlight=False)
    console.print("dry run: nothing was deployed")
    return 1 if failed else 0


def report(args: Any, console: Console, code: int = 0) -> int:
    db = Path(args.db)
    if not db.exists():
        console.print(f"[red]no results database at {db}[/] (run `python -m stacks tune GRID.yaml --db {db}` first)")
        return 2
    store = TrialStore(db)
    out = Path(args.out) if args.out else db.parent / f"{db.stem}-report"
    try:
        written = report_mod.write(store, out, getattr(args, "run", None))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    table = Table(title=f"Trials of {written['run']}")
    for column in written["header"]:
        table.add_column(column)
    for row in written["rows"]:
        table.add_row(*row)
    console.print(table)
    decision = written["verdict"]
    if decision.best is not None:
        label = "[green]winner[/]" if decision.decisive else "[yellow]best, not decisive[/]"
        console.print(f"{label}: {_params(decision.best.params)} — {decision.reason}", highlight=False)
        console.print(f"ready-to-paste stack config: {written['snippet']}")
    else:
        console.print(f"[yellow]{decision.reason}[/]")
    console.print(f"report: {written['report']}" + (f"; plot: {written['plot']}" if written["plot"] else ""))
    return code
