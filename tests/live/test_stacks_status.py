"""`python -m stacks status` against the loopback Kubernetes API server
(G15): per endpoint backend, state, ready replicas, URL and kind, last condition message; exit 0 when
all are ready, 1 when one is not, 2 on bad input."""

from __future__ import annotations

import json

import pytest

from stacks.__main__ import main
from tests import k8s_server as k


def _write(tmp_path, kube_api, endpoints, **extra):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"kubeconfig": kube_api.kubeconfig(), "endpoints": endpoints, **extra}))
    return str(path)


LLAMA = {
    "backend": "hyperpod",
    "namespace": "inference",
    "resourceName": "llama",
    "url": "https://llm.example.com/v1/chat/completions",
    "urlKind": "alb",
    "urlSource": "Ingress inference/llm-llama",
}
QWEN = {
    "backend": "kubernetes",
    "namespace": "inference",
    "resourceName": "qwen",
    "url": None,
    "urlKind": "operator-alb",
    "urlSource": "Ingress inference/llm-qwen",
}


def test_g15_stacks_status_all_ready_exits_0_with_state_replicas_url_and_message(tmp_path, kube_api, capsys):
    kube_api.answer(
        k.IEC.format(ns="inference", name="llama"),
        k.iec(
            "DeploymentComplete",
            ready=1,
            conditions=[k.condition("DeploymentReady", "True", "Available", "Deployment is ready")],
        ),
    )
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen"),
        k.deployment(
            "True", "True", "NewReplicaSetAvailable", 'ReplicaSet "qwen-5d9" has successfully progressed.', ready=2
        ),
    )
    kube_api.answer(
        k.INGRESS.format(ns="inference", name="llm-qwen"), k.ingress("k8s-qwen.us-east-1.elb.amazonaws.com")
    )
    code = main(["status", "--outputs", _write(tmp_path, kube_api, {"llama": LLAMA, "qwen": QWEN})])
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "ready: DeploymentComplete" in out
        and "1/1" in out
        and "https://llm.example.com/v1/chat/completions (alb)" in out
    )
    assert "llama: DeploymentReady: Deployment is ready" in out
    assert (
        "ready: Ready" in out and "2/2" in out and "http://k8s-qwen.us-east-1.elb.amazonaws.com/ (operator-alb)" in out
    )


def test_stacks_status_names_an_hpa_whose_metric_the_adapter_does_not_serve(tmp_path, kube_api, capsys):
    """The HPA controller sets ScalingActive False, reason FailedGetPodsMetric, "the HPA was unable to compute the
    replica count: ..." (kubernetes/kubernetes pkg/controller/podautoscaler/horizontal.go,
    getUnableComputeReplicaCountCondition) when the custom-metrics API serves no such metric, as with a
    prometheus-adapter whose rules name `vllm:request_success` otherwise. The endpoint still serves: exit 0."""
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen"),
        k.deployment(
            "True", "True", "NewReplicaSetAvailable", 'ReplicaSet "qwen-5d9" has successfully progressed.', ready=2
        ),
    )
    kube_api.answer(
        k.HPA.format(ns="inference", name="qwen"),
        k.hpa(
            "False",
            "FailedGetPodsMetric",
            "the HPA was unable to compute the replica count: unable to get metric vllm:request_success: unable to fetch metrics from custom metrics API: "
            "the server could not find the metric vllm:request_success for pods",
        ),
    )
    code = main(["status", "--outputs", _write(tmp_path, kube_api, {"qwen": QWEN})])
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "qwen: autoscaler: ScalingActive=False: FailedGetPodsMetric: the HPA was unable to compute the replica count: "
        "unable to get metric vllm:request_success:"
    ) in out


def test_stacks_status_is_quiet_about_an_hpa_that_reads_its_metric(tmp_path, kube_api, capsys):
    kube_api.answer(
        k.DEPLOYMENT.format(ns="inference", name="qwen"),
        k.deployment(
            "True", "True", "NewReplicaSetAvailable", 'ReplicaSet "qwen-5d9" has successfully progressed.', ready=2
        ),
    )
    kube_api.answer(
        k.HPA.format(ns="inference", name="qwen"),
        k.hpa(
            "True",
            "ValidMetricFound",
            "the HPA was able to successfully calculate a replica count from pods metric vllm:request_success",
        ),
    )
    code = main(["status", "--outputs", _write(tmp_path, kube_api, {"qwen": QWEN})])
    out = capsys.readouterr().out
    assert code == 0 and "autoscaler" not in out


