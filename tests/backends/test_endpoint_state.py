"""`state`/`stateDetail` per backend: the pure readers, and the components reading a status the
mocks report (what the operator or the Deployment controller writes)."""

from __future__ import annotations

import pulumi
import pytest

from components.endpoints import EndpointArgs, component_for
from components.rules.backends import state
from stacks.mocks import PlanMocks
from tests.backends.backend_helpers import spec
from tests.stack.pulumi_harness import resolve


def test_readers():
    assert state.hyperpod({"state": "DeploymentComplete"}) == ("DeploymentComplete", None)
    assert state.hyperpod({"state": "DeploymentFailed", "deploymentStatus": {"message": "ImagePullBackOff"}}) == (
        "DeploymentFailed",
        "ImagePullBackOff",
    )
    assert (
        state.deployment(
            {"conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}
        )[0]
        == "Ready"
    )
    assert state.deployment(
        {
            "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}
            ]
        }
    ) == ("Failed", "ProgressDeadlineExceeded: timed out")
    assert (
        state.deployment({"conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]})[0]
        == "Deploying"
    )
    assert state.ready_condition(
        {"conditions": [{"type": "Ready", "status": "False", "reason": "ComponentNotReady"}]}
    ) == ("NotReady", "ComponentNotReady")
    assert state.ready_condition({"conditions": [{"type": "Ready", "status": "True"}]})[0] == "Ready"
    assert state.ready_condition({}) == (None, None) and state.deployment(None) == (None, None)


READY = {"conditions": [{"type": "Ready", "status": "True"}], "url": "http://qwen.inference.svc.cluster.local"}
STATUS = {
    "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig": {"state": "DeploymentComplete"},
    "kubernetes:apps/v1:Deployment": {
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]
    },
    "kubernetes:ome.io/v1beta1:InferenceService": READY,
    "kubernetes:serving.kserve.io/v1beta1:InferenceService": READY,
    "kubernetes:serving.kserve.io/v1alpha2:LLMInferenceService": READY,
}


@pytest.mark.parametrize(
    "backend, overrides, expected",
    [
        ("hyperpod", {"instanceType": "ml.g5.12xlarge", "apiKey": False}, "DeploymentComplete"),
        ("kubernetes", {"apiKey": False}, "Ready"),
        ("ome", {"apiKey": False, "loadBalancer": "none"}, "Ready"),
        ("kserve", {"apiKey": False, "loadBalancer": "none"}, "Ready"),
        ("llmisvc", {"apiKey": False, "loadBalancer": "none"}, "Ready"),
    ],
)
def test_component_state_from_the_reported_status(backend, overrides, expected):
    import asyncio

    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    mocks = PlanMocks(outputs={t: (lambda s: lambda a: {"status": s})(s) for t, s in STATUS.items()})  # noqa: B023 - s is bound by the outer lambda's argument
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(mocks, project="llm-serving", stack="test", preview=False)
    seen = {}

    def program():
        s = spec(backend, **overrides)
        ep = component_for(s)("ep", EndpointArgs(spec=s, region="us-east-1"))
        seen["ep"] = ep

    _sync_await(run_pulumi_func(program))
    assert resolve(seen["ep"].state) == expected
    component = {
        "hyperpod": "InferenceEndpoint",
        "kubernetes": "KubernetesEndpoint",
        "ome": "OmeEndpoint",
        "kserve": "KServeEndpoint",
        "llmisvc": "LlmisvcEndpoint",
    }[backend]
    assert any(r.type_ == f"llm-serving:endpoints:{component}" for r in mocks.registrations)
    if backend in ("ome", "llmisvc"):  # the address its status names, with the invocation path
        assert resolve(seen["ep"].url) == "http://qwen.inference.svc.cluster.local/v1/chat/completions"
