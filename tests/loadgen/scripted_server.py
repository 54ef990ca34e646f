"""A loopback OpenAI-compatible streaming server with scripted behaviour and timing, for tests.

Runs aiohttp.web in its own thread and event loop (so its timing does not depend on the client's
loop).  The request's ``model`` picks the script; the URL path picks chat or completions.
``oneshot`` sends its whole answer in one write (with its headers); ``echo-key`` refuses with HTTP 401 quoting the request's key, ``echo-key-header`` answers like ``fast`` with the
key echoed in ``x-ratelimit-limit`` (a hostile server for the secret scrubber).
Every request body is kept in ``server.bodies``, its headers in ``server.headers``, its arrival
(``perf_counter()`` when the handler starts) in ``server.arrivals``; the "reply" script answers
with deterministic text naming the request's number (`` r<k>w<i>`` words), kept in
``server.replies``; ``server.peak`` is the most requests ever in
flight at once; ``server.stamps`` holds ``(event, perf_counter())`` pairs taken just before the
"timed" and "slow" scripts write their empty delta, first text chunk and [DONE].  The client runs in
the same process on the same clock, so tests compare the order of events, never durations.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

from aiohttp import web

# The "timed" script: role prelude at once, keep-alive comment and an empty-content chunk before
# the first token, first token at TTFT, then one token every ITL.
TTFT = 0.15
ITL = 0.03
PRELUDE_NOISE_AT = (0.04, 0.08)  # keep-alive comment, then an empty delta: neither is a token
PROMPT_TOKENS = 123
# Clients that give up (timeouts, Ctrl-C tests) make handlers fail on write: expected, not news.
logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)


def _event(obj) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def _choice(
    chat: bool, text: str | None, finish: str | None = None, role: bool = False, reasoning: bool = False
) -> dict:
    if chat:
        delta = (
            {"role": "assistant", "content": ""}
            if role
            else ({"reasoning_content": text} if reasoning else {"content": text})
        )
        return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return {"object": "text_completion", "choices": [{"index": 0, "text": text or "", "finish_reason": finish}]}


def _usage(prompt: int, completion: int) -> dict:
    return {
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


HOLD_LIMIT_S = 30.0
SLOW_SECONDS = 0.3
ENDLESS_LINE_BYTES = 64 * 1024  # each line well under the client's line limit ...
ENDLESS_MAX_BYTES = 40 * 1024 * 1024  # ... but together well over its event limit
ENDLESS_TOKENS = 5000


class ScriptedServer:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []
        self.replies: dict[int, str] = {}  # request number -> the text the "reply" script streamed
        self.stamps: list[tuple[str, float]] = []
        self.inflight = 0
        self.peak = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ScriptedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def wait_for_requests(self, count: int, limit_s: float = 30.0) -> None:
        """Returns once ``count`` requests have arrived (bounded wait)."""
        for _ in range(int(limit_s / 0.05)):
            if len(self.bodies) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"server saw {len(self.bodies)} requests in {limit_s} s, expected {count}")

    def _stamp(self, event: str) -> None:
        self.stamps.append((event, time.perf_counter()))

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            fut.result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def clear(self) -> None:
        for log in (self.bodies, self.headers, self.arrivals, self.replies):
            log.clear()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        body = await request.json()
        self.arrivals.append(arrived)
        self.headers.append(dict(request.headers))
        self.bodies.append(body)
        number = len(self.bodies) - 1
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            return await self._script(request, body, number)
        finally:
            self.inflight -= 1

    async def _script(self, request: web.Request, body: dict, number: int) -> web.StreamResponse:
        chat = request.path.endswith("/chat/completions")
        name = body.get("model", "")
        n = int(body.get("max_tokens", 4))
        if name == "http500":
            return web.Response(status=500, text="boom: engine overloaded")
        if name == "http429":  # a gateway whose limit is spent: every request refused for the key's budget
            return web.Response(
                status=429, text="rate limited", headers={"x-ratelimit-limit": "1", "x-ratelimit-remaining": "0"}
            )
        if name == "http429-500":  # refused and failing by turns: even requests 429, odd ones 500
            return (
                web.Response(status=429, text="rate limited", headers={"x-ratelimit-remaining": "0"})
                if number % 2 == 0
                else web.Response(status=500, text="boom: engine overloaded")
            )
        if name.startswith(
            "sidecar429-"
        ):  # a worker behind nginx's concurrency limit (requestLimits): over it, 429 and no limit headers
            if self.inflight > int(name.rsplit("-", 1)[1]):
                return web.Response(
                    status=429,
                    text="<html><head><title>429 Too Many Requests</title></head></html>",
                    content_type="text/html",
                )
            await asyncio.sleep(0.2)
            name = "fast"
        if name == "http500-markup":  # server text that is also Rich markup
            return web.Response(status=500, text="[/x] engine [bold]overloaded[/bold] [/]")
        if name == "echo-key":  # a server that quotes the credential it refused
            auth = request.headers.get("Authorization", "")
            return web.Response(
                status=401, text=f"invalid API key {auth!r} (x-api-key {request.headers.get('x-api-key', '')})"
            )
        if name == "nonstream":
            return web.json_response({"object": "chat.completion", "choices": [{"message": {"content": "hi"}}]})
        if name == "stall-headers":
            await asyncio.sleep(30)
        if name == "oneshot":  # the whole answer in the response's one write: complete before the client's post returns
            events = [
                _event(_choice(chat, None, role=True)),
                *(_event(_choice(chat, f" t{i}")) for i in range(n)),
                _event(_choice(chat, "", finish="length")),
                _event(_usage(PROMPT_TOKENS, n)),
                _event(b"[DONE]"),
            ]
            return web.Response(body=b"".join(events), content_type="text/event-stream")
        headers = {"Content-Type": "text/event-stream"}
        if name == "echo-key-header":  # answers, and echoes the key in a rate-limit header the client records
            headers["x-ratelimit-limit"] = request.headers.get("x-api-key") or request.headers.get("Authorization", "")
            name = "fast"
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        send = resp.write
        prompt_words = len(json.dumps(body.get("messages") or body.get("prompt")).split())
        if name == "timed":
            await send(_event(_choice(chat, None, role=True)))
            await asyncio.sleep(PRELUDE_NOISE_AT[0])
            await send(b": keep-alive\n\n")
            await asyncio.sleep(PRELUDE_NOISE_AT[1] - PRELUDE_NOISE_AT[0])
            self._stamp("empty-delta")
            await send(_event(_choice(chat, "")))
            await asyncio.sleep(TTFT - PRELUDE_NOISE_AT[1])
            for i in range(n):
                if i:
                    await asyncio.sleep(ITL)
                else:
                    self._stamp("first-text")
                await send(_event(_choice(chat, f" t{i}")))
            await send(_event(_choice(chat, "", finish="length")))
            await send(_event(_usage(PROMPT_TOKENS, n)))
            self._stamp("done")
            await send(_event(b"[DONE]"))
        elif name == "reply":  # deterministic text; usage counts the words of every message
            words = [f" r{number}w{i}" for i in range(n)]
            self.replies[number] = "".join(words)
            messages = body.get("messages") or [{"content": body.get("prompt", "")}]
            prompt = sum(len(m["content"].split()) for m in messages)
            await send(_event(_choice(chat, None, role=True)))
            for w in words:
                await send(_event(_choice(chat, w)))
            await send(_event(_choice(chat, "", finish="length")))
            await send(_event(_usage(prompt, n)))
            await send(_event(b"[DONE]"))
        elif name in ("fast", "no-usage", "multi", "reasoning", "echo"):
            # fast: immediate tokens; usage reports the prompt's word count
            per_chunk = 3 if name == "multi" else 1
            await send(_event(_choice(chat, None, role=True)))
            for i in range(n):
                await send(_event(_choice(chat, f" t{i}", reasoning=(name == "reasoning" and i < 2))))
                await asyncio.sleep(0.001)
            await send(_event(_choice(chat, "", finish="length")))
            if name != "no-usage":
                await send(_event(_usage(prompt_words, n * per_chunk)))
            await send(_event(b"[DONE]"))
        elif name == "slow" or name.startswith("hold-"):  # long TTFT, then quick tokens
            if name == "slow":
                await asyncio.sleep(SLOW_SECONDS)
            else:  # "hold-N": held until N requests are in flight at once (or HOLD_LIMIT_S passed)
                want = int(name[5:])
                for _ in range(int(HOLD_LIMIT_S / 0.01)):
                    if self.peak >= want:
                        break
                    await asyncio.sleep(0.01)
            for i in range(n):
                await send(_event(_choice(chat, f" t{i}")))
            await send(_event(_usage(prompt_words, n)))
            if name == "slow":
                self._stamp("done")
            await send(_event(b"[DONE]"))
        elif name.startswith("usage="):  # hostile usage: the text after "=" is sent verbatim
            for i in range(n):
                await send(_event(_choice(chat, f" t{i}")))
            await send(_event(_choice(chat, "", finish="length")))
            await send(_event(b'{"choices": [], "usage": ' + name[6:].encode() + b"}"))
            await send(_event(b"[DONE]"))
        elif name == "endless-data":  # data: lines and never a blank line to end the event
            line = b"data: " + b"x" * (ENDLESS_LINE_BYTES - 7) + b"\n"
            for _ in range(ENDLESS_MAX_BYTES // ENDLESS_LINE_BYTES):  # bounded: stops after 40 MiB
                await send(line)
        elif name == "endless-tokens":  # far more text chunks than max_tokens, no usage
            for i in range(ENDLESS_TOKENS):
                await send(_event(_choice(chat, f" t{i}")))
            await send(_event(b"[DONE]"))
        elif name == "malformed":
            await send(_event(_choice(chat, " ok")))
            await send(b'data: {"choices": [ this is not json\n\n')
            await send(_event(b"[DONE]"))
        elif name == "error-event":
            await send(_event(_choice(chat, " ok")))
            await send(_event({"error": {"message": "KV cache exhausted", "code": 503}}))
        elif name == "stall":  # headers and one token, then nothing
            await send(_event(_choice(chat, " ok")))
            await asyncio.sleep(30)
        elif name == "drop":  # connection dies mid-stream
            await send(_event(_choice(chat, " ok")))
            await asyncio.sleep(0.02)
            request.transport.abort()
            return resp
        elif name == "no-done":  # body ends cleanly but the stream never finished
            await send(_event(_choice(chat, " ok")))
        elif name == "empty":  # finished, but never any text
            await send(_event(_choice(chat, None, role=True)))
            await send(_event(_choice(chat, "", finish="stop")))
            await send(_event(b"[DONE]"))
        await resp.write_eof()
        return resp


def signal_mid_run(server: ScriptedServer, out: Path, sig: int) -> tuple[int, str]:
    """Runs ``python -m benchmarks run`` (model "slow", levels 2,4) in a child process, sends it
    ``sig`` once at least two requests have finished, and returns (exit status, stderr)."""
    server.bodies.clear()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "run",
            "--url",
            server.url,
            "--model",
            "slow",
            "--concurrency",
            "2,4",
            "--max-requests",
            "100000",
            "--max-seconds",
            "60",
            "--warmup",
            "0",
            "--out",
            str(out),
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        server.wait_for_requests(4)  # two finished at least: the run is under way, its handlers set
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stderr
