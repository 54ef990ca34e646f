"""TTFT error at concurrency 1, before and after, side by side in one run (not run in CI).

    venv/bin/python -m benchmarks.experiments.timing_accuracy [--rounds 5] [--requests 100]

The TTFT error is the client's TTFT minus the server's own for the same request
(``benchmarks.stream_server``: request read -> first text chunk written), split into the send
path (client start stamp -> server read) and the receive path (server write -> client stamp).
The server runs pinned to CPU 0, each client run in its own process pinned to CPU 1; the
variants alternate round by round so drift on this shared machine hits both alike:

- ``before``: the standard asyncio loop, the stamp taken when the coroutine resumes;
- ``after``: uvloop (``benchmarks/eventloop.py``), the stamp taken at the socket read
  (``benchmarks/client.py``).

Prints per-variant medians over rounds (of the mean error, as ``compare_peers`` reports it, and of
the per-request median error, robust to the machine's scheduling hiccups) and the before/after ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks import stream_server
from benchmarks.experiments.compare_peers import ROOT, SERVER_TTFT, summarize

VARIANTS = {
    "before": {"BENCHMARKS_EVENT_LOOP": "asyncio", "BENCHMARKS_STAMP": "resume"},
    "after": {"BENCHMARKS_EVENT_LOOP": "uvloop", "BENCHMARKS_STAMP": "read"},
}


def one(url: str, requests: int, env: dict) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.experiments.compare_peers",
        "--_child",
        "1",
        "--_url",
        url,
        "--_c",
        "1",
        "--requests",
        str(requests),
    ]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    if out.returncode != 0:
        raise SystemExit(f"client failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=100)
    a = ap.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs 2 CPUs: the server on one, the client under test on the other")
    server, url = stream_server.start(SERVER_TTFT, cpu=0)
    rows: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    try:
        for r in range(min(a.rounds, 50)):
            for variant, env in VARIANTS.items():
                stream_server.stats(url)  # reset
                d, srv = one(url, a.requests, env), stream_server.stats(url)
                s = summarize(d, srv, True)
                # concurrency 1: the i-th client and server TTFTs are the same request
                s["err_p50_ms"] = 1000 * statistics.median(c - t for c, t in zip(d["ttft"], srv["ttft"]))
                rows[variant].append(s)
                print(
                    f"round {r + 1} {variant:6} TTFT error mean {s['ttft_err_ms']:.3f} ms, median {s['err_p50_ms']:.3f} ms "
                    f"(send {s['send_ms']:.3f} + receive {s['recv_ms']:.3f} ms), ok={s['requests']}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(5)
    med = {
        v: {k: statistics.median(s[k] for s in rows[v]) for k in ("ttft_err_ms", "err_p50_ms", "send_ms", "recv_ms")}
        for v in VARIANTS
    }
    spread = {v: (min(s["ttft_err_ms"] for s in rows[v]), max(s["ttft_err_ms"] for s in rows[v])) for v in VARIANTS}
    for v in VARIANTS:
        print(
            f"{v:6} TTFT error: mean {med[v]['ttft_err_ms']:.3f} ms (rounds {spread[v][0]:.3f}-{spread[v][1]:.3f}), "
            f"per-request median {med[v]['err_p50_ms']:.3f} ms, "
            f"send {med[v]['send_ms']:.3f} ms, receive {med[v]['recv_ms']:.3f} ms"
        )
    print(
        f"ratio before/after: mean error {med['before']['ttft_err_ms'] / med['after']['ttft_err_ms']:.2f}x, "
        f"median error {med['before']['err_p50_ms'] / med['after']['err_p50_ms']:.2f}x "
        f"(send {med['before']['send_ms'] / med['after']['send_ms']:.2f}x, receive {med['before']['recv_ms'] / med['after']['recv_ms']:.2f}x)"
    )


if __name__ == "__main__":
    main()
