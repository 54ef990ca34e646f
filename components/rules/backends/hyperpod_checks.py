"""`check` of a HyperPod `InferenceEndpointConfig` (hand-written ones too) and the operator's rules judged on
both the stack config and the object (G3, G7-G10, G17, G18, G21, G22); `components/rules/backends/hyperpod.py`
re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.hyperpod_dpd as hyperpod_dpd
import components.rules.backends.reader as reader

from .. import autoscaling, engines, hyperpod_fields, naming
from ..catalog import G3, G7, G9, G10, G17, G18, G21, G22
from ..endpoint import API_KEY_ENV
from ..problems import Problem
from .hyperpod_spec import (
    API_VERSION,
    CRD_HEALTH_CHECK_DEFAULT,
    CRD_INVOCATION_DEFAULT,
    CRD_METRICS_PORT_DEFAULT,
    _l2,
    _routing,
    _worker,
    is_endpoint_config,
)

# ---------------------------------------------------------------- check


def engine_views(obj: dict[str, Any]) -> list[engine_checks.EngineContainerView]:
    """The worker, as the one engine-container checker sees it."""
    return [engine_checks.worker_view(obj.get("spec") or {})] if is_endpoint_config(obj) else []


def check(obj: dict[str, Any]) -> list[Problem]:
    """Every guardrail problem of one InferenceEndpointConfig, as manifest field paths."""
    problems: list[Problem] = []
    api_version = obj.get("apiVersion")
    if api_version != API_VERSION:
        problems.append(
            Problem(
                "apiVersion",
                api_version,
                G18,
                "v1alpha1 lacks intelligent routing, KV cache and probes",
                f"use apiVersion {API_VERSION}",
            )
        )
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    problems += naming.check_name(meta.get("name"), "metadata.name", naming.HYPERPOD_DERIVED)
    if spec.get("endpointName"):
        problems += naming.check_name(spec["endpointName"], "spec.endpointName")
    problems += naming.check_label_values(meta)
    view = engine_checks.worker_view(spec)
    problems += engine_checks.check_port(view)
    problems += _check_metrics_port(spec, view.port)
    problems += engine_checks.check_probes(view)
    problems += engine_checks.check_command(view)
    problems += engine_checks.check_engine_args(view)
    problems += _check_operator_features(spec, view)
    problems += _check_model_flag(spec, view)
    problems += _check_api_key(spec, view)
    problems += engine_checks.check_gpus(view)
    problems += engine_checks.check_storage(view)
    problems += _check_routes(spec, view.engine)
    problems += autoscaling.check_manifest(spec, view.engine)
    problems += hyperpod_fields.check(spec) + hyperpod_dpd.check(spec, view.engine)
    return problems


def _check_metrics_port(spec: dict, port: int | None) -> list[Problem]:
    """G3, HyperPod's own field: the operator scrapes `spec.metrics.modelMetrics.port` (CRD default 8080)."""
    metrics = spec.get("metrics") or {}
    if port is None or not metrics.get("enabled", True):
        return []
    metrics_port = (metrics.get("modelMetrics") or {}).get("port", CRD_METRICS_PORT_DEFAULT)
    if metrics_port == port:
        return []
    return [
        Problem(
            "spec.metrics.modelMetrics.port",
            metrics_port,
            G3,
            f"metrics are scraped on {metrics_port} but the engine serves /metrics on {port} (the CRD default 8080 is wrong for vLLM)",
            f"set spec.metrics.modelMetrics.port: {port}",
        )
    ]


# ---------------------------------------------------------------- operator rules, once for config and object
# G7, G17, G21 and G22 are judged on the stack config (before anything is declared) and on any
# InferenceEndpointConfig (policies, `stacks check`): one function each, called with the field paths of either.


@dataclass(frozen=True)
class OperatorFields:
    """Where the operator's settings are: in an endpoint's config or in an InferenceEndpointConfig."""

    routing: str
    kv_cache: str
    prefetch: str
    prefix_caching: str
    l2_backend: str
    image: str
    invocation: str
    routing_off: str  # how to turn routing off there
    kv_cache_off: str
    prefetch_off: str
    prefix_caching_off: str


