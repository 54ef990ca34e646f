"""The in-cluster load on the pulumi target (stacks/tuning/incluster.py) against the loopback Kubernetes API
server: the ConfigMap and the Indexed Job it creates (L1), the bounded wait, the records read back from the pods'
logs and merged, and the cleanup whatever happened."""

from __future__ import annotations

import json
import threading

import pytest

from benchmarks import incluster as pod
from benchmarks import raw
from benchmarks.loadgen import BenchmarkConfig, LevelResult
from components.rules import load_job
from stacks.tuning import grid as grid_mod
from stacks.tuning import incluster
from stacks.tuning.deploy import Endpoint, Interrupted
from stacks.tuning.measure import BenchmarkFailed, Measurer
from tests.k8s_server import CONFIGMAPS, JOB_STATUS, JOBS, POD_LOG, PODS, Raw

NS = "inference"
NAME = load_job.job_name("load-tune-run-abc-t1")


def _target(kubeconfig) -> incluster.InCluster:
    return incluster.InCluster(
        kubeconfig,
        NS,
        "http://qwen.inference.svc.cluster.local:80",
        "qwen-api-key",
        "http://qwen.inference.svc.cluster.local:80/health",
        "tune-run-abc",
    )


def _config() -> BenchmarkConfig:
    return BenchmarkConfig(
        url="http://alb.example.com",
        model="Qwen/Qwen3-4B",
        concurrency=(6,),
        max_requests=30,
        max_seconds=30,
        timeout=30,
        warmup=0,
        api_key="sk-driver-held-key-0123456789",
    )


def _raw(index: int, ttfts: list[float]) -> bytes:
    """The bytes a pod's Recorder writes: one level, these TTFTs, a reference offset of 0 +- 1 ms."""
    sample = {"wall": 1000.0 + 5, "mono": 5.0, "uncertainty": 1e-6}
    ref = {"lo": -0.001, "hi": 0.001, "kind": "date", "probes": 12}
    lines = [
        {
            "type": "header",
            "format": raw.FORMAT,
            "version": raw.VERSION,
            "process": {"index": index, "host": f"pod-{index}", "clients": 3},
            "config": {"slo": {}},
            "clock": {"start": sample, "end": sample, "reference_start": ref, "reference_end": ref},
        },
        {"type": "level", "level": 0, "mode": "concurrency", "value": 2, "t0": 10.0, "cpu_s": 0.2},
    ]
    lines += [
        {
            "type": "request",
            "level": 0,
            "index": i,
            "ok": True,
            "input_tokens_requested": 10,
            "output_tokens_requested": 2,
            "scheduled": 10.0 + i,
            "start": 10.0 + i,
            "end": 10.2 + i + t,
            "ttft": t,
            "e2e": t + 0.2,
            "itl": [0.2],
            "output_tokens": 2,
        }
        for i, t in enumerate(ttfts)
    ]
    lines.append({"type": "trailer", "requests": len(ttfts), "levels": 1})
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def _pods(n: int = 3, waiting: str | None = None) -> list[dict]:
    pods = []
    for k in range(n):
        status = (
            {
                "containerStatuses": [
                    {"name": "loadgen", "state": {"waiting": {"reason": waiting, "message": "back-off pulling image"}}}
                ]
            }
            if waiting
            else {}
        )
        pods.append(
            {
                "metadata": {
                    "name": f"{NAME}-{k}-x",
                    "annotations": {"batch.kubernetes.io/job-completion-index": str(k)},
                },
                "status": status,
            }
        )
    return pods


def _script(kube_api, logs: dict[int, str], job_answers=None, pods=None) -> None:
    kube_api.answer(
        JOB_STATUS.format(ns=NS, name=NAME),
        *(job_answers or ({"status": {}}, {"status": {"conditions": [{"type": "Complete", "status": "True"}]}})),
    )
    kube_api.answer_lists(PODS.format(ns=NS), pods or _pods())
    for k, text in logs.items():
        kube_api.answer(POD_LOG.format(ns=NS, name=f"{NAME}-{k}-x"), Raw(text.encode()))


def _logs(ttfts_by_pod: list[list[float]]) -> dict[int, str]:
    return {k: "pip noise\n" + pod.frame(_raw(k, t), k) for k, t in enumerate(ttfts_by_pod)}


def _run(kube_api, stop=None):
    return incluster.run_in_cluster(
        _target(kube_api.kubeconfig()), _config(), 3, stop or threading.Event(), poll=0.01, setup_s=0, suffix="t1"
    )


def _deleted(kube_api) -> list[str]:
    return [path for verb, path, _ in kube_api.writes if verb == "DELETE"]


