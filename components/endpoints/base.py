"""What every endpoint component shares: one args class, input checks, the API key, and one output
shape whatever the backend. A backend's component only declares its own objects (`_declare`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_kubernetes as k8s

from ..rules import ingress as ingress_rules
from ..rules.backends import backend_of
from ..rules.endpoint import ResolvedEndpoint, resolve
from ..rules.model_facts import ModelFacts
from ..rules.spec import EndpointSpec, IngressSpec
from .api_key import EndpointApiKey, EndpointApiKeyArgs
from .tls import named_url


@dataclass
class EndpointArgs:
    """The inputs of every endpoint component (HyperPod, Kubernetes, OME, KServe)."""

    spec: EndpointSpec
    """The endpoint, as the stack config validated it. Its `backend` must be the component's."""

    region: str | None = None
    """The AWS region, for S3 model sources without their own region."""

    provider: k8s.Provider | None = None
    """The Kubernetes provider of every child. None: the one in `opts.providers`, else the default."""

    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Resources every child waits for, such as the endpoint's Namespace. A component's own
    `depends_on` does not reach its children, so the component passes this list to each of them."""

    operator_ready: list[pulumi.Resource] = field(default_factory=list)
    """What installs the backend's CRD and admits its objects (rule O3; pulumi-kubernetes #3176/#3247):
    the HyperPod inference operator for the hyperpod backend, the CRD and operator charts for ome and
    kserve (`Platform.backend_ready`). Every child waits for them; the kubernetes backend gets none."""

    ingress_ready: list[pulumi.Resource] = field(default_factory=list)
    """The AWS Load Balancer Controller: every Ingress waits for it, and the other backends'
    children wait for its webhook before their Services."""

    ingress: IngressSpec = field(default_factory=IngressSpec)
    """ALB settings (certificate, inbound CIDRs, router Service, ...) for the endpoint's Ingress."""

    kubeconfig: pulumi.Input[Any] | None = None
    """The cluster's kubeconfig, for checks that read the cluster during `up` (the router Service
    behind a public HyperPod ALB). None: those checks are skipped."""

    tags: dict[str, str] = field(default_factory=dict)
    """Extra tags for the endpoint's ALB; the stack and endpoint tags are always added (S6)."""

    capacity_contract: dict[str, Any] | None = None
    """The capacity contract's numbers (rule C1: peak, headroom, measured requests/s per replica), recorded as an
    annotation on the object that holds the replica maximum so the policy pack checks them. None: no load."""

    model_facts: ModelFacts | None = None
    """The model's facts from models.lock.json (rule G23), recorded as an annotation on the engine object so the
    policy pack sizes it against its GPUs. None: no lock entry."""

    previous_name: str | None = None
    """The Pulumi name the endpoint had before names were per namespace (`<name>` instead of
    `<namespace>/<name>`). Set when the name is used once in the stack: the component and its key
    then alias their old names, so existing stacks replace nothing."""


# Outputs every component registers, whatever the backend.
OUTPUTS = (
    "backend", "resource_name", "served_model_name", "namespace", "port", "invocation_path",
    "url", "url_kind", "url_source", "state", "state_detail", "curl", "api_key_secret",
)  # fmt: skip


def _check(cls: type[EndpointComponent], args: Any) -> None:
    """Every bad input at once, each with its property path (Pulumi's input error types)."""
    errors: list[tuple[str, str]] = []
    spec = getattr(args, "spec", None)
    if not isinstance(spec, EndpointSpec):
        errors.append(
            ("spec", f"got {type(spec).__name__}: pass the EndpointSpec the stack config validated (stacks/config.py)")
        )
    elif backend_of(spec) != cls.BACKEND:
        errors.append(
            (
                "spec.backend",
                f"endpoint {spec.name!r} has backend {backend_of(spec)!r} but {cls.__name__} deploys {cls.BACKEND!r}: use components.endpoints.component_for(spec)",
            )
        )
    for prop in ("depends_on", "operator_ready", "ingress_ready"):
        for i, item in enumerate(getattr(args, prop, None) or []):
            if not isinstance(item, pulumi.Resource):
                errors.append(
                    (
                        f"{prop}[{i}]",
                        f"got {type(item).__name__}: pass Pulumi resources only (an Output cannot be waited for)",
                    )
                )
    if len(errors) == 1:
        raise pulumi.InputPropertyError(*errors[0])
    if errors:
        details = [pulumi.InputPropertyErrorDetails(property_path=p, reason=r) for p, r in errors]
        raise pulumi.InputPropertiesError(f"{cls.__name__}: " + "; ".join(f"{p}: {r}" for p, r in errors), details)