def config_fields(path: str) -> OperatorFields:
    return OperatorFields(
        f"{path}.hyperpod.intelligentRouting",
        f"{path}.hyperpod.kvCache",
        f"{path}.hyperpod.prefetch",
        f"{path}.engineArgs.enablePrefixCaching",
        f"{path}.hyperpod.kvCache.l2Backend",
        f"{path}.image",
        f"{path}.invocationEndpoint",
        "set hyperpod.intelligentRouting: false (and publicAlb: false)",
        "set hyperpod.kvCache: {l1: false, l2: false}",
        "remove hyperpod.prefetch (or disable hyperpod.kvCache.l2)",
        "remove enablePrefixCaching",
    )


MANIFEST_FIELDS = OperatorFields(
    "spec.intelligentRoutingSpec.enabled",
    "spec.kvCacheSpec",
    "spec.modelSourceConfig.prefetchEnabled",
    "spec.worker.args[--enable-prefix-caching]",
    "spec.kvCacheSpec.l2CacheSpec.l2CacheBackend",
    "spec.worker.image",
    "spec.invocationEndpoint",
    "remove intelligentRoutingSpec",
    "remove kvCacheSpec",
    "set prefetchEnabled: false",
    "remove --enable-prefix-caching",
)

_VLLM_ONLY_FIX = "use engine vllm; for a public SGLang endpoint, use backend: kubernetes with loadBalancer: alb"


def check_vllm_only(engine: str | None, routing: bool, kv_cache: Any, at: OperatorFields) -> list[Problem]:
    """G21: the operator's KV cache and router serve vLLM workers only (AWS docs, KV caching and intelligent routing:
    "currently support only vLLM-based inference containers"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-caching-routing.html);
    operator: "KVCacheSpec can only be configured for vLLM model server"). `kv_cache`: its value when on, else None."""
    if engine is None or engine == "vllm":
        return []
    out = []
    if kv_cache is not None:
        out.append(
            Problem(
                at.kv_cache,
                kv_cache,
                G21,
                "KVCacheSpec can only be configured for vLLM model server",
                f"{at.kv_cache_off}, or {_VLLM_ONLY_FIX}",
            )
        )
    if routing:
        out.append(
            Problem(
                at.routing,
                True,
                G21,
                f"intelligent routing supports only vLLM-based containers, not {engine}",
                f"{at.routing_off}, or {_VLLM_ONLY_FIX}",
            )
        )
    return out


def check_l2_cache(
    l2: bool, prefetch: bool, prefix_caching: bool, l2_backend: Any, at: OperatorFields
) -> list[Problem]:
    """G7: L2 KV cache with prefetch or the engine's own prefix caching breaks the pod; tieredstorage L2 is broken."""
    if not l2:
        return []
    out = []
    if prefetch:
        out.append(
            Problem(
                at.prefetch,
                True,
                G7,
                "prefetch with L2 cache breaks the pod (lmcache-config volume not found)",
                at.prefetch_off,
            )
        )
    if prefix_caching:
        out.append(
            Problem(
                at.prefix_caching,
                True,
                G7,
                "with L2 cache the operator manages prefix caching; the flag breaks the pod",
                at.prefix_caching_off,
            )
        )
    backend = str(l2_backend or "").lower()
    if backend == "tieredstorage":
        out.append(
            Problem(
                at.l2_backend,
                backend,
                G7,
                "tieredstorage L2 is known broken (LMCache: Invalid argument '/ai_toolkit_cache'); L1 still works",
                "use redis, or expect no remote cache",
                severity="warning",
            )
        )
    return out


def check_lmcache_image(
    engine: str | None, kv_on: bool, image: Any, at: OperatorFields, default_fix: str = ""
) -> list[Problem]:
    """G22: KV-cache offload runs LMCache in the worker; upstream's kvCacheSpec samples all use lmcache/vllm-openai.
    (KV cache on another engine is G21's.)"""
    if engine not in (None, "vllm") or not kv_on or not isinstance(image, str) or engines.has_lmcache(image):
        return []
    return [
        Problem(
            at.image,
            image,
            G22,
            "KV-cache offload needs LMCache in the image; this image has no lmcache module",
            f"{default_fix}use {engines.LMCACHE_IMAGE} (upstream's kvCacheSpec samples) or another LMCache build of vLLM",
        )
    ]


