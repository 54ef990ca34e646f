"""G3-G13 on an engine container, written once over a view every backend maps its objects to.

A HyperPod worker (`spec.worker`), a Deployment container, an OME runner and a KServe predictor
container differ in where their fields sit (`environmentVariables` or `env`, `worker.probes` or the
container itself, `modelInvocationPort` or `ports`). `EngineContainerView` names those places once
per kind (the paths are the messages' paths); `check` holds the rules. A backend keeps only its
kind-specific rules (HyperPod's metrics port, G7 and G9; a rollout's surge, G4; placement, G11).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import components.rules.backends.reader as reader

from .. import engines, instances, probes
from ..catalog import G3, G4, G5, G6, G10, G11, G12, G13
from ..endpoint import GPU
from ..probes import DEFAULT_LOAD_SECONDS
from ..problems import Change, Problem

PROBE_KINDS = ("readinessProbe", "livenessProbe", "startupProbe")
DEFAULT_EPHEMERAL_STORAGE = "50Gi"


# The guardrails of an engine container, whatever the backend: each backend repairs them on a hand-written object or
# declares which it only refuses (`Backend.refusals`); docs/guardrails.md lists both.
ENGINE_CONTAINER_RULES = (G3, G4, G5, G6, G10, G11, G12, G13)


@dataclass(frozen=True)
class EngineContainerView:
    path: str  # the container's path in its object, e.g. spec.worker or spec.template.spec.containers[0]
    command: list[Any]
    args: list[str]
    flags: dict[str, Any]  # parsed, canonical flags
    env: dict[str | None, dict[str, Any]]  # entries by name (None: those without one)
    env_path: str  # where the env list sits
    port: int | None  # the declared engine port (container port / modelInvocationPort)
    port_label: str  # how the messages name that port
    gpu_limit: str | None
    requests: dict[str, Any]
    probes: dict[str, Any] | None  # None: another object owns the probes (OME's runtime)
    probes_path: str
    mounts: list[Any] | None  # None: /dev/shm is not this object's (the HyperPod operator's)
    instance_type: str | None
    engine: str | None
    tp: int
    server: bool = False  # known to be the model server (a HyperPod worker) even when the engine is unknown
    require_command: bool = True
    model_id: str | None = None  # the model id the served name must end with, when the object says
    load_seconds: int = DEFAULT_LOAD_SECONDS  # imported by name: in this class body `probes` is the field
    # The port as written when it is no integer: shown in the message, so the policy pack can tell a value
    # unknown during preview (which it never reports) from a missing one.
    port_value: Any = None

    @property
    def instance(self) -> instances.InstanceType | None:
        return reader.instance(self.instance_type)

    @property
    def is_engine(self) -> bool:
        return self.server or self.engine is not None


def worker_view(spec: Mapping[str, Any]) -> EngineContainerView:
    """A HyperPod InferenceEndpointConfig's `spec.worker`."""
    worker = reader.dict_at(spec, "worker")
    engine = reader.detect_engine(worker)
    args = reader.str_args(worker.get("args"))
    flags = reader.parse(args, engine)
    port = (worker.get("modelInvocationPort") or {}).get("containerPort")
    resources = reader.dict_at(worker, "resources")
    hf_id = ((spec.get("modelSourceConfig") or {}).get("huggingFaceModel") or {}).get("modelId")
    return EngineContainerView(
        path="spec.worker",
        command=reader.list_at(worker, "command"),
        args=args,
        flags=flags,
        env=reader.env_map(worker.get("environmentVariables")),
        env_path="spec.worker.environmentVariables",
        port=port if isinstance(port, int) else None,
        port_value=port,
        port_label="modelInvocationPort",
        gpu_limit=reader.gpu_limit(resources),
        requests=resources.get("requests") or {},
        probes=reader.dict_at(worker, "probes"),
        probes_path="spec.worker.probes",
        mounts=None,
        instance_type=reader.first_instance_type(spec),
        engine=engine,
        tp=reader.tensor_parallel(flags),
        server=True,
        model_id=hf_id if isinstance(hf_id, str) and hf_id else None,
        load_seconds=spec.get("maxDeployTimeInSeconds", 3600),
    )


