"""Every file and folder a command writes goes through one writer (benchmarks/outputs.py). One test per
class of fault, each over a table of cases: a new case is a new row.

- a target the tool did not write (a stack file, a YAML file, another program's SQLite database, an
  empty file, a folder of other files) is refused in one line and left as it was;
- a writer killed mid-write (SIGKILL, a real child process) leaves the previous output whole;
- a second writer of one output (or of one results database, by any path) is refused, naming the first;
- a full or read-only disk is one line naming the path, and the previous output stays.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks import outputs
from benchmarks.cli import main as bench_main
from benchmarks.workloads import samples
from stacks import docs
from stacks.__main__ import main as stacks_main
from stacks.local_engine import record_surface
from stacks.prices import refresh
from tests.faults.test_console_markup import project_with_namespace
from tests.faults.test_tuning_faults import FAKE_GRID, _stored_run
from tests.loadgen.scripted_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = (ROOT / "Pulumi.dev.yaml").read_bytes()
NOWHERE = "http://127.0.0.1:9"  # a refused output sends no request: nothing needs to listen here


BENCH: dict[str, str] = {}  # the scripted server's URL, for the load-generator rows


@pytest.fixture(scope="module", autouse=True)
def server():
    s = ScriptedServer().start()
    BENCH["url"] = s.url
    yield s
    s.stop()


def bench_argv(out: Path) -> list[str]:
    """A short load-generator run against the scripted server, writing its results to `out`."""
    return [
        "run",
        "--url",
        BENCH["url"],
        "--model",
        "fast",
        "--raw-model-name",
        "--concurrency",
        "1",
        "--max-requests",
        "2",
        "--warmup",
        "0",
        "--scenario",
        "D(10,4)",
        "--quiet",
        "--out",
        str(out),
    ]


def bench_previous(tmp: Path) -> Path:
    assert bench_main(bench_argv(tmp / "r.json")) == 0
    return tmp / "r.json"


def tree(path: Path) -> object:
    """Everything at `path`: a file's bytes, or a folder's names and bytes."""
    if path.is_dir() and not path.is_symlink():
        return {
            p.relative_to(path).as_posix(): p.read_bytes() if p.is_file() else "<dir>" for p in sorted(path.rglob("*"))
        }
    return path.read_bytes() if path.exists() else None


def leftovers(folder: Path) -> list[str]:
    """Temp files, temp folders and lock files a writer could leave beside its outputs."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".") and (".partial-" in p.name or p.name.endswith((".new", ".old", ".lock")))
    )


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# ---------------------------------------------------------------- the commands


def results_db(tmp: Path) -> Path:
    db = tmp / "runs.db"
    if not db.exists():
        _stored_run(db, ["succeeded", "failed"], "complete").close()
    return db


def capacity_db(tmp: Path) -> Path:
    from stacks.tuning.store import TrialStore
    from tests.tuning.test_capacity_export import _trial, make_grid

    db = tmp / "capacity.db"
    if not db.exists():
        store = TrialStore(db)
        store.start_run("g", make_grid().model_dump(mode="json", by_alias=True))
        store.save(_trial(4, [6, 5], [1.5, 1.25]))
        store.close()
    return db


def capacity_file(tmp: Path) -> Path:
    """Where `--export-capacity tmp/capacity` writes the one trial's file."""
    from stacks.tuning import capacity
    from stacks.tuning.grid import GridSpec
    from stacks.tuning.store import TrialStore

    db = capacity_db(tmp)
    store = TrialStore(db, create=False)
    (record,) = store.trials("g")
    doc = capacity.document(GridSpec.model_validate(dict(store.runs())["g"]), record, db)
    store.close()
    return tmp / "capacity" / capacity.file_name(doc)


class NoClient:
    def __getattr__(self, name):
        raise AssertionError("a refused snapshot must be refused before any request")


def prices(tmp: Path, target: Path) -> int:
    from rich.console import Console

    return refresh.main("us-east-1", Console(width=400), target.parent, client_factory=NoClient)


