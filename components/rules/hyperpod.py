"""The HyperPod `InferenceEndpointConfig` (G1-G13, G17, G18): render from a spec, check, fix.

`render` builds a correct object; `check` reports what is wrong with any object (hand-written ones
too); `fix` repairs what can be repaired without guessing intent. Transforms call `fix`, the policy
pack and the offline plan call `check`. A rendered object passes `check` with no problem and `fix`
leaves it unchanged (tested).
"""

from __future__ import annotations


from typing import Any

from . import engines, instances, naming, probes
from .problems import Change, Problem
from .tree import copy_tree
from .spec import EndpointSpec, FsxSource, HuggingFaceSource, S3Source

GROUP = "inference.sagemaker.aws.amazon.com"
API_VERSION = f"{GROUP}/v1"  # G18: the stored version; v1alpha1 lacks routing, KV cache, probes
KIND = "InferenceEndpointConfig"
OPERATOR_NAMESPACE = "hyperpod-inference-system"
API_KEY_ENV = "VLLM_API_KEY"
API_KEY_SECRET_KEY = "api-key"
MODEL_VOLUME = "model-weights"
GPU = "nvidia.com/gpu"
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


def resource_name(spec: EndpointSpec) -> str:
    return naming.endpoint_name(spec.name)


def port_of(spec: EndpointSpec) -> int:
    return spec.port or engines.default_port(spec.engine, image_of(spec))


def image_of(spec: EndpointSpec) -> str:
    return spec.image or engines.engine(spec.engine).default_image


def engine_params(spec: EndpointSpec) -> dict[str, Any]:
    params = engines.resolve_params(spec.engine, spec.engine_args.set_values(), instances.lookup(spec.instance_type))
    if spec.kv_cache is not None and spec.kv_cache.l2:
        params.pop("enable_prefix_caching", None)  # G7: the operator manages it with L2
    return params


def sagemaker_model_name(model_id: str) -> str:
    """spec.modelName: SageMaker model names allow [a-zA-Z0-9-] only, 63 at most."""
    name = "".join(c if c.isalnum() and c.isascii() else "-" for c in engines.served_model_name(model_id))
    name = "-".join(part for part in name.split("-") if part)
    return naming.fit(name, naming.MAX_NAME) or "model"


def render(
    spec: EndpointSpec,
    region: str | None = None,
    api_key: Any = None,
    api_key_secret: str | None = None,
) -> dict[str, Any]:
    """The full object. `api_key` may be a Pulumi Output: it is placed, never inspected."""
    eng = engines.engine(spec.engine)
    inst = instances.lookup(spec.instance_type)
    name = resource_name(spec)
    port = port_of(spec)
    params = engine_params(spec)
    tp = params.get("tensor_parallel_size", 1)
    mount = engines.DEFAULT_MODEL_DIR
    api_key_env = API_KEY_ENV if spec.api_key else None

    args = engines.build_args(
        spec.engine, mount, engines.served_model_name(spec.model), port, params, api_key_env=api_key_env
    ) + list(spec.extra_args)

    env = {**engines.instance_env(spec.engine, inst), **spec.env}
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    if spec.api_key:
        env_list.append(_api_key_env(spec, api_key, api_key_secret or f"{name}-api-key"))

    worker = {
        "image": image_of(spec),
        "command": eng.command,
        "args": args,
        "environmentVariables": env_list,
        "modelInvocationPort": {"containerPort": port, "name": "http"},
        "modelVolumeMount": {"name": MODEL_VOLUME, "mountPath": mount},
        "resources": _resources(spec, inst, tp),
        "probes": probes.probe_set(eng.health_path, port, spec.max_deploy_seconds),
    }
    body: dict[str, Any] = {
        "modelName": sagemaker_model_name(spec.model),
        "instanceType": instances.sagemaker_name(instances.ec2_name(spec.instance_type.lower())),
        "replicas": spec.replicas,
        "invocationEndpoint": spec.invocation_endpoint,
        "maxDeployTimeInSeconds": spec.max_deploy_seconds,
        "modelSourceConfig": _model_source(spec, region),
        "worker": worker,
        "metrics": {"enabled": True, "modelMetrics": {"port": port, "path": eng.metrics_path}},
        "loadBalancer": {"healthCheckPath": eng.health_path},
    }
    if spec.sagemaker_endpoint:
        body["endpointName"] = name  # G2: lowercase, the operator derives resource names from it
    if spec.intelligent_routing:
        body["intelligentRoutingSpec"] = {"enabled": True, "routingStrategy": spec.routing_strategy}
    if spec.kv_cache is not None and spec.kv_cache.enabled:
        body["kvCacheSpec"] = _kv_cache(spec)
    if spec.autoscaling is not None:
        body["autoScalingSpec"] = _autoscaling(spec)
    if spec.tls_certificate_s3_uri:
        body["tlsConfig"] = {"tlsCertificateOutputS3Uri": spec.tls_certificate_s3_uri}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": spec.namespace, "labels": labels(spec)},
        "spec": body,
    }


