"""The HyperPod `InferenceEndpointConfig` built from a spec (G1-G13, G17, G18, G19): the CRD's constants,
`endpoint_config`, the router's ALB Ingress, and the readers of a manifest that `check` and `fix` share.
`components/rules/backends/hyperpod.py` renders with these and re-exports them."""

from __future__ import annotations

import re
from typing import Any

import components.rules.backends.hyperpod_dpd as hyperpod_dpd

from .. import autoscaling, engines, hyperpod_fields, naming
from .. import ingress as ingress_rules
from ..addons import OPERATOR_NAMESPACE
from ..endpoint import API_KEY_ENV, API_KEY_SECRET_KEY, ResolvedEndpoint, resolve
from ..spec import EndpointSpec, FsxSource, HuggingFaceSource, S3Source
from .base import RenderContext

GROUP = "inference.sagemaker.aws.amazon.com"
API_VERSION = f"{GROUP}/v1"  # G18: the stored version; v1alpha1 lacks routing, KV cache, probes
KIND = "InferenceEndpointConfig"
MODEL_VOLUME = "model-weights"
CRD_METRICS_PORT_DEFAULT = 8080  # spec.metrics.modelMetrics.port default: wrong for vLLM (G3)
CRD_HEALTH_CHECK_DEFAULT = "/ping"
CRD_INVOCATION_DEFAULT = "invocations"

# G19: fields the operator cannot change in place (CRD: "Once set, the enabled field cannot be modified").
IMMUTABLE_FIELDS = ("spec.intelligentRoutingSpec.enabled",)


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


def router_ingress(r: ResolvedEndpoint, context: RenderContext) -> dict[str, Any]:
    """The public ALB Ingress in front of the router (G8, G16, G17): the configured router Service and port, or the
    ones the router check found during `up` (`context.router_service`/`router_port`, Pulumi Outputs there)."""
    service = (
        context.router_service
        if context.router_service is not None
        else ingress_rules.router_service(context.ingress, r.name)
    )
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
    env = {**hyperpod_dpd.pd_env(spec), **r.env} if spec.hyperpod.pd_spec is not None else r.env  # D1: both roles
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
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
    request_limits = hyperpod_fields.render_request_limits(spec)
    if request_limits is not None:
        worker["requestLimits"] = request_limits
    body: dict[str, Any] = {
        "modelName": sagemaker_model_name(spec.model),
        **hyperpod_fields.render(spec),  # instanceType, or the ordered instanceTypes
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
    if spec.hyperpod.pd_spec is not None:
        body["pdSpec"] = hyperpod_dpd.render(spec, r, _autoscaling)
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
    # With pdSpec the operator creates its router too (AWS's DPD page: "The router is created automatically").
    if spec.hyperpod.intelligent_routing or spec.hyperpod.pd_spec is not None:
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


def _autoscaling(r: ResolvedEndpoint, scaling: Any = None, role: str = "") -> dict[str, Any]:
    """A KEDA block: the endpoint's `autoscaling`, or `scaling` of one DPD `role` (its triggers named after it)."""
    scaling = scaling if scaling is not None else r.spec.autoscaling
    assert scaling is not None
    name = f"{r.name}-{role}" if role else r.name
    out: dict[str, Any] = {
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "cooldownPeriod": scaling.cooldown_seconds,
    }
    if scaling.prometheus:
        out["prometheusTrigger"] = {
            "name": f"{name}-prometheus",
            "query": scaling.prometheus.query,
            "targetValue": scaling.prometheus.target_value,
            "serverAddress": scaling.prometheus.server_address,
        }
    if scaling.cloudwatch:
        cw = scaling.cloudwatch
        # A1: unset statistic and dimensions are upstream's (Sum; the registered endpoint, variant AllTraffic).
        dims = autoscaling.dimensions(cw, r.name if r.spec.hyperpod.sagemaker_endpoint else None)
        out["cloudWatchTrigger"] = {
            "name": f"{name}-cloudwatch",
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
