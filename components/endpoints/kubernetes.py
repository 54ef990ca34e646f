"""The `kubernetes` backend: a plain Deployment and Service with the engine, no operator."""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi

from ..rules import capacity, fit
from ..rules import ingress as ingress_rules
from ..rules import tags as tag_rules
from ..rules.backends import kubernetes
from ..rules.backends import state as endpoint_state
from ..rules.backends.base import RenderContext
from .base import EndpointArgs, EndpointComponent
from .objects import declare_all, status_of
from .urls import load_balancer_url


class KubernetesEndpoint(EndpointComponent):
    """Children: the API key (`<name>-api-key`), the S3 weights volume and claim, the Deployment
    (`<name>`), its Service, optional HPA, and the ALB Ingress or NLB Service. Every object waits
    for the load balancer controller's webhook. `state` from the Deployment's conditions (Ready,
    Deploying, Failed)."""

    TYPE: ClassVar[str] = "llm-serving:endpoints:KubernetesEndpoint"
    BACKEND: ClassVar[str] = kubernetes.BACKEND.name

    def _url_label(self) -> tuple[str, str]:
        return ingress_rules.front_url_label(self.endpoint.spec, kubernetes.names(self.endpoint.spec)["service"])

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        ep = self.endpoint
        tags = tag_rules.alb_tags(pulumi.get_stack(), ep.name, args.tags)
        manifests = fit.annotate(
            capacity.annotate(
                kubernetes.BACKEND.render(
                    ep,
                    RenderContext(
                        region=args.region,
                        ingress=args.ingress,
                        api_key_secret=ep.api_key_secret if self.key else None,
                        alb_tags=tags,
                    ),
                ),
                args.capacity_contract,
            ),
            args.model_facts,
        )
        self.children = declare_all(
            self,
            name,
            manifests,
            [*self.deps, *([self.key] if self.key else [])],
            args.ingress_ready,
            args.spec.max_deploy_seconds,
        )
        url = load_balancer_url(
            ep.spec, self.children, kubernetes.names(ep.spec)["service"], ingress_rules.url_scheme(args.ingress)
        )
        return url, status_of(self.children["Deployment"]).apply(endpoint_state.deployment)
