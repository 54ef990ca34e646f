"""A fast, minimal OpenAI-compatible streaming server for the client benchmarks (loopback only).

Raw asyncio protocol, pre-encoded chunks: every request gets a role prelude, then
``max_tokens`` text chunks (one token each, one socket write each) ``--itl`` seconds apart
after a ``--ttft`` delay, then a finish chunk, a usage chunk and ``[DONE]``.  It is meant to be
faster than any client under test, so the client is the bottleneck.

    python -m benchmarks.stream_server --port 0 --ttft 0.02 --itl 0   # prints "PORT <n>"

``GET /metrics`` is a vLLM- or SGLang-shaped Prometheus page (``--metrics``) whose counters move
with the requests served (``EngineCounters``).  ``GET /stats`` returns (and resets) the server-side TTFT of every request so far: from the
moment the whole request was read to the write of its first text chunk.  Comparing a client's
mean TTFT with it gives the client's timestamping error.

Switches that make it misbehave the way each guard of benchmarks/validity.py refuses (tests/loadgen/
test_validity.py): ``--model-name`` answers as another model (default: the one asked for),
``--fail-every N`` answers every Nth request with HTTP 500, ``--max-running K`` serves K requests at a
time and queues the rest before their first token (a server that saturates), ``--inflate-hits`` counts
every prompt token as a prefix-cache hit, and ``--restart-after N`` restarts its counters and process
start time after N requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from time import perf_counter

HOST = "127.0.0.1"


def _chunk(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    event = f"data: {data}\n\n".encode()
    return b"%x\r\n%s\r\n" % (len(event), event)


def _frames(chat: bool, model: str = "bench") -> dict[str, bytes]:
    base = {
        "id": "cmpl-bench",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": 0,
        "model": model,
    }

    def choice(text: str | None, finish: str | None = None, role: bool = False) -> dict:
        if chat:
            delta = {"role": "assistant", "content": ""} if role else {"content": text}
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return {**base, "choices": [{"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}]}

    return {
        "role": _chunk(choice(None, role=True)) if chat else b"",
        "token": _chunk(choice(" tok")),
        "finish": _chunk(choice("", finish="length")),
        "done": _chunk("[DONE]") + b"0\r\n\r\n",
    }


FRAMES = {True: _frames(True), False: _frames(False)}
_NAMED: dict[tuple[bool, str], dict[str, bytes]] = {}


def frames(chat: bool, model: str) -> dict[str, bytes]:
    """The pre-encoded chunks naming ``model`` (built once per name)."""
    if model == "bench":
        return FRAMES[chat]
    key = (chat, model[:200])
    if key not in _NAMED:
        if len(_NAMED) > 64:  # names come from requests: a bounded cache
            _NAMED.clear()
        _NAMED[key] = _frames(chat, key[1])
    return _NAMED[key]


class Misbehaviour:
    """The switches (module doc); all off by default."""

    model_name: str | None = None  # answer as this model instead of the one asked for
    fail_every: int = 0  # every Nth request gets HTTP 500
    max_running: int = 0  # serve this many at once, queue the rest before the first token
    inflate_hits: bool = False  # every prompt token is a prefix-cache hit
    restart_after: int = 0  # counters and start time restart after this many requests
    received: int = 0  # completion requests read so far (numbers them for fail_every)
    slots: asyncio.Semaphore | None = None


MISBEHAVE = Misbehaviour()
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
)


class EngineCounters:
    """What a vLLM or SGLang server would report on ``GET /metrics``, moved by the requests this
    server streams: prompt tokens are prefix-cache queries, tokens shared with the previous
    prompt (whitespace words) are hits, and every 4th request counts as a preemption."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor  # "vllm", "sglang" or "none" (404)
        self.running = self.queries = self.hits = self.preemptions = self.served = 0
        self.previous: list[str] = []
        self.started = time.time()  # process_start_time_seconds (vLLM's page carries it)
        self.requests = 0  # since this server started, whatever restarts it simulates

    def request(self, prompt: list[str]) -> None:
        self.requests += 1
        if MISBEHAVE.restart_after and self.requests == MISBEHAVE.restart_after + 1:  # a new process: counters from 0
            self.queries = self.hits = self.preemptions = self.served = 0
            self.previous = []
            self.started += 1.0
        shared = 0
        for a, b in zip(prompt, self.previous):
            if a != b:
                break
            shared += 1
        self.previous = prompt
        self.served += 1
        self.queries += len(prompt)
        self.hits += len(prompt) if MISBEHAVE.inflate_hits else shared
        self.preemptions += self.served % 4 == 0

    def page(self) -> bytes | None:
        if self.flavor == "vllm":  # names and labels as vLLM v0.11 (vllm/v1/metrics/loggers.py)
            lab = '{engine="0",model_name="bench"}'
            lines = [
                "# TYPE vllm:num_requests_running gauge",
                f"vllm:num_requests_running{lab} {self.running}.0",
                "# TYPE vllm:num_requests_waiting gauge",
                f"vllm:num_requests_waiting{lab} 0.0",
                "# TYPE vllm:kv_cache_usage_perc gauge",
                f"vllm:kv_cache_usage_perc{lab} {min(1.0, self.running / 100)}",
                "# TYPE vllm:prefix_cache_queries_total counter",
                f"vllm:prefix_cache_queries_total{lab} {self.queries}.0",
                "# TYPE vllm:prefix_cache_hits_total counter",
                f"vllm:prefix_cache_hits_total{lab} {self.hits}.0",
                "# TYPE vllm:num_preemptions_total counter",
                f"vllm:num_preemptions_total{lab} {self.preemptions}.0",
                "# TYPE process_start_time_seconds gauge",
                f"process_start_time_seconds {self.started:.2f}",
            ]
        elif self.flavor == "sglang":  # names and labels as sgl-project/sglang@v0.5.19 metrics_collector.py
            lab = '{engine_type="unified",model_name="bench"}'
            lines = [
                "# TYPE sglang:num_running_reqs gauge",
                f"sglang:num_running_reqs{lab} {self.running}.0",
                "# TYPE sglang:num_queue_reqs gauge",
                f"sglang:num_queue_reqs{lab} 0.0",
                "# TYPE sglang:token_usage gauge",
                f"sglang:token_usage{lab} {min(1.0, self.running / 100)}",
                "# TYPE sglang:cache_hit_rate gauge",
                f"sglang:cache_hit_rate{lab} 0.0",  # as after a decode log
                # labelled counters: no sample before their first increment
                "# TYPE sglang:prompt_tokens_total counter",
                *(
                    [
                        f'sglang:prompt_tokens_total{{engine_type="unified",is_streaming="true",model_name="bench"}} {self.queries}.0'
                    ]
                    if self.queries
                    else []
                ),
                "# TYPE sglang:cached_tokens_total counter",
                *(
                    [
                        f'sglang:cached_tokens_total{{cache_source="device",engine_type="unified",model_name="bench"}} {self.hits}.0'
                    ]
                    if self.hits
                    else []
                ),
            ]
        else:
            return None
        return ("\n".join(lines) + "\n").encode()


