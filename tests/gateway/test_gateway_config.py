"""`llm-serving:gateway` is validated like every other key; rules T1-T3 at config
time, each with a failing and a passing case."""

from __future__ import annotations

import functools

import pytest
from pydantic import ValidationError

from components.rules.gateway.config import counter_store, validate_gateway
from components.rules.spec import GatewaySpec, PlatformSpec

from .helpers import GATEWAY, endpoints, gateway


def _problems(**overrides):
    return [
        (p.rule, p.path, p.value)
        for p in validate_gateway(gateway(**overrides), endpoints(), PlatformSpec())
        if p.severity == "error"
    ]


def test_issue_example_gateway_is_valid():
    assert _problems() == []


def test_gateway_config_refuses_typos():
    with pytest.raises(ValidationError, match="tokensPerMinut"):
        GatewaySpec.model_validate({**GATEWAY, "tiers": [{"name": "free", "tokensPerMinut": 200}]})


def test_T1_tier_without_tokens_per_minute():
    tiers = [{"name": "free", "requestsPerMinute": 20}, {"name": "enterprise", "tokensPerMinute": 5000}]
    assert _problems(tiers=tiers) == [("T1", "gateway.tiers[0].tokensPerMinute", None)]


def test_T2_tenant_on_unknown_tier_or_model():
    tenants = [
        {"name": "team-a", "tier": "gold"},
        {"name": "team-b", "tier": "free", "models": ["llama-70b", "qwen3-4b-vllm"]},
    ]
    assert _problems(tenants=tenants) == [
        ("T2", "gateway.tenants[0].tier", "gold"),
        ("T2", "gateway.tenants[1].models[0]", "llama-70b"),
    ]


def test_T2_tenant_whose_models_list_is_empty_reaches_nothing_and_is_warned():
    tenants = [{"name": "team-a", "tier": "free", "models": []}, {"name": "team-b", "tier": "free"}]
    found = [
        (p.rule, p.path, p.severity)
        for p in validate_gateway(gateway(tenants=tenants), endpoints(), PlatformSpec())
        if p.path.startswith("gateway.tenants")
    ]
    assert found == [("T2", "gateway.tenants[0].models", "warning")]


def test_T3_public_gateway_without_certificate():
    assert _problems(certificateArn=None) == [("T3", "gateway.certificateArn", None)]
    assert _problems(certificateArn=None, public=False) == []


def test_T3_takes_S2s_verdict_a_dev_stacks_opt_out_is_a_warning_elsewhere_an_error():
    opted_out = PlatformSpec.model_validate({"ingress": {"allowPlaintextApiKey": True}})
    spec = gateway(certificateArn=None)
    (dev,) = validate_gateway(spec, endpoints(), opted_out, "dev")
    assert (dev.rule, dev.severity, dev.path) == ("T3", "warning", "gateway.certificateArn")
    (prod,) = validate_gateway(spec, endpoints(), opted_out, "prod")
    assert (prod.rule, prod.severity) == ("T3", "error")
    (unknown,) = validate_gateway(spec, endpoints(), opted_out)
    assert unknown.severity == "error"  # an unknown stack is not dev
    (no_opt_out,) = validate_gateway(spec, endpoints(), PlatformSpec(), "dev")
    assert no_opt_out.severity == "error"


def test_disabled_gateway_is_not_judged():
    assert _problems(enabled=False, certificateArn=None, tiers=[]) == []


def test_counter_store_in_cluster_on_dev_stacks_elasticache_elsewhere():
    spec = gateway()
    assert [counter_store(spec, s) for s in ("dev", "team-dev", "eks", "prod")] == [
        "in-cluster",
        "in-cluster",
        "elasticache",
        "elasticache",
    ]
    assert counter_store(gateway(counterStore="in-cluster"), "prod") == "in-cluster"


# (cluster, platformStack, stack name, counterStore) -> refused at config time. Before, `pulumi up` raised a RunError
# from inside the program (components/gateway.py) after reading the whole config.
EXISTING = {"mode": "existing", "name": "ml-prod"}
HYPERPOD = {"mode": "hyperpod", "name": "ml-prod"}
STORE_ROWS = [
    (EXISTING, None, "prod", "elasticache", True),
    (EXISTING, None, "prod", None, True),  # the default outside dev stacks
    (HYPERPOD, "acme/llm-serving/platform-prod", "prod", "elasticache", True),
    (EXISTING, None, "prod", "in-cluster", False),
    (EXISTING, None, "dev", None, False),  # in-cluster by default on dev stacks
    (HYPERPOD, None, "prod", "elasticache", False),  # this stack builds the VPC
]


