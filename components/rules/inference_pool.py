"""Pool routing (`kubernetes.routing: inferencePool`): an InferencePool and its endpoint picker (EPP), rendered,
checked and fixed here; rules R1-R5 (docs/gateway.md "Pool routing").

The objects are the ones the extension's `inferencepool` chart renders
(kubernetes-sigs/gateway-api-inference-extension@v1.0.2 config/charts/inferencepool/templates: inferencepool.yaml,
epp-deployment.yaml, epp-service.yaml, epp-config.yaml, rbac.yaml), with the release named after the endpoint,
so the offline plan checks them against the pinned CRD (schema and CEL) and the rules below can see them. Two
deliberate differences from the chart's defaults, both in the EPP's metric flags (METRIC_FLAGS).

Routing to the pool is AI Gateway's: an AIGatewayRoute backendRef of group inference.networking.k8s.io becomes an
HTTPRoute backendRef to the pool (envoyproxy/ai-gateway@v1.1.0 internal/controller/ai_gateway_route.go newHTTPRoute;
cross-namespace only with a ReferenceGrant, internal/controller/referencegrant.go), and its extension server turns
the pool's cluster into an ORIGINAL_DST cluster led by the EPP's `x-gateway-destination-endpoint` header and adds
an ext_proc filter calling the EPP over TLS on its port, failing closed (internal/extensionserver/
post_cluster_modify.go, inferencepool.go). It sees the pool only when Envoy Gateway hands it over as a backend
extension resource, which `extensionManager.backendResources` asks for (examples/inference-pool/
envoy-gateway-values-addon.yaml; PostClusterModify returns the cluster unchanged without one).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

from . import naming
from .backends import BACKENDS, backend_of
from .catalog import R1, R2, R3, R4, R5
from .endpoint import resolve
from .paths import STACK_FILE, ConfigPaths
from .problems import Problem
from .resources import Resource
from .spec import EndpointSpec, GatewaySpec

EXTENSION_VERSION = "v1.0.2"
# AI Gateway release -> the extension its go.mod requires (envoyproxy/ai-gateway@v1.1.0 go.mod:
# sigs.k8s.io/gateway-api-inference-extension v1.0.2). Its controller and extension server decode the pool with
# that module's api/v1 types.
AIGW_EXTENSION = {"v1.1.0": "v1.0.2"}
POOL_GROUP = "inference.networking.k8s.io"
POOL_API = f"{POOL_GROUP}/v1"
# The extension's experimental group (InferenceObjective, InferenceModel, the v1alpha2 pool): not part of the
# stable API and moved out of the extension after v1.0; the stack creates nothing in it (R5).
ALPHA_GROUP = "inference.networking.x-k8s.io"
EPP_IMAGE = f"registry.k8s.io/gateway-api-inference-extension/epp:{EXTENSION_VERSION}"
# The chart's ports (epp-deployment.yaml, epp-service.yaml @v1.0.2); the pool's endpointPickerRef names the gRPC
# one, which AI Gateway also assumes when unset (internal/extensionserver/inferencepool.go defaultEndpointPickerPort).
EPP_GRPC_PORT = 9002
EPP_HEALTH_PORT = 9003
EPP_METRICS_PORT = 9090
EPP_HEALTH_SERVICE = "inference-extension"  # the probes' gRPC service with one replica (epp-deployment.yaml)
# The CRDs as the extension's release installs them, pinned by commit (tag v1.0.2); the helm chart has none. The
# picker watches InferenceObjectives unconditionally (pkg/epp/server/runserver.go SetupWithManager,
# controller_manager.go), so their CRD must exist for it to start, though the stack creates none (R5).
CRD_COMMIT = "cd03ff7d8a22712119c2b96df6749d6279d776b5"
_CRD_BASE = f"https://raw.githubusercontent.com/kubernetes-sigs/gateway-api-inference-extension/{CRD_COMMIT}/config/crd/bases/"
CRD_URL = _CRD_BASE + "inference.networking.k8s.io_inferencepools.yaml"
OBJECTIVE_CRD_URL = _CRD_BASE + "inference.networking.x-k8s.io_inferenceobjectives.yaml"
CRD_URLS = (CRD_URL, OBJECTIVE_CRD_URL)
# What the EPP scrapes from each engine's /metrics on the pool's target port (cmd/epp/runner/runner.go flags;
# defaults in pkg/epp/server/runserver.go @v1.0.2: `vllm:num_requests_waiting`, `vllm:gpu_cache_usage_perc`,
# `vllm:lora_requests_info`). A metric missing from the scrape is logged at trace level and its value stays at the
# last (or zero) one (pkg/epp/backend/metrics/pod_metrics.go refreshMetrics), so a wrong name silently blinds a
# scorer.
# - vLLM: the KV gauge of the pinned vLLM v0.11.0 is `vllm:kv_cache_usage_perc` (benchmarks/engine_metrics.py
#   cites it); the extension itself moved its default there after v1.0.2 (commit cfdce59, "Use the correct vllm
#   metric gpu_cache_usage_perc --> kv_cache_usage_perc"). The LoRA metric stays the default: it exists only with
#   LoRA on, and its absence only leaves the LoRA affinity (not in the default plugins) without data.
# - SGLang: the names of site-src/implementations/model-servers.md @v1.0.2 ("SGLang v0.4.0 and above", with
#   `--enable-metrics`, which the stack always passes, G6), which the pinned lmsysorg/sglang:v0.5.19 exports
#   (benchmarks/engine_metrics.py); LoRA off, as that page says.
METRIC_FLAGS: dict[str, list[str]] = {
    "vllm": ["--kv-cache-usage-percentage-metric", "vllm:kv_cache_usage_perc"],
    "sglang": ["--total-queued-requests-metric", "sglang:num_queue_reqs", "--kv-cache-usage-percentage-metric", "sglang:token_usage", "--lora-info-metric", ""],
}
# The default plugins of the chart (epp-config.yaml @v1.0.2): queue, KV-cache and prefix-cache scorers.
PLUGINS_FILE = "default-plugins.yaml"
DEFAULT_PLUGINS = """apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: queue-scorer
  - pluginRef: kv-cache-utilization-scorer
  - pluginRef: prefix-cache-scorer
