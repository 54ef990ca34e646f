"""The one manifest reader: GPU counting, engine detection, tensor-parallel size, env and pod spec.

Every check that reads a rendered or hand-written object (the backends, the S1 security check, the
stack checks) reads it through these, so "which engine is this?" has one answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import engines, instances
from ..endpoint import ENGINE_LABEL, GPU

INSTANCE_LABEL = "node.kubernetes.io/instance-type"
TP_FLAGS = ("--tensor-parallel-size", "--tp-size", "--tp")


def gpu_count(value: Any) -> int:
    """A GPU quantity as a number: 0 when absent or not an integer."""
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def gpu_limit(resources: Any) -> str | None:
    """`resources.limits["nvidia.com/gpu"]` as written (a string), None when unset."""
    limits = (resources.get("limits") if isinstance(resources, dict) else None) or {}
    limit = limits.get(GPU) if isinstance(limits, dict) else None
    return None if limit is None else str(limit)


def detect_engine(container: Mapping[str, Any], labels: Mapping[str, Any] | None = None) -> str | None:
    """The engine a container runs, from its command, first argument and image; then, for a
    container that names none of them (an OME runner: the runtime holds image and command), from
    its object's `llm-serving/engine` label. None when unknown."""
    args = container.get("args")
    args = args if isinstance(args, list) else []
    command = container.get("command")
    command = command if isinstance(command, list) else []
    text = " ".join(str(x) for x in [*command, *args[:1], container.get("image", "")]).lower()
    found = next((name for name in ("sglang", "vllm") if name in text), None)
    label = (labels or {}).get(ENGINE_LABEL)
    return found or (label if label in ("sglang", "vllm") else None)


def labels_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def at(obj: Any, path: str) -> Any:
    """The value at a message path such as `spec.template.spec.containers[0]` (None when absent)."""
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        if part.startswith("["):
            index = int(part[1:-1])
            obj = obj[index] if isinstance(obj, list) and index < len(obj) else None
        else:
            obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def str_args(args: Any) -> list[str]:
    return [str(a) for a in args] if isinstance(args, list) else []


def tensor_parallel(parsed: Mapping[str, Any]) -> int:
    """Tensor-parallel size from parsed (canonical) flags; 1 when unset."""
    for flag in TP_FLAGS:
        value = parsed.get(flag)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return 1


def dict_at(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """`obj[key]` itself when it is a dict, else an empty dict."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def list_at(obj: Mapping[str, Any], key: str) -> list[Any]:
    """`obj[key]` itself when it is a list, else an empty list."""
    value = obj.get(key)
    return value if isinstance(value, list) else []


def env_map(env: Any) -> dict[str | None, dict[str, Any]]:
    """A container's env list keyed by name (HyperPod's `environmentVariables` has the same shape); an entry
    without a name is keyed None."""
    return {e.get("name"): e for e in env if isinstance(e, dict)} if isinstance(env, list) else {}


def pod_spec(obj: Mapping[str, Any]) -> dict[str, Any]:
    """`spec.template.spec` of a workload, {} when absent."""
    template = (obj.get("spec") or {}).get("template") or {}
    spec = template.get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def instance_of(pod: Mapping[str, Any]) -> str | None:
    """The instance type a pod (or OME engine / KServe predictor) is pinned to by node selector."""
    value = (pod.get("nodeSelector") or {}).get(INSTANCE_LABEL)
    return value if isinstance(value, str) else None


def first_instance_type(spec: Mapping[str, Any]) -> str | None:
    """An InferenceEndpointConfig's instance type: `instanceType`, or the first of `instanceTypes` (the operator's
    preference; CRD `instanceTypes`)."""
    one, many = spec.get("instanceType"), spec.get("instanceTypes")
    if isinstance(one, str):
        return one
    return many[0] if isinstance(many, list) and many and isinstance(many[0], str) else None


def instance(name: Any) -> instances.InstanceType | None:
    return instances.lookup(name) if isinstance(name, str) else None


def runs_model(container: Mapping[str, Any]) -> bool:
    """An engine container: it holds a GPU limit or runs a known engine (sidecars do neither)."""
    return (
        gpu_count(((container.get("resources") or {}).get("limits") or {}).get(GPU)) > 0
        or detect_engine(container) is not None
    )


def parse(args: list[str], engine: str | None) -> dict[str, Any]:
    return engines.parse_args(args, engine)


def health_path(engine: str | None) -> str:
    """The engine's health route; /health (both engines serve it) when the engine is unknown."""
    return engines.engine(engine).health_path if engine else "/health"
