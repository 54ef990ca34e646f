"""Thin components for the non-HyperPod backends: each renders with the rule library and declares
what it rendered, every child parented to the component and waiting for `args.depends_on`."""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from .endpoint_common import EndpointComponent, InferenceEndpointArgs, check_api_key, child_opts, declare, in_cluster_url, url_from_status
from .inference_endpoint import InferenceEndpoint
from .ingress import SCHEME_ANNOTATION
from .rules.endpoint import resolve
from .rules import ingress as ingress_rules, tags as tag_rules
from .rules.backends import backend_of, kserve, kubernetes, ome
from .rules.backends import state as endpoint_state


def _declare_all(component: pulumi.Resource, name: str, manifests: list[dict[str, Any]], args: InferenceEndpointArgs) -> dict[str, pulumi.CustomResource]:
    """Declared in order, each after the previous ones it needs (a claim after its volume, ...).
    Pulumi names: `<name>-<kind>` (the Deployment/InferenceService keeps the component's name)."""
    out: dict[str, pulumi.CustomResource] = {}
    for manifest in manifests:
        kind = manifest["kind"]
        main = kind in ("Deployment", "InferenceService")
        after = list(out.values()) if kind in ("PersistentVolumeClaim", "Deployment", "InferenceService", "BenchmarkJob") else []
        extra: dict[str, Any] = {}
        if kind == "Ingress":
            after = [*args.ingress_after, *out.values()]
            # G8, as for the HyperPod path (EndpointIngress): a scheme change replaces the Ingress.
            extra = {"replace_on_changes": [SCHEME_ANNOTATION], "delete_before_replace": True}
        label = name if main else f"{name}-{kind.lower()}"
        out[kind] = declare(label, manifest, child_opts(component, args, *after, **extra))
    return out


def _load_balancer_url(spec: Any, children: dict[str, pulumi.CustomResource], service_name: str, ingress_scheme: str) -> Any:
    if spec.load_balancer == "alb":
        return url_from_status(children["Ingress"].status, spec, ingress_scheme)
    if spec.load_balancer == "nlb":
        return url_from_status(children["Service"].status, spec)
    return in_cluster_url(service_name, spec)


class KubernetesEndpoint(EndpointComponent):
    """The `kubernetes` backend: Deployment, Service, optional HPA, ALB Ingress or NLB Service, S3
    weights volume. `state` from the Deployment's conditions (Ready, Deploying, Failed)."""

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:endpoints:KubernetesEndpoint", name, None, opts)
        spec = args.spec
        check_api_key(spec, args)
        tags = tag_rules.alb_tags(pulumi.get_stack(), resolve(spec).name)
        self.children = _declare_all(self, name, kubernetes.render(spec, args.ingress, args.region, args.api_key_secret_name, tags), args)
        url = _load_balancer_url(spec, self.children, kubernetes.names(spec)["service"], ingress_rules.url_scheme(args.ingress))
        self._finish(spec, url, self.children["Deployment"].status.apply(endpoint_state.deployment))


class OmeEndpoint(EndpointComponent):
    """The `ome` backend: ClusterBaseModel, ClusterServingRuntime, InferenceService, optional
    BenchmarkJob. `url` is the InferenceService's status.url; `state` its Ready condition."""

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:endpoints:OmeEndpoint", name, None, opts)
        spec = args.spec
        check_api_key(spec, args)
        self.children = _declare_all(self, name, ome.render(spec, args.region, args.api_key_secret_name), args)
        isvc = self.children["InferenceService"]
        url = isvc.status.apply(lambda s: f"{str(s['url']).rstrip('/')}/{spec.invocation_endpoint}" if isinstance(s, dict) and s.get("url") else None)
        self._finish(spec, url, isvc.status.apply(endpoint_state.ready_condition))


class KServeEndpoint(EndpointComponent):
    """The `kserve` backend: InferenceService (RawDeployment), a ClusterIP gateway Service, and the
    ALB Ingress or NLB in front of it. `state` from the Ready condition."""

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:endpoints:KServeEndpoint", name, None, opts)
        spec = args.spec
        check_api_key(spec, args)
        tags = tag_rules.alb_tags(pulumi.get_stack(), resolve(spec).name)
        self.children = _declare_all(self, name, kserve.render(spec, args.ingress, args.api_key_secret_name, tags), args)
        url = _load_balancer_url(spec, self.children, kserve.gateway_service_name(spec), ingress_rules.url_scheme(args.ingress))
        self._finish(spec, url, self.children["InferenceService"].status.apply(endpoint_state.ready_condition))


COMPONENTS: dict[str, type[EndpointComponent]] = {
    "hyperpod": InferenceEndpoint,
    "kubernetes": KubernetesEndpoint,
    "ome": OmeEndpoint,
    "kserve": KServeEndpoint,
}


def endpoint(name: str, args: InferenceEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None) -> EndpointComponent:
    """The component of the endpoint's backend."""
    return COMPONENTS[backend_of(args.spec)](name, args, opts)
