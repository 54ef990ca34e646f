"""Exit codes that tell the truth, and no traceback anywhere: both command lines end through one mapping
(benchmarks/exits.py), whatever happens to their streams, their disk or the run.

Real subprocesses, each with a timeout: a closed stdout (`>&-`) or stdin (`<&-`), stdout a pipe closed after one
line (`| head -1`), stdout on a full disk (`> /dev/full`), Ctrl-C part way, a results database on a read-only
file system, hostile option values. Before the mapping: AttributeError tracebacks for a closed stdout, a raw
BrokenPipeError or KeyboardInterrupt traceback, and the load generator killed by SIGABRT (libuv's
`uv__close: Assertion 'fd > STDERR_FILENO' failed`) without writing its results.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks import exits
from benchmarks.cli import main as loadgen_main
from tests.loadgen.scripted_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
GRID = str(ROOT / "stacks" / "grids" / "qwen3-4b-g5.yaml")  # a dry run takes seconds: long enough to interrupt
LOCAL_GRID = str(ROOT / "stacks" / "grids" / "fake-engine-test.yaml")  # opens its database before any engine starts
TIMEOUT_S = 180


@pytest.fixture(scope="module")
def server():
    s = ScriptedServer().start()
    yield s
    s.stop()


def _inf_grid(tmp: Path) -> str:
    text = (ROOT / "stacks" / "grids" / "fake-engine-test.yaml").read_text()
    path = tmp / "inf.yaml"
    path.write_text(
        text.replace("engineArgs.maxNumSeqs: [1, 2, 8, 128]", "engineArgs.maxNumSeqs: {from: 1, to: .inf, times: 2}")
    )
    return str(path)


def _manifests(tmp: Path) -> str:
    """300 ConfigMaps: `check --json` prints about 170 kB of them, more than a pipe holds."""
    path = tmp / "many.yaml"
    path.write_text(
        "".join(
            f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}, namespace: default}}\ndata: {{k: v}}\n"
            for i in range(300)
        )
    )
    return str(path)


def _loadgen(server, tmp: Path, model: str = "http500") -> list[str]:
    return [
        "-m",
        "benchmarks",
        "run",
        "--url",
        server.url,
        "--model",
        model,
        "--raw-model-name",
        "--concurrency",
        "1",
        "--max-requests",
        "2",
        "--warmup",
        "0",
        "--scenario",
        "D(10,4)",
        "--no-engine-metrics",
        "--out",
        str(tmp / "r.json"),
    ]


# (name, argv after the interpreter, hostile condition, exit status, a piece of the output, a file the command must still write)
ROWS = [
    (
        "plan with stdout closed",
        lambda s, t: ["-m", "stacks", "plan", "--stack", "dev", "--out", str(t / "plan")],
        "stdout closed",
        1,
        "stdout was closed",
        "plan",
    ),
    (
        "check --json piped into head -1",
        lambda s, t: ["-m", "stacks", "check", "--json", _manifests(t)],
        "stdout pipe closed after one line",
        1,
        "",
        None,
    ),
    (
        "prices show onto a full disk",
        lambda s, t: ["-m", "stacks", "prices", "show"],
        "stdout on /dev/full",
        1,
        "cannot write stdout: No space left on device",
        None,
    ),
    (
        "tune --dry-run interrupted",
        lambda s, t: ["-m", "stacks", "tune", GRID, "--dry-run", "--db", str(t / "x.db")],
        "SIGINT after 1.5 s",
        130,
        "python -m stacks: interrupted",
        None,
    ),
    (
        "tune with its database on a read-only file system",
        lambda s, t: ["-m", "stacks", "tune", LOCAL_GRID, "--db", "/proc/llm-serving/x.db"],
        "",
        2,
        "cannot create its folder",
        None,
    ),
    (
        "plan --kubernetes-version 9.99",
        lambda s, t: ["-m", "stacks", "plan", "--kubernetes-version", "9.99"],
        "",
        2,
        "from 1.25 to",
        None,
    ),
    (
        "check --kubernetes-version 9.99",
        lambda s, t: ["-m", "stacks", "check", _manifests(t), "--kubernetes-version", "9.99"],
        "",
        2,
        "from 1.25 to",
        None,
    ),
    (
        "tune a grid whose range runs to .inf",
        lambda s, t: ["-m", "stacks", "tune", _inf_grid(t), "--dry-run"],
        "",
        2,
        "expected a finite number",
        None,
    ),
    ("load generator with stdout closed", _loadgen, "stdout closed", 1, "every request failed (2 of 2)", "r.json"),
    ("load generator with stdin closed", _loadgen, "stdin closed", 1, "every request failed (2 of 2)", "r.json"),
    ("load generator piped into head -1", _loadgen, "stdout pipe closed after one line", 1, "", "r.json"),
]


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(argv: list[str], condition: str, tmp: Path) -> tuple[int, str, str]:
    env = {**os.environ, exits.DEBUG_ENV: ""}
    # Ctrl-C as a terminal delivers it: a harness that runs in the background (a shell's `&`) ignores SIGINT, the
    # child would inherit that, and Python installs no KeyboardInterrupt for an ignored SIGINT.
    kw: dict = dict(cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=_sigint_default)
    if condition == "stdout closed":
        kw.update(stdout=None, preexec_fn=lambda: (_sigint_default(), os.close(1)))
    elif condition == "stdin closed":
        kw.update(preexec_fn=lambda: (_sigint_default(), os.close(0)))
    elif condition == "stdout on /dev/full":
        kw.update(stdout=open("/dev/full", "w"))
    proc = subprocess.Popen([sys.executable, *argv], **kw)
    try:
        if condition == "stdout pipe closed after one line":
            proc.stdout.readline()
            proc.stdout.close()  # the reader leaves, as `head -1` does
            proc.stdout = None
        elif condition.startswith("SIGINT"):
            time.sleep(1.5)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, (out or b"").decode(errors="replace"), err.decode(errors="replace")


@pytest.mark.parametrize("name, argv, condition, code, said, writes", ROWS, ids=[r[0] for r in ROWS])
def test_cli_never_prints_a_traceback(server, tmp_path, name, argv, condition, code, said, writes):
    returned, out, err = _run(argv(server, tmp_path), condition, tmp_path)
    assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
    assert returned == code, (returned, err[-2000:])
    assert said in out + err, (out[-2000:], err[-2000:])  # stacks prints its errors on stdout, the mapping on stderr
    assert "internal error" not in err and "Exception ignored" not in err, err[-2000:]
    if writes:
        assert (tmp_path / writes).exists(), f"{writes} was not written"


# (argv, environment) -> traceback shown. An unexpected error is one line and 70 (EX_SOFTWARE), naming --debug.
DEBUG_ROWS = [
    ([], {}, False),
    (["--debug"], {}, True),
    ([], {exits.DEBUG_ENV: "1"}, True),
    ([], {exits.DEBUG_ENV: "0"}, False),
]


@pytest.mark.parametrize("argv, env, shown", DEBUG_ROWS)
def test_an_internal_error_is_one_line_and_exit_70_and_debug_shows_the_traceback(monkeypatch, argv, env, shown):
    monkeypatch.delenv(exits.DEBUG_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def buggy(args):
        return {}["no such key"]

    err, trace = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", trace)
    with contextlib.redirect_stderr(err):
        code = exits.run(buggy, argv, prog="python -m stacks")
    assert code == exits.INTERNAL == 70
    assert err.getvalue() == (
        "python -m stacks: internal error: KeyError: 'no such key'"
        + ("" if shown else "; rerun with --debug for the traceback")
        + "\n"
    )
    assert ("Traceback" in trace.getvalue()) is shown


# (server script, exit status, the one line on stderr). HTTP 429 is neither a success nor an error, so before this a
# run refused throughout printed `0/0` and exited 0.
VERDICT_ROWS = [
    (
        "http429",
        1,
        "benchmarks: error: every request was rate limited (4 of 4 got HTTP 429), so nothing was measured; Fix: raise the key's limit",
    ),
    (
        "http500",
        1,
        "benchmarks: error: every request failed (4 of 4): HTTP 500: boom: engine overloaded (see the errors above and the server's log)",
    ),
    (
        "http429-500",
        1,
        "benchmarks: error: no request succeeded (4 of 4: 2 failed, 2 rate limited with HTTP 429); most frequent error: HTTP 500: boom: engine overloaded",
    ),
    ("fast", 0, ""),
]


@pytest.mark.parametrize("model, code, line", VERDICT_ROWS, ids=[r[0] for r in VERDICT_ROWS])
def test_all_failed_or_rate_limited_runs_exit_nonzero(server, tmp_path, capsys, model, code, line):
    out = tmp_path / "r.json"
    assert (
        loadgen_main(
            [
                "run",
                "--url",
                server.url,
                "--model",
                model,
                "--raw-model-name",
                "--concurrency",
                "1",
                "--max-requests",
                "4",
                "--warmup",
                "0",
                "--scenario",
                "D(10,4)",
                "--quiet",
                "--no-engine-metrics",
                "--out",
                str(out),
            ]
        )
        == code
    )
    captured = capsys.readouterr()
    errors = [e for e in captured.err.splitlines() if e.startswith("benchmarks: error:")]
    assert errors == ([] if not line else [errors[0]]) and (not line or errors[0].startswith(line)), captured.err
    if model.startswith("http429"):
        assert "rate limited (concurrency 1): " in captured.out  # the table's 0/0 no longer hides them
    assert json.loads(out.read_text())["levels"][0]["requests"]  # the results are written whatever the verdict


def test_ctrl_c_inside_a_finalizer_is_delivered_again_not_printed_as_ignored():
    # SIGINT during `tune --dry-run` once landed in a weakref callback the garbage collector ran: Python printed
    # "Exception ignored in ... Traceback ... KeyboardInterrupt" and the command went on.
    import types

    from benchmarks import exits

    other: list = []
    handle = exits._redeliver_interrupt(other.append)
    handle(types.SimpleNamespace(exc_value=ValueError("x")))
    assert [type(u.exc_value) for u in other] == [ValueError]  # anything else goes to the previous hook
    previous = signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # a CLI's handler (an earlier test may have changed it)
    try:
        with pytest.raises(KeyboardInterrupt):
            handle(types.SimpleNamespace(exc_value=KeyboardInterrupt()))
            time.sleep(5)  # the interrupt arrives a moment later, from another thread
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(other) == 1