class EndpointComponent(pulumi.ComponentResource):
    """One endpoint, whatever its backend. Outputs: `backend`, `resource_name` (the Kubernetes
    name), `served_model_name`, `namespace`, `port`, `invocation_path`, `url` (None until a load
    balancer has an address, G16), `url_kind` and `url_source` (what the url comes from), `state` and `state_detail` (None while unknown), `curl` (an
    example request without the key, G9), `api_key` (the key, a Pulumi secret) and
    `api_key_secret` (the key Secret's name); both None without `apiKey`."""

    TYPE: ClassVar[str]  # the Pulumi type token (never change it: it is part of every child's URN)
    BACKEND: ClassVar[str]  # the `backend` this component deploys
    KEY_NAMESPACES: ClassVar[tuple[str, ...]] = ()  # namespaces besides the endpoint's that read the key (G9)

    backend: pulumi.Output[str]
    resource_name: pulumi.Output[str]
    served_model_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    port: pulumi.Output[int]
    invocation_path: pulumi.Output[str]
    url: pulumi.Output[str | None]
    url_kind: pulumi.Output[str]
    url_source: pulumi.Output[str]
    state: pulumi.Output[str | None]
    state_detail: pulumi.Output[str | None]
    curl: pulumi.Output[str | None]
    api_key: pulumi.Output[str] | None
    api_key_secret: pulumi.Output[str] | None

    @classmethod
    def ready(cls, args: EndpointArgs) -> list[pulumi.Resource]:
        """What this backend's objects wait for besides `args.depends_on`: its operator (O3) and the load
        balancer controller."""
        return [*args.operator_ready, *args.ingress_ready]

    def __init__(self, name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None):
        _check(type(self), args)
        deps = [*args.depends_on, *self.ready(args)]
        own = pulumi.ResourceOptions(
            depends_on=deps,
            providers={"kubernetes": args.provider} if args.provider is not None else None,
            aliases=[pulumi.Alias(name=args.previous_name)] if args.previous_name else None,
        )
        super().__init__(self.TYPE, name, None, pulumi.ResourceOptions.merge(opts, own))
        self.endpoint: ResolvedEndpoint = resolve(args.spec)
        self.deps = deps
        self.key = self._declare_key(name, args)
        url, state = self._declare(name, args)
        url = named_url(self, name, args.spec, args.ingress, url)  # S2: the DNS name under platform.ingress.domain
        self._finish(url, state)

    def _declare(self, name: str, args: EndpointArgs) -> tuple[Any, pulumi.Output[Any]]:
        """Declare the backend's objects; return the URL (an Output, a string or None) and an
        Output of (state, detail)."""
        raise NotImplementedError

    def _url_label(self) -> tuple[str, str]:
        """(url_kind, url_source): which object the `url` comes from (rules/ingress.py URL_KINDS)."""
        raise NotImplementedError

    def _moved_aliases(self, suffix: str, args: EndpointArgs) -> list[pulumi.Alias]:
        """A child that used to be declared beside the component, at the stack's top level."""
        aliases = [pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)]
        if args.previous_name:
            aliases.append(pulumi.Alias(name=f"{args.previous_name}{suffix}", parent=pulumi.ROOT_STACK_RESOURCE))
        return aliases

    def _declare_key(self, name: str, args: EndpointArgs) -> EndpointApiKey | None:
        spec = args.spec
        if not spec.api_key:
            return None
        return EndpointApiKey(
            f"{name}-api-key",
            EndpointApiKeyArgs(
                secret_name=self.endpoint.api_key_secret,
                namespace=self.endpoint.namespace,
                namespaces=list(self.KEY_NAMESPACES),
                secret_arn=spec.api_key_secret_arn,
                depends_on=self.deps,
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=self.deps, aliases=self._moved_aliases("-api-key", args)
            ),
        )

    def _finish(self, url: Any, state: pulumi.Output[Any]) -> None:
        ep = self.endpoint
        spec = ep.spec
        self.backend = pulumi.Output.from_input(self.BACKEND)
        self.resource_name = pulumi.Output.from_input(ep.name)
        self.served_model_name = pulumi.Output.from_input(ep.served_model_name)
        self.namespace = pulumi.Output.from_input(ep.namespace)
        self.port = pulumi.Output.from_input(ep.port)
        self.invocation_path = pulumi.Output.from_input("/" + spec.invocation_endpoint)
        self.url = pulumi.Output.from_input(url)
        kind, source = self._url_label()
        self.url_kind = pulumi.Output.from_input(kind)
        self.url_source = pulumi.Output.from_input(source)
        self.state = state.apply(lambda s: s[0])
        self.state_detail = state.apply(lambda s: s[1])
        served = ep.served_model_name
        self.curl = self.url.apply(
            lambda u: ingress_rules.curl_example(u, served, spec.api_key, spec.invocation_endpoint)
        )
        self.api_key = self.key.value if self.key else None
        self.api_key_secret = self.key.secret_name if self.key else None
        self.register_outputs({k: getattr(self, k) for k in OUTPUTS if getattr(self, k) is not None})

    @property
    def router_check(self) -> Any | None:
        """The check that found this endpoint's router Service during `up` (hyperpod with a public Ingress), else None."""
        return None

    @property
    def outputs(self) -> dict[str, Any]:
        """The stack output of this endpoint (`endpoints.<name>`); the key value is not in it (G9)."""
        return {
            "url": self.url,  # G16: from the final status of the Ingress or Service
            # Which object `url` comes from; with `operator-alb` the url is None at `up` (the
            # operator creates its Ingress later) and `python -m stacks status` reads it live.
            "urlKind": self.url_kind,
            "urlSource": self.url_source,
            "servedModelName": self.served_model_name,
            "namespace": self.namespace,
            "resourceName": self.resource_name,
            "port": self.port,
            "invocationPath": self.invocation_path,  # a url read live (urlKind operator-alb) ends with it
            "apiKeySecret": self.api_key_secret,
            "backend": self.BACKEND,
            # The tuning driver waits on this (stacks/tuning: DeploymentComplete/InService/Ready/True).
            "state": self.state,
            "stateDetail": self.state_detail,
            "curl": self.curl,
        }
