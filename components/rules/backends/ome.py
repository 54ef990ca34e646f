"""The `ome` backend: an OME InferenceService (ome.io/v1beta1) on a ClusterBaseModel and a
ClusterServingRuntime the stack declares, plus an optional BenchmarkJob.

How the engine arguments travel (an InferenceService that replaced the runner failed with another image's command): the runtime
owns the runner's image, command, port, probes and /dev/shm; the InferenceService's `engine.runner`
carries only its name, the engine arguments, env and GPU resources. OME merges the two; the runtime
declares no args, so the result is the same whether OME appends or replaces the runner's args. The
model path is `$(MODEL_PATH)`, which the kubelet expands from the env OME sets (a literal `$MODEL_PATH` reached the engine).
"""

from __future__ import annotations

from typing import Any

import components.rules.backends.container as engine_container
import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.kinds as kinds
import components.rules.backends.reader as reader
import components.rules.backends.state as state_rules

from .. import naming
from ..catalog import B1, G5, G11
from ..endpoint import ResolvedEndpoint, resolve
from ..problems import Change, Problem
from ..spec import EndpointSpec, HuggingFaceSource, OmeBackend, S3Source
from ..tree import copy_tree
from .base import Backend, LiveReference, PlatformNeeds, RenderContext

GROUP = "ome.io"
API_VERSION = f"{GROUP}/v1beta1"
RUNNER_NAME = "ome-container"
MODEL_PATH = "$(MODEL_PATH)"
MODEL_ROOT = "/mnt/data/models"
# OME's storage.GetStorageType for benchmark results knows only these (`local://` failed: unknown storage type).
BENCHMARK_STORAGE = ("pvc://", "oci://")


def cluster_name(spec: EndpointSpec) -> str:
    """Cluster-scoped model and runtime: unique per (namespace, name), so endpoints never share one
    (`a-b`/`c` and `a`/`b-c` included)."""
    return naming.scoped_name(spec.namespace, resolve(spec).name)


def base_model_name(spec: EndpointSpec) -> str:
    return spec.ome.base_model or cluster_name(spec)


def _storage_uri(spec: EndpointSpec) -> str:
    src = spec.model_source
    if isinstance(src, S3Source):
        return f"s3://{src.bucket}/{src.path.strip('/')}".rstrip("/")
    assert isinstance(src, HuggingFaceSource), "validated: FSx only with the hyperpod backend"
    return f"hf://{src.model_id or spec.model}" + (f"@{src.revision}" if src.revision else "")


def base_model(spec: EndpointSpec, region: str | None = None) -> dict[str, Any]:
    storage: dict[str, Any] = {"storageUri": _storage_uri(spec), "path": f"{MODEL_ROOT}/{cluster_name(spec)}"}
    src = spec.model_source
    if isinstance(src, HuggingFaceSource) and src.token_secret:
        storage["key"] = src.token_secret.name
    if isinstance(src, S3Source):
        storage["parameters"] = {"region": src.region or region or "us-east-1"}
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterBaseModel",
        "metadata": {"name": base_model_name(spec), "labels": resolve(spec).labels},
        "spec": {
            "displayName": spec.model,
            "vendor": spec.model.split("/")[0] if "/" in spec.model else "unknown",
            "modelFormat": {"name": spec.ome.model_format},
            "modelFramework": {"name": spec.ome.model_framework},
            "storage": storage,
        },
    }


def serving_runtime(spec: EndpointSpec) -> dict[str, Any]:
    r = resolve(spec)
    runner = {
        "name": RUNNER_NAME,
        "image": r.image,
        "command": r.command,  # G5: the full command, from the runtime only
        "ports": [{"name": engine_container.PORT_NAME, "containerPort": r.port, "protocol": "TCP"}],
        **r.probes,
        "volumeMounts": [{"name": engine_container.SHM_VOLUME, "mountPath": "/dev/shm"}],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterServingRuntime",
        "metadata": {"name": cluster_name(spec), "labels": r.labels},
        "spec": {
            "disabled": False,
            "protocolVersions": ["openAI"],
            "supportedModelFormats": [
                {
                    "name": base_model_name(spec),
                    "modelFormat": {"name": spec.ome.model_format},
                    "modelFramework": {"name": spec.ome.model_framework},
                    "autoSelect": False,  # only the InferenceService that names it uses it
                    "priority": 1,
                }
            ],
            "engineConfig": {
                "runner": runner,
                "volumes": [engine_container.shm_volume()],
                **engine_container.placement(r),
            },
        },
    }


