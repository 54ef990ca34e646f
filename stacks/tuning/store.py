"""Trial records in SQLite, written as each trial finishes, so an interrupted run resumes.

Nothing secret is stored: the grid and every trial field are scrubbed of the secrets the run knows
(`local.env` tokens, API keys, a key a server echoed into an error; benchmarks/secrets.py) before they
are written. The same file holds Optuna's tables (the TPE strategy searches with its study; every other
strategy logs its trials into one), so `optuna-dashboard sqlite:///FILE`
shows a running job live.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from benchmarks import inputs
from benchmarks.outputs import describe_file, refusal
from benchmarks.secrets import scrub, scrub_data

FINISHED = ("succeeded", "failed", "infeasible", "pruned")
SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tuning_runs (
    name TEXT PRIMARY KEY, grid TEXT NOT NULL, created REAL NOT NULL,
    state TEXT DEFAULT 'complete'    -- running | complete | interrupted (older files: complete)
);
CREATE TABLE IF NOT EXISTS tuning_trials (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,            -- running | succeeded | failed | infeasible | pruned | interrupted
    phase TEXT,
    started REAL,
    finished REAL,
    metrics TEXT,                    -- aggregate over repeats: {metric: {mean, min, max, stdev, values}}
    levels TEXT,                     -- per-repeat benchmark summaries
    error TEXT,
    log_path TEXT,
    stack TEXT,
    engine TEXT,                     -- the engine's identity: {pid, start, boot, cmdline}
    PRIMARY KEY (run, key)
);
"""
# Columns added after the first release: (table, column, declaration) for files written before.
_ADDED = [("tuning_runs", "state", "TEXT DEFAULT 'complete'"), ("tuning_trials", "engine", "TEXT")]


class StoreError(Exception):
    """The results file is not a tuning database, or cannot be read or written: one line naming the file and the fix."""


@dataclass
class TrialRecord:
    run: str
    key: str
    params: dict[str, Any]
    status: str
    phase: str | None = None
    started: float | None = None
    finished: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    levels: list[Any] = field(default_factory=list)
    error: str | None = None
    log_path: str | None = None
    stack: str | None = None
    engine: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    def value(self, metric: str) -> float | None:
        entry = self.metrics.get(metric)
        return entry.get("mean") if isinstance(entry, dict) else None

    def measured(self, metric: str) -> float:
        """`value(metric)` of a record the caller kept because it has one."""
        found = self.value(metric)
        assert found is not None, metric
        return found

    @property
    def note(self) -> str:
        """The error as one line: its first line; when that only announces the engine's log tail, the
        tail's last line instead of an empty `log tail:`."""
        lines = [line.strip() for line in (self.error or "").splitlines() if line.strip()]
        if not lines:
            return ""
        first = lines[0]
        if first.endswith("log tail:"):
            first = first.removesuffix("log tail:").rstrip("; ")
            if len(lines) > 1:
                first += f"; last log line: {lines[-1]}"
        return first


