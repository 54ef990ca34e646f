"""The HyperPod `InferenceEndpointConfig` (G1-G13, G17, G18): render from a spec, check, fix.

`render` builds a correct object; `check` reports what is wrong with any object (hand-written ones
too); `fix` repairs what can be repaired without guessing intent. Transforms call `fix`, the policy
pack and the offline plan call `check`. A rendered object passes `check` with no problem and `fix`
leaves it unchanged (tested).
"""

from __future__ import annotations

import re
from typing import Any

from dataclasses import dataclass

from .. import autoscaling, engines, instances, naming
from .. import ingress as ingress_rules
from ..addons import OPERATOR_NAMESPACE
from ..alb_tls import alb_tls
from ..catalog import G2, G3, G5, G6, G7, G8, G9, G10, G11, G12, G17, G18, G21, G22
from ..endpoint import API_KEY_ENV, API_KEY_SECRET_KEY, GPU, ResolvedEndpoint, resolve
from ..problems import Change, Problem
from ..spec import EndpointSpec, FsxSource, HuggingFaceSource, HyperPodBackend, PlatformSpec, S3Source
from ..tree import copy_tree
import components.rules.backends.engine_checks as engine_checks
import components.rules.backends.reader as reader
import components.rules.backends.state as state_rules
from .base import Backend, LiveReference, PlatformNeeds, RenderContext, Upstream

GROUP = "inference.sagemaker.aws.amazon.com"
API_VERSION = f"{GROUP}/v1"  # G18: the stored version; v1alpha1 lacks routing, KV cache, probes
KIND = "InferenceEndpointConfig"
MODEL_VOLUME = "model-weights"
CRD_METRICS_PORT_DEFAULT = 8080  # spec.metrics.modelMetrics.port default: wrong for vLLM (G3)
CRD_HEALTH_CHECK_DEFAULT = "/ping"
CRD_INVOCATION_DEFAULT = "invocations"

# G19: fields the operator cannot change in place (CRD: "Once set, the enabled field cannot be modified").
IMMUTABLE_FIELDS = ("spec.intelligentRoutingSpec.enabled",)


def type_token(api_version: str = API_VERSION) -> str:
    return f"kubernetes:{api_version}:{KIND}"