def test_g15_stacks_status_failed_exits_1_with_the_objects_message_printed_literally(tmp_path, kube_api, capsys):
    kube_api.answer(
        k.IEC.format(ns="inference", name="llama"),
        k.iec("DeploymentFailed", message="[/bold] image lmcache/vllm-openai:[v9] not found"),
    )
    code = main(["status", "--outputs", _write(tmp_path, kube_api, {"llama": LLAMA})])
    out = capsys.readouterr().out
    assert code == 1
    assert "failed: DeploymentFailed" in out
    assert "llama: DeploymentFailed: [/bold] image lmcache/vllm-openai:[v9] not found\n" in out


def test_g15_stacks_status_not_created_yet_is_pending_exit_1(tmp_path, kube_api, capsys):
    code = main(["status", "--outputs", _write(tmp_path, kube_api, {"llama": LLAMA})])
    out = capsys.readouterr().out
    assert code == 1
    assert "pending: not created" in out and "llama: llama not found in namespace inference yet" in out


def test_g15_stacks_status_hanging_api_server_is_bounded_and_reported(tmp_path, kube_api, capsys):
    kube_api.answer(k.IEC.format(ns="inference", name="llama"), k.HANG)
    code = main(["status", "--timeout", "0.2", "--outputs", _write(tmp_path, kube_api, {"llama": LLAMA})])
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "unreachable" in out
        and "llama: reading inferenceendpointconfigs.inference.sagemaker.aws.amazon.com inference/llama: the API server did not answer within 0.2 s"
        in out
    )


def test_g15_stacks_status_refused_kubeconfig_exits_2_naming_it(tmp_path, kube_api, capsys):
    kube_api.auth_status = 401
    code = main(["status", "--stack", "dev", "--outputs", _write(tmp_path, kube_api, {"llama": LLAMA})])
    out = capsys.readouterr().out
    assert code == 2
    assert "HTTP 401 Unauthorized) with the `kubeconfig` output of stack dev" in " ".join(out.split())


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "is a JSON list, not a map of outputs"),
        ('{"endpoints": {}}', "exports no `endpoints` map"),
        (
            '{"endpoints": {"llama": {"backend": "hyperpod"}}, "kubeconfig": "[secret]"}',
            "exports no readable `kubeconfig`",
        ),
        (
            '{"endpoints": {"llama": {"backend": "hyperpod"}}, "kubeconfig": "clusters: [a"}',
            "the `kubeconfig` output of stack dev is not a kubeconfig document (while parsing a flow sequence)",
        ),
        (
            '{"endpoints": {"llama": {"backend": "hyperpod"}}, "kubeconfig": "users: []"}',
            "the `kubeconfig` output of stack dev has no `clusters`",
        ),
        (
            '{"endpoints": {"llama": {"backend": "sagemaker"}}, "kubeconfig": {"clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}], "users": [{"name": "u", "user": {}}], "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"}}',
            "endpoints.llama.backend is 'sagemaker'",
        ),
    ],
)
def test_g15_stacks_status_bad_outputs_exit_2_with_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "outputs.json"
    path.write_text(content)
    code = main(["status", "--outputs", str(path)])
    out = capsys.readouterr().out
    assert code == 2
    assert message in out and "Traceback" not in out


def test_g15_stacks_status_without_the_pulumi_cli_exits_2_saying_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `pulumi` here
    code = main(["status", "--stack", "dev"])
    out = capsys.readouterr().out
    assert code == 2
    assert out.count("\n") == 1 and "the `pulumi` CLI is not on PATH" in out and "--outputs FILE" in out


@pytest.mark.parametrize("value", ["0", "-1", "3601", "1e300", "inf", "nan", "x"])
def test_status_timeout_is_bounded(value, capsys):
    # 1e300 s once reached the deadline thread's wait, which overflows past ~292 years.
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--timeout", value])
    assert exit_.value.code == 2
    assert (
        f"argument --timeout: {value!r} is not a number of seconds above 0 and at most 3600; Fix: e.g. --timeout 10"
        in capsys.readouterr().err
    )
