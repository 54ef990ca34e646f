"""Issue 15 finding 11 (destroy), rule O6: the ingress drain guard's delete waits until no Ingress of
class alb is left, reading the cluster with the official `kubernetes` client against a loopback
server that answers the one API path it uses; the wait is bounded by a fake clock (no real sleeping)."""

from __future__ import annotations

import json

import pytest

from components.ingress_drain import wait_for_drain
from components.kube_reader import KubeReader
from components.rules import drain
from tests.kube_api import FakeClock, kube_api

OPERATOR_NS = "/apis/networking.k8s.io/v1/namespaces/hyperpod-inference-system/ingresses"
INFERENCE_NS = "/apis/networking.k8s.io/v1/namespaces/inference/ingresses"
OPERATOR_INGRESS = {
    "metadata": {"name": "alb-llama-3-1-8b-vllm-inference", "namespace": "hyperpod-inference-system", "finalizers": ["ingress.k8s.aws/resources"]},
    "spec": {"ingressClassName": "alb"},
}
NGINX_INGRESS = {"metadata": {"name": "docs", "namespace": "inference"}, "spec": {"ingressClassName": "nginx"}}


def props(kubeconfig, timeout=60):
    return {"guard": "ingress-drain", "kubeconfig": json.dumps(kubeconfig), "clusterName": "llm-dev", "namespaces": ["hyperpod-inference-system", "inference"], "timeoutSeconds": timeout}


def test_o6_drain_guard_delete_returns_once_the_operators_alb_ingress_is_gone():
    clock = FakeClock()
    with kube_api({OPERATOR_NS: [[OPERATOR_INGRESS], [OPERATOR_INGRESS], []], INFERENCE_NS: [[NGINX_INGRESS]]}) as (kubeconfig, seen):
        wait_for_drain(props(kubeconfig), clock=clock, sleep=clock.sleep)
    assert clock.now == 20.0  # two polls of 10 s while the Ingress held its ALB
    assert INFERENCE_NS in seen


def test_o6_drain_guard_delete_fails_at_its_deadline_naming_the_ingress_and_the_cleanup_command():
    clock = FakeClock()
    with kube_api({OPERATOR_NS: [[OPERATOR_INGRESS]]}) as (kubeconfig, _):
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


def test_o6_kube_reader_reads_items_through_the_official_client():
    with kube_api({INFERENCE_NS: [[NGINX_INGRESS]]}) as (kubeconfig, _):
        assert [i["metadata"]["name"] for i in KubeReader(kubeconfig).ingresses("inference")] == ["docs"]
