"""The live reader (stacks/live) against a loopback Kubernetes API server: the
state read from the cluster, not from stack outputs, and G15 (a failed state carries the object's
own message). Status documents are shaped like the CRD status schemas and checked against them."""

from __future__ import annotations

import jsonschema
import pytest

from components.kube_reader import KubeReader, LiveError, Unreachable
from stacks.live.reader import read_endpoint
from stacks.schemas import CrdRegistry
from tests import k8s_server as k

HYPERPOD = {"backend": "hyperpod", "namespace": "inference", "resourceName": "llama", "url": None}


def _read(kube_api, entry, name="llama", timeout=2.0):
    with KubeReader(kube_api.kubeconfig(), "the `kubeconfig` stack output", timeout) as kube:
        return read_endpoint(kube, name, entry)


def test_hyperpod_state_is_read_from_the_inference_endpoint_config(kube_api):
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.iec("DeploymentComplete", ready=1))
    live = _read(kube_api, {**HYPERPOD, "state": None})  # the output's `state` from `up` is empty: ignored
    assert (live.readiness, live.state, live.ready_replicas, live.replicas) == ("ready", "DeploymentComplete", 1, 1)
    assert kube_api.hits == {
        "/apis/inference.sagemaker.aws.amazon.com/v1/namespaces/inference/inferenceendpointconfigs/llama": 1
    }


def test_kubeconfig_bearer_token_is_sent(kube_api):
    """kubernetes 36.0.0 dropped the kubeconfig's token from requests (kubernetes-client/python#2582): pinned 36.0.3."""
    _read(kube_api, HYPERPOD)
    assert kube_api.authorizations == ["Bearer loopback-token"]


def test_g15_hyperpod_deployment_failed_carries_the_operators_message(kube_api):
    kube_api.answer(
        k.IEC.format(ns="inference", name="llama"),
        k.iec("DeploymentFailed", message="Back-off pulling image lmcache/vllm-openai:v9"),
    )
    live = _read(kube_api, HYPERPOD)
    assert live.readiness == "failed"
    assert live.detail == "DeploymentFailed: Back-off pulling image lmcache/vllm-openai:v9"


def test_g15_deployment_progress_deadline_exceeded_is_failed(kube_api):
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen"),
        k.deployment(
            "False", "False", "ProgressDeadlineExceeded", 'ReplicaSet "qwen-5d9" has timed out progressing.', ready=0
        ),
    )
    live = _read(kube_api, {"backend": "kubernetes", "namespace": "inference", "resourceName": "qwen"}, "qwen")
    assert (live.readiness, live.ready_replicas, live.replicas) == ("failed", 0, 2)
    assert live.detail == 'Failed: ProgressDeadlineExceeded: ReplicaSet "qwen-5d9" has timed out progressing.'


def test_g15_deployment_available_is_ready_with_its_replicas(kube_api):
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen"),
        k.deployment(
            "True", "True", "NewReplicaSetAvailable", 'ReplicaSet "qwen-5d9" has successfully progressed.', ready=2
        ),
    )
    live = _read(kube_api, {"backend": "kubernetes", "namespace": "inference", "resourceName": "qwen"}, "qwen")
    assert (live.readiness, live.ready_replicas, live.replicas) == ("ready", 2, 2)
    assert live.message == 'Progressing: ReplicaSet "qwen-5d9" has successfully progressed.'


def test_g15_kserve_ready_condition_and_failed_model_load(kube_api):
    path = k.KSERVE_ISVC.format(ns="inference", name="qwen")
    entry = {"backend": "kserve", "namespace": "inference", "resourceName": "qwen"}
    kube_api.answer(path, k.isvc("serving.kserve.io/v1beta1", "True"))
    assert _read(kube_api, entry, "qwen").readiness == "ready"
    kube_api.answer(
        path,
        k.isvc(
            "serving.kserve.io/v1beta1",
            "False",
            "predictor not ready",
            "BlockedByFailedLoad",
            {"reason": "ModelLoadFailed", "message": "CUDA out of memory"},
        ),
    )
    live = _read(kube_api, entry, "qwen")
    assert (live.readiness, live.detail) == ("failed", "Failed: ModelLoadFailed: CUDA out of memory")


