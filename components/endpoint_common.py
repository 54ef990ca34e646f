"""What every endpoint component shares: its args, its outputs (the same shape whatever the
backend), and declaring a rendered manifest as the matching Pulumi resource."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
import pulumi_kubernetes as k8s

from .custom_resource import StatusCustomResource
from .ingress import hostname_of
from .rules import engines
from .rules.endpoint import resolve
from .rules import ingress as ingress_rules
from .rules.spec import EndpointSpec, IngressSpec


@dataclass
class InferenceEndpointArgs:
    spec: EndpointSpec
    region: Optional[str] = None
    # Required when spec.api_key: the key value (a Pulumi secret) and the Secret that holds it.
    api_key: Optional[pulumi.Input[str]] = None
    api_key_secret_name: Optional[str] = None
    # Every child waits for these (the namespace, the operator or controllers that serve it): a
    # component's own depends_on does not reach its children.
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    ingress: IngressSpec = field(default_factory=IngressSpec)  # kubernetes/kserve: the ALB settings
    ingress_after: list[pulumi.Resource] = field(default_factory=list)  # the load balancer controller


OUTPUTS = ("resource_name", "served_model_name", "namespace", "port", "invocation_path", "url", "state", "state_detail")

# Typed classes for the core kinds the backends render; anything else is a custom resource.
_TYPED: dict[tuple[str, str], Callable[..., pulumi.CustomResource]] = {
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "PersistentVolume"): k8s.core.v1.PersistentVolume,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
}


def declare(name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    cls = _TYPED.get((manifest["apiVersion"], manifest["kind"]))
    if cls is None:
        return StatusCustomResource(name, api_version=manifest["apiVersion"], kind=manifest["kind"], metadata=manifest["metadata"], spec=manifest.get("spec"), opts=opts)
    return cls(name, metadata=manifest["metadata"], spec=manifest.get("spec"), opts=opts)


def child_opts(component: pulumi.Resource, args: InferenceEndpointArgs, *extra: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=component, depends_on=[*args.depends_on, *extra], **kwargs)


def url_from_status(status: pulumi.Output[Any], spec: EndpointSpec, scheme: str = "http") -> pulumi.Output[Optional[str]]:
    """G16: the URL of an Ingress or a LoadBalancer Service, from its final status."""
    return status.apply(lambda s: ingress_rules.endpoint_url(scheme, hostname_of(s), spec.invocation_endpoint))


def in_cluster_url(service: str, spec: EndpointSpec) -> str:
    return f"http://{service}.{spec.namespace}.svc.cluster.local/{spec.invocation_endpoint}"


class EndpointComponent(pulumi.ComponentResource):
    """Outputs: `resource_name`, `served_model_name`, `namespace`, `port`, `invocation_path`, `url`
    (None without a load balancer address), `state`, `state_detail` (None while unknown)."""

    resource_name: pulumi.Output[str]
    served_model_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    port: pulumi.Output[int]
    invocation_path: pulumi.Output[str]
    url: pulumi.Output[Optional[str]]
    state: pulumi.Output[Optional[str]]
    state_detail: pulumi.Output[Optional[str]]

    def _finish(self, spec: EndpointSpec, url: Any, state: pulumi.Output[Any]) -> None:
        """`state` resolves to (state, detail)."""
        self.resource_name = pulumi.Output.from_input(resolve(spec).name)
        self.served_model_name = pulumi.Output.from_input(engines.served_model_name(spec.model))
        self.namespace = pulumi.Output.from_input(spec.namespace)
        self.port = pulumi.Output.from_input(resolve(spec).port)
        self.invocation_path = pulumi.Output.from_input("/" + spec.invocation_endpoint)
        self.url = pulumi.Output.from_input(url)
        self.state = state.apply(lambda s: s[0])
        self.state_detail = state.apply(lambda s: s[1])
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS})


def check_api_key(spec: EndpointSpec, args: InferenceEndpointArgs) -> None:
    if spec.api_key and args.api_key is None and args.api_key_secret_name is None:
        raise ValueError(f"endpoint {spec.name!r}: apiKey is true but no key was passed to InferenceEndpointArgs.api_key")
