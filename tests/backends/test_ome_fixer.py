"""OME objects written by hand are repaired half by half: the ClusterServingRuntime owns the runner's command,
probes and /dev/shm; the InferenceService its args, env and resources. What neither half can know (the served
name of a model read from $(MODEL_PATH); which of the GPU limit or the tensor-parallel size is meant) is refused,
not guessed."""

from __future__ import annotations

from components.rules.backends import ome
from components.rules.catalog import G3, G4, G5, G6, G10, G12, G13

RUNTIME = {
    "apiVersion": "ome.io/v1beta1",
    "kind": "ClusterServingRuntime",
    "metadata": {"name": "team-a-llama"},
    "spec": {
        "engineConfig": {
            "runner": {
                "name": "ome-container",
                "image": "lmsysorg/sglang:v0.5.19-cu129",
                "command": ["python3", "-m", "sglang.launch_server"],
                "ports": [{"name": "http", "containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "timeoutSeconds": 1},
            },
            "nodeSelector": {"node.kubernetes.io/instance-type": "g4dn.xlarge"},
        }
    },
}

SERVICE = {
    "apiVersion": "ome.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "llama", "namespace": "team-a", "labels": {"llm-serving/engine": "sglang"}},
    "spec": {
        "engine": {
            "nodeSelector": {"node.kubernetes.io/instance-type": "g4dn.xlarge"},
            "runner": {
                "name": "ome-container",
                "args": ["--model-path", "$(MODEL_PATH)", "--served-model-name", "llama"],
                "resources": {"limits": {"nvidia.com/gpu": "1"}},
            },
        }
    },
}


def test_g3_g4_g13_the_runtime_gets_probes_on_its_port_and_memory_backed_shm():
    fixed, changes = ome.fix(RUNTIME)
    runner = fixed["spec"]["engineConfig"]["runner"]
    assert runner["readinessProbe"]["httpGet"]["port"] == 8080
    assert runner["readinessProbe"]["timeoutSeconds"] > 1
    assert {"name": "dshm", "mountPath": "/dev/shm"} in runner["volumeMounts"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in fixed["spec"]["engineConfig"]["volumes"]
    assert {G3, G4, G13} <= {c.rule for c in changes}
    assert not [p for p in ome.check(fixed) if p.rule in (G3, G4, G13)]
    assert RUNTIME["spec"]["engineConfig"]["runner"]["readinessProbe"]["httpGet"]["port"] == 8000  # input untouched


def test_g6_g10_g12_g13_the_inference_service_gets_metrics_defaults_t4_env_and_storage():
    fixed, changes = ome.fix(SERVICE)
    runner = fixed["spec"]["engine"]["runner"]
    assert runner["args"] == [
        "--model-path",
        "$(MODEL_PATH)",
        "--served-model-name",
        "llama",
        "--enable-metrics",
        "--context-length",
        "12288",
        "--mem-fraction-static",
        "0.9",
    ]
    assert runner["env"] == [{"name": "NCCL_P2P_DISABLE", "value": "1"}]
    assert runner["resources"]["requests"]["ephemeral-storage"] == "50Gi"
    assert {c.rule for c in changes} == {G6, G10, G12, G13}
    assert ome.fix(fixed) == (fixed, [])


def test_g5_a_missing_served_name_is_reported_not_invented_from_the_mounted_path():
    unnamed = {
        **SERVICE,
        "spec": {
            "engine": {
                **SERVICE["spec"]["engine"],
                "runner": {**SERVICE["spec"]["engine"]["runner"], "args": ["--model-path", "$(MODEL_PATH)"]},
            }
        },
    }
    fixed, changes = ome.fix(unnamed)
    assert "--served-model-name" not in fixed["spec"]["engine"]["runner"]["args"]
    assert G5 not in {c.rule for c in changes}
    assert G5 in {p.rule for p in ome.check(fixed)}
    assert G5 in ome.BACKEND.refusals
