"""Finding the HyperPod operator's router Service during `up`: what ties a Service to an endpoint's router, which
port the ALB forwards to, and how long to wait (components/endpoints/router_check.py reads the cluster; this
module decides)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..addons import OPERATOR_NAMESPACE
from .hyperpod import KIND
from .state import classify
from .state import hyperpod as hyperpod_state

# The operator is closed source: aws/sagemaker-hyperpod-cli@011ca927 ships its chart, CRDs and samples, and no file
# there (on any branch) names a router object. What is known of the router:
# - it runs in hyperpod-inference-system (a key Secret only in the endpoint's namespace never reached it);
# - its Deployment is `{name}-{namespace}-router`, its serving container `router-container`, its Service
#   `{name}-{namespace}-routing-service` on port 443; the same page's listing also shows router pods `{name}-router-...`
#   (crowecawcaw/aws-docs-history@87e331ad docs/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-dpd.md);
# - which labels and owner references the operator sets is not written anywhere.
# So the Service is found by what ties it to the endpoint, whatever its name: an owner reference to the
# InferenceEndpointConfig or to the router Deployment, a selector that picks the router Deployment's pods, a label
# naming the router; only then by the configured name.
ROUTER_CONTAINER = "router-container"
DEPLOY_MARGIN_SECONDS = 600  # image pull and scheduling before the operator's maxDeployTimeInSeconds runs out
ROUTER_SERVICE_WAIT_SECONDS = 120  # the router is made with the endpoint, long before the model has loaded
POLL_SECONDS = 10


def router_names(endpoint_k8s_name: str, namespace: str) -> tuple[str, str]:
    """The names the operator's router Deployment (and its pods' `app` label) was seen with."""
    return (f"{endpoint_k8s_name}-{namespace}-router", f"{endpoint_k8s_name}-router")


def deployment_budget(max_deploy_seconds: int) -> int:
    """How long `up` waits for the InferenceEndpointConfig to report its deployment complete."""
    return int(max_deploy_seconds) + DEPLOY_MARGIN_SECONDS


def deployment_verdict(obj: Mapping[str, Any] | None) -> tuple[str, str]:
    """(ready / pending / failed, line) of an InferenceEndpointConfig, read as `stacks status` reads it (G15)."""
    if obj is None:
        return "pending", "not created yet"
    state, detail = hyperpod_state(obj.get("status") or {})
    return classify(state, detail)


def deployment_failed(namespace: str, endpoint_k8s_name: str, line: str) -> str:
    return (
        f"InferenceEndpointConfig {namespace}/{endpoint_k8s_name} reports {line}; the public Ingress in front of its router "
        f"is not created. Fix: see `kubectl describe inferenceendpointconfig {endpoint_k8s_name} -n {namespace}`, correct the "
        "endpoint's config and run `pulumi up` again"
    )


def deployment_timed_out(namespace: str, endpoint_k8s_name: str, line: str, max_deploy_seconds: int) -> str:
    return (
        f"InferenceEndpointConfig {namespace}/{endpoint_k8s_name} did not report DeploymentComplete within maxDeploySeconds "
        f"({max_deploy_seconds} s) + {DEPLOY_MARGIN_SECONDS} s; last: {line}. Fix: see `python -m stacks status` and `kubectl describe "
        f"inferenceendpointconfig {endpoint_k8s_name} -n {namespace}`; if the model needs longer to load, raise the endpoint's maxDeploySeconds"
    )


@dataclass(frozen=True)
class RouterService:
    name: str
    port: int
    how: str  # what tied the Service to the endpoint, and how the port was picked


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _owned_by_endpoint(obj: Mapping[str, Any], endpoint_k8s_name: str, uid: str | None) -> bool:
    # An owner reference must name an owner in the object's own namespace, so this holds only for an endpoint in
    # hyperpod-inference-system; checked first because it is the strongest tie when present.
    return any(
        (uid and o.get("uid") == uid) or (o.get("kind") == KIND and o.get("name") == endpoint_k8s_name)
        for o in _meta(obj).get("ownerReferences") or []
    )


def router_deployments(
    deployments: Iterable[Mapping[str, Any]], endpoint_k8s_name: str, namespace: str, uid: str | None = None
) -> list[Mapping[str, Any]]:
    """The router Deployments of an endpoint: owned by its InferenceEndpointConfig, or named (or labelled) as seen."""
    names = router_names(endpoint_k8s_name, namespace)
    return [
        d
        for d in deployments
        if _owned_by_endpoint(d, endpoint_k8s_name, uid)
        or _meta(d).get("name") in names
        or any(v in names for v in (_meta(d).get("labels") or {}).values())
    ]


def _pod_labels(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return dict((((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})


def _router_container_ports(deployments: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ports of the router container (`router-container`; without one, of every container)."""
    containers = [
        c
        for d in deployments
        for c in ((((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])
    ]
    routers = [c for c in containers if c.get("name") == ROUTER_CONTAINER] or containers
    return [p for c in routers for p in c.get("ports") or []]


def _targets(service_port: Mapping[str, Any], container_ports: list[Mapping[str, Any]]) -> bool:
    target = service_port.get("targetPort", service_port.get("port"))  # unset targetPort is the port itself
    if isinstance(target, str):
        return any(p.get("name") == target for p in container_ports)
    return any(p.get("containerPort") == target for p in container_ports)


def _tie(
    service: Mapping[str, Any],
    endpoint_k8s_name: str,
    uid: str | None,
    routers: list[Mapping[str, Any]],
    names: tuple[str, ...],
    configured: str,
) -> tuple[int, str]:
    """(strength, why) of what ties a Service to the endpoint's router: 3 owned by the endpoint, 2 owned by or selecting
    the router Deployment or labelled with its name, 1 the configured name only, 0 nothing."""
    meta = _meta(service)
    if _owned_by_endpoint(service, endpoint_k8s_name, uid):
        return 3, f"owned by InferenceEndpointConfig {endpoint_k8s_name}"
    router_names_found = {_meta(d).get("name") for d in routers}
    owner = next(
        (
            o.get("name")
            for o in meta.get("ownerReferences") or []
            if o.get("kind") == "Deployment" and o.get("name") in router_names_found
        ),
        None,
    )
    if owner:
        return 2, f"owned by the router Deployment {owner}"
    selector = dict((service.get("spec") or {}).get("selector") or {})
    picks = next(
        (_meta(d).get("name") for d in routers if selector and selector.items() <= _pod_labels(d).items()), None
    )
    if picks:
        return 2, f"selects the pods of the router Deployment {picks}"
    named = next(
        (f"{k}={v}" for k, v in sorted({**selector, **(meta.get("labels") or {})}.items()) if v in names), None
    )
    if named:
        return 2, f"selects or carries {named}"
    if meta.get("name") == configured:
        return 1, "platform.ingress.routerService"
    return 0, ""


def _pick_port(
    service: Mapping[str, Any], routers: list[Mapping[str, Any]], configured_port: int | None
) -> tuple[int | None, str]:
    """(port, how) or (None, why not). The configured routerPort wins; else the only port; else the one port whose
    targetPort (number or name) is a port of the router container."""
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port")]
    numbers = sorted(p["port"] for p in ports)
    if configured_port:
        return (
            (configured_port, "platform.ingress.routerPort")
            if configured_port in numbers
            else (None, f"it has ports {numbers}, not platform.ingress.routerPort {configured_port}")
        )
    if len(ports) == 1:
        return ports[0]["port"], "its only port"
    container_ports = _router_container_ports(routers)
    reaching = [p for p in ports if _targets(p, container_ports)] if container_ports else []
    if len(reaching) == 1:
        return reaching[0]["port"], f"the port that targets {ROUTER_CONTAINER}"
    return (
        None,
        f"it has ports {numbers} and {'none' if not reaching else 'more than one'} of them targets the router container",
    )


def find_router_service(
    services: Iterable[Mapping[str, Any]],
    deployments: Iterable[Mapping[str, Any]],
    endpoint_k8s_name: str,
    namespace: str,
    configured_service: str,
    configured_port: int | None = None,
    template: str = "{name}-router",
    uid: str | None = None,
) -> tuple[RouterService | None, str]:
    """The operator's router Service of an endpoint in hyperpod-inference-system and the port the ALB forwards to,
    or (None, why it is not found). Strongest tie first; among equals, the one whose router port is clear, then the
    configured name."""
    items = list(services)
    names = router_names(endpoint_k8s_name, namespace)
    routers = router_deployments(deployments, endpoint_k8s_name, namespace, uid)
    tied = [
        (strength, why, s)
        for s in items
        for strength, why in [_tie(s, endpoint_k8s_name, uid, routers, names, configured_service)]
        if strength
    ]
    if tied:
        top = max(t[0] for t in tied)
        best = [(why, s, _pick_port(s, routers, configured_port)) for strength, why, s in tied if strength == top]
        clear = [b for b in best if b[2][0] is not None] or best
        if len(clear) > 1:
            clear = [b for b in clear if _meta(b[1]).get("name") == configured_service] or clear
        if len(clear) == 1:
            why, service, (port, how) = clear[0]
            name = str(_meta(service).get("name"))
            if port is None:
                return None, (
                    f"router Service {OPERATOR_NAMESPACE}/{name} ({why}): {how}. Fix: set platform.ingress.routerPort to the port "
                    f"that reaches the router (`kubectl get svc {name} -n {OPERATOR_NAMESPACE} -o yaml`) and run `pulumi up` again"
                )
            return RouterService(name, int(port), f"{why}; port {port}: {how}"), ""
        listed = ", ".join(sorted(str(_meta(s).get("name")) for _, s, _ in clear))
        return None, (
            f"more than one Service in {OPERATOR_NAMESPACE} is tied to the router of endpoint {namespace}/{endpoint_k8s_name}: {listed}. "
            "Fix: set platform.ingress.routerService (`{name}` is the endpoint's Kubernetes name) to the one the ALB should "
            "reach, and routerPort to its port, and run `pulumi up` again"
        )
    near = sorted(n for s in items if endpoint_k8s_name in (n := str(_meta(s).get("name") or "")))
    seen = (
        f"router Deployment {', '.join(sorted(str(_meta(d).get('name')) for d in routers))}"
        if routers
        else f"no router Deployment ({' or '.join(names)})"
    )
    hint = f"; Services there named after the endpoint: {', '.join(near)}" if near else ""
    return None, (
        f"no Service in {OPERATOR_NAMESPACE} is tied to the router of endpoint {namespace}/{endpoint_k8s_name} ({seen}; no Service "
        "owned by the endpoint or the router Deployment, selecting its pods or carrying its name), and "
        f"platform.ingress.routerService ({template!r}) names {configured_service}, which does not exist{hint}. AWS documents neither "
        f"the router's Service nor its port. Fix: find the router's Service with `kubectl get svc -n {OPERATOR_NAMESPACE}`, set "
        "platform.ingress.routerService (`{name}` is the endpoint's Kubernetes name) and routerPort to its name and port, and run "
        "`pulumi up` again"
    )
