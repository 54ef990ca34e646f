"""Rules T1-T3 as stack policies over rendered objects (hand-written ones included), and O3 for the
gateway's custom resources: each with a failing and a passing case."""

from __future__ import annotations

import copy
from typing import Any

from components.rules import policy_catalog, stack_checks
from components.rules.gateway import checks, config, render
from components.rules.ordering import check_crd_order
from components.rules.resources import Resource, kubernetes_type
from components.rules.spec import PlatformSpec

from .helpers import endpoints, gateway


def _resources(objects: list[dict[str, Any]]) -> list[Resource]:
    return [
        Resource(kubernetes_type(o["apiVersion"], o["kind"]), f"r{i}", o, f"urn:{i}") for i, o in enumerate(objects)
    ]


def _objects(**overrides: Any) -> list[dict[str, Any]]:
    spec = gateway(**overrides)
    return render.render(spec, config.upstreams(endpoints(), PlatformSpec()), ["key-a", "key-b"]) + [
        render.ingress(spec)
    ]


def _rules(findings) -> list[tuple[str, str]]:
    return [(p.rule, r.label) for r, p in findings]


def test_T1_tenant_key_without_a_token_rule_is_found():
    objects = _objects()
    assert checks.check_tenant_limits(_resources(objects)) == []
    without_policy = [o for o in objects if o["kind"] != "BackendTrafficPolicy"]
    assert _rules(checks.check_tenant_limits(_resources(without_policy))) == [
        ("T1", "Secret llm-gateway/tenant-team-a"),
        ("T1", "Secret llm-gateway/tenant-team-b"),
    ]


def test_T1_tier_without_tokens_per_minute_renders_no_token_rule_and_is_found():
    tiers = [{"name": "free", "requestsPerMinute": 20}, {"name": "enterprise", "tokensPerMinute": 5000}]
    assert _rules(checks.check_tenant_limits(_resources(_objects(tiers=tiers)))) == [
        ("T1", "Secret llm-gateway/tenant-team-a")
    ]


def test_T2_policy_naming_an_undeclared_key_or_an_unrouted_model_is_found():
    objects = _objects()
    assert checks.check_tenant_routes(_resources(objects)) == []
    no_team_b = [o for o in objects if o["metadata"]["name"] != "tenant-team-b"]
    no_route = [o for o in objects if not (o["kind"] == "AIGatewayRoute" and o["metadata"]["name"] == "qwen3-4b-vllm")]
    ((_, missing),) = checks.check_tenant_routes(_resources(no_team_b))
    assert (missing.rule, missing.path, missing.value) == ("T2", "spec.apiKeyAuth.credentialRefs", ["tenant-team-b"])
    ((_, unrouted),) = checks.check_tenant_routes(_resources(no_route))
    assert (unrouted.rule, unrouted.path, unrouted.value) == (
        "T2",
        "spec.authorization.rules[0].principal.headers",
        ["Qwen3-4B-Instruct-2507"],
    )


def _per_route_key_policy(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The design the Gateway policy replaced: the same apiKeyAuth on one generated HTTPRoute."""
    policy = copy.deepcopy(next(o for o in objects if o["kind"] == "SecurityPolicy"))
    policy["spec"]["targetRefs"] = [
        {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "qwen3-4b-vllm"}
    ]
    return [o for o in objects if o["kind"] != "SecurityPolicy"] + [policy]


def test_T2_tenant_keys_checked_on_a_route_are_found():
    objects = _objects()
    assert checks.check_tenant_auth(_resources(objects)) == []
    ((_, problem),) = checks.check_tenant_auth(_resources(_per_route_key_policy(objects)))
    assert (problem.rule, problem.path, problem.value) == ("T2", "spec.targetRefs", ["qwen3-4b-vllm"])
    assert "judged by whichever route Envoy matched first" in problem.message and "target the Gateway" in problem.fix


def test_T2_forwarded_tenant_header_not_removed_from_client_requests_is_found():
    no_client_policy = [o for o in _objects() if o["kind"] != "ClientTrafficPolicy"]
    ((_, problem),) = checks.check_tenant_auth(_resources(no_client_policy))
    assert (problem.rule, problem.path, problem.value) == ("T2", "spec.apiKeyAuth.forwardClientIDHeader", "x-tenant-id")
    assert "headers.earlyRequestHeaders.remove: [x-tenant-id]" in problem.fix


def test_T3_public_gateway_ingress_without_certificate_is_found():
    assert checks.check_public_gateway_tls(_resources([render.ingress(gateway())])) == []
    plain = render.ingress(gateway(certificateArn=None))
    assert _rules(checks.check_public_gateway_tls(_resources([plain]))) == [
        ("T3", "Ingress envoy-gateway-system/llm-gateway")
    ]
    internal = render.ingress(gateway(certificateArn=None, public=False))
    assert checks.check_public_gateway_tls(_resources([internal])) == []


def test_T1_T2_T3_are_mandatory_stack_policies():
    by_rule = {
        p.rule: p for p in policy_catalog.POLICIES if p.rule in ("T1", "T2", "T3") and p.enforcement == "mandatory"
    }
    assert {r: (p.kind, p.enforcement) for r, p in by_rule.items()} == {
        r: ("stack", "mandatory") for r in ("T1", "T2", "T3")
    }
    # Like S2, a dev stack's opt-out is the one advisory finding.
    assert [p.name for p in policy_catalog.POLICIES if p.rule == "T3" and p.enforcement == "advisory"] == [
        "t3-dev-plaintext-gateway-keys"
    ]


def test_T3_takes_S2s_verdict_dev_opt_out_warns_elsewhere_an_error():
    plain = _resources([render.ingress(gateway(certificateArn=None), allow_plaintext=True)])
    ((_, warning),) = checks.check_public_gateway_tls(plain, "dev")
    assert (warning.rule, warning.severity, warning.path) == (
        "T3",
        "warning",
        "metadata.annotations.llm-serving/allow-plaintext-api-key",
    )
    ((_, error),) = checks.check_public_gateway_tls(plain, "staging")
    assert (error.rule, error.severity) == (
        "T3",
        "error",
    ) and "is for dev stacks only; stack 'staging' is not one" in error.message
    ((_, error),) = checks.check_public_gateway_tls(_resources([render.ingress(gateway(certificateArn=None))]), "dev")
    assert error.severity == "error"  # no opt-out: an error in dev too


def test_T3_public_gateway_ingress_is_not_also_an_S2_finding():
    # One mistake, one finding: S2's stack check leaves the gateway's ALB to T3 (and would call it unkeyed).
    plain = _resources([render.ingress(gateway(certificateArn=None))])
    assert stack_checks.check_public_alb_tls(plain, "prod") == []
    assert _rules(checks.check_public_gateway_tls(plain, "prod")) == [
        ("T3", "Ingress envoy-gateway-system/llm-gateway")
    ]


def test_O3_gateway_objects_wait_for_the_chart_that_installs_their_crd():
    chart = Resource(
        "kubernetes:helm.sh/v4:Chart", "eg", {"chart": "oci://docker.io/envoyproxy/gateway-helm"}, "urn:chart"
    )
    policy = render.limit_policy(gateway())
    early = Resource(kubernetes_type(policy["apiVersion"], policy["kind"]), "limits", policy, "urn:limits")
    assert [p.rule for _, p in check_crd_order([chart, early])] == ["O3"]
    after = Resource(early.type, "limits", policy, "urn:limits", dependencies=("urn:chart",))
    assert check_crd_order([chart, after]) == []