COUNTERS = EngineCounters("vllm")
SERVER_TTFTS: list[float] = []
SERVER_TIMES: list[tuple[float, float]] = []  # (request read, first text chunk written), perf_counter


class StreamProtocol(asyncio.Protocol):
    transport: asyncio.Transport  # set by connection_made, which asyncio calls before any data

    def __init__(self, ttft: float, itl: float) -> None:
        self.ttft, self.itl = ttft, itl
        self.buf = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buf) < head_end + 4 + length:
                return
            body = self.buf[head_end + 4 : head_end + 4 + length]
            self.buf = self.buf[head_end + 4 + length :]
            if head.startswith("GET /stats"):
                stats = json.dumps({"ttft": SERVER_TTFTS, "times": SERVER_TIMES}).encode()
                SERVER_TTFTS.clear()
                SERVER_TIMES.clear()
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(stats), stats)
                )
                continue
            if head.startswith("GET /metrics"):
                page = COUNTERS.page()
                if page is None:
                    self.transport.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found")
                else:
                    self.transport.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: %d\r\n\r\n%s"
                        % (len(page), page)
                    )
                continue
            request = json.loads(body or b"{}")
            chat = "/chat/" in head.split(" ", 2)[1]
            MISBEHAVE.received += 1
            if MISBEHAVE.fail_every and MISBEHAVE.received % MISBEHAVE.fail_every == 0:
                self.transport.write(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 21\r\n\r\nengine overloaded 500"
                )
                continue
            asyncio.ensure_future(self.stream(chat, int(request.get("max_tokens", 16)), request, perf_counter()))

    async def stream(self, chat: bool, n: int, request: dict, received: float) -> None:
        words = json.dumps(request.get("messages") or request.get("prompt") or "").split()
        COUNTERS.request(words)
        slots = MISBEHAVE.slots
        if slots is not None:
            await slots.acquire()
        COUNTERS.running += 1
        try:
            model = MISBEHAVE.model_name or str(request.get("model") or "bench")
            await self._stream(chat, n, request, received, len(words), model)
        finally:
            COUNTERS.running -= 1
            if slots is not None:
                slots.release()

    async def _stream(
        self, chat: bool, n: int, request: dict, received: float, prompt: int, model: str = "bench"
    ) -> None:
        t, f = self.transport, frames(chat, model)
        t.write(HEAD + f["role"])
        await asyncio.sleep(self.ttft)
        token, itl = f["token"], self.itl
        for i in range(n):
            if t.is_closing():
                return
            if i:
                await asyncio.sleep(itl)  # 0 still yields, so streams interleave
            else:
                now = perf_counter()
                SERVER_TTFTS.append(now - received)
                SERVER_TIMES.append((received, now))
            t.write(token)
        usage = {
            "id": "cmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n},
        }
        t.write(f["finish"] + _chunk(usage) + f["done"])


