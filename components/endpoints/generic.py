"""The component of a registered backend that has no component of its own: it declares what the backend's
`render` returns and reads the state of the backend's own object (`Backend.live`). `component_for` makes one
class per such backend, so a new backend needs no Pulumi code until it wants more than this."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi

from ..rules import capacity, fit
from ..rules import tags as tag_rules
from ..rules.backends import BACKENDS
from ..rules.backends.base import RenderContext
from .base import EndpointArgs, EndpointComponent
from .objects import declare_all, status_of


class GenericEndpoint(EndpointComponent):
    """Children: the API key (`<name>-api-key`) and every object the backend renders. `url` from its own object's
    status where the backend reads one there (`Backend.live.url`: OME's InferenceService, KServe's
    LLMInferenceService), else None; `state` from that status, read as `Backend.live.state` reads it."""

    TYPE: ClassVar[str] = "llm-serving:endpoints:Endpoint"
    BACKEND: ClassVar[str] = ""

    def _url_label(self) -> tuple[str, str]:
        live = BACKENDS[self.BACKEND].live
        return ("service", f"{live.kind} {self.endpoint.namespace}/{self.endpoint.name}")

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        ep = self.endpoint
        backend = BACKENDS[self.BACKEND]
        tags = tag_rules.alb_tags(pulumi.get_stack(), ep.name, args.tags)
        context = RenderContext(
            region=args.region,
            ingress=args.ingress,
            api_key_secret=ep.api_key_secret if self.key else None,
            alb_tags=tags,
        )
        manifests = fit.annotate(
            capacity.annotate(backend.render(ep, context), args.capacity_contract), args.model_facts
        )
        self.children = declare_all(
            self, name, manifests, [*self.deps, *([self.key] if self.key else [])], args.ingress_ready
        )
        own = self.children.get(backend.live.kind)
        if own is None:
            return None, pulumi.Output.from_input((None, None))
        read_url, path = backend.live.url, ep.spec.invocation_endpoint
        url = status_of(own).apply(lambda status: read_url(status, path)) if read_url else None
        return url, status_of(own).apply(backend.live.state)


_MADE: dict[str, type[EndpointComponent]] = {}


def generic_component(name: str) -> type[EndpointComponent]:
    """One class per backend: its Pulumi type token `llm-serving:endpoints:<Name>Endpoint` (`ome` ->
    `OmeEndpoint`) is the backend's name and never changes."""
    if name not in _MADE:
        title = "".join(part.capitalize() for part in BACKENDS[name].name.replace("-", " ").split())
        _MADE[name] = type(
            f"{title}Endpoint", (GenericEndpoint,), {"TYPE": f"llm-serving:endpoints:{title}Endpoint", "BACKEND": name}
        )
    return _MADE[name]