def is_endpoint_config(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("kind") == KIND and str(obj.get("apiVersion", "")).startswith(GROUP + "/")


# ---------------------------------------------------------------- render

_ACM_ARN = re.compile(r"^arn:aws:acm:[a-z0-9-]+:[0-9]{12}:certificate/[a-fA-F0-9-]+$")  # the CRD's acmArn pattern


def _tls_config(spec: EndpointSpec, tls: Any) -> dict[str, Any]:
    """spec.tlsConfig. With a configured ACM ARN and `platform.ingress.domain`, the operator's own ALB serves
    that certificate under the endpoint's name (`customCertificateConfig {acmArn, domainName}`; CRD: "if not
    provided, operator auto-generates self-signed certificate"; sagemaker-hyperpod-cli
    hyperpod-jumpstart-inference-template v1_2 template.py renders the same pair). `dnsConfig` is not set:
    the stack's own Route53 record owns the endpoint's name, and two writers of one record would fight."""
    out: dict[str, Any] = {}
    if spec.hyperpod.tls_certificate_s3_uri:
        out["tlsCertificateOutputS3Uri"] = spec.hyperpod.tls_certificate_s3_uri
    arn = getattr(tls, "certificate_arn", None)
    host = getattr(tls, "host", None)
    if isinstance(arn, str) and _ACM_ARN.match(arn) and host:
        out["customCertificateConfig"] = {"acmArn": arn, "domainName": host}
    return out



# spec.modelName in the CRD: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`, maxLength 63. The API server matches an OpenAPI
# pattern anywhere in the value (Go regexp MatchString), so only the start is anchored: upstream's own samples use
# `modelName: Llama-3.1-8B-Instruct` (v1_llama31_8b_kv_cache_l1_l2.yaml, v1_s3_llama8b_IR_L1Cache.yaml).
MODEL_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
MODEL_NAME_MAX = 63


def sagemaker_model_name(model_id: str) -> str:
    """spec.modelName: the served name as it is, unless the CRD's pattern or length refuses it."""
    served = engines.served_model_name(model_id)
    if len(served) <= MODEL_NAME_MAX and MODEL_NAME_PATTERN.search(served):
        return served
    name = "".join(c if c.isalnum() and c.isascii() else "-" for c in served)
    name = "-".join(part for part in name.split("-") if part)
    return naming.fit(name, naming.MAX_NAME) or "model"


def _prefetch(spec: EndpointSpec) -> bool:
    """The operator's prefetchEnabled: never with L2 cache (G7)."""
    return bool(spec.hyperpod.prefetch) and not (spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.l2)


def model_arg(spec: EndpointSpec) -> str | None:
    """The engine's model flag value, per model source, as upstream's samples write it. S3 and FSx: the
    mounted directory (v1_llama31_8b_kv_cache_l1_l2.yaml passes /opt/ml/model). Hugging Face with prefetch: the directory the init container filled
    (v1_huggingface_mistral7b_vllm_prefetch.yaml, ..._sglang_prefetch.yaml: "needs --model[-path] pointing to
    the local model path"). Hugging Face without prefetch: none, because "the operator auto-injects --model arg for
    vLLM" / "--model-path arg for SGLang" (v1_huggingface_mistral7b_vllm.yaml, ..._sglang.yaml, aws/sagemaker-
    hyperpod-cli helm_chart/HyperPodHelmChart/charts/inference-operator/config/samples); a second flag would win
    over the operator's and point the engine at an empty directory."""
    if isinstance(spec.model_source, HuggingFaceSource) and not _prefetch(spec):
        return None
    return engines.DEFAULT_MODEL_DIR


def _hf_download_dir(spec: EndpointSpec) -> str | None:
    """vLLM downloads a Hugging Face model into the model volume (`--download-dir /opt/ml/model` in
    v1_huggingface_mistral7b_vllm.yaml); upstream's SGLang sample passes no such flag."""
    return engines.DEFAULT_MODEL_DIR if model_arg(spec) is None else None


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    """The InferenceEndpointConfig and, for an internet-facing endpoint, the stack's ALB Ingress in front of the
    operator's router (in the operator's namespace; components/endpoints/hyperpod.py says why a second ALB)."""
    spec = r.spec
    tls = context.tls if context.tls is not None else alb_tls(spec, context.ingress, has_alb(spec))
    out = [endpoint_config(spec, context.region, context.api_key, context.api_key_secret, tls)]
    if ingress_rules.needs_ingress(spec):
        out.append(router_ingress(r, context))
    return out


def router_ingress(r: ResolvedEndpoint, context: RenderContext) -> dict[str, Any]:
    """The public ALB Ingress in front of the router (G8, G16, G17): the configured router Service and port, or the
    ones the router check found during `up` (`context.router_service`/`router_port`, Pulumi Outputs there)."""
    service = context.router_service if context.router_service is not None else ingress_rules.router_service(context.ingress, r.name)
    port = context.router_port if context.router_port is not None else ingress_rules.router_port(context.ingress)
    return ingress_rules.alb_ingress(
        ingress_rules.ingress_name(r.name),
        OPERATOR_NAMESPACE,  # where the router and its Service run
        {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/name": r.name},
        ingress_rules.ingress_annotations(r.spec, context.ingress, r.health_path, context.alb_tags),
        service,
        port,
    )


def endpoint_config(
    spec: EndpointSpec,
    region: str | None = None,
    api_key: Any = None,
    api_key_secret: str | None = None,
    tls: Any = None,
) -> dict[str, Any]:
    """The InferenceEndpointConfig. `api_key` may be a Pulumi Output: it is placed, never inspected. `tls` is the
    endpoint's `rules.alb_tls.ResolvedTls` (S2)."""
    r = resolve(spec)
    mount = engines.DEFAULT_MODEL_DIR
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(r.env.items())]
    if spec.api_key:
        env_list.append(_api_key_env(spec, api_key, api_key_secret or r.api_key_secret))
    worker = {
        "image": r.image,
        "command": r.command,
        # The operator downloads the model (commitSHA pins it); for Hugging Face it passes the model flag itself.
        "args": r.args(model_arg(spec), pin_revision=False, download_dir=_hf_download_dir(spec)),
        "environmentVariables": env_list,
        "modelInvocationPort": {"containerPort": r.port, "name": "http"},
        "modelVolumeMount": {"name": MODEL_VOLUME, "mountPath": mount},
        "resources": r.resources,
        "probes": r.probes,
    }
    body: dict[str, Any] = {
        "modelName": sagemaker_model_name(spec.model),
        "instanceType": instances.sagemaker_name(instances.ec2_name(spec.instance_type.lower())),
        "replicas": spec.replicas,
        "invocationEndpoint": spec.invocation_endpoint,
        "maxDeployTimeInSeconds": spec.max_deploy_seconds,
        "modelSourceConfig": _model_source(spec, region),
        "worker": worker,
        "metrics": {"enabled": True, "modelMetrics": {"port": r.metrics_port, "path": r.metrics_path}},
        "loadBalancer": {"healthCheckPath": r.health_path},
    }
    if spec.hyperpod.sagemaker_endpoint:
        body["endpointName"] = r.name  # G2: lowercase, the operator derives resource names from it
    if spec.hyperpod.intelligent_routing:
        body["intelligentRoutingSpec"] = {"enabled": True, "routingStrategy": spec.hyperpod.routing_strategy}
    if spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.enabled:
        body["kvCacheSpec"] = _kv_cache(spec)
    if spec.autoscaling is not None:
        body["autoScalingSpec"] = _autoscaling(r)
    tls_config = _tls_config(spec, tls)
    if tls_config:
        body["tlsConfig"] = tls_config
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": r.name, "namespace": r.namespace, "labels": r.labels},
        "spec": body,
    }