def test_the_job_is_created_waited_for_read_back_merged_and_deleted(kube_api):
    _script(kube_api, _logs([[0.1] * 10, [0.2] * 10, [0.3] * 10]))
    levels, note = _run(kube_api)
    posts = [(path, body) for verb, path, body in kube_api.writes if verb == "POST"]
    assert [p for p, _ in posts] == [CONFIGMAPS.format(ns=NS), JOBS.format(ns=NS)]
    cm, job = posts[0][1], posts[1][1]
    assert load_job.check(job) == [] and job["metadata"] == {"name": NAME, "namespace": NS, "labels": load_job.LABELS}
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (3, 3)
    doc = json.loads(cm["data"]["config.json"])
    # The pods call the in-cluster Service, not the ALB, and the key is never in the ConfigMap.
    assert doc["config"]["url"] == "http://qwen.inference.svc.cluster.local:80" and doc["config"]["api_key"] is None
    assert "sk-driver-held-key" not in json.dumps(cm) + json.dumps(job)
    assert doc["clients"] == 3 and doc["reference"].endswith("/health")
    assert _deleted(kube_api) == [f"{JOBS.format(ns=NS)}/{NAME}", f"{CONFIGMAPS.format(ns=NS)}/{NAME}"]
    (level,) = levels
    assert level.completed == 30 and level.value == 6  # three pods at concurrency 2
    assert (
        level.ttft.p50 == pytest.approx(0.2)
        and level.ttft.min == pytest.approx(0.1)
        and level.ttft.max == pytest.approx(0.3)
    )
    assert (
        note["clocks"]["alignment"] == "wall clocks, checked against the reference"
        and note["levels"][0]["processes"] == 3
    )


def test_a_pod_without_records_fails_the_level_naming_the_client(kube_api):
    logs = _logs([[0.1] * 10, [0.2] * 10, [0.3] * 10])
    logs[2] = logs[2][: logs[2].index(pod.END) - 10]  # the kubelet rotated or cut the log
    _script(kube_api, logs)
    with pytest.raises(incluster.InClusterFailed, match=r"no records from client\(s\) \[2\].*cut short"):
        _run(kube_api)
    assert len(_deleted(kube_api)) == 2


def test_a_pod_that_cannot_pull_its_image_fails_at_once_and_is_cleaned_up(kube_api):
    _script(kube_api, {}, job_answers=({"status": {}},), pods=_pods(waiting="ImagePullBackOff"))
    with pytest.raises(incluster.InClusterFailed, match="ImagePullBackOff"):
        _run(kube_api)
    assert len(_deleted(kube_api)) == 2


def test_a_stop_during_the_run_interrupts_and_cleans_up(kube_api):
    _script(kube_api, {}, job_answers=({"status": {}},))
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        _run(kube_api, stop)
    assert len(_deleted(kube_api)) == 2


def test_a_failed_job_still_has_its_records_read(kube_api):
    """backoffLimit 0: one pod's crash fails the Job; the records of the others name what is missing."""
    logs = _logs([[0.1] * 10, [0.2] * 10])
    _script(
        kube_api,
        logs,
        job_answers=(
            {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}},
        ),
    )
    with pytest.raises(incluster.InClusterFailed, match=r"no records from client\(s\) \[2\]"):
        _run(kube_api)


def test_the_measurer_sends_clients_over_one_to_the_in_cluster_load():
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "target": "pulumi",
            "base": {"name": "qwen", "model": "Qwen/Qwen3-4B"},
            "parameters": {"replicas": [1]},
            "benchmark": {"concurrency": [6], "clients": 3},
        }
    )
    seen = []

    def fake(endpoint, config, clients, stop):
        seen.append((clients, config.concurrency))
        return [LevelResult.from_records("concurrency", 6, [], 0.0, {}, 0.0)]

    def local(config, stop):
        raise AssertionError("one machine's load generator must not run")

    m = Measurer(grid, bench=local, in_cluster=fake)
    with pytest.raises(BenchmarkFailed, match="every request failed"):
        m.measure(Endpoint("http://x", "Qwen/Qwen3-4B"), threading.Event())
    assert seen == [(3, (6,))]

    def broken(endpoint, config, clients, stop):
        raise incluster.InClusterFailed("load Job inference/x: no records from client(s) [1]")

    with pytest.raises(BenchmarkFailed, match="no records from client"):
        Measurer(grid, bench=local, in_cluster=broken).measure(Endpoint("http://x", "Qwen/Qwen3-4B"), threading.Event())


def test_an_endpoint_without_an_in_cluster_service_is_one_line():
    with pytest.raises(incluster.InClusterFailed, match="no in-cluster Service.*benchmark.clients: 1"):
        incluster.bench_in_cluster(Endpoint("http://x", "m"), _config(), 3, threading.Event())


