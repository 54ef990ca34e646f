"""ALB ingress, endpoint URLs and example requests (G8, G16, G17): the Ingress every endpoint path
uses, its annotations (fixed at creation), the router Service name, the URL from the final status,
and a ready-to-run curl."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional

from . import naming
from .endpoint import resolve
from .problems import Problem
from .spec import EndpointSpec, IngressSpec
from .tls import OPT_OUT_ANNOTATION, tls_for

def ingress_name(endpoint_k8s_name: str) -> str:
    """Our Ingress; distinct from the operator's `alb-{name}` so the two never fight over one object."""
    return naming.fit(f"llm-{endpoint_k8s_name}", naming.MAX_NAME)


def needs_ingress(spec: EndpointSpec) -> bool:
    """G8: the operator's router exists (and so an ALB can front it) only with intelligent routing."""
    return spec.intelligent_routing


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
    the scheme: the ALB controller's finalizer deadlocks, incident §15). G17: health check on a route
    the engine serves. `tags` go on the ALB, its target group and security group; the controller's
    own defaultTags (the platform's stack tags) win on a shared key."""
    scheme = "internet-facing" if spec.public_alb else "internal"
    out = {
        "alb.ingress.kubernetes.io/scheme": scheme,
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/backend-protocol": ingress.router_protocol,
        "alb.ingress.kubernetes.io/healthcheck-path": health_path,
        "alb.ingress.kubernetes.io/healthcheck-protocol": ingress.router_protocol,
        "alb.ingress.kubernetes.io/success-codes": "200",
        "alb.ingress.kubernetes.io/load-balancer-attributes": f"idle_timeout.timeout_seconds={ingress.idle_timeout_seconds}",
    }
    tls = tls_for(spec, ingress)
    if tls.certificate_arn:  # S2; with `domain` and no ARN the program passes the issued one in
        out["alb.ingress.kubernetes.io/listen-ports"] = json.dumps([{"HTTP": 80}, {"HTTPS": 443}], separators=(",", ":"))
        out["alb.ingress.kubernetes.io/certificate-arn"] = tls.certificate_arn
        out["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
    else:
        out["alb.ingress.kubernetes.io/listen-ports"] = json.dumps([{"HTTP": 80}], separators=(",", ":"))
        if spec.public_alb and spec.api_key and ingress.allow_plaintext_api_key:
            out[OPT_OUT_ANNOTATION] = "true"  # S2: the stack policy accepts it in dev stacks only
    if spec.public_alb and ingress.inbound_cidrs:
        out["alb.ingress.kubernetes.io/inbound-cidrs"] = ",".join(ingress.inbound_cidrs)
    if tags:
        out["alb.ingress.kubernetes.io/tags"] = ",".join(f"{k}={v}" for k, v in sorted(tags.items()))
    return out


def router_service(ingress: IngressSpec, endpoint_k8s_name: str) -> str:
    return ingress.router_service.replace("{name}", endpoint_k8s_name)  # never str.format: no user templates


def validate_router_services(ingress: IngressSpec, endpoints: Iterable[EndpointSpec]) -> list[Problem]:
    """The filled-in router Service name is a Service name: a DNS-1035 label of at most 63 characters."""
    problems = []
    for i, ep in enumerate(endpoints):
        name = router_service(ingress, resolve(ep).name)
        if ep.intelligent_routing and len(name) > naming.MAX_NAME:
            problems.append(Problem("platform.ingress.routerService", ingress.router_service, "CONFIG", f"becomes {name!r} for endpoints[{i}], longer than {naming.MAX_NAME} characters", "shorten the text around {name}"))
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
