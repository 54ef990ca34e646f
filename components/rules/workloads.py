"""Guardrails on plain Kubernetes workloads that run a model (G3, G4, G11, G12, G13).

A Deployment's model container is checked like a HyperPod worker: health probes that survive model
load, GPUs by limit, no CUDA_VISIBLE_DEVICES, explicit ephemeral storage, a memory-backed /dev/shm,
and a rollout that cannot deadlock on one GPU (incident §13: the surge pod waits forever for the GPU
the old pod holds).
"""

from __future__ import annotations


from typing import Any

from . import engines, probes
from .problems import Change, Problem
from .tree import copy_tree

GPU = "nvidia.com/gpu"
SHM_VOLUME = "dshm"


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    template = ((obj.get("spec") or {}).get("template") or {})
    spec = template.get("spec")
    return spec if isinstance(spec, dict) else {}


def _gpus(container: dict[str, Any]) -> int:
    limits = (container.get("resources") or {}).get("limits") or {}
    try:
        return int(str(limits.get(GPU, 0)))
    except ValueError:
        return 0


def detect_engine(container: dict[str, Any]) -> str | None:
    text = " ".join(str(x) for x in [*(container.get("command") or []), *(container.get("args") or [])[:1], container.get("image", "")]).lower()
    return next((name for name in ("sglang", "vllm") if name in text), None)


def model_containers(obj: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """Containers that run an engine or hold a GPU."""
    containers = _pod_spec(obj).get("containers") or []
    return [(i, c) for i, c in enumerate(containers) if isinstance(c, dict) and (_gpus(c) > 0 or detect_engine(c))]


def _port(container: dict[str, Any]) -> int | None:
    ports = container.get("ports") or []
    if ports and isinstance(ports[0], dict) and isinstance(ports[0].get("containerPort"), int):
        return ports[0]["containerPort"]
    value = engines.parse_args([str(a) for a in container.get("args") or []]).get("--port")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def check_deployment(obj: dict[str, Any]) -> list[Problem]:
    """A Deployment's model containers are checked like a HyperPod worker (backends.container)."""
    from .backends import container as engine_container  # noqa: PLC0415 - it imports this module

    problems: list[Problem] = []
    pod = _pod_spec(obj)
    instance = engine_container.instance_of(pod)
    gpu_pod = False
    for i, container in model_containers(obj):
        base = f"spec.template.spec.containers[{i}]"
        gpu_pod |= _gpus(container) > 0
        problems += engine_container.check_engine_container(container, base, instance, require_command=detect_engine(container) is not None)
        problems += engine_container.check_shm(container, base)
    if gpu_pod:
        problems += _check_rollout(obj)
        problems += engine_container.check_placement(pod, "spec.template.spec")
    return problems


def _check_rollout(obj: dict[str, Any]) -> list[Problem]:
    strategy = (obj.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return []
    surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if str(surge) in ("0", "0%"):
        return []
    return [
        Problem(
            "spec.strategy.rollingUpdate.maxSurge",
            surge,
            "G4",
            "a surge pod waits for the GPU the old pod holds: the rollout deadlocks on a full node",
            "set strategy.rollingUpdate {maxSurge: 0, maxUnavailable: 1} (or type Recreate)",
        )
    ]


def fix_deployment(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    obj = copy_tree(obj)
    changes: list[Change] = []
    gpu_pod = False
    for i, container in model_containers(obj):
        base = f"spec.template.spec.containers[{i}]"
        gpu_pod |= _gpus(container) > 0
        port = _port(container)
        if port is not None:
            engine = detect_engine(container)
            path = engines.engine(engine).health_path if engine else "/health"
            present = {k: container[k] for k in ("readinessProbe", "livenessProbe", "startupProbe") if k in container}
            fixed, c = probes.fix_probes(present, base, path, port)
            container.update(fixed)
            changes += c
        requests = container.setdefault("resources", {}).setdefault("requests", {})
        if "ephemeral-storage" not in requests:
            requests["ephemeral-storage"] = "50Gi"
            changes.append(Change(f"{base}.resources.requests.ephemeral-storage", None, "50Gi", "G13", "explicit, within node capacity"))
        mounts = container.setdefault("volumeMounts", [])
        if not any(isinstance(m, dict) and m.get("mountPath") == "/dev/shm" for m in mounts):
            mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
            pod = obj["spec"]["template"]["spec"]
            if not any(isinstance(v, dict) and v.get("name") == SHM_VOLUME for v in pod.get("volumes") or []):
                pod.setdefault("volumes", []).append({"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}})
            changes.append(Change(f"{base}.volumeMounts[/dev/shm]", None, SHM_VOLUME, "G13", "memory-backed shared memory for the engine"))
    if gpu_pod and _check_rollout(obj):
        spec = obj.setdefault("spec", {})
        old = spec.get("strategy")
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
        changes.append(Change("spec.strategy", old, spec["strategy"], "G4", "no surge pod waiting for a GPU the old pod holds"))
    return obj, changes
