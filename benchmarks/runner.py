"""The two load loops for one level, both bounded by a request count and a wall-clock time.

- closed loop (fixed concurrency): N workers; each sends its next request when its previous one
  ends, so nothing ever waits for a slot (``queue_time`` is 0).
- open loop (Poisson request rate): arrivals are drawn from an exponential inter-arrival time
  distribution and sent on time whatever is in flight; with ``max_concurrency`` an arrival may
  wait for a slot, and that wait (plus any event-loop lag) is its ``queue_time``.

After the time limit no new request starts; requests in flight finish, each within its own
deadline.  Setting ``stop`` cancels everything in flight at once (records are kept, marked
``cancelled``).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

import aiohttp

from .client import RequestRecord, Target, send
from .payload import build_body
from .prompts import PromptBuilder
from .scenario import Scenario


class ProgressSink(Protocol):
    def request_done(self, record: RequestRecord) -> None: ...


@dataclass
class LevelContext:
    session: aiohttp.ClientSession
    target: Target
    scenario: Scenario
    prompts: PromptBuilder
    rng: random.Random
    endpoint: str
    model: str
    ignore_eos: bool
    records: list[RequestRecord]
    progress: ProgressSink | None = None
    keys: Any = None  # tenants.KeyRing (--api-keys): each request carries one tenant's key
    # Never seeded: a seeded run must still get fresh nonces, or repeating it would hit the
    # server's prefix cache.
    nonces: random.Random = field(default_factory=random.Random)

    async def issue(self, index: int, due: float | None) -> None:
        """Builds and sends request ``index``; ``due`` is its scheduled time (None: now)."""
        n_in, n_out = self.scenario.sample(self.rng)
        prompt = self.prompts.build(n_in, self.nonces)
        body = build_body(self.endpoint, self.model, prompt, n_out, self.ignore_eos)
        record = RequestRecord(index, n_in, n_out)
        target = self.target
        if self.keys is not None:
            record.tenant, target = self.keys.target(index, target)
        if due is not None:  # else ``send`` sets it to the send time: no queue time
            record.scheduled = due
        self.records.append(record)
        await send(self.session, target, record, body)
        if self.progress is not None:
            self.progress.request_done(record)


async def _until_done_or_stop(tasks: list[asyncio.Task], stop: asyncio.Event) -> None:
    everything = asyncio.gather(*tasks)
    everything.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no "never retrieved" log
    stopper = asyncio.ensure_future(stop.wait())
    finished = False
    try:
        await asyncio.wait([everything, stopper], return_when=asyncio.FIRST_COMPLETED)
        finished = everything.done()
    finally:
        stopper.cancel()
        if not everything.done():
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    if finished:
        everything.result()  # surface a bug in the loop itself


async def run_closed(ctx: LevelContext, concurrency: int, max_requests: int, max_seconds: float, stop: asyncio.Event) -> float:
    """Returns the level's start time."""
    t0 = perf_counter()
    deadline = t0 + max_seconds
    indices = iter(range(max_requests))  # shared by the workers: bounds the total count

    async def worker() -> None:
        for i in indices:
            if perf_counter() >= deadline or stop.is_set():
                return
            await ctx.issue(i, None)

    await _until_done_or_stop([asyncio.ensure_future(worker()) for _ in range(concurrency)], stop)
    return t0


async def run_open(
    ctx: LevelContext,
    rate: float,
    max_concurrency: int | None,
    max_requests: int,
    max_seconds: float,
    stop: asyncio.Event,
) -> float:
    """Returns the level's start time."""
    t0 = perf_counter()
    slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    arrivals = random.Random(ctx.rng.random())

    async def one(i: int, due: float) -> None:
        if slots is None:
            await ctx.issue(i, due)
        else:
            async with slots:
                await ctx.issue(i, due)

    async def dispatcher() -> None:
        tasks: list[asyncio.Task] = []
        due = t0
        try:
            for i in range(max_requests):
                if i:
                    due += arrivals.expovariate(rate)
                if due - t0 >= max_seconds:
                    break
                delay = due - perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(one(i, due)))
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    await _until_done_or_stop([asyncio.ensure_future(dispatcher())], stop)
    return t0
