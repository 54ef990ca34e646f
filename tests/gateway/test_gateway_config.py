"""`llm-serving:gateway` is validated like every other key; rules T1-T3 at config
time, each with a failing and a passing case."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.rules.gateway.config import counter_store, validate_gateway
from components.rules.spec import GatewaySpec, PlatformSpec

from .helpers import GATEWAY, endpoints, gateway


def _problems(**overrides):
    return [(p.rule, p.path, p.value) for p in validate_gateway(gateway(**overrides), endpoints(), PlatformSpec()) if p.severity == "error"]


def test_issue_example_gateway_is_valid():
    assert _problems() == []


def test_gateway_config_refuses_typos():
    with pytest.raises(ValidationError, match="tokensPerMinut"):
        GatewaySpec.model_validate({**GATEWAY, "tiers": [{"name": "free", "tokensPerMinut": 200}]})


def test_T1_tier_without_tokens_per_minute():
    tiers = [{"name": "free", "requestsPerMinute": 20}, {"name": "enterprise", "tokensPerMinute": 5000}]
    assert _problems(tiers=tiers) == [("T1", "gateway.tiers[0].tokensPerMinute", None)]


def test_T2_tenant_on_unknown_tier_or_model():
    tenants = [{"name": "team-a", "tier": "gold"}, {"name": "team-b", "tier": "free", "models": ["llama-70b", "qwen3-4b-vllm"]}]
    assert _problems(tenants=tenants) == [("T2", "gateway.tenants[0].tier", "gold"), ("T2", "gateway.tenants[1].models[0]", "llama-70b")]


def test_T2_tenant_whose_models_list_is_empty_reaches_nothing_and_is_warned():
    tenants = [{"name": "team-a", "tier": "free", "models": []}, {"name": "team-b", "tier": "free"}]
    found = [(p.rule, p.path, p.severity) for p in validate_gateway(gateway(tenants=tenants), endpoints(), PlatformSpec()) if p.path.startswith("gateway.tenants")]
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
    assert [counter_store(spec, s) for s in ("dev", "team-dev", "eks", "prod")] == ["in-cluster", "in-cluster", "elasticache", "elasticache"]
    assert counter_store(gateway(counterStore="in-cluster"), "prod") == "in-cluster"