def _api_key_env(spec: EndpointSpec, api_key: Any, secret_name: str) -> dict[str, Any]:
    if spec.hyperpod.intelligent_routing:
        # G9: the operator copies only plain `value` env vars to the router (a secretKeyRef key left it empty); a
        # secretKeyRef leaves the router's VLLM_API_KEY empty and every backend call gets 401.
        return {"name": API_KEY_ENV, "value": api_key}
    return {"name": API_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": API_KEY_SECRET_KEY}}}


def _model_source(spec: EndpointSpec, region: str | None) -> dict[str, Any]:
    src = spec.model_source
    if isinstance(src, S3Source):
        return {
            "modelSourceType": "s3",
            "s3Storage": {"bucketName": src.bucket, "region": src.region or region or "us-east-1"},
            "modelLocation": src.path,
            "prefetchEnabled": _prefetch(spec),  # G7
        }
    if isinstance(src, FsxSource):
        fsx = {"fileSystemId": src.file_system_id}
        fsx.update({k: v for k, v in (("dnsName", src.dns_name), ("mountName", src.mount_name)) if v})
        return {"modelSourceType": "fsx", "fsxStorage": fsx, "modelLocation": src.path}
    assert isinstance(src, HuggingFaceSource)
    hf: dict[str, Any] = {"modelId": src.model_id or spec.model}
    if src.revision:
        hf["commitSHA"] = src.revision
    if src.token_secret:
        hf["tokenSecretRef"] = {"name": src.token_secret.name, "key": src.token_secret.key}
    return {"modelSourceType": "huggingface", "huggingFaceModel": hf, "prefetchEnabled": _prefetch(spec)}


def _kv_cache(spec: EndpointSpec) -> dict[str, Any]:
    kv = spec.hyperpod.kv_cache
    assert kv is not None
    out: dict[str, Any] = {"enableL1Cache": kv.l1, "enableL2Cache": kv.l2}
    if kv.l2:
        l2: dict[str, Any] = {"l2CacheBackend": kv.l2_backend}
        if kv.l2_local_url:
            l2["l2CacheLocalUrl"] = kv.l2_local_url
        out["l2CacheSpec"] = l2
    return out


def _autoscaling(r: ResolvedEndpoint) -> dict[str, Any]:
    scaling = r.spec.autoscaling
    assert scaling is not None
    out: dict[str, Any] = {
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "cooldownPeriod": scaling.cooldown_seconds,
    }
    if scaling.prometheus:
        out["prometheusTrigger"] = {
            "name": f"{r.name}-prometheus",
            "query": scaling.prometheus.query,
            "targetValue": scaling.prometheus.target_value,
            "serverAddress": scaling.prometheus.server_address,
        }
    if scaling.cloudwatch:
        cw = scaling.cloudwatch
        # A1: unset statistic and dimensions are upstream's (Sum; the registered endpoint, variant AllTraffic).
        dims = autoscaling.dimensions(cw, r.name if r.spec.hyperpod.sagemaker_endpoint else None)
        out["cloudWatchTrigger"] = {
            "name": f"{r.name}-cloudwatch",
            "metricName": cw.metric_name,
            "namespace": cw.namespace,
            "targetValue": cw.target_value,
            "metricStat": autoscaling.statistic(cw),
            "metricCollectionPeriod": autoscaling.CLOUDWATCH_PERIOD_SECONDS,
            "dimensions": [{"name": k, "value": v} for k, v in sorted(dims.items())],
        }
    return out


# ---------------------------------------------------------------- reading manifests


def _worker(obj: dict[str, Any]) -> dict[str, Any]:
    worker = (obj.get("spec") or {}).get("worker")
    return worker if isinstance(worker, dict) else {}


def _routing(spec: dict[str, Any]) -> bool:
    return bool((spec.get("intelligentRoutingSpec") or {}).get("enabled"))


def _l2(spec: dict[str, Any]) -> bool:
    return bool((spec.get("kvCacheSpec") or {}).get("enableL2Cache"))


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
            Problem("apiVersion", api_version, G18, "v1alpha1 lacks intelligent routing, KV cache and probes", f"use apiVersion {API_VERSION}")
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
        f"{path}.hyperpod.intelligentRouting", f"{path}.hyperpod.kvCache", f"{path}.hyperpod.prefetch", f"{path}.engineArgs.enablePrefixCaching",
        f"{path}.hyperpod.kvCache.l2Backend", f"{path}.image", f"{path}.invocationEndpoint",
        "set hyperpod.intelligentRouting: false (and publicAlb: false)", "set hyperpod.kvCache: {l1: false, l2: false}", "remove hyperpod.prefetch (or disable hyperpod.kvCache.l2)",
        "remove enablePrefixCaching",
    )


