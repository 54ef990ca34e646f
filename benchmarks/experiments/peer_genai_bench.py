"""Drives genai-bench's own client path for ``compare_peers.py``; runs in the peer virtualenv.

    /tmp/peer-venv/bin/python benchmarks/experiments/peer_genai_bench.py --url URL --concurrency C --requests N ...

Uses genai-bench's ``OpenAIUser`` (requests + gevent under a locust local runner) and its
``DistributedRunner`` in local mode, with its ``AggregatedMetricsCollector`` receiving every
request's metrics, exactly as ``genai-bench benchmark`` does.  Two parts are replaced, both in
genai-bench's favour: the sampler returns a fixed prompt instead of building one with a Hugging
Face tokenizer per request (which would need a tokenizer download and costs CPU), and there is no
live dashboard.  Prints one JSON line: requests, errors, chunks, wall_s, cpu_s, ttft list, and
(sent, first token) monotonic-clock stamps per response.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import locust  # noqa: E402
from genai_bench.distributed.runner import DistributedConfig, DistributedRunner  # noqa: E402
from genai_bench.protocol import UserChatRequest  # noqa: E402
from genai_bench.user.openai_user import OpenAIUser  # noqa: E402
from locust.env import Environment  # noqa: E402


class FixedSampler:
    def __init__(self, model: str, n_in: int, n_out: int) -> None:
        self.model, self.n_in, self.n_out = model, n_in, n_out
        self.prompt = " ".join(["hello"] * n_in)

    def sample(self, scenario):
        return UserChatRequest(
            model=self.model,
            prompt=self.prompt,
            num_prefill_tokens=self.n_in,
            max_tokens=self.n_out,
            additional_request_params={"ignore_eos": True},
        )

    def get_token_length(self, text, add_special_tokens=False):
        return len(text.split())


class StaticAuth:
    def get_headers(self):
        return {"Authorization": "Bearer none"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--in-tokens", type=int, default=32)
    ap.add_argument("--out-tokens", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=60)
    ap.add_argument("--cpu", type=int)
    a = ap.parse_args()
    if a.cpu is not None:
        os.sched_setaffinity(0, {a.cpu})

    stamps: list[tuple[float, float]] = []  # (sent, first token) in time.monotonic, per response
    original = OpenAIUser.parse_chat_response

    def parse_and_stamp(self, response, start_time, *rest):
        out = original(self, response, start_time, *rest)
        if out.time_at_first_token is not None:
            stamps.append((start_time, out.time_at_first_token))
        return out

    OpenAIUser.parse_chat_response = parse_and_stamp
    OpenAIUser.host = a.url
    OpenAIUser.auth_provider = StaticAuth()
    OpenAIUser.api_backend = "vllm"  # genai-bench then sends ignore_eos
    OpenAIUser.wait_time = locust.constant(0)
    env = Environment(user_classes=[OpenAIUser])
    env.sampler = FixedSampler("bench", a.in_tokens, a.out_tokens)
    env.scenario = f"D({a.in_tokens},{a.out_tokens})"
    runner = DistributedRunner(env, DistributedConfig(num_workers=0))
    runner.setup()
    collected = runner.metrics_collector.all_request_metrics

    wall0, cpu0 = time.perf_counter(), time.process_time()
    env.runner.start(a.concurrency, spawn_rate=1e9)
    deadline = wall0 + a.max_seconds
    while len(collected) < a.requests and time.perf_counter() < deadline:
        gevent.sleep(0.005)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    done = list(collected[: a.requests])
    env.runner.quit()
    ok = [m for m in done if m.error_code is None]
    print(
        json.dumps(
            {
                "client": "genai-bench",
                "requests": len(ok),
                "errors": len(done) - len(ok),
                "chunks": sum(m.num_output_tokens or 0 for m in ok),
                "wall_s": wall,
                "cpu_s": cpu,
                "ttft": [m.ttft for m in ok if m.ttft is not None],
                "stamps": stamps[: a.requests],
            }
        )
    )


if __name__ == "__main__":
    main()