class TrialStore:
    """`create=False` (reports) opens only an existing tuning database and adds no table to anything else."""

    def __init__(self, path: Path | str, create: bool = True):
        self.path = Path(path)
        check_file(self.path, create)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.path}: cannot create its folder ({exc.strerror or exc}); Fix: pass a --db in a writable folder"
            ) from None
        self._lock = threading.Lock()
        try:  # a read-only or full disk: named here, not as sqlite's "unable to open"
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise StoreError(
                f"{self.path}: cannot create or open the results database ({why}); Fix: pass a --db on a writable disk with free space"
            ) from None
        try:
            if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
            self._db.executescript(_SCHEMA)
            for table, column, declaration in _ADDED:
                if column not in {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"{self.path}: not a readable tuning database ({exc}); Fix: pass another --db, or move this file away to start a new one"
            ) from None

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """A database that fails mid-run (disk full, file truncated or removed): one line naming it."""
        try:
            with self._lock:
                yield
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"{self.path}: the results database failed ({exc}); "
                "Fix: free space on its disk or restore the file, then run the same command again (`stacks tune` resumes where it stopped)"
            ) from None

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path.resolve()}"

    def start_run(self, name: str, grid: dict[str, Any]) -> None:
        with self._guard():
            self._db.execute(
                "INSERT OR IGNORE INTO tuning_runs (name, grid, created) VALUES (?, ?, ?)",
                (name, json.dumps(scrub_data(grid)), time.time()),
            )
            self._db.execute("UPDATE tuning_runs SET state = 'running' WHERE name = ?", (name,))
            self._db.commit()

    def finish_run(self, name: str, state: str) -> None:
        """`complete` or `interrupted`; a run killed outright stays `running`."""
        with self._guard():
            self._db.execute("UPDATE tuning_runs SET state = ? WHERE name = ?", (state, name))
            self._db.commit()

    def run_state(self, name: str) -> str:
        with self._guard():
            row = self._db.execute("SELECT state FROM tuning_runs WHERE name = ?", (name,)).fetchone()
        return (row[0] if row else None) or "complete"

    def runs(self) -> list[tuple[str, dict[str, Any]]]:
        with self._guard():
            rows = self._db.execute("SELECT name, grid FROM tuning_runs ORDER BY created").fetchall()
        return [(name, self._json(grid, "tuning_runs.grid")) for name, grid in rows]

    def save(self, trial: TrialRecord) -> None:
        with self._guard():
            self._db.execute(
                "INSERT OR REPLACE INTO tuning_trials (run, key, params, status, phase, started, finished, metrics, levels, error, log_path, stack, engine)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    trial.run,
                    trial.key,
                    json.dumps(scrub_data(trial.params), sort_keys=True),
                    trial.status,
                    trial.phase,
                    trial.started,
                    trial.finished,
                    json.dumps(scrub_data(trial.metrics)),
                    json.dumps(scrub_data(trial.levels)),
                    None if trial.error is None else scrub(trial.error),
                    trial.log_path,
                    _scrubbed_text(trial.stack),
                    json.dumps(scrub_data(trial.engine)) if trial.engine else None,
                ),
            )
            self._db.commit()

    def trials(self, run: str) -> list[TrialRecord]:
        return list(self._iter(run))

    def get(self, run: str, key: str) -> TrialRecord | None:
        return next((t for t in self._iter(run) if t.key == key), None)

    def _iter(self, run: str) -> Iterator[TrialRecord]:
        with self._guard():
            rows = self._db.execute(
                "SELECT run, key, params, status, phase, started, finished, metrics, levels, error, log_path, stack, engine"
                " FROM tuning_trials WHERE run = ? ORDER BY started, key",
                (run,),
            ).fetchall()
        for row in rows:
            yield TrialRecord(
                run=row[0],
                key=row[1],
                params=self._json(row[2], "tuning_trials.params"),
                status=row[3],
                phase=row[4],
                started=row[5],
                finished=row[6],
                metrics=self._json(row[7] or "{}", "tuning_trials.metrics"),
                levels=self._json(row[8] or "[]", "tuning_trials.levels"),
                error=row[9],
                log_path=row[10],
                stack=row[11],
                engine=self._json(row[12] or "{}", "tuning_trials.engine"),
            )

    def _json(self, text: str, column: str) -> Any:
        """A JSON column, depth-checked: a --db from elsewhere is input like any file (InputError is a ValueError)."""
        return inputs.loads_json(text, f"{self.path}: {column}", "pass the .db file `stacks tune` wrote")

    def close(self) -> None:
        self._db.close()


def _scrubbed_text(text: str | None) -> str | None:
    """A stored description (a stack name, or a local engine's identity as JSON with its command line),
    scrubbed as data when it is JSON so the JSON stays valid."""
    if text is None:
        return None
    try:
        return json.dumps(scrub_data(json.loads(text)))
    except ValueError:
        return scrub(text)


def check_file(path: Path, create: bool = True) -> None:
    """An existing --db must be a tuning database (SQLite with its tables); anything else, an empty file
    included, is named before sqlite3 touches it. `create=False`: it must exist."""
    fix = "pass the .db file `stacks tune` wrote, or a new path"
    if path.is_dir():
        raise StoreError(
            refusal(str(path), "is a directory, not a results database", f"pass a file path such as {path / 'runs.db'}")
        )
    if not path.exists():
        if not create:
            raise StoreError(
                f"{path}: no results database there; Fix: run `python -m stacks tune GRID.yaml --db {path}` first"
            )
        return
    try:
        with inputs.open_regular(path, "pass the .db file `stacks tune` wrote, or a new path") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except inputs.InputError as exc:
        raise StoreError(str(exc)) from None
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot read ({exc.strerror or exc}); Fix: check the path and its permissions"
        ) from None
    if head != SQLITE_HEADER:
        what = (
            "is an empty file this tool did not write"
            if not head
            else f"is not an SQLite database (it starts with {head[:8]!r})"
        )
        raise StoreError(refusal(str(path), what, fix))
    tables = _tables(path)
    if tables is not None and "tuning_runs" not in tables:
        raise StoreError(
            refusal(
                str(path),
                f"is {describe_file(path)} of another program (no tuning tables; it holds {', '.join(sorted(tables)[:3]) or 'no table'})",
                fix,
            )
        )


def _tables(path: Path) -> set[str] | None:
    """The file's table names, read without writing to it; None when SQLite cannot read it (named later)."""
    try:
        db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return None
    finally:
        db.close()
