"""Endpoint components, one per backend, all built on `base.EndpointComponent` with one args class
(`EndpointArgs`). `component_for(spec)` picks the class of an endpoint's backend: its own, or for a registered
backend without one, `generic.GenericEndpoint` (what its `render` returns)."""

from __future__ import annotations

from ..rules.backends import BACKENDS, backend_named, backend_of
from ..rules.spec import EndpointSpec
from .api_key import EndpointApiKey, EndpointApiKeyArgs
from .base import EndpointArgs, EndpointComponent
from .generic import GenericEndpoint, generic_component
from .hyperpod import EndpointIngress, EndpointIngressArgs, HyperPodEndpoint
from .kserve import KServeEndpoint
from .kubernetes import KubernetesEndpoint

OWN_COMPONENTS: dict[str, type[EndpointComponent]] = {
    cls.BACKEND: cls for cls in (HyperPodEndpoint, KubernetesEndpoint, KServeEndpoint)
}
# The shipped backends' classes; OME and KServe's LLMInferenceService need no code beyond the generic one.
COMPONENTS: dict[str, type[EndpointComponent]] = {
    name: OWN_COMPONENTS.get(name) or generic_component(name) for name in BACKENDS
}


def component_for(spec: EndpointSpec) -> type[EndpointComponent]:
    """The component class of the endpoint's backend (a registered one: `backend_named` refuses another)."""
    name = backend_named(backend_of(spec)).name
    return COMPONENTS.get(name) or generic_component(name)


__all__ = [
    "COMPONENTS",
    "EndpointApiKey",
    "EndpointApiKeyArgs",
    "EndpointArgs",
    "EndpointComponent",
    "EndpointIngress",
    "EndpointIngressArgs",
    "GenericEndpoint",
    "HyperPodEndpoint",
    "KServeEndpoint",
    "KubernetesEndpoint",
    "component_for",
]
