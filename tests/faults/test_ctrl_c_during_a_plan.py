"""Ctrl-C during the offline plan waits for the plan to end, then stops the command. Delivered inside Pulumi's mocked
program, it left the dry run hung on tasks that never finished, or ended it with an internal error
('_CallbackServicer' object has no attribute '_server') and "coroutine was never awaited" warnings."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from benchmarks.exits import deferred_interrupt
from stacks import plan as plan_cmd
from stacks.mocks import PlanMocks

PROGRAM_INTERRUPTED_HALF_WAY = """
import os, signal
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("before", metadata={"name": "before", "namespace": "x"}, data={"a": "1"})
os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C with half the program declared
k8s.core.v1.ConfigMap("after", metadata={"name": "after", "namespace": "x"}, data={"a": "2"})
"""


@pytest.fixture
def python_sigint():
    """SIGINT as a terminal delivers it to Python (a background harness may have it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_inside_the_program_stops_after_the_plan_and_the_next_plan_runs(tmp_path: Path, python_sigint):
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM_INTERRUPTED_HALF_WAY)
    mocks = PlanMocks()
    with pytest.raises(KeyboardInterrupt):
        plan_cmd.run_program("ctrl-c", {}, "llm-serving", mocks=mocks, program=program)
    # The program ran to its end before the interrupt was raised.
    assert [name for kind, name in mocks.declared if kind == "kubernetes:core/v1:ConfigMap"] == ["before", "after"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # The interrupted plan's loop was left clean: the next plan declares both objects.
    program.write_text(PROGRAM_INTERRUPTED_HALF_WAY.replace("os.kill(os.getpid(), signal.SIGINT)", "pass"))
    mocks, _ = plan_cmd.run_program("after", {}, "llm-serving", program=program)
    assert [r.name for r in mocks.registrations if r.type_ == "kubernetes:core/v1:ConfigMap"] == ["before", "after"]


def test_ctrl_c_wins_over_the_error_the_block_ends_with(python_sigint):
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            raise ValueError("a plan that refuses its config")


def test_a_block_without_ctrl_c_ends_as_it_would(python_sigint):
    with deferred_interrupt():
        done = True
    assert done and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
