"""Trial records in SQLite, written as each trial finishes, so an interrupted run resumes.

The same file holds Optuna's tables (the TPE strategy searches with its study; every other
strategy logs its trials into one), so `optuna-dashboard sqlite:///FILE`
shows a running job live.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

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
    """The results file is not a tuning database: one line naming the file and the fix."""


@dataclass
class TrialRecord:
    run: str
    key: str
    params: dict[str, Any]
    status: str
    phase: Optional[str] = None
    started: Optional[float] = None
    finished: Optional[float] = None
    metrics: dict[str, Any] = field(default_factory=dict)
    levels: list[Any] = field(default_factory=list)
    error: Optional[str] = None
    log_path: Optional[str] = None
    stack: Optional[str] = None
    engine: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    def value(self, metric: str) -> Optional[float]:
        entry = self.metrics.get(metric)
        return entry.get("mean") if isinstance(entry, dict) else None

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
    def __init__(self, path: Path | str):
        self.path = Path(path)
        check_file(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
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
            raise StoreError(f"{self.path}: not a readable tuning database ({exc}); Fix: pass another --db, or move this file away to start a new one") from None

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path.resolve()}"

    def start_run(self, name: str, grid: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO tuning_runs (name, grid, created) VALUES (?, ?, ?)", (name, json.dumps(grid), time.time()))
            self._db.execute("UPDATE tuning_runs SET state = 'running' WHERE name = ?", (name,))
            self._db.commit()

    def finish_run(self, name: str, state: str) -> None:
        """`complete` or `interrupted`; a run killed outright stays `running`."""
        with self._lock:
            self._db.execute("UPDATE tuning_runs SET state = ? WHERE name = ?", (state, name))
            self._db.commit()

    def run_state(self, name: str) -> str:
        with self._lock:
            row = self._db.execute("SELECT state FROM tuning_runs WHERE name = ?", (name,)).fetchone()
        return (row[0] if row else None) or "complete"

    def runs(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._db.execute("SELECT name, grid FROM tuning_runs ORDER BY created").fetchall()
        return [(name, json.loads(grid)) for name, grid in rows]

    def save(self, trial: TrialRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tuning_trials (run, key, params, status, phase, started, finished, metrics, levels, error, log_path, stack, engine)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    trial.run,
                    trial.key,
                    json.dumps(trial.params, sort_keys=True),
                    trial.status,
                    trial.phase,
                    trial.started,
                    trial.finished,
                    json.dumps(trial.metrics),
                    json.dumps(trial.levels),
                    trial.error,
                    trial.log_path,
                    trial.stack,
                    json.dumps(trial.engine) if trial.engine else None,
                ),
            )
            self._db.commit()

    def trials(self, run: str) -> list[TrialRecord]:
        return list(self._iter(run))

    def get(self, run: str, key: str) -> Optional[TrialRecord]:
        return next((t for t in self._iter(run) if t.key == key), None)

    def _iter(self, run: str) -> Iterator[TrialRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT run, key, params, status, phase, started, finished, metrics, levels, error, log_path, stack, engine"
                " FROM tuning_trials WHERE run = ? ORDER BY started, key",
                (run,),
            ).fetchall()
        for row in rows:
            yield TrialRecord(
                run=row[0],
                key=row[1],
                params=json.loads(row[2]),
                status=row[3],
                phase=row[4],
                started=row[5],
                finished=row[6],
                metrics=json.loads(row[7] or "{}"),
                levels=json.loads(row[8] or "[]"),
                error=row[9],
                log_path=row[10],
                stack=row[11],
                engine=json.loads(row[12] or "{}"),
            )

    def close(self) -> None:
        self._db.close()


def check_file(path: Path) -> None:
    """An existing --db must be an SQLite file; anything else is named before sqlite3 touches it."""
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a results database; Fix: pass a file path such as {path / 'runs.db'}")
    if not path.exists():
        return
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read ({exc.strerror or exc}); Fix: check the path and its permissions") from None
    if head and head != SQLITE_HEADER:
        raise StoreError(f"{path}: not an SQLite database (it starts with {head[:8]!r}); Fix: pass the .db file `stacks tune` wrote, or a new path")