def labels(spec: EndpointSpec) -> dict[str, str]:
    # G2: label values are strings, and fit the 63-character label limit.
    return {
        "app.kubernetes.io/name": resource_name(spec),
        "app.kubernetes.io/managed-by": "pulumi",
        "llm-serving/engine": spec.engine,
        "llm-serving/served-model": naming.fit(naming.normalise(engines.served_model_name(spec.model)), naming.MAX_NAME),
    }


def _api_key_env(spec: EndpointSpec, api_key: Any, secret_name: str) -> dict[str, Any]:
    if spec.intelligent_routing:
        # G9: the operator copies only plain `value` env vars to the router (incident §11); a
        # secretKeyRef leaves the router's VLLM_API_KEY empty and every backend call gets 401.
        return {"name": API_KEY_ENV, "value": api_key}
    return {"name": API_KEY_ENV, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": API_KEY_SECRET_KEY}}}


def _resources(spec: EndpointSpec, inst: instances.InstanceType | None, tp: int) -> dict[str, Any]:
    requests: dict[str, str] = {GPU: str(tp), "ephemeral-storage": spec.resources.ephemeral_storage}
    if inst is not None:
        # The pod's share of the node, minus headroom for the operator's sidecars and daemonsets.
        share = tp / inst.gpus
        requests["cpu"] = spec.resources.cpu or str(max(1, int(inst.vcpus * share * 0.75)))
        requests["memory"] = spec.resources.memory or f"{max(4, int(inst.memory_gib * share * 0.75))}Gi"
    return {"limits": {GPU: str(tp)}, "requests": requests}


def _model_source(spec: EndpointSpec, region: str | None) -> dict[str, Any]:
    src = spec.model_source
    l2 = spec.kv_cache is not None and spec.kv_cache.l2
    if isinstance(src, S3Source):
        return {
            "modelSourceType": "s3",
            "s3Storage": {"bucketName": src.bucket, "region": src.region or region or "us-east-1"},
            "modelLocation": src.path,
            "prefetchEnabled": bool(spec.prefetch) and not l2,  # G7
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
    return {"modelSourceType": "huggingface", "huggingFaceModel": hf, "prefetchEnabled": bool(spec.prefetch) and not l2}


def _kv_cache(spec: EndpointSpec) -> dict[str, Any]:
    kv = spec.kv_cache
    assert kv is not None
    out: dict[str, Any] = {"enableL1Cache": kv.l1, "enableL2Cache": kv.l2}
    if kv.l2:
        l2: dict[str, Any] = {"l2CacheBackend": kv.l2_backend}
        if kv.l2_local_url:
            l2["l2CacheLocalUrl"] = kv.l2_local_url
        out["l2CacheSpec"] = l2
    return out


def _autoscaling(spec: EndpointSpec) -> dict[str, Any]:
    scaling = spec.autoscaling
    assert scaling is not None
    out: dict[str, Any] = {
        "minReplicaCount": scaling.min_replicas,
        "maxReplicaCount": scaling.max_replicas,
        "cooldownPeriod": scaling.cooldown_seconds,
    }
    if scaling.prometheus:
        out["prometheusTrigger"] = {
            "name": f"{resource_name(spec)}-prometheus",
            "query": scaling.prometheus.query,
            "targetValue": scaling.prometheus.target_value,
            "serverAddress": scaling.prometheus.server_address,
        }
    if scaling.cloudwatch:
        cw = scaling.cloudwatch
        out["cloudWatchTrigger"] = {
            "name": f"{resource_name(spec)}-cloudwatch",
            "metricName": cw.metric_name,
            "namespace": cw.namespace,
            "targetValue": cw.target_value,
            "metricStat": cw.statistic,
            "dimensions": [{"name": k, "value": v} for k, v in sorted(cw.dimensions.items())],
        }
    return out


# ---------------------------------------------------------------- reading manifests


def detect_engine(worker: dict[str, Any]) -> str | None:
    text = " ".join(str(x) for x in [*(worker.get("command") or []), worker.get("image", "")]).lower()
    for name in ("sglang", "vllm"):
        if name in text:
            return name
    return None


def _worker(obj: dict[str, Any]) -> dict[str, Any]:
    worker = (obj.get("spec") or {}).get("worker")
    return worker if isinstance(worker, dict) else {}


def _args(worker: dict[str, Any]) -> list[Any]:
    args = worker.get("args")
    return args if isinstance(args, list) else []


def _env_names(worker: dict[str, Any]) -> dict[str, dict[str, Any]]:
    env = worker.get("environmentVariables")
    return {e.get("name"): e for e in env if isinstance(e, dict)} if isinstance(env, list) else {}


def _tp(args: list[Any], engine: str | None) -> int:
    parsed = engines.parse_args(args, engine)
    for flag in ("--tensor-parallel-size", "--tp-size", "--tp"):
        value = parsed.get(flag)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return 1


def _instance(spec: dict[str, Any]) -> instances.InstanceType | None:
    name = spec.get("instanceType")
    return instances.lookup(name) if isinstance(name, str) else None


def _routing(spec: dict[str, Any]) -> bool:
    return bool((spec.get("intelligentRoutingSpec") or {}).get("enabled"))


def _l2(spec: dict[str, Any]) -> bool:
    return bool((spec.get("kvCacheSpec") or {}).get("enableL2Cache"))


# ---------------------------------------------------------------- check


def check(obj: dict[str, Any]) -> list[Problem]:
    """Every guardrail problem of one InferenceEndpointConfig, as manifest field paths."""
    problems: list[Problem] = []
    api_version = obj.get("apiVersion")
    if api_version != API_VERSION:
        problems.append(
            Problem("apiVersion", api_version, "G18", "v1alpha1 lacks intelligent routing, KV cache and probes", f"use apiVersion {API_VERSION}")
        )
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    problems += naming.check_name(meta.get("name"), "metadata.name", naming.HYPERPOD_DERIVED)
    if spec.get("endpointName"):
        problems += naming.check_name(spec["endpointName"], "spec.endpointName")
    problems += _check_labels(meta)
    worker = _worker(obj)
    engine = detect_engine(worker)
    args = _args(worker)
    parsed = engines.parse_args(args, engine)
    port = (worker.get("modelInvocationPort") or {}).get("containerPort")
    problems += _check_ports(spec, worker, parsed, port)
    problems += probes.check_probes(worker.get("probes"), "spec.worker.probes", port if isinstance(port, int) else None, spec.get("maxDeployTimeInSeconds", 3600))
    problems += _check_command(worker, parsed, engine, spec)
    problems += _check_engine_args(parsed, engine, spec)
    problems += _check_kv_cache(spec, parsed, engine)
    problems += _check_api_key(spec, worker)
    problems += _check_gpus(spec, worker, args, engine)
    problems += _check_routes(spec, engine)
    return problems


def _check_labels(meta: dict[str, Any]) -> list[Problem]:
    out = []
    for field in ("labels", "annotations"):
        for key, value in (meta.get(field) or {}).items():
            if not isinstance(value, str):
                out.append(Problem(f"metadata.{field}.{key}", value, "G2", f"{field[:-1]} values must be strings", f"quote it: {str(value)!r}"))
    return out


def _check_ports(spec: dict, worker: dict, parsed: dict, port: Any) -> list[Problem]:
    out = []
    if not isinstance(port, int):
        return [Problem("spec.worker.modelInvocationPort.containerPort", port, "G3", "the engine port is not set", "set the engine's port")]
    arg_port = parsed.get("--port")
    if arg_port is None:
        out.append(Problem("spec.worker.args", None, "G3", f"no --port: the engine listens on its image default, not {port}", f"add --port {port}"))
    elif str(arg_port) != str(port):
        out.append(Problem("spec.worker.args[--port]", arg_port, "G3", f"engine listens on {arg_port} but modelInvocationPort is {port}", f"use one port: --port {port}"))
    metrics = spec.get("metrics") or {}
    if metrics.get("enabled", True):
        metrics_port = (metrics.get("modelMetrics") or {}).get("port", CRD_METRICS_PORT_DEFAULT)
        if metrics_port != port:
            out.append(
                Problem(
                    "spec.metrics.modelMetrics.port",
                    metrics_port,
                    "G3",
                    f"metrics are scraped on {metrics_port} but the engine serves /metrics on {port} (the CRD default 8080 is wrong for vLLM)",
                    f"set spec.metrics.modelMetrics.port: {port}",
                )
            )
    return out


def _check_command(worker: dict, parsed: dict, engine: str | None, spec: dict) -> list[Problem]:
    out = []
    if not worker.get("command"):
        out.append(
            Problem(
                "spec.worker.command",
                None,
                "G5",
                "without a full command the DLC images run their fixed CMD and ignore args (served name, port, engine args)",
                "set command, e.g. ['python3', '-m', 'vllm.entrypoints.openai.api_server']",
            )
        )
    served = parsed.get("--served-model-name")
    if not isinstance(served, str):
        out.append(
            Problem(
                "spec.worker.args",
                None,
                "G5",
                "no --served-model-name: the engine serves the model as /opt/ml/model and the router answers 'Model not found'",
                "add --served-model-name <last segment of the model id>",
            )
        )
    else:
        hf_id = ((spec.get("modelSourceConfig") or {}).get("huggingFaceModel") or {}).get("modelId")
        expected = engines.served_model_name(hf_id) if hf_id else None
        if "/" in served or (expected and served != expected):
            out.append(
                Problem(
                    "spec.worker.args[--served-model-name]",
                    served,
                    "G5",
                    "the served name must be the last path segment of the model id, the name every client sends",
                    f"use {expected or engines.served_model_name(served)!r}",
                )
            )
    if engine == "sglang" and "--enable-metrics" not in parsed:
        out.append(
            Problem(
                "spec.worker.args",
                None,
                "G6",
                "SGLang without --enable-metrics 404s on /metrics; the router drops the backend after ~1 minute",
                "add --enable-metrics",
            )
        )
    return out


def _check_engine_args(parsed: dict, engine: str | None, spec: dict) -> list[Problem]:
    if engine is None:
        return []
    out = []
    other, foreign = engines.foreign_flags(engine)
    for flag in sorted(set(parsed) & foreign):
        out.append(Problem(f"spec.worker.args[{flag}]", parsed[flag], "G10", f"{flag} is a {other} flag; {engine} fails to start on it", f"use the {engine} flag from the parameter map"))
    max_len_flag = engines.PARAMS_BY_KEY["max_model_len"].flag(engine).on
    if max_len_flag not in parsed:
        out.append(
            Problem(
                "spec.worker.args",
                None,
                "G10",
                f"no {max_len_flag}: the engine sizes the KV cache for the model's full context and can OOM",
                f"add {max_len_flag} {engines.DEFAULTS[engine]['max_model_len']}",
            )
        )
    return out


def _check_kv_cache(spec: dict, parsed: dict, engine: str | None) -> list[Problem]:
    kv = spec.get("kvCacheSpec")
    if not isinstance(kv, dict):
        return []
    out = []
    if engine is not None and engine != "vllm":
        out.append(Problem("spec.kvCacheSpec", kv, "G7", "KVCacheSpec can only be configured for vLLM model server", "remove kvCacheSpec or use vLLM"))
    if _l2(spec):
        if (spec.get("modelSourceConfig") or {}).get("prefetchEnabled"):
            out.append(Problem("spec.modelSourceConfig.prefetchEnabled", True, "G7", "prefetch with L2 cache breaks the pod (lmcache-config volume not found)", "set prefetchEnabled: false"))
        if "--enable-prefix-caching" in parsed:
            out.append(Problem("spec.worker.args[--enable-prefix-caching]", True, "G7", "with L2 cache the operator manages prefix caching; the flag breaks the pod", "remove --enable-prefix-caching"))
        backend = str((kv.get("l2CacheSpec") or {}).get("l2CacheBackend", "")).lower()
        if backend == "tieredstorage":
            out.append(
                Problem(
                    "spec.kvCacheSpec.l2CacheSpec.l2CacheBackend",
                    backend,
                    "G7",
                    "tieredstorage L2 is known broken (LMCache: Invalid argument '/ai_toolkit_cache'); L1 still works",
                    "use redis, or expect no remote cache",
                    severity="warning",
                )
            )
    return out


def _check_api_key(spec: dict, worker: dict) -> list[Problem]:
    entry = _env_names(worker).get(API_KEY_ENV)
    if not _routing(spec) or entry is None:
        return []
    if "valueFrom" in entry or not entry.get("value"):
        return [
            Problem(
                f"spec.worker.environmentVariables[{API_KEY_ENV}]",
                entry.get("valueFrom") or entry.get("value"),
                "G9",
                "the operator copies only plain `value` env vars to the router; its VLLM_API_KEY stays empty and every backend answers 401",
                "give VLLM_API_KEY a plain value (a Pulumi secret), with the key Secret in both namespaces",
            )
        ]
    return []


def _check_gpus(spec: dict, worker: dict, args: list, engine: str | None) -> list[Problem]:
    out = []
    tp = _tp(args, engine)
    resources = worker.get("resources") or {}
    limit = (resources.get("limits") or {}).get(GPU)
    if limit is None:
        out.append(Problem(f"spec.worker.resources.limits.{GPU}", None, "G11", "no GPU limit: the pod is scheduled without a GPU", f"set limits.{GPU}: '{tp}'"))
    elif str(limit) != str(tp):
        out.append(Problem(f"spec.worker.resources.limits.{GPU}", limit, "G11", f"GPU limit differs from the tensor-parallel size {tp}", f"set limits.{GPU}: '{tp}'"))
    if cuda := _env_names(worker).get("CUDA_VISIBLE_DEVICES"):
        out.append(Problem("spec.worker.environmentVariables[CUDA_VISIBLE_DEVICES]", cuda.get("value"), "G11", "GPU selection by env fights the device plugin", "remove it; the nvidia.com/gpu limit assigns GPUs"))
    inst = _instance(spec)
    if inst is not None and tp > inst.gpus:
        out.append(Problem("spec.worker.args[--tensor-parallel-size]", tp, "G11", f"{spec.get('instanceType')} has {inst.gpus} GPU(s)", f"use tensor-parallel size <= {inst.gpus}"))
    if inst is not None and engine is not None:
        env = _env_names(worker)
        for key, value in engines.instance_env(engine, inst).items():
            if (env.get(key) or {}).get("value") != value:
                out.append(Problem(f"spec.worker.environmentVariables[{key}]", (env.get(key) or {}).get("value"), "G12", f"{inst.gpu.model} (compute capability {inst.gpu.compute_capability}) needs {key}={value}", f"set {key}={value}"))
    requests = resources.get("requests") or {}
    if "ephemeral-storage" not in requests:
        out.append(Problem("spec.worker.resources.requests.ephemeral-storage", None, "G13", "no ephemeral-storage request: the kubelet evicts the pod when downloads fill the node", "request ephemeral-storage within node capacity, e.g. 50Gi"))
    return out


def _check_routes(spec: dict, engine: str | None) -> list[Problem]:
    out = []
    health = (spec.get("loadBalancer") or {}).get("healthCheckPath", CRD_HEALTH_CHECK_DEFAULT)
    wanted = engines.engine(engine).health_path if engine else "/health"
    if health != wanted:
        out.append(Problem("spec.loadBalancer.healthCheckPath", health, "G17", f"the ALB health check must hit a route the engine serves ({wanted})", f"set healthCheckPath: {wanted}"))
    invocation = spec.get("invocationEndpoint", CRD_INVOCATION_DEFAULT)
    if invocation not in ("v1/chat/completions", "v1/completions"):
        out.append(Problem("spec.invocationEndpoint", invocation, "G17", "clients call the OpenAI API, not SageMaker's /invocations", "set invocationEndpoint: v1/chat/completions"))
    strategy = (spec.get("intelligentRoutingSpec") or {}).get("routingStrategy")
    if _routing(spec) and strategy == "kvaware" and invocation != "v1/completions":
        out.append(Problem("spec.invocationEndpoint", invocation, "G17", "kvaware routing needs the completions API", "set invocationEndpoint: v1/completions"))
    return out


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
                changes.append(Change(f"metadata.{field}.{key}", value, meta[field][key], "G2", "values must be strings"))
    worker = spec.get("worker")
    if not isinstance(worker, dict):
        return obj, changes
    engine = detect_engine(worker)
    port = (worker.get("modelInvocationPort") or {}).get("containerPort")
    args = list(_args(worker))
    if engine is not None:
        args, c = _fix_args(args, engine, port, spec)
        changes += c
        if not worker.get("command"):
            worker["command"] = engines.engine(engine).command
            changes.append(Change("spec.worker.command", None, worker["command"], "G5", "DLC images ignore args without a full command"))
        worker["args"] = args
    if isinstance(port, int):
        changes += _fix_ports(spec, port, engine)
        path = engines.engine(engine).health_path if engine else "/health"
        worker["probes"], c = probes.fix_probes(worker.get("probes"), "spec.worker.probes", path, port, spec.get("maxDeployTimeInSeconds", 3600))
        changes += c
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
        changes.append(Change("spec.worker.args[--port]", parsed.get("--port"), str(port), "G3", "one port for the engine everywhere"))
    if "--served-model-name" not in parsed:
        hf_id = ((spec.get("modelSourceConfig") or {}).get("huggingFaceModel") or {}).get("modelId")
        source = hf_id or spec.get("modelName")
        if isinstance(source, str) and source:
            served = engines.served_model_name(source)
            args = _set_flag(args, "--served-model-name", served)
            changes.append(Change("spec.worker.args[--served-model-name]", None, served, "G5", "clients call the model by its friendly name"))
    if engine == "sglang" and "--enable-metrics" not in parsed:
        args = [*args, "--enable-metrics"]
        changes.append(Change("spec.worker.args[--enable-metrics]", None, True, "G6", "the router drops SGLang backends whose /metrics 404s"))
    for key in ("max_model_len", "gpu_memory_utilization"):
        flag = engines.PARAMS_BY_KEY[key].flag(engine).on
        if flag not in parsed:
            value = engines._fmt(engines.DEFAULTS[engine][key])
            args = [*args, flag, value]
            changes.append(Change(f"spec.worker.args[{flag}]", None, value, "G10", "default when unset"))
    if _l2(spec) and "--enable-prefix-caching" in parsed:
        args = [a for a in args if a != "--enable-prefix-caching"]
        changes.append(Change("spec.worker.args[--enable-prefix-caching]", True, None, "G7", "the operator manages prefix caching with L2 cache"))
    return args, changes


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
    return [Change("spec.metrics.modelMetrics.port", old, port, "G3", "the engine serves /metrics on its own port")]


def _fix_kv_cache(spec: dict) -> list[Change]:
    source = spec.get("modelSourceConfig")
    if _l2(spec) and isinstance(source, dict) and source.get("prefetchEnabled"):
        source["prefetchEnabled"] = False
        return [Change("spec.modelSourceConfig.prefetchEnabled", True, False, "G7", "prefetch with L2 cache breaks the pod")]
    return []


def _fix_resources(spec: dict, worker: dict, engine: str | None) -> list[Change]:
    changes = []
    tp = _tp(_args(worker), engine)
    resources = worker.setdefault("resources", {})
    limits = resources.setdefault("limits", {})
    if limits.get(GPU) is None:
        limits[GPU] = str(tp)
        changes.append(Change(f"spec.worker.resources.limits.{GPU}", None, str(tp), "G11", "GPUs are scheduled by limit = tensor-parallel size"))
    requests = resources.setdefault("requests", {})
    if "ephemeral-storage" not in requests:
        requests["ephemeral-storage"] = "50Gi"
        changes.append(Change("spec.worker.resources.requests.ephemeral-storage", None, "50Gi", "G13", "explicit, within node capacity"))
    inst = _instance(spec)
    if engine is not None and inst is not None:
        present = _env_names(worker)
        for key, value in engines.instance_env(engine, inst).items():
            if key not in present:
                worker.setdefault("environmentVariables", []).append({"name": key, "value": value})
                changes.append(Change(f"spec.worker.environmentVariables[{key}]", None, value, "G12", f"{inst.gpu.model} workaround"))
    return changes


def _fix_routes(spec: dict, engine: str | None) -> list[Change]:
    changes = []
    wanted = engines.engine(engine).health_path if engine else "/health"
    lb = spec.setdefault("loadBalancer", {})
    old = lb.get("healthCheckPath", CRD_HEALTH_CHECK_DEFAULT)
    if old != wanted:
        lb["healthCheckPath"] = wanted
        changes.append(Change("spec.loadBalancer.healthCheckPath", old, wanted, "G17", "a route the engine serves"))
    invocation = spec.get("invocationEndpoint", CRD_INVOCATION_DEFAULT)
    if invocation not in ("v1/chat/completions", "v1/completions"):
        kvaware = (spec.get("intelligentRoutingSpec") or {}).get("routingStrategy") == "kvaware"
        spec["invocationEndpoint"] = "v1/completions" if kvaware else "v1/chat/completions"
        changes.append(Change("spec.invocationEndpoint", invocation, spec["invocationEndpoint"], "G17", "the OpenAI API the clients call"))
    return changes


def resources_of(spec: EndpointSpec) -> dict[str, Any]:
    """GPU limit = tensor-parallel size and the pod's share of the node (shared with other backends)."""
    return _resources(spec, instances.lookup(spec.instance_type), engine_params(spec).get("tensor_parallel_size", 1))