def inference_service(spec: EndpointSpec, api_key_secret: str | None = None) -> dict[str, Any]:
    r = resolve(spec)
    scaling = spec.autoscaling
    runner = {
        "name": RUNNER_NAME,  # a runner without a name makes an unnamed container, which the API refuses
        "args": r.args(MODEL_PATH),
        "env": engine_container.env(r, api_key_secret),
        "resources": r.resources,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": r.name, "namespace": spec.namespace, "labels": r.labels},
        "spec": {
            "model": {"name": base_model_name(spec), "kind": "ClusterBaseModel", "apiGroup": GROUP},
            "runtime": {"name": cluster_name(spec), "kind": "ClusterServingRuntime", "apiGroup": GROUP},
            "engine": {
                "minReplicas": scaling.min_replicas if scaling else spec.replicas,
                "maxReplicas": scaling.max_replicas if scaling else spec.replicas,
                **engine_container.placement(r),
                "runner": runner,
            },
        },
    }


def benchmark_job(spec: EndpointSpec) -> dict[str, Any] | None:
    bench = spec.ome.benchmark
    if bench is None:
        return None
    r = resolve(spec)
    body: dict[str, Any] = {
        # In-cluster endpoint: no API key needed (the CRD has no key field).
        "endpoint": {"inferenceService": {"name": r.name, "namespace": spec.namespace}},
        "task": bench.task,
        "trafficScenarios": list(bench.traffic_scenarios),
        "numConcurrency": list(bench.num_concurrency),
        "maxTimePerIteration": bench.max_time_per_iteration,
        "maxRequestsPerIteration": bench.max_requests_per_iteration,
        "outputLocation": {"storageUri": bench.output_location},  # required by the CRD
    }
    if bench.image:
        body["podOverride"] = {"image": bench.image}
    return {
        "apiVersion": API_VERSION,
        "kind": "BenchmarkJob",
        "metadata": {
            "name": naming.fit(f"{r.name}-bench", naming.MAX_NAME),
            "namespace": spec.namespace,
            "labels": r.labels,
        },
        "spec": body,
    }


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    spec = r.spec
    out = [] if spec.ome.base_model else [base_model(spec, context.region)]
    out += [serving_runtime(spec), inference_service(spec, context.api_key_secret)]
    if (job := benchmark_job(spec)) is not None:
        out.append(job)
    return out


# ---------------------------------------------------------------- checks


def check_storage_uri(uri: Any, path: str) -> list[Problem]:
    if not isinstance(uri, str) or not uri.startswith(BENCHMARK_STORAGE):
        return [
            Problem(
                path,
                uri,
                B1,
                "OME stores benchmark results only on a PVC or in object storage (`unknown storage type for URI`)",
                "use pvc://<claim>/<subpath> (create the PVC) or oci://...",
            )
        ]
    if uri.startswith("pvc://") and len(uri[len("pvc://") :].strip("/").split("/", 1)) < 2:
        return [
            Problem(
                path,
                uri,
                B1,
                "a pvc:// location needs the claim and a subpath (`invalid PVC storage URI format: missing subpath`)",
                "use pvc://<claim>/<subpath>",
            )
        ]
    return []


