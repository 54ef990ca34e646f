"""G16: the endpoint URL comes from the Ingress's final status, typed or plain, without SDK warnings."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.endpoints.urls import hostname_of

OUT = k8s.networking.v1.outputs
HOST = "k8s-inference-llm-0123456789.us-east-1.elb.amazonaws.com"


def test_hostname_from_a_typed_status_without_camel_case_key_warnings(capsys):
    status = OUT.IngressStatus(
        load_balancer=OUT.IngressLoadBalancerStatus(
            ingress=[OUT.IngressLoadBalancerIngress(ip="10.0.0.1"), OUT.IngressLoadBalancerIngress(hostname=HOST)]
        )
    )
    assert hostname_of(status) == HOST
    printed = capsys.readouterr()
    assert "not found" not in printed.out + printed.err


def test_hostname_from_a_plain_status_and_none_before_the_alb_exists():
    assert hostname_of({"loadBalancer": {"ingress": [{"hostname": HOST}]}}) == HOST
    assert hostname_of({"loadBalancer": {}}) is None
    assert hostname_of(OUT.IngressStatus()) is None
    assert hostname_of(None) is None
