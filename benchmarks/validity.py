"""Guards that refuse a level whose numbers would lie (docs/tuning.md, "Invalid levels").

Each guard is one function over a finished level (``LevelResult``) that returns why the level is no
measurement, or None. ``judge`` runs them all and marks the level: a level with any reason is INVALID,
is printed and written with its reasons, and is kept out of every ranking (the tuning objective, the
Pareto front, the best configuration, the capacity at the SLO). A guard without the data it needs
(no /metrics, too few requests, a closed loop for the rate guard) says nothing rather than guess.

What peers shipped without these (docs/tuning.md cites them): a benchmark job that reports Completed
while every request got 404 for a wrong model name; a sweep that reused its prompts across rounds and
reported 100 % prefix-cache hits; sweeps that keep raising the rate past saturation.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any, cast

MODEL_NAME, ERROR_RATE, SATURATED, CLIENT_OVERLOAD, PREFIX_REUSE, ENGINE_RESTART = (
    "model-name",
    "error-rate",
    "saturated",
    "client-overload",
    "prefix-reuse",
    "engine-restart",
)
GUARDS = (MODEL_NAME, ERROR_RATE, SATURATED, CLIENT_OVERLOAD, PREFIX_REUSE, ENGINE_RESTART)

# Defaults of the thresholds a user can set (BenchmarkConfig, the CLI, a grid's benchmark block).
DEFAULT_MAX_ERROR_RATE = 0.05  # the tuning grid's maxErrorRate since its first release
# The rate guard compares the realized schedule with the server's first tokens over the same requests
# (below), so Poisson noise cancels and what is left is TTFT drift between the first and last tenth of
# the level: a few percent on a level that keeps up. A server that cannot keep up falls further behind
# with every request, so 10 % separates the two with room on both sides.
DEFAULT_SATURATION_TOLERANCE = 0.1
# The client's event loop also stamps the chunks it reads: a loop 50 ms late adds up to 50 ms to
# TTFT and ITL and sends a scheduled request 50 ms late, which is as much as a short prompt's TTFT.
DEFAULT_MAX_SEND_LAG = 0.05
# One asyncio thread sends and reads everything: busy 90 % of the wall time it has no slack left,
# and every late callback is a late send or a late stamp.
DEFAULT_MAX_CLIENT_CPU = 0.9
# Tokens per request a prefix cache may hit although the workload shares nothing: the chat template's
# fixed opening (a default system header, role markers) comes before the prompt's nonce.
TEMPLATE_TOKENS = 64
MIN_RATE_REQUESTS = 20  # fewer successes than this give no rate to judge (a tenth of them is 2)


def parse_fraction(text: str) -> float:
    """A threshold that is a share (error rate, tolerance, CPU): its command-line value, or the one-line fix."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ValueError(f"invalid value {text!r}: use a fraction from 0 to 1, e.g. 0.1")
    return value


def model_name(level: Any, expected: Iterable[str]) -> str | None:
    """Responses named another model than the one asked for: a gateway route or a default backend
    answered, and the numbers describe that model."""
    names = Counter(r.model for r in level.records if r.ok and r.model)
    allowed = set(expected)
    wrong = Counter({n: c for n, c in names.items() if n not in allowed})
    if not wrong:
        return None
    name, count = wrong.most_common(1)[0]
    want = " or ".join(repr(n) for n in sorted(allowed))
    return (
        f"{count} of {sum(names.values())} responses named model {name!r}, not {want}: another model answered "
        "(check the gateway route and the endpoint's served model name)"
    )


def error_rate(level: Any, limit: float) -> str | None:
    """More failed requests than ``limit`` (a share of the finished ones): the latencies left describe
    the few that got through."""
    if level.error_rate <= limit:
        return None
    top = next(iter(level.errors), "")
    return (
        f"error rate {level.error_rate:.1%} is over the limit of {limit:.1%} ({level.failed} of {level.completed + level.failed} failed"
        + (f"; most frequent: {' '.join(top.split())[:160]}" if top else "")
        + ")"
    )


def rates(level: Any) -> tuple[float, float] | None:
    """(offered, achieved) requests per second of an open-loop or trace level, None for a closed loop or
    fewer than MIN_RATE_REQUESTS successes. Offered: the successes' scheduled sends; achieved: their
    first tokens, i.e. when the server took them up. Both are measured between the mean time of the
    first and of the last tenth, so the schedule's own randomness cancels and one slow request moves
    neither end."""
    if level.mode not in ("request_rate", "trace"):
        return None
    ok = sorted((r for r in level.records if r.ok and r.ttft is not None), key=lambda r: r.scheduled)
    n = len(ok)
    if n < MIN_RATE_REQUESTS:
        return None
    k = n // 10

    def span(times: list[float]) -> float:
        return statistics.fmean(times[-k:]) - statistics.fmean(times[:k])

    offered = span([r.scheduled for r in ok])
    served = span(sorted(r.start + r.ttft for r in ok))
    if offered <= 0 or served <= 0:
        return None
    return (n - k) / offered, (n - k) / served


