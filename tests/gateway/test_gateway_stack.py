"""The eks example's offline plan declares the gateway, validates every gateway
object against the upstream schemas and passes every policy; a hostile variant fails with rule IDs;
tenant keys are secrets in outputs and redacted in plan files."""

from __future__ import annotations

import copy
import json

import pytest

from components.rules import ConfigError
from components.rules.gateway import charts
from stacks import plan as plan_cmd
from tests.clusters.helpers import resolve, run_stack
from tests.example_stacks import user_values

GATEWAY_KINDS = {
    "GatewayClass",
    "Gateway",
    "EnvoyProxy",
    "ClientTrafficPolicy",
    "Backend",
    "AIServiceBackend",
    "AIGatewayRoute",
    "BackendSecurityPolicy",
    "SecurityPolicy",
    "BackendTrafficPolicy",
}


@pytest.fixture(scope="module")
def eks_gateway(crd_dir):
    return run_stack(user_values("eks"), stack="eks")


def test_eks_example_plan_validates_every_gateway_object_and_passes_every_policy(eks_gateway):
    plan, _, _ = eks_gateway
    gateway = [o for o in plan.objects if o.kind in GATEWAY_KINDS]
    assert {o.kind for o in gateway} == GATEWAY_KINDS
    assert all(o.schema.status == "passed" for o in gateway), [
        (o.kind, o.name, o.schema) for o in gateway if o.schema.status != "passed"
    ]
    assert not plan.failed, [str(p) for o in plan.objects for p in o.problems] + [
        str(v.reported) for v in plan.other_violations
    ]


def test_eks_example_gateway_charts_pinned_and_counters_in_elasticache_with_tls(eks_gateway):
    plan, _, _ = eks_gateway
    charts = {
        r.inputs["chart"]: r.inputs["version"]
        for r in plan.resources
        if r.type_ == "kubernetes:helm.sh/v4:Chart" and "envoyproxy" in r.inputs.get("chart", "")
    }
    assert charts == {
        "oci://docker.io/envoyproxy/gateway-helm": "v1.8.1",
        "oci://docker.io/envoyproxy/ai-gateway-crds-helm": "v1.1.0",
        "oci://docker.io/envoyproxy/ai-gateway-helm": "v1.1.0",
    }
    (cache,) = [r for r in plan.resources if r.type_ == "aws:elasticache/replicationGroup:ReplicationGroup"]
    assert cache.inputs["transitEncryptionEnabled"] is True and cache.secret
    (group,) = [
        r for r in plan.resources if r.type_ == "aws:ec2/securityGroup:SecurityGroup" and r.name == "gateway-redis"
    ]
    (rule,) = group.inputs["ingress"]
    assert (rule["fromPort"], rule["toPort"], "cidrBlocks" in rule, len(rule["securityGroups"])) == (
        6379,
        6379,
        False,
        1,
    )


def test_elasticache_counters_reached_by_envoy_gateways_own_tls_setting():
    """envoyproxy/gateway@v1.8.1 internal/infrastructure/kubernetes/ratelimit/resource.go: `redis.url` becomes
    REDIS_URL (host:port, REDIS_SOCKET_TYPE tcp), `redis.tls` REDIS_TLS=true; Envoy Gateway has no password
    field, so REDIS_AUTH comes from the Secret through `rateLimitDeployment.container.env`, as in its own test
    (ratelimit/testdata/deployments/redis-tls-settings.yaml). No hand-written Deployment patch."""
    # The plan's values wait for the cache's address (unknown under mocks): the values for one.
    config = charts.envoy_gateway_values("master.llm-gateway.abc123.use1.cache.amazonaws.com", tls=True)["config"][
        "envoyGateway"
    ]
    assert config["rateLimit"]["backend"]["redis"] == {
        "url": "master.llm-gateway.abc123.use1.cache.amazonaws.com:6379",
        "tls": {},
    }
    assert config["provider"]["kubernetes"]["rateLimitDeployment"] == {
        "container": {
            "image": "docker.io/envoyproxy/ratelimit:60d8e81b",
            "env": [{"name": "REDIS_AUTH", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "token"}}}],
        }
    }


def test_dev_stack_counters_in_cluster(crd_dir):
    values = user_values("eks")
    plan, _, _ = run_stack(values, stack="dev-gw")
    assert not [r for r in plan.resources if r.type_.startswith("aws:elasticache")]
    redis = [o for o in plan.objects if o.namespace == "redis-system"]
    assert {o.kind for o in redis} == {"Service", "Deployment"}
    (eg,) = [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:helm.sh/v4:Chart"
        and r.inputs.get("chart") == "oci://docker.io/envoyproxy/gateway-helm"
    ]
    config = eg.inputs["values"]["config"]["envoyGateway"]
    assert config["rateLimit"]["backend"]["redis"] == {"url": "redis.redis-system.svc.cluster.local:6379"}
    assert config["provider"]["kubernetes"]["rateLimitDeployment"] == {
        "container": {"image": "docker.io/envoyproxy/ratelimit:60d8e81b"}
    }


