"""The `kserve` backend: a KServe InferenceService (RawDeployment) behind a gateway Service."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi

from ..rules import capacity, fit
from ..rules import ingress as ingress_rules
from ..rules import tags as tag_rules
from ..rules.backends import kserve
from ..rules.backends import state as endpoint_state
from ..rules.backends.base import RenderContext
from .base import EndpointArgs, EndpointComponent
from .objects import declare_all, status_of
from .urls import load_balancer_url


class KServeEndpoint(EndpointComponent):
    """Children: the API key (`<name>-api-key`), the InferenceService (`<name>`), a ClusterIP
    gateway Service, and the ALB Ingress or NLB in front of it. `state` from the Ready condition."""

    TYPE: ClassVar[str] = "llm-serving:endpoints:KServeEndpoint"
    BACKEND: ClassVar[str] = kserve.BACKEND.name

    def _url_label(self) -> tuple[str, str]:
        return ingress_rules.front_url_label(self.endpoint.spec, kserve.gateway_service_name(self.endpoint.spec))

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        ep = self.endpoint
        tags = tag_rules.alb_tags(pulumi.get_stack(), ep.name, args.tags)
        manifests = fit.annotate(
            capacity.annotate(
                kserve.BACKEND.render(
                    ep,
                    RenderContext(
                        ingress=args.ingress, api_key_secret=ep.api_key_secret if self.key else None, alb_tags=tags
                    ),
                ),
                args.capacity_contract,
            ),
            args.model_facts,
        )
        self.children = declare_all(
            self, name, manifests, [*self.deps, *([self.key] if self.key else [])], args.ingress_ready
        )
        url = load_balancer_url(
            ep.spec, self.children, kserve.gateway_service_name(ep.spec), ingress_rules.url_scheme(args.ingress)
        )
        return url, status_of(self.children["InferenceService"]).apply(endpoint_state.ready_condition)
