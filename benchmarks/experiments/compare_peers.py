"""Client-side benchmark: this load generator versus genai-bench's client, side by side.

    venv/bin/python -m benchmarks.experiments.compare_peers [--peer-python /tmp/peer-venv/bin/python]

Starts one fast local streaming server (``benchmarks.stream_server``, loopback only) pinned to
CPU 0, then runs each client in its own process pinned to CPU 1 against it, at each concurrency,
with the same requests (D(32,200), ignore_eos).  Per client and level it reports:

- chunks/s: text chunks received per wall second;
- chunks per CPU-second: what the client sustains on one core (the server is not the limit);
- CPU ms per request: client process CPU time divided by requests;
- TTFT error: the client's mean TTFT minus the server's own mean TTFT for the same requests
  (``GET /stats``: request read -> first text chunk written).  It is the client's timestamping
  error plus loopback; at levels where the server is saturated it also includes the time
  requests wait in the server's socket backlog, so the light-load level is the one to read.

and prints our/peer ratios.  genai-bench must be installed in a separate virtualenv
(``python3 -m venv /tmp/peer-venv && /tmp/peer-venv/bin/pip install genai-bench==0.0.5``);
``benchmarks/experiments/peer_genai_bench.py`` drives it.  Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from benchmarks import eventloop, stream_server
from benchmarks.loadgen import BenchmarkConfig, run_benchmark

ROOT = Path(__file__).resolve().parents[2]
SERVER_TTFT = 0.02  # scripted server TTFT, seconds
IN_TOKENS, OUT_TOKENS = 32, 200


def run_ours(url: str, concurrency: int, requests: int, cpu: int | None) -> dict:
    """Child-process side: one level with this package's public API, result as a dict."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    cfg = BenchmarkConfig(
        url=url,
        model="bench",
        scenario=f"D({IN_TOKENS},{OUT_TOKENS})",
        concurrency=(concurrency,),
        max_requests=requests,
        max_seconds=120,
        warmup=0,
        timeout=60,
    )
    lv = eventloop.run(run_benchmark(cfg)).levels[0]
    ok = [r for r in lv.records if r.ok]
    return {
        "client": "ours",
        "requests": len(ok),
        "errors": lv.failed,
        "chunks": sum(r.chunks for r in ok),
        "wall_s": lv.duration_s,
        "cpu_s": lv.client_cpu_s,
        "ttft": [r.ttft for r in ok],
        "stamps": [(r.start, r.start + cast(float, r.ttft)) for r in ok],
    }


def client(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[1]} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarize(d: dict, server: dict, sequential: bool) -> dict:
    """``sequential`` (concurrency 1): the i-th client stamp and the i-th server stamp belong to
    the same request, so the send and receive paths can be split exactly.  All clocks are
    CLOCK_MONOTONIC (perf_counter and time.monotonic on Linux), shared across processes."""
    err = sorted(t - SERVER_TTFT for t in d["ttft"])
    n = len(d["stamps"])
    times = server["times"][:n]
    split = {}
    if sequential:
        split = {
            "send_ms": 1000 * statistics.median(recv - sent for (sent, _), (recv, _) in zip(d["stamps"], times)),
            "recv_ms": 1000 * statistics.median(first - wrote for (_, first), (_, wrote) in zip(d["stamps"], times)),
        }
    return {
        **split,
        "ttft_err_ms": 1000 * (statistics.fmean(d["ttft"]) - statistics.fmean(server["ttft"][:n])),
        "requests": d["requests"],
        "errors": d["errors"],
        "chunks_per_s": d["chunks"] / d["wall_s"],
        "chunks_per_cpu_s": d["chunks"] / d["cpu_s"],
        "cpu_ms_per_request": 1000 * d["cpu_s"] / max(1, d["requests"]),
        "cpu_busy": d["cpu_s"] / d["wall_s"],
        "ttft_p50_ms": 1000 * statistics.median(err) + 1000 * SERVER_TTFT,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer-python", default="/tmp/peer-venv/bin/python")
    ap.add_argument("--concurrency", default="1,16,64,256")
    ap.add_argument("--requests", type=int, default=600, help="per level (at least 4x concurrency is used)")
    ap.add_argument("--_child", help=argparse.SUPPRESS)
    ap.add_argument("--_url", help=argparse.SUPPRESS)
    ap.add_argument("--_c", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._child:
        print(json.dumps(run_ours(a._url, a._c, a.requests, 1)))
        return
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs 2 CPUs: the server on one, the client under test on the other")
    server, url = stream_server.start(SERVER_TTFT, cpu=0)
    rows: list[tuple[Any, ...]] = []  # (concurrency, ours, genai-bench's)
    try:
        for c in (int(x) for x in a.concurrency.split(",")):
            n = max(a.requests, 4 * c) if c > 1 else min(a.requests, 100)
            stream_server.stats(url)  # reset
            ours = client(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.experiments.compare_peers",
                    "--_child",
                    "1",
                    "--_url",
                    url,
                    "--_c",
                    str(c),
                    "--requests",
                    str(n),
                ]
            )
            ours = summarize(ours, stream_server.stats(url), c == 1)
            peer = client(
                [
                    a.peer_python,
                    str(ROOT / "benchmarks" / "experiments" / "peer_genai_bench.py"),
                    "--url",
                    url,
                    "--concurrency",
                    str(c),
                    "--requests",
                    str(n),
                    "--in-tokens",
                    str(IN_TOKENS),
                    "--out-tokens",
                    str(OUT_TOKENS),
                    "--cpu",
                    "1",
                ]
            )
            peer = summarize(peer, stream_server.stats(url), c == 1)
            rows.append((c, ours, peer))
            print(
                f"c={c:<4} {'':8} {'chunks/s':>10} {'chunks/CPU-s':>13} {'CPU ms/req':>11} {'busy':>5} {'TTFT p50 ms':>12} {'TTFT err ms':>12}"
            )
            for name, s in (("ours", ours), ("genai", peer)):
                print(
                    f"{'':6} {name:8} {s['chunks_per_s']:10.0f} {s['chunks_per_cpu_s']:13.0f} {s['cpu_ms_per_request']:11.2f} "
                    f"{s['cpu_busy']:5.2f} {s['ttft_p50_ms']:12.2f} {s['ttft_err_ms']:12.3f}   ok={s['requests']} err={s['errors']}"
                    + (f"  [send {s['send_ms']:.3f} ms + receive {s['recv_ms']:.3f} ms]" if "send_ms" in s else "")
                )
            print(
                f"{'':6} {'ratio':8} {ours['chunks_per_s'] / peer['chunks_per_s']:10.2f} "
                f"{ours['chunks_per_cpu_s'] / peer['chunks_per_cpu_s']:13.2f} "
                f"{peer['cpu_ms_per_request'] / ours['cpu_ms_per_request']:11.2f}  (ours/genai-bench; CPU: genai/ours)",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(5)
    best = {name: max(r[i]["chunks_per_cpu_s"] for r in rows) for i, name in ((1, "ours"), (2, "genai-bench"))}
    print(
        f"sustainable chunks per CPU-second (best level): ours {best['ours']:.0f}, genai-bench {best['genai-bench']:.0f}, "
        f"ratio {best['ours'] / best['genai-bench']:.2f}x"
    )


if __name__ == "__main__":
    main()
