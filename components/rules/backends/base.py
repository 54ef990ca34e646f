"""What a backend is: one `Backend` object per backend module, registered once in
`components/rules/backends/__init__.py:BACKENDS`. Everything that differs between backends is a field here, so
the config, the manifest checks, the components, the live reader, the gateway, TLS and capacity ask the
object and never compare a backend's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..addons import AddonPlan
from ..endpoint import ResolvedEndpoint
from ..paths import ConfigPaths
from ..problems import Change, Problem
from ..spec import EndpointSpec, IngressSpec, PlatformSpec
from .engine_checks import EngineContainerView
from .kinds import Checker, Fixer, Kind, group_kind

State = tuple[str | None, str | None]


@dataclass(frozen=True)
class RenderContext:
    """What rendering needs besides the endpoint: every value the stack knows only at `up` may be a Pulumi
    Output, which the rules place and never inspect."""

    region: str | None = None
    """The AWS region, for S3 model sources without their own region."""
    ingress: IngressSpec = field(default_factory=IngressSpec)
    """ALB settings (certificate, inbound CIDRs, router Service and port) of the endpoint's Ingress."""
    api_key: Any = None
    """The key's value: only a backend whose router reads it as a plain value places it (G9)."""
    api_key_secret: str | None = None
    """The key Secret's name; None without `apiKey` (or before the key exists)."""
    alb_tags: Mapping[str, str] | None = None
    """Tags of the endpoint's ALB (S6)."""
    tls: Any = None
    """The endpoint's `rules.alb_tls.ResolvedTls`; None: worked out from `ingress`."""
    router_service: Any = None
    """The router Service an Ingress in front of an operator's router forwards to; None: the configured one."""
    router_port: Any = None
    """Its port; None: the configured one."""


@dataclass(frozen=True)
class PlatformNeeds:
    """What the cluster and platform give an endpoint, for a backend's up-front validation."""

    mode: str
    """The cluster mode (eks, hyperpod, existing)."""
    plan: AddonPlan
    """Which add-ons the platform installs (`addons.resolve_addons`)."""
    adopted: bool
    """An adopted cluster: its add-ons are the user's and are not judged."""
    operator: bool
    """The HyperPod inference operator runs on the cluster."""
    paths: ConfigPaths


@dataclass(frozen=True)
class LiveReference:
    """Where the live reader finds an endpoint's object and how it reads it (`stacks status`, the tuning driver)."""

    group: str
    """API group ("apps" for a Deployment)."""
    version: str
    plural: str
    kind: str
    state: Callable[[Any], State]
    """The object's `status` -> (state word, detail) (components/rules/backends/state.py)."""
    replicas: Callable[[Mapping[str, Any]], tuple[int | None, int | None]] = lambda obj: (None, None)
    """(ready, wanted) replicas from the whole object; (None, None) where its status counts none."""
    conditions: Callable[[Mapping[str, Any]], list[Any]] = lambda status: list(status.get("conditions") or [])
    """Every condition of a `status`, the newest of which `stacks status` shows."""
    autoscaler: bool = False
    """A HorizontalPodAutoscaler named as the object scales it (`stacks status` reads why it cannot scale)."""
    url: Callable[[Any, str], str | None] | None = None
    """(the object's `status`, the endpoint's invocation path) -> the endpoint's address, where the status names one
    (the component's `url` output); None: the backend's component finds its address itself, or it has none."""

    @property
    def type_token(self) -> str:
        """The Pulumi type of the object (`kubernetes:apps/v1:Deployment`)."""
        return f"kubernetes:{self.group or 'core'}/{self.version}:{self.kind}"


@dataclass(frozen=True)
class Upstream:
    """Where in the cluster a gateway reaches an endpoint."""

    host: str
    port: int


