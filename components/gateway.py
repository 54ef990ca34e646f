"""`TenantGateway`: Envoy AI Gateway on Envoy Gateway in front of every endpoint (docs/gateway.md).

Children, in order: the controllers' namespaces and charts (Envoy Gateway, then AI Gateway's CRDs and
controller), the counter store (in-cluster Redis, or ElastiCache with TLS and an auth token), the
tenant keys (pulumi-random, one per tenant, `rotation` as keeper), then the rendered objects of
components/rules/gateway/render.py, each after the chart that installs its CRD (rule O3), and the ALB
Ingress after the load balancer controller (O1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from .endpoints.objects import SCHEME_ANNOTATION, declare, status_of
from .endpoints.router_check import RouterServiceCheck
from .endpoints.urls import hostname_of
from .rules import inference_pool
from .rules import namespaces as namespace_rules
from .rules import tags as tag_rules
from .rules.backends import backend_for
from .rules.gateway import charts, render
from .rules.gateway import config as gw_config
from .rules.spec import EndpointSpec, GatewaySpec, PlatformSpec

SECRET_OUTPUTS = ["data", "stringData"]
_RBAC = "rbac.authorization.k8s.io/v1"
# The picker's objects whose body is not under `spec` (components/rules/inference_pool.py).
_BODY_KINDS: dict[tuple[str, str], Any] = {
    ("v1", "ServiceAccount"): lambda n, m, o: k8s.core.v1.ServiceAccount(n, metadata=m["metadata"], opts=o),
    ("v1", "ConfigMap"): lambda n, m, o: k8s.core.v1.ConfigMap(n, metadata=m["metadata"], data=m["data"], opts=o),
    (_RBAC, "Role"): lambda n, m, o: k8s.rbac.v1.Role(n, metadata=m["metadata"], rules=m["rules"], opts=o),
    (_RBAC, "ClusterRole"): lambda n, m, o: k8s.rbac.v1.ClusterRole(
        n, metadata=m["metadata"], rules=m["rules"], opts=o
    ),
    (_RBAC, "RoleBinding"): lambda n, m, o: k8s.rbac.v1.RoleBinding(
        n, metadata=m["metadata"], subjects=m["subjects"], role_ref=m["roleRef"], opts=o
    ),
    (_RBAC, "ClusterRoleBinding"): lambda n, m, o: k8s.rbac.v1.ClusterRoleBinding(
        n, metadata=m["metadata"], subjects=m["subjects"], role_ref=m["roleRef"], opts=o
    ),
}


@dataclass
class CacheNetwork:
    """Where ElastiCache goes: the cluster's VPC, private subnets and the security group its nodes carry
    (EKS attaches the cluster security group to managed node groups: AWS docs sec-group-reqs.html)."""

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    cluster_security_group_id: pulumi.Input[str]


@dataclass
class TenantGatewayArgs:
    spec: GatewaySpec
    platform: PlatformSpec
    endpoints: list[EndpointSpec]
    provider: k8s.Provider
    stack: str
    endpoint_keys: dict[str, Any] = field(default_factory=dict)  # endpoints[].name -> its key (a secret)
    after: list[pulumi.Resource] = field(default_factory=list)  # the endpoints
    ingress_ready: list[pulumi.Resource] = field(default_factory=list)  # the load balancer controller (O1)
    network: CacheNetwork | None = None
    tags: dict[str, str] = field(default_factory=dict)
    kubeconfig: Any | None = None  # for the router checks of HyperPod endpoints behind the gateway
    # (namespace, Kubernetes name) -> the router check an endpoint's public Ingress already declared
    router_checks: dict[tuple[str, str], RouterServiceCheck] = field(default_factory=dict)


class TenantGateway(pulumi.ComponentResource):
    """Outputs: `url`, `tenants` (name -> tier, the served model names it may call, curl example), `counter_store`
    (`in-cluster` or `elasticache`: where the rate-limit counters are), `keys` (name -> key, each a secret)."""

    url: pulumi.Output[str | None]

    def __init__(self, name: str, args: TenantGatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:gateway:TenantGateway", name, None, opts)
        self._name = name
        self._args = args
        spec = args.spec
        k8s_opts: dict[str, Any] = dict(parent=self, provider=args.provider)
        base = [*args.ingress_ready]  # every chart here creates Services (O1)
        namespaces = {
            ns: k8s.core.v1.Namespace(
                f"{name}-ns-{ns}", metadata={"name": ns}, opts=pulumi.ResourceOptions(**k8s_opts, depends_on=base)
            )
            for ns in namespace_rules.owned([charts.EG_NAMESPACE, charts.AIGW_NAMESPACE, spec.namespace])
        }
        store = gw_config.counter_store(spec, args.stack)
        redis_host, redis_ready = self._counter_store(store, base, namespaces[charts.EG_NAMESPACE])
        pooled = [ep for ep in args.endpoints if inference_pool.uses_pool(ep)]
        eg_values = pulumi.Output.from_input(redis_host).apply(
            lambda host: charts.envoy_gateway_values(host, store == "elasticache", bool(pooled))
        )
        eg = self._chart("envoy_gateway", eg_values, [namespaces[charts.EG_NAMESPACE], *base, *redis_ready])
        crds = self._chart("ai_gateway_crds", {}, [namespaces[charts.AIGW_NAMESPACE], *base])
        # Pool routing: the pool CRD (no chart installs it) before AI Gateway's controller, which looks for it once at
        # start and runs no pool controller without it (envoyproxy/ai-gateway@v1.1.0 internal/controller/controller.go);
        # the InferenceObjective CRD too, which the picker watches (components/rules/inference_pool.py CRD_URLS).
        pool_crd = [
            k8s.yaml.v2.ConfigFile(
                f"{name}-{url.rsplit('/', 1)[-1].split('_')[1].removesuffix('.yaml')}-crd",
                file=url,
                opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=base),
            )
            for url in (inference_pool.CRD_URLS if pooled else ())
        ]
        aigw = self._chart("ai_gateway", {}, [namespaces[charts.AIGW_NAMESPACE], eg, crds, *pool_crd, *base])
        installers: dict[str, list[pulumi.Resource]] = {
            "envoy_gateway": [eg, aigw],
            "ai_gateway_crds": [crds, eg, aigw],
            "inference_pool": [*pool_crd, aigw],
        }

        passwords = [
            random.RandomPassword(
                f"{name}-key-{t.name}",
                length=48,
                special=False,
                keepers={"rotation": t.rotation},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for t in spec.tenants
        ]
        keys: list[pulumi.Output[str]] = [pulumi.Output.secret(p.result.apply(lambda r: f"sk-{r}")) for p in passwords]
        routes = gw_config.upstreams(args.endpoints, args.platform)
        routers = self._router_checks(routes)
        after = [*([namespaces[spec.namespace]] if spec.namespace in namespaces else []), *args.after]
        declared: list[pulumi.Resource] = []
        # Each pool and its picker (in the endpoint's namespace) before the routes that name it.
        pool_objects = [m for ep in pooled for m in inference_pool.render(ep)]
        for manifest in [*pool_objects, *render.render(spec, routes, keys, args.endpoint_keys)]:
            check = routers.get(manifest["metadata"]["name"]) if manifest["kind"] == "Backend" else None
            if check is not None:
                # The router Service the check found, as the public Ingress uses it.
                found = pulumi.Output.all(check.service, check.port).apply(
                    lambda f: gw_config.backend_spec(gw_config.router_host(f[0]), int(f[1]))
                )
                manifest = {**manifest, "spec": found}
            group = manifest["apiVersion"].rpartition("/")[0]
            waits = installers.get(
                "inference_pool" if group == inference_pool.POOL_GROUP else charts.CRD_INSTALLERS.get(group, ""), []
            )
            ns = manifest["metadata"].get("namespace")
            label = f"{name}-{manifest['kind'].lower()}-{manifest['metadata']['name']}" + (
                f"-{ns}" if manifest in pool_objects and ns else ""
            )
            # One chain: the first object after the endpoints, each next one after the previous. The order is the
            # same as naming the endpoints and every earlier object each time, which made the SDK's cycle check
            # (resource_cycle_breaker) walk the graph once per pair: 50 s of CPU in a 50-endpoint eks plan.
            res_opts = pulumi.ResourceOptions(**k8s_opts, depends_on=[*(declared[-1:] or after), *waits])
            if manifest["kind"] == "Secret":
                res_opts = pulumi.ResourceOptions.merge(
                    res_opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
                )
                declared.append(
                    k8s.core.v1.Secret(
                        label,
                        metadata=manifest["metadata"],
                        type=manifest["type"],
                        string_data=manifest["stringData"],
                        opts=res_opts,
                    )
                )
            elif (manifest["apiVersion"], manifest["kind"]) in _BODY_KINDS:
                declared.append(_BODY_KINDS[(manifest["apiVersion"], manifest["kind"])](label, manifest, res_opts))
            else:
                declared.append(declare(label, manifest, res_opts))
        # The gateway's ALB is tagged like an endpoint's, by its name; the controller's defaultTags add the cluster.
        user_tags = {k: v for k, v in args.tags.items() if k not in tag_rules.REQUIRED_TAGS}
        alb_tags = tag_rules.alb_tags(pulumi.get_stack(), render.NAME, user_tags)
        ingress = render.ingress(
            spec, alb_tags, args.platform.ingress.idle_timeout_seconds, args.platform.ingress.allow_plaintext_api_key
        )
        alb = declare(
            f"{name}-ingress",
            ingress,
            pulumi.ResourceOptions(
                **k8s_opts,
                depends_on=[*base, *declared[-1:], eg],
                replace_on_changes=[SCHEME_ANNOTATION],
                delete_before_replace=True,
            ),  # the chain's end: after all of it
        )
        scheme = "https" if spec.certificate_arn else "http"
        # G16: the URL from the Ingress's final status.
        self.url = status_of(alb).apply(lambda s: f"{scheme}://{h}" if (h := hostname_of(s)) else None)
        # `models`: what the tenant may send as `model`; `stacks status --probe` calls one of them and one outside them.
        self.tenants = {
            t.name: {
                "tier": t.tier,
                "models": [u.served_model_name for u in gw_config.tenant_models(spec, i, routes)],
                # mypy cannot type a lambda whose defaults bind the loop variables
                "curl": self.url.apply(
                    lambda u, t=t, i=i: curl_example(u, t.name, gw_config.tenant_models(spec, i, routes))  # type: ignore[misc]
                ),
            }
            for i, t in enumerate(spec.tenants)
        }
        # Named by `stacks status --probe` when the rate-limit headers are missing (Envoy Gateway fails open). A plain
        # string: the cache's address is unknown until it exists, and would make the whole `gateway` output unknown.
        self.counter_store = store
        self.keys = {t.name: key for t, key in zip(spec.tenants, keys)}
        self.register_outputs(
            {"url": self.url, "tenants": self.tenants, "counterStore": self.counter_store, "keys": self.keys}
        )

    def _router_checks(self, routes: list[gw_config.Upstream]) -> dict[str, RouterServiceCheck]:
        """Per HyperPod endpoint with the router (Backend name -> check): its Service is found, not named
        (AWS documents neither its name nor its port). The check a public Ingress declared is reused."""
        a = self._args
        if a.kubeconfig is None:
            return {}
        routed = {ep.name: ep for ep in a.endpoints if backend_for(ep).has_router and ep.hyperpod.intelligent_routing}
        return {
            up.name: a.router_checks.get((up.namespace, up.name))
            or RouterServiceCheck(
                f"{self._name}-router-check-{up.name}",
                a.kubeconfig,
                up.name,
                up.namespace,
                a.platform.ingress,
                routed[up.endpoint].max_deploy_seconds,
                opts=pulumi.ResourceOptions(parent=self, depends_on=a.after),
            )
            for up in routes
            if up.endpoint in routed
        }

    def _chart(self, addon: str, values: Any, after: list[pulumi.Resource]) -> k8s.helm.v4.Chart:
        ref, version = charts.CHARTS[addon]
        return k8s.helm.v4.Chart(
            f"{self._name}-{addon.replace('_', '-')}",
            chart=ref,
            name=charts.RELEASES[addon],
            version=version,
            namespace=charts.NAMESPACES[addon],
            values=values,
            opts=pulumi.ResourceOptions(parent=self, provider=self._args.provider, depends_on=after),
        )

    def _counter_store(
        self, store: str, base: list[pulumi.Resource], eg_namespace: pulumi.Resource
    ) -> tuple[pulumi.Input[str], list[pulumi.Resource]]:
        a = self._args
        k8s_opts: dict[str, Any] = dict(parent=self, provider=a.provider)
        if store == "in-cluster":
            ns = k8s.core.v1.Namespace(
                f"{self._name}-ns-{charts.REDIS_NAMESPACE}",
                metadata={"name": charts.REDIS_NAMESPACE},
                opts=pulumi.ResourceOptions(**k8s_opts, depends_on=base),
            )
            made: list[pulumi.Resource] = [
                declare(
                    f"{self._name}-redis-{m['kind'].lower()}",
                    m,
                    pulumi.ResourceOptions(**k8s_opts, depends_on=[ns, *base]),
                )
                for m in charts.redis_objects()
            ]
            return charts.in_cluster_redis_host(), made
        if a.network is None:  # stacks/config.py refuses this at config time; a caller that skipped it stops here
            raise pulumi.RunError(str(gw_config.counter_store_problem(a.spec, a.stack, builds_vpc=False)))
        net = a.network
        sg = aws.ec2.SecurityGroup(
            f"{self._name}-redis",
            vpc_id=net.vpc_id,
            description="llm-serving gateway counters: Redis from the cluster only",
            ingress=[
                {
                    "protocol": "tcp",
                    "from_port": charts.REDIS_PORT,
                    "to_port": charts.REDIS_PORT,
                    "security_groups": [net.cluster_security_group_id],
                }
            ],
            egress=[],
            tags=a.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        subnets = aws.elasticache.SubnetGroup(
            f"{self._name}-redis", subnet_ids=net.subnet_ids, tags=a.tags, opts=pulumi.ResourceOptions(parent=self)
        )
        token = random.RandomPassword(
            f"{self._name}-redis-token", length=64, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        auth_token: pulumi.Output[str] = pulumi.Output.secret(token.result)
        cache = aws.elasticache.ReplicationGroup(
            f"{self._name}-redis",
            auth_token=auth_token,
            subnet_group_name=subnets.name,
            security_group_ids=[sg.id],
            tags=a.tags,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["auth_token"]),
            **charts.elasticache_settings(a.spec.cache_node_type),
        )
        auth = render.redis_auth_object(pulumi.Output.secret(token.result))
        secret = k8s.core.v1.Secret(
            f"{self._name}-redis-auth",
            metadata=auth["metadata"],
            type="Opaque",
            string_data=auth["stringData"],
            opts=pulumi.ResourceOptions(
                **k8s_opts, depends_on=[eg_namespace, *base], additional_secret_outputs=SECRET_OUTPUTS
            ),
        )
        return cache.primary_endpoint_address, [cache, secret]


def curl_example(url: str | None, tenant: str, routes: list[gw_config.Upstream]) -> str | None:
    """A curl per tenant; the key comes from the environment (`LLM_KEY_TEAM_A`), never from the output."""
    if not url or not routes:
        return None
    var = "LLM_KEY_" + tenant.upper().replace("-", "_")
    body = json.dumps({"model": routes[0].served_model_name, "messages": [{"role": "user", "content": "Hello"}]})
    return f"curl -s {url}/v1/chat/completions -H \"x-api-key: ${var}\" -H 'Content-Type: application/json' -d '{body}'"
