"""`python -m stacks status --probe` against deployed endpoints, stood in for by a loopback server
(tests/live/endpoint_server.py) behind the loopback Kubernetes API server: one GET /v1/models and one POST with
max_tokens 1 per ready endpoint, each within --timeout, a one-line diagnosis per answer, exit 1 on a failed
probe. Each test is named after what the probe catches on a real stack."""

from __future__ import annotations

import json
import socket
import time

import pytest

from stacks.__main__ import main
from tests import k8s_server as k

from .endpoint_server import HANG, EndpointServer

KEY = "sk-probe-0123456789abcdef"
SERVED = "Qwen3-4B-Instruct-2507"


@pytest.fixture
def engine():
    server = EndpointServer(SERVED, key=KEY)
    yield server
    server.close()


def _qwen(url: str, **extra):
    """The `endpoints.qwen` output of a kubernetes endpoint behind the stack's ALB."""
    return {
        "backend": "kubernetes",
        "namespace": "inference",
        "resourceName": "qwen",
        "url": f"{url}/v1/chat/completions",
        "urlKind": "alb",
        "urlSource": "Ingress inference/llm-qwen",
        "invocationPath": "/v1/chat/completions",
        "servedModelName": SERVED,
        "apiKeySecret": "qwen-api-key",
        **extra,
    }


def _llama(url: str):
    """A HyperPod endpoint with publicAlb: the stack's ALB in front of the operator's router."""
    return {
        "backend": "hyperpod",
        "namespace": "inference",
        "resourceName": "llama",
        "url": f"{url}/v1/chat/completions",
        "urlKind": "alb",
        "urlSource": "Ingress hyperpod-inference-system/llm-llama",
        "invocationPath": "/v1/chat/completions",
        "servedModelName": SERVED,
        "apiKeySecret": "llama-api-key",
    }


def _ready_qwen(kube_api):
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen"),
        k.deployment(
            "True", "True", "NewReplicaSetAvailable", 'ReplicaSet "qwen-5d9" has successfully progressed.', ready=1
        ),
    )


def _status(tmp_path, kube_api, endpoints, keys, *flags):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"kubeconfig": kube_api.kubeconfig(), "endpoints": endpoints, "apiKeys": keys}))
    return main(["status", "--outputs", str(path), *flags])


def test_probe_of_a_serving_endpoint_lists_its_model_and_gets_one_token_exit_0(tmp_path, kube_api, engine, capsys):
    _ready_qwen(kube_api)
    code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}, "--probe")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "qwen: GET /v1/models: HTTP 200 in " in out and f"s: ok: serves {SERVED}\n" in out
    assert "qwen: POST /v1/chat/completions: HTTP 200 in " in out and "s: ok: answered\n" in out
    (get, post) = engine.requests
    assert (get[0], get[1], post[0], post[1]) == ("GET", "/v1/models", "POST", "/v1/chat/completions")
    assert post[3]["max_tokens"] == 1 and post[3]["model"] == SERVED
    assert get[2]["Authorization"] == post[2]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in out


def test_status_without_probe_sends_no_request(tmp_path, kube_api, engine, capsys):
    _ready_qwen(kube_api)
    assert _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}) == 0
    assert engine.requests == [] and "Probe" not in capsys.readouterr().out


def test_probe_catches_a_key_the_engine_refuses_naming_the_key_output_and_secret(tmp_path, kube_api, capsys):
    """vLLM answers 401 {"error": "Unauthorized"} to a key other than its --api-key."""
    engine = EndpointServer(SERVED, key="sk-the-key-the-engine-read-at-start")
    try:
        _ready_qwen(kube_api)
        code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}, "--probe")
    finally:
        engine.close()
    out = capsys.readouterr().out
    assert code == 1
    assert "qwen: GET /v1/models: HTTP 401 in " in out
    assert (
        "FAIL: HTTP 401: key or auth: the endpoint refused the key in apiKeys.qwen (the engine reads Secret inference/qwen-api-key when its pods start)"
        in out
    )
    assert KEY not in out and "sk-the-key" not in out


