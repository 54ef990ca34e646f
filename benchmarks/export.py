"""Summary files in other tools' formats, so results can be compared with ones users already have
(field mapping and units: docs/load-generator.md, "Interop").

- ``genai-bench``: one experiment file per level, shaped like genai-bench's
  ``AggregatedMetricsCollector.save`` (``genai_bench/metrics/aggregated_metrics_collector.py``,
  fields from ``genai_bench/metrics/metrics.py``): ``aggregated_metrics`` (run figures plus a
  ``StatField`` - min max mean stddev sum p25 p50 p75 p90 p95 p99 - per request metric),
  ``individual_request_metrics`` and ``_time_unit`` "s".
- ``inference-perf``: one ``stage_<i>_lifecycle_metrics`` summary per level, shaped like
  ``summarize_requests`` in inference-perf's ``inference_perf/reportgen/base.py``:
  ``benchmark_time_seconds``, ``load_summary``, ``successes`` (latency, throughput, prompt_len,
  output_len) and ``failures``.

One level goes to FILE; several go to FILE with ``_<mode>_<level>`` before its suffix
(``out.json`` -> ``out_concurrency_4.json``), as both tools write one file per level/stage.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from .client import RequestRecord
from .metrics import percentile
from .outputs import Kind, Output, json_bytes, json_object_with
from .results import BenchmarkResult, LevelResult
from .secrets import scrub_data

FORMATS = ("genai-bench", "inference-perf")
INFERENCE_PERF_PERCENTILES = (50, 90, 95, 99)  # inference-perf names 50 "median", others "p<n>"


def _stat_field(values: list[float]) -> dict[str, float | None]:
    """genai-bench's StatField: numpy's population stddev and linear percentiles."""
    keys = ("min", "max", "mean", "stddev", "sum", "p25", "p50", "p75", "p90", "p95", "p99")
    if not values:
        return dict.fromkeys(keys)
    out: dict[str, float | None] = {
        "min": min(values),
        "max": max(values),
        "mean": statistics.fmean(values),
        "stddev": statistics.pstdev(values),
        "sum": float(sum(values)),
    }
    for p in (25, 50, 75, 90, 95, 99):
        out[f"p{p}"] = percentile(sorted(values), p)
    return out


def _genai_request(r: RequestRecord) -> dict[str, Any]:
    """One request as genai-bench's RequestLevelMetrics (seconds, tokens, tokens/s)."""
    if not r.ok:
        return {"error_code": r.status or 0, "error_message": r.error}
    ttft, e2e = cast(float, r.ttft), cast(float, r.e2e)  # an ok record has both (the client stamps them before `ok`)
    out_lat = e2e - ttft
    n_out = r.output_tokens
    multi = n_out is not None and n_out > 1
    return {
        "ttft": r.ttft,
        "tpot": r.tpot if multi else None,
        "e2e_latency": r.e2e,
        "output_latency": out_lat,
        "output_inference_speed": 1 / r.tpot if multi and r.tpot else None,
        "num_input_tokens": r.input_tokens,
        "num_output_tokens": n_out,
        "total_tokens": (r.input_tokens or 0) + (n_out or 0),
        "input_throughput": cast(int, r.input_tokens) / ttft if ttft else 0,
        "output_throughput": (cast(int, n_out) - 1) / out_lat if multi and out_lat else None,
        "error_code": None,
        "error_message": None,
    }


def _arrival_span(records: list[RequestRecord]) -> float:
    due = [r.scheduled for r in records]
    return max(due) - min(due) if due else 0.0


def genai_bench(result: BenchmarkResult, lv: LevelResult) -> dict[str, Any]:
    finished = [r for r in lv.records if not r.cancelled]
    requests = [_genai_request(r) for r in finished]
    ok = [m for m in requests if m["error_code"] is None]
    stats = {
        key: _stat_field([m[key] for m in ok if m[key] is not None])
        for key in (
            "ttft",
            "tpot",
            "e2e_latency",
            "output_latency",
            "output_inference_speed",
            "num_input_tokens",
            "num_output_tokens",
            "total_tokens",
            "input_throughput",
            "output_throughput",
        )
    }
    codes: dict[int, int] = {}
    for m in requests:
        if m["error_code"] is not None:
            codes[m["error_code"]] = codes.get(m["error_code"], 0) + 1
    rate_mode = lv.mode in ("request_rate", "trace")
    scenario, level = result.config.get("scenario"), lv.value
    trace = lv.workload.get("trace") if lv.mode == "trace" else None
    if trace:  # open loop at the trace's arrivals: the level is their mean rate, not the speed-up
        scenario = f"trace({trace['file']}, x{trace['speed']:g})"
        sent = len(lv.records)
        level = (sent - 1) / span if sent > 1 and (span := _arrival_span(lv.records)) > 0 else 0.0
    return {
        "aggregated_metrics": {
            "scenario": scenario,
            "num_concurrency": level,  # genai-bench: concurrency, or QPS in open-loop mode
            "batch_size": 1,
            "iteration_type": "num_concurrency",
            "run_duration": lv.duration_s,
            "mean_output_throughput_tokens_per_s": lv.output_throughput,
            "mean_input_throughput_tokens_per_s": lv.input_throughput,
            "mean_total_tokens_throughput_tokens_per_s": lv.output_throughput + lv.input_throughput,
            "mean_total_chars_per_hour": 0.0,  # needs a chars-per-token ratio of a dataset: not measured
            "requests_per_second": lv.request_throughput,
            "error_codes_frequency": codes,
            "error_rate": lv.error_rate,
            "num_error_requests": lv.failed,
            "num_completed_requests": lv.completed,
            "num_requests": lv.completed + lv.failed,
            "total_arrivals": len(lv.records) if rate_mode else None,
            "arrival_requests_per_second": level if rate_mode else None,
            "stats": stats,
        },
        "individual_request_metrics": requests,
        "_time_unit": "s",
    }


