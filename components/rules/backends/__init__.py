"""Endpoint backends: the one registry, `BACKENDS`, and what every backend shares (which one runs an
endpoint, up-front validation, the operators they need).

Each backend is one module of this package with one `Backend` object (`base.py`): `hyperpod` (the operator's
InferenceEndpointConfig), `kubernetes` (a plain Deployment and Service), `ome` (an OME InferenceService) and
`kserve` (a KServe InferenceService) and `llmisvc` (a KServe LLMInferenceService). Adding a backend is one module and one line in `BACKENDS`; everything else
(config, manifest checks, components, live reader, gateway, TLS, capacity, mocks) reads the registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import addons
from ..catalog import G8, O8
from ..endpoint import resolve as resolve_endpoint
from ..paths import STACK_FILE, ConfigPaths
from ..problems import Change, Problem
from ..spec import ClusterSpec, EndpointSpec, FsxSource, PlatformSpec
from .base import Backend, PlatformNeeds, RenderContext
from .hyperpod import BACKEND as HYPERPOD
from .kserve import BACKEND as KSERVE
from .kubernetes import BACKEND as KUBERNETES
from .llmisvc import BACKEND as LLMISVC
from .ome import BACKEND as OME

BACKENDS: dict[str, Backend] = {b.name: b for b in (HYPERPOD, KUBERNETES, OME, KSERVE, LLMISVC)}


def backend_named(name: str) -> Backend:
    """The registered backend `name`; a one-line error naming the registered ones otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"backend {name!r} is not registered; registered: {', '.join(BACKENDS)}") from None


def _default(on: str) -> str:
    return next(b.name for b in BACKENDS.values() if b.default_on == on)


def backend_for(spec: EndpointSpec) -> Backend:
    return backend_named(backend_of(spec))


def render(spec: EndpointSpec, context: RenderContext | None = None, **values: Any) -> list[dict[str, Any]]:
    """Every object of an endpoint, by its backend: `context`, or its fields as keywords."""
    return backend_for(spec).render(resolve_endpoint(spec), context or RenderContext(**values))


def has_hyperpod_operator(cluster: ClusterSpec, platform_spec: PlatformSpec) -> bool:
    """HyperPod clusters run the operator; an adopted cluster does when it says it is a HyperPod
    cluster (hyperpodClusterArn) or switches the operator on. Plain EKS has no HyperPod nodes."""
    if cluster.mode == "hyperpod":
        return True
    if cluster.mode == "existing":
        return cluster.hyperpod_cluster_arn is not None or bool(platform_spec.hyperpod_operator)
    return False


def default_backend(cluster: ClusterSpec, platform_spec: PlatformSpec) -> str:
    """The operator's backend where the HyperPod operator runs, the plain one elsewhere."""
    return _default("operator" if has_hyperpod_operator(cluster, platform_spec) else "plain")


def backend_of(spec: EndpointSpec) -> str:
    """The resolved backend (config parsing sets it); an unresolved spec runs on the operator's backend."""
    return spec.backend or _default("operator")


def resolve(endpoints: Iterable[EndpointSpec], cluster: ClusterSpec, platform_spec: PlatformSpec) -> list[EndpointSpec]:
    """Each endpoint with its backend (the cluster's default when unset) and that backend's default load
    balancer when `loadBalancer` is unset (`Backend.default_load_balancer`: ome `none`, the others `alb`)."""
    default = default_backend(cluster, platform_spec)
    out = []
    for ep in endpoints:
        backend = ep.backend or default
        update: dict = {} if ep.backend else {"backend": backend}
        if ep.load_balancer is None and backend in BACKENDS:
            update["load_balancer"] = BACKENDS[backend].default_load_balancer
        out.append(ep.model_copy(update=update) if update else ep)
    return out


def default_changes(entries: Iterable[Any], resolved: Iterable[EndpointSpec], path: str = "endpoints") -> list[Change]:
    """Load balancers the backend chose for config `entries` (raw mappings) without `loadBalancer`, where the
    default is not the former `alb` for every backend: for the plan's change log."""
    return [
        Change(
            f"{path}[{i}].loadBalancer",
            None,
            ep.load_balancer,
            "BACKEND",
            f"unset: the {ep.backend} backend's default (OME creates the engine Service itself)",
        )
        for i, (raw, ep) in enumerate(zip(entries, resolved))
        if isinstance(raw, dict)
        and "loadBalancer" not in raw
        and "load_balancer" not in raw
        and backend_for(ep).uses_load_balancer
        and ep.load_balancer != "alb"
    ]