def container_view(
    c: Mapping[str, Any],
    path: str,
    instance_type: str | None,
    require_command: bool = True,
    own_probes: bool = True,
    labels: Mapping[str, Any] | None = None,
) -> EngineContainerView:
    """A Kubernetes container: a Deployment's, an OME runner (`own_probes=False`: the runtime has
    them; `labels`: its object's, which name the engine) or a KServe predictor's."""
    engine = reader.detect_engine(c, labels)
    args = reader.str_args(c.get("args"))
    flags = reader.parse(args, engine)
    ports = [p.get("containerPort") for p in c.get("ports") or [] if isinstance(p, dict)]
    resources = reader.dict_at(c, "resources")
    return EngineContainerView(
        path=path,
        command=reader.list_at(c, "command"),
        args=args,
        flags=flags,
        env=reader.env_map(c.get("env")),
        env_path=f"{path}.env",
        port=ports[0] if ports and isinstance(ports[0], int) else None,
        port_label="the container port",
        gpu_limit=reader.gpu_limit(resources),
        requests=resources.get("requests") or {},
        probes={k: c[k] for k in PROBE_KINDS if k in c} if own_probes else None,
        probes_path=path,
        mounts=(c.get("volumeMounts") or []) if own_probes else None,
        instance_type=instance_type,
        engine=engine,
        tp=reader.tensor_parallel(flags),
        require_command=require_command,
    )


def check(view: EngineContainerView) -> list[Problem]:
    """Every G3-G13 problem of one engine container (G4 here is its probes; rollouts are the backend's)."""
    return [
        *check_port(view),
        *check_probes(view),
        *check_command(view),
        *check_engine_args(view),
        *check_gpus(view),
        *check_storage(view),
    ]


def check_port(view: EngineContainerView) -> list[Problem]:
    """G3: the engine listens on the declared port."""
    if view.port is None:
        return (
            [
                Problem(
                    f"{view.path}.modelInvocationPort.containerPort",
                    view.port_value,
                    G3,
                    "the engine port is not set",
                    "set the engine's port",
                )
            ]
            if view.server
            else []
        )
    if not view.is_engine:
        return []
    arg_port = view.flags.get("--port")
    if arg_port is None:
        return [
            Problem(
                f"{view.path}.args",
                None,
                G3,
                f"no --port: the engine listens on its image default, not {view.port}",
                f"add --port {view.port}",
            )
        ]
    if str(arg_port) != str(view.port):
        return [
            Problem(
                f"{view.path}.args[--port]",
                arg_port,
                G3,
                f"engine listens on {arg_port} but {view.port_label} is {view.port}",
                f"use one port: --port {view.port}",
            )
        ]
    return []


def check_probes(view: EngineContainerView) -> list[Problem]:
    """G4 (probes that survive model load) and G3 (probes on the engine port)."""
    if view.probes is None:
        return []
    return probes.check_probes(view.probes, view.probes_path, view.port, view.load_seconds)


def check_full_command(view: EngineContainerView) -> list[Problem]:
    """G5: the image's own CMD ignores the args."""
    if not view.require_command or view.command:
        return []
    return [
        Problem(
            f"{view.path}.command",
            None,
            G5,
            "without a full command the DLC images run their fixed CMD and ignore args (served name, port, engine args)",
            "set command, e.g. ['python3', '-m', 'vllm.entrypoints.openai.api_server']",
        )
    ]


def check_command(view: EngineContainerView) -> list[Problem]:
    """G5: a full command and the served name clients send; G6: SGLang exports metrics."""
    out = check_full_command(view)
    served = view.flags.get("--served-model-name")
    if not isinstance(served, str):
        if view.is_engine:
            out.append(
                Problem(
                    f"{view.path}.args",
                    None,
                    G5,
                    "no --served-model-name: the engine serves the model as /opt/ml/model and the router answers 'Model not found'",
                    "add --served-model-name <last segment of the model id>",
                )
            )
    else:
        expected = engines.served_model_name(view.model_id) if view.model_id else None
        if "/" in served or (expected and served != expected):
            out.append(
                Problem(
                    f"{view.path}.args[--served-model-name]",
                    served,
                    G5,
                    "the served name must be the last path segment of the model id, the name every client sends",
                    f"use {expected or engines.served_model_name(served)!r}",
                )
            )
    if view.engine == "sglang" and "--enable-metrics" not in view.flags:
        out.append(
            Problem(
                f"{view.path}.args",
                None,
                G6,
                "SGLang without --enable-metrics 404s on /metrics; the router drops the backend after ~1 minute",
                "add --enable-metrics",
            )
        )
    return out


