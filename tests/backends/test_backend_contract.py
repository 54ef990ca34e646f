"""Every registered backend passes the backend contract (components/rules/backends/testing.py): G3-G13 breaks
reported once, repaired or declared unrepaired, S1 and S3 on every engine view; and its live state is read from
its own object against the loopback Kubernetes API server."""

from __future__ import annotations

import pytest

from components.kube_reader import KubeReader
from components.rules.backends import BACKENDS
from components.rules.backends.engine_checks import ENGINE_CONTAINER_RULES
from components.rules.backends.testing import BREAKS, BackendContract
from stacks.live.reader import read_endpoint
from tests import k8s_server as k


class TestEveryBackend(BackendContract):
    @pytest.fixture(params=list(BACKENDS.values()), ids=list(BACKENDS))
    def backend(self, request):
        return request.param


def test_the_contract_breaks_every_engine_container_rule():
    assert set(BREAKS) == set(ENGINE_CONTAINER_RULES)


# A ready status document of each registered backend's own object, shaped like its CRD's status schema
# (tests/k8s_server.py). A backend with a kind not listed here fails below until it gets one.
READY = {
    ("inference.sagemaker.aws.amazon.com", "InferenceEndpointConfig"): lambda api_version: k.iec(
        "DeploymentComplete", ready=1
    ),
    ("apps", "Deployment"): lambda api_version: k.deployment(
        "True", "True", "NewReplicaSetAvailable", "ReplicaSet has successfully progressed.", ready=2
    ),
    ("serving.kserve.io", "InferenceService"): lambda api_version: k.isvc(api_version, "True"),
    ("ome.io", "InferenceService"): lambda api_version: k.isvc(api_version, "True"),
    ("serving.kserve.io", "LLMInferenceService"): lambda api_version: k.llmisvc(api_version, "True"),
}


@pytest.mark.parametrize("name", list(BACKENDS))
def test_every_backends_live_state_is_read_from_its_own_object(kube_api, name):
    """`stacks status` reads each registered backend's own object where `Backend.live` says, against the loopback
    Kubernetes API server: the path it asks for and the readiness it reports."""
    live = BACKENDS[name].live
    api_version = f"{live.group}/{live.version}" if live.group else live.version
    path = (
        f"/apis/{api_version}/namespaces/inference/{live.plural}/qwen"
        if live.group
        else f"/api/{live.version}/namespaces/inference/{live.plural}/qwen"
    )
    kube_api.answer(path, READY[(live.group, live.kind)](api_version))
    with KubeReader(kube_api.kubeconfig(), "the `kubeconfig` stack output", 2.0) as kube:
        found = read_endpoint(
            kube, "qwen", {"backend": name, "namespace": "inference", "resourceName": "qwen", "url": None}
        )
    assert (found.backend, found.readiness) == (name, "ready")
    assert kube_api.hits == {path: 1}
