"""The engine container every non-HyperPod backend runs: one builder, one checker (G3-G6, G10-G13).

A Deployment's container, an OME runner and a KServe predictor container are all checked here, so
a model container is held to the same rules as a HyperPod worker whatever wraps it.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .. import engines, hyperpod, instances, probes
from ..problems import Problem
from ..spec import EndpointSpec, HuggingFaceSource

GPU = "nvidia.com/gpu"
CONTAINER_NAME = "engine"
PORT_NAME = "http"
SHM_VOLUME = "dshm"
INSTANCE_LABEL = "node.kubernetes.io/instance-type"
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
HF_TOKEN_ENV = "HF_TOKEN"
# `$VAR` / `${VAR}` in args reach the engine literally; the kubelet expands only `$(VAR)` (autotuner bug 3).
_SHELL_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def served_name(spec: EndpointSpec) -> str:
    return engines.served_model_name(spec.model)


def engine_args(spec: EndpointSpec, model_arg: str) -> list[str]:
    params = hyperpod.engine_params(spec)
    api_key_env = hyperpod.API_KEY_ENV if spec.api_key else None
    args = engines.build_args(spec.engine, model_arg, served_name(spec), hyperpod.port_of(spec), params, api_key_env=api_key_env)
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.revision:
        args += ["--revision", src.revision]  # the engine downloads the model itself: pin it
    return args + list(spec.extra_args)


def env(spec: EndpointSpec, api_key_secret: Optional[str]) -> list[dict[str, Any]]:
    values = {**engines.instance_env(spec.engine, instances.lookup(spec.instance_type)), **spec.env}
    out: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(values.items())]
    if spec.api_key:
        # Outside HyperPod no operator copies env to a router: the key stays in its Secret (S3).
        out.append({"name": hyperpod.API_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": api_key_secret or f"{hyperpod.resource_name(spec)}-api-key", "key": hyperpod.API_KEY_SECRET_KEY}}})
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.token_secret:
        out.append({"name": HF_TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": src.token_secret.name, "key": src.token_secret.key}}})
    return out


def container(spec: EndpointSpec, model_arg: str, mounts: list[dict[str, Any]], api_key_secret: Optional[str] = None, name: str = CONTAINER_NAME) -> dict[str, Any]:
    eng = engines.engine(spec.engine)
    port = hyperpod.port_of(spec)
    return {
        "name": name,
        "image": hyperpod.image_of(spec),
        "command": eng.command,  # G5: the full command; DLC images ignore bare args
        "args": engine_args(spec, model_arg),
        "env": env(spec, api_key_secret),
        "ports": [{"name": PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "resources": hyperpod.resources_of(spec),
        **probes.probe_set(eng.health_path, port, spec.max_deploy_seconds),
        "volumeMounts": [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}, *mounts],
    }


def shm_volume() -> dict[str, Any]:
    return {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}}


def placement(spec: EndpointSpec) -> dict[str, Any]:
    """G11: pinned to the intended instance type, tolerating the GPU taint."""
    return {"nodeSelector": {INSTANCE_LABEL: instances.ec2_name(spec.instance_type.strip().lower())}, "tolerations": [dict(GPU_TOLERATION)]}


# ---------------------------------------------------------------- checks


def _gpus(c: dict[str, Any]) -> Optional[str]:
    limit = ((c.get("resources") or {}).get("limits") or {}).get(GPU)
    return None if limit is None else str(limit)


def _env(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e.get("name"): e for e in c.get("env") or [] if isinstance(e, dict)}


def _tp(parsed: dict[str, Any]) -> int:
    for flag in ("--tensor-parallel-size", "--tp-size", "--tp"):
        value = parsed.get(flag)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return 1


def check_args_expansion(args: Any, base: str) -> list[Problem]:
    problems = []
    for i, arg in enumerate(args if isinstance(args, list) else []):
        text = str(arg)
        for match in _SHELL_REF.finditer(text.replace("$(", "\0(")):
            problems.append(Problem(f"{base}.args[{i}]", arg, "B1", f"${match.group(1)} is not expanded: the kubelet substitutes only $(VAR) and there is no shell, so the engine gets the literal text", f"write $({match.group(1)}) as its own list item"))
    return problems


def check_engine_container(
    c: dict[str, Any],
    base: str,
    instance_type: Optional[str] = None,
    engine: Optional[str] = None,
    require_command: bool = True,
    require_probes: bool = True,
) -> list[Problem]:
    """G3/G5/G6/G10/G11/G12 and B1 on one engine container (probes G4/G13 are the caller's, per kind)."""
    from ..workloads import detect_engine  # noqa: PLC0415 - workloads imports this module

    problems: list[Problem] = []
    engine = engine or detect_engine(c)
    args = [str(a) for a in c.get("args") or []]
    parsed = engines.parse_args(args, engine)
    if not c.get("name"):
        problems.append(Problem(f"{base}.name", None, "B1", "container without a name: the pod is rejected (spec.template.spec.containers[0].name: Required value)", f"name it, e.g. {CONTAINER_NAME!r}"))
    if require_command and not c.get("command"):
        problems.append(Problem(f"{base}.command", None, "G5", "without a full command the image runs its own CMD and ignores the args", "set command, e.g. ['python3', '-m', 'vllm.entrypoints.openai.api_server']"))
    problems += check_args_expansion(c.get("args"), base)
    served = parsed.get("--served-model-name")
    if engine and not isinstance(served, str):
        problems.append(Problem(f"{base}.args", None, "G5", "no --served-model-name: clients must send the full model path", "add --served-model-name <last segment of the model id>"))
    elif isinstance(served, str) and "/" in served:
        problems.append(Problem(f"{base}.args[--served-model-name]", served, "G5", "the served name must be the last path segment of the model id", f"use {engines.served_model_name(served)!r}"))
    if engine == "sglang" and "--enable-metrics" not in parsed:
        problems.append(Problem(f"{base}.args", None, "G6", "SGLang without --enable-metrics 404s on /metrics", "add --enable-metrics"))
    if engine:
        other, foreign = engines.foreign_flags(engine)
        for flag in sorted(set(parsed) & foreign):
            problems.append(Problem(f"{base}.args[{flag}]", parsed[flag], "G10", f"{flag} is a {other} flag; {engine} fails to start on it", f"use the {engine} flag from the parameter map"))
        max_len = engines.PARAMS_BY_KEY["max_model_len"].flag(engine).on
        if max_len not in parsed:
            problems.append(Problem(f"{base}.args", None, "G10", f"no {max_len}: the engine sizes the KV cache for the model's full context and can OOM", f"add {max_len} {engines.DEFAULTS[engine]['max_model_len']}"))
    ports = [p.get("containerPort") for p in c.get("ports") or [] if isinstance(p, dict)]
    port = parsed.get("--port")
    if engine and ports and port is not None and str(port) != str(ports[0]):
        problems.append(Problem(f"{base}.args[--port]", port, "G3", f"engine listens on {port} but the container port is {ports[0]}", f"use one port: --port {ports[0]}"))
    gpus = _gpus(c)
    tp = _tp(parsed)
    if gpus is None:
        problems.append(Problem(f"{base}.resources.limits.{GPU}", None, "G11", "model container without a GPU limit", f"set limits.{GPU}: '{tp}'"))
    elif engine and gpus != str(tp):
        problems.append(Problem(f"{base}.resources.limits.{GPU}", gpus, "G11", f"GPU limit differs from the tensor-parallel size {tp}", f"set limits.{GPU}: '{tp}'"))
    if "CUDA_VISIBLE_DEVICES" in _env(c):
        problems.append(Problem(f"{base}.env[CUDA_VISIBLE_DEVICES]", _env(c)["CUDA_VISIBLE_DEVICES"].get("value"), "G11", "GPU selection by env fights the device plugin (autotuner bug 12)", "remove it; the nvidia.com/gpu limit assigns GPUs"))
    inst = instances.lookup(instance_type) if isinstance(instance_type, str) else None
    if inst is not None and engine:
        present = _env(c)
        for key, value in engines.instance_env(engine, inst).items():
            if (present.get(key) or {}).get("value") != value:
                problems.append(Problem(f"{base}.env[{key}]", (present.get(key) or {}).get("value"), "G12", f"{inst.gpu.model} (compute capability {inst.gpu.compute_capability}) needs {key}={value}", f"set {key}={value}"))
    requests = (c.get("resources") or {}).get("requests") or {}
    if "ephemeral-storage" not in requests:
        problems.append(Problem(f"{base}.resources.requests.ephemeral-storage", None, "G13", "no ephemeral-storage request: the pod is evicted when downloads fill the node", "request ephemeral-storage within node capacity, e.g. 50Gi"))
    if require_probes:
        probe_port = ports[0] if ports and isinstance(ports[0], int) else None
        problems += probes.check_probes({k: c[k] for k in ("readinessProbe", "livenessProbe", "startupProbe") if k in c}, base, probe_port)
    return problems


def check_placement(pod: dict[str, Any], base: str) -> list[Problem]:
    problems = []
    if not pod.get("nodeSelector") and not pod.get("affinity"):
        problems.append(Problem(f"{base}.nodeSelector", None, "G11", "GPU pod not pinned to an instance type: the autoscaler may pick a cheaper GPU (perf-eval notes §3: g4dn instead of g5)", f"set nodeSelector {INSTANCE_LABEL}"))
    if not any(isinstance(t, dict) and t.get("key") == GPU for t in pod.get("tolerations") or []):
        problems.append(Problem(f"{base}.tolerations", None, "G11", "GPU pod does not tolerate the GPU taint", f"add toleration key {GPU}, operator Exists, effect NoSchedule"))
    return problems


def check_shm(c: dict[str, Any], base: str) -> list[Problem]:
    if any(isinstance(m, dict) and m.get("mountPath") == "/dev/shm" for m in c.get("volumeMounts") or []):
        return []
    return [Problem(f"{base}.volumeMounts", None, "G13", "no memory-backed /dev/shm: tensor-parallel NCCL and engine workers run out of shared memory", "mount an emptyDir {medium: Memory} at /dev/shm")]


def instance_of(pod: dict[str, Any]) -> Optional[str]:
    value = (pod.get("nodeSelector") or {}).get(INSTANCE_LABEL)
    return value if isinstance(value, str) else None
