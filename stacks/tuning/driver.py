"""The tuning loop: propose points, deploy, wait (deadline, fail fast), benchmark, record, tear down.

Teardown happens whatever happened: failed `up`, failed endpoint, benchmark error, Ctrl-C, a results
database that fails mid-trial (the run then stops, tears every trial down and raises StoreError). Every
trial is stored as it finishes; a re-run of the same command skips finished trials and first
removes whatever a crashed run left behind, by the identity the deployer recorded.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from benchmarks import secrets

from . import strategies
from .cost import trial_price
from .deploy import Deployer, DeployError, Endpoint, EndpointFailed, EngineDied, Interrupted, ReadyTimeout
from .grid import GridSpec, Point, expand
from .measure import BenchmarkFailed, Measurement, Measurer
from .runlock import for_store
from .sharedstore import ClaimLost
from .store import StoreError, TrialRecord, TrialStore

if TYPE_CHECKING:
    from .sharedstore import SharedTrialStore

WATCH_SECONDS = 0.5  # how often the engine is checked during a benchmark
SYNC_SECONDS = 1.0  # a shared study: how often other workers' results and dead workers are looked for
LOST = "lost"  # a shared study: another worker took this trial over; nothing of it is recorded here


class Reporter(Protocol):
    def planned(self, total: int, pruned: list[Point], done: int) -> None: ...

    def phase(self, point: Point, phase: str) -> None: ...

    def finished(self, point: Point, record: TrialRecord) -> None: ...

    # Optional: `note(message)`, for what recovery did (e.g. a recorded pid left alone).


class NullReporter:
    def planned(self, total: int, pruned: list[Point], done: int) -> None:
        pass

    def phase(self, point: Point, phase: str) -> None:
        pass

    def finished(self, point: Point, record: TrialRecord) -> None:
        pass


@dataclass
class RunSummary:
    run: str
    points: int
    pruned: int
    ran: int  # trials run by this invocation
    skipped: int  # finished earlier, not repeated
    interrupted: bool
    records: list[TrialRecord] = field(default_factory=list)


class Measures(Protocol):
    """What the driver calls: Measurer, or a stand-in returning recorded or fixed numbers (replay, driver_overhead)."""

    def measure(self, endpoint: Endpoint, stop: threading.Event) -> Measurement: ...


class Driver:
    def __init__(
        self,
        grid: GridSpec,
        store: TrialStore,
        deployer: Deployer,
        measurer: Measures | None = None,
        run: str | None = None,
        strategy: str | None = None,
        parallel: int | None = None,
        reporter: Reporter | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.time,
        ready_timeout: float | None = None,
        heartbeat: int | None = None,
    ):
        self.grid = grid
        self.store = store
        self.deployer = deployer
        self.measurer: Measures = measurer or Measurer(grid, seed=grid.seed)
        self.run_name = run or grid.name
        self.strategy_name = strategy or grid.strategy
        self.parallel = parallel or grid.parallel
        self.reporter = reporter or NullReporter()
        self.stop = stop or threading.Event()
        self.clock = clock
        target = grid.local if grid.target == "local" else grid.pulumi
        self.ready_timeout = ready_timeout or target.ready_timeout
        self.heartbeat = heartbeat  # a shared study's heartbeat interval (stacks/tuning/workers.py)
        self.coordinator: Any = None  # workers.Coordinator on a shared study
        self.taken: set[str] = set()  # a shared study: keys other workers hold

    # ---------------------------------------------------------------- one trial

    def run_trial(self, point: Point, claim: Any = None) -> TrialRecord:
        """One trial; whatever happens after `start`, `stop` runs. StoreError (the database failed) is
        raised only once the trial is torn down. `claim`: a shared study's hold on the point (released here)."""
        assert point.spec is not None
        record = TrialRecord(self.run_name, point.key, point.params, "running", phase="deploy", started=self.clock())
        handle = None
        store_error: StoreError | None = None
        lost = False
        try:
            self.store.save(record)
            self.reporter.phase(point, "deploy")
            handle = self.deployer.start(point.key, point.spec)
            record.stack = self.deployer.describe(handle)
            record.engine = getattr(self.deployer, "identity", lambda h: {})(handle)
            record.log_path = self.deployer.log_path(handle)
            self.store.save(record)  # a crash from here on leaves a name to clean up
            self._phase(record, point, "wait")
            endpoint = self.deployer.wait_ready(handle, self.ready_timeout, self.stop)
            endpoint = dataclasses.replace(endpoint, price_per_hour=trial_price(self.grid, point.spec))
            self._phase(record, point, "benchmark")
            measurement = self._measure_watched(handle, endpoint, point)
            record.metrics = {**measurement.metrics, "load": measurement.load, "meets_slo": measurement.meets_slo}
            if measurement.capacity is not None:
                record.metrics["capacity"] = measurement.capacity
            record.levels = measurement.levels
            record.status = "succeeded"
        except ClaimLost as exc:  # this worker's heartbeat lapsed and another took the point over
            lost = True
            record.status, record.error = "interrupted", str(exc)
        except StoreError as exc:  # not the trial's fault: the run stops (after the teardown below)
            store_error = exc
            record.status, record.error = "interrupted", str(exc)
        except Interrupted as exc:
            record.status, record.error = "interrupted", str(exc)
        except EndpointFailed as exc:
            # Crashed or failed state (out of memory, bad args): a hidden constraint, never retried.
            record.status, record.error = "infeasible", str(exc)
        except (ReadyTimeout, DeployError, BenchmarkFailed, EngineDied) as exc:
            record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
            handle = handle or getattr(exc, "handle", None)  # a failed `up` can leave resources
        except Exception as exc:
            record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            record.phase = "teardown"
            store_error = self._try_save(record, store_error)
            try:
                self.reporter.phase(point, "teardown")
            except Exception:
                pass
            try:
                self.deployer.stop(handle)
                record.stack = None  # `stack` names what may still exist; nothing does now
            except Exception as exc:
                record.error = (record.error or "") + f" | teardown failed: {exc}"
            if handle is not None:
                record.log_path = self.deployer.log_path(handle)
            record.phase = None
            record.finished = self.clock()
            store_error = self._try_save(record, store_error)
            if claim is not None:
                self.coordinator.release(claim, finished=record.done)
        if store_error is not None:
            raise store_error
        if lost:
            record.status = LOST
        return record

    def _try_save(self, record: TrialRecord, failed: StoreError | None) -> StoreError | None:
        """Save unless the database already failed; the first failure is kept, teardown goes on."""
        if failed is not None:
            return failed
        try:
            self.store.save(record)
        except ClaimLost:
            return failed  # another worker holds the row now: nothing of this attempt is written
        except StoreError as exc:
            return exc
        return None

    def _measure_watched(self, handle: object, endpoint: Endpoint, point: Point) -> Measurement:
        """The benchmark, with the engine checked throughout: a death ends it as EngineDied."""
        # The point's own benchmark block when it varies the workload (`benchmark.*` parameters).
        extra = {"benchmark": point.benchmark} if point.benchmark is not None else {}
        check = getattr(self.deployer, "check", None)
        if check is None:
            return self.measurer.measure(endpoint, self.stop, **extra)
        trial_stop = threading.Event()
        died: list[str] = []

        def watch() -> None:
            while not trial_stop.wait(WATCH_SECONDS):
                if self.stop.is_set():
                    trial_stop.set()
                    return
                reason = check(handle)
                if reason:
                    died.append(reason)
                    trial_stop.set()
                    return

        watcher = threading.Thread(target=watch, name="engine-watch", daemon=True)
        watcher.start()
        try:
            try:
                measurement = self.measurer.measure(endpoint, trial_stop, **extra)
            except (Interrupted, BenchmarkFailed):
                # Requests to a dead engine fail fast: the benchmark may end before the watcher looks.
                reason = died[0] if died else (None if self.stop.is_set() else check(handle))
                if reason:
                    raise EngineDied(reason) from None
                raise
            reason = died[0] if died else check(handle)  # it may die after the last request
            if reason:
                raise EngineDied(reason)
            return measurement
        finally:
            trial_stop.set()
            watcher.join()

    def _phase(self, record: TrialRecord, point: Point, phase: str) -> None:
        record.phase = phase
        self.store.save(record)
        self.reporter.phase(point, phase)

    # ---------------------------------------------------------------- the run

    def _recover(self) -> dict[str, TrialRecord]:
        """Finished trials of earlier invocations; leftovers of a crashed one are torn down first: those
        the deployer recorded beside its logs before deploying (also when the database write failed),
        then those the database names."""
        note = getattr(self.reporter, "note", lambda message: None)
        for message in getattr(self.deployer, "cleanup_leftovers", lambda: [])():
            note(message)
        known = {}
        for record in self.store.trials(self.run_name):
            # A shared study: a stack in another worker's row is that worker's trial, alive or not; a dead
            # worker's is torn down by whoever retries it (`_claim_shared`).
            if record.stack and not getattr(self.store, "shared", False):
                message = self.deployer.cleanup(record.stack)
                if message:
                    note(message)
                    record.error = (record.error or "") + f" | cleanup: {message}"
                record.stack = None
                self.store.save(record)
            if record.done:
                known[record.key] = record
        return known

    def _budget_left(self, known: dict[str, TrialRecord], started_at: float, ran: int) -> int:
        left = 1 << 30
        if self.grid.budget.trials is not None:
            deployed = sum(1 for r in known.values() if r.status != "pruned")
            left = min(left, self.grid.budget.trials - deployed)
        if self.grid.budget.hours is not None and self.clock() - started_at > self.grid.budget.hours * 3600:
            left = 0
        return left

    def run(self) -> RunSummary:
        """SQLite: one run at a time per database (RunLocked names the other one). A shared database:
        any number of workers, each trial held by its claim (runlock.for_store)."""
        with for_store(self.store):
            if not getattr(self.store, "shared", False):
                return self._run()
            from .workers import DEFAULT_HEARTBEAT, Coordinator

            note = getattr(self.reporter, "note", lambda message: None)
            shared = cast("SharedTrialStore", self.store)  # what a store with `shared` is
            self.coordinator = Coordinator(shared, shared.url, self.run_name, self.heartbeat or DEFAULT_HEARTBEAT, note)
            try:
                return self._run()
            finally:
                self.coordinator.close()

    def _run(self) -> RunSummary:
        points = expand(self.grid)
        pruned = [p for p in points if p.pruned]
        grid_doc = self.grid.model_dump(mode="json", by_alias=True)
        secrets.collect(grid_doc)  # the run's secrets (local.env tokens, ...), registered before anything is stored
        self.store.start_run(self.run_name, grid_doc)
        for point in pruned:
            if self.store.get(self.run_name, point.key) is None:
                reasons = "; ".join(str(p) for p in point.problems if p.severity == "error")
                self.store.save(
                    TrialRecord(self.run_name, point.key, point.params, "pruned", error=reasons, finished=self.clock())
                )
        known = self._recover()
        skipped = sum(1 for r in known.values() if r.status != "pruned")
        study = strategies.make_study(self.grid, self.run_name, self.store.url)
        by_key = {p.key: p for p in points}
        strategy = strategies.make(self.strategy_name, self.grid, points, dict(known), study)
        feasible = len(points) - len(pruned)
        self.reporter.planned(
            feasible if self.grid.budget.trials is None else min(feasible, self.grid.budget.trials), pruned, skipped
        )

        started_at = self.clock()
        ran, interrupted = 0, False
        running: dict[Future, Point] = {}
        synced = float("-inf")
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="trial") as pool:
            try:
                while True:
                    mine = {p.key for p in running.values()}
                    if self.coordinator is not None and time.monotonic() - synced >= SYNC_SECONDS:
                        self._sync_shared(strategy, mine)
                        synced = time.monotonic()
                    room = min(
                        self.parallel - len(running),
                        self._budget_left(strategy.known, started_at, ran) - len(running) - len(self.taken),
                    )
                    if room > 0 and not self.stop.is_set():
                        if self.coordinator is not None:
                            for point, claim in self._claim_shared(strategy, room, by_key, mine):
                                running[pool.submit(self.run_trial, point, claim)] = point
                        else:
                            for point in strategy.propose(room, mine):
                                running[pool.submit(self.run_trial, point)] = point
                    if not running:
                        if self.coordinator is not None and self.taken and not self.stop.is_set():
                            # Other workers still run trials: stay to retry one whose worker dies.
                            self.stop.wait(SYNC_SECONDS)
                            continue
                        break
                    done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        point = running.pop(future)
                        try:
                            record = future.result()
                        except StoreError:
                            self.stop.set()  # the other trials stop and tear down before the pool closes
                            raise
                        if record.status == LOST:
                            self.reporter.finished(point, record)
                            continue
                        ran += 1
                        if record.status == "interrupted":
                            interrupted = True
                        else:
                            strategy.tell(point, record)
                        self.reporter.finished(point, record)
            except KeyboardInterrupt:
                # Workers see the stop event, abandon their phase, and tear down before we return.
                self.stop.set()
                interrupted = True
                for future in list(running):
                    record = future.result()
                    self.reporter.finished(running.pop(future), record)
        interrupted = interrupted or self.stop.is_set()
        self.store.finish_run(self.run_name, "interrupted" if interrupted else "complete")
        return RunSummary(
            self.run_name, len(points), len(pruned), ran, skipped, interrupted, self.store.trials(self.run_name)
        )

    # ---------------------------------------------------------------- a shared study

    def _sync_shared(self, strategy: strategies.Strategy, mine: set[str]) -> None:
        """Fail dead workers' trials (each queued for one retry), learn other workers' results, and note
        which points they hold now."""
        self.coordinator.fail_stale()
        taken = set()
        for record in self.store.trials(self.run_name):
            if record.done:
                strategy.known.setdefault(record.key, record)  # their worker told the shared study already
            elif record.status == "running" and record.key not in mine:
                taken.add(record.key)
        self.taken = taken

    def _claim_shared(
        self, strategy: strategies.Strategy, room: int, by_key: dict[str, Point], mine: set[str]
    ) -> list[tuple[Point, Any]]:
        """Up to `room` points this process now holds: queued retries first, then new proposals. A point
        is held by its row's primary key (sharedstore.py), so no two workers deploy it."""
        out: list[tuple[Point, Any]] = []
        store = cast("SharedTrialStore", self.store)  # claims happen on a shared store only
        note = getattr(self.reporter, "note", lambda message: None)
        while len(out) < room:
            claim = self.coordinator.pop_retry()
            if claim is None:
                break
            point = by_key.get(claim.key)
            # Not a trial this process still runs (its own heartbeat lapsed on a database hiccup): it goes on.
            usable = point is not None and not point.pruned and claim.key not in mine
            before = store.take_over(self.run_name, claim.key, claim.retry_of, self.clock()) if usable else None
            if before is None:  # the row moved on (finished, or never claimed): nothing to retry
                self.coordinator.release(claim, finished=False)
                continue
            if before.stack:  # what the dead worker left running (its stack, or an engine on this host)
                message = self.deployer.cleanup(before.stack)
                if message:
                    note(f"trial {claim.key}: {message}")
            note(
                f"trial {claim.key}: retrying it here (attempt {claim.attempt}); the worker of attempt {claim.retry_of} stopped"
            )
            self.taken.discard(claim.key)
            assert point is not None  # usable
            out.append((point, claim))
        while len(out) < room:
            proposed = strategy.propose(room - len(out), mine | self.taken | {p.key for p, _ in out})
            if not proposed:
                break
            for point in proposed:
                attempt = store.next_attempt(self.run_name, point.key)
                claim = self.coordinator.hold(point.key, attempt) if attempt is not None else None
                if (
                    claim is None
                    or attempt is None
                    or not store.claim(self.run_name, point.key, point.params, self.clock(), attempt)
                ):
                    if claim is not None:
                        self.coordinator.release(claim, finished=False)
                    self.taken.add(point.key)  # another worker holds or finished it
                    strategy.withdraw(point)
                    continue
                out.append((point, claim))
        return out