def saturation(level: Any, tolerance: float, max_concurrency: int | None = None) -> str | None:
    """The server took requests up slower than they were offered by more than ``tolerance``: the queue
    grew through the level, so its latencies are of a rate it never reached. With ``max_concurrency``
    the client's own slots may be what held them."""
    measured = rates(level)
    if measured is None:
        return None
    offered, achieved = measured
    if achieved >= offered * (1 - tolerance):
        return None
    asked = "the trace's arrivals" if level.mode == "trace" else f"{level.value:g} req/s asked"
    held = f" (or the client's max_concurrency of {max_concurrency} held them)" if max_concurrency else ""
    return (
        f"saturated at {achieved:.3g} req/s: {offered:.3g} req/s were offered ({asked}) and the server fell "
        f"{1 - achieved / offered:.0%} behind{held} (limit {tolerance:.0%}); its latencies are of a queue that kept growing"
    )


def client_overload(level: Any, max_send_lag: float, max_cpu: float) -> str | None:
    """The load generator itself was the bottleneck: its event loop woke late (sends left late, chunks
    were stamped late) or its thread had no idle time left. The lag judged is the client's own: the time
    its thread waited for a CPU another process held (an engine on the same cores) is not the client's
    to fix and is recorded beside it (send_lag against own_send_lag)."""
    client = getattr(level, "client", None) or {}
    lag = (client.get("own_send_lag") or client.get("send_lag") or {}).get("p99")
    cpu = client.get("cpu_fraction")
    found = []
    if lag is not None and lag > max_send_lag:
        found.append(f"send lag p99 {lag * 1000:.0f} ms is over {max_send_lag * 1000:g} ms")
    if cpu is not None and cpu > max_cpu:
        found.append(f"its thread was busy {cpu:.0%} of the level (limit {max_cpu:.0%})")
    if not found:
        return None
    return (
        "the load generator could not keep up: "
        + "; ".join(found)
        + ": lower the load per client, or spread it over more load-generator processes"
    )


def prefix_reuse(level: Any, template_tokens: int = TEMPLATE_TOKENS) -> str | None:
    """The engine's prefix cache hit more prompt tokens than the workload shares: prompts were reused
    (or other traffic shared the engine), so TTFT measures the cache, not the prefill. What may hit:
    each request's declared shared prefix plus ``template_tokens``, and all of a later session turn
    (it resends the history). A dataset declares no sharing: not judged."""
    engine = getattr(level, "engine_metrics", None) or {}
    hits, queries = engine.get("prefix_cache_hits"), engine.get("prefix_cache_queries")
    if hits is None or not queries or (level.workload or {}).get("shape") == "dataset":
        return None
    sent = [r for r in level.records if not r.cancelled and not r.rate_limited]
    if not sent:
        return None
    allowed = sum((r.input_tokens or 0) if (r.turn or 1) > 1 else r.shared_tokens + template_tokens for r in sent)
    if hits <= allowed:
        return None
    return (
        f"the engine's prefix cache hit {hits / queries:.0%} of prompt tokens ({hits:.0f}) where the workload shares at most "
        f"{min(1.0, allowed / queries):.0%} ({allowed}: declared shared prefixes, resent session history and {template_tokens} "
        "template tokens a request): prompts were reused or other traffic shared the engine, so TTFT measured the cache"
    )


def engine_restart(level: Any) -> str | None:
    """The engine restarted during the level (benchmarks/engine_metrics.py: its process start time
    changed or a counter went backwards): requests were lost or replayed on a cold cache."""
    return (getattr(level, "engine_metrics", None) or {}).get("restarted")


def judge(level: Any, config: Any) -> list[dict[str, str]]:
    """Runs every guard over ``level`` with ``config``'s thresholds (a BenchmarkConfig, or anything with
    its fields); sets ``level.invalid`` to [{guard, reason}] and ``level.saturated_at``; returns the list."""
    expected = {config.served_model, config.model}
    found = [
        (MODEL_NAME, model_name(level, expected)),
        (ERROR_RATE, error_rate(level, config.max_error_rate)),
        (SATURATED, saturation(level, config.saturation_tolerance, getattr(config, "max_concurrency", None))),
        (CLIENT_OVERLOAD, client_overload(level, config.max_send_lag, config.max_client_cpu)),
        (PREFIX_REUSE, prefix_reuse(level)),
        (ENGINE_RESTART, engine_restart(level)),
    ]
    level.invalid = [{"guard": guard, "reason": reason} for guard, reason in found if reason]
    level.saturated_at = (
        cast(tuple[float, float], rates(level))[1] if any(v["guard"] == SATURATED for v in level.invalid) else None
    )
    return level.invalid


def skip_reason(level: Any) -> str | None:
    """Why the levels above this one are not run: it was saturated, and more load only queues more."""
    if level.saturated_at is None:
        return None
    label = "the trace" if level.mode == "trace" else f"{level.value:g}"
    return f"not run: above {label}, which was saturated at {level.saturated_at:.3g} req/s"


def summary(invalid: list[dict[str, str]], saturated_at: float | None = None) -> str:
    """A short verdict for a table cell: "ok", or INVALID with the guards (and the saturation rate)."""
    if not invalid:
        return "ok"
    guards = dict.fromkeys(v["guard"] for v in invalid)
    return "INVALID: " + ", ".join(
        f"saturated at {saturated_at:.3g} req/s" if g == SATURATED and saturated_at else g for g in guards
    )
