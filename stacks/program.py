"""The Pulumi program: typed config -> components -> outputs. `__main__.py` only calls `main()`.

Order of declaration is the order of creation: network -> EKS control plane and node groups ->
the one Kubernetes provider -> (hyperpod) the HyperPod Helm chart -> HyperPod cluster -> platform add-ons (operator last, G20) ->
namespaces -> endpoints (each with its API key, its objects after the operator that installs
their CRD or the load balancer controller, and its Ingress).

A stack with `platformStack` set declares only the endpoint half and takes the cluster from that
stack (StackReference); see docs/deploying.md "One stack or two".
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import endpoints, transforms
from components.cluster import EksCluster, EksClusterArgs, ExistingCluster, ExistingClusterArgs
from components.cluster_hyperpod import HyperPodCluster, HyperPodClusterArgs, hyperpod_dependencies
from components.dynamic_providers import provider_host_problem
from components.endpoints.tls import with_issued_certificate
from components.gateway import CacheNetwork, TenantGateway, TenantGatewayArgs
from components.ingress_drain import IngressDrainGuard
from components.network import Network, NetworkArgs
from components.platform import Platform, PlatformArgs
from components.rules import ConfigError, fit
from components.rules import addons as addon_rules
from components.rules import clusters as cluster_rules
from components.rules import namespaces as namespace_rules
from components.rules import tags as tag_rules
from components.rules.addons import OPERATOR_NAMESPACE
from components.rules.endpoint import resolve
from components.rules.spec import S3Source

from . import charts
from . import config as stack_config


@dataclass
class Base:
    """What the endpoint half needs from the cluster half (built here or read from a platform stack)."""

    provider: k8s.Provider
    operator_ready: list[pulumi.Resource] = field(default_factory=list)
    backend_ready: dict[str, list[pulumi.Resource]] = field(
        default_factory=dict
    )  # per backend: what its custom resources wait for (O3)
    ingress_ready: list[pulumi.Resource] = field(default_factory=list)
    gpu_ready: list[pulumi.Resource] = field(default_factory=list)  # GPU nodes and the device plugin (O4)
    kubeconfig: Any | None = None  # for checks that read the cluster during `up`
    outputs: dict[str, Any] = field(default_factory=dict)
    network: CacheNetwork | None = None  # where the gateway's ElastiCache goes (a stack that builds the VPC)
    endpoint_components: list[endpoints.EndpointComponent] = field(default_factory=list)  # filled by declare_endpoints


def load_config() -> stack_config.StackConfig:
    try:
        return stack_config.load_from_pulumi()
    except ConfigError as exc:
        for problem in exc.problems:
            pulumi.log.error(str(problem))
        raise pulumi.RunError(f"{len(exc.problems)} problem(s) in the stack config; nothing was declared") from None


def main() -> None:
    host_problem = provider_host_problem(dict(os.environ))
    if host_problem:
        raise pulumi.RunError(host_problem)
    cfg = load_config()
    for warning in cfg.warnings:
        pulumi.log.warn(str(warning))
    for (
        change
    ) in cfg.changes:  # defaults filled in (derived node groups, backend load balancers, A1 triggers, G22 image)
        pulumi.log.info(str(change))
    if cfg.preflight and not pulumi.runtime.is_dry_run():
        _preflight(cfg)
    if cfg.guardrail_transforms:
        transforms.register()

    base = from_platform_stack(cfg) if cfg.platform_stack else build_base(cfg)
    endpoints, api_keys = declare_endpoints(cfg, base)
    for key, value in base.outputs.items():
        pulumi.export(key, value)
    pulumi.export("endpoints", endpoints)
    # Keys apart from `endpoints`: a secret inside a map makes the whole map secret, and the URLs
    # must stay readable. Each value is a Pulumi secret (G9); `--show-secrets` reveals it.
    pulumi.export("apiKeys", api_keys)
    if cfg.gateway.enabled:
        gateway = declare_gateway(cfg, base, api_keys)
        pulumi.export(
            "gateway", {"url": gateway.url, "tenants": gateway.tenants, "counterStore": gateway.counter_store}
        )
        pulumi.export("gatewayKeys", gateway.keys)  # apart, as apiKeys: each value a Pulumi secret


def declare_gateway(cfg: stack_config.StackConfig, base: Base, api_keys: dict[str, Any]) -> TenantGateway:
    """The tenant gateway after the endpoints; each endpoint's own key goes to the gateway, not to tenants."""
    resolved = {ep.spec.name: ep for ep in (resolve(spec) for spec in cfg.endpoints)}
    counts = Counter(ep.name for ep in resolved.values())
    keys = {
        name: api_keys[ep.name if counts[ep.name] == 1 else ep.key]
        for name, ep in resolved.items()
        if (ep.name if counts[ep.name] == 1 else ep.key) in api_keys
    }
    return TenantGateway(
        "gateway",
        TenantGatewayArgs(
            spec=cfg.gateway,
            platform=cfg.platform,
            endpoints=cfg.endpoints,
            provider=base.provider,
            stack=pulumi.get_stack(),
            endpoint_keys=keys,
            after=list(base.endpoint_components),
            ingress_ready=base.ingress_ready,
            network=base.network,
            tags=tag_rules.stack_tags(pulumi.get_stack(), cfg.cluster.name, cfg.cluster.tags),
            kubeconfig=base.kubeconfig,
            router_checks={
                (c.endpoint.namespace, c.endpoint.name): c.router_check
                for c in base.endpoint_components
                if c.router_check is not None
            },
        ),
    )


