"""The engine container every non-HyperPod backend runs: one builder, and the checks of the Pod
around it (B1 container basics, G11 placement). G3-G13 on the container are `engine_checks`.

A Deployment's container, an OME runner and a KServe predictor container are all built here from the
resolved endpoint, so a model container is the same whatever wraps it.
"""

from __future__ import annotations

import re
from typing import Any

import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.reader as reader

from .. import engines, instances
from ..catalog import B1, G11, G13
from ..endpoint import API_KEY_SECRET_KEY, GPU, ResolvedEndpoint
from ..problems import Change, Problem
from ..spec import HuggingFaceSource
from .reader import INSTANCE_LABEL

CONTAINER_NAME = "engine"
PORT_NAME = "http"
SHM_VOLUME = "dshm"
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}
HF_TOKEN_ENV = "HF_TOKEN"
# `$VAR` / `${VAR}` in args reach the engine literally; the kubelet expands only `$(VAR)` (an OME engine got the literal `$MODEL_PATH`).
_SHELL_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def env(r: ResolvedEndpoint, api_key_secret: str | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(r.env.items())]
    if r.api_key_env:
        # Outside HyperPod no operator copies env to a router: the key stays in its Secret (S3).
        out.append(
            {
                "name": r.api_key_env,
                "valueFrom": {"secretKeyRef": {"name": api_key_secret or r.api_key_secret, "key": API_KEY_SECRET_KEY}},
            }
        )
    src = r.spec.model_source
    if isinstance(src, HuggingFaceSource) and src.token_secret:
        out.append(
            {
                "name": HF_TOKEN_ENV,
                "valueFrom": {"secretKeyRef": {"name": src.token_secret.name, "key": src.token_secret.key}},
            }
        )
    return out


def container(
    r: ResolvedEndpoint,
    model_arg: str,
    mounts: list[dict[str, Any]],
    api_key_secret: str | None = None,
    name: str = CONTAINER_NAME,
) -> dict[str, Any]:
    return {
        "name": name,
        "image": r.image,
        "command": r.command,  # G5: the full command; DLC images ignore bare args
        "args": r.args(model_arg),
        "env": env(r, api_key_secret),
        "ports": [{"name": PORT_NAME, "containerPort": r.port, "protocol": "TCP"}],
        "resources": r.resources,
        **r.probes,
        "volumeMounts": [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}, *mounts],
    }


def shm_volume() -> dict[str, Any]:
    return {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}}


def placement(r: ResolvedEndpoint) -> dict[str, Any]:
    """G11: pinned to the intended instance type, tolerating the GPU taint."""
    return {
        "nodeSelector": {INSTANCE_LABEL: instances.ec2_name(r.spec.instance_type.strip().lower())},
        "tolerations": [dict(GPU_TOLERATION)],
    }


# ---------------------------------------------------------------- checks


def check_args_expansion(args: Any, base: str) -> list[Problem]:
    problems = []
    for i, arg in enumerate(args if isinstance(args, list) else []):
        text = str(arg)
        for match in _SHELL_REF.finditer(text.replace("$(", "\0(")):
            problems.append(
                Problem(
                    f"{base}.args[{i}]",
                    arg,
                    B1,
                    f"${match.group(1)} is not expanded: the kubelet substitutes only $(VAR) and there is no shell, so the engine gets the literal text",
                    f"write $({match.group(1)}) as its own list item",
                )
            )
    return problems


def check_engine_container(c: dict[str, Any], view: engine_checks.EngineContainerView) -> list[Problem]:
    """B1 (a named container, `$(VAR)` args) and G3-G13 (engine_checks) on one Kubernetes engine container."""
    problems: list[Problem] = []
    if not c.get("name"):
        problems.append(
            Problem(
                f"{view.path}.name",
                None,
                B1,
                "container without a name: the pod is rejected (spec.template.spec.containers[0].name: Required value)",
                f"name it, e.g. {CONTAINER_NAME!r}",
            )
        )
    problems += check_args_expansion(c.get("args"), view.path)
    return problems + engine_checks.check(view)


def check_placement(pod: dict[str, Any], base: str) -> list[Problem]:
    problems = []
    if not pod.get("nodeSelector") and not pod.get("affinity"):
        problems.append(
            Problem(
                f"{base}.nodeSelector",
                None,
                G11,
                "GPU pod not pinned to an instance type: the autoscaler may pick a cheaper GPU (a deployment meant for g5 ran on a g4dn T4)",
                f"set nodeSelector {INSTANCE_LABEL}",
            )
        )
    if not any(isinstance(t, dict) and t.get("key") == GPU for t in pod.get("tolerations") or []):
        problems.append(
            Problem(
                f"{base}.tolerations",
                None,
                G11,
                "GPU pod does not tolerate the GPU taint",
                f"add toleration key {GPU}, operator Exists, effect NoSchedule",
            )
        )
    return problems


def fix_engine_container(
    container: dict[str, Any], base: str, pod: dict[str, Any], instance: str | None
) -> list[Change]:
    """Every repair of an engine container in a pod spec (`pod`: its volumes), whatever the backend: the command,
    `--port` = the container port, the served model name where the model flag names a model id (a mounted path
    names none), SGLang's metrics, the defaults, the GPU workaround env (engine_checks), the probes (G4), an
    ephemeral-storage request and memory-backed /dev/shm (G13). Mutates `container` and `pod`."""
    changes: list[Change] = []
    engine = reader.detect_engine(container)
    ports = container.get("ports") or []
    port = (
        ports[0].get("containerPort")
        if ports and isinstance(ports[0], dict) and isinstance(ports[0].get("containerPort"), int)
        else None
    )
    if engine is not None:
        changes += engine_checks.fix_command(container, base, engine)
        args = [str(a) for a in container.get("args") or []]
        model = engines.parse_args(args, engine).get(engines.canonical_flag(engine, engines.engine(engine).model_flag))
        source = model if isinstance(model, str) and not model.startswith(("/", "$")) else None
        fixed, made = engine_checks.fix_args(args, engine, port, source, f"{base}.args")
        if made:
            container["args"] = fixed
        changes += made + engine_checks.fix_instance_env(container, "env", base, engine, instance)
    if port is None:
        value = engines.parse_args([str(a) for a in container.get("args") or []]).get("--port")
        port = int(value) if isinstance(value, str) and value.isdigit() else None
    if port is not None:
        changes += engine_checks.fix_probes(container, base, engine, port)
    changes += engine_checks.fix_ephemeral_storage(container, base)
    return changes + fix_shm(container, pod, base)


def fix_shm(container: dict[str, Any], volumes_holder: dict[str, Any], base: str) -> list[Change]:
    """G13: memory-backed /dev/shm mounted in `container`, its volume in `volumes_holder` (a pod spec, an OME
    runtime's engineConfig). Mutates both."""
    mounts = container.setdefault("volumeMounts", [])
    if any(isinstance(m, dict) and m.get("mountPath") == "/dev/shm" for m in mounts):
        return []
    mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    if not any(isinstance(v, dict) and v.get("name") == SHM_VOLUME for v in volumes_holder.get("volumes") or []):
        volumes_holder.setdefault("volumes", []).append(shm_volume())
    return [
        Change(f"{base}.volumeMounts[/dev/shm]", None, SHM_VOLUME, G13, "memory-backed shared memory for the engine")
    ]
