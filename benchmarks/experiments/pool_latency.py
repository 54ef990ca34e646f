"""Does the client's connection pool add latency at high concurrency?  Measured side by side.

    venv/bin/python -m benchmarks.experiments.pool_latency [--hold 1.0] [--concurrency 512] [--itl 0.03]

Starts ``benchmarks.stream_server`` (loopback) that holds every request ``--hold`` seconds before
its first token, then runs one closed-loop level each, in one process and one run:

- baseline: concurrency 1 (a single connection);
- ours: ``--concurrency`` requests at once with this client's unlimited pool;
- pool of 100: the same with aiohttp's default limit of 100 connections, which makes requests
  wait in waves.

It prints TTFT p50/p99 per level and the ratios p99 / hold and p99 / baseline p99, plus the mean
ITL over the server's ITL.  With an unthrottled client p99 / hold stays near 1 (the excess is this
machine's CPU queueing for the concurrent streams); a pool of 100 gives about
ceil(concurrency / 100).  This is the latency claim that the unit test
``tests/loadgen/test_streaming.py::test_high_concurrency_not_throttled_by_pool`` leaves out: the
test asserts only that every request was in flight at once, which no machine load can change.
Not run in CI.
"""

from __future__ import annotations

import argparse
import functools
import math

from benchmarks import loadgen, stream_server
from benchmarks.client import make_session
from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync

AIOHTTP_DEFAULT_POOL = 100


def level(url: str, concurrency: int, pool_limit: int, out_tokens: int, timeout: float):
    loadgen.make_session = functools.partial(make_session, pool_limit=pool_limit)
    try:
        cfg = BenchmarkConfig(
            url=url,
            model="bench",
            scenario=f"D(8,{out_tokens})",
            concurrency=(concurrency,),
            max_requests=concurrency if concurrency > 1 else 20,
            max_seconds=120,
            warmup=2,
            timeout=timeout,
        )
        return run_benchmark_sync(cfg).levels[0]
    finally:
        loadgen.make_session = make_session


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hold", type=float, default=1.0, help="server seconds before the first token (default 1.0)")
    ap.add_argument("--itl", type=float, default=0.03, help="server seconds between tokens (default 0.03)")
    ap.add_argument("--concurrency", type=int, default=512, help="requests at once (default 512)")
    ap.add_argument("--tokens", type=int, default=4, help="output tokens per request (default 4)")
    a = ap.parse_args()
    timeout = a.hold * (math.ceil(a.concurrency / AIOHTTP_DEFAULT_POOL) + 2) + 60
    server, url = stream_server.start(a.hold, a.itl)
    try:
        runs = [
            ("baseline: 1 connection", level(url, 1, 0, a.tokens, timeout)),
            (f"ours: {a.concurrency} at once, unlimited pool", level(url, a.concurrency, 0, a.tokens, timeout)),
            (
                f"{a.concurrency} at once, pool of {AIOHTTP_DEFAULT_POOL}",
                level(url, a.concurrency, AIOHTTP_DEFAULT_POOL, a.tokens, timeout),
            ),
        ]
    finally:
        server.kill()
        server.wait()
    base_p99 = runs[0][1].ttft.p99
    print(f"server: first token after {a.hold * 1000:.0f} ms, then one every {a.itl * 1000:.0f} ms; D(8,{a.tokens})")
    print(
        f"{'level':<44} {'ok/err':>9} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} {'p99/hold':>9} {'p99/base':>9} {'ITL/server':>11}"
    )
    for name, lv in runs:
        if not lv.completed:
            print(f"{name:<44} {lv.completed:>4}/{lv.failed:<4} every request failed: {next(iter(lv.errors), '')}")
            continue
        itl = f"{lv.itl.mean / a.itl:.2f}" if a.itl > 0 and lv.itl.count else "-"
        print(
            f"{name:<44} {lv.completed:>4}/{lv.failed:<4} {lv.ttft.p50 * 1000:>12.1f} {lv.ttft.p99 * 1000:>12.1f} "
            f"{lv.ttft.p99 / a.hold:>9.2f} {lv.ttft.p99 / base_p99:>9.2f} {itl:>11}"
        )


if __name__ == "__main__":
    main()