MANIFEST_FIELDS = OperatorFields(
    "spec.intelligentRoutingSpec.enabled", "spec.kvCacheSpec", "spec.modelSourceConfig.prefetchEnabled", "spec.worker.args[--enable-prefix-caching]",
    "spec.kvCacheSpec.l2CacheSpec.l2CacheBackend", "spec.worker.image", "spec.invocationEndpoint",
    "remove intelligentRoutingSpec", "remove kvCacheSpec", "set prefetchEnabled: false", "remove --enable-prefix-caching",
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
        out.append(Problem(at.kv_cache, kv_cache, G21, "KVCacheSpec can only be configured for vLLM model server", f"{at.kv_cache_off}, or {_VLLM_ONLY_FIX}"))
    if routing:
        out.append(Problem(at.routing, True, G21, f"intelligent routing supports only vLLM-based containers, not {engine}", f"{at.routing_off}, or {_VLLM_ONLY_FIX}"))
    return out


def check_l2_cache(l2: bool, prefetch: bool, prefix_caching: bool, l2_backend: Any, at: OperatorFields) -> list[Problem]:
    """G7: L2 KV cache with prefetch or the engine's own prefix caching breaks the pod; tieredstorage L2 is broken."""
    if not l2:
        return []
    out = []
    if prefetch:
        out.append(Problem(at.prefetch, True, G7, "prefetch with L2 cache breaks the pod (lmcache-config volume not found)", at.prefetch_off))
    if prefix_caching:
        out.append(Problem(at.prefix_caching, True, G7, "with L2 cache the operator manages prefix caching; the flag breaks the pod", at.prefix_caching_off))
    backend = str(l2_backend or "").lower()
    if backend == "tieredstorage":
        out.append(Problem(at.l2_backend, backend, G7, "tieredstorage L2 is known broken (LMCache: Invalid argument '/ai_toolkit_cache'); L1 still works", "use redis, or expect no remote cache", severity="warning"))
    return out


def check_lmcache_image(engine: str | None, kv_on: bool, image: Any, at: OperatorFields, default_fix: str = "") -> list[Problem]:
    """G22: KV-cache offload runs LMCache in the worker; upstream's kvCacheSpec samples all use lmcache/vllm-openai.
    (KV cache on another engine is G21's.)"""
    if engine not in (None, "vllm") or not kv_on or not isinstance(image, str) or engines.has_lmcache(image):
        return []
    return [Problem(at.image, image, G22, "KV-cache offload needs LMCache in the image; this image has no lmcache module", f"{default_fix}use {engines.LMCACHE_IMAGE} (upstream's kvCacheSpec samples) or another LMCache build of vLLM")]


def check_kvaware(routing: bool, strategy: Any, invocation: Any, at: OperatorFields) -> list[Problem]:
    """G17: the kvaware routing strategy needs the completions API."""
    if routing and strategy == "kvaware" and invocation != "v1/completions":
        return [Problem(at.invocation, invocation, G17, "kvaware routing needs the completions API", "set invocationEndpoint: v1/completions")]
    return []


def _check_operator_features(spec: dict, view: engine_checks.EngineContainerView) -> list[Problem]:
    kv = spec.get("kvCacheSpec")
    at = MANIFEST_FIELDS
    source = spec.get("modelSourceConfig") or {}
    return (
        check_l2_cache(_l2(spec), bool(source.get("prefetchEnabled")), "--enable-prefix-caching" in view.flags, ((kv or {}).get("l2CacheSpec") or {}).get("l2CacheBackend") if isinstance(kv, dict) else None, at)
        + check_vllm_only(view.engine, _routing(spec), kv if isinstance(kv, dict) else None, at)
        + check_lmcache_image(view.engine, _kv_on(spec), _worker({"spec": spec}).get("image"), at)
    )


def _kv_on(spec: dict) -> bool:
    kv = spec.get("kvCacheSpec")
    return isinstance(kv, dict) and bool(kv.get("enableL1Cache") or kv.get("enableL2Cache"))


def _model_flags(view: engine_checks.EngineContainerView) -> set[str]:
    own = {engines.canonical_flag(view.engine, engines.engine(e).model_flag) for e in engines.ENGINES if view.engine in (None, e)}
    return own & set(view.flags)


def _check_model_flag(spec: dict, view: engine_checks.EngineContainerView) -> list[Problem]:
    """G10: for a Hugging Face model without prefetch the operator injects the model flag itself (upstream's
    v1_huggingface_mistral7b_vllm.yaml / ..._sglang.yaml); a second one points the engine elsewhere."""
    source = spec.get("modelSourceConfig") or {}
    if source.get("modelSourceType") != "huggingface" or source.get("prefetchEnabled"):
        return []
    return [
        Problem(f"spec.worker.args[{flag}]", view.flags[flag], G10, "the operator injects the model flag for a Hugging Face model without prefetch; a second one overrides it", f"remove {flag} (vLLM: pass --download-dir {engines.DEFAULT_MODEL_DIR})")
        for flag in sorted(_model_flags(view))
    ]


def _check_api_key(spec: dict, view: engine_checks.EngineContainerView) -> list[Problem]:
    """G9, HyperPod's router: it receives only plain `value` env vars."""
    entry = view.env.get(API_KEY_ENV)
    if not _routing(spec) or entry is None:
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
        out.append(Problem("spec.loadBalancer.healthCheckPath", health, G17, f"the ALB health check must hit a route the engine serves ({wanted})", f"set healthCheckPath: {wanted}"))
    invocation = spec.get("invocationEndpoint", CRD_INVOCATION_DEFAULT)
    if invocation not in ("v1/chat/completions", "v1/completions"):
        out.append(Problem("spec.invocationEndpoint", invocation, G17, "clients call the OpenAI API, not SageMaker's /invocations", "set invocationEndpoint: v1/chat/completions"))
    strategy = (spec.get("intelligentRoutingSpec") or {}).get("routingStrategy")
    return out + check_kvaware(_routing(spec), strategy, invocation, MANIFEST_FIELDS)


# ---------------------------------------------------------------- fix


def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    """Repair what is unambiguous; leave the rest to `check`. Never mutates the input."""
    obj = copy_tree(obj)
    changes: list[Change] = []
    meta = obj.setdefault("metadata", {})
    spec = obj.setdefault("spec", {})
    meta["name"], c = naming.fix_name(meta.get("name"), "metadata.name", naming.HYPERPOD_DERIVED)
    changes += c
    if spec.get("endpointName"):
        spec["endpointName"], c = naming.fix_name(spec["endpointName"], "spec.endpointName")
        changes += c
    for field in ("labels", "annotations"):
        for key, value in list((meta.get(field) or {}).items()):
            if not isinstance(value, str):
                meta[field][key] = _label_str(value)
                changes.append(Change(f"metadata.{field}.{key}", value, meta[field][key], G2, "values must be strings"))
    worker = spec.get("worker")
    if not isinstance(worker, dict):
        return obj, changes
    engine = reader.detect_engine(worker)
    port = (worker.get("modelInvocationPort") or {}).get("containerPort")
    args = list(worker.get("args")) if isinstance(worker.get("args"), list) else []
    if engine is not None:
        args, c = _fix_args(args, engine, port, spec)
        changes += c
        if not worker.get("command"):
            worker["command"] = engines.engine(engine).command
            changes.append(Change("spec.worker.command", None, worker["command"], G5, "DLC images ignore args without a full command"))
        worker["args"] = args
    if isinstance(port, int):
        changes += _fix_ports(spec, port, engine)
        if not isinstance(worker.get("probes"), dict):
            worker["probes"] = {}
        changes += engine_checks.fix_probes(worker["probes"], "spec.worker.probes", engine, port, spec.get("maxDeployTimeInSeconds", 3600))
    changes += _fix_kv_cache(spec)
    changes += _fix_resources(spec, worker, engine)
    changes += _fix_routes(spec, engine)
    return obj, changes


def _label_str(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _fix_args(args: list, engine: str, port: Any, spec: dict) -> tuple[list, list[Change]]:
    changes: list[Change] = []
    parsed = engines.parse_args(args)
    if isinstance(port, int) and str(parsed.get("--port")) != str(port):
        args = _set_flag(args, "--port", str(port))
        changes.append(Change("spec.worker.args[--port]", parsed.get("--port"), str(port), G3, "one port for the engine everywhere"))
    if "--served-model-name" not in parsed:
        hf_id = ((spec.get("modelSourceConfig") or {}).get("huggingFaceModel") or {}).get("modelId")
        source = hf_id or spec.get("modelName")
        if isinstance(source, str) and source:
            served = engines.served_model_name(source)
            args = _set_flag(args, "--served-model-name", served)
            changes.append(Change("spec.worker.args[--served-model-name]", None, served, G5, "clients call the model by its friendly name"))
    if engine == "sglang" and "--enable-metrics" not in parsed:
        args = [*args, "--enable-metrics"]
        changes.append(Change("spec.worker.args[--enable-metrics]", None, True, G6, "the router drops SGLang backends whose /metrics 404s"))
    for key in ("max_model_len", "gpu_memory_utilization"):
        flag = engines.PARAMS_BY_KEY[key].flag(engine).on
        if flag not in parsed:
            value = engines._fmt(engines.DEFAULTS[engine][key])
            args = [*args, flag, value]
            changes.append(Change(f"spec.worker.args[{flag}]", None, value, G10, "default when unset"))
    source = spec.get("modelSourceConfig") or {}
    if source.get("modelSourceType") == "huggingface" and not source.get("prefetchEnabled"):
        flag = engines.canonical_flag(engine, engines.engine(engine).model_flag)
        own = engines.parse_args(args, engine)
        if flag in own:
            args = _drop_flag(args, flag, engine)
            changes.append(Change(f"spec.worker.args[{flag}]", own[flag], None, G10, "the operator injects the model flag for a Hugging Face model"))
    if _l2(spec) and "--enable-prefix-caching" in parsed:
        args = [a for a in args if a != "--enable-prefix-caching"]
        changes.append(Change("spec.worker.args[--enable-prefix-caching]", True, None, G7, "the operator manages prefix caching with L2 cache"))
    return args, changes


def _drop_flag(args: list, flag: str, engine: str) -> list:
    """`args` without every spelling of `flag` (canonical) and its value."""
    out, i = [], 0
    while i < len(args):
        arg = args[i]
        if engines.is_flag(arg, engine) and engines.canonical_flag(engine, arg) == flag:
            has_value = "=" not in str(arg) and i + 1 < len(args) and not engines.is_flag(args[i + 1], engine)
            i += 2 if has_value else 1
            continue
        out.append(arg)
        i += 1
    return out


def _set_flag(args: list, flag: str, value: str) -> list:
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


def _fix_ports(spec: dict, port: int, engine: str | None) -> list[Change]:
    metrics = spec.setdefault("metrics", {})
    if not metrics.get("enabled", True):
        return []
    model_metrics = metrics.setdefault("modelMetrics", {})
    old = model_metrics.get("port", CRD_METRICS_PORT_DEFAULT)
    if old == port:
        return []
    model_metrics["port"] = port
    return [Change("spec.metrics.modelMetrics.port", old, port, G3, "the engine serves /metrics on its own port")]


def _fix_kv_cache(spec: dict) -> list[Change]:
    source = spec.get("modelSourceConfig")
    if _l2(spec) and isinstance(source, dict) and source.get("prefetchEnabled"):
        source["prefetchEnabled"] = False
        return [Change("spec.modelSourceConfig.prefetchEnabled", True, False, G7, "prefetch with L2 cache breaks the pod")]
    return []


def _fix_resources(spec: dict, worker: dict, engine: str | None) -> list[Change]:
    changes = []
    tp = reader.tensor_parallel(reader.parse(reader.str_args(worker.get("args")), engine))
    resources = worker.setdefault("resources", {})
    limits = resources.setdefault("limits", {})
    if limits.get(GPU) is None:
        limits[GPU] = str(tp)
        changes.append(Change(f"spec.worker.resources.limits.{GPU}", None, str(tp), G11, "GPUs are scheduled by limit = tensor-parallel size"))
    changes += engine_checks.fix_ephemeral_storage(worker, "spec.worker")
    inst = reader.instance(spec.get("instanceType"))
    if engine is not None and inst is not None:
        present = reader.env_map(worker.get("environmentVariables"))
        for key, value in engines.instance_env(engine, inst).items():
            if key not in present:
                worker.setdefault("environmentVariables", []).append({"name": key, "value": value})
                changes.append(Change(f"spec.worker.environmentVariables[{key}]", None, value, G12, f"{inst.gpu.model} workaround"))
    return changes


def _fix_routes(spec: dict, engine: str | None) -> list[Change]:
    changes = []
    wanted = reader.health_path(engine)
    lb = spec.setdefault("loadBalancer", {})
    old = lb.get("healthCheckPath", CRD_HEALTH_CHECK_DEFAULT)
    if old != wanted:
        lb["healthCheckPath"] = wanted
        changes.append(Change("spec.loadBalancer.healthCheckPath", old, wanted, G17, "a route the engine serves"))
    invocation = spec.get("invocationEndpoint", CRD_INVOCATION_DEFAULT)
    if invocation not in ("v1/chat/completions", "v1/completions"):
        kvaware = (spec.get("intelligentRoutingSpec") or {}).get("routingStrategy") == "kvaware"
        spec["invocationEndpoint"] = "v1/completions" if kvaware else "v1/chat/completions"
        changes.append(Change("spec.invocationEndpoint", invocation, spec["invocationEndpoint"], G17, "the OpenAI API the clients call"))
    return changes


# ---------------------------------------------------------------- by kind (manifests.py composes these)

CHECKERS = {(GROUP, KIND): check}
FIXERS = {(GROUP, KIND): fix}


# ---------------------------------------------------------------- config


def validate(spec: EndpointSpec, path: str) -> list[Problem]:
    """The operator's rules on an endpoint's config (G7, G8, G21, G22, its KEDA triggers)."""
    at = config_fields(path)
    kv = spec.hyperpod.kv_cache if spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.enabled else None
    problems = check_vllm_only(spec.engine, spec.hyperpod.intelligent_routing, kv.model_dump(by_alias=True) if kv else None, at)
    if kv is not None and spec.engine == "vllm":
        if spec.image is not None:
            problems += check_lmcache_image(spec.engine, True, spec.image, at, f"remove image (the default with hyperpod.kvCache is {engines.LMCACHE_IMAGE}), set hyperpod.kvCache: {{l1: false, l2: false}}, or ")
        problems += check_l2_cache(kv.l2, bool(spec.hyperpod.prefetch), bool(spec.engine_args.enable_prefix_caching), kv.l2_backend, at)
    if spec.public_alb and not spec.hyperpod.intelligent_routing:
        problems.append(Problem(f"{path}.publicAlb", True, G8, "the operator creates the Ingress (and so the ALB) only with intelligent routing", "set hyperpod.intelligentRouting: true, or publicAlb: false"))
    scaling = spec.autoscaling
    if scaling is not None and scaling.prometheus is None and scaling.cloudwatch is None and scaling.target is None:
        problems.append(
            Problem(
                f"{path}.autoscaling",
                scaling.model_dump(by_alias=True),
                "CONFIG",
                "autoscaling needs a trigger, and with no Prometheus server (platform.prometheusServerAddress) there is no default one",
                "set platform.prometheusServerAddress to the Prometheus workspace holding the engine's metrics (the engine's queue is then the default trigger), "
                "or add autoscaling.prometheus {query, targetValue, serverAddress} or autoscaling.cloudwatch {metricName, targetValue}, or target: fromCapacity with a capacity file (C1)",
            )
        )
    if scaling is not None:
        problems += autoscaling.check_spec(spec, naming.endpoint_name(spec.name), path)
    return problems


def validate_platform(spec: EndpointSpec, where: str, needs: PlatformNeeds) -> list[Problem]:
    if needs.operator:
        return []
    fix = "set backend: kubernetes (or ome/kserve)"
    fix += f", or set {needs.paths.cluster}.hyperpodClusterArn if this cluster is a HyperPod cluster" if needs.adopted else ", or deploy on a mode hyperpod cluster"
    return [Problem(f"{where}.backend", spec.backend, "BACKEND", f"the HyperPod inference operator does not run on this {needs.mode} cluster, so nothing would serve an InferenceEndpointConfig", fix)]


def upstream(spec: EndpointSpec, platform: PlatformSpec) -> Upstream | None:
    """The router's Service, with intelligent routing only (without it the operator's Service has no name the stack
    knows). The configured name and port; during `up` the gateway's router check replaces them with the Service it
    finds (components/gateway.py), as the public Ingress does."""
    if not spec.hyperpod.intelligent_routing:
        return None
    name = resolve(spec).name
    return Upstream(f"{ingress_rules.router_service(platform.ingress, name)}.{OPERATOR_NAMESPACE}.svc.cluster.local", ingress_rules.router_port(platform.ingress))


def has_alb(spec: EndpointSpec) -> bool:
    """The stack's ALB in front of the router exists with intelligent routing (G8)."""
    return spec.hyperpod.intelligent_routing


def _replicas(obj: Any) -> tuple[int | None, int | None]:
    status = obj.get("status") or {}
    deployment = ((status.get("deploymentStatus") or {}).get("status")) or {}
    return deployment.get("readyReplicas", 0 if deployment else None), status.get("replicas", deployment.get("replicas"))


def _conditions(status: Any) -> list[Any]:
    return list(status.get("conditions") or []) + (((status.get("deploymentStatus") or {}).get("status") or {}).get("conditions") or [])


BACKEND = Backend(
    own_metadata_rules=True,  # G1 with the operator's derived names
    default_on="operator",
    uses_load_balancer=False,
    name="hyperpod",
    title="HyperPod",
    default_load_balancer="alb",
    render=render,
    engine_views=engine_views,
    checkers=CHECKERS,
    fixers=FIXERS,
    options=HyperPodBackend,
    live=LiveReference(GROUP, "v1", "inferenceendpointconfigs", KIND, state_rules.hyperpod, _replicas, _conditions),
    validate=validate,
    validate_platform=validate_platform,
    has_alb=has_alb,
    public_load_balancer=lambda spec: "ALB" if has_alb(spec) else None,
    autoscaler="keda",
    upstream=upstream,
    immutable_fields=IMMUTABLE_FIELDS,
    key_namespaces=(OPERATOR_NAMESPACE,),
    names_cluster_wide=True,
    has_router=True,
    operator_features=True,
)
