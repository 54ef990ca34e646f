"""Pool routing's objects (R1, R2, R4): the pinned extension release, and the InferencePool, its endpoint picker
(EPP) and the ReferenceGrant rendered from an endpoint; `components/rules/inference_pool.py` re-exports them."""

from __future__ import annotations

from typing import Any

from . import naming
from .backends import BACKENDS, backend_of
from .endpoint import resolve
from .spec import EndpointSpec

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
_CRD_BASE = (
    f"https://raw.githubusercontent.com/kubernetes-sigs/gateway-api-inference-extension/{CRD_COMMIT}/config/crd/bases/"
)
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
    "sglang": [
        "--total-queued-requests-metric",
        "sglang:num_queue_reqs",
        "--kv-cache-usage-percentage-metric",
        "sglang:token_usage",
        "--lora-info-metric",
        "",
    ],
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
    return {
        "pool": r.name,
        "epp": naming.fit(f"{r.name}-epp", naming.MAX_NAME),
        "cluster_rbac": naming.scoped_name(spec.namespace, r.name, "-epp"),
    }


def _meta(name: str, namespace: str | None, labels: dict[str, str] | None = None) -> dict[str, Any]:
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
        "--pool-name",
        n["pool"],
        "--pool-namespace",
        spec.namespace,
        "--zap-encoder",
        "json",
        "--config-file",
        f"/config/{PLUGINS_FILE}",
        *METRIC_FLAGS[spec.engine],
        "--v",
        "1",
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
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(epp, ns),
        "subjects": subject,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": epp},
    }
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(n["cluster_rbac"], None),
        "rules": [
            {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
            {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
        ],
    }
    cluster_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(n["cluster_rbac"], None),
        "subjects": subject,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": n["cluster_rbac"]},
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(epp, ns),
        "data": {PLUGINS_FILE: DEFAULT_PLUGINS},
    }
    container = {
        "name": "epp",
        "image": EPP_IMAGE,
        "imagePullPolicy": "IfNotPresent",  # a pinned tag (the chart's Always pulls it again at every start)
        "args": epp_args(spec),
        "ports": [
            {"name": "grpc", "containerPort": EPP_GRPC_PORT},
            {"name": "grpc-health", "containerPort": EPP_HEALTH_PORT},
            {"name": "metrics", "containerPort": EPP_METRICS_PORT},
        ],
        "livenessProbe": {
            "grpc": {"port": EPP_HEALTH_PORT, "service": EPP_HEALTH_SERVICE},
            "initialDelaySeconds": 5,
            "periodSeconds": 10,
        },
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
            "ports": [
                {"name": "grpc-ext-proc", "protocol": "TCP", "port": EPP_GRPC_PORT},
                {"name": "http-metrics", "protocol": "TCP", "port": EPP_METRICS_PORT},
            ],
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
