"""One resolved endpoint: everything derived from an endpoint spec, computed once.

Backends, components, outputs, the local tuning target and the checks read these fields; none of
them derives a name, a port or a flag again. A backend renders its own objects from it and never
calls into another backend for a shared fact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import engines, instances, naming, probes
from .catalog import D1, G22
from .problems import Change
from .spec import EndpointSpec, HuggingFaceSource

API_KEY_ENV = "VLLM_API_KEY"  # vLLM reads it itself; SGLang gets `--api-key $(VLLM_API_KEY)` (G9)
API_KEY_SECRET_KEY = "api-key"
GPU = "nvidia.com/gpu"
ENGINE_LABEL = "llm-serving/engine"  # on every rendered object: the engine, for objects that do not name it


@dataclass(frozen=True)
class ResolvedEndpoint:
    spec: EndpointSpec
    name: str  # the Kubernetes name (G1, G2)
    namespace: str
    key: str  # the Pulumi resource name: unique across the stack (<namespace>/<name>)
    engine: engines.Engine
    image: str
    port: int  # G3: the one port, everywhere
    instance: instances.InstanceType | None
    params: dict[str, Any]  # engine parameters with the G10 defaults
    tensor_parallel_size: int
    served_model_name: str  # G5
    labels: dict[str, str]
    selector: dict[str, str]
    resources: dict[str, Any]  # G11 limit = tensor-parallel size, the pod's share of the node, G13
    probes: dict[str, dict[str, Any]]  # G4: readiness, liveness, startup
    env: dict[str, str]  # G12 instance env, then the user's
    api_key_env: str | None
    api_key_secret: str  # the key Secret's name, in every namespace it is declared in
    metrics_port: int = field(init=False)
    gpus: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics_port", self.port)  # G3: the engine serves /metrics on its port
        object.__setattr__(self, "gpus", self.tensor_parallel_size)

    @property
    def health_path(self) -> str:
        return self.engine.health_path

    @property
    def metrics_path(self) -> str:
        return self.engine.metrics_path

    @property
    def command(self) -> list[str]:
        return self.engine.command  # G5: the full command; DLC images ignore bare args

    def args(self, model_arg: str | None, pin_revision: bool = True, download_dir: str | None = None) -> list[str]:
        """The engine's full argument list for a model at `model_arg` (a directory or a hub id; None: whoever
        runs the engine passes the model flag itself). `pin_revision`: the engine downloads a Hugging Face model
        itself, so pass its revision. `download_dir`: vLLM's `--download-dir` for a model it downloads."""
        args = engines.build_args(
            self.engine.name, model_arg, self.served_model_name, self.port, self.params, api_key_env=self.api_key_env
        )
        if download_dir and self.engine.name == "vllm":
            args += ["--download-dir", download_dir]
        src = self.spec.model_source
        if pin_revision and isinstance(src, HuggingFaceSource) and src.revision:
            args += ["--revision", src.revision]
        return args + list(self.spec.extra_args)


def _resources(spec: EndpointSpec, inst: instances.InstanceType | None, tp: int) -> dict[str, Any]:
    requests: dict[str, str] = {GPU: str(tp), "ephemeral-storage": spec.resources.ephemeral_storage}
    if inst is not None:
        # The pod's share of the node, minus headroom for the operator's sidecars and daemonsets.
        share = tp / inst.gpus
        requests["cpu"] = spec.resources.cpu or str(max(1, int(inst.vcpus * share * 0.75)))
        requests["memory"] = spec.resources.memory or f"{max(4, int(inst.memory_gib * share * 0.75))}Gi"
    return {"limits": {GPU: str(tp)}, "requests": requests}


def kv_cache_on(spec: EndpointSpec) -> bool:
    return spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.enabled


def default_changes(spec: EndpointSpec, path: str) -> list[Change]:
    """Defaults that differ from what a reader of the config would expect, for the plan's change log."""
    if spec.image is None and spec.hyperpod.pd_spec is not None and spec.engine == "vllm":
        return [
            Change(
                f"{path}.image",
                engines.VLLM.default_image,
                engines.DPD_IMAGES[0],
                D1,
                "disaggregated prefill and decode needs vLLM with LMCache and NIXL; the image AWS's DPD page names",
            )
        ]
    if spec.image is None and kv_cache_on(spec) and spec.engine == "vllm":
        return [
            Change(
                f"{path}.image",
                engines.VLLM.default_image,
                engines.LMCACHE_IMAGE,
                G22,
                "KV-cache offload needs LMCache; the image upstream's kvCacheSpec samples use",
            )
        ]
    return []


def resolve(spec: EndpointSpec) -> ResolvedEndpoint:
    eng = engines.engine(spec.engine)
    inst = instances.lookup(spec.instance_type)
    name = naming.endpoint_name(spec.name)
    image = spec.image or engines.default_image(spec.engine, kv_cache_on(spec), spec.hyperpod.pd_spec is not None)
    port = spec.port or engines.default_port(spec.engine, image)
    params = engines.resolve_params(spec.engine, spec.engine_args.set_values(), inst)
    if spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.l2:
        params.pop("enable_prefix_caching", None)  # G7: the operator manages it with L2
    tp = int(params.get("tensor_parallel_size", 1))
    served = engines.served_model_name(spec.model)
    labels = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": "pulumi",
        ENGINE_LABEL: spec.engine,
        # G2: label values are strings within the 63-character limit.
        "llm-serving/served-model": naming.fit(naming.normalise(served), naming.MAX_NAME),
    }
    return ResolvedEndpoint(
        spec=spec,
        name=name,
        namespace=spec.namespace,
        key=naming.resource_key(spec.namespace, name),
        engine=eng,
        image=image,
        port=port,
        instance=inst,
        params=params,
        tensor_parallel_size=tp,
        served_model_name=served,
        labels=labels,
        selector={"app.kubernetes.io/name": name},
        resources=_resources(spec, inst, tp),
        probes=probes.probe_set(eng.health_path, port, spec.max_deploy_seconds),
        env={**engines.instance_env(spec.engine, inst), **spec.env},
        api_key_env=API_KEY_ENV if spec.api_key else None,
        api_key_secret=f"{name}-api-key",
    )
