"""The deployer interface the driver uses, and the one wait loop every deployer shares (G15).

A deployer starts one trial's endpoint, waits until it is ready, and stops it. `stop` is always
called, also after a failed start and on Ctrl-C, and must be safe to call twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from components.rules.spec import EndpointSpec


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # http://host:port (the load generator appends /v1/...)
    model: str  # the model id; clients send its served name (G5)
    api_key: str | None = None
    gpus: int = 1  # GPUs the endpoint holds, for tokens/s per GPU
    price_per_hour: float | None = None  # $/h of what the trial deployed, for the cost metrics
    in_cluster: Any = None  # stacks/tuning/incluster.py InCluster: where benchmark.clients > 1 loads from


class DeployError(Exception):
    """The endpoint could not be created (e.g. `pulumi up` failed). `handle` names what a failed
    start may have left behind, so the driver still tears it down."""

    def __init__(self, message: str, handle: Any = None):
        super().__init__(message)
        self.handle = handle


class EndpointFailed(DeployError):
    """The endpoint reported a failed state, or its process died: infeasible, not retried (G15)."""


class ReadyTimeout(DeployError):
    """Not ready before the deadline."""


class EngineDied(Exception):
    """The endpoint's process exited while it was being benchmarked: the trial is not a result."""


class Interrupted(Exception):
    """The run was stopped (Ctrl-C) while this trial was in progress."""


State = Literal["ready", "pending", "failed"]


@dataclass(frozen=True)
class Status:
    state: State
    detail: str = ""


class Deployer(Protocol):
    def start(self, key: str, spec: EndpointSpec) -> Any: ...

    def wait_ready(self, handle: Any, timeout: float, stop: threading.Event) -> Endpoint: ...

    def stop(self, handle: Any) -> None: ...

    def log_path(self, handle: Any) -> str | None: ...

    def describe(self, handle: Any) -> str | None:
        """A name for what was deployed (a stack name), recorded so a crash can be cleaned up."""
        ...

    def cleanup(self, described: str) -> str | None:
        """Remove what a crashed earlier run left behind (a stack named by `describe`); may return
        a note for the user (e.g. why a recorded process was left alone)."""
        ...

    # Optional: `check(handle) -> Optional[str]`, why a running endpoint is gone (None while it
    # serves), polled during the benchmark; `identity(handle) -> dict`, stored with the trial.


def wait_until_ready(
    probe: Callable[[], Status],
    timeout: float,
    stop: threading.Event,
    interval: float = 2.0,
    what: str = "endpoint",
    clock: Callable[[], float] = time.monotonic,
) -> Status:
    """Poll `probe` until ready. A failed state ends the wait at once; so does the deadline (G15)."""
    deadline = clock() + timeout
    last = Status("pending", "not polled yet")
    while True:
        if stop.is_set():
            raise Interrupted(f"stopped while waiting for {what}")
        last = probe()
        if last.state == "ready":
            return last
        if last.state == "failed":
            raise EndpointFailed(f"{what} failed: {last.detail}")
        remaining = deadline - clock()
        if remaining <= 0:
            raise ReadyTimeout(f"{what} not ready after {timeout:.0f} s (last state: {last.detail or last.state})")
        stop.wait(min(interval, remaining))
