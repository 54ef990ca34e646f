"""Run a function as a Pulumi program under the plan's mocks and return what it registered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks.mocks import PlanMocks


def run(
    program: Callable[[], Any], config: dict[str, Any] | None = None, project: str = "llm-serving", stack: str = "test"
) -> PlanMocks:
    mocks = PlanMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())  # other tests' asyncio.run() leaves none
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True)
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()})
    _sync_await(run_pulumi_func(program))
    return mocks


def run_recording(program: Callable[[], Any]) -> tuple[PlanMocks, dict[str, Any]]:
    """`run`, plus every register request (parent URN, dependencies, aliases) by type and name."""
    requests: dict[str, Any] = {}
    original = MockMonitor.RegisterResource

    def register(self: Any, request: Any) -> Any:
        requests[(request.type, request.name)] = request
        return original(self, request)

    MockMonitor.RegisterResource = register
    try:
        return run(program), requests
    finally:
        MockMonitor.RegisterResource = original


def resolve(output: pulumi.Output) -> Any:
    """The value of an Output after the program ran (the mocks resolve everything)."""
    return _sync_await(output.future())
