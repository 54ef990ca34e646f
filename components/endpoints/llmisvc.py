"""The `llmisvc` backend: a KServe LLMInferenceService; KServe creates the workload, its Service and its router."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi

from ..rules import capacity, fit
from ..rules.backends import llmisvc
from ..rules.backends import state as endpoint_state
from ..rules.backends.base import RenderContext
from .base import EndpointArgs, EndpointComponent
from .objects import declare_all, status_of


class LlmisvcEndpoint(EndpointComponent):
    """Children: the API key (`<name>-api-key`) and the LLMInferenceService (`<name>`). `url` is its status.url (the
    Gateway's address with the scheduler router, the workload Service's otherwise); `state` its Ready condition."""

    TYPE: ClassVar[str] = "llm-serving:endpoints:LlmisvcEndpoint"
    BACKEND: ClassVar[str] = llmisvc.BACKEND.name

    def _url_label(self) -> tuple[str, str]:
        return ("service", f"LLMInferenceService {self.endpoint.namespace}/{self.endpoint.name}")  # its status.url

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        ep = self.endpoint
        spec = ep.spec
        manifests = fit.annotate(
            capacity.annotate(
                llmisvc.BACKEND.render(
                    ep, RenderContext(region=args.region, api_key_secret=ep.api_key_secret if self.key else None)
                ),
                args.capacity_contract,
            ),
            args.model_facts,
        )
        self.children = declare_all(
            self, name, manifests, [*self.deps, *([self.key] if self.key else [])], args.ingress_ready
        )
        obj = self.children[llmisvc.KIND]
        url = status_of(obj).apply(
            lambda s: (
                f"{str(s['url']).rstrip('/')}/{spec.invocation_endpoint}"
                if isinstance(s, dict) and s.get("url")
                else None
            )
        )
        return url, status_of(obj).apply(endpoint_state.ready_condition)