def test_probe_catches_a_served_model_name_the_engine_does_not_serve(tmp_path, kube_api, capsys):
    """G5: the output's servedModelName is what clients send; an engine serving the Hugging Face ID instead answers 404."""
    engine = EndpointServer("Qwen/Qwen3-4B-Instruct-2507", key=KEY)
    try:
        _ready_qwen(kube_api)
        code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}, "--probe")
    finally:
        engine.close()
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "FAIL: model name: the list is ['Qwen/Qwen3-4B-Instruct-2507'], without servedModelName 'Qwen3-4B-Instruct-2507'"
        in out
    )
    assert ("qwen: POST /v1/chat/completions: HTTP 404 in ") in out
    assert (
        "FAIL: HTTP 404: path or model name: /v1/chat/completions or model 'Qwen3-4B-Instruct-2507' is not served here"
        in out
    )
    assert "The model `Qwen3-4B-Instruct-2507` does not exist." in out  # the engine's own words follow


def test_probe_catches_a_hyperpod_public_alb_without_a_healthy_router_target_naming_what_it_forwards_to(
    tmp_path, kube_api, engine, capsys
):
    """The router Service and port are closed-source facts the stack finds at `up` (router_check.py); a wrong port or
    protocol leaves the ALB's target group unhealthy, and the ALB answers 503. The probe reads the Ingress for what
    it forwards to and names the three config keys that choose it."""
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.iec("DeploymentComplete", ready=1))
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "llm-llama",
            "namespace": "hyperpod-inference-system",
            "annotations": {"alb.ingress.kubernetes.io/backend-protocol": "HTTPS"},
        },
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {"name": "llama-inference-routing-service", "port": {"number": 443}}
                                },
                            }
                        ]
                    }
                }
            ]
        },
    }
    kube_api.answer(k.INGRESS.format(ns="hyperpod-inference-system", name="llm-llama"), (200, ingress))
    engine.answers["/v1/models"] = (503, {"message": "Service Temporarily Unavailable"})
    engine.answers["/v1/chat/completions"] = (503, {"message": "Service Temporarily Unavailable"})
    code = _status(tmp_path, kube_api, {"llama": _llama(engine.url)}, {"llama": KEY}, "--probe")
    out = capsys.readouterr().out
    assert code == 1
    assert ("llama: POST /v1/chat/completions: HTTP 503 in ") in out
    assert (
        "FAIL: HTTP 503: the ALB reaches no healthy target: it forwards to router Service hyperpod-inference-system/llama-inference-routing-service "
        "port 443 over HTTPS; if that is not the router's serving Service, port or protocol, set platform.ingress.routerService, "
        "platform.ingress.routerPort and platform.ingress.routerProtocol"
    ) in out
    assert (
        kube_api.hits[k.INGRESS.format(ns="hyperpod-inference-system", name="llm-llama")] == 1
    )  # read once for both answers


def test_probe_catches_an_alb_whose_pods_fail_the_health_check(tmp_path, kube_api, engine, capsys):
    _ready_qwen(kube_api)
    engine.answers["/v1/models"] = (502, {"message": "Bad Gateway"})
    engine.answers["/v1/chat/completions"] = (502, {"message": "Bad Gateway"})
    code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}, "--probe")
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "FAIL: HTTP 502: the ALB reaches no healthy target: the pods fail its health check (the healthcheck-path annotation) or are not "
        "registered yet (`kubectl describe ingress llm-qwen -n inference`)"
    ) in out


def test_probe_of_an_endpoint_that_never_answers_stops_at_the_deadline_and_sends_nothing_more(
    tmp_path, kube_api, engine, capsys
):
    _ready_qwen(kube_api)
    engine.answers["/v1/models"] = HANG
    started = time.monotonic()
    code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}, "--probe", "--timeout", "0.3")
    elapsed = time.monotonic() - started
    out = capsys.readouterr().out
    assert code == 1
    assert elapsed < 3.0  # the server would hold the request for 5 s
    assert "qwen: GET /v1/models: no answer in 0.3" in out
    assert "FAIL: no answer within 0.3 s: an internal load balancer is reachable from inside its VPC only" in out
    assert "qwen: POST /v1/chat/completions: not sent: the request before it got no answer" in out
    assert len(engine.requests) == 1