def engine_views(obj: dict[str, Any]) -> list[engine_checks.EngineContainerView]:
    """The runner, as the one engine-container checker sees it: the InferenceService's (args, env,
    resources; the engine from the object's label) or the ClusterServingRuntime's (command, port,
    probes, /dev/shm)."""
    kind = kinds.group_kind(obj)
    spec = obj.get("spec") or {}
    if kind == (GROUP, "InferenceService"):
        engine_spec = spec.get("engine") or {}
        runner = engine_spec.get("runner")
        if isinstance(runner, dict):
            return [
                engine_checks.container_view(
                    runner,
                    "spec.engine.runner",
                    reader.instance_of(engine_spec),
                    require_command=False,
                    own_probes=False,
                    labels=reader.labels_of(obj),
                )
            ]
    if kind == (GROUP, "ClusterServingRuntime"):
        config = spec.get("engineConfig") or {}
        runner = config.get("runner")
        if isinstance(runner, dict):
            return [engine_checks.container_view(runner, "spec.engineConfig.runner", reader.instance_of(config))]
    return []


def check_inference_service(obj: dict[str, Any]) -> list[Problem]:
    engine_spec = (obj.get("spec") or {}).get("engine") or {}
    runner = engine_spec.get("runner")
    if not isinstance(runner, dict):
        return []
    base = "spec.engine.runner"
    problems = []
    for field in ("image", "command"):
        if runner.get(field):
            problems.append(
                Problem(
                    f"{base}.{field}",
                    runner[field],
                    B1,
                    "the InferenceService replaces the runtime's runner: a mismatched image fails (`No module named 'vllm'` from an SGLang image)",
                    f"remove {field}; the ClusterServingRuntime owns the image and command, the InferenceService passes args",
                )
            )
    (view,) = engine_views(obj)
    problems += engine_container.check_engine_container(runner, view)
    if view.gpu_limit is not None:
        problems += engine_container.check_placement(engine_spec, "spec.engine")
    return problems


def check_serving_runtime(obj: dict[str, Any]) -> list[Problem]:
    config = (obj.get("spec") or {}).get("engineConfig") or {}
    runner = config.get("runner")
    if not isinstance(runner, dict):
        return []
    # The runtime owns the runner's command, probes and mounts; its args (G3 --port, G5 served name,
    # G10) and resources (G11, G13 storage) are the InferenceService's.
    (view,) = engine_views(obj)
    problems = engine_container.check_args_expansion(runner.get("args"), view.path)
    return (
        problems
        + engine_checks.check_full_command(view)
        + engine_checks.check_probes(view)
        + engine_checks.check_shm(view)
    )


def check_benchmark_job(obj: dict[str, Any]) -> list[Problem]:
    spec = obj.get("spec") or {}
    location = spec.get("outputLocation")
    if not isinstance(location, dict):
        return [
            Problem(
                "spec.outputLocation",
                None,
                B1,
                "OME rejects a BenchmarkJob without an output location (`spec.outputLocation: Required value`)",
                "set outputLocation.storageUri: pvc://<claim>/<subpath>",
            )
        ]
    return check_storage_uri(location.get("storageUri"), "spec.outputLocation.storageUri")