"""
# What Envoy Gateway must hand AI Gateway's extension server (examples/inference-pool/envoy-gateway-values-addon.yaml).
BACKEND_RESOURCE = {"group": POOL_GROUP, "kind": "InferencePool", "version": "v1"}
PART_OF = {"app.kubernetes.io/part-of": "llm-serving", "app.kubernetes.io/component": "endpoint-picker"}


def _routes_pools(spec: EndpointSpec) -> bool:
    """The endpoint's backend renders pool routing (`Backend.pool_routing`); an unknown backend is the config's error."""
    backend = BACKENDS.get(backend_of(spec))
    return backend is not None and backend.pool_routing


def uses_pool(spec: EndpointSpec) -> bool:
    return _routes_pools(spec) and spec.kubernetes.routing == "inferencePool"


def names(spec: EndpointSpec) -> dict[str, str]:
    """The chart's names for a release called after the endpoint: the pool is the release, the EPP `<release>-epp`,
    the cluster-wide RBAC `<release>-<namespace>-epp` (templates/_helpers.tpl)."""
    r = resolve(spec)
    return {"pool": r.name, "epp": naming.fit(f"{r.name}-epp", naming.MAX_NAME), "cluster_rbac": naming.scoped_name(spec.namespace, r.name, "-epp")}


def _meta(name: str, namespace: Optional[str], labels: Optional[dict[str, str]] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def pool(spec: EndpointSpec) -> dict[str, Any]:
    """The InferencePool: the Deployment's own selector (so exactly its pods, R1) and the engine port (R2)."""
    r, n = resolve(spec), names(spec)
    return {
        "apiVersion": POOL_API,
        "kind": "InferencePool",
        "metadata": _meta(n["pool"], spec.namespace, r.labels),
        "spec": {
            "selector": {"matchLabels": dict(r.selector)},
            "targetPorts": [{"number": r.port}],
            "endpointPickerRef": {"name": n["epp"], "port": {"number": EPP_GRPC_PORT}},
        },
    }


