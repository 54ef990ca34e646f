"""The stand-in engine: an OpenAI-compatible streaming server on 127.0.0.1 that behaves like an engine by
construction, so tuning runs end to end with nothing installed (`local.engine: stand-in` in a grid, `make tour`).

It is not an engine and serves no model: its tokens are the word "tok" and every figure measured against it
describes this script on this machine, never a model on real hardware.

It accepts the vLLM flags the rule library builds (and SGLang's `--max-running-requests`) and ignores the rest:

- `--max-num-seqs N` requests decode at once; the others wait for a slot, so TTFT grows with the queue.
- Each decode step takes STEP_SECONDS × (1 + running / SLOWDOWN_AT): a larger batch gives more tokens per
  second in total and fewer to each request, so throughput and TPOT both rise with N and with load.
- `--max-num-seqs` above CRASH_ABOVE exits at start-up like an engine whose KV cache does not fit.
- `/health` answers 503 for `--startup-delay` seconds, then 200; `/metrics` is a vLLM-shaped Prometheus page
  (requests running and waiting, KV-cache use as running / N, requests finished, preemptions: none).

Fault modes for tests (flags the rule library never builds, passed as local.extraArgs): `--die-after N` exits
after N generation requests (an engine crashing under load), `--fail-every K` answers every K-th request after
the first with HTTP 500 (K=1: all but the first fail), and `--error-body TEXT` is that 500's body.

Imports nothing of this project: the tuning driver runs it as a script (`python stand_in.py ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from aiohttp import web

STEP_SECONDS = 0.004  # one decode step of a batch of one
SLOWDOWN_AT = 32  # a batch this large makes each step twice as long
CRASH_ABOVE = 64
BANNER = "stand-in engine (stacks/local_engine/stand_in.py): not a real engine, its numbers are not measurements of any model"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--max-num-seqs", "--max-running-requests", dest="max_num_seqs", type=int, default=256)
    parser.add_argument("--startup-delay", type=float, default=0.2)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--error-body", default="internal error")
    args, _unknown = parser.parse_known_args(argv)  # every other engine flag is accepted and ignored
    return args


class Engine:
    """Batch slots and the counters /metrics shows."""

    def __init__(self, max_num_seqs: int) -> None:
        self.slots = asyncio.Semaphore(max_num_seqs)
        self.max_num_seqs = max_num_seqs
        self.running = self.waiting = self.finished = 0

    def step_seconds(self) -> float:
        return STEP_SECONDS * (1 + self.running / SLOWDOWN_AT)

    def metrics(self, served: str) -> str:
        lab = f'{{engine="0",model_name="{served}"}}'
        return (
            "\n".join(
                [
                    "# TYPE vllm:num_requests_running gauge",
                    f"vllm:num_requests_running{lab} {float(self.running)}",
                    "# TYPE vllm:num_requests_waiting gauge",
                    f"vllm:num_requests_waiting{lab} {float(self.waiting)}",
                    "# TYPE vllm:kv_cache_usage_perc gauge",
                    f"vllm:kv_cache_usage_perc{lab} {self.running / self.max_num_seqs}",
                    "# TYPE vllm:request_success_total counter",
                    f"vllm:request_success_total{lab} {float(self.finished)}",
                    "# TYPE vllm:num_preemptions_total counter",
                    f"vllm:num_preemptions_total{lab} 0.0",
                ]
            )
            + "\n"
        )


def _prompt_tokens(body: dict) -> int:
    """Whitespace words of the prompt: the load generator's own approximation of a token."""
    return max(1, len(json.dumps(body.get("messages") or body.get("prompt") or "").split()))


def make_app(args: argparse.Namespace) -> web.Application:
    engine = Engine(args.max_num_seqs)
    started = time.monotonic()
    served = [0]

    async def health(_request: web.Request) -> web.Response:
        ready = time.monotonic() - started >= args.startup_delay
        return web.Response(status=200 if ready else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(text=engine.metrics(args.served_model_name), content_type="text/plain")

    async def models(_request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": args.served_model_name, "object": "model", "owned_by": "stand-in"}]}
        )

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("model") != args.served_model_name:
            return web.json_response({"error": f"model {body.get('model')} not found"}, status=404)
        served[0] += 1
        if args.die_after and served[0] > args.die_after:
            print(
                f"stand-in engine: fatal error after {args.die_after} requests (engine core died)",
                file=sys.stderr,
                flush=True,
            )
            os._exit(3)
        if args.fail_every and served[0] > 1 and served[0] % args.fail_every == 0:
            return web.Response(status=500, text=args.error_body)
        max_tokens = int(body.get("max_tokens") or 16)
        prompt = _prompt_tokens(body)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chat = request.path.endswith("/chat/completions")
        delta = (
            {"choices": [{"index": 0, "delta": {"content": "tok "}}]}
            if chat
            else {"choices": [{"index": 0, "text": "tok "}]}
        )
        chunk = f"data: {json.dumps(delta)}\n\n".encode()
        engine.waiting += 1
        try:
            await engine.slots.acquire()
        finally:
            engine.waiting -= 1
        engine.running += 1
        try:
            for _ in range(max_tokens):
                await asyncio.sleep(engine.step_seconds())
                await response.write(chunk)
        finally:
            engine.running -= 1
            engine.slots.release()
        engine.finished += 1
        usage = {
            "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": max_tokens, "total_tokens": prompt + max_tokens},
        }
        await response.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        return response

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/v1/completions", completions)
    return app


def main(argv: list[str]) -> int:
    args = parse(argv)
    print(BANNER, flush=True)
    if args.max_num_seqs > CRASH_ABOVE:
        print(
            f"RuntimeError: CUDA out of memory (stand-in): max_num_seqs {args.max_num_seqs} is above {CRASH_ABOVE}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    web.run_app(make_app(args), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
