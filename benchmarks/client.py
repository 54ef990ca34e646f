"""One streaming request against an OpenAI-compatible server, timed chunk by chunk.

HTTP library: aiohttp, chosen by measurement (``python -m benchmarks.experiments.measure_http_libs``; see
benchmarks/README.md): on this workload it sustains several times the chunk rate of httpx per
CPU second.

``send(session, target, record, body)`` never raises for server or network misbehaviour: it
fills ``record`` (a ``RequestRecord``) with timings or with the error text.  Only cancellation
propagates (after marking the record ``cancelled``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, cast

import aiohttp
from aiohttp.client_proto import ResponseHandler

try:  # parsing every chunk is the client's main CPU cost; orjson (pinned) parses ~4x faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - stdlib fallback keeps the module usable
    from json import loads as _loads  # type: ignore[assignment]  # orjson's loads with the arguments used here

from .metrics import request_latencies
from .sse import SSEError, SSEParser
from .tenants import limit_headers

ERROR_BODY_BYTES = 500  # enough of an error body to say what went wrong
# What a server may claim, per request.  Output beyond OUTPUT_SLACK x max_tokens is not the answer
# that was asked for (the slack covers servers that count a few extra tokens, e.g. reasoning
# markers); the absolute bounds catch absurd values whatever was asked.
OUTPUT_SLACK = 2
OUTPUT_EXTRA = 8
MAX_COMPLETION_TOKENS = 10**7
MAX_PROMPT_TOKENS = 10**8


@dataclass(slots=True)
class RequestRecord:
    """Per-request measurements; times are ``perf_counter`` seconds until ``rebase``."""

    index: int
    input_tokens_requested: int
    output_tokens_requested: int
    scheduled: float = 0.0  # when the request was due (open loop: its Poisson arrival)
    start: float = 0.0  # when it was sent (after any wait for a slot): its first bytes' write to the socket
    start_stamped: bool = False  # start is that write; False: the fallback, when ``send`` began (before aiohttp's work)
    end: float | None = None
    ok: bool = False
    error: str | None = None
    cancelled: bool = False
    status: int | None = None
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    tpot: float | None = None
    e2e: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    usage_from_server: bool = False
    chunks: int = 0  # chunks that carried generated text
    multi_token_chunks: bool = False
    finish_reason: str | None = None
    turn: int | None = None  # multi-turn sessions: 1-based turn index
    shared_tokens: int = 0  # requested tokens of shared prefix at the start of the prompt
    reachable_tokens: int = 0  # of those, the ones this run sent before (what a prefix cache can hit)
    reply: list[str] | None = None  # set to [] to keep the streamed answer text (sessions)
    rate_limited: bool = False  # HTTP 429 from the gateway: refused for the key's budget, not an error
    tenant: str | None = None  # whose key it carried (--api-keys)
    limits: dict | None = None  # the response's rate-limit headers (tenants.LIMIT_HEADERS)
    model: str | None = None  # the model the response named (its first chunk with a "model" field)

    @property
    def shed(self) -> bool:
        """HTTP 429 from the endpoint itself (a worker's request limit): load it shed, neither served nor an error.
        Derived from `status`, so raw records and merged results keep it."""
        return self.status == 429 and not (self.ok or self.rate_limited or self.cancelled) and self.error is None

    @property
    def queue_time(self) -> float:
        return max(0.0, self.start - self.scheduled)

    def to_dict(self, t0: float) -> dict:
        """JSON form; ``scheduled``/``start``/``end`` relative to ``t0`` (the level start)."""
        return {
            "index": self.index,
            "ok": self.ok,
            "error": self.error,
            "cancelled": self.cancelled,
            "status": self.status,
            "scheduled_s": self.scheduled - t0,
            "start_s": self.start - t0,
            "start_stamp": "socket" if self.start_stamped else "fallback",
            "end_s": None if self.end is None else self.end - t0,
            "queue_time": self.queue_time,
            "ttft": self.ttft,
            "tpot": self.tpot,
            "e2e": self.e2e,
            "itl": self.itl,
            "input_tokens_requested": self.input_tokens_requested,
            "output_tokens_requested": self.output_tokens_requested,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "usage_from_server": self.usage_from_server,
            "chunks": self.chunks,
            "multi_token_chunks": self.multi_token_chunks,
            "finish_reason": self.finish_reason,
            "turn": self.turn,
            "shared_prefix_tokens": self.shared_tokens,
            "reachable_prefix_tokens": self.reachable_tokens,
            "rate_limited": self.rate_limited,
            "tenant": self.tenant,
            "limits": self.limits,
            "model": self.model,
        }


@dataclass(frozen=True)
class Target:
    url: str  # full URL of /v1/chat/completions or /v1/completions
    headers: dict
    timeout: float  # whole-request deadline, seconds


class SendStamp:
    """One request's send stamp, filled while aiohttp writes it: ``sent_at`` when its first bytes went
    to the socket, ``proto`` the connection's protocol that carried them (its read stamps serve the
    response even after aiohttp released the connection, as it does once the whole answer is in)."""

    __slots__ = ("proto", "sent_at")

    def __init__(self) -> None:
        self.sent_at: float | None = None
        self.proto: StampingHandler | None = None


_armed: SendStamp | None = None  # the request whose first body write is about to reach a transport


async def _on_chunk_sent(session, ctx, params) -> None:
    """aiohttp calls this just before each body write; the first write carries the buffered headers too
    (aio-libs/aiohttp@v3.14.5 aiohttp/http_writer.py ``StreamWriter.write``: ``_on_chunk_sent`` then
    ``_send_headers_with_payload``; ``write_headers`` only buffers).  Nothing between the two awaits, so
    the next transport write in this task is this request's: ``_StampingTransport`` completes the stamp."""
    global _armed
    stamp = ctx.trace_request_ctx
    if isinstance(stamp, SendStamp) and stamp.sent_at is None:
        stamp.sent_at = perf_counter()  # within microseconds of the write, should the transport not stamp
        _armed = stamp


