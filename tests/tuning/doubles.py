"""Test doubles for the tuning driver: a StackRunner (the Automation API interface) and a measurer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stacks.tuning.deploy import Endpoint, Interrupted, Status
from stacks.tuning.measure import BenchmarkFailed, Measurement, aggregate


@dataclass
class FakeStackRunner:
    """Scripted per stack: `up` may fail, status may go pending -> ready or -> failed."""

    fail_up: set[str] = field(default_factory=set)  # stack-name substrings whose up raises
    failed_state: set[str] = field(default_factory=set)  # stack-name substrings that report DeploymentFailed
    never_ready: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)  # stacks that exist now
    ups: list[str] = field(default_factory=list)
    destroys: list[str] = field(default_factory=list)
    polls: dict[str, int] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _match(self, names: set[str], stack: str) -> bool:
        return any(n in stack for n in names)

    def up(self, stack: str, config: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
        self.ups.append(stack)
        self.live.add(stack)  # a failed up can still leave resources behind
        log(f"up {stack}")
        if self._match(self.fail_up, stack):
            raise RuntimeError("error: update failed: creating InferenceEndpointConfig: admission webhook denied")
        self.configs[stack] = config
        if not config.get("llm-serving:endpoints"):  # the base (platform) stack
            return {"kubeconfig": "apiVersion: v1", "cluster": {"name": "base"}}
        (endpoint,) = config["llm-serving:endpoints"]
        outputs: dict[str, Any] = {
            "endpoints": {
                endpoint["name"]: {
                    "url": f"https://alb-{stack}.example/v1/chat/completions",
                    "servedModelName": endpoint["model"].split("/")[-1],
                }
            }
        }
        if endpoint.get("apiKey"):
            outputs["apiKeys"] = {endpoint["name"]: f"key-for-{stack}"}
        return outputs

    def destroy(self, stack: str, log: Callable[[str], None]) -> None:
        self.destroys.append(stack)
        self.live.discard(stack)

    def endpoint_status(self, stack: str, outputs: dict[str, Any]) -> Status:
        self.polls[stack] = self.polls.get(stack, 0) + 1
        if self._match(self.failed_state, stack):
            return (
                Status("failed", "DeploymentFailed: model container OOMKilled")
                if self.polls[stack] >= 2
                else Status("pending", "DeploymentInProgress")
            )
        if self._match(self.never_ready, stack):
            return Status("pending", "DeploymentInProgress")
        return Status("ready") if self.polls[stack] >= 2 else Status("pending", "DeploymentPending")


class SurfaceMeasurer:
    """Answers each trial from a table of metrics keyed by parameter values (a response surface)."""

    def __init__(
        self,
        surface: Callable[[dict[str, Any]], dict[str, float] | None],
        params_of: Callable[[Endpoint], dict[str, Any]],
        slo: dict[str, float] | None = None,
    ):
        self.surface = surface
        self.params_of = params_of
        self.slo = slo or {}
        self.calls = 0

    def measure(self, endpoint: Endpoint, stop: threading.Event) -> Measurement:
        self.calls += 1
        metrics = self.surface(self.params_of(endpoint))
        if metrics is None:
            raise BenchmarkFailed("every request failed: {'timeout': 24}")
        agg = aggregate([metrics])
        ok = all(agg[m]["mean"] <= b for m, b in self.slo.items())
        return Measurement(agg, [metrics], ok, 8)


class BlockingMeasurer:
    """Blocks in the benchmark until the stop event is set (for Ctrl-C tests)."""

    def __init__(self) -> None:
        self.entered = threading.Event()

    def measure(self, endpoint: Endpoint, stop: threading.Event) -> Measurement:
        self.entered.set()
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise Interrupted("stopped during the benchmark")
