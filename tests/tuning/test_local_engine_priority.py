"""The local engine runs below the load generator's priority: on shared cores vLLM-CPU at priority 0 delayed the
generator's send schedule by 73-919 ms at p99 (2 cores), and the client-overload guard voided every level."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from stacks.tuning import grid as grid_mod
from stacks.tuning.grid_points import expand
from stacks.tuning.local import LocalEngineDeployer, niced

GRID = Path(__file__).resolve().parents[2] / "stacks" / "grids" / "fake-engine-test.yaml"


def _started_engine(tmp_path: Path, **local_updates) -> tuple[bytes, int, str | None]:
    """The ready engine's command line, how far below this process's priority it runs, and its session's group."""
    grid = grid_mod.load(GRID)
    local = grid.local.model_copy(update={"model_dir": str(tmp_path), **local_updates})
    deployer = LocalEngineDeployer(local, tmp_path / "logs")
    point = next(p for p in expand(grid) if not p.pruned)
    assert point.spec is not None
    handle = deployer.start("priority", point.spec)
    try:
        deployer.wait_ready(handle, 30, threading.Event())
        assert handle.process is not None
        pid = handle.process.pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        autogroup = Path(f"/proc/{pid}/autogroup")
        group = autogroup.read_text() if autogroup.exists() else None
        return cmdline, os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0), group
    finally:
        deployer.stop(handle)


def test_the_local_engine_starts_ten_below_the_load_generator_by_default(tmp_path):
    cmdline, below, group = _started_engine(tmp_path)
    assert below == min(10, 19 - os.getpriority(os.PRIO_PROCESS, 0))
    # Its own session's group too, where the kernel groups by session: nice alone orders only within a group.
    if group is not None:
        assert group.split()[-2:] == ["nice", "10"], group
    # `nice` execs the engine in place: the pid recorded for cleanup is the engine's own.
    assert b"stand_in.py" in cmdline and not cmdline.split(bytes(1))[0].endswith(b"nice")


def test_niceness_zero_leaves_the_engine_at_the_generators_priority(tmp_path):
    _, below, group = _started_engine(tmp_path, niceness=0)
    assert group is None or group.split()[-2:] == ["nice", "0"], group
    assert below == 0


def test_without_a_nice_binary_the_engine_starts_unchanged_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr("stacks.tuning.local.shutil.which", lambda name: None)
    assert niced(["python", "-m", "vllm"], 10) == ["python", "-m", "vllm"]
    assert "local.niceness 10 not applied" in caplog.text


@pytest.mark.parametrize("value", [-1, 20])
def test_niceness_outside_0_to_19_is_refused_naming_the_key(value):
    grid = grid_mod.load(GRID)
    with pytest.raises(Exception, match="niceness"):
        grid.local.model_validate({**grid.local.model_dump(by_alias=True), "niceness": value})