class Gate:
    """Holds a request's body until ``open()``: the request is built, connected and its headers buffered
    ahead of its send time, so when it is due only the socket write is left (a burst of 28 requests in
    one millisecond then leaves as fast as writes go, not one whole aiohttp request after another)."""

    __slots__ = ("_event", "opened_at")

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.opened_at: float | None = None

    def open(self) -> None:
        self.opened_at = perf_counter()
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


class GatedBody(aiohttp.BytesPayload):
    """The body, written once its gate opens.  aiohttp writes a body in ``ClientRequest.write_bytes``, a task
    of its own started after ``write_headers`` only buffered the headers; it calls the payload's
    ``write_with_length`` (aio-libs/aiohttp@v3.14.5 aiohttp/client_reqrep.py ``ClientRequest.send`` and
    ``write_bytes``), so waiting here holds back every byte of the request."""

    def __init__(self, value: bytes, gate: Gate) -> None:
        super().__init__(value, content_type="application/json")
        self._gate = gate

    async def write_with_length(self, writer, content_length) -> None:
        await self._gate.wait()
        await super().write_with_length(writer, content_length)

    async def write(self, writer) -> None:
        await self._gate.wait()
        await super().write(writer)


def _disarm(stamp: SendStamp) -> None:
    """A request that failed between its callback and its write leaves no stamp for the next write to take."""
    global _armed
    if _armed is stamp:
        _armed = None


def _take_armed(proto: StampingHandler) -> None:
    global _armed
    stamp, _armed = _armed, None
    if stamp is not None:
        stamp.sent_at, stamp.proto = perf_counter(), proto


class _StampingTransport:
    """Forwards to the real transport; completes the armed request's send stamp on its first write."""

    __slots__ = ("_transport", "_proto")

    def __init__(self, transport: asyncio.Transport, proto: StampingHandler) -> None:
        self._transport, self._proto = transport, proto

    def write(self, data: bytes) -> None:
        if _armed is not None:
            _take_armed(self._proto)
        self._transport.write(data)

    def writelines(self, lines) -> None:
        if _armed is not None:
            _take_armed(self._proto)
        self._transport.writelines(lines)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class StampingHandler(ResponseHandler):
    """aiohttp's connection protocol, stamping at the socket: the armed request's send stamp at its first
    write (not when the coroutine began building it), and ``last_read`` when the latest read was
    delivered (not the later moment the reading coroutine resumes).  Both exclude the client's own
    Python work from the latencies it measures."""

    last_read = 0.0

    def connection_made(self, transport) -> None:
        super().connection_made(
            cast(asyncio.BaseTransport, _StampingTransport(transport, self))
        )  # a transport by delegation

    def data_received(self, data: bytes) -> None:
        self.last_read = perf_counter()
        super().data_received(data)