def unknown_backends(endpoints: Iterable[EndpointSpec], paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    """Endpoints whose `backend` names no registered backend (the config reports them before any other rule)."""
    names = [repr(name) for name in BACKENDS]
    allowed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
    return [
        Problem(f"{paths.endpoint(i)}.backend", ep.backend, "CONFIG", "not an allowed value", f"use one of {allowed}")
        for i, ep in enumerate(endpoints)
        if ep.backend is not None and ep.backend not in BACKENDS
    ]


def operators_for(backend_names: Iterable[str]) -> list[str]:
    """The operator add-ons these backends need (`Backend.operator_addon`), each once, in the order first needed."""
    found = (BACKENDS[name].operator_addon for name in backend_names if name in BACKENDS)
    return list(dict.fromkeys(addon for addon in found if addon))


def operator_backends() -> dict[str, str]:
    """Each operator add-on -> the backend whose operator it installs."""
    return {b.operator_addon: b.name for b in BACKENDS.values() if b.operator_addon}


def validate_backends(
    endpoints: Iterable[EndpointSpec],
    cluster: ClusterSpec,
    platform_spec: PlatformSpec,
    paths: ConfigPaths = STACK_FILE,
) -> list[Problem]:
    """What each endpoint's backend needs from the cluster and the platform."""
    problems: list[Problem] = []
    endpoints = list(endpoints)
    # The add-ons as the platform installs them: `auto` operators follow these endpoints' backends (O8).
    plan = addons.resolve_addons(cluster.mode, platform_spec, operators_for(backend_of(ep) for ep in endpoints))
    needs = PlatformNeeds(
        cluster.mode, plan, cluster.mode == "existing", has_hyperpod_operator(cluster, platform_spec), paths
    )
    for i, ep in enumerate(endpoints):
        where = paths.endpoint(i)
        backend = backend_for(ep)
        if not backend.operator_features:
            problems += _refuse_operator_features(ep, where, backend)
        problems += backend.validate_platform(ep, where, needs)
    return problems


def _refuse_operator_features(ep: EndpointSpec, where: str, backend: Backend) -> list[Problem]:
    """Features that exist only in the HyperPod operator: rejected, never silently dropped."""
    problems = []
    name = backend.name
    fix = "remove it (the hyperpod block is that backend's), or use backend: " + _default("operator")
    if ep.hyperpod.intelligent_routing:
        problems.append(
            Problem(
                f"{where}.hyperpod.intelligentRouting",
                True,
                "BACKEND",
                f"intelligent routing is the HyperPod operator's router; the {name} backend has none",
                fix,
            )
        )
    if ep.hyperpod.kv_cache is not None and ep.hyperpod.kv_cache.enabled:
        problems.append(
            Problem(
                f"{where}.hyperpod.kvCache",
                ep.hyperpod.kv_cache.model_dump(by_alias=True),
                "BACKEND",
                f"KV-cache offload (kvCacheSpec) is managed by the HyperPod operator, not the {name} backend",
                fix,
            )
        )
    if ep.hyperpod.prefetch:
        problems.append(
            Problem(f"{where}.hyperpod.prefetch", True, "BACKEND", "model prefetch is a HyperPod operator feature", fix)
        )
    if ep.hyperpod.tls_certificate_s3_uri:
        problems.append(
            Problem(
                f"{where}.hyperpod.tlsCertificateS3Uri",
                ep.hyperpod.tls_certificate_s3_uri,
                "BACKEND",
                "the TLS certificate output is a HyperPod operator feature",
                fix,
            )
        )
    if ep.public_alb and backend.public_load_balancer(ep) is None:
        problems.append(
            Problem(
                f"{where}.publicAlb",
                True,
                G8,
                f"publicAlb makes the endpoint's load balancer internet-facing; loadBalancer is {ep.load_balancer!r}",
                "set loadBalancer: alb or nlb (kubernetes/kserve), or publicAlb: false",
            )
        )
    if ep.hyperpod.instance_types:
        problems.append(
            Problem(
                f"{where}.hyperpod.instanceTypes",
                list(ep.hyperpod.instance_types),
                "BACKEND",
                f"an ordered instance-type list is the HyperPod operator's placement; the {name} backend runs on instanceType",
                "set instanceType instead, or use backend: " + _default("operator"),
            )
        )
    if ep.hyperpod.request_limits is not None:
        problems.append(
            Problem(
                f"{where}.hyperpod.requestLimits",
                ep.hyperpod.request_limits.model_dump(by_alias=True, exclude_none=True),
                "BACKEND",
                f"requestLimits configures the HyperPod operator's nginx sidecar; the {name} backend has none",
                fix,
            )
        )
    if ep.hyperpod.pd_spec is not None:
        problems.append(
            Problem(
                f"{where}.hyperpod.pdSpec",
                "present",
                "BACKEND",
                f"disaggregated prefill and decode is the HyperPod operator's pdSpec; the {name} backend has none",
                fix,
            )
        )
    scaling = ep.autoscaling
    if scaling is not None and (scaling.prometheus or scaling.cloudwatch):
        problems.append(
            Problem(
                f"{where}.autoscaling",
                scaling.model_dump(by_alias=True, exclude_none=True),
                "BACKEND",
                "prometheus/cloudwatch triggers are the HyperPod operator's KEDA triggers",
                "remove them (kubernetes: autoscaling.podsMetric drives an HPA; ome/kserve: min/maxReplicas)",
            )
        )
    if scaling is not None and scaling.pods_metric and backend.autoscaler != "hpa":
        problems.append(
            Problem(
                f"{where}.autoscaling.podsMetric",
                scaling.pods_metric.model_dump(by_alias=True),
                "BACKEND",
                f"podsMetric drives the kubernetes backend's HPA; {name} scales by min/maxReplicas",
                "remove it",
            )
        )
    if isinstance(ep.model_source, FsxSource):
        problems.append(
            Problem(
                f"{where}.modelSource.type",
                "fsx",
                "BACKEND",
                f"the {name} backend reads models from S3 or Hugging Face; FSx is mounted by the HyperPod operator only",
                "use modelSource type s3 or huggingface, or backend hyperpod",
            )
        )
    return problems


def check_operators(
    endpoints: Iterable[EndpointSpec],
    mode: str | None,
    platform_spec: PlatformSpec | None,
    platform_backends: Iterable[str],
    *,
    path: str = "endpoints",
    platform_path: str = "platform",
    platform_stack: str | None = None,
) -> list[Problem]:
    """O8: the operator of each ome or kserve endpoint is one the platform that runs the endpoint installs. `mode`,
    `platform_spec` and `platform_backends` (its own endpoints' backends, which an `auto` operator follows) are
    this stack's, or those of the platform stack (`platform_stack`, its keys at `platform_path`); None when the
    platform stack's file is not at hand: then a warning names the key it must set. An adopted cluster's
    operators are the user's: not judged."""
    if mode == "existing":
        return []
    plan = (
        addons.resolve_addons(mode, platform_spec, operators_for(platform_backends))
        if mode is not None and platform_spec is not None
        else None
    )
    problems: list[Problem] = []
    for i, ep in enumerate(endpoints):
        registered = backend_for(ep)
        backend, addon = registered.name, registered.operator_addon
        if addon is None:
            continue
        key = f"{platform_path}.{addons.config_key(addon)}"
        name = registered.title
        where = f"{path}[{i}].backend"
        if plan is None:
            why = f"an endpoints-only stack installs no operator, and the file of platform stack {platform_stack!r} is not in this project to tell whether it installs {name}"
            problems.append(
                Problem(
                    where,
                    backend,
                    O8,
                    why,
                    f"make sure platform stack {platform_stack!r} sets platform.{addons.config_key(addon)}: true (its `auto` sees only its own endpoints) and is up",
                    severity="warning",
                )
            )
        elif not plan[addon]:
            value = getattr(platform_spec, addon)
            state = (
                f"{key} is {str(value).lower()}"
                if value is not None
                else f"{key} is unset (auto) and none of that stack's own endpoints uses {backend}"
            )
            if platform_stack is None:
                problems.append(
                    Problem(
                        where,
                        backend,
                        O8,
                        f"the {name} operator is switched off ({key}: false), so nothing installs its CRD and the first `pulumi up` fails on the endpoint's objects",
                        f"set {key}: true or auto (the platform then installs {name} from its upstream charts)",
                    )
                )
            else:
                problems.append(
                    Problem(
                        where,
                        backend,
                        O8,
                        f"platform stack {platform_stack!r} does not install the {name} operator ({state}); an endpoints-only stack cannot install it",
                        f"set {key}: true, `pulumi up` that stack, then this one",
                    )
                )
        else:
            # KServe's own cert-manager need is its validate_platform's, KEDA's for OME too.
            problems += [
                Problem(where, backend, O8, why, f"set {platform_path}.{addons.config_key(needed)}: true")
                for needed, why in registered.operator_requires.items()
                if not plan[needed]
            ]
    return problems
