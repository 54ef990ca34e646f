"""Several `stacks tune` workers on one study in a real PostgreSQL server (tests/postgres.py), on the
stand-in engine: no point is deployed twice, and a worker killed mid-trial has that trial failed by its
lapsed heartbeat and run once more by the other worker.

Optuna facts the retry rests on (optuna/optuna@v5.0.0): `fail_stale_trials` runs the stale-trial callback
only in the process whose update moved the trial to FAIL (optuna/storages/_heartbeat.py);
`RetryHeartbeatStaleTrialCallback(max_retry=1)` queues one WAITING copy with the same user attributes and
none after a second failure (optuna/storages/_callbacks.py); `set_trial_state_values` moves a WAITING trial
to RUNNING for one caller only (optuna/storages/_rdb/storage.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = "shared"
SEQS = [2, 4, 8, 16, 32, 128]  # 128: the stand-in exits at start (infeasible), a finished trial too
GRID = f"""
name: {RUN}
target: local
base:
  name: shared
  model: stand-in/shared-model
  engine: vllm
  instanceType: g5.xlarge
  modelSource: {{type: huggingface}}
  engineArgs: {{maxModelLen: 2048}}
parameters:
  engineArgs.maxNumSeqs: {SEQS}
benchmark:
  scenario: D(16,24)
  concurrency: [4]
  maxRequests: 8
  maxSeconds: 2
  timeout: 10
  warmup: 0
  metricsInterval: 0.1
objective: {{metric: output_throughput}}
local:
  engine: stand-in
  readyTimeout: 20
  extraArgs: ["--startup-delay", "2"]   # each trial waits 2 s for its engine: time to be killed in
"""


def worker(tmp_path: Path, url: str, password: str, out: str) -> subprocess.Popen:
    env = {**os.environ, "PGPASSWORD": password, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "stacks", "tune", "grid.yaml", "--db", url, "--workers", "1", "--heartbeat", "1"],
        cwd=tmp_path, env=env, stdout=(tmp_path / out).open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def rows(url: str, password: str) -> list[tuple]:
    import psycopg

    conn = psycopg.connect(url, password=password)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('tuning_trials')")
            if cursor.fetchone()[0] is None:  # no worker has created the tables yet
                return []
            cursor.execute(
                "SELECT key, status, attempt, owner, phase, params, error, engine FROM tuning_trials WHERE run = %s",
                (RUN,),
            )
            return cursor.fetchall()
    finally:
        conn.close()


def test_two_workers_share_one_study_and_a_killed_workers_trial_is_retried_once_by_the_other(tmp_path, postgres_server):
    from stacks.tuning.grid import point_key

    url = postgres_server.url(postgres_server.create_database())
    password = postgres_server.password
    (tmp_path / "grid.yaml").write_text(GRID)
    a = worker(tmp_path, url, password, "a.out")
    b = worker(tmp_path, url, password, "b.out")
    killed_key = None
    try:
        deadline = time.monotonic() + 40
        while killed_key is None and time.monotonic() < deadline:  # kill A while its engine starts
            for key, status, _attempt, owner, phase, *_ in rows(url, password):
                if status == "running" and owner and owner.split(":")[1] == str(a.pid) and phase == "wait":
                    killed_key = key
            time.sleep(0.1)
        assert killed_key is not None, (tmp_path / "a.out").read_text()
        os.kill(a.pid, signal.SIGKILL)
        a.wait(10)
        assert b.wait(90) == 0, (tmp_path / "b.out").read_text()
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.kill()
                process.wait(10)

    keys = {point_key({"engineArgs.maxNumSeqs": n}): n for n in SEQS}
    final = {key: (status, attempt, error) for key, status, attempt, *_rest, error, _engine in rows(url, password)}
    assert set(final) == set(keys)
    assert {k: v[0] for k, v in final.items()} == {
        k: "infeasible" if n == 128 else "succeeded" for k, n in keys.items()
    }
    assert {k: v[1] for k, v in final.items()} == {
        k: 2 if k == killed_key else 1 for k in keys
    }  # one retry, only of the killed trial

    # Each engine start writes its command line first in the trial's log: every point started once, the killed one twice.
    logs = tmp_path / "tuning-runs" / f"{RUN}-logs"
    starts = {
        k: (logs / f"trial-{k}.log").read_text().count("\n$ ") + (logs / f"trial-{k}.log").read_text().startswith("$ ")
        for k in keys
    }
    assert starts == {k: 2 if k == killed_key else 1 for k in keys}

    out = (tmp_path / "b.out").read_text()
    assert f"trial {killed_key}: retrying it here (attempt 2); the worker of attempt 1 stopped" in out
    assert "stopped engine pid" in out  # the engine the killed worker left running, stopped before the retry
    database = url.rsplit("/", 1)[1]
    assert f"report: tuning-runs/{database}-report/report.md" in out  # the report read the shared database
    assert (tmp_path / "tuning-runs" / f"{database}-report" / "report.md").is_file()
    assert password not in out
    import psycopg

    conn = psycopg.connect(url, password=password)
    with conn.cursor() as cursor:  # every stored text: results and Optuna's tables
        cursor.execute(
            "SELECT string_agg(t::text, ' ') FROM tuning_trials t UNION ALL SELECT string_agg(r::text, ' ') FROM tuning_runs r UNION ALL SELECT string_agg(a::text, ' ') FROM trial_user_attributes a"
        )
        stored = " ".join(row[0] or "" for row in cursor.fetchall())
    conn.close()
    assert password not in stored and "stand-in/shared-model" in stored

    import optuna

    study = optuna.load_study(study_name=f"{RUN}.workers", storage=url.replace("tuner@", f"tuner:{password}@"))
    mine = [t for t in study.trials if t.user_attrs.get("key") == killed_key]
    assert sorted(t.state.name for t in mine) == ["COMPLETE", "FAIL"]
    (retry,) = [t for t in mine if t.state.name == "COMPLETE"]
    assert retry.system_attrs["retry_history"] == [next(t.number for t in mine if t.state.name == "FAIL")]


def test_a_worker_whose_trial_was_taken_over_writes_nothing_more(postgres_url):
    """A worker cut off longer than the grace period comes back: its next write is refused (ClaimLost), so
    the retry's record stands."""
    from stacks.tuning.sharedstore import ClaimLost, SharedTrialStore
    from stacks.tuning.store import TrialRecord

    first, second = SharedTrialStore(postgres_url), SharedTrialStore(postgres_url)
    first.start_run("r", {"name": "r"})
    assert first.next_attempt("r", "k1") == 1
    assert first.claim("r", "k1", {"x": 1}, 1.0, 1)
    assert not second.claim("r", "k1", {"x": 1}, 1.0, 1)  # the primary key admits one claim
    assert second.next_attempt("r", "k1") is None
    assert second.take_over("r", "k1", 1, 2.0) is not None
    with pytest.raises(ClaimLost):
        first.save(TrialRecord("r", "k1", {"x": 1}, "failed", error="stale result"))
    second.save(TrialRecord("r", "k1", {"x": 1}, "succeeded", metrics={"output_throughput": {"mean": 5.0}}))
    assert first.get("r", "k1").status == "succeeded"
    first.close()
    second.close()