def epp_args(spec: EndpointSpec) -> list[str]:
    n = names(spec)
    return [
        "--pool-name", n["pool"], "--pool-namespace", spec.namespace,
        "--zap-encoder", "json", "--config-file", f"/config/{PLUGINS_FILE}",
        *METRIC_FLAGS[spec.engine],
        "--v", "1",
    ]


def epp_objects(spec: EndpointSpec) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding (read pools, pods and InferenceObjectives in the namespace), ClusterRole
    and binding (token and access reviews, which guard the EPP's metrics endpoint), ConfigMap, Deployment and Service,
    as rbac.yaml, epp-config.yaml, epp-deployment.yaml and epp-service.yaml @v1.0.2 render them with one replica."""
    n, ns = names(spec), spec.namespace
    epp = n["epp"]
    selector = {"inferencepool": epp}
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(epp, ns)}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(epp, ns),
        "rules": [
            # The EPP watches InferenceObjectives of its pool; the stack creates none (R5), reading them is the chart's.
            {"apiGroups": [ALPHA_GROUP], "resources": ["inferenceobjectives"], "verbs": ["get", "watch", "list"]},
            {"apiGroups": [POOL_GROUP], "resources": ["inferencepools"], "verbs": ["get", "watch", "list"]},
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]},
        ],
    }
    subject = [{"kind": "ServiceAccount", "name": epp, "namespace": ns}]
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(epp, ns), "subjects": subject,
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": epp}}
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(n["cluster_rbac"], None),
        "rules": [
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
        ],
    }
    cluster_binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": _meta(n["cluster_rbac"], None), "subjects": subject,
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": n["cluster_rbac"]}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(epp, ns), "data": {PLUGINS_FILE: DEFAULT_PLUGINS}}
    container = {
        "name": "epp",
        "image": EPP_IMAGE,
        "imagePullPolicy": "IfNotPresent",  # a pinned tag (the chart's Always pulls it again at every start)
        "args": epp_args(spec),
        "ports": [{"name": "grpc", "containerPort": EPP_GRPC_PORT}, {"name": "grpc-health", "containerPort": EPP_HEALTH_PORT}, {"name": "metrics", "containerPort": EPP_METRICS_PORT}],
        "livenessProbe": {"grpc": {"port": EPP_HEALTH_PORT, "service": EPP_HEALTH_SERVICE}, "initialDelaySeconds": 5, "periodSeconds": 10},
        "readinessProbe": {"grpc": {"port": EPP_HEALTH_PORT, "service": EPP_HEALTH_SERVICE}, "periodSeconds": 2},
        "env": [{"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "volumeMounts": [{"name": "plugins-config-volume", "mountPath": "/config"}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(epp, ns),
        "spec": {
            "replicas": 1,
            # One active picker: its prefix-cache index lives in memory (the chart's comment on Recreate).
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**PART_OF, **selector}},
                "spec": {
                    "serviceAccountName": epp,
                    "terminationGracePeriodSeconds": 130,
                    "containers": [container],
                    "volumes": [{"name": "plugins-config-volume", "configMap": {"name": epp}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(epp, ns),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "grpc-ext-proc", "protocol": "TCP", "port": EPP_GRPC_PORT}, {"name": "http-metrics", "protocol": "TCP", "port": EPP_METRICS_PORT}],
        },
    }
    return [sa, role, binding, cluster_role, cluster_binding, config, deployment, service]


def render(spec: EndpointSpec) -> list[dict[str, Any]]:
    """The endpoint's pool objects in creation order, none without pool routing: the picker's Service before the
    pool that names it, and the pool before the picker's Deployment. The picker answers both its probes
    NOT_SERVING until it has read its pool (kubernetes-sigs/gateway-api-inference-extension@v1.0.2
    cmd/epp/runner/health.go: without leader election every check is `PoolHasSynced`), so a Deployment declared
    first would never turn ready and `up` would wait on it until its timeout."""
    if not uses_pool(spec):
        return []
    *first, deployment, service = epp_objects(spec)
    return [*first, service, pool(spec), deployment]


def reference_grant(pool_name: str, pool_namespace: str, route_namespace: str) -> dict[str, Any]:
    """With the gateway in another namespace: the grant that lets its AIGatewayRoute, and the HTTPRoute AI Gateway
    makes of it, name the pool (envoyproxy/ai-gateway@v1.1.0 internal/controller/referencegrant.go checks the
    AIGatewayRoute; Gateway API asks one of the HTTPRoute's controller too)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": _meta(naming.fit(f"{pool_name}-from-gateway", naming.MAX_NAME), pool_namespace),
        "spec": {
            "from": [
                {"group": "aigateway.envoyproxy.io", "kind": "AIGatewayRoute", "namespace": route_namespace},
                {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": route_namespace},
            ],
            "to": [{"group": POOL_GROUP, "kind": "InferencePool", "name": pool_name}],
        },
    }


# ---------------------------------------------------------------- config validation


def validate(endpoints: Sequence[EndpointSpec], gateway: GatewaySpec, aigw_version: str, paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    """Pool routing at config time: only on the kubernetes backend, only behind the tenant gateway (an ALB cannot
    target an InferencePool; the stack's route to the pool is the gateway's), and only at an AI Gateway release whose
    extension version is the one rendered (R4)."""
    problems: list[Problem] = []
    pooled = [(i, ep) for i, ep in enumerate(endpoints) if ep.kubernetes.routing == "inferencePool"]
    for i, ep in pooled:
        key = f"{paths.endpoint(i)}.kubernetes.routing"
        if not _routes_pools(ep):
            pooling = " or ".join(b.name for b in BACKENDS.values() if b.pool_routing)
            problems.append(Problem(key, "inferencePool", "CONFIG", f"pool routing is rendered by the {pooling} backend only, and this endpoint's backend is {ep.backend!r}",
                                    f"set backend: {pooling}, or drop kubernetes.routing"))
        elif not gateway.enabled:
            problems.append(Problem(key, "inferencePool", "CONFIG", "an InferencePool is reached only through a Gateway route, and an ALB cannot target one: without the tenant gateway nothing would send traffic to the pool",
                                    f"set {paths.gateway}.enabled: true (a tuning grid: `llm-serving:gateway` in pulumi.config, since trials leave the base stack's gateway), or kubernetes.routing: service"
                                    if not paths.indexed else f"set {paths.gateway}.enabled: true, or kubernetes.routing: service"))
    served: dict[str, int] = {}
    for i, ep in pooled:
        model = resolve(ep).served_model_name
        if model in served:
            problems.append(Problem(f"{paths.endpoint(i)}.model", ep.model, R3, f"{paths.endpoint(served[model])} already routes served model {model!r} through a pool; the gateway matches routes by that name, so one of them would never be picked",
                                    "one pool per model: serve it from one endpoint with more replicas, or give each its own served model name"))
        else:
            served[model] = i
    if pooled and gateway.enabled and AIGW_EXTENSION.get(aigw_version) != EXTENSION_VERSION:
        problems.append(Problem(f"{paths.gateway}", aigw_version, R4, f"AI Gateway {aigw_version} is built against extension {AIGW_EXTENSION.get(aigw_version, 'unknown')}, and the stack renders the pool and picker of {EXTENSION_VERSION}",
                                "pin AI Gateway and the extension together (components/rules/inference_pool.py AIGW_EXTENSION)"))
    return problems


# ---------------------------------------------------------------- checks over declared objects


def _get(obj: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def _group(obj: dict[str, Any]) -> str:
    return str(obj.get("apiVersion") or "").rpartition("/")[0]


def check_alpha(obj: dict[str, Any]) -> list[Problem]:
    """R5: nothing in the extension's experimental group."""
    if _group(obj) != ALPHA_GROUP:
        return []
    return [Problem("apiVersion", obj.get("apiVersion"), R5, f"{obj.get('kind')} is in the extension's experimental group {ALPHA_GROUP}, outside the stable API the gateway is pinned to",
                    f"route with an InferencePool of {POOL_API} and the picker's default plugins; drop the {obj.get('kind')}")]


def check_pool(obj: dict[str, Any]) -> list[Problem]:
    """R4 on one pool: the stable version, one target port, a picker reference on the picker's gRPC port."""
    problems: list[Problem] = []
    if obj.get("apiVersion") != POOL_API:
        problems.append(Problem("apiVersion", obj.get("apiVersion"), R4, f"the gateway is pinned to the pool API {POOL_API} (extension {EXTENSION_VERSION})", f"set apiVersion: {POOL_API}"))
        return problems
    ports = _get(obj, "spec", "targetPorts") or []
    if len(ports) != 1:
        problems.append(Problem("spec.targetPorts", ports, R2, "the picker scrapes metrics on the first target port and the engine listens on one port", "list exactly the engine port"))
    ref = _get(obj, "spec", "endpointPickerRef") or {}
    port = _get(ref, "port", "number")
    if port is not None and port != EPP_GRPC_PORT:
        problems.append(Problem("spec.endpointPickerRef.port.number", port, R4, f"the picker {EXTENSION_VERSION} serves ext_proc on {EPP_GRPC_PORT}", f"set it to {EPP_GRPC_PORT}"))
    return problems


def _matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _engine_port(dep: dict[str, Any]) -> Optional[int]:
    for c in _get(dep, "spec", "template", "spec", "containers") or []:
        for p in (c.get("ports") or []) if isinstance(c, dict) else []:
            if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                return p["containerPort"]
    return None


def _served_model(dep: dict[str, Any]) -> Optional[str]:
    for c in _get(dep, "spec", "template", "spec", "containers") or []:
        args = [str(a) for a in (c.get("args") or [])] if isinstance(c, dict) else []
        for flag in ("--served-model-name",):
            if flag in args and args.index(flag) + 1 < len(args):
                return args[args.index(flag) + 1]
    return None


def _is_epp(dep: dict[str, Any]) -> bool:
    return any(isinstance(c, dict) and str(c.get("image", "")).split("@")[0].rsplit(":", 1)[0] == EPP_IMAGE.rsplit(":", 1)[0]
               for c in _get(dep, "spec", "template", "spec", "containers") or [])


def check_objects(objects: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], Problem]]:
    """R1-R4 over every declared object together: each pool selects exactly the pods of one engine Deployment of its
    namespace (the Deployment's own selector, no other's pods), targets its engine port, is the only pool of that
    engine and model, and its picker runs the pinned image against it; an AI Gateway route rule names at most one pool."""
    objs = [o for o in objects if isinstance(o, dict)]
    deployments = [o for o in objs if o.get("kind") == "Deployment" and _group(o) == "apps"]
    engines = [d for d in deployments if not _is_epp(d) and _served_model(d) is not None]
    pools = [o for o in objs if o.get("kind") == "InferencePool" and _group(o) == POOL_GROUP]
    out: list[tuple[dict[str, Any], Problem]] = []
    seen_models: dict[tuple[str, str], str] = {}
    for p in pools:
        ns, name = _get(p, "metadata", "namespace") or "default", _get(p, "metadata", "name")
        selector = _get(p, "spec", "selector", "matchLabels") or {}
        selected = [d for d in engines if (_get(d, "metadata", "namespace") or "default") == ns and _matches(selector, _get(d, "spec", "template", "metadata", "labels") or {})]
        if len(selected) != 1:
            which = [_get(d, "metadata", "name") for d in selected]
            out.append((p, Problem("spec.selector.matchLabels", selector, R1, f"pool {name!r} selects the pods of {len(selected)} engine Deployments {which} in {ns!r}; the picker would send one model's requests to any of them",
                                   "select with the engine Deployment's own spec.selector.matchLabels")))
            continue
        dep = selected[0]
        own = _get(dep, "spec", "selector", "matchLabels") or {}
        if selector != own:
            out.append((p, Problem("spec.selector.matchLabels", selector, R1, f"pool {name!r} selects by other labels than Deployment {_get(dep, 'metadata', 'name')!r}, so it can hold pods the Deployment does not own or miss ones it does",
                                   f"set it to the Deployment's selector {own}")))
        port = _engine_port(dep)
        target = _get(p, "spec", "targetPorts", 0, "number")
        if port is not None and target != port:
            out.append((p, Problem("spec.targetPorts[0].number", target, R2, f"the engine of {_get(dep, 'metadata', 'name')!r} listens on {port}; the gateway would send requests, and the picker its metric scrapes, to a closed port",
                                   f"set it to {port}")))
        key = (ns, _served_model(dep) or "")
        if key in seen_models:
            out.append((p, Problem("metadata.name", name, R3, f"pool {seen_models[key]!r} already serves model {key[1]!r} in {ns!r}; two pickers would each see half the traffic and its prefix cache",
                                   "one pool per model: drop one")))
        else:
            seen_models[key] = name
    pool_names = {(_get(p, "metadata", "namespace") or "default", _get(p, "metadata", "name")) for p in pools}
    for d in deployments:
        if not _is_epp(d):
            continue
        for c in _get(d, "spec", "template", "spec", "containers") or []:
            image = str(c.get("image", "")) if isinstance(c, dict) else ""
            if image.split("@")[0] != EPP_IMAGE:
                out.append((d, Problem("spec.template.spec.containers.image", image, R4, f"the pool API and AI Gateway are pinned to extension {EXTENSION_VERSION}", f"use {EPP_IMAGE}")))
            args = [str(a) for a in (c.get("args") or [])] if isinstance(c, dict) else []
            pool_ref = args[args.index("--pool-name") + 1] if "--pool-name" in args[:-1] else None
            pool_ns = args[args.index("--pool-namespace") + 1] if "--pool-namespace" in args[:-1] else _get(d, "metadata", "namespace") or "default"
            if pool_ref is not None and pool_names and (pool_ns, pool_ref) not in pool_names:
                out.append((d, Problem("spec.template.spec.containers.args", pool_ref, R1, f"the picker watches pool {pool_ns}/{pool_ref}, which the stack does not declare", "pass --pool-name of the pool it serves")))
    for r in objs:
        if r.get("kind") != "AIGatewayRoute":
            continue
        for i, rule in enumerate(_get(r, "spec", "rules") or []):
            refs = [b for b in (rule.get("backendRefs") or []) if isinstance(b, dict) and b.get("kind") == "InferencePool"]
            if refs and len(rule.get("backendRefs") or []) > 1:
                out.append((r, Problem(f"spec.rules[{i}].backendRefs", [b.get("name") for b in rule.get("backendRefs")], R3, "AI Gateway allows one InferencePool per route rule and no other backend beside it",
                                       "one rule per pool")))
    return out


CHECKERS = {(POOL_GROUP, "InferencePool"): check_pool, **{(ALPHA_GROUP, k): check_alpha for k in ("InferenceObjective", "InferenceModel", "InferencePool")}}


def check_resources(resources: Iterable[Resource]) -> list[tuple[Resource, Problem]]:
    """check_objects over a stack's declared resources (the policy pack and the offline plan)."""
    by_id: dict[int, Resource] = {}
    manifests = []
    for r in resources:
        m = r.manifest
        if m is not None:
            by_id[id(m)] = r
            manifests.append(m)
    return [(by_id[id(obj)], problem) for obj, problem in check_objects(manifests)]
