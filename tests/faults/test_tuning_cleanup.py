"""A tuning run cleans up whatever happens. Teardown of each trial runs in a `finally`, also when the
results database fails between deploy and teardown; what a run that died left running is cleaned up by
the next run, by the identity recorded before the deploy, and only while that identity still holds.
(One run per database by any path to it: tests/faults/test_output_writer.py::test_concurrent_writers_refused.)"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from stacks.__main__ import main as stacks_main
from stacks.tuning import leftovers
from stacks.tuning.identity import identify
from stacks.tuning.local import LocalEngineDeployer
from stacks.tuning.store import TrialRecord, TrialStore
from tests.faults.test_tuning_faults import _fake_grid, _grid_file, _run
from tests.tuning.doubles import FakeStackRunner
from tests.tuning.test_driver import make_driver
from tests.tuning.test_driver import make_grid as pulumi_grid


def disk_full(store: TrialStore) -> None:
    with store._guard():  # what sqlite3 or the OS raises on a full disk, where the store meets it
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def truncated(store: TrialStore) -> None:
    os.truncate(store.path, 0)  # someone emptied the file under the run


@pytest.mark.parametrize("failure", [disk_full, truncated], ids=["disk full", "file truncated"])
def test_database_failure_mid_trial_tears_down_and_is_one_line(tmp_path, capsys, monkeypatch, failure):
    engines: list[subprocess.Popen] = []
    start = LocalEngineDeployer.start

    def recording_start(self, key, spec):
        handle = start(self, key, spec)
        engines.append(handle.process)
        return handle

    save = TrialStore.save

    def failing_save(self, record):
        if record.stack:  # the engine is up and recorded: the database fails from here on
            failure(self)
        save(self, record)

    monkeypatch.setattr(LocalEngineDeployer, "start", recording_start)
    monkeypatch.setattr(TrialStore, "save", failing_save)
    db = tmp_path / "t.db"
    code = stacks_main(["tune", str(_grid_file(tmp_path)), "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 1 and "Traceback" not in out
    (line,) = [line for line in out.splitlines() if "Fix:" in line]
    assert line.startswith(f"{db}: the results database failed (") and "run the same command again" in line, line
    assert ": teardown" in out
    assert len(engines) == 1 and engines[0].poll() is not None, "the engine outlived its trial"
    assert list(tmp_path.rglob(f"*{leftovers.SUFFIX}")) == []  # stopped, so nothing left to clean up


# ---------------------------------------------------------------- what a crashed run left


def sleeper() -> subprocess.Popen:
    """A harmless process in its own group, standing in for an engine."""
    return subprocess.Popen(["sleep", "120"], start_new_session=True)


def gone() -> dict:
    """The identity of a process that has exited: a run that crashed."""
    p = subprocess.Popen(["sleep", "120"])
    identity = identify(p.pid, ["python", "-m", "stacks", "tune"])
    p.kill()
    p.wait()
    return identity


def record_beside_log(log_dir: Path, key: str, started: dict, owner: dict) -> None:
    """The record a run writes before it deploys (stacks/tuning/leftovers.py), as that run left it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    leftovers.path(log_dir, key).write_text(json.dumps({"trial": key, "owner": owner, "started": started}))


@dataclass
class Leftover:
    engine_alive: bool  # the sleeper is still running after the next run
    record_left: bool  # the record beside the log is still there
    setup: Callable[[Path, dict], None]  # (tmp_path, the sleeper's identity): what the crashed run left


def local_rerun(tmp_path: Path) -> None:
    _run(tmp_path, _fake_grid(tmp_path, [1], []))  # log folder tmp_path/logs, database tmp_path/runs.db


LEFTOVERS = {
    "engine recorded beside its log, run gone": Leftover(
        False, False, lambda tmp, e: record_beside_log(tmp / "logs", "crashed", e, gone())
    ),
    "engine recorded in the database, run gone": Leftover(
        False,
        False,
        lambda tmp, e: TrialStore(tmp / "runs.db").save(
            TrialRecord(
                _fake_grid(tmp, [1], []).name, "crashed", {"engineArgs.maxNumSeqs": 99}, "running", stack=json.dumps(e)
            )
        ),
    ),
    "pid reused since: start time differs": Leftover(
        True, False, lambda tmp, e: record_beside_log(tmp / "logs", "crashed", {**e, "start": e["start"] - 1}, gone())
    ),
    "its run is alive (another database, same log folder)": Leftover(
        True, True, lambda tmp, e: record_beside_log(tmp / "logs", "theirs", e, identify(os.getpid(), sys.argv))
    ),
}


@pytest.mark.parametrize("case", list(LEFTOVERS))
def test_a_crashed_runs_leftover_engine_is_cleaned_by_the_next_run(tmp_path, case):
    row = LEFTOVERS[case]
    engine = sleeper()
    try:
        row.setup(tmp_path, identify(engine.pid, ["sleep", "120"]))
        local_rerun(tmp_path)
        if row.engine_alive:
            assert engine.poll() is None, (
                "a process that is not the recorded engine, or a live run's engine, was killed"
            )
        else:
            assert engine.wait(10) == -9
        assert bool(list((tmp_path / "logs").glob(f"*{leftovers.SUFFIX}"))) == row.record_left
    finally:
        engine.kill()
        engine.wait()


def test_a_stack_whose_up_was_cut_short_is_destroyed_by_the_next_run(tmp_path):
    """A run killed during `pulumi up` never recorded the stack in the database (that happens once `up`
    returns); the record written before `up` names it."""
    runner = FakeStackRunner(live={"tune-g-crashed"})
    record_beside_log(tmp_path / "logs", "crashed", {"stack": "tune-g-crashed"}, gone())
    make_driver(tmp_path, pulumi_grid(params={"engineArgs.maxNumSeqs": [8]}), runner).run()
    assert "tune-g-crashed" in runner.destroys and runner.live == set()
    assert list((tmp_path / "logs").glob(f"*{leftovers.SUFFIX}")) == []
