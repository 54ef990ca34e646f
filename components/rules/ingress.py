"""ALB ingress, endpoint URLs and example requests (G8, G16, G17): the Ingress every endpoint path
uses, its annotations (fixed at creation), how the HyperPod router's Service is found, the URL from
the final status, and a ready-to-run curl."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from . import naming
from .addons import OPERATOR_NAMESPACE
from .alb_tls import OPT_OUT_ANNOTATION, alb_tls, listener_annotations
from .endpoint import resolve
from .paths import STACK_FILE, ConfigPaths
from .problems import Problem
from .spec import EndpointSpec, IngressSpec

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
    return spec.hyperpod.intelligent_routing and spec.public_alb


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


def alb_ingress(
    name: str, namespace: str, labels: Mapping[str, str], annotations: Mapping[str, str], service: str, port: int
) -> dict[str, Any]:
    """The ALB Ingress every endpoint path uses: one rule, everything to one Service port."""
    backend = {"service": {"name": service, "port": {"number": port}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels), "annotations": dict(annotations)},
        "spec": {
            "ingressClassName": "alb",
            "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}],
        },
    }


def ingress_annotations(
    spec: EndpointSpec, ingress: IngressSpec, health_path: str, tags: Mapping[str, str] | None = None
) -> dict[str, str]:
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
    certificate = ingress.certificate_arn
    out.update(listener_annotations(certificate))  # S2; with `domain` and no ARN the program passes the issued one in
    if not certificate and spec.public_alb and spec.api_key and ingress.allow_plaintext_api_key:
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


def validate_router_services(
    ingress: IngressSpec, endpoints: Iterable[EndpointSpec], paths: ConfigPaths = STACK_FILE
) -> list[Problem]:
    """The filled-in router Service name is a Service name: a DNS-1035 label of at most 63 characters."""
    problems = []
    for i, ep in enumerate(endpoints):
        name = router_service(ingress, resolve(ep).name)
        if ep.hyperpod.intelligent_routing and len(name) > naming.MAX_NAME:
            problems.append(
                Problem(
                    f"{paths.platform}.ingress.routerService",
                    ingress.router_service,
                    "CONFIG",
                    f"becomes {name!r} for {paths.endpoint(i)}, longer than {naming.MAX_NAME} characters",
                    "shorten the text around {name}",
                )
            )
    return problems


def url_scheme(ingress: IngressSpec) -> str:
    """https when the stack's ALBs have a certificate (given, or issued for `domain`)."""
    return "https" if ingress.certificate_arn or ingress.domain else "http"


def alb_url(spec: EndpointSpec, ingress: IngressSpec, alb_host: str | None) -> str | None:
    """G16 with S2: once the Ingress reports its ALB, the URL, named by the endpoint's DNS name under
    `domain` (the name its certificate covers) when there is one."""
    if not alb_host:
        return None
    tls = alb_tls(spec, ingress, alb=True)  # called for an endpoint's ALB only
    return endpoint_url(tls.scheme, tls.host or alb_host, spec.invocation_endpoint)


def endpoint_url(scheme: str, host: str | None, invocation_endpoint: str) -> str | None:
    """G16: built from the Ingress's final status (`host`), never from a value known before the ALB."""
    if not host:
        return None
    return f"{scheme}://{host}/{invocation_endpoint.lstrip('/')}"


def curl_example(url: str | None, served_model: str, api_key: bool, invocation_endpoint: str) -> str | None:
    """A ready-to-run request. The key is never in it (G9): it is read from the environment."""
    if not url:
        return None
    if invocation_endpoint.endswith("chat/completions"):
        body = {"model": served_model, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 64}
    else:
        body = {"model": served_model, "prompt": "Hello", "max_tokens": 64}
    auth = ' -H "Authorization: Bearer $API_KEY"' if api_key else ""
    return f"curl -sS {url} -H 'Content-Type: application/json'{auth} -d '{json.dumps(body, separators=(',', ':'))}'"