def test_a_second_worker_with_another_grid_of_the_same_name_is_refused(postgres_url):
    from stacks.tuning.sharedstore import SharedTrialStore
    from stacks.tuning.store import StoreError

    store = SharedTrialStore(postgres_url)
    store.start_run("r", {"name": "r", "parallel": 1, "seed": 0})
    store.start_run("r", {"name": "r", "parallel": 4, "seed": 0})  # another worker count is the same study
    with pytest.raises(StoreError, match="run r was started from another grid"):
        store.start_run("r", {"name": "r", "parallel": 1, "seed": 7})
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://tuner:hunter2-not-here@db.internal/tuning",
        "postgresql://tuner@db.internal/tuning?password=hunter2-not-here",
    ],
)
def test_a_password_in_the_db_url_is_refused_and_never_printed(url, capsys):
    """Consistent with the load generator, which refuses a key in its URL: the password comes from
    PGPASSWORD or ~/.pgpass."""
    from stacks.__main__ import main

    for argv in (["tune", str(ROOT / "stacks/grids/tour.yaml"), "--db", url], ["report", "--db", url]):
        assert main(argv) == 2
        out = capsys.readouterr()
        assert (
            "a password in the --db URL would be shown in process lists, shell history and logs: remove it and set PGPASSWORD, or put it in ~/.pgpass"
            in out.out
        )
        assert "postgresql://db.internal/tuning" in out.out
        assert "hunter2" not in out.out + out.err


def test_workers_beyond_the_cores_are_capped_with_a_note(monkeypatch):
    from rich.console import Console

    from stacks.tuning import cli

    monkeypatch.setattr(cli.os, "sched_getaffinity", lambda pid: {0, 1})
    console = Console(record=True, width=400)
    assert cli.workers(8, console) == 2
    assert cli.workers(2, console) == 2
    lines = console.export_text().splitlines()
    assert lines == [
        "note: --workers 8 capped at 2, this machine's cores (each trial's load generator, and on --target local its engine, needs one); run more workers on other machines with --db postgresql://..."
    ]


def test_parallel_is_the_older_name_of_workers_and_says_so(capsys):
    from stacks.__main__ import main

    assert main(["tune", str(ROOT / "stacks/grids/tour.yaml"), "--parallel", "1", "--dry-run"]) == 0
    assert (
        "note: --parallel is the older name of --workers (trials at once from this process)" in capsys.readouterr().out
    )


