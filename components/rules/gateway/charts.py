"""The gateway's controllers: upstream Helm charts at pinned versions, and their values.

Sources: envoyproxy/ai-gateway v1.1.0 `site/versioned_docs/version-1.1/getting-started/installation.md`
(charts `ai-gateway-crds-helm`, `ai-gateway-helm`), `manifests/envoy-gateway-values.yaml` (what AI
Gateway needs from Envoy Gateway), `examples/token_ratelimit/envoy-gateway-values-addon.yaml` (Redis
rate-limit backend); envoyproxy/gateway v1.8.1 `site/content/en/latest/tasks/traffic/global-rate-limit.md`
(rate-limit Deployment settings). AI Gateway v1.1.0 pins Envoy Gateway v1.8.1 (its go.mod, docs/_vars.json).
"""

from __future__ import annotations

from typing import Any

from .. import inference_pool

EG_NAMESPACE = "envoy-gateway-system"
AIGW_NAMESPACE = "envoy-ai-gateway-system"
REDIS_NAMESPACE = "redis-system"
REDIS_PORT = 6379
REDIS_IMAGE = "redis:8.2.4-alpine3.22"  # examples/token_ratelimit/redis.yaml @v1.1.0
RATELIMIT_IMAGE = (
    "docker.io/envoyproxy/ratelimit:60d8e81b"  # envoy-gateway-values-addon.yaml @v1.1.0 (the chart default is ff287602)
)
REDIS_AUTH_SECRET = "redis-auth"  # in EG_NAMESPACE: the ElastiCache auth token for the rate-limit service
REDIS_AUTH_KEY = "token"

# (chart reference, version): remote OCI charts, as the upstream install pages give them.
CHARTS: dict[str, tuple[str, str]] = {
    "envoy_gateway": ("oci://docker.io/envoyproxy/gateway-helm", "v1.8.1"),
    "ai_gateway_crds": ("oci://docker.io/envoyproxy/ai-gateway-crds-helm", "v1.1.0"),
    "ai_gateway": ("oci://docker.io/envoyproxy/ai-gateway-helm", "v1.1.0"),
}
RELEASES = {"envoy_gateway": "eg", "ai_gateway_crds": "aieg-crd", "ai_gateway": "aieg"}
NAMESPACES = {"envoy_gateway": EG_NAMESPACE, "ai_gateway_crds": AIGW_NAMESPACE, "ai_gateway": AIGW_NAMESPACE}
# Which chart installs the CRDs of which API group (rule O3).
CRD_INSTALLERS: dict[str, str] = {
    "gateway.networking.k8s.io": "envoy_gateway",  # the chart bundles Gateway API v1.5.1 (experimental)
    "gateway.envoyproxy.io": "envoy_gateway",
    "aigateway.envoyproxy.io": "ai_gateway_crds",
}


def envoy_gateway_values(redis_host: str, tls: bool, pools: bool = False) -> dict[str, Any]:
    """manifests/envoy-gateway-values.yaml @v1.1.0 plus the Redis rate-limit backend, in Envoy Gateway's own
    fields (envoyproxy/gateway@v1.8.1 api/v1alpha1/envoygateway_types.go RateLimitRedisSettings;
    internal/infrastructure/kubernetes/ratelimit/resource.go turns them into the rate-limit container's
    environment):
    - `redis.url` is `host:port`, passed as REDIS_URL with REDIS_SOCKET_TYPE=tcp (envoyproxy/ratelimit
      dials it as a TCP address, so no scheme and no password in it);
    - `redis.tls: {}` (ElastiCache, in-transit encryption) sets REDIS_TLS=true; `certificateRef` would add a
      client certificate, which ElastiCache does not ask for;
    - Envoy Gateway has no field for the Redis password. The token reaches envoyproxy/ratelimit as REDIS_AUTH
      through `rateLimitDeployment.container.env` (a Kubernetes EnvVar list, so `valueFrom.secretKeyRef`),
      as Envoy Gateway's own test passes it (ratelimit/resource_provider_test.go, testdata
      deployments/redis-tls-settings.yaml); the chart's ConfigMap holds only the reference (S3).
    The chart merges these values over its defaults (charts/gateway-helm/templates/envoy-gateway-config.yaml
    `merge`), so its image pull policy patch stays. `pools`: some endpoint routes through an InferencePool, so
    Envoy Gateway hands pools to AI Gateway's extension server as backend resources
    (examples/inference-pool/envoy-gateway-values-addon.yaml; components/rules/inference_pool.py)."""
    container: dict[str, Any] = {"image": RATELIMIT_IMAGE}
    redis: dict[str, Any] = {"url": f"{redis_host}:{REDIS_PORT}"}
    if tls:
        redis["tls"] = {}
        container["env"] = [
            {"name": "REDIS_AUTH", "valueFrom": {"secretKeyRef": {"name": REDIS_AUTH_SECRET, "key": REDIS_AUTH_KEY}}}
        ]
    manager: dict[str, Any] = {
        "hooks": {
            "xdsTranslator": {
                "translation": {k: {"includeAll": True} for k in ("listener", "route", "cluster", "secret")},
                "post": ["Translation", "Cluster", "Route"],
            }
        },
        "service": {"fqdn": {"hostname": f"ai-gateway-controller.{AIGW_NAMESPACE}.svc.cluster.local", "port": 1063}},
    }
    if pools:
        manager["backendResources"] = [dict(inference_pool.BACKEND_RESOURCE)]
    return {
        "config": {
            "envoyGateway": {
                "gateway": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
                "logging": {"level": {"default": "info"}},
                "provider": {"type": "Kubernetes", "kubernetes": {"rateLimitDeployment": {"container": container}}},
                "extensionApis": {"enableEnvoyPatchPolicy": True, "enableBackend": True},
                "extensionManager": manager,
                "rateLimit": {"backend": {"type": "Redis", "redis": redis}},
            }
        }
    }


def in_cluster_redis_host() -> str:
    return f"redis.{REDIS_NAMESPACE}.svc.cluster.local"


def redis_objects() -> list[dict[str, Any]]:
    """The dev counter store, as upstream's examples/token_ratelimit/redis.yaml @v1.1.0 (single replica,
    no persistence: counters of the current minute only)."""
    labels = {"app": "redis"}
    container: dict[str, Any] = {
        "name": "redis",
        "image": REDIS_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": {"tcpSocket": {"port": REDIS_PORT}, "timeoutSeconds": 5},
        "livenessProbe": {"tcpSocket": {"port": REDIS_PORT}, "timeoutSeconds": 5},
    }
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "redis", "namespace": REDIS_NAMESPACE, "labels": labels},
            "spec": {"ports": [{"name": "redis", "port": REDIS_PORT}], "selector": labels},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "redis", "namespace": REDIS_NAMESPACE, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
    ]


def elasticache_settings(node_type: str, description: str | None = None) -> dict[str, Any]:
    """The ElastiCache replication group's arguments besides network and token: TLS in transit (needed
    for an auth token), encryption at rest, one node (the counters of a minute need no replica)."""
    return {
        "description": description or "llm-serving gateway rate-limit counters",
        "engine": "redis",
        "node_type": node_type,
        "num_cache_clusters": 1,
        "port": REDIS_PORT,
        "transit_encryption_enabled": True,
        "at_rest_encryption_enabled": True,
        "automatic_failover_enabled": False,
    }
