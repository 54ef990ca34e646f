"""The `hyperpod` backend: the operator's `InferenceEndpointConfig`, its API key in the endpoint's
and the operator's namespaces (G9), and, for an internet-facing endpoint only, an ALB Ingress in
front of the operator's router.

An internal endpoint is served by the operator's own ALB (Ingress
`hyperpod-inference-system/alb-{name}-{namespace}`, internal, HTTPS with the tlsConfig certificate):
one ALB, nothing guessed. Its URL is read live (`python -m stacks status`): the operator creates the
Ingress after the endpoint, so no `Ingress.get` can run at `up`.

An internet-facing endpoint gets a second ALB, deliberately: the CRD has no scheme field, so the
operator's ALB stays internal (it also serves the SageMaker endpoint registration) and the public
one is the stack's. Cost: one more ALB per public endpoint (hourly charge plus LCUs; docs/backends.md).
Why the component declares its own Ingress instead of patching the operator's Ingress:
- the scheme of an ALB is fixed when its Ingress is created; patching the operator's Ingress means
  the ALB first comes up internal and is then rebuilt, the sequence that once left a stale
  internal URL behind;
- the operator reconciles its own objects and puts its values back (it did so with the router's
  env and re-created its Ingress as internal when it was recreated as public), so a server-side-apply patch would be a
  tug-of-war over field managers;
- a patch resource needs the object to exist at apply time, but the operator creates it
  asynchronously after the endpoint, so the first `pulumi up` would fail.
Our Ingress is named `llm-{name}`, so the two never touch the same object. Its scheme never changes
in place: switching `publicAlb` makes Pulumi replace the Ingress (its name is fixed, so the old one
is deleted first and the ALB controller cleans up its ALB under its finalizer, no race).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s

from ..rules import capacity, fit, naming
from ..rules import ingress as ingress_rules
from ..rules import tags as tag_rules
from ..rules.backends import hyperpod
from ..rules.backends import state as endpoint_state
from ..rules.backends.base import RenderContext
from ..rules.endpoint import resolve
from ..rules.spec import EndpointSpec, IngressSpec
from ..rules.tls import tls_for
from .base import EndpointArgs, EndpointComponent
from .objects import SCHEME_ANNOTATION, StatusCustomResource
from .router_check import RouterServiceCheck
from .urls import hostname_of


@dataclass
class EndpointIngressArgs:
    spec: EndpointSpec
    endpoint_name: str  # the endpoint's Kubernetes name
    endpoint_namespace: str  # where its InferenceEndpointConfig is
    ingress: IngressSpec
    health_path: str
    after: list[pulumi.Resource] = field(default_factory=list)  # the load balancer controller, the endpoint
    tags: dict[str, str] = field(default_factory=dict)  # extra ALB tags; stack and endpoint tags are added
    kubeconfig: Any | None = None  # for the router Service lookup; None: the configured name and port


class EndpointIngress(pulumi.ComponentResource):
    """One ALB per endpoint in front of the operator's router (G8, G16, G17). Outputs: `hostname`
    and `url` (both from the Ingress's final status, G16)."""

    hostname: pulumi.Output[str | None]
    url: pulumi.Output[str | None]

    def __init__(self, name: str, args: EndpointIngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:endpoints:EndpointIngress", name, None, opts)
        spec = args.spec
        tags = tag_rules.alb_tags(pulumi.get_stack(), args.endpoint_name, args.tags)
        after = list(args.after)
        self.router_check: RouterServiceCheck | None = None  # with a kubeconfig: the Service `up` finds
        context = RenderContext(ingress=args.ingress, alb_tags=tags)
        if args.kubeconfig is not None:
            # AWS documents neither the router Service's name nor its port: once the endpoint reports its deployment
            # complete, the check finds the Service tied to the router and the Ingress forwards to what it found.
            self.router_check = RouterServiceCheck(
                f"{name}-router-check",
                args.kubeconfig,
                args.endpoint_name,
                args.endpoint_namespace,
                args.ingress,
                spec.max_deploy_seconds,
                opts=pulumi.ResourceOptions(parent=self, depends_on=args.after),
            )
            after.append(self.router_check)
            context = RenderContext(
                ingress=args.ingress,
                alb_tags=tags,
                router_service=self.router_check.service,
                router_port=self.router_check.port.apply(int),
            )
        # The rule library's Ingress (the one `render` returns), forwarding to the router Service found above.
        manifest = hyperpod.router_ingress(resolve(spec), context)
        self.ingress = k8s.networking.v1.Ingress(
            name,
            metadata=manifest["metadata"],
            spec=pulumi.Output.from_input(manifest["spec"]),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=after,
                # G8: a scheme change is a new Ingress (and ALB), never an in-place flip or a
                # delete-and-recreate outside Pulumi's control.
                replace_on_changes=[SCHEME_ANNOTATION],
                delete_before_replace=True,
            ),
        )
        scheme = ingress_rules.url_scheme(args.ingress)
        self.hostname = self.ingress.status.apply(hostname_of)
        self.url = self.hostname.apply(lambda host: ingress_rules.endpoint_url(scheme, host, spec.invocation_endpoint))
        self.register_outputs({"hostname": self.hostname, "url": self.url})


class HyperPodEndpoint(EndpointComponent):
    """The `hyperpod` backend. Children: the API key (`<name>-api-key`, with Secrets in the endpoint's
    namespace and in the operator's, G9), the `InferenceEndpointConfig` (`<name>`) and, with
    `publicAlb` (G8: with intelligent routing), the router's ALB Ingress (`<name>-ingress`). `state` is
    the operator's `status.state` (DeploymentComplete, DeploymentFailed, ...); `url` the public
    Ingress's (G16), else None with `url_kind` operator-alb (read live)."""

    TYPE: ClassVar[str] = "llm-serving:endpoints:InferenceEndpoint"
    BACKEND: ClassVar[str] = hyperpod.BACKEND.name
    KEY_NAMESPACES: ClassVar[tuple[str, ...]] = hyperpod.BACKEND.key_namespaces  # the router reads it (G9)

    @classmethod
    def ready(cls, args: EndpointArgs) -> list[pulumi.Resource]:
        # The operator must be up before its CRD's objects and its namespace's Secrets
        # (pulumi-kubernetes #3176/#3247: no CR in the same update without an explicit dependency).
        # The load balancer controller and the ingress drain guard too (O6): the operator makes an ALB
        # Ingress for the endpoint, so on destroy the endpoint goes before the guard and the controller.
        return [*args.operator_ready, *args.ingress_ready]

    def _url_label(self) -> tuple[str, str]:
        return ingress_rules.hyperpod_url_label(self.endpoint.spec)

    @property
    def router_check(self) -> RouterServiceCheck | None:
        return self.ingress.router_check if self.ingress is not None else None

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        ep = self.endpoint
        key = self.key
        # The router needs the key as a plain value (G9): the config carries it, not only its Secret's name.
        context = RenderContext(
            region=args.region,
            ingress=args.ingress,
            api_key=key.value if key else None,
            api_key_secret=ep.api_key_secret if key else None,
            tls=tls_for(ep.spec, args.ingress),
        )
        manifest, *front = fit.annotate(
            capacity.annotate(hyperpod.BACKEND.render(ep, context), args.capacity_contract), args.model_facts
        )
        if ep.name != ep.spec.name:
            pulumi.log.info(
                f"endpoint {ep.spec.name!r} is named {ep.name!r} in Kubernetes "
                f"(G1/G2: lowercase RFC 1123, at most {naming.HYPERPOD_NAME_BUDGET} characters)",
                resource=self,
            )
        self.endpoint_config = StatusCustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            # G19: the operator cannot flip intelligent routing in place; replace instead of a
            # failed update. The name is fixed, so the old object must go first.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=self.deps,
                replace_on_changes=list(hyperpod.BACKEND.immutable_fields),
                delete_before_replace=True,
            ),
        )
        state = self.endpoint_config.status.apply(endpoint_state.hyperpod)
        self.ingress: EndpointIngress | None = None
        if not front:  # the public Ingress in front of the router: declared with its router check below
            return None, state
        self.ingress = EndpointIngress(
            f"{name}-ingress",
            EndpointIngressArgs(
                spec=ep.spec,
                endpoint_name=ep.name,
                endpoint_namespace=ep.namespace,
                ingress=args.ingress,
                health_path=ep.health_path,
                after=[*args.ingress_ready, self.endpoint_config],
                tags=args.tags,
                kubeconfig=args.kubeconfig,
            ),
            opts=pulumi.ResourceOptions(parent=self, aliases=self._moved_aliases("-ingress", args)),
        )
        return self.ingress.url, state
