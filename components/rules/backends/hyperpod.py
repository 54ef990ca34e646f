"""The HyperPod `InferenceEndpointConfig` (G1-G13, G17, G18): render from a spec, check, fix, and the `BACKEND`.

The parts live in `hyperpod_spec.py` (the object), `hyperpod_checks.py` (`check`) and `hyperpod_fixes.py` (`fix`).

`render` builds a correct object; `check` reports what is wrong with any object (hand-written ones
too); `fix` repairs what can be repaired without guessing intent. Transforms call `fix`, the policy
pack and the offline plan call `check`. A rendered object passes `check` with no problem and `fix`
leaves it unchanged (tested).
"""

from __future__ import annotations

from typing import Any

import components.rules.backends.state as state_rules

from .. import autoscaling, engines, naming
from .. import ingress as ingress_rules
from ..addons import OPERATOR_NAMESPACE
from ..alb_tls import alb_tls
from ..catalog import G8, G11
from ..endpoint import ResolvedEndpoint, resolve
from ..problems import Problem
from ..spec import EndpointSpec, HyperPodBackend, PlatformSpec
from .base import Backend, LiveReference, PlatformNeeds, RenderContext, Upstream
from .hyperpod_checks import (  # noqa: F401
    MANIFEST_FIELDS,
    OperatorFields,
    check,
    check_kvaware,
    check_l2_cache,
    check_lmcache_image,
    check_vllm_only,
    config_fields,
    engine_views,
)
from .hyperpod_fixes import fix

# The object's parts, one concern each; re-exported because other modules and tests use them as hyperpod.X.
from .hyperpod_spec import (  # noqa: F401
    API_VERSION,
    CRD_HEALTH_CHECK_DEFAULT,
    CRD_INVOCATION_DEFAULT,
    CRD_METRICS_PORT_DEFAULT,
    GROUP,
    IMMUTABLE_FIELDS,
    KIND,
    MODEL_NAME_MAX,
    MODEL_NAME_PATTERN,
    MODEL_VOLUME,
    endpoint_config,
    is_endpoint_config,
    model_arg,
    router_ingress,
    sagemaker_model_name,
)

# ---------------------------------------------------------------- render


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    """The InferenceEndpointConfig and, for an internet-facing endpoint, the stack's ALB Ingress in front of the
    operator's router (in the operator's namespace; components/endpoints/hyperpod.py says why a second ALB)."""
    spec = r.spec
    tls = context.tls if context.tls is not None else alb_tls(spec, context.ingress, has_alb(spec))
    out = [endpoint_config(spec, context.region, context.api_key, context.api_key_secret, tls)]
    if ingress_rules.needs_ingress(spec):
        out.append(router_ingress(r, context))
    return out


# ---------------------------------------------------------------- by kind (manifests.py composes these)

CHECKERS = {(GROUP, KIND): check}
FIXERS = {(GROUP, KIND): fix}


# ---------------------------------------------------------------- config


def validate(spec: EndpointSpec, path: str) -> list[Problem]:
    """The operator's rules on an endpoint's config (G7, G8, G21, G22, its KEDA triggers)."""
    at = config_fields(path)
    kv = spec.hyperpod.kv_cache if spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.enabled else None
    problems = check_vllm_only(
        spec.engine, spec.hyperpod.intelligent_routing, kv.model_dump(by_alias=True) if kv else None, at
    )
    if kv is not None and spec.engine == "vllm":
        if spec.image is not None:
            problems += check_lmcache_image(
                spec.engine,
                True,
                spec.image,
                at,
                f"remove image (the default with hyperpod.kvCache is {engines.LMCACHE_IMAGE}), set hyperpod.kvCache: {{l1: false, l2: false}}, or ",
            )
        problems += check_l2_cache(
            kv.l2, bool(spec.hyperpod.prefetch), bool(spec.engine_args.enable_prefix_caching), kv.l2_backend, at
        )
    if spec.public_alb and not spec.hyperpod.intelligent_routing:
        problems.append(
            Problem(
                f"{path}.publicAlb",
                True,
                G8,
                "the operator creates the Ingress (and so the ALB) only with intelligent routing",
                "set hyperpod.intelligentRouting: true, or publicAlb: false",
            )
        )
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
    fix += (
        f", or set {needs.paths.cluster}.hyperpodClusterArn if this cluster is a HyperPod cluster"
        if needs.adopted
        else ", or deploy on a mode hyperpod cluster"
    )
    return [
        Problem(
            f"{where}.backend",
            spec.backend,
            "BACKEND",
            f"the HyperPod inference operator does not run on this {needs.mode} cluster, so nothing would serve an InferenceEndpointConfig",
            fix,
        )
    ]


def upstream(spec: EndpointSpec, platform: PlatformSpec) -> Upstream | None:
    """The router's Service, with intelligent routing only (without it the operator's Service has no name the stack
    knows). The configured name and port; during `up` the gateway's router check replaces them with the Service it
    finds (components/gateway.py), as the public Ingress does."""
    if not spec.hyperpod.intelligent_routing:
        return None
    name = resolve(spec).name
    return Upstream(
        f"{ingress_rules.router_service(platform.ingress, name)}.{OPERATOR_NAMESPACE}.svc.cluster.local",
        ingress_rules.router_port(platform.ingress),
    )


def has_alb(spec: EndpointSpec) -> bool:
    """The stack's ALB in front of the router exists with intelligent routing (G8)."""
    return spec.hyperpod.intelligent_routing


def _replicas(obj: Any) -> tuple[int | None, int | None]:
    status = obj.get("status") or {}
    deployment = ((status.get("deploymentStatus") or {}).get("status")) or {}
    return deployment.get("readyReplicas", 0 if deployment else None), status.get(
        "replicas", deployment.get("replicas")
    )


def _conditions(status: Any) -> list[Any]:
    return list(status.get("conditions") or []) + (
        ((status.get("deploymentStatus") or {}).get("status") or {}).get("conditions") or []
    )


BACKEND = Backend(
    refusals={
        G11: "which of the GPU limit and the tensor-parallel size is meant (or whether CUDA_VISIBLE_DEVICES is) is the user's call",
    },
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
