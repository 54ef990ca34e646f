"""What a trace level replayed: its label (the trace and its speed), the caps that kept part of it from being sent,
and its summary in the results."""

from __future__ import annotations

import os
from typing import Any

from .workloads import Workload


def trace_label(config: Any) -> str:
    """A trace level's name: the trace file and the replay speed, e.g. ``mooncake_trace.jsonl x2``."""
    return f"{os.path.basename(config.trace or '')} x{config.trace_speed:g}"


def trace_caps(config: Any, workload: Workload, max_requests: int, max_seconds: float) -> str | None:
    """One line when the caps keep part of the trace from being sent, else None."""
    arrivals = workload.arrivals or ()
    lines = len(arrivals)
    within = sum(1 for at in arrivals[:max_requests] if at < max_seconds)
    if within == lines:
        return None
    why = []
    if max_requests < lines:
        why.append(f"max_requests={max_requests:,}")
    if within < min(max_requests, lines):
        why.append(f"max_seconds={max_seconds:g} (the replay spans {arrivals[-1]:,.1f} s)")
    return (
        f"trace {trace_label(config)}: replaying {within:,} of its {lines:,} requests, capped by {' and '.join(why)}; "
        "leave them unset to replay the whole trace"
    )


def trace_info(config: Any, workload: Workload, sent: int) -> dict:
    """What a trace level replayed: file, format, speed, the trace's requests and how many were sent."""
    arrivals = workload.arrivals or ()
    return {
        "file": os.path.basename(config.trace or ""),
        "format": config.trace_format,
        "speed": config.trace_speed,
        "requests": len(arrivals),
        "sent": sent,
        "span_s": arrivals[-1] if arrivals else 0.0,
    }
