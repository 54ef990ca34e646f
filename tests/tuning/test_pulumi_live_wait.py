"""G15: the pulumi target waits on the endpoint's live state, read from a
loopback Kubernetes API server with the stack's kubeconfig output, never on stack outputs (a
`pulumi refresh` does not re-run the program: https://github.com/pulumi/pulumi/issues/2710)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from stacks.tuning.deploy import DeployError, EndpointFailed, ReadyTimeout
from stacks.tuning.grid import PulumiTarget
from stacks.tuning.pulumi_target import AutomationStackRunner, PulumiDeployer
from tests import k8s_server as k
from tests.conftest import endpoint

IEC_PATH = k.IEC.format(ns="inference", name="qwen3-4b")


class LoopbackRunner(AutomationStackRunner):
    """The real `endpoint_status` (live reads); `up` returns the outputs a deployed stack would have."""

    def __init__(self, tmp_path: Path, outputs: dict, request_timeout: float = 2.0):
        super().__init__(tmp_path, f"file://{tmp_path / 'state'}", passphrase="", request_timeout=request_timeout)
        self.outputs = outputs

    def up(self, stack, config, log):
        return self.outputs

    def destroy(self, stack, log):
        pass


class StepClock:
    """Each reading advances `step` seconds: the deadline arrives after a few polls, without sleeping."""

    def __init__(self, step: float):
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _outputs(kube_api, **entry):
    base = {
        "backend": "hyperpod",
        "namespace": "inference",
        "resourceName": "qwen3-4b",
        "url": "http://alb.example/v1/chat/completions",
        "state": None,
    }
    return {"kubeconfig": kube_api.kubeconfig(), "endpoints": {"qwen3-4b": {**base, **entry}}}


def _deployer(tmp_path, runner, clock=None):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    extra = {"clock": clock} if clock else {}
    return PulumiDeployer(
        PulumiTarget(project_dir=str(project)), runner, tmp_path / "logs", "r", poll_interval=0.01, **extra
    )


def _wait(deployer, timeout=600.0):
    handle = deployer.start("t1", endpoint())
    return deployer.wait_ready(handle, timeout, threading.Event())


def test_pending_in_progress_complete_succeeds(tmp_path, kube_api):
    kube_api.answer(
        IEC_PATH, k.iec("DeploymentPending"), k.iec("DeploymentInProgress"), k.iec("DeploymentComplete", ready=1)
    )
    ready = _wait(_deployer(tmp_path, LoopbackRunner(tmp_path, _outputs(kube_api))))
    assert ready.base_url == "http://alb.example"
    assert kube_api.hits[IEC_PATH] == 3


def test_g15_failed_state_stops_at_once_with_the_objects_message(tmp_path, kube_api):
    kube_api.answer(
        IEC_PATH,
        k.iec("DeploymentInProgress"),
        k.iec("DeploymentFailed", message="Insufficient nvidia.com/gpu on ml.g5.8xlarge"),
    )
    with pytest.raises(EndpointFailed, match=r"DeploymentFailed: Insufficient nvidia.com/gpu on ml.g5.8xlarge"):
        _wait(_deployer(tmp_path, LoopbackRunner(tmp_path, _outputs(kube_api)), StepClock(1.0)))
    assert kube_api.hits[IEC_PATH] == 2


def test_live_state_wins_over_the_stale_state_output(tmp_path, kube_api):
    """The output says complete (a value from `up`); the object says failed: the object decides."""
    kube_api.answer(IEC_PATH, k.iec("DeploymentFailed", message="model container OOMKilled"))
    with pytest.raises(EndpointFailed, match="OOMKilled"):
        _wait(_deployer(tmp_path, LoopbackRunner(tmp_path, _outputs(kube_api, state="DeploymentComplete"))))


@pytest.mark.parametrize(
    "answer", [k.iec("DeploymentInProgress"), k.HANG], ids=["state-never-completes", "api-server-hangs"]
)
def test_g15_a_hang_hits_the_deadline(tmp_path, kube_api, answer):
    kube_api.answer(IEC_PATH, answer)
    runner = LoopbackRunner(tmp_path, _outputs(kube_api), request_timeout=0.2)
    with pytest.raises(
        ReadyTimeout, match=r"not ready after 600 s \(last state: .*(DeploymentInProgress|did not answer within 0.2 s)"
    ):
        _wait(_deployer(tmp_path, runner, StepClock(150.0)))
    assert kube_api.hits[IEC_PATH] == 4  # 150 s a reading: the clock, not real sleeping, ran out the 600 s


def test_g15_object_not_created_yet_is_waited_for(tmp_path, kube_api):
    kube_api.answer(IEC_PATH, (404, {"kind": "Status", "code": 404}), k.iec("DeploymentComplete", ready=1))
    assert _wait(_deployer(tmp_path, LoopbackRunner(tmp_path, _outputs(kube_api)))).base_url == "http://alb.example"


def test_g15_refused_kubeconfig_stops_the_wait_naming_it(tmp_path, kube_api):
    kube_api.auth_status = 403
    with pytest.raises(Exception, match=r"HTTP 403 .* with the `kubeconfig` stack output"):
        _wait(_deployer(tmp_path, LoopbackRunner(tmp_path, _outputs(kube_api))))


def test_g16_null_url_at_up_is_read_from_the_operators_ingress(tmp_path, kube_api):
    kube_api.answer(IEC_PATH, k.iec("DeploymentComplete", ready=1))
    kube_api.answer(
        k.INGRESS.format(ns="hyperpod-inference-system", name="alb-qwen3-4b"),
        k.ingress("k8s-alb-qwen.us-east-1.elb.amazonaws.com"),
    )
    outputs = _outputs(
        kube_api,
        url=None,
        urlKind="operator-alb",
        urlSource="Ingress hyperpod-inference-system/alb-qwen3-4b",
        invocationPath="/v1/chat/completions",
    )
    ready = _wait(_deployer(tmp_path, LoopbackRunner(tmp_path, outputs)))
    assert ready.base_url == "http://k8s-alb-qwen.us-east-1.elb.amazonaws.com"


def test_no_kubeconfig_output_is_a_clear_error_not_a_stale_state(tmp_path):
    runner = LoopbackRunner(
        tmp_path, {"endpoints": {"qwen3-4b": {"backend": "hyperpod", "state": "DeploymentComplete"}}}
    )
    with pytest.raises(
        DeployError, match=r"neither the trial stack nor the base stack exports `kubeconfig`; Fix: set pulumi.baseStack"
    ):
        _wait(_deployer(tmp_path, runner))
