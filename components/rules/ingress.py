"""ALB ingress, endpoint URLs and example requests (G8, G16, G17): the Ingress every endpoint path
uses, its annotations (fixed at creation), how the HyperPod router's Service is found, the URL from
the final status, and a ready-to-run curl."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from . import naming
from .addons import OPERATOR_NAMESPACE
from .backends import state as state_rules
from .backends.hyperpod import KIND
from .endpoint import resolve
from .problems import Problem
from .paths import STACK_FILE, ConfigPaths
from .spec import EndpointSpec, IngressSpec
from .tls import OPT_OUT_ANNOTATION, listener_annotations, tls_for

# What `url_kind` says about an endpoint's `url` (one of these, every backend): the stack's Ingress,
# the HyperPod operator's own Ingress, an NLB Service, or the in-cluster Service.
URL_KINDS = ("alb", "operator-alb", "nlb", "service")
BACKEND_PROTOCOL_ANNOTATION = "alb.ingress.kubernetes.io/backend-protocol"  # what the ALB speaks to its targets


def ingress_name(endpoint_k8s_name: str) -> str:
    """Our Ingress; distinct from the operator's `alb-{name}-{namespace}` so the two never fight over one object."""
    return naming.fit(f"llm-{endpoint_k8s_name}", naming.MAX_NAME)


def operator_ingress_name(endpoint_k8s_name: str, namespace: str) -> str:
    """The Ingress the HyperPod operator creates for an InferenceEndpointConfig, in its own namespace.
    No AWS document names it; seen on clusters as `alb-{name}-{namespace}` (field notes of a public ALB recreation:
    ALB `k8s-hyperpod-albqwen3-...`; the console backend behind them reads
    `hyperpod-inference-system/alb-{name}-{namespace}`). An assumption listed in docs/doubts.md."""
    return f"alb-{endpoint_k8s_name}-{namespace}"


def needs_ingress(spec: EndpointSpec) -> bool:
    """The stack declares its own ALB only where the operator offers no way to get what the user
    asked for: an internet-facing one. The InferenceEndpointConfig has no scheme field (CRD v1:
    `loadBalancer` has only healthCheckPath and routingAlgorithm) and the operator's ALB is internal
    (a stale internal URL was once read from it), so an internal endpoint uses the operator's ALB and gets no second one. G8 keeps
    `publicAlb` to endpoints with intelligent routing, whose router Service the stack's ALB fronts."""
    return spec.intelligent_routing and spec.public_alb


def hyperpod_url_label(spec: EndpointSpec) -> tuple[str, str]:
    """(url_kind, url_source) of a hyperpod endpoint: the stack's public Ingress, or else the
    operator's own Ingress (created asynchronously after the endpoint: its address is read live,
    by `python -m stacks status`, never at `pulumi up`)."""
    r = resolve(spec)
    if needs_ingress(spec):
        return "alb", f"Ingress {OPERATOR_NAMESPACE}/{ingress_name(r.name)}"
    return "operator-alb", f"Ingress {OPERATOR_NAMESPACE}/{operator_ingress_name(r.name, r.namespace)}"


def front_url_label(spec: EndpointSpec, service_name: str) -> tuple[str, str]:
    """(url_kind, url_source) of an endpoint fronted by its own Service (kubernetes, kserve)."""
    r = resolve(spec)
    if spec.load_balancer == "alb":
        return "alb", f"Ingress {r.namespace}/{ingress_name(r.name)}"
    if spec.load_balancer == "nlb":
        return "nlb", f"Service {r.namespace}/{service_name}"
    return "service", f"Service {r.namespace}/{service_name}"


