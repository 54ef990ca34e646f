"""S2: an internet-facing ALB that carries an API key gets TLS. The config check,
the Ingress annotations, the URL and the HyperPod tlsConfig, from `rules.tls.tls_for`."""

from __future__ import annotations

import pytest

from components.rules import ingress as ingress_rules
from components.rules.backends import hyperpod
from components.rules.spec import IngressSpec
from components.rules.tls import check_public_tls, tls_for
from tests.conftest import endpoint

ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
DOMAIN = {"name": "api.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
PUBLIC_KEYED = dict(backend="kubernetes", instanceType="g5.2xlarge", loadBalancer="alb", publicAlb=True, apiKey=True)
ROUTED_KEYED = dict(backend="hyperpod", intelligentRouting=True, publicAlb=True, apiKey=True)


def lines(problems):
    return [str(p) for p in problems]


def test_s2_public_alb_with_api_key_without_certificate_is_refused():
    (problem,) = check_public_tls([endpoint(**PUBLIC_KEYED)], IngressSpec(), "staging")
    assert (problem.path, problem.value, problem.rule, problem.severity) == ("endpoints[0].apiKey", True, "S2", "error")
    assert str(problem) == (
        "endpoints[0].apiKey = True: [S2] an internet-facing ALB without TLS: the API key (Authorization: Bearer) and every prompt "
        "cross the internet in clear text. Fix: set platform.ingress.certificateArn to an ACM certificate of the ALB's region, or "
        "platform.ingress.domain {name: api.example.com, hostedZoneId: Z...} so the stack issues one with DNS validation; or "
        "publicAlb: false; in a dev stack platform.ingress.allowPlaintextApiKey: true accepts the risk"
    )
    # The hyperpod backend's ALB in front of the router: the same rule.
    assert [p.rule for p in check_public_tls([endpoint(**ROUTED_KEYED)], IngressSpec(), "staging")] == ["S2"]


def test_s2_public_alb_with_neither_tls_nor_key_is_refused():
    (problem,) = check_public_tls([endpoint(**{**PUBLIC_KEYED, "apiKey": False})], IngressSpec(), "prod")
    assert problem.path == "endpoints[0].publicAlb" and "neither TLS nor an API key" in problem.message


@pytest.mark.parametrize(
    "ingress",
    [IngressSpec(certificateArn=ARN), IngressSpec(domain=DOMAIN), IngressSpec(certificateArn=ARN, domain=DOMAIN)],
)
def test_s2_certificate_or_domain_passes(ingress):
    assert check_public_tls([endpoint(**PUBLIC_KEYED), endpoint(name="routed", **ROUTED_KEYED)], ingress, "prod") == []


def test_s2_internal_alb_and_no_load_balancer_need_no_tls():
    internal = endpoint(**{**PUBLIC_KEYED, "publicAlb": False})
    in_cluster = endpoint(**{**PUBLIC_KEYED, "publicAlb": False, "loadBalancer": "none"})
    assert check_public_tls([internal, in_cluster], IngressSpec(), "prod") == []


def test_s2_public_nlb_with_api_key_is_refused_the_stack_terminates_tls_on_the_alb_only():
    (problem,) = check_public_tls(
        [endpoint(**{**PUBLIC_KEYED, "loadBalancer": "nlb"})], IngressSpec(certificateArn=ARN), "prod"
    )
    assert "internet-facing NLB without TLS" in problem.message and problem.fix.startswith("use loadBalancer: alb")


def test_s2_dev_opt_out_is_a_warning_in_dev_and_refused_in_staging():
    opt_out = IngressSpec(allowPlaintextApiKey=True)
    (warning,) = check_public_tls([endpoint(**PUBLIC_KEYED)], opt_out, "dev")
    assert warning.severity == "warning" and warning.rule == "S2"
    assert (
        "platform.ingress.allowPlaintextApiKey is set: the API key of this internet-facing ALB crosses the internet in clear text (dev stack 'dev' only)"
        in str(warning)
    )
    refused = check_public_tls([endpoint(**PUBLIC_KEYED)], opt_out, "staging")
    assert [(p.path, p.severity) for p in refused] == [
        ("platform.ingress.allowPlaintextApiKey", "error"),
        ("endpoints[0].apiKey", "error"),
    ]
    assert "stack 'staging' is not a dev stack (dev, dev-*, *-dev)" in refused[0].message
    # An unknown stack counts as not dev; a keyless public ALB is refused even in dev.
    assert [p.severity for p in check_public_tls([endpoint(**PUBLIC_KEYED)], opt_out, None)] == ["error", "error"]
    assert [p.severity for p in check_public_tls([endpoint(**{**PUBLIC_KEYED, "apiKey": False})], opt_out, "dev")] == [
        "error"
    ]


def test_s2_certificate_arn_renders_https_listener_redirect_and_https_url():
    spec = endpoint(**PUBLIC_KEYED)
    a = ingress_rules.ingress_annotations(spec, IngressSpec(certificateArn=ARN), "/health")
    assert a["alb.ingress.kubernetes.io/certificate-arn"] == ARN
    assert a["alb.ingress.kubernetes.io/listen-ports"] == '[{"HTTP":80},{"HTTPS":443}]'
    assert a["alb.ingress.kubernetes.io/ssl-redirect"] == "443"
    host = "k8s-llm-qwen3-4b-368ac7c3bb.us-east-1.elb.amazonaws.com"
    assert ingress_rules.alb_url(spec, IngressSpec(certificateArn=ARN), host) == f"https://{host}/v1/chat/completions"
    assert ingress_rules.alb_url(spec, IngressSpec(), host) == f"http://{host}/v1/chat/completions"


def test_s2_domain_names_each_endpoint_under_it_with_a_wildcard_certificate_to_issue():
    spec = endpoint(**PUBLIC_KEYED)
    tls = tls_for(spec, IngressSpec(domain=DOMAIN))
    assert (tls.issue, tls.host, tls.certificate_domain, tls.hosted_zone_id, tls.scheme) == (
        True,
        "qwen3-4b.api.example.com",
        "*.api.example.com",
        "Z0123456789ABCDEFGHIJ",
        "https",
    )
    url = ingress_rules.alb_url(
        spec, IngressSpec(domain=DOMAIN), "k8s-llm-qwen3-4b-368ac7c3bb.us-east-1.elb.amazonaws.com"
    )
    assert url == "https://qwen3-4b.api.example.com/v1/chat/completions"  # the name the certificate covers
    # A given certificate is used as it is; nothing to issue.
    assert tls_for(spec, IngressSpec(certificateArn=ARN, domain=DOMAIN)).issue is False
    # No ALB, no name.
    assert tls_for(endpoint(**{**PUBLIC_KEYED, "loadBalancer": "none"}), IngressSpec(domain=DOMAIN)).host is None


def test_s2_opt_out_marks_the_ingress_for_the_stack_policy():
    a = ingress_rules.ingress_annotations(endpoint(**PUBLIC_KEYED), IngressSpec(allowPlaintextApiKey=True), "/health")
    assert a["llm-serving/allow-plaintext-api-key"] == "true" and "alb.ingress.kubernetes.io/certificate-arn" not in a
    assert "llm-serving/allow-plaintext-api-key" not in ingress_rules.ingress_annotations(
        endpoint(**PUBLIC_KEYED), IngressSpec(certificateArn=ARN, allowPlaintextApiKey=True), "/health"
    )


def test_s2_hyperpod_tls_config_carries_the_given_certificate_and_name(schema_validator):
    spec = endpoint(**ROUTED_KEYED)
    obj = hyperpod.endpoint_config(
        spec, "us-east-1", api_key="sk-test", tls=tls_for(spec, IngressSpec(certificateArn=ARN, domain=DOMAIN))
    )
    assert obj["spec"]["tlsConfig"] == {
        "customCertificateConfig": {"acmArn": ARN, "domainName": "qwen3-4b.api.example.com"}
    }
    assert "dnsConfig" not in obj["spec"]  # the stack's record owns the name
    result = schema_validator.validate(obj)
    assert result.status == "passed", result.errors
    # Without a domain the operator keeps its own certificate; the S3 output location stays.
    plain = endpoint(**ROUTED_KEYED, tlsCertificateS3Uri="s3://certs/x")
    assert hyperpod.endpoint_config(
        plain, "us-east-1", api_key="sk-test", tls=tls_for(plain, IngressSpec(certificateArn=ARN))
    )["spec"]["tlsConfig"] == {"tlsCertificateOutputS3Uri": "s3://certs/x"}