def _summarize(values: list[float]) -> dict[str, float] | None:
    """inference-perf's ``summarize``: mean, min, max and the percentiles (50 is "median")."""
    if not values:
        return None
    s = sorted(values)
    out = {"mean": statistics.fmean(s), "min": s[0], "max": s[-1]}
    for p in INFERENCE_PERF_PERCENTILES:
        out["median" if p == 50 else f"p{p}"] = percentile(s, p)
    return out


def inference_perf(result: BenchmarkResult, lv: LevelResult) -> dict[str, Any]:
    finished = [r for r in lv.records if not r.cancelled]
    ok = [r for r in finished if r.ok]
    failed = [r for r in finished if not r.ok]
    t = lv.duration_s
    per_s = (lambda n: n / t) if t > 0 else (lambda n: 0.0)
    in_tok = sum(r.input_tokens or 0 for r in ok)
    out_tok = sum(r.output_tokens or 0 for r in ok)
    load: dict[str, Any] = {"count": len(finished), "schedule_delay": _summarize([r.queue_time for r in finished])}
    if lv.mode == "request_rate":
        starts = [r.start for r in finished]
        send = max(starts) - min(starts) if starts else 0.0
        load.update(
            send_duration=send, requested_rate=lv.value, achieved_rate=len(finished) / send if send > 0 else 0.0
        )
    return {
        "benchmark_time_seconds": t,
        "load_summary": load,
        "successes": {
            "count": len(ok),
            "latency": {
                # ok records: the client stamps ttft and e2e before it sets `ok`
                "request_latency": _summarize([cast(float, r.e2e) for r in ok]),
                "normalized_time_per_output_token": _summarize(
                    [cast(float, r.e2e) / r.output_tokens for r in ok if r.output_tokens]
                ),
                "time_per_output_token": _summarize([r.tpot for r in ok if r.tpot is not None]),
                "time_to_first_token": _summarize([cast(float, r.ttft) for r in ok]),
                "inter_token_latency": _summarize([x for r in ok for x in r.itl]),
            },
            "throughput": {
                "input_tokens_per_sec": per_s(in_tok),
                "output_tokens_per_sec": per_s(out_tok),
                "total_tokens_per_sec": per_s(in_tok + out_tok),
                "requests_per_sec": per_s(len(ok)),
            },
            "prompt_len": _summarize([float(r.input_tokens) for r in ok if r.input_tokens is not None]),
            "output_len": _summarize([float(r.output_tokens) for r in ok if r.output_tokens is not None]),
        },
        "failures": {
            "count": len(failed),
            "request_latency": _summarize([r.end - r.start for r in failed if r.end is not None]),
        },
    }


WRITERS: dict[str, Callable[[BenchmarkResult, LevelResult], dict[str, Any]]] = {
    "genai-bench": genai_bench,
    "inference-perf": inference_perf,
}
# What an earlier export of each format looks like: only such a file is overwritten.
KINDS = {
    "genai-bench": Kind(
        "genai-bench summary", "gb.json", json_object_with("aggregated_metrics", "individual_request_metrics")
    ),
    "inference-perf": Kind(
        "inference-perf summary",
        "ip.json",
        json_object_with("benchmark_time_seconds", "load_summary", "successes", "failures"),
    ),
}


def parse_spec(text: str) -> tuple[str, str]:
    """``FORMAT:FILE`` -> (format, file); ValueError with the fix otherwise."""
    fmt, sep, path = text.partition(":")
    if not sep or fmt not in WRITERS or not path:
        raise ValueError(f"use FORMAT:FILE with FORMAT one of {', '.join(FORMATS)}, e.g. genai-bench:gb.json")
    return fmt, path


def level_paths(path: str, result: BenchmarkResult) -> list[str]:
    if len(result.levels) == 1:
        return [path]
    p = Path(path)
    return [str(p.with_name(f"{p.stem}_{lv.mode}_{lv.value:g}{p.suffix}")) for lv in result.levels]


def export(result: BenchmarkResult, fmt: str, path: str) -> list[str]:
    """Writes one file per level (atomically, each only over an earlier export of FORMAT), scrubbed of
    known secrets (error texts a server echoed a key into); returns their paths."""
    targets = [Output(Path(p), KINDS[fmt], f"--export {fmt}:{p}") for p in level_paths(path, result)]
    try:
        for target in targets:  # all checked and locked before the first is written
            target.open()
        for lv, target in zip(result.levels, targets):
            doc = WRITERS[fmt](result, lv)
            if lv.invalid:  # an extra key: the other tool's readers skip it, ours names the level INVALID
                doc["invalid"] = lv.invalid
            target.write(json_bytes(scrub_data(doc)))
    finally:
        for target in targets:
            target.close()
    return [str(t.path) for t in targets]