def _preflight(cfg: stack_config.StackConfig) -> None:
    from . import preflight

    problems = []
    for line in preflight.run(cfg):
        if isinstance(line, preflight.PreflightWarning):
            pulumi.log.warn(line)
        else:
            pulumi.log.error(line)
            problems.append(line)
    if problems:
        raise pulumi.RunError(f"preflight: {len(problems)} problem(s); nothing was declared")


def build_base(cfg: stack_config.StackConfig) -> Base:
    # Without explicit node/instance groups, the endpoints' instance types give them (announced in cfg.changes, G11).
    spec = cluster_rules.with_default_groups(cfg.cluster, cfg.endpoints)
    tags = tag_rules.stack_tags(pulumi.get_stack(), spec.name, spec.tags)
    after: list[pulumi.Resource] = []
    hyperpod_arn: pulumi.Output[str] | None = None
    outputs: dict[str, Any] = {"name": spec.name, "mode": spec.mode}
    chart_dir = ""
    cache_network: CacheNetwork | None = None
    if spec.mode == "existing":
        cluster: Any = ExistingCluster("cluster", ExistingClusterArgs(spec=spec, region=cfg.region))
        vpc_id = cluster.vpc_id
        if spec.hyperpod_cluster_arn:
            hyperpod_arn = pulumi.Output.from_input(spec.hyperpod_cluster_arn)
    else:
        network = Network("network", NetworkArgs(spec=spec.network, cluster_name=spec.name, tags=tags))
        cluster = EksCluster("cluster", EksClusterArgs(spec=spec, region=cfg.region, network=network, tags=tags))
        after = list(cluster.node_groups)
        vpc_id = network.vpc_id
        cache_network = CacheNetwork(network.vpc_id, network.private_subnet_ids, cluster.cluster_security_group_id)
        outputs["vpcId"] = network.vpc_id
    # The one Kubernetes provider: every Kubernetes resource below is declared with it.
    provider = k8s.Provider("k8s", kubeconfig=cluster.kubeconfig, enable_server_side_apply=True)
    plan = addon_rules.resolve_addons(spec.mode, cfg.platform)
    if spec.mode == "hyperpod" or (plan["hyperpod_operator"] and cfg.platform.operator_install == "helm"):
        chart_dir = hyperpod_chart_dir()
    if spec.mode == "hyperpod":
        # O5: the HyperPod chart is installed on the EKS cluster (system nodes up) before HyperPod nodes join.
        dependencies = hyperpod_dependencies(
            chart_dir,
            provider,
            plan,
            after=[cluster.eks, *after],
            instance_types=[g.instance_type for g in spec.instance_groups],
        )
        hp = HyperPodCluster(
            "hyperpod",
            HyperPodClusterArgs(
                spec=spec,
                eks_cluster_arn=cluster.cluster_arn,
                subnet_ids=network.private_subnet_ids,
                security_group_ids=cluster.cluster_security_group_id.apply(
                    lambda sg: [sg]
                ),  # the system nodes' group too
                tags=tags,
                after=[dependencies],
            ),
            opts=pulumi.ResourceOptions(depends_on=[cluster.eks]),
        )
        hyperpod_arn = hp.cluster_arn
        after.append(hp)
        outputs["hyperpodClusterArn"] = hp.cluster_arn
        outputs["instanceGroups"] = hp.instance_group_names
    model_buckets = sorted({ep.model_source.bucket for ep in cfg.endpoints if isinstance(ep.model_source, S3Source)})
    platform = Platform(
        "platform",
        PlatformArgs(
            spec=cfg.platform,
            tags=dict(spec.tags),
            mode=spec.mode,
            cluster_name=spec.name,
            region=cfg.region,
            provider=provider,
            vpc_id=vpc_id,
            hyperpod_cluster_arn=hyperpod_arn,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_provider_url=cluster.oidc_provider_url,
            model_buckets=model_buckets,
            after=after,
            hyperpod_chart_dir=chart_dir,
            backends=sorted({ep.backend or "" for ep in cfg.endpoints}),
        ),
    )
    outputs.update({"nodeGroups": cluster.node_group_names, "addons": platform.addons})
    ingress_ready = list(platform.ingress_ready)
    if ingress_ready:
        # O6: on destroy, the endpoints go first, then this guard waits until no ALB Ingress is left
        # (the operator's own one included, which Pulumi does not declare), then the controller goes.
        guard = IngressDrainGuard(
            "ingress-drain",
            kubeconfig=cluster.kubeconfig,
            cluster_name=spec.name,
            namespaces=sorted({ep.namespace for ep in cfg.endpoints} | {OPERATOR_NAMESPACE}),
            opts=pulumi.ResourceOptions(depends_on=[*platform.ingress_ready, *platform.operator_ready]),
        )
        ingress_ready.append(guard)
    return Base(
        provider=provider,
        operator_ready=platform.operator_ready,
        backend_ready=platform.backend_ready,
        ingress_ready=ingress_ready,
        gpu_ready=[*after, *platform.gpu_ready],
        kubeconfig=cluster.kubeconfig,
        outputs={"cluster": outputs, "kubeconfig": cluster.kubeconfig},
        network=cache_network,
    )


