"""The load generator's own ceiling: how many requests and text chunks per second one process can drive, per
CPU core it burns, against a server faster than it (the loopback stream server). Above these numbers a tuning
level measures the client, not the endpoint: that is when `benchmark.clients` > 1 is needed (docs/tuning.md,
"When one client is enough").

    venv/bin/python -m benchmarks.experiments.client_ceiling [--requests 600] [--concurrency 64] [--json FILE]

The stream server runs on CPU 0 with no TTFT and no inter-token delay, the load generator (the real one,
``run_benchmark``, socket timestamps, SSE parsing, usage checks) on CPU 1, closed loop. Two shapes: short
answers (16 tokens: the request-rate ceiling) and long ones (256 tokens: the chunk-rate ceiling). Per core =
per CPU second of the load generator's process (``time.process_time``), so a busy machine lowers the wall-clock
figures more than the per-core ones. The machine, its load average before and after, and the Python are
printed beside the numbers. Not run in CI.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

from .. import eventloop, stream_server
from ..loadgen import BenchmarkConfig, run_benchmark
from ..outputs import Kind, json_bytes, json_object_with, write_file

CEILING_FILE = Kind("client ceiling JSON", "ceiling.json", json_object_with("machine", "rows"))
SHAPES = (("short answers", "D(64,16)", 16), ("long answers", "D(64,256)", 256))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "event_loop": eventloop.name(),
        "load_average": os.getloadavg(),
    }


def measure(url: str, scenario: str, tokens: int, concurrency: int, requests: int) -> dict[str, Any]:
    config = BenchmarkConfig(
        url=url,
        model="org/bench",
        scenario=scenario,
        concurrency=(concurrency,),
        max_requests=requests,
        max_seconds=600,
        timeout=60,
        warmup=min(concurrency, 32),
        engine_metrics=False,
    )
    w0, c0 = time.perf_counter(), time.process_time()
    result = eventloop.run(run_benchmark(config))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    (level,) = result.levels
    chunks = sum(r.chunks for r in level.records if r.ok)
    # The level's own CPU (client_cpu_s) excludes start-up and warm-up; its duration is the level's wall time.
    return {
        "requests": level.completed,
        "failed": level.failed,
        "chunks": chunks,
        "tokens_per_request": tokens,
        "wall_s": level.duration_s,
        "cpu_s": level.client_cpu_s,
        "process_wall_s": wall,
        "process_cpu_s": cpu,
        "requests_per_s": level.completed / level.duration_s if level.duration_s else None,
        "requests_per_core_s": level.completed / level.client_cpu_s if level.client_cpu_s else None,
        "chunks_per_s": chunks / level.duration_s if level.duration_s else None,
        "chunks_per_core_s": chunks / level.client_cpu_s if level.client_cpu_s else None,
        "cpu_share": level.client_cpu_s / level.duration_s if level.duration_s else None,
        "ttft_p50_ms": (level.ttft.p50 or 0) * 1000,
        "itl_p50_ms": (level.itl.p50 or 0) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.experiments.client_ceiling", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--requests", type=int, default=600, help="per shape (default 600)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--ttft", type=float, default=0.0, help="the server's delay before the first token (default 0)")
    ap.add_argument(
        "--itl",
        type=float,
        default=0.0,
        help="the server's delay between tokens (default 0: chunks may share a socket read)",
    )
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    before = machine()
    proc, url = stream_server.start(a.ttft, a.itl, cpu=0 if cores > 1 else None, metrics="none")
    rows = []
    try:
        if cores > 1:
            os.sched_setaffinity(0, {1})
        for name, scenario, tokens in SHAPES:
            rows.append(
                {"shape": name, "scenario": scenario, **measure(url, scenario, tokens, a.concurrency, a.requests)}
            )
    finally:
        proc.kill()
        proc.wait()
    after = os.getloadavg()
    print(
        f"machine: {before['cpu']}, {before['cores']} cores, Python {before['python']}; load average "
        f"{before['load_average'][0]:.2f} before, {after[0]:.2f} after (a shared machine: other work ran beside this)"
    )
    print(
        f"server on CPU 0 (TTFT {a.ttft * 1000:g} ms, ITL {a.itl * 1000:g} ms), load generator on CPU 1, closed loop at concurrency "
        f"{a.concurrency}, {a.requests} requests per shape"
    )
    print(
        f"{'shape':14} {'req/s':>8} {'req/core-s':>11} {'chunks/s':>10} {'chunks/core-s':>14} {'client CPU':>10} {'TTFT p50':>9}"
    )
    for r in rows:
        print(
            f"{r['shape']:14} {r['requests_per_s']:8.0f} {r['requests_per_core_s']:11.0f} {r['chunks_per_s']:10.0f} "
            f"{r['chunks_per_core_s']:14.0f} {r['cpu_share']:10.0%} {r['ttft_p50_ms']:7.1f}ms"
        )
    if a.json:
        doc = {
            "machine": {**before, "load_average_after": after},
            "concurrency": a.concurrency,
            "server": {"ttft": a.ttft, "itl": a.itl},
            "rows": rows,
        }
        write_file(a.json, json_bytes(doc), CEILING_FILE, f"--json {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
