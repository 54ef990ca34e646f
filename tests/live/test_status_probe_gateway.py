"""`python -m stacks status --probe` against the tenant gateway, stood in for by the loopback gateway that applies the
rendered objects (tests/gateway/limiter_server.py): per tenant one call to a model in its `models` (200 with the
draft-03 rate-limit headers) and one to a model outside them (403). Variants of the stand-in play what would go
wrong on a cluster: RBAC judging the allow-list before AI Gateway has written the model header, an allow-list
that is not enforced, a rate-limit service that does not answer (Envoy Gateway then lets requests through without
the headers: envoyproxy/gateway@v1.8.1 internal/xds/translator/ratelimit.go sets DRAFT_VERSION_03 headers and
fails open unless failClosed)."""

from __future__ import annotations

import json

import pytest

from components.rules.gateway import config, render
from components.rules.spec import PlatformSpec
from stacks.__main__ import main
from tests import k8s_server as k
from tests.gateway.helpers import endpoints, gateway
from tests.gateway.limiter_server import LimiterServer, RenderedGateway

KEYS = {"team-a": "sk-team-a-0123456789", "team-b": "sk-team-b-0123456789"}
MODEL_A = "Qwen3-4B-Instruct-2507"  # qwen3-4b-vllm: team-a's one model
MODEL_B = "Qwen3-0.6B"  # qwen3-0-6b-vllm-kserve: team-b only
MINUTE_START = 1_800_000_000.0
REDIS = "in-cluster"
TENANTS = {
    "team-a": {"tier": "free", "models": [MODEL_A]},
    "team-b": {"tier": "enterprise", "models": [MODEL_A, MODEL_B]},
}
# The endpoint behind the gateway is in-cluster only (no load balancer): the probe leaves it alone.
QWEN = {
    "backend": "kubernetes",
    "namespace": "inference",
    "resourceName": "qwen3-4b-vllm",
    "url": "http://qwen3-4b-vllm.inference.svc.cluster.local/v1/chat/completions",
    "urlKind": "service",
    "urlSource": "Service inference/qwen3-4b-vllm",
    "invocationPath": "/v1/chat/completions",
    "servedModelName": MODEL_A,
}


def _objects():
    routes = config.upstreams(endpoints(), PlatformSpec())
    return render.render(gateway(), routes, [KEYS["team-a"], KEYS["team-b"]])


class RbacBeforeModelHeader(RenderedGateway):
    """RBAC judges the allow-list before AI Gateway's ext_proc has written `x-ai-eg-model`; routing still uses the model."""

    def decide(self, request_headers, model):
        headers = {k.lower(): v for k, v in request_headers.items() if k.lower() not in self.removed}
        first, _ = self.route(headers)
        refused = self._authenticate(self.security(first), headers) or self._authorize(self.security(first), headers)
        if refused:
            return refused, headers
        headers[render.MODEL_HEADER] = model
        _, served = self.route(headers)
        return (200 if served else 404), headers


class SilentRateLimitService(LimiterServer):
    """The rate-limit service does not answer (Redis unreachable): Envoy lets the request through, without headers."""

    def _headers(self, tenant, minute):
        return {}


@pytest.fixture
def ready(kube_api):
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen3-4b-vllm"),
        k.deployment(
            "True", "True", "NewReplicaSetAvailable", 'ReplicaSet "q-5d9" has successfully progressed.', ready=1
        ),
    )
    return kube_api


def _probe(tmp_path, kube_api, server, keys=KEYS, tenants=TENANTS, url=None):
    outputs = {
        "kubeconfig": kube_api.kubeconfig(),
        "endpoints": {"qwen3-4b-vllm": QWEN},
        "apiKeys": {},
        "gateway": {"url": server.url if url is None else url, "tenants": tenants, "counterStore": REDIS},
        "gatewayKeys": keys,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return main(["status", "--outputs", str(path), "--probe", "--timeout", "5"])


def test_gateway_probe_allowed_call_carries_rate_limit_headers_and_the_allow_list_answers_403_exit_0(
    tmp_path, ready, capsys
):
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START).start()
    try:
        code = _probe(tmp_path, ready, server)
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        f"gateway team-a: POST /v1/chat/completions {MODEL_A} (allowed): HTTP 200 in " in out
        and "ok: allowed, x-ratelimit-remaining 200\n" in out
    )
    assert (
        f"gateway team-a: POST /v1/chat/completions {MODEL_B} (not in its models): HTTP 403 in " in out
        and "ok: denied (403), as its models say\n" in out
    )
    assert f"gateway team-b: POST /v1/chat/completions {MODEL_A} (allowed): HTTP 200 in " in out
    # Bounded: team-b may call every model, so it gets one request; each asks for one token.
    assert len(server.bodies) == 3 and {b["max_tokens"] for b in server.bodies} == {1}
    assert [h.get("x-api-key") for h in server.headers].count(KEYS["team-a"]) == 2
    assert not any(key in out for key in KEYS.values())
    assert "qwen3-4b-vllm: not probed: its URL is in-cluster" in out