def test_g15_ome_not_ready_is_pending(kube_api):
    kube_api.answer(
        k.OME_ISVC.format(ns="inference", name="qwen"), k.isvc("ome.io/v1beta1", "False", "engine pods starting")
    )
    live = _read(kube_api, {"backend": "ome", "namespace": "inference", "resourceName": "qwen"}, "qwen")
    assert (live.readiness, live.state, live.message) == ("pending", "NotReady", "Ready: engine pods starting")


def test_g15_object_not_created_yet_404_is_pending(kube_api):
    live = _read(kube_api, HYPERPOD)
    assert (live.readiness, live.state) == ("pending", "not created")
    assert live.detail == "llama not found in namespace inference yet"


@pytest.mark.parametrize("code", [401, 403])
def test_g15_refused_credentials_name_the_kubeconfig(kube_api, code):
    kube_api.auth_status = code
    with pytest.raises(LiveError, match=rf"HTTP {code} .* with the `kubeconfig` stack output; Fix: use a kubeconfig"):
        _read(kube_api, HYPERPOD)


def test_g15_hanging_api_server_is_bounded_by_the_request_timeout(kube_api):
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.HANG)
    with pytest.raises(Unreachable, match=r"did not answer within 0.3 s"):
        _read(kube_api, HYPERPOD, timeout=0.3)
    assert kube_api.hits == {k.IEC.format(ns="inference", name="llama"): 1}  # one attempt, not urllib3's 3 retries more


def test_g16_null_url_is_read_from_the_operators_ingress_status(kube_api):
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.iec("DeploymentComplete", ready=1))
    kube_api.answer(
        k.INGRESS.format(ns="hyperpod-inference-system", name="alb-llama"),
        k.ingress("internal-k8s-alb-llama-123.us-east-1.elb.amazonaws.com"),
    )
    entry = {
        **HYPERPOD,
        "urlKind": "operator-alb",
        "urlSource": "Ingress hyperpod-inference-system/alb-llama",
        "invocationPath": "/v1/chat/completions",
    }
    live = _read(kube_api, entry)
    assert (live.url, live.url_kind) == (
        "http://internal-k8s-alb-llama-123.us-east-1.elb.amazonaws.com/v1/chat/completions",
        "operator-alb",
    )


def test_g16_ingress_without_address_yet_leaves_url_empty(kube_api):
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.iec("DeploymentInProgress"))
    kube_api.answer(k.INGRESS.format(ns="inference", name="llm-llama"), k.ingress(None))
    live = _read(kube_api, {**HYPERPOD, "urlKind": "alb", "urlSource": "Ingress inference/llm-llama"})
    assert (live.url, live.url_kind) == (None, "alb")


def test_g16_only_the_camel_case_url_keys_of_the_stack_output_are_read(kube_api):
    """The stack output names them urlKind / urlSource (like servedModelName); snake_case is no output key."""
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.iec("DeploymentComplete", ready=1))
    kube_api.answer(
        k.INGRESS.format(ns="inference", name="llm-llama"), k.ingress("k8s-llm-llama.us-east-1.elb.amazonaws.com")
    )
    live = _read(kube_api, {**HYPERPOD, "url_kind": "alb", "url_source": "Ingress inference/llm-llama"})
    assert (live.url, live.url_kind) == (None, None)
    assert k.INGRESS.format(ns="inference", name="llm-llama") not in kube_api.hits


FIXTURES = [
    (
        "inference.sagemaker.aws.amazon.com",
        "v1",
        "InferenceEndpointConfig",
        k.iec(
            "DeploymentFailed",
            message="x",
            conditions=[k.condition("DeploymentReady", "False", "ImagePullBackOff", "Back-off pulling image")],
        ),
    ),
    (
        "serving.kserve.io",
        "v1beta1",
        "InferenceService",
        k.isvc(
            "serving.kserve.io/v1beta1",
            "False",
            "m",
            "BlockedByFailedLoad",
            {"reason": "ModelLoadFailed", "message": "oom"},
        ),
    ),
    ("ome.io", "v1beta1", "InferenceService", k.isvc("ome.io/v1beta1", "False", "m")),
]


@pytest.mark.parametrize("group,version,kind,doc", FIXTURES, ids=[f[0] for f in FIXTURES])
def test_g15_fixture_status_documents_match_the_crd_status_schema(crd_dir, group, version, kind, doc):
    found = CrdRegistry(crd_dir).schema(group, version, kind)
    assert found is not None, f"no CRD for {group}/{version} {kind} in {crd_dir}"
    status_schema = found[0].schema["properties"]["status"]
    jsonschema.Draft7Validator(status_schema).validate(doc["status"])
