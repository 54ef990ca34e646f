"""Endpoint URLs (G16): read from the final status of the object that fronts the endpoint."""

from __future__ import annotations

from typing import Any

import pulumi

from ..rules import ingress as ingress_rules
from ..rules.spec import EndpointSpec
from .objects import status_of


def hostname_of(status: Any) -> str | None:
    """The load balancer's DNS name from an Ingress or Service status (typed or plain), or None
    while it has none."""
    if status is None:
        return None
    # Typed output classes are dicts too, but warn on camelCase keys: try their getters first.
    lb = getattr(status, "load_balancer", None) or (status.get("loadBalancer") if isinstance(status, dict) else None)
    entries = getattr(lb, "ingress", None) or (lb.get("ingress") if isinstance(lb, dict) else None) or []
    for entry in entries:
        host = getattr(entry, "hostname", None) or (entry.get("hostname") if isinstance(entry, dict) else None)
        if host:
            return host
    return None


def url_from_status(status: pulumi.Output[Any], spec: EndpointSpec, scheme: str = "http") -> pulumi.Output[str | None]:
    """G16: the URL of an Ingress or a LoadBalancer Service, from its final status."""
    return status.apply(lambda s: ingress_rules.endpoint_url(scheme, hostname_of(s), spec.invocation_endpoint))


def in_cluster_url(service: str, spec: EndpointSpec) -> str:
    return f"http://{service}.{spec.namespace}.svc.cluster.local/{spec.invocation_endpoint}"


def load_balancer_url(
    spec: EndpointSpec, children: dict[str, pulumi.CustomResource], service_name: str, scheme: str
) -> Any:
    """The ALB's URL, the NLB Service's, or the in-cluster Service's without a load balancer."""
    if spec.load_balancer == "alb":
        return url_from_status(status_of(children["Ingress"]), spec, scheme)
    if spec.load_balancer == "nlb":
        return url_from_status(status_of(children["Service"]), spec)
    return in_cluster_url(service_name, spec)
