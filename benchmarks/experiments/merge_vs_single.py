"""Does the exact merge of N clients' raw records give the latencies one client would? Side by side, in one run:
(a) one load-generator process at a total request rate R, and (b) N processes at R / N each, their raw records
merged by ``benchmarks/merge.py``, both against the loopback stream server with a fixed delay per token.

    venv/bin/python -m benchmarks.experiments.merge_vs_single [--rate 40] [--clients 4] [--requests 160] [--repeats 3]
        [--ttft 0.02] [--itl 0.005] [--json FILE]

Each repeat runs (a) then (b), so both see the same load on the machine; seeds differ per repeat and per
process (Poisson arrivals). Both sides are computed by the same code: each process writes ``--raw`` records and
``merge.merge`` reads them (one file for (a), N for (b)). Per metric (TTFT, ITL, e2e at p50, p90, p99) it prints
the single client's median over repeats with its spread (min to max), the merged median with its spread, their
ratio, and whether the merged median lies within the single client's spread. The machine's load average before
and after is printed beside the numbers: on a shared machine the spread is the machine's as much as the
client's. Bounded: every process has a deadline, and the defaults take well under two minutes. Not run in CI
(a tiny run is, for its structure: tests/loadgen/test_merge_vs_single.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import merge, raw, stream_server
from ..outputs import Kind, json_bytes, json_object_with, write_file

RESULT_FILE = Kind("merge-vs-single JSON", "merge-vs-single.json", json_object_with("machine", "rows"))
ROOT = Path(__file__).resolve().parents[2]
METRICS = ("ttft", "itl", "e2e")
PERCENTILES = ("p50", "p90", "p99")
SCENARIO = "D(32,16)"  # 16 tokens an answer: 15 inter-token gaps a request
PROCESS_DEADLINE_S = 60  # one load-generator process, start-up included


def _clients(url: str, rate: float, requests: int, seeds: list[int], folder: Path, tag: str) -> merge.Merged:
    """len(seeds) processes at `rate` / n each, `requests` in all, started together; their merged records."""
    n = len(seeds)
    shares = [requests // n + (1 if k < requests % n else 0) for k in range(n)]
    paths = [folder / f"{tag}-{k}.jsonl" for k in range(n)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks",
                "run",
                "--url",
                url,
                "--model",
                "org/bench",
                "--request-rate",
                f"{rate / n:g}",
                "--max-requests",
                str(share),
                "--max-seconds",
                str(PROCESS_DEADLINE_S - 15),
                "--scenario",
                SCENARIO,
                "--warmup",
                "0",
                "--seed",
                str(seed),
                "--no-engine-metrics",
                "--quiet",
                "--raw",
                str(path),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed, share, path in zip(seeds, shares, paths)
    ]
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=PROCESS_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            err = f"no result within {PROCESS_DEADLINE_S} s"
        if proc.returncode != 0:
            errors.append((err or "").strip().splitlines()[-1:] or [f"exit {proc.returncode}"])
    if errors:
        raise RuntimeError(f"{tag}: {len(errors)} of {n} load-generator processes failed: {errors[0][0]}")
    return merge.merge([raw.read(str(p)) for p in paths])


def _level(merged: merge.Merged) -> dict[str, Any]:
    (level,) = merged.result.levels
    row: dict[str, Any] = {"completed": level.completed, "failed": level.failed}
    for metric in METRICS:
        stats = getattr(level, metric)
        for p in PERCENTILES:
            row[f"{metric}_{p}"] = getattr(stats, p)
    return row


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run(
    rate: float = 40.0, clients: int = 4, requests: int = 160, repeats: int = 3, ttft: float = 0.02, itl: float = 0.005
) -> dict[str, Any]:
    """Both sides, `repeats` times; the figures as a dict (seconds)."""
    before = os.getloadavg()
    t0 = time.monotonic()
    proc, url = stream_server.start(ttft, itl, metrics="none")
    single: list[dict[str, Any]] = []
    merged: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="merge-vs-single-") as scratch:
            for r in range(repeats):
                single.append(_level(_clients(url, rate, requests, [1000 * r], Path(scratch), f"single-{r}")))
                merged.append(
                    _level(
                        _clients(
                            url,
                            rate,
                            requests,
                            [1000 * r + 1 + k for k in range(clients)],
                            Path(scratch),
                            f"merged-{r}",
                        )
                    )
                )
    finally:
        proc.kill()
        proc.wait()
    rows = []
    for metric in METRICS:
        for p in PERCENTILES:
            key = f"{metric}_{p}"
            one, many = _summary([s[key] for s in single]), _summary([m[key] for m in merged])
            rows.append(
                {
                    "metric": key,
                    "single": one,
                    "merged": many,
                    "ratio": many["median"] / one["median"],
                    "within_single_spread": one["min"] <= many["median"] <= one["max"],
                    "spreads_overlap": many["min"] <= one["max"] and one["min"] <= many["max"],
                }
            )
    return {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": before,
            "load_average_after": os.getloadavg(),
        },
        "conditions": {
            "rate": rate,
            "clients": clients,
            "requests": requests,
            "repeats": repeats,
            "server_ttft_s": ttft,
            "server_itl_s": itl,
            "scenario": SCENARIO,
            "wall_s": time.monotonic() - t0,
        },
        "runs": {"single": single, "merged": merged},
        "rows": rows,
    }


def render(result: dict[str, Any]) -> str:
    c, m = result["conditions"], result["machine"]

    def load(v: Any) -> str:
        return " ".join(f"{x:.2f}" for x in v)

    lines = [
        (
            f"one client at {c['rate']:g} req/s vs {c['clients']} clients at {c['rate'] / c['clients']:g} req/s each, merged; "
            f"{c['requests']} requests a run, {c['repeats']} repeats, {c['scenario']}; server TTFT {c['server_ttft_s'] * 1000:g} ms, "
            f"{c['server_itl_s'] * 1000:g} ms a token"
        ),
        (
            f"machine: {m['cores']} cores, Python {m['python']}; load average before {load(m['load_average_before'])}, "
            f"after {load(m['load_average_after'])}; {c['wall_s']:.0f} s"
        ),
        "",
        f"{'metric':<9} {'single: median [min to max] ms':>32} {'merged: median [min to max] ms':>32} {'ratio':>6}  merged median within single's spread; spreads overlap",
    ]

    def ms(s: Any) -> str:
        return f"{s['median'] * 1000:.2f} [{s['min'] * 1000:.2f} to {s['max'] * 1000:.2f}]"

    for row in result["rows"]:
        lines.append(
            f"{row['metric']:<9} {ms(row['single']):>32} {ms(row['merged']):>32} {row['ratio']:>6.3f}  {'yes' if row['within_single_spread'] else 'no':<3}; {'yes' if row['spreads_overlap'] else 'no'}"
        )
    inside = sum(r["within_single_spread"] for r in result["rows"])
    overlap = sum(r["spreads_overlap"] for r in result["rows"])
    lines.append(
        f"\n{inside} of {len(result['rows'])} merged medians lie within the single client's spread over {c['repeats']} repeats; "
        f"the spreads overlap for {overlap}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.merge_vs_single", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--rate", type=float, default=40.0, help="total requests/s (default 40)")
    ap.add_argument("--clients", type=int, default=4, help="processes of the merged side (default 4)")
    ap.add_argument("--requests", type=int, default=160, help="requests a run, in all (default 160)")
    ap.add_argument("--repeats", type=int, default=3, help="(default 3)")
    ap.add_argument(
        "--ttft", type=float, default=0.02, help="the server's delay before the first token, s (default 0.02)"
    )
    ap.add_argument("--itl", type=float, default=0.005, help="the server's delay between tokens, s (default 0.005)")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args(argv)
    if not (0 < a.rate <= 400 and 2 <= a.clients <= 16 and a.clients <= a.requests <= 2000 and 1 <= a.repeats <= 10):
        ap.error("bounded: --rate in (0, 400], --clients 2 to 16, --requests from --clients to 2000, --repeats 1 to 10")
    try:
        result = run(a.rate, a.clients, a.requests, a.repeats, a.ttft, a.itl)
    except (RuntimeError, raw.RawError) as exc:
        sys.stderr.write(f"benchmarks.experiments.merge_vs_single: error: {exc}\n")
        return 1
    print(render(result))
    if a.json:
        write_file(a.json, json_bytes(result), RESULT_FILE, f"--json {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