# "resume" stamps when the coroutine resumes (the behaviour before; for benchmarks/experiments/timing_accuracy.py).
STAMP_AT_READ = os.environ.get("BENCHMARKS_STAMP", "read") != "resume"


def _install_stamping(connector: aiohttp.BaseConnector) -> None:
    """aiohttp builds each connection's protocol with the private ``BaseConnector._factory``, a partial of
    ``ResponseHandler`` (aio-libs/aiohttp@v3.14.3 and the pinned 3.14.5 release, ``aiohttp/connector.py``
    ``BaseConnector.__init__``; called for every TCP connection and the TLS upgrade). A release that renames or
    reshapes it must stop the run here: the request would still work, but stamped in the coroutine again."""
    factory = getattr(connector, "_factory", None)
    if getattr(factory, "func", None) is not ResponseHandler:
        raise RuntimeError(
            f"aiohttp {aiohttp.__version__}: {type(connector).__name__}._factory is {factory!r}, not a partial of "
            "ResponseHandler, so socket timestamps cannot be installed. "
            "Fix: install the pinned aiohttp (requirements.txt), or set BENCHMARKS_STAMP=resume"
        )
    connector._factory = cast(
        "functools.partial[ResponseHandler]", functools.partial(StampingHandler, loop=asyncio.get_running_loop())
    )


def _send_tracing() -> aiohttp.TraceConfig:
    """Each request passes a ``SendStamp`` as ``trace_request_ctx``: the stamp belongs to the request, so a
    connection released before ``session.post`` returns (the whole answer already in) or reused by
    the next request can no longer leave a request on the fallback or hand it another's stamp."""
    tc = aiohttp.TraceConfig()
    tc.on_request_chunk_sent.append(_on_chunk_sent)
    return tc


def make_session(pool_limit: int = 0) -> aiohttp.ClientSession:
    """A session that does not throttle the benchmark: no pool limit (aiohttp's default of 100
    connections would silently cap concurrency), 1 MiB read buffer (no flow-control pauses on
    bursts), no aiohttp timeouts (``send`` enforces its own deadline).  ``pool_limit`` exists
    only for ``benchmarks/experiments/pool_latency.py``, which shows what a limit would cost."""
    connector = aiohttp.TCPConnector(
        limit=pool_limit, limit_per_host=pool_limit, ttl_dns_cache=300, keepalive_timeout=60
    )
    if STAMP_AT_READ:
        _install_stamping(connector)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
        read_bufsize=1 << 20,
        auto_decompress=False,
        skip_auto_headers=("User-Agent",),
        trace_configs=[_send_tracing()] if STAMP_AT_READ else None,
    )


class _StreamError(Exception):
    pass


class _RateLimited(Exception):
    pass


class _Shed(Exception):
    pass


def gateway_limited(headers: Any) -> bool:
    """Whether a 429 is the gateway's own tenant limit, not an answer passed on from the endpoint. Envoy's rate-limit
    filter answers an over-limit request itself, with `x-envoy-ratelimited: true` where that header is enabled (Envoy
    Gateway v1.8.1 turns it off unless a ClientTrafficPolicy sets enableEnvoyHeaders: envoyproxy/gateway@v1.8.1
    internal/xds/translator/ratelimit.go) and the draft-03 `x-ratelimit-*` headers of the exhausted descriptor, so
    `x-ratelimit-remaining: 0` (on by default there). A 429 without either came from behind the gateway: the HyperPod
    worker's nginx sidecar past `requestLimits.maxConcurrentRequests` (CRD worker.requestLimits), sent straight or
    through the gateway, which then carries a nonzero remaining budget."""
    if headers.get("x-envoy-ratelimited"):
        return True
    return any(str(headers.get(name, "")).strip() == "0" for name in ("x-ratelimit-remaining", "x-tokens-remaining"))


