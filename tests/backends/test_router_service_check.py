"""Issue 15 finding 6: the router Service behind a public HyperPod ALB is a guess (AWS documents
neither its name nor its port), so `up` checks it against the cluster before the Ingress and fails
naming platform.ingress.routerService / routerPort and the kubectl check. Loopback Kubernetes API."""

from __future__ import annotations

import pytest

from components.endpoints.router_check import check_router
from components.rules import ingress as ingress_rules
from tests import k8s_server as k

SERVICES = k.SERVICES.format(ns="hyperpod-inference-system")
OPERATOR_ROUTER = {"metadata": {"name": "llama-inference-router"}, "spec": {"ports": [{"name": "http", "port": 8000}]}}


def props(kubeconfig, service="llama-router", port=8080):
    return {"kubeconfig": kubeconfig, "service": service, "port": port, "endpointName": "llama", "template": "{name}-router", "timeoutSeconds": 30}


def test_issue15_finding6_a_wrong_router_service_guess_fails_up_naming_the_config_keys_and_the_check(kube_api):
    clock = k.FakeClock()
    kube_api.answer_lists(SERVICES, [OPERATOR_ROUTER])
    with pytest.raises(RuntimeError) as err:
        check_router(props(kube_api.kubeconfig()), clock=clock, sleep=clock.sleep)
    message = str(err.value)
    assert "router Service hyperpod-inference-system/llama-router: it does not exist" in message
    assert "Services there named after the endpoint: llama-inference-router" in message
    assert "platform.ingress.routerService ('{name}-router')" in message and "platform.ingress.routerPort (8080)" in message
    assert "kubectl get svc -n hyperpod-inference-system" in message and "(waited 30 s)" in message
    assert clock.now == 30.0 and list(kube_api.hits) == [SERVICES]


def test_issue15_finding6_router_service_with_another_port_is_named():
    problem = ingress_rules.router_service_problem([OPERATOR_ROUTER], "llama-inference-router", 8080, "llama", "{name}-inference-router")
    assert problem is not None and "it has ports [8000], not 8080" in problem


def test_issue15_finding6_the_configured_router_service_and_port_pass(kube_api):
    clock = k.FakeClock()
    kube_api.answer_lists(SERVICES, [], [OPERATOR_ROUTER])
    check_router(props(kube_api.kubeconfig(), service="llama-inference-router", port=8000), clock=clock, sleep=clock.sleep)
    assert clock.now == 10.0  # one poll while the operator had not made it yet