@dataclass
class Command:
    run: Callable[[Path, Path], int]  # (tmp_path, target) -> exit status
    prepare: Callable[[Path], object] = lambda tmp: None  # what it reads (a results database), made first
    fixed: Callable[[Path], Path] | None = None  # where it writes, when the command picks the name


COMMANDS = {
    "plan --json": Command(
        lambda tmp, t: stacks_main(["plan", "--stack", "dev", "--out", str(tmp / "out"), "--json", str(t)])
    ),
    "plan --out": Command(lambda tmp, t: stacks_main(["plan", "--stack", "dev", "--out", str(t)])),
    "report --out": Command(
        lambda tmp, t: stacks_main(["report", "--db", str(results_db(tmp)), "--out", str(t)]), results_db
    ),
    "report --export-capacity": Command(
        lambda tmp, t: stacks_main(
            ["report", "--db", str(capacity_db(tmp)), "--out", str(tmp / "rep"), "--export-capacity", str(t.parent)]
        ),
        fixed=capacity_file,
    ),
    "prices refresh": Command(prices, fixed=lambda tmp: tmp / "prices" / "us-east-1.json"),
    "benchmarks run --out": Command(
        lambda tmp, t: bench_main(["run", "--url", NOWHERE, "--model", "m", "--concurrency", "1", "--out", str(t)])
    ),
    "benchmarks run --export": Command(
        lambda tmp, t: bench_main(
            ["run", "--url", NOWHERE, "--model", "m", "--concurrency", "1", "--export", f"genai-bench:{t}"]
        )
    ),
    "tune --db": Command(lambda tmp, t: stacks_main(["tune", str(FAKE_GRID), "--db", str(t)])),
    "report --db": Command(lambda tmp, t: stacks_main(["report", "--db", str(t), "--out", str(tmp / "rep")])),
    "record_surface --out": Command(
        lambda tmp, t: record_surface.main(["--db", str(results_db(tmp)), "--out", str(t)]), results_db
    ),
    "benchmarks.workloads.samples": Command(lambda tmp, t: samples.main([str(t)])),
    "docs": Command(
        lambda tmp, t: docs.main(check=False, project_dir=tmp), fixed=lambda tmp: tmp / "docs" / "guardrails.md"
    ),
}


