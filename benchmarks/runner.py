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
import collections
import contextlib
import gc
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

import aiohttp

from .client import Gate, RequestRecord, Target, send
from .payload import build_body
from .workloads import Request, Workload
from .workloads.base import Unit

# A timed wait on Linux (epoll_wait under the event loop) may end late by 0.1 % of its length (0.5 % for a
# niced process), at most 100 ms: torvalds/linux fs/select.c ``__estimate_accuracy``, used by
# fs/eventpoll.c ``ep_poll``.  One sleep across a trace's 48 s gap arrived 48 ms late.
WAKE_SLACK_SHARE = 0.005
WAKE_SLACK_MAX_S = 0.1
SPIN_S = 0.0015  # the last stretch is yielded away in sleep(0) steps: the loop's timers tick in whole ms (uvloop)
# Requests due within this long of the next one are built before sleeping to it (a burst's prompts are ready
# when it starts); at most BUILD_AHEAD_MAX of them, and BUILD_AHEAD_BYTES of bodies, wait built at once
# (a trace line may ask for 1,000,000 tokens: about 6 MB of body).
BUILD_AHEAD_S = 0.25
BUILD_AHEAD_MAX = 512
BUILD_AHEAD_BYTES = 64 << 20
START_AHEAD_S = BUILD_AHEAD_S  # a built request is started this long before it is due, to wait at its gate
START_LEAD_S = BUILD_AHEAD_S  # a timed level's clock starts this far ahead, nothing due before it


def wake_margin(left: float) -> float:
    """How long before a deadline ``left`` seconds away a sleep should end: the kernel's slack, the spin."""
    return min(WAKE_SLACK_MAX_S, left * WAKE_SLACK_SHARE) + SPIN_S


async def sleep_until(due: float) -> None:
    """Returns at ``due`` (``perf_counter`` seconds), not later by the kernel's slack on a long wait:
    sleeps to the margin before it, again on what is left, then yields until it is reached.  Returns
    without yielding when ``due`` has passed."""
    while True:
        left = due - perf_counter()
        if left <= 0:
            return
        margin = wake_margin(left)
        await asyncio.sleep(left - margin if left > margin else 0)


@contextlib.contextmanager
def no_gc_pauses():
    """No collection inside a level: one ran at the end-of-level gather and delayed the last request by
    29-69 ms.  Collects first, freezes what exists (never traversed again until the level ends) and
    disables the collector; on exit re-enables it and collects what the level left."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        gc.collect()


@dataclass
class Prepared:
    """A unit whose first request is built, with its body, before it is due."""

    unit: Unit
    request: Request | None
    body: bytes | None
    gate: Gate | None = None  # the dispatcher's: the request waits, built and connected, until it opens


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

    def prepare(self, number: int) -> Prepared:
        """Builds unit ``number`` and its first request's body (done ahead of the send time by the dispatcher)."""
        unit = self.workload.unit(number, random.Random(f"{self.unit_seed}:{number}"), self.nonces)
        request = next(unit, None)
        body = (
            None
            if request is None
            else build_body(self.endpoint, self.model, request.messages, request.output_tokens, self.ignore_eos)
        )
        return Prepared(unit, request, body)

    async def run_unit(
        self, number: int, indices: Iterator[int], due: float | None, deadline: float, prepared: Prepared | None = None
    ) -> bool:
        """Sends unit ``number`` of the workload: one request, or a session's turns in order, each
        built on the previous reply.  ``indices`` bounds the level's request count; ``due`` is the
        first request's scheduled time (None: now); no later turn starts after ``deadline``.
        ``prepared``: the unit as ``prepare`` built it.  False once ``indices`` has run out."""
        prepared = prepared or self.prepare(number)
        unit, request, body, gate = prepared.unit, prepared.request, prepared.body, prepared.gate
        first = True
        while request is not None:
            if request.delay:
                await asyncio.sleep(request.delay)
            if not first and perf_counter() >= deadline:
                break
            index = next(indices, None)
            if index is None:
                return False
            record = await self.issue(index, due, request, unit=number, body=body, gate=gate)
            due, first, body, gate = None, False, None, None
            try:
                request = unit.send("".join(record.reply or ()) if record.ok else None)
            except StopIteration:
                break
        return True

    async def issue(
        self,
        index: int,
        due: float | None,
        request: Request,
        unit: int | None = None,
        body: bytes | None = None,
        gate: Gate | None = None,
    ) -> RequestRecord:
        """Sends one request; ``due`` is its scheduled time (None: now); ``body`` its body if built already,
        held back until ``gate`` opens if given.  With tenants' keys, unit ``unit`` (default: the request
        ``index``) picks the key, so a session's turns are one tenant's."""
        if body is None:
            body = build_body(self.endpoint, self.model, request.messages, request.output_tokens, self.ignore_eos)
        record = RequestRecord(index, request.input_tokens, request.output_tokens)
        record.turn, record.shared_tokens, record.reachable_tokens = (
            request.turn,
            request.shared_tokens,
            request.reachable_tokens,
        )
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
        await send(self.session, target, record, body, gate)
        if self.progress is not None:
            self.progress.request_done(record)
        return record


