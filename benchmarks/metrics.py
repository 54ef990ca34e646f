"""Latency statistics, per-request metrics from chunk timestamps, and SLO goodput.

Percentiles use linear interpolation between closest ranks (numpy's default "linear" method):
for sorted values v[0..n-1], the q-th percentile is at rank (n-1)*q/100.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

SLO_KEYS = ("ttft", "tpot", "e2e")  # seconds; a request meets the SLOs if all given hold


def parse_slo(text: str) -> dict[str, float]:
    """`ttft=0.5,tpot=0.05` (the --slo option); ValueError says what to write instead."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            limit = float(value)
        except ValueError:
            limit = -1.0
        if not sep or key.strip() not in SLO_KEYS or not limit > 0:
            raise ValueError(
                f"invalid value {text!r}: use KEY=SECONDS pairs with keys {', '.join(SLO_KEYS)}, e.g. ttft=0.5,tpot=0.05"
            )
        out[key.strip()] = limit
    return out


def percentile(values: list[float], q: float) -> float:
    """q in [0, 100]; ``values`` must be sorted and non-empty."""
    if not values:
        raise ValueError("percentile of no values")
    rank = (len(values) - 1) * q / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (rank - lo)


@dataclass(frozen=True)
class LatencyStats:
    """Seconds.  All fields are None when there were no samples (count == 0)."""

    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    min: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> LatencyStats:
        v = sorted(values)
        if not v:
            return cls()
        return cls(
            count=len(v),
            mean=math.fsum(v) / len(v),
            p50=percentile(v, 50),
            p90=percentile(v, 90),
            p95=percentile(v, 95),
            p99=percentile(v, 99),
            min=v[0],
            max=v[-1],
        )

    def to_dict(self) -> dict:
        return asdict(self)


def request_latencies(
    start: float, end: float, token_times: list[float], output_tokens: int | None
) -> tuple[float | None, list[float], float | None, float]:
    """(ttft, itl, tpot, e2e) from the request's send time, end time and the arrival times
    of the chunks that carried generated text.

    TPOT = (e2e - ttft) / (output_tokens - 1): time per output token after the first, so it
    stays right when a chunk carries several tokens.  ITL is per chunk.
    """
    e2e = end - start
    if not token_times:
        return None, [], None, e2e
    ttft = token_times[0] - start
    itl = [b - a for a, b in zip(token_times, token_times[1:])]
    tpot = (e2e - ttft) / (output_tokens - 1) if output_tokens and output_tokens > 1 else None
    return ttft, itl, tpot, e2e


def meets_slo(slo: Mapping[str, float], ttft: float | None, tpot: float | None, e2e: float | None) -> bool:
    """True when every given SLO holds.  A missing measurement fails its SLO, except TPOT on a
    one-token answer (undefined, so it cannot be violated)."""
    values = {"ttft": ttft, "tpot": tpot, "e2e": e2e}
    for key, limit in slo.items():
        v = values[key]
        if v is None:
            if key == "tpot":
                continue
            return False
        if v > limit:
            return False
    return True
