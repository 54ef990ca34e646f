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

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tuning_runs (
    name TEXT PRIMARY KEY, grid TEXT NOT NULL, created REAL NOT NULL
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
    PRIMARY KEY (run, key)
);
"""


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

    @property
    def done(self) -> bool:
        return self.status in FINISHED

    def value(self, metric: str) -> Optional[float]:
        entry = self.metrics.get(metric)
        return entry.get("mean") if isinstance(entry, dict) else None


class TrialStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.executescript(_SCHEMA)
        self._db.commit()

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path.resolve()}"

    def start_run(self, name: str, grid: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO tuning_runs VALUES (?, ?, ?)", (name, json.dumps(grid), time.time()))
            self._db.commit()

    def runs(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._db.execute("SELECT name, grid FROM tuning_runs ORDER BY created").fetchall()
        return [(name, json.loads(grid)) for name, grid in rows]

    def save(self, trial: TrialRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO tuning_trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
                ),
            )
            self._db.commit()

    def trials(self, run: str) -> list[TrialRecord]:
        return list(self._iter(run))

    def get(self, run: str, key: str) -> Optional[TrialRecord]:
        return next((t for t in self._iter(run) if t.key == key), None)

    def _iter(self, run: str) -> Iterator[TrialRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM tuning_trials WHERE run = ? ORDER BY started, key", (run,)).fetchall()
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
            )

    def close(self) -> None:
        self._db.close()
