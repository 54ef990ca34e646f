"""Rules that need more than one resource (G8, G9, G16, S2).

Each check takes every declared resource of a stack (or every document given to `stacks check`)
and returns (resource, problem) pairs. An endpoint's Ingress is found by the label
`app.kubernetes.io/name: <endpoint>` or by its backend, the operator's router Service `<endpoint>-router`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

from . import engines
from .backends import hyperpod
from .catalog import G8, G9, G16, S2
from .dev_stacks import DEFAULT_DEV_STACKS
from .endpoint import API_KEY_ENV, API_KEY_SECRET_KEY
from .gateway.render import NAME as GATEWAY_PART_OF  # the tenant gateway's objects are part-of it
from .problems import Problem
from .resources import STACK_TYPE, Resource, get
from .tls import CERTIFICATE_ANNOTATION as CERTIFICATE
from .tls import OPT_OUT_ANNOTATION, SET_TLS, plaintext_severity, terminates_tls

Finding = tuple[Resource, Problem]

SCHEME = "alb.ingress.kubernetes.io/scheme"
SCHEME_PATH = f"metadata.annotations.{SCHEME}"
OPT_OUT_PATH = f"metadata.annotations.{OPT_OUT_ANNOTATION}"


def _manifests(resources: Iterable[Resource], kind: str) -> list[tuple[Resource, dict[str, Any]]]:
    out = []
    for r in resources:
        m = r.manifest
        if m is not None and m.get("kind") == kind:
            out.append((r, m))
    return out


def endpoints(resources: Iterable[Resource]) -> list[tuple[Resource, dict[str, Any]]]:
    return [(r, m) for r, m in _manifests(resources, hyperpod.KIND) if hyperpod.is_endpoint_config(m)]


def routing_on(endpoint: Mapping[str, Any]) -> bool:
    return bool(get(endpoint, "spec", "intelligentRoutingSpec", "enabled"))


def _annotations(m: Mapping[str, Any]) -> dict[str, Any]:
    value = get(m, "metadata", "annotations")
    return value if isinstance(value, dict) else {}


def is_alb(ingress: Mapping[str, Any]) -> bool:
    return (
        get(ingress, "spec", "ingressClassName") == "alb"
        or _annotations(ingress).get("kubernetes.io/ingress.class") == "alb"
        or any(str(k).startswith("alb.ingress.kubernetes.io/") for k in _annotations(ingress))
    )


def is_public(ingress: Mapping[str, Any]) -> bool:
    # The ALB controller's default scheme is internal.
    return is_alb(ingress) and _annotations(ingress).get(SCHEME) == "internet-facing"


def _backend_services(ingress: Mapping[str, Any]) -> list[str]:
    names = [get(ingress, "spec", "defaultBackend", "service", "name")]
    rules = get(ingress, "spec", "rules")
    for rule in rules if isinstance(rules, list) else []:
        paths = get(rule, "http", "paths")
        for path in paths if isinstance(paths, list) else []:
            names.append(get(path, "backend", "service", "name"))
    return [n for n in names if isinstance(n, str)]


def endpoint_of(ingress: Mapping[str, Any], by_name: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    label = get(ingress, "metadata", "labels", "app.kubernetes.io/name")
    if isinstance(label, str) and label in by_name:
        return by_name[label]
    for service in _backend_services(ingress):
        if service.endswith("-router") and service[: -len("-router")] in by_name:
            return by_name[service[: -len("-router")]]
    return None


def _by_name(resources: Iterable[Resource]) -> dict[str, dict[str, Any]]:
    return {str(get(m, "metadata", "name")): m for _, m in endpoints(resources)}


def _api_key_env(endpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    env = get(endpoint, "spec", "worker", "environmentVariables")
    for e in env if isinstance(env, list) else []:
        if isinstance(e, dict) and e.get("name") == API_KEY_ENV:
            return e
    return None


# ---------------------------------------------------------------- G8


def check_public_alb_routing(resources: list[Resource]) -> list[Finding]:
    """G8: a public ALB only in front of an endpoint with intelligent routing (one asked for without routing stayed private)."""
    by_name = _by_name(resources)
    findings: list[Finding] = []
    for r, ingress in _manifests(resources, "Ingress"):
        if not is_public(ingress):
            continue
        ep = endpoint_of(ingress, by_name)
        if ep is None or routing_on(ep):
            continue
        name = get(ep, "metadata", "name")
        findings.append(
            (
                r,
                Problem(
                    SCHEME_PATH,
                    "internet-facing",
                    G8,
                    f"public ALB for endpoint {name!r}, whose intelligent routing is off: the operator creates the router "
                    "(and its Ingress) only with intelligent routing, so this ALB never gets a backend",
                    f"set spec.intelligentRoutingSpec.enabled: true on {name!r}, or drop the public Ingress",
                ),
            )
        )
    return findings


# ---------------------------------------------------------------- G9


def key_secret_name(endpoint: Mapping[str, Any]) -> str | None:
    """The Secret that holds the endpoint's key: the one its env references, else `<name>-api-key`
    (the name EndpointApiKey gives it when the env carries a plain value for the router)."""
    env = _api_key_env(endpoint)
    if env is None:
        return None
    ref = get(env, "valueFrom", "secretKeyRef", "name")
    return ref if isinstance(ref, str) else f"{get(endpoint, 'metadata', 'name')}-api-key"


def check_api_key_reaches_router(resources: list[Resource]) -> list[Finding]:
    """G9: with an API key and intelligent routing, the router gets the key: a plain `value` env
    (the operator copies no secretKeyRef; checked by the rule library per endpoint) and the key Secret in the endpoint's
    namespace and in hyperpod-inference-system (with the Secret in one namespace the router answered 401)."""
    secrets = {
        (get(m, "metadata", "namespace") or "default", get(m, "metadata", "name"))
        for _, m in _manifests(resources, "Secret")
    }
    findings: list[Finding] = []
    for r, ep in endpoints(resources):
        findings += [(r, p) for p in hyperpod.check(ep) if p.rule == G9]
        secret = key_secret_name(ep)
        if secret is None or not routing_on(ep):
            continue
        wanted = list(dict.fromkeys([get(ep, "metadata", "namespace") or "default", hyperpod.OPERATOR_NAMESPACE]))
        missing = [ns for ns in wanted if (ns, secret) not in secrets]
        if missing:
            findings.append(
                (
                    r,
                    Problem(
                        f"Secret {secret}",
                        [ns for ns in wanted if ns not in missing],
                        G9,
                        f"the key Secret is missing from namespace(s) {', '.join(missing)}; Secrets are namespace-scoped and the "
                        f"router runs in {hyperpod.OPERATOR_NAMESPACE}, so its VLLM_API_KEY stays empty and it gets 401 from every backend",
                        f"declare Secret {secret} (key {API_KEY_SECRET_KEY}) in {', '.join(wanted)} with the same value",
                    ),
                )
            )
    return findings


# ---------------------------------------------------------------- S2

# Where each workload kind of the other backends keeps its engine containers.
_ENGINE_CONTAINERS = {
    "Deployment": ("spec", "template", "spec", "containers"),
    "InferenceService": ("spec", "predictor", "containers"),  # KServe
}


def keyed_workloads(resources: Iterable[Resource]) -> set[str]:
    """Names (app.kubernetes.io/name, else metadata.name) of Deployments and KServe/OME
    InferenceServices whose engine reads an API key (VLLM_API_KEY env or --api-key)."""
    names: set[str] = set()
    for r in resources:
        m = r.manifest
        if m is None or m.get("kind") not in _ENGINE_CONTAINERS:
            continue
        containers = get(m, *_ENGINE_CONTAINERS[m["kind"]])
        containers = list(containers) if isinstance(containers, list) else []
        runner = get(m, "spec", "engine", "runner")  # OME
        if isinstance(runner, dict):
            containers.append(runner)
        for c in containers:
            env = c.get("env") if isinstance(c, dict) else None
            has_env = any(isinstance(e, dict) and e.get("name") == API_KEY_ENV for e in env or [])
            args = [str(a) for a in (c.get("args") or [])] if isinstance(c, dict) else []
            if has_env or "--api-key" in engines.parse_args(args):  # any spelling: --api_key=..., --api-key ...
                names.add(str(get(m, "metadata", "labels", "app.kubernetes.io/name") or get(m, "metadata", "name")))
    return names


def check_public_alb_tls(
    resources: list[Resource], stack: str | None = None, dev_stacks: Iterable[str] = DEFAULT_DEV_STACKS
) -> list[Finding]:
    """S2: an internet-facing ALB terminates TLS (an ACM certificate), so neither prompts nor an API key
    cross the internet in clear text. The one exception, as a warning: a keyed ALB of a dev stack whose
    Ingress carries the opt-out annotation (platform.ingress.allowPlaintextApiKey)."""
    by_name = _by_name(resources)
    findings: list[Finding] = []
    for r, ingress in _manifests(resources, "Ingress"):
        if not is_public(ingress) or get(ingress, "metadata", "labels", "app.kubernetes.io/part-of") == GATEWAY_PART_OF:
            continue  # the tenant gateway's ALB is T3's (gateway/checks.py), judged by the same verdict
        if terminates_tls(ingress):
            continue
        annotations = _annotations(ingress)
        ep = endpoint_of(ingress, by_name)
        keyed = (ep is not None and _api_key_env(ep) is not None) or get(
            ingress, "metadata", "labels", "app.kubernetes.io/name"
        ) in keyed_workloads(resources)
        opted_out = annotations.get(OPT_OUT_ANNOTATION) == "true"
        if not keyed:
            problem = Problem(
                SCHEME_PATH,
                "internet-facing",
                S2,
                "an internet-facing ALB with neither TLS nor an API key: anyone can run (and read) inference in clear text",
                f"set {CERTIFICATE} ({SET_TLS}), or make it internal",
            )
        elif plaintext_severity(opted_out, stack, dev_stacks) == "warning":
            problem = Problem(
                OPT_OUT_PATH,
                "true",
                S2,
                f"dev stack {stack!r} opted out of TLS: the API key of this internet-facing ALB crosses the internet in clear text",
                f"{SET_TLS}, and remove allowPlaintextApiKey",
                severity="warning",
            )
        else:
            why = (
                f" (the opt-out {OPT_OUT_ANNOTATION} is for dev stacks only; stack {stack or '(unknown)'!r} is not one)"
                if opted_out
                else ""
            )
            problem = Problem(
                SCHEME_PATH,
                "internet-facing",
                S2,
                f"an internet-facing ALB without TLS in front of an endpoint with an API key: the key (Authorization: Bearer) and every prompt cross the internet in clear text{why}",
                f"set {CERTIFICATE} ({SET_TLS}), or make it internal",
            )
        findings.append((r, problem))
    return findings


# ---------------------------------------------------------------- G16


def _hostname(ingress: Mapping[str, Any]) -> str | None:
    entries = get(ingress, "status", "loadBalancer", "ingress")
    for e in entries if isinstance(entries, list) else []:
        if isinstance(get(e, "hostname"), str):
            return e["hostname"]
    return None


def _urls(value: Any, path: str = "outputs") -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _urls(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _urls(v, f"{path}[{i}]")
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        yield path, value


def check_endpoint_urls(resources: list[Resource]) -> list[Finding]:
    """G16: every ALB URL in the stack outputs is the host an Ingress reports in its final status
    (a stale URL was once read before the public ALB replaced the internal one).

    Needs the outputs (the `pulumi:pulumi:Stack` resource) and the Ingress statuses, which exist
    after an update; with either unknown there is nothing to compare and nothing is reported.
    """
    # Ingresses (ALBs) and LoadBalancer Services (NLBs of the kubernetes/kserve backends).
    statuses = {
        h: m for _, m in _manifests(resources, "Ingress") + _manifests(resources, "Service") if (h := _hostname(m))
    }
    findings: list[Finding] = []
    if not statuses:
        return findings
    for r in resources:
        if r.type != STACK_TYPE:
            continue
        for path, url in _urls(dict(r.props)):
            host = urlparse(url).hostname or ""
            if not host.endswith(".elb.amazonaws.com") or host in statuses:
                continue
            public = sorted(h for h, m in statuses.items() if is_public(m))
            hint = (
                " (an internal ALB's name, while the Ingress is internet-facing)"
                if host.startswith("internal-") and public
                else ""
            )
            findings.append(
                (
                    r,
                    Problem(
                        path,
                        url,
                        G16,
                        f"the URL names ALB {host}{hint}, which no Ingress reports in its status ({', '.join(sorted(statuses))})",
                        "build the URL from the Ingress's status.loadBalancer.ingress[0].hostname (an Output), never from a value read before the ALB exists",
                    ),
                )
            )
    return findings
