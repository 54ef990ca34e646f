"""Running the real program (`__main__.py`) under Pulumi mocks for the offline plan (stacks/plan.py): a fresh
event loop per plan, the garbage collector paused, registrations in the order their constructors ran."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import runpy
from pathlib import Path
from typing import Any

from benchmarks.exits import deferred_interrupt

from .mocks import PlanMocks, PlanMonitor, Registration

PROGRAM = Path(__file__).resolve().parent.parent / "__main__.py"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname.lower(), record.getMessage()))


def run_program(
    stack: str, values: dict[str, Any], project: str, mocks: PlanMocks | None = None, program: Path | None = None
) -> tuple[PlanMocks, list[tuple[str, str]]]:
    mocks = mocks or PlanMocks()
    # Ctrl-C waits for the plan to end (a plan of 50 endpoints takes seconds): the SDK's program cannot be left
    # half-way without a hang or an internal error (benchmarks/exits.py: deferred_interrupt).
    with deferred_interrupt():
        loop = _fresh_loop()
        try:
            with collector_paused():
                return _run_in_loop(stack, values, project, mocks, program)
        finally:
            _stop_leftovers(loop)


@contextlib.contextmanager
def collector_paused():
    """The cyclic garbage collector off for one plan. The SDK modules the program imports are millions of
    long-lived objects that every full collection walks again (2 of 5.7 s of a 50-endpoint plan); a plan
    is bounded and keeps its objects to the end (peak memory +3 %). Reference counting still frees the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_LOOP: asyncio.AbstractEventLoop | None = None


def _fresh_loop() -> asyncio.AbstractEventLoop:
    """A new event loop per plan, made current (Pulumi's sync helpers need one, and asyncio.run()
    elsewhere clears it). The previous plan's loop is closed only now: its caller may still resolve
    that program's outputs after the plan returns. At most one plan loop is open, and its executor
    threads are stopped when its plan ends (a dry run once died after ~114 plans)."""
    global _LOOP
    if _LOOP is not None and not _LOOP.is_closed():
        _LOOP.close()
    _LOOP = asyncio.new_event_loop()
    asyncio.set_event_loop(_LOOP)
    return _LOOP


def _stop_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the program left pending and stop the loop's executor threads; the loop stays open."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())


def _run_in_loop(
    stack: str, values: dict[str, Any], project: str, mocks: PlanMocks, program: Path | None
) -> tuple[PlanMocks, list[tuple[str, str]]]:
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    logger = logging.getLogger(f"llm-serving.plan.{stack}")
    logger.propagate = False
    capture = _Capture()
    logger.handlers = [capture]
    # INFO: the SDK's debug channel (four lines per registration, each with a stack walk in logging) is
    # never shown, and the program's own messages are info and up.
    logger.setLevel(logging.INFO)
    main = program or PROGRAM

    def run_main() -> None:  # the SDK awaits what the program returns if it is awaitable; run_path's dict is not
        runpy.run_path(str(main), run_name="__main__")

    with _without_stack_traces():  # from the first registration on: set_mocks registers the stack
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=True, logger=logger, monitor=PlanMonitor(mocks)
        )
        pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})
        with _recording_declarations(mocks.declared):
            _sync_await(run_pulumi_func(run_main))
    mocks.registrations[:] = declaration_order(mocks.registrations, mocks.declared)
    return mocks, capture.records


@contextlib.contextmanager
def _recording_declarations(declared: list[tuple[str, str]]):
    """Note each resource as its constructor runs. The mocks see registrations when their inputs
    resolve, which varies from run to run; constructor order is the program's own order, fixed,
    and a valid dependency order (nothing can depend on a resource not yet declared)."""
    import pulumi.resource as resource_module

    original = resource_module.register_resource

    def recording(res: Any, ty: str, name: str, *args: Any, **kwargs: Any) -> Any:
        declared.append((ty, name))
        return original(res, ty, name, *args, **kwargs)

    resource_module.register_resource = recording
    try:
        yield
    finally:
        resource_module.register_resource = original


@contextlib.contextmanager
def _without_stack_traces():
    """Pulumi walks and stringifies the Python stack on every registration, for source positions in the
    engine's diagnostics. A plan has no engine and never reads them."""
    import pulumi.runtime.resource as runtime_resource
    from pulumi.runtime.proto import source_pb2

    original = runtime_resource._get_stack_trace
    runtime_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        runtime_resource._get_stack_trace = original


def declaration_order(registrations: list[Registration], declared: list[tuple[str, str]]) -> list[Registration]:
    """Registrations sorted by when their constructor ran; any not seen keep their place at the end."""
    slots: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(declared):
        slots.setdefault(key, []).append(i)
    keyed = []
    for j, reg in enumerate(registrations):
        queue = slots.get((reg.type_, reg.name))
        keyed.append((queue.pop(0) if queue else len(declared) + j, reg))
    return [reg for _, reg in sorted(keyed, key=lambda pair: pair[0])]
