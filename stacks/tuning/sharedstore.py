"""Trial records in a database server that several `stacks tune` processes share (one study, many machines).

`--db postgresql://tuner@db.internal/tuning` (any SQLAlchemy URL Optuna's RDBStorage accepts; tested on
PostgreSQL) instead of a SQLite file. Same tables and columns as the SQLite store, plus `attempt` and
`owner`: the `(run, key)` primary key is the claim on a point, so no point is deployed twice, across
processes and machines. A worker claims a point by inserting its row (the database refuses a second
insert of the same key, atomically); it writes the row only while its attempt is the row's attempt, so a
worker whose trial was taken over after its heartbeat lapsed (stacks/tuning/workers.py) writes nothing more.

Nothing secret is stored (every text is scrubbed as in store.py), and a password in the URL is refused
(`check_url`): it comes from PGPASSWORD or ~/.pgpass, which libpq reads, as the load generator refuses a
key in its URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from benchmarks import inputs, secrets
from benchmarks.secrets import scrub, scrub_data

from .store import StoreError, TrialRecord, _scrubbed_text

_META = sa.MetaData()
RUNS = sa.Table(
    "tuning_runs",
    _META,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("grid", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("state", sa.String(32), server_default="complete"),
)
TRIALS = sa.Table(
    "tuning_trials",
    _META,
    sa.Column("run", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("phase", sa.String(32)),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Column("metrics", sa.Text),
    sa.Column("levels", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("log_path", sa.Text),
    sa.Column("stack", sa.Text),
    sa.Column("engine", sa.Text),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),  # the claim: see `claim`
    sa.Column("owner", sa.Text),  # host, pid and thread of the worker that holds the claim
)
# One session-level advisory lock while tables are created: two workers starting at once would both
# CREATE (PostgreSQL's catalog then refuses the second with a duplicate pg_type row).
_SCHEMA_LOCK = 0x6C6C6D5475  # "llmTu"


def is_url(db: str | os.PathLike[str]) -> bool:
    """A database server URL (`postgresql://...`), not a file path; `sqlite:///FILE` names a file."""
    text = str(db)
    return "://" in text and not text.startswith("sqlite:")


def check_url(url: str) -> str | None:
    """None if usable, else what is wrong: a password in the URL would be printed and logged with it."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.password is not None or "password" in query:
        return (
            "a password in the --db URL would be shown in process lists, shell history and logs: "
            "remove it and set PGPASSWORD, or put it in ~/.pgpass (libpq reads both)"
        )
    if not parts.hostname and "host" not in query:
        return "expected postgresql://USER@HOST[:PORT]/DATABASE"
    return None


class Location(str):
    """How the shared database is named in messages: the URL without its user info (the scrubber would
    mask it anyway); `.name` and `.stem` the database's name, as a file's are its name."""

    database: str

    def __new__(cls, url: str) -> Location:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        self = super().__new__(cls, parts._replace(netloc=netloc, query="").geturl())
        self.database = parts.path.strip("/") or "postgres"
        return self

    @property
    def name(self) -> str:
        return self.database

    @property
    def stem(self) -> str:
        return self.database


class ClaimLost(Exception):
    """Another worker took this trial over (this worker's heartbeat lapsed): it writes nothing more."""


