"""How the HTTP library was chosen: aiohttp versus httpx on the client's real workload.

    venv/bin/python -m benchmarks.experiments.measure_http_libs [--concurrency 16] [--requests 300]

Starts ``benchmarks.stream_server`` on CPU 0 (loopback), then streams the same requests with
each library on CPU 1, parsing chunks the same way (``SSEParser`` + ``json.loads``), and prints
chunks per CPU-second and per wall second.  Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx

from benchmarks.sse import SSEParser

ROOT = Path(__file__).resolve().parents[2]
BODY = json.dumps(
    {
        "model": "bench",
        "messages": [{"role": "user", "content": "hi " * 32}],
        "max_tokens": 200,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
).encode()
HEADERS = {"Content-Type": "application/json"}


def _count(parser: SSEParser, data: bytes) -> int:
    n = 0
    for ev in parser.feed(data):
        if ev != b"[DONE]" and json.loads(ev).get("choices"):
            n += 1
    return n


async def with_aiohttp(url: str, concurrency: int, requests: int) -> int:
    chunks = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), read_bufsize=1 << 20) as s:

        async def worker(k: int) -> None:
            nonlocal chunks
            for _ in range(k):
                async with s.post(url, data=BODY, headers=HEADERS) as r:
                    p = SSEParser()
                    while data := await r.content.readany():
                        chunks += _count(p, data)

        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    return chunks


async def with_httpx(url: str, concurrency: int, requests: int) -> int:
    chunks = 0
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=None) as s:

        async def worker(k: int) -> None:
            nonlocal chunks
            for _ in range(k):
                async with s.stream("POST", url, content=BODY, headers=HEADERS) as r:
                    p = SSEParser()
                    async for data in r.aiter_raw():
                        chunks += _count(p, data)

        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    return chunks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--requests", type=int, default=320)
    a = ap.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.stream_server", "--port", "0", "--ttft", "0.02", "--cpu", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None  # stdout=PIPE
    try:
        url = f"http://127.0.0.1:{server.stdout.readline().split()[1]}/v1/chat/completions"
        os.sched_setaffinity(0, {1})
        for name, fn in (("aiohttp", with_aiohttp), ("httpx", with_httpx)) * 2:  # twice: the second round is warm
            w0, c0 = time.perf_counter(), time.process_time()
            chunks = asyncio.run(fn(url, a.concurrency, a.requests))
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            print(f"{name:8} {chunks / cpu:9.0f} chunks/CPU-s {chunks / wall:9.0f} chunks/s  ({chunks} chunks)")
    finally:
        server.terminate()
        server.wait(5)


if __name__ == "__main__":
    main()