async def _until_done_or_stop(tasks: list[asyncio.Task], stop: asyncio.Event) -> None:
    everything = asyncio.gather(*tasks)
    everything.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no "never retrieved" log
    stopper: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
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


async def run_closed(
    ctx: LevelContext, concurrency: int, max_requests: int, max_seconds: float, stop: asyncio.Event
) -> float:
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
    ctx: LevelContext,
    offsets: Iterator[float],
    slots: asyncio.Semaphore | None,
    max_requests: int,
    max_seconds: float,
    stop: asyncio.Event,
) -> float:
    """Starts unit k at ``offsets[k]`` seconds after the level's start, whatever is in flight (at most
    ``slots`` at once when given); no unit starts at or after ``max_seconds``.  Returns the start time,
    ``START_LEAD_S`` from now: a trace's first burst is due at 0 and is built and started ahead like any other."""
    t0 = perf_counter() + START_LEAD_S
    indices = iter(range(max_requests))  # a session's turns count too
    deadline = t0 + max_seconds

    async def one(k: int, due: float, prepared: Prepared) -> None:
        if slots is None:
            await ctx.run_unit(k, indices, due, deadline, prepared)
        else:
            async with slots:
                await ctx.run_unit(k, indices, due, deadline, prepared)

    async def dispatcher() -> None:
        tasks: list[asyncio.Task] = []
        ready: collections.deque[tuple[int, float, Prepared]] = collections.deque()  # built, not yet sent
        ready_bytes = 0
        upcoming = itertools.takewhile(lambda item: item[1] < max_seconds, enumerate(offsets))
        following = next(upcoming, None)

        def start_due() -> None:
            """Starts the built requests due within START_AHEAD_S: each connects, buffers its headers and
            holds its body at its gate (no earlier: a request waiting out a long idle gap would time out)."""
            horizon = perf_counter() + START_AHEAD_S
            for k, at, prepared in ready:
                if t0 + at > horizon:
                    break
                if prepared.gate is None:
                    prepared.gate = Gate()
                    tasks.append(asyncio.ensure_future(one(k, t0 + at, prepared)))

        try:
            while ready or following is not None:
                # Build what is due soon while there is time before the next send (always the next one): a
                # burst starts with every request of it built and waiting at its gate, and no build starts
                # once the next send is due.
                while following is not None and (
                    not ready
                    or (
                        len(ready) < BUILD_AHEAD_MAX
                        and ready_bytes < BUILD_AHEAD_BYTES
                        and following[1] - ready[0][1] <= BUILD_AHEAD_S
                        and perf_counter() < t0 + ready[0][1] - SPIN_S
                    )
                ):
                    k, at = following
                    prepared = ctx.prepare(k)
                    ready.append((k, at, prepared))
                    ready_bytes += len(prepared.body or b"")
                    following = next(upcoming, None)
                due = t0 + ready[0][1]
                if due - perf_counter() > START_AHEAD_S:
                    await sleep_until(due - START_AHEAD_S)
                    continue  # build what has come within reach, then start
                start_due()
                await sleep_until(due)
                start_due()
                now = perf_counter()
                while ready and t0 + ready[0][1] <= now:  # the burst's writes go out back to back, in order
                    k, at, prepared = ready.popleft()
                    ready_bytes -= len(prepared.body or b"")
                    assert prepared.gate is not None  # start_due, just before, gave every due request its gate
                    prepared.gate.open()
                await asyncio.sleep(0)
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    await _until_done_or_stop([asyncio.ensure_future(dispatcher())], stop)
    return t0