def check_kvaware(routing: bool, strategy: Any, invocation: Any, at: OperatorFields) -> list[Problem]:
    """G17: the kvaware routing strategy needs the completions API."""
    if routing and strategy == "kvaware" and invocation != "v1/completions":
        return [
            Problem(
                at.invocation,
                invocation,
                G17,
                "kvaware routing needs the completions API",
                "set invocationEndpoint: v1/completions",
            )
        ]
    return []


def _check_operator_features(spec: dict, view: engine_checks.EngineContainerView) -> list[Problem]:
    kv = spec.get("kvCacheSpec")
    at = MANIFEST_FIELDS
    source = spec.get("modelSourceConfig") or {}
    return (
        check_l2_cache(
            _l2(spec),
            bool(source.get("prefetchEnabled")),
            "--enable-prefix-caching" in view.flags,
            ((kv or {}).get("l2CacheSpec") or {}).get("l2CacheBackend") if isinstance(kv, dict) else None,
            at,
        )
        + check_vllm_only(view.engine, _routing(spec), kv if isinstance(kv, dict) else None, at)
        + check_lmcache_image(view.engine, _kv_on(spec), _worker({"spec": spec}).get("image"), at)
    )


def _kv_on(spec: dict) -> bool:
    kv = spec.get("kvCacheSpec")
    return isinstance(kv, dict) and bool(kv.get("enableL1Cache") or kv.get("enableL2Cache"))


def _model_flags(view: engine_checks.EngineContainerView) -> set[str]:
    own = {
        engines.canonical_flag(view.engine, engines.engine(e).model_flag)
        for e in engines.ENGINES
        if view.engine in (None, e)
    }
    return own & set(view.flags)


def _check_model_flag(spec: dict, view: engine_checks.EngineContainerView) -> list[Problem]:
    """G10: for a Hugging Face model without prefetch the operator injects the model flag itself (upstream's
    v1_huggingface_mistral7b_vllm.yaml / ..._sglang.yaml); a second one points the engine elsewhere."""
    source = spec.get("modelSourceConfig") or {}
    if source.get("modelSourceType") != "huggingface" or source.get("prefetchEnabled"):
        return []
    return [
        Problem(
            f"spec.worker.args[{flag}]",
            view.flags[flag],
            G10,
            "the operator injects the model flag for a Hugging Face model without prefetch; a second one overrides it",
            f"remove {flag} (vLLM: pass --download-dir {engines.DEFAULT_MODEL_DIR})",
        )
        for flag in sorted(_model_flags(view))
    ]


def _check_api_key(spec: dict, view: engine_checks.EngineContainerView) -> list[Problem]:
    """G9, HyperPod's router: it receives only plain `value` env vars."""
    entry = view.env.get(API_KEY_ENV)
    if not (_routing(spec) or isinstance(spec.get("pdSpec"), dict)) or entry is None:
        return []
    if "valueFrom" in entry or not entry.get("value"):
        return [
            Problem(
                f"{view.env_path}[{API_KEY_ENV}]",
                entry.get("valueFrom") or entry.get("value"),
                G9,
                "the operator copies only plain `value` env vars to the router; its VLLM_API_KEY stays empty and every backend answers 401",
                "give VLLM_API_KEY a plain value (a Pulumi secret), with the key Secret in both namespaces",
            )
        ]
    return []


def _check_routes(spec: dict, engine: str | None) -> list[Problem]:
    out = []
    health = (spec.get("loadBalancer") or {}).get("healthCheckPath", CRD_HEALTH_CHECK_DEFAULT)
    wanted = reader.health_path(engine)
    if health != wanted:
        out.append(
            Problem(
                "spec.loadBalancer.healthCheckPath",
                health,
                G17,
                f"the ALB health check must hit a route the engine serves ({wanted})",
                f"set healthCheckPath: {wanted}",
            )
        )
    invocation = spec.get("invocationEndpoint", CRD_INVOCATION_DEFAULT)
    if invocation not in ("v1/chat/completions", "v1/completions"):
        out.append(
            Problem(
                "spec.invocationEndpoint",
                invocation,
                G17,
                "clients call the OpenAI API, not SageMaker's /invocations",
                "set invocationEndpoint: v1/chat/completions",
            )
        )
    strategy = (spec.get("intelligentRoutingSpec") or {}).get("routingStrategy")
    return out + check_kvaware(_routing(spec), strategy, invocation, MANIFEST_FIELDS)