def alb_ingress(name: str, namespace: str, labels: Mapping[str, str], annotations: Mapping[str, str], service: str, port: int) -> dict[str, Any]:
    """The ALB Ingress every endpoint path uses: one rule, everything to one Service port."""
    backend = {"service": {"name": service, "port": {"number": port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": dict(annotations)},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]},
    }


def ingress_annotations(spec: EndpointSpec, ingress: IngressSpec, health_path: str, tags: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """ALB annotations, fixed when the Ingress is created (G8: never delete-and-recreate to change
    the scheme: the ALB controller's finalizer held a recreated Ingress with 409 Conflict). G17: health check on a route
    the engine serves. `tags` go on the ALB, its target group and security group; the controller's
    own defaultTags (the platform's stack tags) win on a shared key."""
    scheme = "internet-facing" if spec.public_alb else "internal"
    out = {
        "alb.ingress.kubernetes.io/scheme": scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        BACKEND_PROTOCOL_ANNOTATION: ingress.router_protocol,
        "alb.ingress.kubernetes.io/healthcheck-path": health_path,
        "alb.ingress.kubernetes.io/healthcheck-protocol": ingress.router_protocol,
        "alb.ingress.kubernetes.io/success-codes": "200",
        "alb.ingress.kubernetes.io/load-balancer-attributes": f"idle_timeout.timeout_seconds={ingress.idle_timeout_seconds}",
    }
    tls = tls_for(spec, ingress)
    out.update(listener_annotations(tls.certificate_arn))  # S2; with `domain` and no ARN the program passes the issued one in
    if not tls.certificate_arn and spec.public_alb and spec.api_key and ingress.allow_plaintext_api_key:
        out[OPT_OUT_ANNOTATION] = "true"  # S2: the stack policy accepts it in dev stacks only
    if spec.public_alb and ingress.inbound_cidrs:
        out["alb.ingress.kubernetes.io/inbound-cidrs"] = ",".join(ingress.inbound_cidrs)
    if tags:
        out["alb.ingress.kubernetes.io/tags"] = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return out


def router_service(ingress: IngressSpec, endpoint_k8s_name: str) -> str:
    """The configured router Service name: the last fallback of the lookup below."""
    return ingress.router_service.replace("{name}", endpoint_k8s_name)  # never str.format: no user templates


# Where the stack cannot read the cluster (no kubeconfig; the offline plan), the Ingress and the gateway name this port.
ROUTER_PORT_FALLBACK = 8080


def router_port(ingress: IngressSpec) -> int:
    """The configured router port (`routerPort`), else the fallback used where the cluster cannot be read."""
    return ingress.router_port or ROUTER_PORT_FALLBACK


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


def deployment_verdict(obj: Optional[Mapping[str, Any]]) -> tuple[str, str]:
    """(ready / pending / failed, line) of an InferenceEndpointConfig, read as `stacks status` reads it (G15)."""
    if obj is None:
        return "pending", "not created yet"
    state, detail = state_rules.hyperpod(obj.get("status") or {})
    return state_rules.classify(state, detail)


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


def _owned_by_endpoint(obj: Mapping[str, Any], endpoint_k8s_name: str, uid: Optional[str]) -> bool:
    # An owner reference must name an owner in the object's own namespace, so this holds only for an endpoint in
    # hyperpod-inference-system; checked first because it is the strongest tie when present.
    return any((uid and o.get("uid") == uid) or (o.get("kind") == KIND and o.get("name") == endpoint_k8s_name) for o in _meta(obj).get("ownerReferences") or [])


def router_deployments(deployments: Iterable[Mapping[str, Any]], endpoint_k8s_name: str, namespace: str, uid: Optional[str] = None) -> list[Mapping[str, Any]]:
    """The router Deployments of an endpoint: owned by its InferenceEndpointConfig, or named (or labelled) as seen."""
    names = router_names(endpoint_k8s_name, namespace)
    return [
        d for d in deployments
        if _owned_by_endpoint(d, endpoint_k8s_name, uid) or _meta(d).get("name") in names or any(v in names for v in (_meta(d).get("labels") or {}).values())
    ]


def _pod_labels(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return dict((((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})


def _router_container_ports(deployments: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ports of the router container (`router-container`; without one, of every container)."""
    containers = [c for d in deployments for c in ((((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [])]
    routers = [c for c in containers if c.get("name") == ROUTER_CONTAINER] or containers
    return [p for c in routers for p in c.get("ports") or []]


def _targets(service_port: Mapping[str, Any], container_ports: list[Mapping[str, Any]]) -> bool:
    target = service_port.get("targetPort", service_port.get("port"))  # unset targetPort is the port itself
    if isinstance(target, str):
        return any(p.get("name") == target for p in container_ports)
    return any(p.get("containerPort") == target for p in container_ports)


def _tie(service: Mapping[str, Any], endpoint_k8s_name: str, uid: Optional[str], routers: list[Mapping[str, Any]], names: tuple[str, ...], configured: str) -> tuple[int, str]:
    """(strength, why) of what ties a Service to the endpoint's router: 3 owned by the endpoint, 2 owned by or selecting
    the router Deployment or labelled with its name, 1 the configured name only, 0 nothing."""
    meta = _meta(service)
    if _owned_by_endpoint(service, endpoint_k8s_name, uid):
        return 3, f"owned by InferenceEndpointConfig {endpoint_k8s_name}"
    router_names_found = {_meta(d).get("name") for d in routers}
    owner = next((o.get("name") for o in meta.get("ownerReferences") or [] if o.get("kind") == "Deployment" and o.get("name") in router_names_found), None)
    if owner:
        return 2, f"owned by the router Deployment {owner}"
    selector = dict((service.get("spec") or {}).get("selector") or {})
    picks = next((_meta(d).get("name") for d in routers if selector and selector.items() <= _pod_labels(d).items()), None)
    if picks:
        return 2, f"selects the pods of the router Deployment {picks}"
    named = next((f"{k}={v}" for k, v in sorted({**selector, **(meta.get("labels") or {})}.items()) if v in names), None)
    if named:
        return 2, f"selects or carries {named}"
    if meta.get("name") == configured:
        return 1, "platform.ingress.routerService"
    return 0, ""


def _pick_port(service: Mapping[str, Any], routers: list[Mapping[str, Any]], configured_port: Optional[int]) -> tuple[Optional[int], str]:
    """(port, how) or (None, why not). The configured routerPort wins; else the only port; else the one port whose
    targetPort (number or name) is a port of the router container."""
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port")]
    numbers = sorted(p["port"] for p in ports)
    if configured_port:
        return (configured_port, "platform.ingress.routerPort") if configured_port in numbers else (None, f"it has ports {numbers}, not platform.ingress.routerPort {configured_port}")
    if len(ports) == 1:
        return ports[0]["port"], "its only port"
    container_ports = _router_container_ports(routers)
    reaching = [p for p in ports if _targets(p, container_ports)] if container_ports else []
    if len(reaching) == 1:
        return reaching[0]["port"], f"the port that targets {ROUTER_CONTAINER}"
    return None, f"it has ports {numbers} and {'none' if not reaching else 'more than one'} of them targets the router container"


def find_router_service(
    services: Iterable[Mapping[str, Any]],
    deployments: Iterable[Mapping[str, Any]],
    endpoint_k8s_name: str,
    namespace: str,
    configured_service: str,
    configured_port: Optional[int] = None,
    template: str = "{name}-router",
    uid: Optional[str] = None,
) -> tuple[Optional[RouterService], str]:
    """The operator's router Service of an endpoint in hyperpod-inference-system and the port the ALB forwards to,
    or (None, why it is not found). Strongest tie first; among equals, the one whose router port is clear, then the
    configured name."""
    items = list(services)
    names = router_names(endpoint_k8s_name, namespace)
    routers = router_deployments(deployments, endpoint_k8s_name, namespace, uid)
    tied = [(strength, why, s) for s in items for strength, why in [_tie(s, endpoint_k8s_name, uid, routers, names, configured_service)] if strength]
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
    seen = f"router Deployment {', '.join(sorted(str(_meta(d).get('name')) for d in routers))}" if routers else f"no router Deployment ({' or '.join(names)})"
    hint = f"; Services there named after the endpoint: {', '.join(near)}" if near else ""
    return None, (
        f"no Service in {OPERATOR_NAMESPACE} is tied to the router of endpoint {namespace}/{endpoint_k8s_name} ({seen}; no Service "
        "owned by the endpoint or the router Deployment, selecting its pods or carrying its name), and "
        f"platform.ingress.routerService ({template!r}) names {configured_service}, which does not exist{hint}. AWS documents neither "
        f"the router's Service nor its port. Fix: find the router's Service with `kubectl get svc -n {OPERATOR_NAMESPACE}`, set "
        "platform.ingress.routerService (`{name}` is the endpoint's Kubernetes name) and routerPort to its name and port, and run "
        "`pulumi up` again"
    )


def validate_router_services(ingress: IngressSpec, endpoints: Iterable[EndpointSpec], paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    """The filled-in router Service name is a Service name: a DNS-1035 label of at most 63 characters."""
    problems = []
    for i, ep in enumerate(endpoints):
        name = router_service(ingress, resolve(ep).name)
        if ep.intelligent_routing and len(name) > naming.MAX_NAME:
            problems.append(Problem(f"{paths.platform}.ingress.routerService", ingress.router_service, "CONFIG", f"becomes {name!r} for {paths.endpoint(i)}, longer than {naming.MAX_NAME} characters", "shorten the text around {name}"))
    return problems


def url_scheme(ingress: IngressSpec) -> str:
    """https when the stack's ALBs have a certificate (given, or issued for `domain`)."""
    return "https" if ingress.certificate_arn or ingress.domain else "http"


def alb_url(spec: EndpointSpec, ingress: IngressSpec, alb_host: Optional[str]) -> Optional[str]:
    """G16 with S2: once the Ingress reports its ALB, the URL, named by the endpoint's DNS name under
    `domain` (the name its certificate covers) when there is one."""
    if not alb_host:
        return None
    tls = tls_for(spec, ingress)
    return endpoint_url(tls.scheme, tls.host or alb_host, spec.invocation_endpoint)


def endpoint_url(scheme: str, host: Optional[str], invocation_endpoint: str) -> Optional[str]:
    """G16: built from the Ingress's final status (`host`), never from a value known before the ALB."""
    if not host:
        return None
    return f"{scheme}://{host}/{invocation_endpoint.lstrip('/')}"


def curl_example(url: Optional[str], served_model: str, api_key: bool, invocation_endpoint: str) -> Optional[str]:
    """A ready-to-run request. The key is never in it (G9): it is read from the environment."""
    if not url:
        return None
    if invocation_endpoint.endswith("chat/completions"):
        body = {"model": served_model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 64}
    else:
        body = {"model": served_model, "prompt": "Hello", "max_tokens": 64}
    auth = ' -H "Authorization: Bearer $API_KEY"' if api_key else ""
    return f"curl -sS {url} -H 'Content-Type: application/json'{auth} -d '{json.dumps(body, separators=(',', ':'))}'"
