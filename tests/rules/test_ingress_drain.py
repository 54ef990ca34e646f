"""Destroy, rule O6: the ingress drain guard's delete waits until no Ingress of
class alb is left, reading the cluster with the official `kubernetes` client against a loopback
server that answers the one API path it uses; the wait is bounded by a fake clock (no real sleeping)."""

from __future__ import annotations

import json

import pytest

from components.ingress_drain import wait_for_drain
from components.kube_reader import KubeReader, LiveError, Unreachable
from components.rules import drain
from tests.k8s_server import HANG, INGRESSES, FakeClock

OPERATOR_NS = INGRESSES.format(ns="hyperpod-inference-system")
INFERENCE_NS = INGRESSES.format(ns="inference")
OPERATOR_INGRESS = {
    "metadata": {
        "name": "alb-llama-3-1-8b-vllm-inference",
        "namespace": "hyperpod-inference-system",
        "finalizers": ["ingress.k8s.aws/resources"],
    },
    "spec": {"ingressClassName": "alb"},
}
NGINX_INGRESS = {"metadata": {"name": "docs", "namespace": "inference"}, "spec": {"ingressClassName": "nginx"}}


def props(kubeconfig, timeout=60):
    return {
        "guard": "ingress-drain",
        "kubeconfig": json.dumps(kubeconfig),
        "clusterName": "llm-dev",
        "namespaces": ["hyperpod-inference-system", "inference"],
        "timeoutSeconds": timeout,
    }


def test_o6_drain_guard_delete_returns_once_the_operators_alb_ingress_is_gone(kube_api):
    clock = FakeClock()
    kube_api.answer_lists(OPERATOR_NS, [OPERATOR_INGRESS], [OPERATOR_INGRESS], [])
    kube_api.answer_lists(INFERENCE_NS, [NGINX_INGRESS])
    wait_for_drain(props(kube_api.kubeconfig()), clock=clock, sleep=clock.sleep)
    assert clock.now == 20.0  # two polls of 10 s while the Ingress held its ALB
    assert kube_api.hits[OPERATOR_NS] == 3 and INFERENCE_NS in kube_api.hits


def test_o6_drain_guard_delete_fails_at_its_deadline_naming_the_ingress_and_the_cleanup_command(kube_api):
    clock = FakeClock()
    kube_api.answer_lists(OPERATOR_NS, [OPERATOR_INGRESS])
    with pytest.raises(RuntimeError) as err:
        wait_for_drain(props(kube_api.kubeconfig(), timeout=60), clock=clock, sleep=clock.sleep)
    message = str(err.value)
    assert clock.now == 60.0
    assert "hyperpod-inference-system/alb-llama-3-1-8b-vllm-inference" in message and "after 60 s" in message
    assert "Key=elbv2.k8s.aws/cluster,Values=llm-dev" in message and "ingress.k8s.aws/resources" in message


def test_o6_drain_guard_delete_with_an_unreachable_cluster_names_the_escape():
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    with pytest.raises(RuntimeError) as err:
        wait_for_drain(props(kubeconfig), clock=FakeClock(), sleep=lambda s: None)
    assert "cannot list Ingresses" in str(err.value) and "pulumi state delete" in str(err.value)


@pytest.mark.parametrize(
    ("ingress", "held"),
    [
        (OPERATOR_INGRESS, True),
        (NGINX_INGRESS, False),
        ({"metadata": {"name": "legacy", "annotations": {"kubernetes.io/ingress.class": "alb"}}, "spec": {}}, True),
        (
            {
                "metadata": {"name": "renamed-class", "finalizers": ["ingress.k8s.aws/resources"]},
                "spec": {"ingressClassName": "internal-alb"},
            },
            True,
        ),
    ],
)
def test_o6_which_ingresses_hold_an_alb(ingress, held):
    assert drain.holds_alb(ingress) is held


def test_o6_kube_reader_reads_items_through_the_official_client(kube_api):
    kube_api.answer_lists(INFERENCE_NS, [NGINX_INGRESS])
    with KubeReader(kube_api.kubeconfig()) as kube:
        assert [i["metadata"]["name"] for i in kube.ingresses("inference")] == ["docs"]
    assert kube_api.authorizations == ["Bearer loopback-token"]


def test_o6_kube_reader_list_that_hangs_is_one_attempt_bounded_by_the_timeout(kube_api):
    kube_api.answer(INFERENCE_NS, HANG)
    with (
        KubeReader(kube_api.kubeconfig(), timeout=0.3) as kube,
        pytest.raises(Unreachable, match=r"reading Ingresses in inference: the API server did not answer within 0.3 s"),
    ):
        kube.ingresses("inference")
    assert kube_api.hits == {INFERENCE_NS: 1}  # retries off, as for single-object reads


def test_o6_kube_reader_list_refused_names_the_kubeconfig_and_a_missing_list_is_empty(kube_api):
    with KubeReader(kube_api.kubeconfig()) as kube:
        assert kube.services("inference") == []  # 404: nothing there yet
        kube_api.auth_status = 403
        with pytest.raises(
            LiveError,
            match=r"refused to read Ingresses in inference \(HTTP 403 Forbidden\) with the `kubeconfig` stack output",
        ):
            kube.ingresses("inference")


def test_o6_drain_guard_waits_only_for_ingresses_the_stack_accounts_for(kube_api):
    """A user's own ALB Ingress in a shared namespace is not the stack's to wait for; one KServe made for
    an endpoint's InferenceService (ownerReferences) and one the stack declared are."""
    users = {"metadata": {"name": "team-wiki", "namespace": "inference"}, "spec": {"ingressClassName": "alb"}}
    kserve_made = {
        "metadata": {
            "name": "qwen",
            "namespace": "inference",
            "ownerReferences": [{"kind": "InferenceService", "name": "qwen"}],
        },
        "spec": {"ingressClassName": "alb"},
    }
    declared = {
        "metadata": {
            "name": "llm-qwen",
            "namespace": "inference",
            "labels": {"app.kubernetes.io/managed-by": "pulumi"},
        },
        "spec": {"ingressClassName": "alb"},
    }
    kube_api.answer_lists(OPERATOR_NS, [])
    kube_api.answer_lists(INFERENCE_NS, [users, kserve_made, declared])
    with KubeReader(kube_api.kubeconfig()) as kube:
        assert drain.alb_ingresses(kube, ["hyperpod-inference-system", "inference"]) == [
            "inference/qwen",
            "inference/llm-qwen",
        ]
    kube_api.answer_lists(INFERENCE_NS, [users])
    wait_for_drain(
        props(kube_api.kubeconfig()), clock=FakeClock(), sleep=lambda s: None
    )  # returns: nothing of ours is left
