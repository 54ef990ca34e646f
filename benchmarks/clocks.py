"""Clocks of one load-generator process, so the records of several processes (pods, machines) can be
laid on one time line (benchmarks/merge.py).

- ``sample()``: the wall clock against the monotonic clock (``perf_counter``, which stamps every
  request), read back to back a few times; the tightest pair wins, and half its gap is the uncertainty.
  A process takes one at its start and one at its end: their difference is how far the wall clock moved
  against the monotonic one meanwhile (an NTP slew or step).
- ``probe(url)``: the offset of this process's wall clock from a reference clock every process can reach,
  as an interval: ``reference = wall + offset`` with ``lo <= offset <= hi``.  Each GET with local send
  time s and receive time r (wall) says the reference stamped its answer between s and r:
    * a time endpoint answering ``{"time": <unix seconds>}`` (exact): ``t - r <= offset <= t - s``;
    * any HTTP server's ``Date`` header (whole seconds, RFC 9110): the server's clock was in [D, D+1)
      at some moment, and a server that caches its Date line (uvicorn, under vLLM and SGLang, renews it
      about once a second) may send one up to ``DATE_CACHE_S`` old: ``D - r <= offset <= D + 1 +
      DATE_CACHE_S - s``.
  The probes' intervals are intersected.  Spacing them a fraction of a second apart lets a Date second
  boundary fall between two probes, which narrows the interval to the probe spacing plus a round trip
  (the time endpoint needs no spacing).

Only the standard library and aiohttp; every failure becomes ``None`` with a reason, never an exception:
a process without a reference still measures, its alignment is then its wall clock alone.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

PAIRS = 7  # back-to-back reads per sample; the tightest is kept
DATE_CACHE_S = 1.0  # how stale a Date line may be: uvicorn renews its cached one every 10 ticks of 0.1 s (encode/uvicorn@0.35.0 uvicorn/server.py on_tick)
PROBES = 12  # GETs per reference probe
DATE_SPACING_S = 0.11  # between Date probes: 12 of them cover a whole second and some
TIME_SPACING_S = 0.0
PROBE_TIMEOUT_S = 5.0
MAX_PROBE_BODY = 4096


@dataclass(frozen=True)
class Sample:
    wall: float  # time.time() at the sample
    mono: float  # perf_counter() at the same moment (midpoint of the pair around the wall read)
    uncertainty: float  # half the gap between the two monotonic reads around it

    @property
    def offset(self) -> float:
        """wall - mono: add it to a perf_counter stamp to get the wall clock."""
        return self.wall - self.mono

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "offset": self.offset}


def sample(pairs: int = PAIRS) -> Sample:
    best: Sample | None = None
    for _ in range(pairs):
        before = time.perf_counter()
        wall = time.time()
        after = time.perf_counter()
        s = Sample(wall, (before + after) / 2, (after - before) / 2)
        if best is None or s.uncertainty < best.uncertainty:
            best = s
    assert best is not None
    return best


def sample_from(d: Any) -> Sample | None:
    try:
        return Sample(float(d["wall"]), float(d["mono"]), float(d["uncertainty"]))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Offset:
    """reference = wall + offset, with lo <= offset <= hi (seconds)."""

    lo: float
    hi: float
    kind: str  # "time" (a time endpoint) or "date" (HTTP Date header)
    probes: int

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2

    @property
    def uncertainty(self) -> float:
        return (self.hi - self.lo) / 2

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mid": self.mid, "uncertainty": self.uncertainty}


def offset_from(d: Any) -> Offset | None:
    try:
        return Offset(float(d["lo"]), float(d["hi"]), str(d["kind"]), int(d["probes"]))
    except (KeyError, TypeError, ValueError):
        return None


def bounds(sent: float, received: float, date: str | None, body_time: float | None) -> tuple[float, float, str] | None:
    """The interval one probe allows for the offset (see the module docstring), or None."""
    if body_time is not None:
        return body_time - received, body_time - sent, "time"
    if date:
        try:
            d = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return d - received, d + 1.0 + DATE_CACHE_S - sent, "date"
    return None


def intersect(intervals: list[tuple[float, float, str]]) -> tuple[Offset | None, str | None]:
    """The offset every probe allows; None and why when there is none (a clock that stepped meanwhile)."""
    if not intervals:
        return None, "no probe gave a time (no Date header, no time endpoint)"
    kind = "time" if all(k == "time" for _, _, k in intervals) else "date"
    lo = max(i[0] for i in intervals)
    hi = min(i[1] for i in intervals)
    if lo > hi:
        return None, f"the {len(intervals)} probes disagree by {lo - hi:.3f} s (a clock stepped during the probe)"
    return Offset(lo, hi, kind, len(intervals)), None


async def probe(
    url: str, probes: int = PROBES, headers: dict[str, str] | None = None
) -> tuple[Offset | None, str | None]:
    """This process's wall-clock offset from the clock behind ``url`` (a time endpoint or any server with a
    Date header: any status counts, the answer's time is what is read).  (None, reason) when it cannot tell."""
    import aiohttp

    intervals: list[tuple[float, float, str]] = []
    reason = None
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for i in range(probes):
                sent = time.time()
                try:
                    async with session.get(url, headers=headers or {}) as resp:
                        body = await resp.content.read(MAX_PROBE_BODY)
                        received = time.time()
                        date = resp.headers.get("Date")
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                    continue
                b = bounds(sent, received, date, _body_time(body))
                if b is not None:
                    intervals.append(b)
                spacing = TIME_SPACING_S if b is not None and b[2] == "time" else DATE_SPACING_S
                if spacing and i + 1 < probes:
                    await asyncio.sleep(spacing)
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # a URL aiohttp refuses
        return None, f"{type(exc).__name__}: {exc}"
    offset, why = intersect(intervals)
    if offset is None and not intervals and reason:
        why = f"no probe answered ({reason})"
    return offset, why


def _body_time(body: bytes) -> float | None:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    t = doc.get("time") if isinstance(doc, dict) else None
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) and t > 0 else None
