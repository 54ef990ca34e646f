"""S2 through the real program under mocks: `platform.ingress.domain` declares the ACM certificate, its
DNS validation and each endpoint's name; the dev opt-out warns on every plan and is refused elsewhere."""

from __future__ import annotations

import copy

import pytest

from components.rules import ConfigError
from stacks import plan as plan_cmd
from tests.clusters.helpers import resolve, run_stack
from tests.example_stacks import user_values

DOMAIN = {"name": "api.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
PLATFORM = "llm-serving:platform"


def with_ingress(stack: str, ingress: dict) -> dict:
    values = copy.deepcopy(user_values(stack))
    values[PLATFORM] = {**values.get(PLATFORM, {}), "ingress": ingress}
    return values


def by_type(plan: plan_cmd.Plan, type_: str) -> list:
    return [r for r in plan.resources if r.type_ == type_]


def test_s2_domain_declares_certificate_dns_validation_and_the_endpoint_name():
    plan = plan_cmd.build_plan_from_values("eks", with_ingress("eks", {"domain": DOMAIN}))
    assert not plan.failed
    (cert,) = by_type(plan, "aws:acm/certificate:Certificate")
    assert (cert.inputs["domainName"], cert.inputs["validationMethod"]) == ("*.api.example.com", "DNS")
    records = {r.name: r.inputs for r in by_type(plan, "aws:route53/record:Record")}
    validation = records.pop("endpoints-tls-validation")
    assert (
        validation["zoneId"] == "Z0123456789ABCDEFGHIJ"
        and validation["type"] == "CNAME"
        and validation["name"].endswith(".api.example.com.")
    )
    (check,) = by_type(plan, "aws:acm/certificateValidation:CertificateValidation")
    assert check.inputs["validationRecordFqdns"] == [validation["name"].rstrip(".")]
    # One name per ALB endpoint (the ome and kserve endpoints of this stack have no load balancer).
    (name,) = records.values()
    assert (name["name"], name["type"], name["zoneId"]) == (
        "qwen3-4b-vllm.api.example.com",
        "CNAME",
        "Z0123456789ABCDEFGHIJ",
    )
    assert name["records"][0].endswith(".elb.amazonaws.com")
    (ingress,) = [
        o for o in plan.objects if o.kind == "Ingress" and o.manifest["metadata"]["namespace"] == "inference"
    ]  # not the gateway's
    annotations = ingress.manifest["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == check.inputs["certificateArn"]
    assert annotations["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    # The default change is announced in the plan's change log.
    assert any(
        m.startswith("[S2] platform.ingress.certificateArn: None -> ACM certificate for *.api.example.com")
        for _, m in plan.logs
    )


def test_s2_domain_url_is_the_endpoint_name_over_https():
    _, _, outputs = run_stack(with_ingress("eks", {"domain": DOMAIN}), stack="eks")
    endpoints, _ = resolve(outputs["endpoints"])
    assert endpoints["qwen3-4b-vllm"]["url"] == "https://qwen3-4b-vllm.api.example.com/v1/chat/completions"


def test_s2_dev_opt_out_warns_on_every_plan():
    values = plan_cmd.read_stack_config("dev")
    assert values[PLATFORM]["ingress"]["allowPlaintextApiKey"] is True
    for _ in range(2):
        plan = plan_cmd.build_plan_from_values("dev", values)
        assert not plan.failed
        warned = [
            m
            for level, m in plan.logs
            if level == "warning" and "[S2] platform.ingress.allowPlaintextApiKey is set" in m
        ]
        assert len(warned) == 1, plan.logs
        assert any(p.rule == "S2" and p.severity == "warning" for o in plan.objects for p in o.problems)


def test_s2_dev_opt_out_is_refused_in_staging():
    with pytest.raises(ConfigError) as info:
        plan_cmd.build_plan_from_values("staging", plan_cmd.read_stack_config("dev"))
    first = str(info.value.problems[0])
    assert first.startswith(
        "platform.ingress.allowPlaintextApiKey = True: [S2] stack 'staging' is not a dev stack (dev, dev-*, *-dev)"
    )
