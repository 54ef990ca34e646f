"""Property over every command of `python -m stacks` (the argparse registry, stacks/__main__.py build_parser): any
argv, run with a stdout that refuses every write, ends with a documented exit status and never a traceback or an
internal error.

In-process, through the same mapping the command line uses (benchmarks/exits.py `run`), with a stdout stand-in
whose writes fail as a closed descriptor's do (EBADF). The subprocess twins (a closed descriptor, a pipe closed
early, a full disk, Ctrl-C) are in tests/faults/test_exit_codes.py.

Left out, because they reach the network or write into the project: `preflight` (AWS), `crds fetch`, `charts
fetch`, `prices refresh` (downloads), `docs` without `--check` (rewrites docs/), `tune` without `--dry-run`
(starts engines).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import exits
from stacks.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
UNSAFE_COMMANDS = {"preflight"}
UNSAFE_CHOICES = {"fetch", "refresh", "lock"}
REQUIRED_FLAGS = {"tune": "--dry-run", "docs": "--check"}
HOSTILE = [
    "",
    "0",
    "-1",
    "9.99",
    "1e308",
    "nan",
    "inf",
    "[/x]",
    "{name}",
    "dev",
    "eks",
    "💥",
    "a\nb",
    "x" * 5000,
    "/proc/llm-serving/x",
    "/nonexistent/dir/file",
    str(ROOT / "stacks" / "grids" / "tiny-cpu.yaml"),
    str(ROOT / "tests" / "golden" / "data"),
    str(ROOT / "Pulumi.dev.yaml"),
    "out/here",
]


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: parser for name, parser in sub.choices.items() if name not in UNSAFE_COMMANDS}


COMMANDS = _commands()


@st.composite
def argvs(draw) -> list[str]:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    argv = [name]
    for action in COMMANDS[name]._actions:
        if action.dest in ("help", "debug"):
            continue
        values = (
            st.sampled_from([c for c in action.choices if c not in UNSAFE_CHOICES] + ["", "nope"])
            if action.choices
            else st.sampled_from(HOSTILE)
        )
        if not action.option_strings:  # a positional: always given
            argv += draw(st.lists(values, min_size=1, max_size=2)) if action.nargs == "+" else [draw(values)]
        elif draw(st.booleans()):
            option = draw(st.sampled_from(action.option_strings))
            argv += [option] if action.nargs == 0 else [option, draw(values)]
    if name in REQUIRED_FLAGS and REQUIRED_FLAGS[name] not in argv:
        argv.append(REQUIRED_FLAGS[name])
    return argv


class ClosedStdout(io.TextIOBase):
    """A stdout whose every write fails as one on a closed descriptor does."""

    def write(self, text):
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def flush(self):
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def isatty(self):
        return False


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(argv=argvs())
def test_every_command_with_stdout_closed_never_prints_a_traceback(tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)  # default output folders land here, never in the project
    monkeypatch.delenv(exits.DEBUG_ENV, raising=False)
    err = io.StringIO()
    with contextlib.redirect_stdout(ClosedStdout()), contextlib.redirect_stderr(err):
        code = exits.run(main, argv, prog="python -m stacks")
    text = err.getvalue()
    assert code in (0, 1, 2), (argv, code, text[-2000:])
    assert "Traceback" not in text and "internal error" not in text, (argv, text[-2000:])
    if code == 1:
        assert "cannot write stdout" in text or "error:" in text, (argv, text[-2000:])
