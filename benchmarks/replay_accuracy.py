"""Trace replay accuracy: how late each request leaves against its timestamp (not run in CI).

    venv/bin/python -m benchmarks.replay_accuracy [--requests 1000] [--gap 20] [--rounds 1]

Writes a Mooncake-format trace with the published traces' burstiness to a temporary directory and
replays it against the loopback stream server (``benchmarks.stream_server``: 20 ms TTFT, 2 ms between
tokens).  The trace:

- bursts of 1 to 16 requests in one millisecond (Mooncake's conversation trace packs ~9 into one),
  bursts a mean ``--burst-gap-ms`` (200) apart, ~30 requests/s (the published traces average a few a
  second: the bursts, not the mean rate, are what a replay must keep up with);
- prompts of 2,000-12,000 tokens whose leading 512-token blocks are shared with earlier requests, so
  each request's text is built from block texts as in a Mooncake replay;
- one idle gap of ``--gap`` seconds (the Azure code trace has gaps up to 217 s): the first request
  after it is the one a single long sleep sent late.

Prints the arrival lag (socket send stamp minus scheduled time) p50/p99/max, the lag of the request
after the gap, the worst lag by position in a burst, how many requests fell back from the socket send
stamp, the server's view (its read of each request minus the scheduled time, matched in arrival
order: both clocks are CLOCK_MONOTONIC) and the client's CPU.  Goal: p99 under 2 ms, max under 10 ms.
The machine may be shared with other jobs: the load average before and after is printed with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
from pathlib import Path

from benchmarks import eventloop, stream_server
from benchmarks.loadgen import BenchmarkConfig, run_benchmark
from benchmarks.metrics import percentile


def write_trace(path: Path, requests: int, gap_s: float, burst_gap_ms: float = 200.0, seed: int = 7) -> list[int]:
    """The trace (timestamps in ms) and, per request, its position in its burst (0: first)."""
    rng = random.Random(seed)
    t_ms, next_id, roots, positions, lines = 0, 0, [], [], []
    gap_at = requests // 2
    while len(lines) < requests:
        size = min(rng.choice((1, 1, 1, 2, 3, 5, 9, 9, 12, 16)), requests - len(lines))
        for pos in range(size):
            blocks = rng.randint(4, 23)
            ids = list(rng.choice(roots)[: rng.randint(1, blocks)]) if roots and rng.random() < 0.6 else []
            while len(ids) < blocks:
                ids.append(next_id)
                next_id += 1
            roots = (roots + [ids])[-64:]
            lines.append({"timestamp": t_ms, "input_length": blocks * 512 - rng.randrange(400), "output_length": rng.randint(8, 96),
                          "hash_ids": ids})
            positions.append(pos)
        t_ms += max(2, int(rng.expovariate(1 / burst_gap_ms)))
        if gap_at and len(lines) >= gap_at:
            t_ms += int(gap_s * 1000)
            gap_at = 0
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return positions


def ms(x: float) -> str:
    return f"{1000 * x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--gap", type=float, default=20.0, help="seconds of the idle gap halfway through")
    ap.add_argument("--burst-gap-ms", type=float, default=200.0, help="mean time between bursts")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--pin", action="store_true", help="server on CPU 0, this client on CPU 1")
    a = ap.parse_args()
    load0 = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load0)} on {os.cpu_count()} CPUs "
          f"(a shared machine: other jobs run at the same time), event loop {eventloop.name()}")
    server, url = stream_server.start(0.02, 0.002, cpu=0 if a.pin else None)
    if a.pin:
        os.sched_setaffinity(0, {1})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bursty.jsonl"
            positions = write_trace(path, a.requests, a.gap, a.burst_gap_ms)
            for round_ in range(a.rounds):
                stream_server.stats(url)  # reset
                cfg = BenchmarkConfig(url=url, model="bench", trace=str(path), trace_format="mooncake", warmup=2, timeout=60,
                                      engine_metrics=False)
                result = eventloop.run(run_benchmark(cfg))
                lv = result.levels[0]
                server_reads = sorted(t for t, _ in stream_server.stats(url)["times"])[-len(lv.records):]
                records = sorted(lv.records, key=lambda r: r.index)
                lags = sorted(r.start - r.scheduled for r in records)
                after_gap = next(r for r in records if r.scheduled - lv.t0 > a.gap)
                by_pos: dict[str, list[float]] = {}
                for r in records:
                    p = positions[r.index]
                    key = "1st" if p == 0 else "2nd-8th" if p < 8 else "9th-16th"
                    by_pos.setdefault(key, []).append(r.start - r.scheduled)
                due = sorted(r.scheduled for r in records)
                seen = sorted(s - d for s, d in zip(server_reads, due))
                print(f"round {round_ + 1}: {len(records)} requests ({lv.completed} ok, {lv.failed} failed) over {lv.duration_s:.1f} s; "
                      f"socket send stamps {len(records) - lv.send_stamp_fallbacks}, fallbacks {lv.send_stamp_fallbacks}")
                print(f"  arrival lag ms: p50 {ms(percentile(lags, 50))}, p99 {ms(percentile(lags, 99))}, max {ms(lags[-1])}, "
                      f"mean {ms(statistics.fmean(lags))}")
                print(f"  first request after the {a.gap:g} s gap: {ms(after_gap.start - after_gap.scheduled)} ms late")
                print("  worst lag by position in burst: " + ", ".join(f"{k} {ms(max(v))} ms (n={len(v)})" for k, v in sorted(by_pos.items())))
                if len(seen) == len(lags):
                    print(f"  server's view (its read minus scheduled, arrival order): p50 {ms(percentile(seen, 50))}, "
                          f"p99 {ms(percentile(seen, 99))}, max {ms(seen[-1])} ms")
                print(f"  client CPU {lv.client_cpu_s:.1f} s in {lv.duration_s:.1f} s; prefix shared "
                      f"{100 * lv.workload.get('shared_prefix_fraction', 0):.1f}%, reachable {100 * lv.workload.get('reachable_prefix_fraction', 0):.1f}%")
    finally:
        server.terminate()
        server.wait(5)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
