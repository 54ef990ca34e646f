"""Faults around the tuning driver: engines that die or fail mid-benchmark, concurrent
and interrupted runs on one database, pid reuse, files that are not what they claim, grids that
are too large or malformed, and server text that looks like Rich markup."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from stacks.tuning import grid as grid_mod

ROOT = Path(__file__).resolve().parents[2]
STAND_IN = ROOT / "stacks" / "local_engine" / "stand_in.py"
FAKE_GRID = ROOT / "stacks" / "grids" / "fake-engine-test.yaml"


# ---------------------------------------------------------------- dry-run thread leak


def test_planning_points_in_a_row_leaves_the_thread_count_flat():
    from stacks import plan as plan_mod
    from stacks.tuning.pulumi_target import STAND_IN_CLUSTER, trial_config

    grid = grid_mod.load(FAKE_GRID)
    point = next(p for p in grid_mod.expand(grid) if not p.pruned)
    values = trial_config(
        {"aws:region": "us-east-1", "llm-serving:cluster": STAND_IN_CLUSTER}, point.spec, {}, "llm-serving", "x"
    )
    plan_mod.build_plan_from_values("leak-0", values)  # the first plan starts gRPC's one poller
    before = threading.active_count()
    for i in range(5):
        plan_mod.build_plan_from_values(f"leak-{i + 1}", values)
    assert threading.active_count() <= before + 1, [t.name for t in threading.enumerate()]


# ---------------------------------------------------------------- grid bounds and paths

GRID_HEAD = """name: g
target: local
base:
  name: ep
  model: org/m
  engine: vllm
  instanceType: g5.xlarge
  modelSource: {type: s3, bucket: models}
  engineArgs: {maxModelLen: 2048}