def hyperpod_chart_dir() -> str:
    """The fetched HyperPod chart. Missing: a warning in a preview (the offline plan works on a fresh
    clone), an error in `pulumi up`, where Helm would fail on the path; each names the fix."""
    directory, reason = charts.find_chart_dir()
    if directory is not None:
        return str(directory)
    if pulumi.runtime.is_dry_run():
        pulumi.log.warn(
            f"{reason}; `pulumi up` stops here until it is (rule O5: the chart comes before the HyperPod cluster)"
        )
        return str(charts.CACHE_ROOT / charts.HYPERPOD_CHART)
    pulumi.log.error(reason)
    raise pulumi.RunError("the HyperPod Helm chart is missing; nothing was declared")


def from_platform_stack(cfg: stack_config.StackConfig) -> Base:
    """An endpoints-only stack: the platform stack is up, so the operator's CRD already exists."""
    ref = pulumi.StackReference("platform", stack_name=cfg.platform_stack)
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(ref.require_output("kubeconfig"))
    provider = k8s.Provider("k8s", kubeconfig=kubeconfig, enable_server_side_apply=True)
    return Base(provider=provider, kubeconfig=kubeconfig, outputs={"cluster": ref.get_output("cluster")})


def declare_endpoints(cfg: stack_config.StackConfig, base: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    k8s_opts = pulumi.ResourceOptions(provider=base.provider)
    namespaces = {
        ns: k8s.core.v1.Namespace(f"ns-{ns}", metadata={"name": ns}, opts=k8s_opts)
        for ns in sorted(namespace_rules.owned(ep.namespace for ep in cfg.endpoints))
    }
    resolved = [resolve(spec) for spec in cfg.endpoints]
    # S2: the certificate the stack issues for platform.ingress.domain, declared once for every ALB.
    ingress = with_issued_certificate(
        cfg.platform.ingress, tag_rules.stack_tags(pulumi.get_stack(), cfg.cluster.name, cfg.cluster.tags)
    )
    counts = Counter(ep.name for ep in resolved)
    outputs: dict[str, Any] = {}
    api_keys: dict[str, Any] = {}
    verdicts: list[fit.Fit | None] = [*cfg.fits] or [None] * len(resolved)
    for ep, contract, verdict in zip(resolved, cfg.contracts or [None] * len(resolved), verdicts):
        # Pulumi names per (namespace, name) (G2): one endpoint name may be used in two namespaces.
        # A name used once keeps the key it had before (output key and resource alias), so existing
        # stacks neither replace their endpoints nor change their outputs.
        unique = counts[ep.name] == 1
        # Each backend's component declares its children (key, objects, Ingress) and says what
        # they wait for besides the namespace (the operator, the load balancer controller).
        component = endpoints.component_for(ep.spec)(
            ep.key,
            endpoints.EndpointArgs(
                spec=ep.spec,
                region=cfg.region,
                provider=base.provider,
                depends_on=([namespaces[ep.namespace]] if ep.namespace in namespaces else []) + base.gpu_ready,
                operator_ready=base.backend_ready.get(ep.spec.backend or "", []),
                ingress_ready=base.ingress_ready,
                ingress=ingress,
                kubeconfig=base.kubeconfig,
                previous_name=ep.name if unique else None,
                capacity_contract=contract,
                model_facts=verdict.facts if verdict is not None else None,
            ),
        )
        key_name = ep.name if unique else ep.key
        outputs[key_name] = component.outputs
        if component.api_key is not None:
            api_keys[key_name] = component.api_key
        base.endpoint_components.append(component)
    return outputs, api_keys