def check_engine_args(view: EngineContainerView) -> list[Problem]:
    """G10: the engine's own flags, and a context length that bounds the KV cache."""
    engine = view.engine
    if engine is None:
        return []
    out = []
    other, foreign = engines.foreign_flags(engine)
    for flag in sorted(set(view.flags) & foreign):
        out.append(
            Problem(
                f"{view.path}.args[{flag}]",
                view.flags[flag],
                G10,
                f"{flag} is a {other} flag; {engine} fails to start on it",
                f"use the {engine} flag from the parameter map",
            )
        )
    max_len_flag = engines.value_flag("max_model_len", engine)
    if max_len_flag not in view.flags:
        out.append(
            Problem(
                f"{view.path}.args",
                None,
                G10,
                f"no {max_len_flag}: the engine sizes the KV cache for the model's full context and can OOM",
                f"add {max_len_flag} {engines.DEFAULTS[engine]['max_model_len']}",
            )
        )
    return out


def check_gpus(view: EngineContainerView) -> list[Problem]:
    """G11: GPUs by limit = tensor-parallel size, within the instance, never by env; G12: the GPU's env."""
    out = []
    tp, limit = view.tp, view.gpu_limit
    where = f"{view.path}.resources.limits.{GPU}"
    if limit is None:
        out.append(
            Problem(where, None, G11, "no GPU limit: the pod is scheduled without a GPU", f"set limits.{GPU}: '{tp}'")
        )
    elif view.is_engine and limit != str(tp):
        out.append(
            Problem(
                where, limit, G11, f"GPU limit differs from the tensor-parallel size {tp}", f"set limits.{GPU}: '{tp}'"
            )
        )
    if cuda := view.env.get("CUDA_VISIBLE_DEVICES"):
        out.append(
            Problem(
                f"{view.env_path}[CUDA_VISIBLE_DEVICES]",
                cuda.get("value"),
                G11,
                "GPU selection by env fights the device plugin",
                "remove it; the nvidia.com/gpu limit assigns GPUs",
            )
        )
    inst = view.instance
    if inst is not None and tp > inst.gpus:
        out.append(
            Problem(
                f"{view.path}.args[--tensor-parallel-size]",
                tp,
                G11,
                f"{view.instance_type} has {inst.gpus} GPU(s)",
                f"use tensor-parallel size <= {inst.gpus}",
            )
        )
    if inst is not None and view.engine is not None:
        for key, value in engines.instance_env(view.engine, inst).items():
            present = (view.env.get(key) or {}).get("value")
            if present != value:
                out.append(
                    Problem(
                        f"{view.env_path}[{key}]",
                        present,
                        G12,
                        f"{inst.gpu.model} (compute capability {inst.gpu.compute_capability}) needs {key}={value}",
                        f"set {key}={value}",
                    )
                )
    return out


def check_storage(view: EngineContainerView) -> list[Problem]:
    """G13: explicit ephemeral storage, and a memory-backed /dev/shm where the object owns its mounts."""
    if "ephemeral-storage" in view.requests:
        return check_shm(view)
    return [
        Problem(
            f"{view.path}.resources.requests.ephemeral-storage",
            None,
            G13,
            "no ephemeral-storage request: the kubelet evicts the pod when downloads fill the node",
            "request ephemeral-storage within node capacity, e.g. 50Gi",
        ),
        *check_shm(view),
    ]


def check_shm(view: EngineContainerView) -> list[Problem]:
    if view.mounts is None or any(isinstance(m, dict) and m.get("mountPath") == "/dev/shm" for m in view.mounts):
        return []
    return [
        Problem(
            f"{view.path}.volumeMounts",
            None,
            G13,
            "no memory-backed /dev/shm: tensor-parallel NCCL and engine workers run out of shared memory",
            "mount an emptyDir {medium: Memory} at /dev/shm",
        )
    ]


# ---------------------------------------------------------------- the fixes every container kind shares


