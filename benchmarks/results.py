"""Per-level aggregates and the whole-run result (the JSON schema is in benchmarks/README.md).

Throughputs divide by the level's duration: from the level's start (after warm-up) to the end
of its last request.  Only successful requests contribute tokens and latencies; cancelled
requests (Ctrl-C, ``stop``) count neither as successes nor as errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self, cast

from .client import RequestRecord
from .metrics import LatencyStats, meets_slo
from .tenants import tenant_report

SCHEMA_VERSION = 1
MULTI_TOKEN_WARN_FRACTION = 0.05  # vLLM legitimately merges a few tokens (partial UTF-8 characters)


@dataclass
class LevelResult:
    """Aggregates of one concurrency level or request rate.  Latencies in seconds."""

    mode: str  # "concurrency", "request_rate" or "trace"
    value: float  # the concurrency, the request rate (req/s) or the trace speed-up
    duration_s: float
    completed: int
    failed: int
    cancelled: int
    error_rate: float
    request_throughput: float  # successful requests / s
    output_throughput: float  # output tokens / s (successful requests)
    input_throughput: float  # input tokens / s (successful requests)
    goodput: float  # requests / s that met every SLO
    goodput_fraction: float  # share of finished requests that met every SLO
    ttft: LatencyStats
    tpot: LatencyStats
    itl: LatencyStats
    e2e: LatencyStats
    queue_time: LatencyStats
    ttft_with_queue: LatencyStats
    e2e_with_queue: LatencyStats
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    client_cpu_s: float  # CPU seconds of this process during the level
    errors: dict[str, int] = field(default_factory=dict)  # error text -> count
    warnings: list[str] = field(default_factory=list)
    engine_metrics: dict[str, Any] | None = None  # server /metrics over the level (engine_metrics.py)
    # The workload's shape and what it reports (shared-prefix share, per-turn TTFT, arrival lag)
    workload: dict[str, Any] = field(default_factory=dict)
    rate_limited: int = 0  # HTTP 429 from a gateway: neither completed nor failed
    shed: int = (
        0  # HTTP 429 from the endpoint's own request limit (client.RequestRecord.shed): neither, and not the gateway's
    )
    tenants: dict[str, Any] = field(default_factory=dict)  # --api-keys: tenant -> tenants.TenantStats.to_dict()
    # The guards' verdict (benchmarks/validity.py): [{guard, reason}]; any entry makes the level INVALID
    invalid: list[dict[str, str]] = field(default_factory=list)
    saturated_at: float | None = None  # req/s the server kept up with, when the rate guard refused the level
    client: dict[str, Any] = field(
        default_factory=dict
    )  # the load generator's own send lag and CPU (validity.client_figures)
    # Sent requests whose start is the fallback (when ``send`` began), not their socket write
    send_stamp_fallbacks: int = 0
    records: list[RequestRecord] = field(default_factory=list, repr=False)
    t0: float = field(default=0.0, repr=False)

    @classmethod
    def from_records(
        cls, mode: str, value: float, records: list[RequestRecord], t0: float, slo: Mapping[str, float], cpu_s: float
    ) -> Self:
        ok = [r for r in records if r.ok]
        failed = [r for r in records if not r.ok and not r.cancelled and not r.rate_limited and not r.shed]
        finished = len(ok) + len(failed)
        ends = [r.end for r in records if r.end is not None]
        duration = max(ends) - t0 if ends else 0.0
        per_s = (lambda n: n / duration) if duration > 0 else (lambda n: 0.0)
        good = sum(1 for r in ok if meets_slo(slo, r.ttft, r.tpot, r.e2e))
        out_tokens = sum(r.output_tokens or 0 for r in ok)
        in_tokens = sum(r.input_tokens or 0 for r in ok)
        warnings = []
        multi = sum(1 for r in ok if r.multi_token_chunks)
        if ok and multi / len(ok) > MULTI_TOKEN_WARN_FRACTION:
            warnings.append(
                f"{multi} of {len(ok)} requests got chunks carrying several tokens: "
                "ITL is per chunk (not per token); TPOT is per token"
            )
        no_usage = sum(1 for r in ok if not r.usage_from_server)
        if no_usage:
            warnings.append(
                f"{no_usage} of {len(ok)} responses had no usage: token counts estimated "
                "(output = text chunks, input = requested length)"
            )
        short = sum(1 for r in ok if r.output_tokens is not None and r.output_tokens < r.output_tokens_requested)
        if short:
            warnings.append(
                f"{short} of {len(ok)} requests returned fewer tokens than max_tokens "
                "(server ignores ignore_eos/min_tokens, or the model stopped early)"
            )
        sent = [r for r in records if r.status is not None or r.ok]
        fallbacks = sum(1 for r in sent if not r.start_stamped)
        if fallbacks:
            warnings.append(
                f"{fallbacks} of {len(sent)} sent requests have no socket send stamp: their start is when the client began "
                "the request, so their queue time understates and TTFT includes the client's own work"
            )
        return cls(
            mode=mode,
            value=value,
            duration_s=duration,
            completed=len(ok),
            failed=len(failed),
            cancelled=len(records) - finished,
            error_rate=len(failed) / finished if finished else 0.0,
            request_throughput=per_s(len(ok)),
            output_throughput=per_s(out_tokens),
            input_throughput=per_s(in_tokens),
            goodput=per_s(good),
            goodput_fraction=good / finished if finished else 0.0,
            # An ok record has its ttft and e2e: the client stamps both before it sets `ok`.
            ttft=LatencyStats.of(cast(float, r.ttft) for r in ok),
            tpot=LatencyStats.of(r.tpot for r in ok if r.tpot is not None),
            itl=LatencyStats.of(x for r in ok for x in r.itl),
            e2e=LatencyStats.of(cast(float, r.e2e) for r in ok),
            queue_time=LatencyStats.of(r.queue_time for r in ok),
            ttft_with_queue=LatencyStats.of(cast(float, r.ttft) + r.queue_time for r in ok),
            e2e_with_queue=LatencyStats.of(cast(float, r.e2e) + r.queue_time for r in ok),
            mean_input_tokens=in_tokens / len(ok) if ok else None,
            mean_output_tokens=out_tokens / len(ok) if ok else None,
            client_cpu_s=cpu_s,
            errors=dict(
                Counter(cast(str, r.error) for r in failed).most_common()
            ),  # each except branch of the client sets it
            warnings=warnings,
            records=records,
            t0=t0,
            rate_limited=sum(1 for r in records if r.rate_limited and not r.cancelled),
            shed=sum(1 for r in records if r.shed),
            tenants={t: s.to_dict() for t, s in tenant_report(records).items()},
            send_stamp_fallbacks=fallbacks,
        )

    def to_dict(self, with_records: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name in ("records", "t0"):
                continue
            v = getattr(self, name)
            d[name] = v.to_dict() if isinstance(v, LatencyStats) else v
        if with_records:
            d["requests"] = [r.to_dict(self.t0) for r in self.records]
        return d


@dataclass
class BenchmarkResult:
    config: dict[str, Any]
    levels: list[LevelResult]
    started_at: str
    finished_at: str
    interrupted: bool = False  # stopped by Ctrl-C / the stop event: the last level is partial
    aborted: str | None = None  # why no level ran (e.g. every warm-up request failed)
    warmup: dict[str, Any] = field(default_factory=dict)  # {"requests": n, "failed": k, "errors": {...}}
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # levels not run past saturation: {mode, value, reason}

    @property
    def all_failed(self) -> str | None:
        """One line when requests finished and none succeeded (None if any succeeded or none finished),
        saying which: every one failed (with the most frequent error), every one was rate limited
        (HTTP 429: neither success nor error, so a table of 0 ok / 0 errors alone would hide it), or
        both, with the counts."""
        if any(lv.completed for lv in self.levels):
            return None
        errors: Counter[str] = Counter()
        for lv in self.levels:
            errors.update(lv.errors)
        failed, limited = sum(errors.values()), sum(lv.rate_limited for lv in self.levels)
        shed = sum(lv.shed for lv in self.levels)
        if shed and not failed and not limited:
            return (
                f"every request was shed by the endpoint ({shed} of {shed} got HTTP 429 without the gateway's limit headers: its "
                "workers' requestLimits.maxConcurrentRequests), so nothing was measured; Fix: lower the load or raise the limit"
            )
        n = failed + limited
        text = (
            " ".join(errors.most_common(1)[0][0].split())[:200] if errors else ""
        )  # one line, whatever the server sent
        if limited and not failed:
            return (
                f"every request was rate limited ({n} of {n} got HTTP 429), so nothing was measured; "
                "Fix: raise the key's limit (its gateway tier), lower the load, or wait for the limit's window to pass"
            )
        if failed and not limited:
            return f"every request failed ({n} of {n}): {text} (see the errors above and the server's log)"
        if failed:
            return (
                f"no request succeeded ({n} of {n}: {failed} failed, {limited} rate limited with HTTP 429); "
                f"most frequent error: {text} (see the errors above and the server's log)"
            )
        return None

    def to_dict(self, with_records: bool = True) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.config,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interrupted": self.interrupted,
            "aborted": self.aborted,
            "warmup": self.warmup,
            "warnings": self.warnings,
            "levels": [lv.to_dict(with_records) for lv in self.levels],
            "skipped_levels": self.skipped,
        }
