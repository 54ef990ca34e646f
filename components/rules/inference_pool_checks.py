"""Pool routing's checks over declared objects (R1-R5), hand-written ones too; `components/rules/inference_pool.py`
re-exports them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .catalog import R1, R2, R3, R4, R5
from .inference_pool_render import ALPHA_GROUP, EPP_GRPC_PORT, EPP_IMAGE, EXTENSION_VERSION, POOL_API, POOL_GROUP
from .problems import Problem
from .resources import Resource

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
    return [
        Problem(
            "apiVersion",
            obj.get("apiVersion"),
            R5,
            f"{obj.get('kind')} is in the extension's experimental group {ALPHA_GROUP}, outside the stable API the gateway is pinned to",
            f"route with an InferencePool of {POOL_API} and the picker's default plugins; drop the {obj.get('kind')}",
        )
    ]


def check_pool(obj: dict[str, Any]) -> list[Problem]:
    """R4 on one pool: the stable version, one target port, a picker reference on the picker's gRPC port."""
    problems: list[Problem] = []
    if obj.get("apiVersion") != POOL_API:
        problems.append(
            Problem(
                "apiVersion",
                obj.get("apiVersion"),
                R4,
                f"the gateway is pinned to the pool API {POOL_API} (extension {EXTENSION_VERSION})",
                f"set apiVersion: {POOL_API}",
            )
        )
        return problems
    ports = _get(obj, "spec", "targetPorts") or []
    if len(ports) != 1:
        problems.append(
            Problem(
                "spec.targetPorts",
                ports,
                R2,
                "the picker scrapes metrics on the first target port and the engine listens on one port",
                "list exactly the engine port",
            )
        )
    ref = _get(obj, "spec", "endpointPickerRef") or {}
    port = _get(ref, "port", "number")
    if port is not None and port != EPP_GRPC_PORT:
        problems.append(
            Problem(
                "spec.endpointPickerRef.port.number",
                port,
                R4,
                f"the picker {EXTENSION_VERSION} serves ext_proc on {EPP_GRPC_PORT}",
                f"set it to {EPP_GRPC_PORT}",
            )
        )
    return problems


def _matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _engine_port(dep: dict[str, Any]) -> int | None:
    for c in _get(dep, "spec", "template", "spec", "containers") or []:
        for p in (c.get("ports") or []) if isinstance(c, dict) else []:
            if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                return p["containerPort"]
    return None


def _served_model(dep: dict[str, Any]) -> str | None:
    for c in _get(dep, "spec", "template", "spec", "containers") or []:
        args = [str(a) for a in (c.get("args") or [])] if isinstance(c, dict) else []
        for flag in ("--served-model-name",):
            if flag in args and args.index(flag) + 1 < len(args):
                return args[args.index(flag) + 1]
    return None


def _is_epp(dep: dict[str, Any]) -> bool:
    return any(
        isinstance(c, dict) and str(c.get("image", "")).split("@")[0].rsplit(":", 1)[0] == EPP_IMAGE.rsplit(":", 1)[0]
        for c in _get(dep, "spec", "template", "spec", "containers") or []
    )


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
        selected = [
            d
            for d in engines
            if (_get(d, "metadata", "namespace") or "default") == ns
            and _matches(selector, _get(d, "spec", "template", "metadata", "labels") or {})
        ]
        if len(selected) != 1:
            which = [_get(d, "metadata", "name") for d in selected]
            out.append(
                (
                    p,
                    Problem(
                        "spec.selector.matchLabels",
                        selector,
                        R1,
                        f"pool {name!r} selects the pods of {len(selected)} engine Deployments {which} in {ns!r}; the picker would send one model's requests to any of them",
                        "select with the engine Deployment's own spec.selector.matchLabels",
                    ),
                )
            )
            continue
        dep = selected[0]
        own = _get(dep, "spec", "selector", "matchLabels") or {}
        if selector != own:
            out.append(
                (
                    p,
                    Problem(
                        "spec.selector.matchLabels",
                        selector,
                        R1,
                        f"pool {name!r} selects by other labels than Deployment {_get(dep, 'metadata', 'name')!r}, so it can hold pods the Deployment does not own or miss ones it does",
                        f"set it to the Deployment's selector {own}",
                    ),
                )
            )
        port = _engine_port(dep)
        target = _get(p, "spec", "targetPorts", 0, "number")
        if port is not None and target != port:
            out.append(
                (
                    p,
                    Problem(
                        "spec.targetPorts[0].number",
                        target,
                        R2,
                        f"the engine of {_get(dep, 'metadata', 'name')!r} listens on {port}; the gateway would send requests, and the picker its metric scrapes, to a closed port",
                        f"set it to {port}",
                    ),
                )
            )
        key = (ns, _served_model(dep) or "")
        if key in seen_models:
            out.append(
                (
                    p,
                    Problem(
                        "metadata.name",
                        name,
                        R3,
                        f"pool {seen_models[key]!r} already serves model {key[1]!r} in {ns!r}; two pickers would each see half the traffic and its prefix cache",
                        "one pool per model: drop one",
                    ),
                )
            )
        else:
            seen_models[key] = name
    pool_names = {(_get(p, "metadata", "namespace") or "default", _get(p, "metadata", "name")) for p in pools}
    for d in deployments:
        if not _is_epp(d):
            continue
        for c in _get(d, "spec", "template", "spec", "containers") or []:
            image = str(c.get("image", "")) if isinstance(c, dict) else ""
            if image.split("@")[0] != EPP_IMAGE:
                out.append(
                    (
                        d,
                        Problem(
                            "spec.template.spec.containers.image",
                            image,
                            R4,
                            f"the pool API and AI Gateway are pinned to extension {EXTENSION_VERSION}",
                            f"use {EPP_IMAGE}",
                        ),
                    )
                )
            args = [str(a) for a in (c.get("args") or [])] if isinstance(c, dict) else []
            pool_ref = args[args.index("--pool-name") + 1] if "--pool-name" in args[:-1] else None
            pool_ns = (
                args[args.index("--pool-namespace") + 1]
                if "--pool-namespace" in args[:-1]
                else _get(d, "metadata", "namespace") or "default"
            )
            if pool_ref is not None and pool_names and (pool_ns, pool_ref) not in pool_names:
                out.append(
                    (
                        d,
                        Problem(
                            "spec.template.spec.containers.args",
                            pool_ref,
                            R1,
                            f"the picker watches pool {pool_ns}/{pool_ref}, which the stack does not declare",
                            "pass --pool-name of the pool it serves",
                        ),
                    )
                )
    for r in objs:
        if r.get("kind") != "AIGatewayRoute":
            continue
        for i, rule in enumerate(_get(r, "spec", "rules") or []):
            refs = [
                b for b in (rule.get("backendRefs") or []) if isinstance(b, dict) and b.get("kind") == "InferencePool"
            ]
            if refs and len(rule.get("backendRefs") or []) > 1:
                out.append(
                    (
                        r,
                        Problem(
                            f"spec.rules[{i}].backendRefs",
                            [b.get("name") for b in rule.get("backendRefs")],
                            R3,
                            "AI Gateway allows one InferencePool per route rule and no other backend beside it",
                            "one rule per pool",
                        ),
                    )
                )
    return out


CHECKERS = {
    (POOL_GROUP, "InferencePool"): check_pool,
    **{(ALPHA_GROUP, k): check_alpha for k in ("InferenceObjective", "InferenceModel", "InferencePool")},
}


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