def test_a_trial_whose_worker_dies_twice_is_failed_for_good_not_retried_again(postgres_url):
    """max_retry=1: the first lapse queues one retry, the second fails the point with the reason
    (optuna/optuna@v5.0.0 optuna/storages/_callbacks.py: no copy once retry_history is longer than max_retry)."""
    from stacks.tuning.sharedstore import SharedTrialStore
    from stacks.tuning.workers import DIED_TWICE, Coordinator

    store = SharedTrialStore(postgres_url)
    store.start_run("r", {"name": "r"})
    notes: list[str] = []
    first = Coordinator(store, postgres_url, "r", heartbeat=1)
    assert store.claim("r", "k1", {"x": 1}, 1.0, 1)
    first.hold("k1", 1)
    first.close()  # the worker dies: no more heartbeats

    survivor = Coordinator(store, postgres_url, "r", heartbeat=1, note=notes.append)
    assert survivor.pop_retry() is None
    deadline = time.monotonic() + 20
    retry = None
    while retry is None and time.monotonic() < deadline:
        survivor.fail_stale()
        retry = survivor.pop_retry()
        time.sleep(0.5)
    assert retry is not None and (retry.key, retry.retry_of, retry.attempt) == ("k1", 1, 2)
    assert notes == ["trial k1: its worker stopped sending heartbeats (attempt 1); queued to run once more"]
    assert store.take_over("r", "k1", 1, 2.0) is not None
    survivor.close()  # the retrying worker dies too

    last = Coordinator(store, postgres_url, "r", heartbeat=1, note=notes.append)
    deadline = time.monotonic() + 20
    while store.get("r", "k1").status == "running" and time.monotonic() < deadline:
        last.fail_stale()
        time.sleep(0.5)
    record = store.get("r", "k1")
    assert (record.status, record.error) == ("failed", DIED_TWICE)
    assert last.pop_retry() is None
    assert notes[-1] == f"trial k1: {DIED_TWICE}"
    last.close()
    store.close()


def test_stacks_report_reads_a_shared_database_with_select_alone(
    postgres_server, postgres_url, monkeypatch, tmp_path, capsys
):
    """Whoever should see results needs read access only: the report creates nothing in the database."""
    import psycopg
    import psycopg.sql

    from stacks.__main__ import main
    from stacks.tuning import grid as grid_mod
    from stacks.tuning.sharedstore import SharedTrialStore
    from stacks.tuning.store import TrialRecord

    grid = grid_mod.load(ROOT / "stacks/grids/tour.yaml")
    store = SharedTrialStore(postgres_url)
    store.start_run("tour", grid.model_dump(mode="json", by_alias=True))
    for seqs, throughput in ((8, 700.0), (32, 750.0)):
        metrics = {
            m: {"mean": v, "min": v, "max": v, "stdev": 0.0, "values": [v, v]}
            for m, v in (("output_throughput", throughput), ("ttft_p90", 0.01), ("tpot_p90", 0.005))
        }
        store.save(
            TrialRecord(
                "tour",
                f"k{seqs}",
                {"engineArgs.maxNumSeqs": seqs},
                "succeeded",
                started=1.0,
                finished=2.0,
                metrics=metrics,
            )
        )
    store.finish_run("tour", "complete")
    store.close()

    database = postgres_url.rsplit("/", 1)[1]
    reader, secret = f"reader_{database}", "reader-" + database
    conn = psycopg.connect(postgres_url, password=postgres_server.password)
    conn.autocommit = True
    with conn.cursor() as cursor:
        # DDL takes no bound parameters in psycopg 3: the password goes in as a quoted literal.
        cursor.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(reader), psycopg.sql.Literal(secret)
            )
        )
        cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
    conn.close()
    monkeypatch.setenv("PGPASSWORD", secret)
    url = postgres_url.replace("tuner@", f"{reader}@")
    assert main(["report", "--db", url, "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert "Trials of tour" in out and secret not in out
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| 32 | succeeded | 750 |" in text and "| 8 | succeeded | 700 |" in text


def test_the_secret_canary_never_reaches_a_shared_database(
    tmp_path, capsys, monkeypatch, postgres_server, postgres_url
):
    """The canary of tests/faults/test_secret_canary.py, in a grid's local.env and echoed back by the engine in
    its error bodies, run against PostgreSQL: no output and no table (ours or Optuna's) holds any 8 characters of it."""
    import psycopg

    from tests.faults.test_secret_canary import CANARY, _grid, assert_no_canary, leaks, stacks_cli

    grid = _grid(
        tmp_path,
        lambda g: g["local"].update(
            env={"HF_TOKEN": CANARY}, extraArgs=["--fail-every", "1", "--error-body", f"bad token {CANARY}"]
        ),
    )
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)  # a shared database's logs and report go under ./tuning-runs
    assert stacks_cli(["tune", str(grid), "--target", "local", "--db", postgres_url]) == 1  # every request failed
    assert_no_canary(capsys, out)
    conn = psycopg.connect(postgres_url, password=postgres_server.password)
    with conn.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        tables = [row[0] for row in cursor.fetchall()]
        stored = ""
        for table in tables:
            cursor.execute(f"SELECT coalesce(string_agg(t::text, chr(10)), '') FROM \"{table}\" t")
            stored += cursor.fetchone()[0]
    conn.close()
    assert {"tuning_runs", "tuning_trials", "trials", "trial_user_attributes"} <= set(tables)
    assert (
        "HF_TOKEN" in stored and "bad token" in stored
    )  # the grid and the engine's error are stored, the token is not
    assert leaks(stored.encode()) == []
