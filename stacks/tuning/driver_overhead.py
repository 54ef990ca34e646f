"""The tuning driver's own cost per trial: the real driver and results store against a target whose
deploy, wait, benchmark and teardown return at once, with one worker and with four, side by side.

    venv/bin/python -m stacks.tuning.driver_overhead [--trials 40] [--workers 4] [--db postgresql://USER@HOST/DB]

What a trial costs beyond its deployment and benchmark: expanding and checking the grid (once per run),
proposing, claiming (a shared --db), five or six record writes, the teardown bookkeeping. Per trial it prints
the run's wall time divided by its trials, and the time one worker spends per trial (wall x workers /
trials: what each trial waits for the driver). Goal: under 1 s per trial. It lives in stacks/tuning/, not
benchmarks/, because it runs the driver (benchmarks/ imports nothing of stacks; docs/architecture.md).
Not run in CI; timings on a busy machine are noisy: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .deploy import Endpoint
from .driver import Driver
from .grid import GridSpec
from .measure import Measurement, aggregate
from .sharedstore import is_url, open_store

GOAL_SECONDS = 1.0


class InstantTarget:
    """A deployer that starts, becomes ready and stops at once."""

    def start(self, key: str, spec: Any) -> str:
        return key

    def wait_ready(self, handle: str, timeout: float, stop: threading.Event) -> Endpoint:
        return Endpoint("http://127.0.0.1:9", "stand-in/overhead")

    def stop(self, handle: str | None) -> None:
        pass

    def describe(self, handle: str | None) -> str | None:
        return None

    def log_path(self, handle: str | None) -> str | None:
        return None

    def cleanup(self, described: str) -> str | None:
        return None


class InstantMeasurer:
    def measure(self, endpoint: Endpoint, stop: threading.Event, **_: Any) -> Measurement:
        sample = {"output_throughput": 100.0, "ttft_p90": 0.05, "tpot_p90": 0.01}
        return Measurement(aggregate([sample]), [sample], True, 4)


def grid(trials: int, name: str) -> GridSpec:
    return GridSpec.model_validate(
        {
            "name": name,
            "target": "local",
            "base": {
                "name": "overhead",
                "model": "stand-in/overhead",
                "engine": "vllm",
                "instanceType": "g5.xlarge",
                "modelSource": {"type": "huggingface"},
                "engineArgs": {"maxModelLen": 2048},
            },
            "parameters": {"engineArgs.maxNumSeqs": list(range(1, trials + 1))},
            "local": {"engine": "stand-in"},
        }
    )


def run(trials: int, workers: int, db: str) -> tuple[float, int]:
    """Wall seconds of one run of `trials` instant trials with `workers` at once, and the trials it ran."""
    spec = grid(trials, f"overhead-{workers}-{int(time.time() * 1000)}")
    store = open_store(db)
    driver = Driver(spec, store, InstantTarget(), measurer=InstantMeasurer(), parallel=workers, heartbeat=5)
    started = time.perf_counter()
    summary = driver.run()
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, summary.ran


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db", help="a SQLite file (default: a new one in a temporary folder) or a postgresql:// URL")
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        db = args.db or str(Path(scratch) / "overhead.db")
        rows = [(n, *run(args.trials, n, db)) for n in (1, args.workers)]
    kind = "shared database" if is_url(db) else "SQLite file"
    table = Table(
        title=f"driver overhead, {args.trials} instant trials, {kind}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for column in (
        "workers",
        "wall s",
        "wall s per trial",
        "worker s per trial",
        f"under {GOAL_SECONDS:g} s",
        "vs 1 worker",
    ):
        table.add_column(column, justify="right")
    base = rows[0][1] / max(rows[0][2], 1)
    for workers, wall, ran in rows:
        per_trial = wall / max(ran, 1)
        per_worker = per_trial * workers
        table.add_row(
            str(workers),
            f"{wall:.2f}",
            f"{per_trial:.3f}",
            f"{per_worker:.3f}",
            "yes" if per_worker < GOAL_SECONDS else "no",
            f"{per_trial / base:.2f}x",
        )
    console.print(table)
    return 0 if all(wall * w / max(ran, 1) < GOAL_SECONDS for w, wall, ran in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