def _text_of(choice: dict) -> str | None:
    """The answer text a streamed choice carries; "" if it carries other generated text (reasoning
    or a tool call); None for a role-only prelude or an empty delta (no generated text)."""
    delta = choice.get("delta")
    if delta is not None:  # chat
        content = delta.get("content")
        if content:
            return content
        return "" if delta.get("reasoning_content") or delta.get("reasoning") or delta.get("tool_calls") else None
    return choice.get("text") or None  # completions


def _parse_event(ev: bytes) -> tuple[str | None, str | None, dict | None, object]:
    """(generated text as ``_text_of``, finish_reason, usage, the "model" field) of one SSE data payload."""
    try:
        obj = _loads(ev)
        if obj.get("error") is not None:
            raise _StreamError(f"error event in stream: {json.dumps(obj['error'])[:300]}")
        choices = obj.get("choices")
        c = choices[0] if choices else None
        text = _text_of(c) if c else None
        finish = c.get("finish_reason") if c else None
        if finish is not None and not isinstance(finish, str):
            raise TypeError
        usage = obj.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise _StreamError(f"impossible usage from server: usage={usage!r:.100} (expected an object)")
        return text, finish, usage, obj.get("model")
    except (ValueError, AttributeError, TypeError, KeyError, IndexError, RecursionError):  # orjson caps depth itself
        raise _StreamError(f"malformed SSE data: {ev[:200].decode('utf-8', 'replace')!r}") from None


def output_bound(max_tokens: int) -> int:
    """Most output tokens (or text chunks) a request asking for ``max_tokens`` may get."""
    return min(MAX_COMPLETION_TOKENS, OUTPUT_SLACK * max_tokens + OUTPUT_EXTRA)


def check_usage(usage: dict, max_tokens: int) -> str | None:
    """None if the server's token counts are possible for this request, else why not.
    A missing count is allowed (the caller falls back to an estimate)."""
    for key, limit in (("prompt_tokens", MAX_PROMPT_TOKENS), ("completion_tokens", output_bound(max_tokens))):
        v = usage.get(key)
        if v is None:
            continue
        if type(v) is not int:  # bool is an int subclass; 4.0 is not a token count either
            return f"{key}={v!r:.100} is not an integer"
        if not 0 <= v <= limit:
            why = (
                f"max_tokens={max_tokens} allows at most {limit}"
                if key == "completion_tokens"
                else f"the limit is {limit}"
            )
            return f"{key}={v} is out of range ({why})"
    return None


