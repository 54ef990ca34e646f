"""Endpoint components, one per backend, all built on `base.EndpointComponent` with one args class
(`EndpointArgs`). `component_for(spec)` picks the class of an endpoint's backend."""

from __future__ import annotations

from ..rules.backends import backend_of
from ..rules.spec import EndpointSpec
from .api_key import EndpointApiKey, EndpointApiKeyArgs
from .base import EndpointArgs, EndpointComponent
from .hyperpod import EndpointIngress, EndpointIngressArgs, HyperPodEndpoint
from .kserve import KServeEndpoint
from .kubernetes import KubernetesEndpoint
from .llmisvc import LlmisvcEndpoint
from .ome import OmeEndpoint

COMPONENTS: dict[str, type[EndpointComponent]] = {cls.BACKEND: cls for cls in (HyperPodEndpoint, KubernetesEndpoint, OmeEndpoint, KServeEndpoint, LlmisvcEndpoint)}


def component_for(spec: EndpointSpec) -> type[EndpointComponent]:
    """The component class of the endpoint's backend."""
    return COMPONENTS[backend_of(spec)]


__all__ = [
    "COMPONENTS",
    "EndpointApiKey",
    "EndpointApiKeyArgs",
    "EndpointArgs",
    "EndpointComponent",
    "EndpointIngress",
    "EndpointIngressArgs",
    "HyperPodEndpoint",
    "KServeEndpoint",
    "KubernetesEndpoint",
    "OmeEndpoint",
    "component_for",
]
