"""Deployments that run a model: G4 (rollout without a surge on one GPU), G11 placement, G13, and the
Deployment fixer. The engine-container rules every backend shares (G3-G13) are in test_guardrail_contract.py."""

from components.rules import manifests
from components.rules.backends import kubernetes as workloads


def deployment(**container_overrides):
    container = {
        "name": "engine",
        "image": "vllm/vllm-openai:v0.11.0",
        "args": ["--port", "8000"],
        "ports": [{"containerPort": 8000}],
        "resources": {"limits": {"nvidia.com/gpu": "1"}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "timeoutSeconds": 1},
        **container_overrides,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "qwen3-06b", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def found(obj):
    return {(p.rule, p.path) for p in manifests.check(obj)}


def test_g4_default_rolling_update_deadlocks_on_one_gpu():
    assert ("G4", "spec.strategy.rollingUpdate.maxSurge") in found(deployment())


def test_g4_probe_timeout_one_second():
    assert ("G4", "spec.template.spec.containers[0].readinessProbe.timeoutSeconds") in found(deployment())


def test_g11_gpu_pod_pinned_and_tolerating_the_taint():
    problems = found(deployment())
    assert ("G11", "spec.template.spec.nodeSelector") in problems
    assert ("G11", "spec.template.spec.tolerations") in problems


def test_g13_ephemeral_storage_and_shm():
    problems = found(deployment())
    assert ("G13", "spec.template.spec.containers[0].resources.requests.ephemeral-storage") in problems
    assert ("G13", "spec.template.spec.containers[0].volumeMounts") in problems


def test_fix_repairs_rollout_probes_storage_and_shm_and_says_so():
    fixed, changes = workloads.fix_deployment(deployment())
    assert fixed["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    container = fixed["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["timeoutSeconds"] == 5
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in fixed["spec"]["template"]["spec"]["volumes"]
    # The command and the defaults are repaired as on every backend (G5, G10: engine_checks.fix_command/fix_args).
    assert container["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert {c.rule for c in changes} == {"G4", "G5", "G10", "G13"}
    remaining = {p.rule for p in manifests.check(fixed)}
    # Pinning, tolerations and the served name (no model id in the object) need the user's intent: reported, not guessed.
    assert remaining == {"G5", "G11"}


def test_recreate_strategy_is_accepted():
    obj = deployment()
    obj["spec"]["strategy"] = {"type": "Recreate"}
    assert ("G4", "spec.strategy.rollingUpdate.maxSurge") not in found(obj)


def test_cpu_only_deployment_is_not_a_model_pod():
    obj = deployment(image="nginx", args=[], resources={})
    assert workloads.model_containers(obj) == []
    assert found(obj) == set()


def test_g3_deployment_port_flag_disagrees_with_its_container_port():
    """The SGLang DLC port on a plain Deployment: the engine listens on --port 8080, the container port
    (and so the Service and the probes) says 8000."""
    g3 = [p for p in manifests.check(deployment(args=["--port", "8080"])) if p.rule == "G3"]
    assert [(p.path, p.value, p.fix) for p in g3] == [
        ("spec.template.spec.containers[0].args[--port]", "8080", "use one port: --port 8000")
    ]
    assert "listens on 8080 but the container port is 8000" in g3[0].message
    assert [p for p in manifests.check(deployment()) if p.rule == "G3"] == []