async def send(
    session: aiohttp.ClientSession, target: Target, record: RequestRecord, body: bytes, gate: Gate | None = None
) -> None:
    """Sends the request (with ``gate``: its body once the gate opens) and records it in ``record``."""
    token_times: list[float] = []
    usage: dict | None = None
    done = False
    last = 0.0
    max_chunks = output_bound(record.output_tokens_requested)
    record.start = start = perf_counter()  # the fallback, when no socket stamp comes
    if not record.scheduled:  # sent when due (closed loop): no queue time by construction
        record.scheduled = start
    stamp = SendStamp()
    try:
        async with asyncio.timeout(target.timeout):
            data = body if gate is None else GatedBody(body, gate)
            async with session.post(target.url, data=data, headers=target.headers, trace_request_ctx=stamp) as resp:
                stamped = stamp.proto
                if gate is not None and gate.opened_at is not None and gate.opened_at > start:
                    record.start = start = gate.opened_at  # the fallback, should no socket stamp follow
                if stamp.sent_at is not None and start <= stamp.sent_at:
                    if record.scheduled == start:  # closed loop: still no queue time
                        record.scheduled = stamp.sent_at
                    record.start = start = stamp.sent_at
                    record.start_stamped = True
                record.status = resp.status
                record.limits = limit_headers(resp.headers)
                if resp.status == 429:
                    await resp.content.read(ERROR_BODY_BYTES)
                    raise _RateLimited if gateway_limited(resp.headers) else _Shed
                if resp.status != 200:
                    text = (await resp.content.read(ERROR_BODY_BYTES)).decode("utf-8", "replace")
                    raise _StreamError(f"HTTP {resp.status}: {text.strip()}")
                ctype = resp.headers.get("Content-Type", "")
                if "text/event-stream" not in ctype:
                    text = (await resp.content.read(ERROR_BODY_BYTES)).decode("utf-8", "replace")
                    raise _StreamError(
                        f"non-streaming response (Content-Type {ctype!r}, expected text/event-stream): {text.strip()[:200]}"
                    )
                parser = SSEParser()
                reader = resp.content
                while not done:
                    data = await reader.readany()
                    now = perf_counter()  # one stamp per socket read, before any parsing
                    if stamped is not None and last < stamped.last_read <= now and stamped.last_read > start:
                        now = stamped.last_read  # the latest read that delivered this data
                    events = parser.feed(data) if data else parser.close()
                    for ev in events:
                        if ev == b"[DONE]":
                            done = True
                            break
                        piece, finish, ev_usage, model = _parse_event(ev)
                        if record.model is None and isinstance(model, str) and model:
                            record.model = model[:200]  # named in the verdict (benchmarks/validity.py)
                        if piece is not None:
                            token_times.append(now)
                            if record.reply is not None:
                                record.reply.append(piece)
                            if len(token_times) > max_chunks:  # bounds memory and the fallback token count
                                raise _StreamError(
                                    f"more text chunks than max_tokens={record.output_tokens_requested} allows ({max_chunks})"
                                )
                        if finish:
                            record.finish_reason = finish
                        if ev_usage:
                            usage = ev_usage
                    last = now
                    if not data:
                        break
        end = last  # arrival of [DONE] (or of the last bytes), not after the connection is released
        if not done and record.finish_reason is None:
            raise _StreamError(f"stream ended before [DONE] after {len(token_times)} text chunks")
        if not token_times:
            raise _StreamError("stream finished without any generated text")
        problem = check_usage(usage, record.output_tokens_requested) if usage else None
        if problem:
            raise _StreamError(f"impossible usage from server: {problem}")
        record.ok = True
    except _RateLimited:
        end, record.rate_limited = perf_counter(), True
    except _Shed:
        end = perf_counter()  # record.shed: status 429, no error
    except (_StreamError, SSEError) as e:
        end, record.error = perf_counter(), str(e)
    except TimeoutError:
        end = perf_counter()
        record.error = (
            f"timeout: no complete response within {target.timeout:g} s ({len(token_times)} text chunks received)"
        )
    except asyncio.CancelledError:
        record.end, record.cancelled, record.error = perf_counter(), True, "cancelled"
        _disarm(stamp)
        raise
    except aiohttp.ClientConnectorError as e:
        end, record.error = perf_counter(), f"connection error: {e}"
    except (aiohttp.ClientError, OSError, ValueError) as e:
        end, record.error = perf_counter(), f"{type(e).__name__}: {e}"
    except Exception as e:  # a load generator must record, not crash, whatever the server does
        end, record.error = perf_counter(), f"unexpected {type(e).__name__}: {e}"
    _disarm(stamp)
    record.end = end
    _finish(record, start, end, token_times, usage)


def _finish(record: RequestRecord, start: float, end: float, token_times: list[float], usage: dict | None) -> None:
    record.chunks = len(token_times)
    if usage and record.ok:  # a failed request's usage is never checked, so never used
        record.usage_from_server = True
        record.input_tokens = usage.get("prompt_tokens")
        record.output_tokens = usage.get("completion_tokens")
    if record.input_tokens is None:  # fallback: what we asked for
        record.input_tokens = record.input_tokens_requested
    if record.output_tokens is None:  # fallback: servers stream one token per chunk by default
        record.output_tokens = len(token_times)
    record.multi_token_chunks = bool(token_times) and record.output_tokens > len(token_times)
    record.ttft, record.itl, record.tpot, record.e2e = request_latencies(start, end, token_times, record.output_tokens)
