"""The load loops for one level, each bounded by a request count and a wall-clock time.

- closed loop (fixed concurrency): N workers; each sends its next request when its previous one
  ends, so nothing ever waits for a slot (``queue_time`` is 0).
- open loop (Poisson request rate): arrivals are drawn from an exponential inter-arrival time
  distribution and sent on time whatever is in flight; with ``max_concurrency`` an arrival may
  wait for a slot, and that wait (plus any event-loop lag) is its ``queue_time``.
- trace replay: each trace line is sent at its own timestamp; ``queue_time`` is the arrival lag.

What is sent comes from the workload (benchmarks/workloads/): each worker or arrival runs one
unit, a single request or a multi-turn session whose turns count against the request bound.

After the time limit no new request starts; requests in flight finish, each within its own
deadline.  Setting ``stop`` cancels everything in flight at once (records are kept, marked
``cancelled``).
"""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Iterator, Protocol

import aiohttp

from .client import RequestRecord, Target, send
from .payload import build_body
from .workloads import Request, Workload


class ProgressSink(Protocol):
    def request_done(self, record: RequestRecord) -> None: ...


@dataclass
class LevelContext:
    session: aiohttp.ClientSession
    target: Target
    workload: Workload
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
    units: Iterator[int] = field(default_factory=itertools.count)  # unit numbers, in creation order
    unit_seed: float = field(init=False)

    def __post_init__(self) -> None:
        # Unit k's generator depends on this draw and k only: a seeded run builds the same units
        # whichever worker takes them and whenever they start.
        self.unit_seed = self.rng.random()

    async def run_unit(self, number: int, indices: Iterator[int], due: float | None, deadline: float) -> bool:
        """Sends unit ``number`` of the workload: one request, or a session's turns in order, each
        built on the previous reply.  ``indices`` bounds the level's request count; ``due`` is the
        first request's scheduled time (None: now); no later turn starts after ``deadline``.
        False once ``indices`` has run out."""
        unit = self.workload.unit(number, random.Random(f"{self.unit_seed}:{number}"), self.nonces)
        request = next(unit, None)
        first = True
        while request is not None:
            if request.delay:
                await asyncio.sleep(request.delay)
            if not first and perf_counter() >= deadline:
                break
            index = next(indices, None)
            if index is None:
                return False
            record = await self.issue(index, due, request, unit=number)
            due, first = None, False
            try:
                request = unit.send("".join(record.reply or ()) if record.ok else None)
            except StopIteration:
                break
        return True

    async def issue(self, index: int, due: float | None, request: Request, unit: int | None = None) -> RequestRecord:
        """Sends one request; ``due`` is its scheduled time (None: now).  With tenants' keys, unit
        ``unit`` (default: the request ``index``) picks the key, so a session's turns are one tenant's."""
        body = build_body(self.endpoint, self.model, request.messages, request.output_tokens, self.ignore_eos)
        record = RequestRecord(index, request.input_tokens, request.output_tokens)
        record.turn, record.shared_tokens = request.turn, request.shared_tokens
        if request.turn is not None:
            record.reply = []  # the next turn resends it
        target = self.target
        if self.keys is not None:
            record.tenant, target = self.keys.target(index if unit is None else unit, target)
        if request.headers:  # the workload's own (session id) on top of the tenant's key
            target = Target(target.url, {**target.headers, **request.headers}, target.timeout)
        if due is not None:  # else ``send`` sets it to the send time: no queue time
            record.scheduled = due
        self.records.append(record)
        await send(self.session, target, record, body)
        if self.progress is not None:
            self.progress.request_done(record)
        return record


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
        while not stop.is_set() and perf_counter() < deadline:
            if not await ctx.run_unit(next(ctx.units), indices, None, deadline):
                return

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
    """Poisson arrivals at ``rate``; returns the level's start time."""
    arrivals = random.Random(ctx.rng.random())

    def offsets() -> Iterator[float]:
        at = 0.0
        for i in range(max_requests):
            if i:
                at += arrivals.expovariate(rate)
            yield at

    slots = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    return await _dispatch(ctx, offsets(), slots, max_requests, max_seconds, stop)


async def run_trace(ctx: LevelContext, max_requests: int, max_seconds: float, stop: asyncio.Event) -> float:
    """Sends unit k of a trace workload at its arrival time (``ctx.workload.arrivals[k]`` seconds
    after the level's start) whatever is in flight.  Returns the level's start time."""
    arrivals = ctx.workload.arrivals or ()
    return await _dispatch(ctx, iter(arrivals[:max_requests]), None, max_requests, max_seconds, stop)


async def _dispatch(
    ctx: LevelContext, offsets: Iterator[float], slots: asyncio.Semaphore | None, max_requests: int, max_seconds: float, stop: asyncio.Event
) -> float:
    """Starts unit k at ``offsets[k]`` seconds after the level's start, whatever is in flight (at most
    ``slots`` at once when given); no unit starts at or after ``max_seconds``.  Returns the start time."""
    t0 = perf_counter()
    indices = iter(range(max_requests))  # a session's turns count too
    deadline = t0 + max_seconds

    async def one(k: int, due: float) -> None:
        if slots is None:
            await ctx.run_unit(k, indices, due, deadline)
        else:
            async with slots:
                await ctx.run_unit(k, indices, due, deadline)

    async def dispatcher() -> None:
        tasks: list[asyncio.Task] = []
        try:
            for k, at in enumerate(offsets):
                if at >= max_seconds:
                    break
                due = t0 + at
                delay = due - perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                while perf_counter() < due:  # the loop may wake a timer up to its clock resolution early
                    await asyncio.sleep(0)
                tasks.append(asyncio.ensure_future(one(k, due)))
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    await _until_done_or_stop([asyncio.ensure_future(dispatcher())], stop)
    return t0
