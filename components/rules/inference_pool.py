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

from collections.abc import Sequence

from .backends import BACKENDS
from .catalog import R3, R4
from .endpoint import resolve
from .inference_pool_checks import CHECKERS, check_alpha, check_objects, check_pool, check_resources  # noqa: F401

# Rendered in inference_pool_render.py, checked in inference_pool_checks.py; re-exported as inference_pool.X.
from .inference_pool_render import (  # noqa: F401
    AIGW_EXTENSION,
    ALPHA_GROUP,
    BACKEND_RESOURCE,
    CRD_COMMIT,
    CRD_URL,
    CRD_URLS,
    DEFAULT_PLUGINS,
    EPP_GRPC_PORT,
    EPP_HEALTH_PORT,
    EPP_HEALTH_SERVICE,
    EPP_IMAGE,
    EPP_METRICS_PORT,
    EXTENSION_VERSION,
    METRIC_FLAGS,
    OBJECTIVE_CRD_URL,
    PART_OF,
    PLUGINS_FILE,
    POOL_API,
    POOL_GROUP,
    _routes_pools,
    epp_args,
    epp_objects,
    names,
    pool,
    reference_grant,
    render,
    uses_pool,
)
from .paths import STACK_FILE, ConfigPaths
from .problems import Problem
from .spec import EndpointSpec, GatewaySpec

# ---------------------------------------------------------------- config validation


def validate(
    endpoints: Sequence[EndpointSpec], gateway: GatewaySpec, aigw_version: str, paths: ConfigPaths = STACK_FILE
) -> list[Problem]:
    """Pool routing at config time: only on the kubernetes backend, only behind the tenant gateway (an ALB cannot
    target an InferencePool; the stack's route to the pool is the gateway's), and only at an AI Gateway release whose
    extension version is the one rendered (R4)."""
    problems: list[Problem] = []
    pooled = [(i, ep) for i, ep in enumerate(endpoints) if ep.kubernetes.routing == "inferencePool"]
    for i, ep in pooled:
        key = f"{paths.endpoint(i)}.kubernetes.routing"
        if not _routes_pools(ep):
            pooling = " or ".join(b.name for b in BACKENDS.values() if b.pool_routing)
            problems.append(
                Problem(
                    key,
                    "inferencePool",
                    "CONFIG",
                    f"pool routing is rendered by the {pooling} backend only, and this endpoint's backend is {ep.backend!r}",
                    f"set backend: {pooling}, or drop kubernetes.routing",
                )
            )
        elif not gateway.enabled:
            problems.append(
                Problem(
                    key,
                    "inferencePool",
                    "CONFIG",
                    "an InferencePool is reached only through a Gateway route, and an ALB cannot target one: without the tenant gateway nothing would send traffic to the pool",
                    f"set {paths.gateway}.enabled: true (a tuning grid: `llm-serving:gateway` in pulumi.config, since trials leave the base stack's gateway), or kubernetes.routing: service"
                    if not paths.indexed
                    else f"set {paths.gateway}.enabled: true, or kubernetes.routing: service",
                )
            )
    served: dict[str, int] = {}
    for i, ep in pooled:
        model = resolve(ep).served_model_name
        if model in served:
            problems.append(
                Problem(
                    f"{paths.endpoint(i)}.model",
                    ep.model,
                    R3,
                    f"{paths.endpoint(served[model])} already routes served model {model!r} through a pool; the gateway matches routes by that name, so one of them would never be picked",
                    "one pool per model: serve it from one endpoint with more replicas, or give each its own served model name",
                )
            )
        else:
            served[model] = i
    if pooled and gateway.enabled and AIGW_EXTENSION.get(aigw_version) != EXTENSION_VERSION:
        problems.append(
            Problem(
                f"{paths.gateway}",
                aigw_version,
                R4,
                f"AI Gateway {aigw_version} is built against extension {AIGW_EXTENSION.get(aigw_version, 'unknown')}, and the stack renders the pool and picker of {EXTENSION_VERSION}",
                "pin AI Gateway and the extension together (components/rules/inference_pool.py AIGW_EXTENSION)",
            )
        )
    return problems