def owner_id() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class SharedTrialStore:
    """The TrialStore interface over SQLAlchemy, plus `claim`, `take_over` and `release` for several workers."""

    shared = True

    def __init__(self, url: str, create: bool = True):
        problem = check_url(url)
        self.url = url
        self.path = Location(url)
        if problem:
            raise StoreError(f"{self.path}: {problem}")
        if os.environ.get("PGPASSWORD"):
            secrets.register(
                os.environ["PGPASSWORD"]
            )  # libpq may quote it back in no message; never printed either way
        self._claims: dict[tuple[str, str], int] = {}  # (run, key) -> the attempt this process holds
        self._lock = threading.Lock()
        try:
            self._engine = sa.create_engine(url, pool_pre_ping=True, future=True)
            with self._guard(), self._engine.begin() as conn:
                if not create:  # a report: reads only (a user with SELECT alone may run it)
                    if "tuning_runs" not in set(sa.inspect(conn).get_table_names()):
                        raise StoreError(
                            f"{self.path}: no tuning tables in this database; Fix: run `python -m stacks tune GRID.yaml --db {self.path}` first"
                        )
                    return
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
                _META.create_all(conn, checkfirst=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise StoreError(
                f"{self.path}: not a database URL SQLAlchemy can open ({scrub(str(exc))}); Fix: e.g. postgresql://USER@HOST:5432/DATABASE"
            ) from None

    @contextlib.contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Held while another library (Optuna) creates its tables: on PostgreSQL a session advisory lock,
        which the server drops if this process dies."""
        with self._guard(), self._engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK})
                conn.commit()
            try:
                yield
            finally:
                if postgres:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK})
                    conn.commit()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            first = scrub(str(getattr(exc, "orig", None) or exc)).strip().splitlines()
            raise StoreError(
                f"{self.path}: the results database failed ({first[0] if first else type(exc).__name__}); "
                "Fix: check that the server is reachable and the user may write it, then run the same command again (`stacks tune` resumes)"
            ) from None

    # ---------------------------------------------------------------- runs

    def start_run(self, name: str, grid: dict[str, Any]) -> None:
        """The first worker records the grid; a later one must bring the same grid (its worker count aside)."""
        doc = json.dumps(scrub_data(grid))
        with self._guard(), self._engine.begin() as conn:
            row = conn.execute(sa.select(RUNS.c.grid).where(RUNS.c.name == name)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(RUNS.insert().values(name=name, grid=doc, created=time.time(), state="running"))
                except sa.exc.IntegrityError:
                    row = conn.execute(sa.select(RUNS.c.grid).where(RUNS.c.name == name)).first()
            if row is not None:
                if _comparable(row[0]) != _comparable(doc):
                    raise StoreError(
                        f"{self.path}: run {name} was started from another grid (its stored grid differs from this one); "
                        "Fix: give every worker the same grid file, or give this grid another name"
                    )
                conn.execute(RUNS.update().where(RUNS.c.name == name).values(state="running"))

    def finish_run(self, name: str, state: str) -> None:
        """`complete` only once no worker has a trial running; the last worker to finish marks it."""
        with self._guard(), self._engine.begin() as conn:
            if state == "complete":
                running = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(TRIALS)
                    .where(TRIALS.c.run == name, TRIALS.c.status == "running")
                ).scalar()
                if running:
                    return
            conn.execute(RUNS.update().where(RUNS.c.name == name).values(state=state))

    def run_state(self, name: str) -> str:
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(sa.select(RUNS.c.state).where(RUNS.c.name == name)).first()
        return (row[0] if row else None) or "complete"

    def runs(self) -> list[tuple[str, dict[str, Any]]]:
        with self._guard(), self._engine.connect() as conn:
            rows = conn.execute(sa.select(RUNS.c.name, RUNS.c.grid).order_by(RUNS.c.created)).all()
        return [(name, self._json(grid, "tuning_runs.grid")) for name, grid in rows]

    # ---------------------------------------------------------------- claims

    def next_attempt(self, run: str, key: str) -> int | None:
        """The attempt a claim on this point would be: 1 when no row exists, the next one after an
        interrupted attempt, None when a worker holds it or it finished."""
        with self._guard(), self._engine.connect() as conn:
            row = conn.execute(
                sa.select(TRIALS.c.status, TRIALS.c.attempt).where(TRIALS.c.run == run, TRIALS.c.key == key)
            ).first()
        if row is None:
            return 1
        return row[1] + 1 if row[0] == "interrupted" else None

    def claim(self, run: str, key: str, params: dict[str, Any], started: float, attempt: int) -> bool:
        """Take a point for `attempt` (from `next_attempt`): insert its row for the first (the primary key
        refuses a second insert, whoever tries it), or move an interrupted row from the attempt before. True
        when this process now holds it."""
        owner = owner_id()
        values = _row(TrialRecord(run, key, params, "running", phase="deploy", started=started))
        with self._guard(), self._engine.begin() as conn:
            if attempt == 1:
                try:
                    with conn.begin_nested():
                        conn.execute(TRIALS.insert().values(**values, attempt=1, owner=owner))
                except sa.exc.IntegrityError:
                    return False
            else:
                taken = conn.execute(
                    TRIALS.update()
                    .where(
                        TRIALS.c.run == run,
                        TRIALS.c.key == key,
                        TRIALS.c.status == "interrupted",
                        TRIALS.c.attempt == attempt - 1,
                    )
                    .values(**values, attempt=attempt, owner=owner)
                )
                if taken.rowcount != 1:
                    return False
        with self._lock:
            self._claims[(run, key)] = attempt
        return True

    def attempt(self, run: str, key: str) -> int | None:
        with self._lock:
            return self._claims.get((run, key))

    def take_over(self, run: str, key: str, dead_attempt: int, started: float) -> TrialRecord | None:
        """A retry: the row of a worker whose heartbeat lapsed becomes this worker's (its attempt + 1). The
        dead attempt's record is returned (its `stack` names what it may have left running); None when the
        row moved on (another worker finished or took it)."""
        with self._guard(), self._engine.begin() as conn:
            before = self._get(conn, run, key)
            if before is None:
                return None
            taken = conn.execute(
                TRIALS.update()
                .where(
                    TRIALS.c.run == run,
                    TRIALS.c.key == key,
                    TRIALS.c.attempt == dead_attempt,
                    TRIALS.c.status == "running",
                )
                .values(
                    attempt=dead_attempt + 1,
                    owner=owner_id(),
                    phase="deploy",
                    started=started,
                    stack=None,
                    engine=None,
                    error=None,
                )
            )
            if taken.rowcount != 1:
                return None
        with self._lock:
            self._claims[(run, key)] = dead_attempt + 1
        return before

    def fail_abandoned(self, run: str, key: str, attempt: int, reason: str) -> None:
        """A trial whose worker stopped twice: failed for good (no third attempt), if that attempt still holds it."""
        with self._guard(), self._engine.begin() as conn:
            conn.execute(
                TRIALS.update()
                # `<=`: a worker that died between queuing its retry's attempt and taking the row left the one before
                .where(
                    TRIALS.c.run == run, TRIALS.c.key == key, TRIALS.c.attempt <= attempt, TRIALS.c.status == "running"
                )
                .values(status="failed", phase=None, error=scrub(reason), finished=time.time())
            )

    def running_elsewhere(self, run: str) -> set[str]:
        """Keys some worker holds now (this process's included)."""
        with self._guard(), self._engine.connect() as conn:
            return set(
                conn.execute(sa.select(TRIALS.c.key).where(TRIALS.c.run == run, TRIALS.c.status == "running")).scalars()
            )

    # ---------------------------------------------------------------- records

    def save(self, trial: TrialRecord) -> None:
        """Written only under this process's claim on the row (ClaimLost when another worker took it);
        a pruned point's row is written by whoever gets there first."""
        values = _row(trial)
        with self._guard(), self._engine.begin() as conn:
            attempt = self.attempt(trial.run, trial.key)
            if attempt is None:
                try:
                    with conn.begin_nested():
                        conn.execute(TRIALS.insert().values(**values, attempt=1, owner=owner_id()))
                except sa.exc.IntegrityError:
                    conn.execute(
                        TRIALS.update()
                        .where(TRIALS.c.run == trial.run, TRIALS.c.key == trial.key, TRIALS.c.status != "running")
                        .values(**values)
                    )
                return
            done = conn.execute(
                TRIALS.update()
                .where(TRIALS.c.run == trial.run, TRIALS.c.key == trial.key, TRIALS.c.attempt == attempt)
                .values(**values)
            )
        if done.rowcount != 1:
            raise ClaimLost(f"trial {trial.key}: another worker took it over (attempt {attempt} lapsed)")

    def trials(self, run: str) -> list[TrialRecord]:
        with self._guard(), self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(*_COLUMNS).where(TRIALS.c.run == run).order_by(TRIALS.c.started, TRIALS.c.key)
            ).all()
        return [self._record(row) for row in rows]

    def get(self, run: str, key: str) -> TrialRecord | None:
        with self._guard(), self._engine.connect() as conn:
            return self._get(conn, run, key)

    def _get(self, conn: Any, run: str, key: str) -> TrialRecord | None:
        row = conn.execute(sa.select(*_COLUMNS).where(TRIALS.c.run == run, TRIALS.c.key == key)).first()
        return None if row is None else self._record(row)

    def _record(self, row: Any) -> TrialRecord:
        return TrialRecord(
            run=row[0], key=row[1], params=self._json(row[2], "tuning_trials.params"), status=row[3], phase=row[4],
            started=row[5], finished=row[6], metrics=self._json(row[7] or "{}", "tuning_trials.metrics"),
            levels=self._json(row[8] or "[]", "tuning_trials.levels"), error=row[9], log_path=row[10], stack=row[11],
            engine=self._json(row[12] or "{}", "tuning_trials.engine"),
        )  # fmt: skip

    def _json(self, text: str, column: str) -> Any:
        return inputs.loads_json(text, f"{self.path}: {column}", "pass the database `stacks tune` wrote")

    def close(self) -> None:
        self._engine.dispose()


_COLUMNS = [
    TRIALS.c[name]
    for name in (
        "run",
        "key",
        "params",
        "status",
        "phase",
        "started",
        "finished",
        "metrics",
        "levels",
        "error",
        "log_path",
        "stack",
        "engine",
    )
]


def _row(trial: TrialRecord) -> dict[str, Any]:
    """The stored form, scrubbed like the SQLite store's."""
    return {
        "run": trial.run,
        "key": trial.key,
        "params": json.dumps(scrub_data(trial.params), sort_keys=True),
        "status": trial.status,
        "phase": trial.phase,
        "started": trial.started,
        "finished": trial.finished,
        "metrics": json.dumps(scrub_data(trial.metrics)),
        "levels": json.dumps(scrub_data(trial.levels)),
        "error": None if trial.error is None else scrub(trial.error),
        "log_path": trial.log_path,
        "stack": _scrubbed_text(trial.stack),
        "engine": json.dumps(scrub_data(trial.engine)) if trial.engine else None,
    }


def _comparable(doc: str) -> Any:
    """The stored grid without what may differ between workers of one study (how many trials each runs)."""
    data = json.loads(doc)
    if isinstance(data, dict):
        data.pop("parallel", None)
    return data


def sqlite_path(db: str | os.PathLike[str]) -> Path:
    """A SQLite --db as a path: `sqlite:///FILE` (as Optuna spells it) names FILE."""
    text = os.fspath(db)
    return Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else Path(text)


def open_store(db: str | os.PathLike[str], create: bool = True) -> Any:
    """The SQLite store for a path (or `sqlite:///FILE`), the shared store for a server URL."""
    from .store import TrialStore

    if is_url(os.fspath(db)):
        return SharedTrialStore(os.fspath(db), create)
    return TrialStore(sqlite_path(db), create)