@pytest.mark.parametrize(
    "bench, target, path",
    [
        ({"concurrency": [8], "clients": 2}, "local", "benchmark.clients"),
        ({"concurrency": [2, 8], "clients": 4}, "pulumi", "benchmark.concurrency"),
        ({"concurrency": [8], "clients": 4, "maxRequests": 3}, "pulumi", "benchmark.maxRequests"),
        ({"concurrency": [8], "clients": 65}, "pulumi", "benchmark.clients"),
    ],
)
def test_grid_refuses_clients_it_cannot_run(tmp_path, bench, target, path):
    from components.rules import ConfigError

    grid = tmp_path / "grid.yaml"
    grid.write_text(
        json.dumps(
            {
                "name": "g",
                "target": target,
                "base": {"name": "qwen", "model": "Qwen/Qwen3-4B"},
                "parameters": {"replicas": [1]},
                "benchmark": bench,
            }
        )
    )
    with pytest.raises(ConfigError) as exc:
        grid_mod.load(grid)
    assert [p.path for p in exc.value.problems] == [path]


def test_the_pods_call_the_endpoints_in_cluster_service_the_gateway_would_call():
    from tests.conftest import endpoint

    kube = {"clusters": [{"name": "c"}]}
    plain = incluster.target_for(
        endpoint(backend="kubernetes", namespace="inference", apiKey=True), None, kube, "tune-r-k1"
    )
    assert plain.service_url == "http://qwen3-4b.inference.svc.cluster.local:80"
    assert plain.namespace == "inference" and plain.api_key_secret == "qwen3-4b-api-key"
    assert plain.reference_url == plain.service_url + "/health"
    routed = incluster.target_for(endpoint(backend="hyperpod", intelligentRouting=True), None, kube, "tune-r-k1")
    assert routed.service_url.endswith(".hyperpod-inference-system.svc.cluster.local:8080")
    assert (
        incluster.target_for(endpoint(backend="hyperpod"), None, kube, "t") is None
    )  # the operator's Service: not named by the stack
    assert incluster.target_for(endpoint(backend="kubernetes"), None, None, "t") is None  # no kubeconfig, no pods


def test_the_pulumi_deployer_hands_the_in_cluster_service_to_the_benchmark(tmp_path, kube_api):
    from tests.conftest import endpoint
    from tests.tuning.test_pulumi_live_wait import LoopbackRunner, _deployer

    kube_api.answer(
        "/apis/apps/v1/namespaces/inference/deployments/qwen3-4b",
        {
            "metadata": {"name": "qwen3-4b", "generation": 1},
            "spec": {"replicas": 1},
            "status": {
                "observedGeneration": 1,
                "replicas": 1,
                "readyReplicas": 1,
                "updatedReplicas": 1,
                "availableReplicas": 1,
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            },
        },
    )
    outputs = {
        "kubeconfig": kube_api.kubeconfig(),
        "endpoints": {
            "qwen3-4b": {
                "backend": "kubernetes",
                "namespace": "inference",
                "resourceName": "qwen3-4b",
                "url": "http://alb.example/v1/chat/completions",
            }
        },
    }
    deployer = _deployer(tmp_path, LoopbackRunner(tmp_path, outputs))
    handle = deployer.start("t1", endpoint(backend="kubernetes", namespace="inference"))
    ready = deployer.wait_ready(handle, 60.0, threading.Event())
    assert ready.base_url == "http://alb.example"  # the one-machine load still uses the ALB
    assert ready.in_cluster.service_url == "http://qwen3-4b.inference.svc.cluster.local:80"
    assert ready.in_cluster.kubeconfig == kube_api.kubeconfig() and ready.in_cluster.name == handle.stack


def test_a_refused_create_is_one_line_and_cleans_up(kube_api):
    kube_api.answer("POST " + JOBS.format(ns=NS), (403, {"kind": "Status", "code": 403, "reason": "Forbidden"}))
    _script(kube_api, {})
    with pytest.raises(
        incluster.InClusterFailed, match="refused.*Job inference/.*create.*Fix: use a kubeconfig whose identity may"
    ):
        _run(kube_api)
    assert len(_deleted(kube_api)) == 2  # the ConfigMap created before is removed too


def test_an_api_server_error_while_polling_is_waited_out(kube_api):
    _script(
        kube_api,
        _logs([[0.1] * 10, [0.2] * 10, [0.3] * 10]),
        job_answers=(
            (500, {"kind": "Status", "code": 500}),
            {"status": {"conditions": [{"type": "Complete", "status": "True"}]}},
        ),
    )
    levels, _ = _run(kube_api)
    assert levels[0].completed == 30 and kube_api.hits[JOB_STATUS.format(ns=NS, name=NAME)] == 2