def test_probe_of_a_closed_port_is_one_connection_line(tmp_path, kube_api, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    _ready_qwen(kube_api)
    code = _status(
        tmp_path, kube_api, {"qwen": _qwen(f"http://127.0.0.1:{port}")}, {"qwen": KEY}, "--probe", "--timeout", "2"
    )
    out = capsys.readouterr().out
    assert code == 1
    (line,) = [ln for ln in out.splitlines() if ln.startswith("qwen: GET")]
    assert line.endswith(f"FAIL: connection to 127.0.0.1:{port} failed: refused (nothing listens on that port)")
    assert "Traceback" not in out


def test_probe_of_https_to_a_plain_http_listener_is_one_tls_line(tmp_path, kube_api, engine, capsys):
    _ready_qwen(kube_api)
    code = _status(
        tmp_path,
        kube_api,
        {"qwen": _qwen(engine.url.replace("http://", "https://"))},
        {"qwen": KEY},
        "--probe",
        "--timeout",
        "2",
    )
    out = capsys.readouterr().out
    assert code == 1
    (line,) = [ln for ln in out.splitlines() if ln.startswith("qwen: GET")]
    assert "no answer in" in line and line.endswith(
        f"FAIL: TLS with 127.0.0.1:{engine.httpd.server_address[1]} failed (WRONG_VERSION_NUMBER): the listener there does not speak TLS"
    )
    assert "Traceback" not in out


def test_probe_does_not_send_a_key_it_cannot_read_and_says_so(tmp_path, kube_api, engine, capsys):
    _ready_qwen(kube_api)
    code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": "[secret]"}, "--probe")
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "qwen: not probed: apiKeys.qwen is [secret]: read the outputs with `pulumi stack output --json --show-secrets`"
        in out
    )
    assert engine.requests == []


def test_probe_leaves_pending_endpoints_and_in_cluster_urls_alone(tmp_path, kube_api, engine, capsys):
    _ready_qwen(kube_api)  # qwen ready, llama not created yet
    endpoints = {"qwen": _qwen("http://qwen.inference.svc.cluster.local"), "llama": _llama(engine.url)}
    code = _status(tmp_path, kube_api, endpoints, {"qwen": KEY, "llama": KEY}, "--probe")
    out = capsys.readouterr().out
    assert code == 1  # llama is pending, as without --probe
    assert "qwen: not probed: its URL is in-cluster, not reachable from here (`kubectl port-forward`)" in out
    assert engine.requests == [] and "llama: GET" not in out


def test_probe_of_an_endpoint_without_a_key_sends_no_authorization(tmp_path, kube_api, capsys):
    engine = EndpointServer(SERVED)
    try:
        _ready_qwen(kube_api)
        code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url, apiKeySecret=None)}, {}, "--probe")
    finally:
        engine.close()
    assert code == 0, capsys.readouterr().out
    assert all("Authorization" not in headers for _, _, headers, _ in engine.requests) and len(engine.requests) == 2


def test_probe_blanks_out_a_key_the_server_echoes(tmp_path, kube_api, engine, capsys):
    """Server text is printed (the engine's own reason), but never a key, even one the server repeats."""
    _ready_qwen(kube_api)
    engine.answers["/v1/chat/completions"] = (
        400,
        {"error": {"message": f"invalid request from key {KEY}: no chat template"}},
    )
    code = _status(tmp_path, kube_api, {"qwen": _qwen(engine.url)}, {"qwen": KEY}, "--probe")
    out = capsys.readouterr().out
    assert code == 1
    assert (
        'FAIL: HTTP 400: the engine refused the request: {"error": {"message": "invalid request from key [key]: no chat template"}}'
        in out
    )
    assert KEY not in out