async def serve(port: int, ttft: float, itl: float, ready=None) -> None:
    loop = asyncio.get_running_loop()
    if MISBEHAVE.max_running:
        MISBEHAVE.slots = asyncio.Semaphore(MISBEHAVE.max_running)
    server = await loop.create_server(lambda: StreamProtocol(ttft, itl), HOST, port, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def start(
    ttft: float, itl: float = 0.0, cpu: int | None = None, metrics: str = "vllm", misbehave: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """This server in a child process; returns it and its base URL (stop it with ``kill()``).
    ``misbehave``: more arguments, the switches of the module doc (e.g. ``("--fail-every", "2")``)."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.stream_server",
        "--port",
        "0",
        "--ttft",
        str(ttft),
        "--itl",
        str(itl),
        "--metrics",
        metrics,
        *misbehave,
    ]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None  # stdout=PIPE
    line = proc.stdout.readline().split()
    if line[:1] != ["PORT"]:
        proc.kill()
        raise SystemExit("stream server did not start")
    return proc, f"http://127.0.0.1:{line[1]}"


def stats(url: str) -> dict:
    """``GET /stats`` of a running server (and reset them)."""
    with urllib.request.urlopen(url + "/stats", timeout=10) as resp:
        return json.load(resp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ttft", type=float, default=0.0, help="seconds before the first text chunk")
    ap.add_argument("--itl", type=float, default=0.0, help="seconds between text chunks")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    ap.add_argument(
        "--metrics", choices=("vllm", "sglang", "none"), default="vllm", help="shape of GET /metrics (none: 404)"
    )
    ap.add_argument("--model-name", help="answer as this model (default: the one each request asks for)")
    ap.add_argument("--fail-every", type=int, default=0, help="answer every Nth request with HTTP 500")
    ap.add_argument(
        "--max-running",
        type=int,
        default=0,
        help="serve this many requests at once; queue the rest before their first token",
    )
    ap.add_argument("--inflate-hits", action="store_true", help="count every prompt token as a prefix-cache hit")
    ap.add_argument(
        "--restart-after", type=int, default=0, help="restart the counters and the process start time after N requests"
    )
    a = ap.parse_args()
    COUNTERS.flavor = a.metrics
    MISBEHAVE.model_name, MISBEHAVE.fail_every, MISBEHAVE.inflate_hits = a.model_name, a.fail_every, a.inflate_hits
    MISBEHAVE.max_running, MISBEHAVE.restart_after = a.max_running, a.restart_after
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})
    try:
        asyncio.run(serve(a.port, a.ttft, a.itl))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
