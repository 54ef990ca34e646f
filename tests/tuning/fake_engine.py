"""A stand-in OpenAI-compatible engine for end-to-end tuning tests, started as the engine command.

It accepts the vLLM flags the rule library builds and behaves by construction: `--max-num-seqs N`
requests decode at once (others queue), each token takes TOKEN_SECONDS, so at a client concurrency
C the output rate is about min(C, N) / TOKEN_SECONDS. `--max-num-seqs` above CRASH_ABOVE exits at
start-up like an engine that runs out of memory.

Fault modes for tests/faults (flags the rule library never builds, passed as local.extraArgs):
`--die-after N` exits after N generation requests (an engine crashing under load), `--fail-every K`
answers every K-th request after the first with HTTP 500 (K=1: all but the first fail), and
`--error-body TEXT` is that 500's body.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from aiohttp import web

TOKEN_SECONDS = 0.004
CRASH_ABOVE = 64


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--max-num-seqs", type=int, default=256)
    parser.add_argument("--startup-delay", type=float, default=0.2)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--error-body", default="internal error")
    args, _unknown = parser.parse_known_args(argv)  # every other engine flag is accepted and ignored
    return args


def make_app(args: argparse.Namespace) -> web.Application:
    slots = asyncio.Semaphore(args.max_num_seqs)
    started = time.monotonic()
    served = [0]

    async def health(_request: web.Request) -> web.Response:
        ready = time.monotonic() - started >= args.startup_delay
        return web.Response(status=200 if ready else 503)

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("model") != args.served_model_name:
            return web.json_response({"error": f"model {body.get('model')} not found"}, status=404)
        served[0] += 1
        if args.die_after and served[0] > args.die_after:
            print(f"fake engine: fatal error after {args.die_after} requests (engine core died)", file=sys.stderr, flush=True)
            os._exit(3)
        if args.fail_every and served[0] > 1 and served[0] % args.fail_every == 0:
            return web.Response(status=500, text=args.error_body)
        max_tokens = int(body.get("max_tokens") or 16)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chat = request.path.endswith("/chat/completions")
        async with slots:
            for i in range(max_tokens):
                await asyncio.sleep(TOKEN_SECONDS)
                delta = {"choices": [{"index": 0, "delta": {"content": "tok "}}]} if chat else {"choices": [{"index": 0, "text": "tok "}]}
                await response.write(f"data: {json.dumps(delta)}\n\n".encode())
        usage = {"choices": [], "usage": {"prompt_tokens": 16, "completion_tokens": max_tokens, "total_tokens": 16 + max_tokens}}
        await response.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        return response

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/v1/completions", completions)
    return app


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.max_num_seqs > CRASH_ABOVE:
        print(f"RuntimeError: CUDA out of memory (fake): max_num_seqs {args.max_num_seqs}", file=sys.stderr, flush=True)
        return 1
    web.run_app(make_app(args), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