@dataclass(frozen=True)
class Backend:
    """One way of running an endpoint."""

    name: str
    """The value of `endpoints[].backend`."""
    title: str
    """How messages name it (HyperPod, OME)."""
    default_load_balancer: str
    """`loadBalancer` when unset."""
    render: Callable[[ResolvedEndpoint, RenderContext], list[dict[str, Any]]]
    """Every object of the endpoint, in creation order (its Ingress too)."""
    engine_views: Callable[[dict[str, Any]], list[EngineContainerView]]
    """The engine containers of one object, as the engine-container checks (G3-G13, S1, S3) see them."""
    checkers: Mapping[Kind, Checker]
    """The rules of each of its kinds."""
    fixers: Mapping[Kind, Fixer]
    """The repairs of each of its kinds."""
    live: LiveReference
    options: type | None = None
    """Its options model (the `EndpointSpec` field named after the backend), None when it has none."""
    validate: Callable[[EndpointSpec, str], list[Problem]] = lambda spec, path: []
    """Config rules of one endpoint on this backend (before anything is declared, and in grid pruning)."""
    validate_platform: Callable[[EndpointSpec, str, PlatformNeeds], list[Problem]] = lambda spec, where, needs: []
    """What the endpoint needs from the cluster and the platform (add-ons, model sources, features it refuses)."""
    has_alb: Callable[[EndpointSpec], bool] = lambda spec: False
    """The stack declares an ALB Ingress for the endpoint."""
    public_load_balancer: Callable[[EndpointSpec], str | None] = lambda spec: None
    """With `publicAlb`: the internet-facing load balancer the stack declares ("ALB", "NLB"), or None."""
    autoscaler: str | None = None
    """The per-replica autoscaler a capacity target drives (`hpa`, `keda`), None where it scales by min/max only."""
    upstream: Callable[[EndpointSpec, PlatformSpec], Upstream | None] = lambda spec, platform: None
    """The in-cluster Service a gateway routes to, None where the stack declares none it could name."""
    immutable_fields: tuple[str, ...] = ()
    """Fields of its own object (`live.kind`) its operator cannot change in place (G19): a change replaces it."""
    key_namespaces: tuple[str, ...] = ()
    """Namespaces besides the endpoint's that read its API key Secret (G9)."""
    has_router: bool = False
    """With intelligent routing an operator's router fronts the engines: a public ALB and the gateway reach the
    router's Service, which the stack finds during `up` (components/endpoints/router_check.py)."""
    pool_routing: bool = False
    """It can put its engine pods behind an InferencePool and its picker (`kubernetes.routing: inferencePool`,
    components/rules/inference_pool.py); every other backend refuses that key."""
    names_cluster_wide: bool = False
    """Its operator names objects after the endpoint name alone, in one namespace (G2 across namespaces)."""
    default_on: str | None = None
    """The backend an endpoint without `backend` gets: `operator` where the HyperPod operator runs, `plain` elsewhere."""
    uses_load_balancer: bool = True
    """It reads `loadBalancer` (the operator's router backend makes its own ALB and ignores the key)."""
    own_metadata_rules: bool = False
    """Its checkers judge their objects' names and labels themselves (else the shared G1/G2 metadata rules run)."""
    operator_features: bool = False
    """It runs the HyperPod operator's features (intelligent routing, KV-cache offload, prefetch, the TLS
    certificate output, KEDA triggers, FSx sources); every other backend refuses them up front."""
    operator_addon: str | None = None
    """The platform add-on that installs its operator (O8), None when the stack has none to install."""
    operator_requires: Mapping[str, str] = field(default_factory=dict)
    """Add-ons its operator's chart needs besides itself (O8), each with what breaks without it."""
    refusals: Mapping[str, str] = field(default_factory=dict)
    """Engine-container guardrails (G3-G13) its fixers do not repair on a hand-written object, each with why: its
    checks refuse them (policy, plan, `stacks check`) and docs/guardrails.md says so. Every other one is repaired
    (the backend contract, components/rules/backends/testing.py, holds both)."""

    def load_balancer(self, spec: EndpointSpec) -> str:
        """The endpoint's load balancer: its own, else this backend's default."""
        return spec.load_balancer or self.default_load_balancer

    def check(self, obj: dict[str, Any]) -> list[Problem]:
        checker = self.checkers.get(group_kind(obj))
        return checker(obj) if checker else []

    def fix(self, obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
        fixer = self.fixers.get(group_kind(obj))
        return fixer(obj) if fixer else (obj, [])
