"""Pure platform rules: add-on defaults per mode and their order (G20), ingress annotations (G8,
G17), URLs (G16), example requests without the key (G9), cluster spec checks, example stacks."""

from __future__ import annotations

import pytest

from components.rules import addons as addon_rules
from components.rules import clusters as cluster_rules
from components.rules import ingress as ingress_rules
from components.rules.spec import ClusterSpec, EndpointSpec, IngressSpec, PlatformSpec
from tests.example_stacks import user_plan

EP = {
    "name": "q",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models"},
    "intelligentRouting": True,
}


def test_G20_operator_comes_after_every_prerequisite():
    order = addon_rules.install_order(addon_rules.resolve_addons("hyperpod", PlatformSpec()))
    for prereq in addon_rules.OPERATOR_PREREQUISITES:
        assert order.index(prereq) < order.index("hyperpod_operator")
    assert order.index("cert_manager") < order.index("keda")


def test_mode_defaults_and_explicit_switches_win():
    assert addon_rules.resolve_addons("existing", PlatformSpec()).on() == []
    assert "hyperpod_operator" not in addon_rules.resolve_addons("eks", PlatformSpec()).on()
    assert addon_rules.resolve_addons("existing", PlatformSpec(keda=True)).on() == ["keda"]
    assert "keda" not in addon_rules.resolve_addons("hyperpod", PlatformSpec(keda=False)).on()


def test_G20_operator_role_name_prefix_and_length():
    name = addon_rules.operator_role_name(PlatformSpec(), "c" * 80)
    assert name.startswith("SageMakerHyperPodInference") and len(name) <= 64
    problems = cluster_rules.validate_cluster(
        ClusterSpec(mode="hyperpod", name="x"),
        PlatformSpec(operatorRoleName="MyRole"),
        [EndpointSpec.model_validate(EP)],
    )
    assert [(p.path, p.rule) for p in problems] == [("platform.operatorRoleName", "G20")]


def test_G20_operator_without_its_prerequisites_is_rejected():
    problems = cluster_rules.validate_cluster(
        ClusterSpec(mode="hyperpod", name="x"), PlatformSpec(certManager=False), [EndpointSpec.model_validate(EP)]
    )
    assert [(p.path, p.rule) for p in problems] == [("platform", "G20")] and "cert_manager" in problems[0].message


def test_G8_scheme_and_G17_health_check_annotations():
    public = EndpointSpec.model_validate({**EP, "publicAlb": True})
    internal = EndpointSpec.model_validate(EP)
    a = ingress_rules.ingress_annotations(
        public,
        IngressSpec(certificateArn="arn:aws:acm:us-east-1:123456789012:certificate/x", inboundCidrs=["1.2.3.0/24"]),
        "/health",
    )
    assert a["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert a["alb.ingress.kubernetes.io/healthcheck-path"] == "/health"
    assert a["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:aws:acm:")
    assert a["alb.ingress.kubernetes.io/inbound-cidrs"] == "1.2.3.0/24"
    assert (
        ingress_rules.ingress_annotations(internal, IngressSpec(), "/health")["alb.ingress.kubernetes.io/scheme"]
        == "internal"
    )
    assert ingress_rules.url_scheme(IngressSpec(certificateArn="arn:aws:acm:us-east-1:1:certificate/x")) == "https"


def test_G16_url_only_from_a_hostname_and_G9_curl_without_the_key():
    assert ingress_rules.endpoint_url("https", None, "v1/chat/completions") is None
    url = ingress_rules.endpoint_url("https", "k8s-alb.elb.amazonaws.com", "v1/chat/completions")
    assert url == "https://k8s-alb.elb.amazonaws.com/v1/chat/completions"
    curl = ingress_rules.curl_example(url, "Qwen3-4B-Instruct-2507", True, "v1/chat/completions")
    assert '"model":"Qwen3-4B-Instruct-2507"' in curl and "Bearer $API_KEY" in curl and "sk-" not in curl


def test_instance_groups_derived_from_endpoints_in_hyperpod_mode():
    eps = [
        EndpointSpec.model_validate(EP),
        EndpointSpec.model_validate(
            {**EP, "name": "b", "autoscaling": {"maxReplicas": 3, "cloudwatch": {"metricName": "m", "targetValue": 1}}}
        ),
    ]
    cluster = cluster_rules.with_default_groups(ClusterSpec(mode="hyperpod", name="x"), eps)
    assert [(g.instance_type, g.instance_count) for g in cluster.instance_groups] == [("ml.g5.8xlarge", 4)]


@pytest.mark.parametrize(
    "cluster,where,rule",
    [
        (
            {"mode": "eks", "name": "x", "gpuNodeGroups": [{"name": "g", "instanceType": "m5.large"}]},
            "cluster.gpuNodeGroups[0].instanceType",
            "G11",
        ),
        (
            {
                "mode": "eks",
                "name": "x",
                "gpuNodeGroups": [{"name": "g", "instanceType": "g5.xlarge", "minSize": 3, "maxSize": 2}],
            },
            "cluster.gpuNodeGroups[0]",
            "CONFIG",
        ),
        (
            {"mode": "hyperpod", "name": "x", "systemNodes": {"instanceType": "m7g.large"}},
            "cluster.systemNodes.instanceType",
            "G20",
        ),
        (
            {
                "mode": "hyperpod",
                "name": "x",
                "network": {"vpcId": "vpc-0123456789abcdef0", "privateSubnetIds": ["subnet-1"]},
            },
            "cluster.network.privateSubnetIds",
            "CONFIG",
        ),
        (
            {"mode": "hyperpod", "name": "x", "instanceGroups": [{"name": "g", "instanceType": "ml.g5.48xlarge"}]},
            "endpoints[0].instanceType",
            "G11",
        ),
    ],
)
def test_cluster_spec_problems_name_path_rule_and_fix(cluster, where, rule):
    endpoints = [EndpointSpec.model_validate(EP)] if cluster["mode"] == "hyperpod" else []
    problems = [
        p
        for p in cluster_rules.validate_cluster(ClusterSpec.model_validate(cluster), PlatformSpec(), endpoints)
        if p.severity == "error"
    ]
    assert [(p.path, p.rule) for p in problems] == [(where, rule)]
    assert "Fix: " in str(problems[0])


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_example_stacks_plan_passes_schema_validation(stack):
    plan = user_plan(stack)
    assert not plan.failed
    assert all(o.schema and o.schema.status in ("passed", "unchecked") for o in plan.objects)
    types = {r.type_ for r in plan.resources}
    assert {
        "eks:index:Cluster",
        "eks:index:ManagedNodeGroup",
        "pulumi:providers:kubernetes",
        "kubernetes:helm.sh/v4:Chart",
    } <= types
    if stack == "dev":
        assert {
            "aws-native:sagemaker:Cluster",
            "aws:eks/addon:Addon",
            "kubernetes:networking.k8s.io/v1:Ingress",
        } <= types
