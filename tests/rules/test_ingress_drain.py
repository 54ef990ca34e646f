"""Issue 15 finding 11 (destroy): the ingress drain guard's delete waits until no Ingress of class
alb is left, reading the cluster with the official `kubernetes` client against a loopback server
that answers the one API path it uses; the wait is bounded by a fake clock (no real sleeping)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components.ingress_drain import KubeIngressLister, wait_for_drain
from components.rules import drain

OPERATOR_INGRESS = {
    "metadata": {"name": "alb-llama-3-1-8b-vllm-inference", "namespace": "hyperpod-inference-system", "finalizers": ["ingress.k8s.aws/resources"]},
    "spec": {"ingressClassName": "alb"},
}
NGINX_INGRESS = {"metadata": {"name": "docs", "namespace": "inference"}, "spec": {"ingressClassName": "nginx"}}


class FakeCluster:
    """Ingresses per namespace; each list call pops the next answer (the last one stays)."""

    def __init__(self, answers: dict[str, list[list[dict]]]):
        self.answers = answers
        self.paths: list[str] = []

    def items(self, namespace: str) -> list[dict]:
        queue = self.answers.get(namespace, [[]])
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def api():
    state: dict[str, FakeCluster] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            cluster = state["cluster"]
            cluster.paths.append(self.path.split("?")[0])
            parts = self.path.split("?")[0].strip("/").split("/")
            # /apis/networking.k8s.io/v1/namespaces/{ns}/ingresses
            if parts[:3] != ["apis", "networking.k8s.io", "v1"] or parts[3] != "namespaces" or parts[5] != "ingresses":
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps({"kind": "IngressList", "apiVersion": "networking.k8s.io/v1", "items": cluster.items(parts[4])}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    yield state, kubeconfig
    server.shutdown()
    server.server_close()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def props(kubeconfig, timeout=60):
    return {"guard": "ingress-drain", "kubeconfig": json.dumps(kubeconfig), "clusterName": "llm-dev", "namespaces": ["hyperpod-inference-system", "inference"], "timeoutSeconds": timeout}


def test_o6_drain_guard_delete_returns_once_the_operators_alb_ingress_is_gone(api):
    state, kubeconfig = api
    state["cluster"] = FakeCluster({"hyperpod-inference-system": [[OPERATOR_INGRESS], [OPERATOR_INGRESS], []], "inference": [[NGINX_INGRESS]]})
    clock = FakeClock()
    wait_for_drain(props(kubeconfig), clock=clock, sleep=clock.sleep)
    assert clock.now == 20.0  # two polls of 10 s while the Ingress held its ALB
    assert "/apis/networking.k8s.io/v1/namespaces/inference/ingresses" in state["cluster"].paths


def test_o6_drain_guard_delete_fails_at_its_deadline_naming_the_ingress_and_the_cleanup_command(api):
    state, kubeconfig = api
    state["cluster"] = FakeCluster({"hyperpod-inference-system": [[OPERATOR_INGRESS]]})
    clock = FakeClock()
    with pytest.raises(RuntimeError) as err:
        wait_for_drain(props(kubeconfig, timeout=60), clock=clock, sleep=clock.sleep)
    message = str(err.value)
    assert clock.now == 60.0
    assert "hyperpod-inference-system/alb-llama-3-1-8b-vllm-inference" in message and "after 60 s" in message
    assert "Key=elbv2.k8s.aws/cluster,Values=llm-dev" in message and "ingress.k8s.aws/resources" in message


def test_o6_drain_guard_delete_with_an_unreachable_cluster_names_the_escape():
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                  "users": [{"name": "u", "user": {}}], "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"}
    with pytest.raises(RuntimeError) as err:
        wait_for_drain(props(kubeconfig), clock=FakeClock(), sleep=lambda s: None)
    assert "cannot list Ingresses" in str(err.value) and "pulumi state delete" in str(err.value)


@pytest.mark.parametrize(
    ("ingress", "held"),
    [
        (OPERATOR_INGRESS, True),
        (NGINX_INGRESS, False),
        ({"metadata": {"name": "legacy", "annotations": {"kubernetes.io/ingress.class": "alb"}}, "spec": {}}, True),
        ({"metadata": {"name": "renamed-class", "finalizers": ["ingress.k8s.aws/resources"]}, "spec": {"ingressClassName": "internal-alb"}}, True),
    ],
)
def test_o6_which_ingresses_hold_an_alb(ingress, held):
    assert drain.holds_alb(ingress) is held


def test_o6_kube_lister_reads_items_through_the_official_client(api):
    state, kubeconfig = api
    state["cluster"] = FakeCluster({"inference": [[NGINX_INGRESS]]})
    assert [i["metadata"]["name"] for i in KubeIngressLister(kubeconfig).ingresses("inference")] == ["docs"]