def fix_serving_runtime(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """The runtime's part of the runner (it owns the command, probes and /dev/shm): the engine's full command (G5),
    probes on the engine's port and health route with timeouts that survive a busy engine (G3, G4), memory-backed
    /dev/shm (G13). Never mutates the input."""
    obj = copy_tree(obj)
    config = (obj.get("spec") or {}).get("engineConfig")
    runner = config.get("runner") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not isinstance(runner, dict):
        return obj, []
    (view,) = engine_views(obj)
    base = view.path
    changes: list[Change] = []
    if view.engine is not None:
        changes += engine_checks.fix_command(runner, base, view.engine)
        if view.port is not None:
            changes += engine_checks.fix_probes(runner, base, view.engine, view.port)
    changes += engine_container.fix_shm(runner, config, base)
    return obj, changes


def fix_inference_service(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """The InferenceService's part of the runner (args, env, resources): SGLang's metrics (G6), the stack's
    defaults for context length and GPU memory (G10), the instance's GPU workaround env (G12) and an
    ephemeral-storage request (G13). Never mutates the input."""
    obj = copy_tree(obj)
    engine_spec = (obj.get("spec") or {}).get("engine")
    runner = engine_spec.get("runner") if isinstance(engine_spec, dict) else None
    if not isinstance(engine_spec, dict) or not isinstance(runner, dict):
        return obj, []
    (view,) = engine_views(obj)
    base = view.path
    changes: list[Change] = []
    if view.engine is not None:
        # The model flag is $(MODEL_PATH), which names no model: the served name is not derived here (G5 refusal).
        args, made = engine_checks.fix_args(list(runner.get("args") or []), view.engine, None, None, f"{base}.args")
        if made:
            runner["args"] = args
        changes += made + engine_checks.fix_instance_env(
            runner, "env", base, view.engine, reader.instance_of(engine_spec)
        )
    changes += engine_checks.fix_ephemeral_storage(runner, base)
    return obj, changes


# ---------------------------------------------------------------- by kind (manifests.py composes these)

CHECKERS: dict[kinds.Kind, kinds.Checker] = {
    (GROUP, "InferenceService"): check_inference_service,
    (GROUP, "ClusterServingRuntime"): check_serving_runtime,
    (GROUP, "BenchmarkJob"): check_benchmark_job,
}
FIXERS: dict[kinds.Kind, kinds.Fixer] = {
    (GROUP, "InferenceService"): fix_inference_service,
    (GROUP, "ClusterServingRuntime"): fix_serving_runtime,
}
check = kinds.check_by_kind(CHECKERS)
fix = kinds.fix_by_kind(FIXERS)


# ---------------------------------------------------------------- config


def validate_platform(spec: EndpointSpec, where: str, needs: PlatformNeeds) -> list[Problem]:
    problems = []
    if not needs.plan["keda"] and not needs.adopted:
        # Seen with OME: controller fails with "no kind is registered for ScaledObject" without KEDA.
        problems.append(
            Problem(
                f"{where}.backend",
                "ome",
                "BACKEND",
                "OME needs KEDA (its controller fails on ScaledObject without it)",
                f"set {needs.paths.platform}.keda: true",
            )
        )
    if BACKEND.load_balancer(spec) != "none":
        problems.append(
            Problem(
                f"{where}.loadBalancer",
                spec.load_balancer,
                "BACKEND",
                "OME creates the engine Service itself; the stack declares no load balancer for it",
                "set loadBalancer: none and use the InferenceService's status.url",
            )
        )
    if spec.ome.benchmark is not None and spec.api_key:
        # The BenchmarkJob has no API key field (an OME benchmark of a keyed endpoint failed); every request would get 401.
        problems.append(
            Problem(
                f"{where}.ome.benchmark",
                spec.ome.benchmark.model_dump(by_alias=True),
                "BACKEND",
                "an OME BenchmarkJob cannot send an API key, so every request to a keyed endpoint fails with 401",
                "set apiKey: false on this endpoint, or drop ome.benchmark",
            )
        )
    return problems


# The runner is split between the InferenceService (args, env, resources) and the ClusterServingRuntime (command,
# port, probes, /dev/shm): each half is repaired where it lives, except what neither half can know.
_NOT_REPAIRED_G5 = "the InferenceService's model flag is $(MODEL_PATH), a mounted path that names no model, so a missing --served-model-name cannot be derived; the runtime's command is repaired"
_NOT_REPAIRED_G11 = "which of the GPU limit and the tensor-parallel size is meant (or whether CUDA_VISIBLE_DEVICES is) is the user's call"

BACKEND = Backend(
    refusals={G5: _NOT_REPAIRED_G5, G11: _NOT_REPAIRED_G11},
    name="ome",
    title="OME",
    # OME creates the engine's Service itself, so the stack declares no load balancer for it.
    default_load_balancer="none",
    render=render,
    engine_views=engine_views,
    checkers=CHECKERS,
    fixers=FIXERS,
    live=LiveReference(
        GROUP,
        "v1beta1",
        "inferenceservices",
        "InferenceService",
        state_rules.ready_condition,
        url=state_rules.status_url,
    ),
    options=OmeBackend,
    validate_platform=validate_platform,
    operator_addon="ome_operator",
    # The chart's webhook Certificate and Issuer (sgl-project/ome@v0.1.5 charts/ome-resources/templates/
    # ome-controller/certificate.yaml).
    operator_requires={
        "cert_manager": "the OME chart's webhook certificate is issued by cert-manager, which is switched off"
    },
)