def test_gateway_probe_names_the_model_header_when_the_allow_list_check_does_not_see_it(tmp_path, ready, capsys):
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START)
    server.gateway = RbacBeforeModelHeader(_objects())
    server.start()
    try:
        code = _probe(tmp_path, ready, server)
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 1
    assert (f"gateway team-a: POST /v1/chat/completions {MODEL_A} (allowed): HTTP 403 in ") in out
    assert (
        "FAIL: HTTP 403 on a model tenant team-a may call: the allow-list check did not see AI Gateway's model header x-ai-eg-model "
        "(RBAC ran before AI Gateway's ext_proc set it from the body, or the ext_proc did not run on this route)"
    ) in out
    assert (
        f"gateway team-b: POST /v1/chat/completions {MODEL_A} (allowed): HTTP 200 in " in out
    )  # no models: nothing to judge


def test_gateway_probe_catches_an_allow_list_that_is_not_enforced(tmp_path, ready, capsys):
    objects = _objects()
    for o in objects:
        if o["kind"] == "SecurityPolicy":
            o["spec"].pop("authorization", None)  # keys checked, models not
    server = LimiterServer(objects, clock=lambda: MINUTE_START).start()
    try:
        code = _probe(tmp_path, ready, server)
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 1
    assert (f"gateway team-a: POST /v1/chat/completions {MODEL_B} (not in its models): HTTP 200 in ") in out
    assert (
        f"FAIL: HTTP 200: the allow-list is not enforced: tenant team-a reached {MODEL_B}, outside its models (SecurityPolicy llm-gateway-tenants, authorization)"
        in out
    )


def test_gateway_probe_names_the_counter_store_and_the_rate_limit_log_when_the_headers_are_missing(
    tmp_path, ready, capsys
):
    server = SilentRateLimitService(_objects(), clock=lambda: MINUTE_START).start()
    try:
        code = _probe(tmp_path, ready, server)
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "FAIL: no x-ratelimit-limit / x-ratelimit-remaining on an allowed answer: the rate-limit service did not answer and Envoy Gateway "
        "let the request through (it fails open), so the tiers are unlimited now; counter store: in-cluster Redis "
        "redis.redis-system.svc.cluster.local:6379 (`kubectl get pods -n redis-system`); see `kubectl logs -n envoy-gateway-system deploy/envoy-ratelimit -c envoy-ratelimit`"
    ) in out


def test_gateway_probe_of_a_refused_tenant_key_names_the_key_output_and_the_policy(tmp_path, ready, capsys):
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START).start()
    try:
        code = _probe(tmp_path, ready, server, keys={**KEYS, "team-b": "sk-rotated-since-the-outputs"})
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 1
    assert ("gateway team-b: POST /v1/chat/completions Qwen3-4B-Instruct-2507 (allowed): HTTP 401 in ") in out
    assert (
        "FAIL: HTTP 401: the gateway refused gatewayKeys.team-b: SecurityPolicy llm-gateway-tenants does not list Secret tenant-team-b"
        in out
    )
    assert "sk-rotated" not in out


def test_gateway_probe_does_not_send_a_tenant_key_it_cannot_read(tmp_path, ready, capsys):
    server = LimiterServer(_objects(), clock=lambda: MINUTE_START).start()
    try:
        code = _probe(tmp_path, ready, server, keys={"team-a": "[secret]", "team-b": "[secret]"})
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "gateway team-a: not probed: gatewayKeys.team-a is [secret]: read the outputs with `pulumi stack output --json --show-secrets`"
        in out
    )
    assert server.bodies == []


def test_gateway_probe_of_a_gateway_without_an_address_fails(tmp_path, ready, capsys):
    code = _probe(tmp_path, ready, None, url="")
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "gateway: not probed: gateway.url is null: its ALB has no address (`kubectl describe ingress -n envoy-gateway-system`)"
        in out
    )