"""


def _tune_grid(tmp_path, capsys, text: str | bytes, *extra: str) -> tuple[int, str]:
    from stacks.__main__ import main

    path = tmp_path / "grid.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["tune", str(path), "--dry-run", "--db", str(tmp_path / "t.db"), *extra])
    return code, capsys.readouterr().out


def test_a_parameter_path_through_a_scalar_is_a_named_error(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxModelLen.x: [1, 2]\n")
    assert code == 2
    assert "parameters.engineArgs.maxModelLen.x" in out and "base.engineArgs.maxModelLen is 2048, not a map" in out
    assert "Fix: use a path to a map key, e.g. engineArgs.maxModelLen" in out and "Traceback" not in out


def test_a_parameter_path_through_another_parameter_is_a_named_error(tmp_path, capsys):
    code, out = _tune_grid(
        tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: [1]\n  engineArgs.maxNumSeqs.x: [2]\n"
    )
    assert code == 2 and "goes through parameter engineArgs.maxNumSeqs" in out


def test_a_grid_over_the_point_limit_fails_before_expansion_naming_the_limit(tmp_path, capsys):
    # 10 parameters of 4 values: 1,048,576 points; the bound is checked on the counts alone.
    params = "".join(f"  env.V{i}: [a, b, c, d]\n" for i in range(10))
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n" + params)
    assert code == 2
    assert "1,048,576 points" in out and "over the limit of 10,000 points" in out


def test_a_huge_range_is_refused_by_its_count(tmp_path, capsys):
    code, out = _tune_grid(
        tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: {from: 1, to: 1000000000, step: 1}\n"
    )
    assert code == 2 and "1,000,000,000 points" in out and "over the limit of 10,000 points" in out


def test_a_geometric_range_from_zero_is_an_error_not_identical_points(tmp_path, capsys):
    code, out = _tune_grid(
        tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: {from: 0, to: 10, times: 2}\n"
    )
    assert code == 2 and "never advances" in out and "parameters.engineArgs.maxNumSeqs" in out


def test_a_range_that_rounds_to_duplicates_is_an_error(tmp_path, capsys):
    code, out = _tune_grid(
        tmp_path,
        capsys,
        GRID_HEAD
        + "parameters:\n  engineArgs.gpuMemoryUtilization: {from: 0.5, to: 0.5000000001, step: 0.00000000001}\n",
    )
    assert code == 2 and "duplicate values" in out


def test_grids_built_in_code_are_bounded_too():
    import pytest

    from components.rules import ConfigError

    grid = grid_mod.GridSpec.model_validate(
        {"name": "g", "base": {}, "parameters": {f"env.V{i}": list(range(10)) for i in range(5)}}
    )
    with pytest.raises(ConfigError, match="over the limit of 10,000 points"):
        grid_mod.expand(grid)


def test_binary_duplicate_key_and_alias_bomb_grids_are_named_errors(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    assert code == 2 and "binary data" in out and "grid.yaml" in out and "Traceback" not in out
    code, out = _tune_grid(tmp_path, capsys, b"name: g\xff\xfe\n")
    assert code == 2 and "not UTF-8" in out
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters: {engineArgs.maxNumSeqs: [1]}\nname: h\n")
    assert code == 2 and "duplicate key 'name'" in out
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
    )
    code, out = _tune_grid(tmp_path, capsys, bomb)
    assert code == 2 and "alias bomb" in out


# ---------------------------------------------------------------- fake-engine runs


def _fake_grid(tmp_path: Path, seqs: list[int], extra_args: list[str], **updates):
    grid = grid_mod.load(FAKE_GRID)
    local = grid.local.model_copy(update={"model_dir": str(tmp_path), "extra_args": extra_args})
    return grid.model_copy(
        update={"local": local, "parameters": {"engineArgs.maxNumSeqs": seqs}, "repeats": 1, **updates}
    )


def _run(tmp_path: Path, grid):
    from stacks.tuning.driver import Driver
    from stacks.tuning.local import LocalEngineDeployer
    from stacks.tuning.store import TrialStore

    store = TrialStore(tmp_path / "runs.db")
    return store, Driver(grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs")).run()


def _grid_file(
    tmp_path: Path, seqs: str = "[8]", extra_args: str = "", edits: tuple[tuple[str, str], ...] = ()
) -> Path:
    """The fake grid as a file for the CLI: the stand-in engine, one repeat, these points."""
    text = FAKE_GRID.read_text().replace("  readyTimeout: 30\n", f"  readyTimeout: 30\n  extraArgs: [{extra_args}]\n")
    text = text.replace("[1, 2, 8, 128]", seqs).replace("repeats: 2", "repeats: 1")
    for old, new in edits:
        text = text.replace(old, new)
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_an_engine_that_dies_during_the_benchmark_fails_its_trial_with_the_log_tail(tmp_path):
    from stacks.tuning import report

    # 1 warm-up request and 8 measured ones finish, then the engine exits: 15 of 23 fail.
    store, summary = _run(tmp_path, _fake_grid(tmp_path, [8], ["--die-after", "9"]))
    (record,) = summary.records
    assert record.status == "failed", (record.status, record.error, record.metrics)
    assert "engine exited with code 3 during the benchmark" in record.error
    assert "stand-in engine: fatal error after 9 requests" in record.error
    assert report.write(store, tmp_path / "r")["verdict"].best is None


def test_a_level_over_the_error_rate_limit_is_not_a_result(tmp_path):
    from stacks.tuning import report

    # Every 2nd request is a 500: an error rate near 50 %, far over the default 5 %.
    store, summary = _run(tmp_path, _fake_grid(tmp_path, [8], ["--fail-every", "2"]))
    (record,) = summary.records
    assert record.status == "failed"
    assert "error rate" in record.error and "over the limit of 5.0%" in record.error
    assert report.write(store, tmp_path / "r")["verdict"].best is None


def test_the_error_rate_limit_is_configurable_from_the_command_line(tmp_path, capsys):
    from stacks.__main__ import main

    grid_file = _grid_file(tmp_path, extra_args="--fail-every, '2'")
    assert main(["tune", str(grid_file), "--db", str(tmp_path / "t.db"), "--max-error-rate", "0.9"]) == 0
    assert "winner" in capsys.readouterr().out


def test_a_stored_trial_with_most_requests_failed_is_never_the_winner(tmp_path):
    from stacks.tuning import report
    from stacks.tuning.measure import aggregate
    from stacks.tuning.store import TrialRecord, TrialStore

    # What older versions stored: succeeded, meets_slo, error rate 0.998.
    grid = _fake_grid(tmp_path, [8], [])
    store = TrialStore(tmp_path / "old.db")
    store.start_run(grid.name, grid.model_dump(mode="json", by_alias=True))
    store.finish_run(grid.name, "complete")
    metrics = {**aggregate([{"output_throughput": 900.0, "ttft_p90": 0.1, "error_rate": 0.998}]), "meets_slo": True}
    store.save(
        TrialRecord(grid.name, "k", {"engineArgs.maxNumSeqs": 8}, "succeeded", metrics=metrics, started=1, finished=2)
    )
    assert report.write(store, tmp_path / "r")["verdict"].best is None


def test_a_run_in_which_every_trial_failed_exits_non_zero(tmp_path, capsys):
    from stacks.__main__ import main

    grid_file = _grid_file(tmp_path, "[128, 256]")  # both run out of memory at start
    assert main(["tune", str(grid_file), "--db", str(tmp_path / "t.db")]) == 1
    assert "no trial succeeded (0 failed, 2 infeasible, 0 pruned)" in capsys.readouterr().out


def test_markup_in_a_500_body_and_a_grid_value_prints_literally_during_a_run_and_in_report(tmp_path, capsys):
    from stacks.__main__ import main

    body = "[/x] engine [bold]crashed[/bold] [/]"
    grid_file = _grid_file(
        tmp_path,
        extra_args=f"--fail-every, '1', --error-body, '{body}'",
        edits=(
            ("engineArgs: {maxModelLen: 2048}", "engineArgs: {maxModelLen: 2048}\n  env: {NOTE: '[/y]'}"),
            (
                "parameters:\n  engineArgs.maxNumSeqs: [8]",
                "parameters:\n  engineArgs.maxNumSeqs: [8]\n  env.TAG: ['[/z]', '[red]']",
            ),
        ),
    )
    code = main(["tune", str(grid_file), "--db", str(tmp_path / "t.db")])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "TAG=[/z]" in out and "TAG=[red]" in out
    assert "[/x] engine [bold]crashed[/bold] [/]" in out
    assert main(["report", "--db", str(tmp_path / "t.db"), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "[/z]" in out and "[/x] engine" in out


def _stored_run(path: Path, statuses: list[str], state: str):
    """A results file with one run of the fake grid: a trial per status, the first the best."""
    from stacks.tuning.measure import aggregate
    from stacks.tuning.store import TrialRecord, TrialStore

    grid = grid_mod.load(FAKE_GRID)
    store = TrialStore(path)
    store.start_run(grid.name, grid.model_dump(mode="json", by_alias=True))
    store.finish_run(grid.name, state)
    for i, status in enumerate(statuses):
        metrics = (
            {**aggregate([{"output_throughput": 900.0 - i, "ttft_p90": 0.1, "error_rate": 0.0}]), "meets_slo": True}
            if status == "succeeded"
            else {}
        )
        store.save(
            TrialRecord(
                grid.name, f"k{i}", {"engineArgs.maxNumSeqs": i + 1}, status, metrics=metrics, started=i, finished=i + 1
            )
        )
    return store


def test_an_interrupted_run_names_no_winner_after_one_finished_trial(tmp_path, capsys):
    from stacks.__main__ import main
    from stacks.tuning import report

    store = _stored_run(tmp_path / "t.db", ["succeeded", "interrupted"], "interrupted")
    decision = report.write(store, tmp_path / "r")["verdict"]
    assert decision.best is not None and not decision.decisive
    assert main(["report", "--db", str(tmp_path / "t.db"), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "this run did not finish: 1 interrupted, 1 succeeded" in out
    assert "best so far, not decisive" in out and "winner" not in out


def test_a_run_killed_outright_is_not_complete_either(tmp_path):
    from stacks.tuning import report

    store = _stored_run(tmp_path / "t.db", ["succeeded"], "running")  # SIGKILL: never finished
    assert not report.write(store, tmp_path / "r")["verdict"].decisive


def test_a_finished_run_keeps_its_only_successful_trial_as_winner(tmp_path):
    from stacks.tuning import report

    store = _stored_run(tmp_path / "t.db", ["succeeded", "failed"], "complete")
    assert report.write(store, tmp_path / "r")["verdict"].decisive


def test_parallel_zero_or_negative_is_rejected(capsys):
    import pytest

    from stacks.__main__ import main

    for value in ("0", "-3"):
        with pytest.raises(SystemExit) as exc:
            main(["tune", str(FAKE_GRID), "--parallel", value, "--dry-run"])
        assert exc.value.code == 2
        assert f"{value} trials at once would run nothing; Fix: give 1 or more" in capsys.readouterr().err


# ---------------------------------------------------------------- --db that is not SQLite


def test_a_db_that_is_not_sqlite_is_one_line_and_exit_2(tmp_path, capsys):
    import os

    from stacks.__main__ import main

    valid = tmp_path / "valid.db"
    _stored_run(valid, ["succeeded", "failed"] * 50, "complete").close()
    cases = {
        "text.db": b"name: this is a grid, not a database\n",
        "random.db": os.urandom(4096),
        "truncated.db": valid.read_bytes()[:5000],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "dir.db").mkdir()
    for name in [*cases, "dir.db"]:
        db = str(tmp_path / name)
        for argv in (["tune", str(FAKE_GRID), "--db", db], ["report", "--db", db]):
            assert main(argv) == 2, (name, argv)
            out = capsys.readouterr().out
            assert out.count("\n") == 1 and db in out and "Fix:" in out and "Traceback" not in out, (name, out)
    assert (tmp_path / "text.db").read_bytes() == cases["text.db"]  # nothing written into it


# ---------------------------------------------------------------- one run per database


def _hold_lock(db: Path):
    """Another process holding the run lock of `db` (as a running `stacks tune` does)."""
    import subprocess

    code = f"import time; from stacks.tuning.runlock import RunLock; lock = RunLock({str(db)!r}); lock.acquire(); print('held', flush=True); time.sleep(60)"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )  # `-c` imports from its cwd
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_run_on_a_database_in_use_is_refused_naming_the_other(tmp_path, capsys):
    import socket

    from stacks.__main__ import main

    db = tmp_path / "t.db"
    child = _hold_lock(db)
    try:
        grid_file = _grid_file(tmp_path)
        assert main(["tune", str(grid_file), "--db", str(db)]) == 2
        out = capsys.readouterr().out
        assert (
            f"{db} is in use by another `stacks tune` run (pid {child.pid} on host {socket.gethostname()}, started "
            in out
        )
        assert "Fix: wait for it to finish" in out
        assert "trial" not in out  # nothing ran, nothing was cleaned up
    finally:
        child.kill()
        child.wait()


def test_the_lock_of_a_killed_run_blocks_nothing(tmp_path):
    from stacks.tuning.runlock import RunLock

    db = tmp_path / "t.db"
    child = _hold_lock(db)
    child.kill()  # SIGKILL: no cleanup ran; the lock file still names it
    child.wait()
    assert str(child.pid) in (tmp_path / "t.db.lock").read_text()
    with RunLock(db):
        pass


def test_two_drivers_on_one_store_cannot_overlap(tmp_path):
    import pytest

    from stacks.tuning.runlock import RunLock, RunLocked

    with RunLock(tmp_path / "runs.db"):
        with pytest.raises(RunLocked, match="is in use by another"):
            _run(tmp_path, _fake_grid(tmp_path, [1], []))


# ---------------------------------------------------------------- engine identity


def _stranger(tmp_path: Path):
    """An unrelated live process in its own process group (what a reused pid would be)."""
    import subprocess

    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def test_cleanup_leaves_a_process_alone_whose_start_time_differs(tmp_path):
    import json

    from stacks.tuning.identity import identify
    from stacks.tuning.local import LocalEngineDeployer

    stranger = _stranger(tmp_path)
    try:
        identity = identify(stranger.pid, ["python", "-m", "vllm"])
        identity["start"] -= 1  # the engine recorded at this pid started earlier: pid reused
        note = LocalEngineDeployer(grid_mod.LocalTarget(), tmp_path).cleanup(json.dumps(identity))
        assert stranger.poll() is None, "a stranger with a reused pid was killed"
        assert f"engine pid {stranger.pid} not stopped: that pid is now a different process" in note
        # A bare pid from an older record cannot be verified either.
        note = LocalEngineDeployer(grid_mod.LocalTarget(), tmp_path).cleanup(f"pid {stranger.pid}")
        assert stranger.poll() is None and "without a start time" in note
    finally:
        stranger.kill()
        stranger.wait()


def test_cleanup_kills_the_process_that_matches_the_recorded_identity(tmp_path):
    import json

    from stacks.tuning.identity import identify
    from stacks.tuning.local import LocalEngineDeployer

    engine = _stranger(tmp_path)
    note = LocalEngineDeployer(grid_mod.LocalTarget(), tmp_path).cleanup(
        json.dumps(identify(engine.pid, ["sleep", "60"]))
    )
    assert engine.wait(10) == -9 and f"stopped engine pid {engine.pid}" in note


def test_trials_record_the_engine_identity_and_recovery_checks_it(tmp_path):
    import json

    from stacks.tuning.identity import identify
    from stacks.tuning.store import TrialRecord

    grid = _fake_grid(tmp_path, [1], [])
    store, summary = _run(tmp_path, grid)
    (record,) = summary.records
    assert record.engine["pid"] > 1 and record.engine["start"] > 0 and record.engine["boot"]
    assert record.engine["cmdline"][:2] == [sys.executable, str(STAND_IN)]
    # A crashed run left a trial naming a pid that is now a stranger: the next run leaves it alone.
    stranger = _stranger(tmp_path)
    try:
        identity = {**identify(stranger.pid, ["x"]), "start": 1}
        store.save(
            TrialRecord(grid.name, "crashed", {"engineArgs.maxNumSeqs": 99}, "running", stack=json.dumps(identity))
        )
        _run(tmp_path, grid)
        assert stranger.poll() is None
        assert "now a different process" in store.get(grid.name, "crashed").error
    finally:
        stranger.kill()
        stranger.wait()


def test_markup_in_an_engine_500_body_alone_prints_literally(tmp_path, capsys):
    from stacks.__main__ import main

    grid_file = _grid_file(tmp_path, extra_args="--fail-every, '1', --error-body, '[/x] boom'")
    main(["tune", str(grid_file), "--db", str(tmp_path / "t.db")])
    assert "[/x] boom" in capsys.readouterr().out
    assert main(["report", "--db", str(tmp_path / "t.db")]) == 0
    assert "[/x] boom" in capsys.readouterr().out


def test_an_interrupted_fake_engine_run_reports_its_finished_trial_and_no_winner(tmp_path):
    from stacks.tuning import report
    from stacks.tuning.driver import Driver
    from stacks.tuning.local import LocalEngineDeployer
    from stacks.tuning.store import TrialStore

    grid = _fake_grid(tmp_path, [1, 2, 8], [])
    stop = threading.Event()

    class StopAfterFirst:  # Ctrl-C as the first trial finishes
        def planned(self, *a):
            pass

        def phase(self, *a):
            pass

        def finished(self, point, record):
            stop.set()

    store = TrialStore(tmp_path / "runs.db")
    summary = Driver(
        grid, store, LocalEngineDeployer(grid.local, tmp_path / "logs"), reporter=StopAfterFirst(), stop=stop
    ).run()
    assert summary.interrupted and [r.status for r in summary.records] == ["succeeded"]
    written = report.write(store, tmp_path / "r")
    assert not written["complete"] and written["counts"] == {"succeeded": 1}
    assert written["verdict"].best is not None and not written["verdict"].decisive


def test_markup_in_a_grid_value_prints_literally_in_a_dry_run(tmp_path, capsys):
    code, out = _tune_grid(
        tmp_path,
        capsys,
        GRID_HEAD + "parameters:\n  env.TAG: ['[/z]']\n  engineArgs.maxNumSeqs: [8, -1]\n",
        "--verbose",
    )
    assert code == 0, out
    assert "plan maxNumSeqs=8, TAG=[/z]: passed" in out and "pruned maxNumSeqs=-1, TAG=[/z]" in out


def test_an_unquoted_scenario_in_a_flow_mapping_says_quote_it(tmp_path, capsys):
    # `{scenario: D(256,64)}` is cut by YAML at the comma into `scenario: "D(256"` and a key `64)`.
    code, out = _tune_grid(
        tmp_path,
        capsys,
        GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: [1]\nbenchmark: {scenario: D(256,64), concurrency: [8]}\n",
    )
    assert code == 2
    assert "benchmark.64)" in out and 'quote the value, e.g. "D(1,1)"' in out and "Traceback" not in out


def test_grid_type_errors_name_the_expected_type_and_an_example(tmp_path, capsys):
    code, out = _tune_grid(tmp_path, capsys, GRID_HEAD + "parameters:\n  engineArgs.maxNumSeqs: [1]\nrepeats: two\n")
    assert code == 2
    assert "repeats = 'two': [CONFIG] expected an integer, got str. Fix: write an integer, e.g. repeats: 1" in out