def test_tenant_keys_are_secret_outputs_with_tier_and_curl_reading_the_key_from_env(eks_gateway):
    plan, _, outputs = eks_gateway
    gateway, secret = resolve(outputs["gateway"])
    assert not secret
    assert {t: v["tier"] for t, v in gateway["tenants"].items()} == {"team-a": "free", "team-b": "enterprise"}
    # What each tenant may send as `model` (served names, G5), for `stacks status --probe`: team-a lists one endpoint.
    assert {t: v["models"] for t, v in gateway["tenants"].items()} == {
        "team-a": ["Qwen3-4B-Instruct-2507"],
        "team-b": ["Qwen3-4B-Instruct-2507", "Qwen3-0.6B"],
    }
    assert gateway["counterStore"] == "elasticache"
    keys = {}
    for tenant in ("team-a", "team-b"):
        keys[tenant], is_secret = resolve(outputs["gatewayKeys"][tenant])
        assert is_secret and keys[tenant]
    assert keys["team-a"] not in json.dumps(gateway)
    tenant_secrets = [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:core/v1:Secret" and (r.inputs["metadata"].get("labels") or {}).get("llm-serving/tier")
    ]
    assert len(tenant_secrets) == 2 and all(s.secret for s in tenant_secrets)


def test_tenant_keys_redacted_in_plan_files(eks_gateway, tmp_path):
    plan, _, outputs = eks_gateway
    plan_cmd.write_objects(plan, tmp_path)
    text = "".join(f.read_text() for f in tmp_path.glob("*secret*tenant-team-a*.yaml"))
    assert "[secret]" in text and "<<secret>>" not in text


def _hostile(values: dict) -> dict:
    values = copy.deepcopy(values)
    gateway = values["llm-serving:gateway"]
    gateway.pop("certificateArn")  # public without TLS
    gateway["tenants"] = [
        {"name": "team-a", "tier": "gold"},
        {"name": "team-b", "tier": "free", "models": ["llama-70b"]},
    ]
    return values


def test_hostile_gateway_fails_with_rule_ids_T2_T3():
    with pytest.raises(ConfigError) as err:
        plan_cmd.build_plan_from_values("eks", _hostile(user_values("eks")))
    found = {(p.rule, p.path, str(p.value)) for p in err.value.problems}
    assert ("T3", "gateway.certificateArn", "None") in found
    assert ("T2", "gateway.tenants[0].tier", "gold") in found
    assert ("T2", "gateway.tenants[1].models[0]", "llama-70b") in found


@pytest.mark.parametrize("public_alb, owner", [(True, "inference/llama-3-1-8b-vllm-ingress"), (False, "gateway")])
def test_hyperpod_router_behind_the_gateway_is_the_service_its_router_check_finds(crd_dir, public_alb, owner):
    """AWS documents neither the router Service's name nor its port (AWS's DPD page shows
    `<name>-<namespace>-routing-service` on 443): the gateway's Backend for a routed HyperPod endpoint takes
    what a router check finds during `up`, as the public Ingress does, never the configured guess alone. One
    check per router: the public Ingress's when the endpoint has one, else the gateway's own."""
    values = copy.deepcopy(user_values("dev"))
    values["llm-serving:gateway"] = {
        "enabled": True,
        "public": False,
        "tiers": [{"name": "free", "tokensPerMinute": 200}],
        "tenants": [{"name": "team-a", "tier": "free"}],
    }
    (routed,) = [
        ep for ep in values["llm-serving:endpoints"] if (ep.get("hyperpod") or {}).get("intelligentRouting")
    ]  # the SGLang endpoint has no router
    routed["publicAlb"] = public_alb
    plan, seen, _ = run_stack(values, stack="dev")
    checks = {name: reg for name, reg in seen.items() if name.endswith("router-check") or "router-check-" in name}
    assert list(checks) == [f"{owner}-router-check" if public_alb else "gateway-router-check-llama-3-1-8b-vllm"]
    (backend,) = [reg for name, reg in seen.items() if name == "gateway-backend-llama-3-1-8b-vllm"]
    (check,) = checks.values()
    assert check.urn in backend.dependencies
    (rendered,) = [o for o in plan.objects if o.kind == "Backend" and o.name == "llama-3-1-8b-vllm"]
    # Under mocks the check answers with the configured name and port (a preview knows nothing better).
    assert rendered.manifest["spec"] == {
        "endpoints": [
            {"fqdn": {"hostname": "llama-3-1-8b-vllm-router.hyperpod-inference-system.svc.cluster.local", "port": 8080}}
        ]
    }
    assert rendered.schema.status == "passed"
