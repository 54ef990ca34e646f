"""HTTP 429 has two senders: the gateway's tenant limit (rate_limited) and the endpoint's own request limit, the
HyperPod worker's nginx sidecar past `requestLimits.maxConcurrentRequests` (CRD worker.requestLimits: "new requests
receive a 429"). The second is shed load: counted apart from errors and apart from the gateway's limit.

How they are told apart (benchmarks/client.py gateway_limited): Envoy's rate-limit filter answers over-limit requests
itself with `x-envoy-ratelimited: true` when enabled and the draft-03 `x-ratelimit-*` headers of the spent descriptor
(envoyproxy/gateway@v1.8.1 internal/xds/translator/ratelimit.go: the first off unless enableEnvoyHeaders, the second
on by default; envoyproxy/envoy source/extensions/filters/http/ratelimit/ratelimit.cc: both set in Filter::complete).
"""

from __future__ import annotations

import pytest

from benchmarks.client import gateway_limited
from benchmarks.loadgen import BenchmarkConfig, run_benchmark_sync


def level(url, model, concurrency, requests):
    cfg = BenchmarkConfig(
        url=url,
        model=model,
        concurrency=(concurrency,),
        max_requests=requests,
        warmup=0,
        timeout=5.0,
        scenario="D(10,4)",
    )
    return run_benchmark_sync(cfg).levels[0]


@pytest.mark.parametrize(
    "headers, gateway",
    [
        ({"x-envoy-ratelimited": "true"}, True),  # Envoy's own answer, header enabled
        (
            {"x-ratelimit-limit": "200", "x-ratelimit-remaining": "0"},
            True,
        ),  # Envoy Gateway's default: draft-03 headers only
        ({"x-tokens-remaining": "0"}, True),  # the MaaS platform's token budget
        (
            {"x-ratelimit-limit": "200", "x-ratelimit-remaining": "37"},
            False,
        ),  # a worker's 429 passed on through the gateway
        ({"server": "nginx", "content-type": "text/html"}, False),  # the worker's sidecar, called directly
    ],
)
def test_a_429_is_the_gateways_only_with_envoys_limit_headers(headers, gateway):
    assert gateway_limited(headers) is gateway


def test_worker_429_is_shed_load_and_the_gateway_429_is_a_tenant_limit(server):
    shed = level(server.url, "sidecar429-2", concurrency=6, requests=12)
    assert shed.shed > 0 and shed.completed > 0
    assert (shed.rate_limited, shed.failed, shed.errors) == (0, 0, {})
    assert shed.completed + shed.shed == 12
    assert all(r.status == 429 and r.error is None for r in shed.records if r.shed)
    assert shed.to_dict(with_records=False)["shed"] == shed.shed

    limited = level(server.url, "http429", concurrency=2, requests=4)
    assert (limited.rate_limited, limited.shed, limited.failed) == (4, 0, 0)