def fix_probes(
    holder: dict[str, Any], path: str, engine: str | None, port: int, load_seconds: int = probes.DEFAULT_LOAD_SECONDS
) -> list[Change]:
    """G4/G3: the probes in `holder` (a container, or HyperPod's `worker.probes`) on the engine's
    health route and port, with timeouts that survive a busy engine. Mutates `holder`."""
    health = reader.health_path(engine)
    fixed, changes = probes.fix_probes(
        {k: holder[k] for k in PROBE_KINDS if k in holder}, path, health, port, load_seconds
    )
    holder.update(fixed)
    return changes


def fix_ephemeral_storage(container: dict[str, Any], path: str) -> list[Change]:
    """G13: an explicit ephemeral-storage request. Mutates `container`."""
    requests = container.setdefault("resources", {}).setdefault("requests", {})
    if "ephemeral-storage" in requests:
        return []
    requests["ephemeral-storage"] = DEFAULT_EPHEMERAL_STORAGE
    return [
        Change(
            f"{path}.resources.requests.ephemeral-storage",
            None,
            DEFAULT_EPHEMERAL_STORAGE,
            G13,
            "explicit, within node capacity",
        )
    ]


# ---------------------------------------------------------------- repairs every backend's container shares


def set_flag(args: list, flag: str, value: str) -> list:
    """`args` with `flag` set to `value` (replacing `flag value` or `flag=value`), appended when absent."""
    out, i, done = [], 0, False
    while i < len(args):
        arg = args[i]
        if arg == flag:
            out += [flag, value]
            i += 2 if i + 1 < len(args) and not str(args[i + 1]).startswith("--") else 1
            done = True
            continue
        if isinstance(arg, str) and arg.startswith(flag + "="):
            out += [flag, value]
            done = True
        else:
            out.append(arg)
        i += 1
    return out if done else [*out, flag, value]


def fix_args(args: list, engine: str, port: Any, served_source: str | None, path: str) -> tuple[list, list[Change]]:
    """G3 `--port` = the declared port, G5 `--served-model-name` from the model id (`served_source`, None when the
    object does not say it), G6 SGLang's `--enable-metrics`, G10 the stack's defaults for context length and GPU
    memory. `path` is where the args list sits (`spec.worker.args`)."""
    changes: list[Change] = []
    parsed = engines.parse_args(args)
    if isinstance(port, int) and str(parsed.get("--port")) != str(port):
        args = set_flag(args, "--port", str(port))
        changes.append(
            Change(f"{path}[--port]", parsed.get("--port"), str(port), G3, "one port for the engine everywhere")
        )
    if "--served-model-name" not in parsed and served_source:
        served = engines.served_model_name(served_source)
        args = set_flag(args, "--served-model-name", served)
        changes.append(
            Change(f"{path}[--served-model-name]", None, served, G5, "clients call the model by its friendly name")
        )
    if engine == "sglang" and "--enable-metrics" not in parsed:
        args = [*args, "--enable-metrics"]
        changes.append(
            Change(f"{path}[--enable-metrics]", None, True, G6, "the router drops SGLang backends whose /metrics 404s")
        )
    for key in ("max_model_len", "gpu_memory_utilization"):
        flag = engines.value_flag(key, engine)
        if flag not in parsed:
            value = engines._fmt(engines.DEFAULTS[engine][key])
            args = [*args, flag, value]
            changes.append(Change(f"{path}[{flag}]", None, value, G10, "default when unset"))
    return args, changes


def fix_command(container: dict[str, Any], path: str, engine: str) -> list[Change]:
    """G5: the engine's full command where the container has none (DLC images ignore args without one)."""
    if container.get("command"):
        return []
    container["command"] = engines.engine(engine).command
    return [Change(f"{path}.command", None, container["command"], G5, "DLC images ignore args without a full command")]


def fix_instance_env(
    container: dict[str, Any], env_key: str, path: str, engine: str, instance_type: Any
) -> list[Change]:
    """G12: the GPU workaround variables of the instance's GPU, where the container lacks them."""
    inst = reader.instance(instance_type)
    if inst is None:
        return []
    changes = []
    present = reader.env_map(container.get(env_key))
    for key, value in engines.instance_env(engine, inst).items():
        if key not in present:
            container.setdefault(env_key, []).append({"name": key, "value": value})
            changes.append(Change(f"{path}.{env_key}[{key}]", None, value, G12, f"{inst.gpu.model} workaround"))
    return changes