@pytest.mark.parametrize("cluster, platform_stack, stack, store, refused", STORE_ROWS)
def test_elasticache_counters_on_a_stack_that_builds_no_vpc_are_a_config_problem(
    cluster, platform_stack, stack, store, refused
):
    from components.rules import ConfigError
    from stacks import config as stack_config

    values = {
        "cluster": cluster,
        "gateway": {**GATEWAY, **({"counterStore": store} if store else {})},
        **({"platformStack": platform_stack} if platform_stack else {}),
    }
    try:
        found = [p for p in stack_config.parse(values, "us-east-1", stack).warnings if p.path == "gateway.counterStore"]
    except ConfigError as exc:
        found = [p for p in exc.problems if p.path == "gateway.counterStore"]
    assert bool(found) is refused
    if refused:
        assert found[0].severity == "error" and str(found[0]).endswith(
            "this stack builds neither (platformStack, or cluster mode existing). Fix: set gateway.counterStore: in-cluster"
        )


@functools.cache
def _crd(path):
    import yaml

    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _crd_max_items(crd_dir, file, *path):
    doc = _crd(crd_dir / "envoy-gateway" / "crds" / "generated" / file)
    node = next(v for v in doc["spec"]["versions"] if v["name"] == "v1alpha1")["schema"]["openAPIV3Schema"]
    for key in path:
        node = node["items"] if key == "[]" else node["properties"][key]
    return node.get("maxItems")


# (tenants, their tier's limits) -> refused. Each tenant is one rate-limit rule per limit of its tier.
SIZE_ROWS = [
    (256, {"tokensPerMinute": 200}, False),
    (257, {"tokensPerMinute": 200}, True),
    (128, {"tokensPerMinute": 200, "requestsPerMinute": 20}, False),
    (129, {"tokensPerMinute": 200, "requestsPerMinute": 20}, True),
    (300, {"tokensPerMinute": 200, "requestsPerMinute": 20}, True),
]


@pytest.mark.parametrize("tenants, limits, refused", SIZE_ROWS)
def test_tenants_beyond_the_policies_max_items_are_one_line_naming_the_limit(crd_dir, tenants, limits, refused):
    """Envoy Gateway's CRDs (envoyproxy/gateway@v1.8.1 charts/gateway-helm/charts/crds/crds/generated/):
    BackendTrafficPolicy spec.rateLimit.global.rules and SecurityPolicy authorization rules[].principal.headers[].values
    are maxItems 256; the SecurityPolicy's authorization.rules and apiKeyAuth.credentialRefs have none. Before,
    300 tenants reached the schema check as one error line of 134,569 characters."""
    from components.rules.gateway.config import MAX_HEADER_VALUES, MAX_RATE_LIMIT_RULES

    assert (
        MAX_RATE_LIMIT_RULES
        == _crd_max_items(
            crd_dir, "gateway.envoyproxy.io_backendtrafficpolicies.yaml", "spec", "rateLimit", "global", "rules"
        )
        == 256
    )
    assert (
        MAX_HEADER_VALUES
        == _crd_max_items(
            crd_dir,
            "gateway.envoyproxy.io_securitypolicies.yaml",
            "spec",
            "authorization",
            "rules",
            "[]",
            "principal",
            "headers",
            "[]",
            "values",
        )
        == 256
    )
    assert (
        _crd_max_items(crd_dir, "gateway.envoyproxy.io_securitypolicies.yaml", "spec", "authorization", "rules") is None
    )
    assert (
        _crd_max_items(crd_dir, "gateway.envoyproxy.io_securitypolicies.yaml", "spec", "apiKeyAuth", "credentialRefs")
        is None
    )
    spec = gateway(
        tiers=[{"name": "free", **limits}], tenants=[{"name": f"t{i}", "tier": "free"} for i in range(tenants)]
    )
    found = [str(p) for p in validate_gateway(spec, endpoints(), PlatformSpec()) if p.path == "gateway.tenants"]
    rules = tenants * len(limits)
    assert found == (
        [
            f"gateway.tenants = '{tenants} tenants': [CONFIG] their tiers need {rules} rate-limit rules (one per tenant for tokensPerMinute, one more for requestsPerMinute), "
            f"more than the 256 the gateway's one BackendTrafficPolicy holds (Envoy Gateway CRD: rateLimit.global.rules maxItems 256). "
            f"Fix: keep it to 256 rules: fewer tenants, or no requestsPerMinute on the biggest tiers (one rule per tenant)"
        ]
        if refused
        else []
    )


def test_a_schema_error_on_a_long_list_is_one_short_line(schema_validator):
    """jsonschema's message repeats the whole value; the schema check names the size and the limit instead."""
    policy = {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1",
        "kind": "BackendTrafficPolicy",
        "metadata": {"name": "limits", "namespace": "llm-gateway"},
        "spec": {
            "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "llm-gateway"}],
            "rateLimit": {
                "type": "Global",
                "global": {"rules": [{"limit": {"requests": 200, "unit": "Minute"}}] * 300},
            },
        },
    }
    assert schema_validator.validate(policy).errors == ("spec.rateLimit.global.rules: 300 items, fails maxItems 256",)
