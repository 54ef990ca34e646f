"""The event loop the load generator runs on: uvloop when installed (pinned in requirements.txt),
else the standard library's.  uvloop wakes a coroutine sooner after a socket read, which shrinks the
client's share of measured TTFT (``python -m benchmarks.experiments.timing_accuracy`` measures it side by side).

``BENCHMARKS_EVENT_LOOP=asyncio`` forces the standard loop (for comparisons, or if uvloop misbehaves).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
ENV = "BENCHMARKS_EVENT_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory, or None (the standard loop)."""
    if os.environ.get(ENV, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # optional at runtime: the standard loop works, only less precisely
        return None
    return uvloop.new_event_loop


def name() -> str:
    return "uvloop" if loop_factory() else "asyncio"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)