def foreign_db(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.commit()
    db.close()


def folder_of(*names: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.mkdir()
        for name in names:
            (path / name).write_text("keep: me\n")

    return make


# name -> (file name when the command lets us choose, how to make it)
TARGETS = {
    "stack file": ("Pulumi.dev.yaml", lambda p: p.write_bytes(STACK_FILE)),
    "YAML file": ("notes.yaml", lambda p: p.write_text("keep: me\n")),
    "SQLite database": ("app.db", foreign_db),
    "empty file": ("out.json", lambda p: p.write_bytes(b"")),
    "JSON of another kind": ("other.json", lambda p: p.write_text('{"steps": []}\n')),
    "folder of other files": ("mine", folder_of("notes.yaml", "todo.txt")),
    "Pulumi project": ("proj", folder_of("Pulumi.yaml", "Pulumi.dev.yaml")),
    "folder another command wrote": ("other-out", folder_of(".llm-serving-plan", "001-x.yaml")),
}

# (command, target, what the refusal says the target is)
REFUSED = [
    ("plan --json", "stack file", "is a Pulumi stack file, not a plan graph JSON this tool wrote"),
    ("plan --json", "YAML file", "is a YAML file, not a plan graph JSON"),
    ("plan --json", "SQLite database", "is an SQLite database, not a plan graph JSON"),
    ("plan --json", "empty file", "is an empty file this tool did not write"),
    ("plan --json", "JSON of another kind", "is a JSON file of another kind, not a plan graph JSON"),
    ("plan --json", "folder of other files", "is a directory"),
    ("plan --out", "stack file", "is a Pulumi stack file, not a folder"),
    ("plan --out", "empty file", "is an empty file, not a folder"),
    (
        "plan --out",
        "folder of other files",
        "is a folder this tool did not write (no .llm-serving-plan marker; it holds notes.yaml, todo.txt)",
    ),
    ("plan --out", "Pulumi project", "is a project folder (it holds Pulumi.yaml)"),
    ("report --out", "folder of other files", "is a folder this tool did not write (no .llm-serving-report marker"),
    ("report --out", "folder another command wrote", "is a folder this tool did not write"),
    ("report --out", "YAML file", "is a YAML file, not a folder"),
    ("report --export-capacity", "YAML file", "not a capacity file this tool wrote"),
    ("report --export-capacity", "empty file", "is an empty file this tool did not write"),
    ("prices refresh", "stack file", "not a price snapshot this tool wrote"),
    ("prices refresh", "JSON of another kind", "is a JSON file of another kind, not a price snapshot"),
    ("benchmarks run --out", "stack file", "is a Pulumi stack file, not a load-generator results JSON"),
    ("benchmarks run --out", "empty file", "is an empty file this tool did not write"),
    ("benchmarks run --out", "folder of other files", "is a directory"),
    ("benchmarks run --export", "YAML file", "is a YAML file, not a genai-bench summary"),
    ("tune --db", "stack file", "is not an SQLite database"),
    ("tune --db", "SQLite database", "is an SQLite database of another program (no tuning tables; it holds users)"),
    ("tune --db", "empty file", "is an empty file this tool did not write"),
    ("tune --db", "folder of other files", "is a directory, not a results database"),
    ("report --db", "SQLite database", "is an SQLite database of another program"),
    ("report --db", "empty file", "is an empty file this tool did not write"),
    ("record_surface --out", "stack file", "is a Pulumi stack file, not a response surface"),
    (
        "benchmarks.workloads.samples",
        "folder of other files",
        "is a folder this tool did not write (no .llm-serving-samples marker",
    ),
    (
        "docs",
        "YAML file",
        "not a generated docs page this tool wrote",
    ),  # a hand-written page where a generated one goes
]


@pytest.mark.parametrize("command, target, says", REFUSED, ids=[f"{c} over {t}" for c, t, _ in REFUSED])
def test_output_writer_refuses_foreign_targets(tmp_path, capsys, command, target, says):
    cmd = COMMANDS[command]
    name, make = TARGETS[target]
    path = cmd.fixed(tmp_path) if cmd.fixed else tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd.prepare(tmp_path)
    make(path)
    before, beside = tree(path), sorted(p.name for p in path.parent.iterdir())
    code = cmd.run(tmp_path, path)
    captured = capsys.readouterr()
    line = one_line(captured.out + captured.err)
    assert code != 0
    assert str(path) in line and says in line and "nothing was changed" in line and "Fix:" in line, line
    assert tree(path) == before  # not a byte changed, no table added to a database
    assert sorted(p.name for p in path.parent.iterdir()) == beside  # no temp file, no lock file left
    assert not (tmp_path / "out").exists()  # `plan --json` refused before the plan wrote its folder


# ---------------------------------------------------------------- killed mid-write


def run_cli(*argv: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def paused(*argv: str, at: str) -> subprocess.Popen:
    """The command in a child process, stopped by the writer's test hook at `at` (e.g. `file:3`)."""
    child = run_cli(*argv, env={outputs.PAUSE_ENV: at})
    for line in child.stderr:
        if line.strip() == "outputs: paused":
            return child
    child.wait()
    raise AssertionError(f"{argv} ended (exit {child.returncode}) before pausing at {at}")


def kill(child: subprocess.Popen) -> None:
    child.kill()  # SIGKILL: no handler, no cleanup
    child.wait()
    child.stderr.close()


@dataclass
class Killed:
    previous: Callable[[Path], Path]  # writes the previous output; returns it
    argv: Callable[[Path], list[str]]  # the run that is killed (writing something else there)
    at: str  # where it is killed


def plan_out_previous(tmp: Path) -> Path:
    assert stacks_main(["plan", "--stack", "dev", "--out", str(tmp / "plan")]) == 0
    return tmp / "plan"


def other_project(tmp: Path) -> Path:
    (tmp / "other").mkdir(exist_ok=True)
    return project_with_namespace(tmp / "other", "elsewhere")


def plan_json_previous(tmp: Path) -> Path:
    assert stacks_main(["plan", "--stack", "dev", "--out", str(tmp / "plan"), "--json", str(tmp / "plan.json")]) == 0
    return tmp / "plan.json"


def report_previous(tmp: Path) -> Path:
    assert stacks_main(["report", "--db", str(results_db(tmp)), "--out", str(tmp / "report")]) == 0
    return tmp / "report"


def other_db(tmp: Path) -> Path:
    db = tmp / "other.db"
    _stored_run(db, ["failed", "succeeded", "succeeded"], "interrupted").close()
    return db


KILLED = {
    "plan --out, mid-folder": Killed(
        plan_out_previous,
        lambda tmp: [
            "stacks",
            "plan",
            "--stack",
            "dev",
            "--project-dir",
            str(other_project(tmp)),
            "--out",
            str(tmp / "plan"),
        ],
        "file:3",
    ),
    "plan --out, folder complete, before the swap": Killed(
        plan_out_previous,
        lambda tmp: [
            "stacks",
            "plan",
            "--stack",
            "dev",
            "--project-dir",
            str(other_project(tmp)),
            "--out",
            str(tmp / "plan"),
        ],
        "swap:1",
    ),
    "plan --json, before the rename": Killed(
        plan_json_previous,
        lambda tmp: [
            "stacks",
            "plan",
            "--stack",
            "dev",
            "--project-dir",
            str(other_project(tmp)),
            "--out",
            str(tmp / "p2"),
            "--json",
            str(tmp / "plan.json"),
        ],
        "replace:1",
    ),
    "report --out, mid-folder": Killed(
        report_previous,
        lambda tmp: ["stacks", "report", "--db", str(other_db(tmp)), "--out", str(tmp / "report")],
        "file:1",
    ),
    "benchmarks run --out, before the rename": Killed(
        bench_previous, lambda tmp: ["benchmarks", *bench_argv(tmp / "r.json")], "replace:1"
    ),
}


@pytest.mark.parametrize("case", list(KILLED))
def test_killed_writer_leaves_previous_output_whole(tmp_path, capsys, case):
    row = KILLED[case]
    target = row.previous(tmp_path)
    before = tree(target)
    kill(paused(*row.argv(tmp_path), at=row.at))
    assert tree(target) == before, "the previous output changed under a killed writer"
    if target.is_dir():
        marker = next(p for p in target.iterdir() if p.name.startswith(".llm-serving-"))
        assert sorted(json.loads(marker.read_text())["files"]) == sorted(
            p.name for p in target.iterdir() if p != marker
        )
    # The next run finds what the killed one left (a temp file or folder, its lock file) and cleans it up.
    child = run_cli(*row.argv(tmp_path))
    _, err = child.communicate(timeout=120)
    assert child.returncode in (0, 1), err
    assert tree(target) != before and leftovers(target.parent) == []


# ---------------------------------------------------------------- two writers at once


def hold_run_lock(db: Path) -> subprocess.Popen:
    """Another process holding the results database's run lock, as a running `stacks tune` does."""
    code = f"import time; from stacks.tuning.runlock import RunLock; RunLock({str(db)!r}).acquire(); print('held', flush=True); time.sleep(600)"
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert child.stdout.readline().strip() == "held"
    child.stderr = child.stdout  # kill() closes it
    return child


@dataclass
class Concurrent:
    first: Callable[[Path], subprocess.Popen]  # holds the output (paused mid-write, or holding the lock)
    second: Callable[[Path], int]  # the same output, reached by this run (in process)
    names: str  # the target as the refusal names it
    command: str = "python -m stacks"  # the first run's command line, as the refusal shows it


def plan_first(tmp: Path) -> subprocess.Popen:
    return paused(
        "stacks", "plan", "--stack", "dev", "--out", str(tmp / "plan"), "--json", str(tmp / "plan.json"), at="file:2"
    )


def symlinked(tmp: Path, name: str, link: str, hard: bool = False) -> Path:
    (os.link if hard else os.symlink)(tmp / name, tmp / link)
    return tmp / link


CONCURRENT = {
    "plan --out, same folder": Concurrent(
        plan_first,
        lambda tmp: stacks_main(["plan", "--stack", "dev", "--out", str(tmp / "plan")]),
        "--out {tmp}/plan",
        "python -m stacks plan",
    ),
    "plan --out, through a symlink": Concurrent(
        plan_first,
        lambda tmp: stacks_main(["plan", "--stack", "dev", "--out", str(symlinked(tmp, "plan", "link"))]),
        "--out {tmp}/link",
        "python -m stacks plan",
    ),
    "plan --json, same file": Concurrent(
        plan_first,
        lambda tmp: stacks_main(["plan", "--stack", "dev", "--out", str(tmp / "p2"), "--json", str(tmp / "plan.json")]),
        "--json {tmp}/plan.json",
        "python -m stacks plan",
    ),
    "report --out, same folder": Concurrent(
        lambda tmp: paused("stacks", "report", "--db", str(results_db(tmp)), "--out", str(tmp / "report"), at="file:1"),
        lambda tmp: stacks_main(["report", "--db", str(results_db(tmp)), "--out", str(tmp / "report")]),
        "--out {tmp}/report",
        "python -m stacks report",
    ),
    "benchmarks run --out, same file": Concurrent(
        lambda tmp: paused("benchmarks", *bench_argv(tmp / "r.json"), at="replace:1"),
        lambda tmp: bench_main(bench_argv(tmp / "r.json")),
        "--out {tmp}/r.json",
        "python -m benchmarks run",
    ),
    "tune --db, same path": Concurrent(
        lambda tmp: hold_run_lock(results_db(tmp)),
        lambda tmp: stacks_main(["tune", str(FAKE_GRID), "--db", str(tmp / "runs.db")]),
        "{tmp}/runs.db is in use",
        "-c",
    ),
    "tune --db, through a symlink": Concurrent(
        lambda tmp: hold_run_lock(results_db(tmp)),
        lambda tmp: stacks_main(["tune", str(FAKE_GRID), "--db", str(symlinked(tmp, "runs.db", "link.db"))]),
        "{tmp}/link.db is in use",
        "-c",
    ),
    "tune --db, through a hard link": Concurrent(
        lambda tmp: hold_run_lock(results_db(tmp)),
        lambda tmp: stacks_main(["tune", str(FAKE_GRID), "--db", str(symlinked(tmp, "runs.db", "hard.db", hard=True))]),
        "{tmp}/hard.db is in use",
        "-c",
    ),
}


@pytest.mark.parametrize("case", list(CONCURRENT))
def test_concurrent_writers_refused(tmp_path, capsys, case):
    row = CONCURRENT[case]
    first = row.first(tmp_path)
    try:
        before = {p.name: tree(p) for p in tmp_path.iterdir() if not p.name.startswith(".")}
        code = row.second(tmp_path)
        captured = capsys.readouterr()
        text = captured.out + captured.err
        (line,) = [line for line in text.splitlines() if "Fix:" in line]
        assert code == 2 and "Traceback" not in text
        assert row.names.format(tmp=tmp_path) in line, line
        assert f"(pid {first.pid} on host {socket.gethostname()}, started " in line and f"`{row.command}" in line, line
        assert "Fix: wait for it to finish, stop it, or pass another" in line
        after = {
            p.name: tree(p)
            for p in tmp_path.iterdir()
            if not p.name.startswith(".") and p.name not in ("link", "link.db", "hard.db")
        }
        assert after == before  # the second run wrote nothing
    finally:
        kill(first)


# ---------------------------------------------------------------- a full or read-only disk


def fail(err: int) -> Callable[..., None]:
    def raise_(*args, **kwargs):
        raise OSError(err, os.strerror(err), str(args[0]) if args and not isinstance(args[0], int) else None)

    return raise_


@dataclass
class Disk:
    previous: Callable[[Path], Path]  # the output as it was before
    again: Callable[[Path], int]  # the run that meets the failing disk (in process)
    stderr_only: bool = False  # the load generator prints its results table on stdout first


def snapshot_fetch(client, region, today, timeout=None):
    from stacks.prices.snapshot import Price, Snapshot, Source

    price = Price(
        service="ec2",
        instance_type="g5.xlarge",
        usd_per_hour=1.006,
        source=Source(kind="page", url="https://aws.amazon.com/ec2/pricing/on-demand/"),
        taken=today,
    )
    return Snapshot(region=region, date=today, prices=[price]), []


def prices_previous(tmp: Path) -> Path:
    import datetime as dt

    from stacks.prices import snapshot

    return snapshot.save(snapshot_fetch(None, "us-east-1", dt.date(2026, 1, 1))[0], tmp / "prices")


DISK = {
    "plan --out": Disk(
        plan_out_previous,
        lambda tmp: stacks_main(
            ["plan", "--stack", "dev", "--project-dir", str(other_project(tmp)), "--out", str(tmp / "plan")]
        ),
    ),
    "plan --json": Disk(
        plan_json_previous,
        lambda tmp: stacks_main(
            ["plan", "--stack", "dev", "--out", str(tmp / "plan"), "--json", str(tmp / "plan.json")]
        ),
    ),
    "report --out": Disk(
        report_previous, lambda tmp: stacks_main(["report", "--db", str(other_db(tmp)), "--out", str(tmp / "report")])
    ),
    "report --export-capacity": Disk(
        lambda tmp: (
            stacks_main(["report", "--db", str(capacity_db(tmp)), "--export-capacity", str(tmp / "capacity")]),
            capacity_file(tmp),
        )[1],
        lambda tmp: stacks_main(
            [
                "report",
                "--db",
                str(capacity_db(tmp)),
                "--out",
                str(tmp / "rep2"),
                "--export-capacity",
                str(tmp / "capacity"),
            ]
        ),
    ),
    "prices refresh": Disk(prices_previous, lambda tmp: prices(tmp, tmp / "prices" / "us-east-1.json")),
    "benchmarks run --out": Disk(bench_previous, lambda tmp: bench_main(bench_argv(tmp / "r.json")), stderr_only=True),
}

# (command, the call that fails, errno)
DISK_FAULTS = [
    ("plan --out", "write", errno.ENOSPC),
    ("plan --out", "rename", errno.EROFS),
    ("plan --json", "write", errno.ENOSPC),
    ("plan --json", "replace", errno.EROFS),
    ("report --out", "write", errno.ENOSPC),
    ("report --export-capacity", "replace", errno.EROFS),
    ("prices refresh", "write", errno.ENOSPC),
    ("benchmarks run --out", "replace", errno.EROFS),
]


@pytest.mark.parametrize(
    "command, call, err", DISK_FAULTS, ids=[f"{c} {f} {errno.errorcode[e]}" for c, f, e in DISK_FAULTS]
)
def test_full_disk_one_line(tmp_path, capsys, monkeypatch, command, call, err):
    row = DISK[command]
    target = row.previous(tmp_path)
    capsys.readouterr()
    before = tree(target)
    monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)  # the two-rename swap: its rename can fail
    monkeypatch.setattr(refresh, "fetch", snapshot_fetch)  # no AWS: the prices the refresh would have read
    with monkeypatch.context() as patch:
        patch.setattr(os, call, fail(err))
        code = row.again(tmp_path)
    captured = capsys.readouterr()
    line = one_line(captured.err if row.stderr_only else captured.out + captured.err)
    assert code != 0
    assert f"cannot write ({os.strerror(err)}" in line and "nothing was changed" in line and "Fix:" in line, line
    assert str(target.parent) in line
    assert tree(target) == before
    assert leftovers(target.parent) == []
