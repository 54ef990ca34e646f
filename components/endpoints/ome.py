"""The `ome` backend: an OME InferenceService and what it serves from."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi

from ..rules import capacity, fit
from ..rules.backends import ome
from ..rules.backends import state as endpoint_state
from ..rules.backends.base import RenderContext
from .base import EndpointArgs, EndpointComponent
from .objects import declare_all, status_of


class OmeEndpoint(EndpointComponent):
    """Children: the API key (`<name>-api-key`), ClusterBaseModel, ClusterServingRuntime,
    InferenceService (`<name>`), optional BenchmarkJob. `url` is the InferenceService's
    status.url; `state` its Ready condition."""

    TYPE: ClassVar[str] = "llm-serving:endpoints:OmeEndpoint"
    BACKEND: ClassVar[str] = ome.BACKEND.name

    def _url_label(self) -> tuple[str, str]:
        return ("service", f"InferenceService {self.endpoint.namespace}/{self.endpoint.name}")  # its status.url

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        ep = self.endpoint
        spec = ep.spec
        manifests = fit.annotate(
            capacity.annotate(
                ome.BACKEND.render(
                    ep, RenderContext(region=args.region, api_key_secret=ep.api_key_secret if self.key else None)
                ),
                args.capacity_contract,
            ),
            args.model_facts,
        )
        self.children = declare_all(
            self, name, manifests, [*self.deps, *([self.key] if self.key else [])], args.ingress_ready
        )
        isvc = self.children["InferenceService"]
        url = status_of(isvc).apply(
            lambda s: (
                f"{str(s['url']).rstrip('/')}/{spec.invocation_endpoint}"
                if isinstance(s, dict) and s.get("url")
                else None
            )
        )
        return url, status_of(isvc).apply(endpoint_state.ready_condition)
