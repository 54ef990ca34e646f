"""S6 and S4 on what the program really declares: every taggable AWS resource of the example stacks
(and of the other cluster shapes) carries the required tags, the ALBs get them through the load
balancer controller, `cluster.tags` is validated; S4 is mandatory and the staging example passes it."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from components.rules import ConfigError, security
from components.rules import tags as tag_rules
from components.rules.policy_catalog import BY_NAME
from components.rules.policy_config import PolicyConfig
from components.rules.policy_eval import evaluate
from components.rules.resources import Resource
from stacks import config as stack_config
from stacks import plan as plan_mod
from stacks.__main__ import main as cli
from tests.clusters.helpers import BASE_ENDPOINT, stack_values
from tests.example_stacks import user_plan, user_project

# AWS resources the program declares that AWS cannot tag. A new AWS type must be added either here
# or to security.TAGGABLE_TYPES, so S6 never silently skips it.
UNTAGGABLE = {
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    # platform.ingress.domain (Pulumi.staging-endpoints.yaml): neither takes tags (pulumi_aws has no `tags` input).
    "aws:route53/record:Record",
    "aws:acm/certificateValidation:CertificateValidation",
}
AWS_PREFIXES = ("aws:", "aws-native:", "eks:")
LBC = "platform-load-balancer-controller"


def tags_of(inputs: dict[str, Any]) -> dict[str, str]:
    tags = inputs.get("tags")
    if isinstance(tags, list):  # aws-native: [{key, value}]
        return {t["key"]: t["value"] for t in tags}
    return dict(tags or {})


def aws_resources(plan: plan_mod.Plan) -> list:
    return [
        r
        for r in plan.resources
        if r.type_.startswith(AWS_PREFIXES) and (r.custom or r.type_ in security.TAGGABLE_TYPES)
    ]


def assert_tagged(plan: plan_mod.Plan, stack: str, cluster: str, extra: dict[str, str] | None = None) -> int:
    wanted = {**(extra or {}), tag_rules.STACK_TAG: stack, tag_rules.CLUSTER_TAG: cluster}
    checked = 0
    for reg in aws_resources(plan):
        assert reg.type_ in security.TAGGABLE_TYPES | UNTAGGABLE, (
            f"{reg.type_} ({reg.name}): taggable or not? list it in security.TAGGABLE_TYPES or UNTAGGABLE"
        )
        if reg.type_ in UNTAGGABLE:
            continue
        tags = tags_of(reg.inputs)
        assert {k: tags.get(k) for k in wanted} == wanted, (reg.type_, reg.name, tags)
        checked += 1
    assert not [v for v in plan.other_violations if v.rule == "S6"]
    return checked


EXAMPLE_STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in plan_mod.PROJECT_DIR.glob("Pulumi.*.yaml"))


@pytest.fixture(scope="module")
def example_plans() -> dict[str, plan_mod.Plan]:
    return {stack: user_plan(stack) for stack in EXAMPLE_STACKS}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_S6_every_taggable_aws_resource_of_the_example_stacks_carries_the_required_tags(example_plans, stack):
    plan = example_plans[stack]
    checked = assert_tagged(plan, stack, plan.config.cluster.name)
    if stack in ("dev", "staging"):
        assert checked >= 20  # a VPC, a cluster, node groups, roles, add-ons: the check is not vacuous
    # The policy checks exactly the keys the components set.
    assert (
        tuple(BY_NAME["s6-required-tags"].defaults()["requiredTags"])
        == tag_rules.REQUIRED_TAGS
        == security.DEFAULT_REQUIRED_TAGS
    )


def test_S6_holds_when_enforced_as_mandatory(example_plans):
    strict = PolicyConfig(levels={"s6-required-tags": "mandatory"})
    for stack, plan in example_plans.items():
        resources = [Resource(r.type_, r.name, r.inputs) for r in plan.resources]
        assert [str(v) for v in evaluate(resources, strict, stack) if v.rule == "S6"] == [], stack


@pytest.mark.parametrize(
    "cluster, platform",
    [
        # A GPU node group on a capacity reservation: its launch template, and IRSA roles.
        (
            {
                "mode": "eks",
                "name": "c-eks",
                "adminPrincipalArns": ["arn:aws:iam::123456789012:role/Admin"],
                "gpuNodeGroups": [
                    {"name": "g5", "instanceType": "g5.12xlarge", "capacityReservationId": "cr-0123456789abcdef0"}
                ],
            },
            {"workloadIdentity": "irsa"},
        ),
        (
            {
                "mode": "hyperpod",
                "name": "c-hp",
                "instanceGroups": [
                    {
                        "name": "g",
                        "instanceType": "ml.g5.8xlarge",
                        "lifecycle": {"sourceS3Uri": "s3://lifecycle-bucket/scripts"},
                    }
                ],
            },
            {"fsxCsi": True},
        ),
        ({"mode": "existing", "name": "c-adopted"}, {"loadBalancerController": True, "keda": True, "s3Csi": True}),
    ],
)
def test_S6_other_cluster_shapes_are_tagged_too(cluster, platform):
    endpoints = [BASE_ENDPOINT] if cluster["mode"] == "hyperpod" else []
    plan = plan_mod.build_plan_from_values("test", stack_values(cluster, endpoints, platform=platform))
    assert assert_tagged(plan, "test", cluster["name"]) >= 1


def test_gpu_instances_launched_from_a_launch_template_are_tagged_for_cost():
    cluster = {
        "mode": "eks",
        "name": "c-eks",
        "gpuNodeGroups": [
            {"name": "g5", "instanceType": "g5.12xlarge", "capacityReservationId": "cr-0123456789abcdef0"}
        ],
    }
    plan = plan_mod.build_plan_from_values("test", stack_values(cluster, []))
    (lt,) = [r for r in plan.resources if r.type_ == "aws:ec2/launchTemplate:LaunchTemplate"]
    specs = {s["resourceType"]: s["tags"] for s in lt.inputs["tagSpecifications"]}
    assert set(specs) == {"instance", "volume"}
    assert all(t[tag_rules.CLUSTER_TAG] == "c-eks" and t[tag_rules.STACK_TAG] == "test" for t in specs.values())


@pytest.mark.parametrize("stack", ["dev", "eks"])  # the HyperPod router's Ingress; the kubernetes backend's
def test_albs_get_the_tags_through_the_controller_and_the_ingress_annotation(example_plans, stack):
    plan = example_plans[stack]
    (chart,) = [r for r in plan.resources if r.name == LBC]
    assert chart.inputs["values"]["defaultTags"] == {
        tag_rules.STACK_TAG: stack,
        tag_rules.CLUSTER_TAG: plan.config.cluster.name,
    }
    ingresses = [o for o in plan.objects if o.kind == "Ingress"]
    assert ingresses
    for obj in ingresses:
        tags = dict(
            pair.split("=", 1)
            for pair in obj.manifest["metadata"]["annotations"]["alb.ingress.kubernetes.io/tags"].split(",")
        )
        assert tags == {
            tag_rules.STACK_TAG: stack,
            tag_rules.ENDPOINT_TAG: obj.manifest["metadata"]["labels"]["app.kubernetes.io/name"],
        }


def test_user_tags_from_cluster_tags_reach_the_cluster_resources():
    user = {"team": "ml-platform", "cost-center": "4711"}
    cluster = {"mode": "hyperpod", "name": "c-hp", "tags": user}
    plan = plan_mod.build_plan_from_values("test", stack_values(cluster))
    regs = {r.name: r for r in plan.resources}
    for name in ("cluster-eks", "cluster-system", "cluster-node-role", "hyperpod-cluster", "hyperpod-execution-role"):
        assert {k: tags_of(regs[name].inputs).get(k) for k in user} == user, name


def test_user_tags_reach_every_taggable_resource():
    user = {"team": "ml-platform"}
    plan = plan_mod.build_plan_from_values("test", stack_values({"mode": "hyperpod", "name": "c-hp", "tags": user}))
    assert assert_tagged(plan, "test", "c-hp", user) >= 25


@pytest.mark.parametrize(
    "tags, path, words",
    [
        ({"llm-serving/stack": "prod"}, "cluster.tags.llm-serving/stack", "set by the stack"),
        ({"aws:createdBy": "me"}, "cluster.tags.aws:createdBy", "reserved for AWS"),
        ({"team": "a,b"}, "cluster.tags.team", "not a valid tag value"),
        ({"a=b": "x"}, "cluster.tags.a=b", "not a valid tag key"),
        ({"k" * 129: "x"}, "cluster.tags." + "k" * 129, "not a valid tag key"),
        (
            {f"t{i}": "x" for i in range(tag_rules.MAX_USER_TAGS + 1)},
            "cluster.tags",
            f"at most {tag_rules.MAX_USER_TAGS}",
        ),
    ],
)
def test_bad_cluster_tags_are_config_errors_naming_key_value_rule_and_fix(tags, path, words):
    values = stack_values({"mode": "hyperpod", "name": "c-hp", "tags": tags})
    with pytest.raises(ConfigError) as err:
        plan_mod.parse_stack_config(values, "llm-serving")
    (problem,) = [p for p in err.value.problems if p.path == path]
    assert words in problem.message and problem.rule == "CONFIG" and problem.fix
    assert str(problem).startswith(f"{path} = ")


def test_good_cluster_tags_parse():
    cfg = stack_config.parse(
        {"cluster": {"mode": "existing", "name": "x", "tags": {"team": "ml", "Cost Center": "a:b/c=d@e"}}}, "us-east-1"
    )
    assert cfg.cluster.tags == {"team": "ml", "Cost Center": "a:b/c=d@e"}


# ---------------------------------------------------------------- S4


def test_S4_is_mandatory_by_default_and_the_example_config_agrees():
    assert BY_NAME["s4-eks-endpoint-not-public"].enforcement == "mandatory"
    assert PolicyConfig().level(BY_NAME["s4-eks-endpoint-not-public"]) == "mandatory"


def test_S4_staging_keeps_its_api_endpoint_off_the_internet_and_passes(example_plans):
    plan = example_plans["staging"]
    (eks,) = [r for r in plan.resources if r.type_ == "eks:index:Cluster"]
    assert eks.inputs["endpointPrivateAccess"] is True
    assert eks.inputs["publicAccessCidrs"] and not set(eks.inputs["publicAccessCidrs"]) & set(security.OPEN_CIDRS)
    assert not [v for v in plan.other_violations if v.rule == "S4"]
    assert not plan.failed
    assert not example_plans["dev"].failed  # dev stays open to 0.0.0.0/0: a devStacks name
    for stack, other in example_plans.items():
        assert not [v for v in other.other_violations if v.rule == "S4"], stack


def test_S4_fails_the_staging_plan_when_its_api_endpoint_is_opened_again():
    values = plan_mod.read_stack_config("staging")
    cluster = copy.deepcopy(values["llm-serving:cluster"])
    cluster.pop("publicAccessCidrs")  # back to the default, 0.0.0.0/0
    plan = plan_mod.build_plan_from_values("staging", {**values, "llm-serving:cluster": cluster})
    (violation,) = [v for v in plan.other_violations if v.rule == "S4"]
    assert violation.mandatory and plan.failed
    assert "publicAccessCidrs = ['0.0.0.0/0']: [S4]" in violation.message and "Fix:" in violation.message


@pytest.mark.parametrize(
    "cluster, path, words",
    [
        ({"publicAccessCidrs": ["10.0.0.1/24"]}, "cluster.publicAccessCidrs[0]", "not a CIDR"),
        ({"publicAccessCidrs": ["office"]}, "cluster.publicAccessCidrs[0]", "not a CIDR"),
        ({"publicAccessCidrs": []}, "cluster.publicAccessCidrs", "at least one allowed range"),
        (
            {"publicAccessCidrs": ["34.201.17.8/32", "198.51.100.0/24"]},
            "cluster.publicAccessCidrs[1]",
            "inside 198.51.100.0/24, a documentation range",
        ),
        (
            {"publicAccessCidrs": ["192.0.2.7/32"]},
            "cluster.publicAccessCidrs[0]",
            "inside 192.0.2.0/24, a documentation range",
        ),
        (
            {"publicAccessCidrs": ["203.0.113.128/25"]},
            "cluster.publicAccessCidrs[0]",
            "inside 203.0.113.0/24, a documentation range",
        ),
    ],
)
def test_bad_public_access_cidrs_are_config_errors(cluster, path, words):
    values = stack_values({"mode": "hyperpod", "name": "c-hp", **cluster})
    with pytest.raises(ConfigError) as err:
        plan_mod.parse_stack_config(values, "llm-serving")
    (problem,) = [p for p in err.value.problems if p.path == path]
    assert words in problem.message and problem.fix


def test_public_access_cidrs_without_public_access_is_a_warning():
    cfg = stack_config.parse(
        {
            "cluster": {
                "mode": "existing",
                "name": "x",
                "endpointPublicAccess": False,
                "publicAccessCidrs": ["203.0.113.0/24"],
            }
        },
        "us-east-1",
    )
    assert [(w.path, w.severity) for w in cfg.warnings] == [("cluster.publicAccessCidrs", "warning")]


# The shipped eks and staging stacks leave the API range for the user to set.
API_UNSET = (
    "  cluster.publicAccessCidrs = []: [CONFIG] a public EKS API endpoint needs at least one allowed range: `pulumi up` could not reach"
    " the cluster it creates. Fix: set publicAccessCidrs to your CI and VPN egress ranges, or endpointPublicAccess: false and run Pulumi"
    " from inside the VPC"
)


# S2: Pulumi.eks.yaml leaves its certificate unset too (`certificateArn: null   # SET THIS`), not a placeholder
# ARN in AWS's documentation account that the plan accepts and only `pulumi up` finds missing.
CERTIFICATE_UNSET = (
    "  endpoints[0].apiKey = True: [S2] an internet-facing ALB without TLS: the API key (Authorization: Bearer) and every prompt cross"
    " the internet in clear text. Fix: set platform.ingress.certificateArn to an ACM certificate of the ALB's region, or"
    " platform.ingress.domain {name: api.example.com, hostedZoneId: Z...} so the stack issues one with DNS validation; or publicAlb: false;"
    " in a dev stack platform.ingress.allowPlaintextApiKey: true accepts the risk"
)


# T3: and the gateway's (a public gateway carries tenant keys).
GATEWAY_CERTIFICATE_UNSET = (
    "  gateway.certificateArn = None: [T3] a public gateway carries tenant API keys and would take them over plain HTTP."
    " Fix: set gateway.certificateArn to an ACM certificate, or gateway.public: false"
)


@pytest.mark.parametrize(
    "stack,unset", [("eks", [CERTIFICATE_UNSET, GATEWAY_CERTIFICATE_UNSET, API_UNSET]), ("staging", [API_UNSET])]
)
def test_S2_T3_shipped_example_fails_the_plan_until_the_api_range_and_certificates_are_set(
    stack, unset, tmp_path, capsys
):
    assert cli(["plan", "--stack", stack, "--out", str(tmp_path / "unset")]) == 2
    out = capsys.readouterr().out
    assert "Traceback" not in out
    lines = out.splitlines()
    if any(
        re.search(r"\[[ST][0-9]\]", line) for line in unset
    ):  # a rule ID printed: the footer names where it is described
        assert lines.pop().startswith("Rules: docs/guardrails.md#<id> for each rule above (S")
    assert lines == [f"Pulumi.{stack}.yaml has {len(unset)} problem(s); nothing was planned:", *unset]
    (tmp_path / "project").mkdir()
    project = user_project(tmp_path / "project", stack)
    text = (project / f"Pulumi.{stack}.yaml").read_text()
    assert 'publicAccessCidrs: ["34.201.17.8/32"]   # SET THIS' in text
    assert ("certificateArn: null" in text) is False
    assert cli(["plan", "--stack", stack, "--project-dir", str(project), "--out", str(tmp_path / "set")]) == 0


def test_a_documentation_range_is_refused_as_the_api_range():
    values = stack_values(
        {
            "mode": "eks",
            "name": "c",
            "publicAccessCidrs": ["203.0.113.0/24"],
            "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.2xlarge"}],
        },
        [],
    )
    with pytest.raises(ConfigError) as err:
        plan_mod.parse_stack_config(values, "llm-serving")
    assert [str(p) for p in err.value.problems] == [
        "cluster.publicAccessCidrs[0] = '203.0.113.0/24': [CONFIG] inside 203.0.113.0/24, a documentation range: `pulumi up` could not reach"
        " the cluster it creates. Fix: set publicAccessCidrs to your CI and VPN egress ranges, or endpointPublicAccess: false and run Pulumi"
        " from inside the VPC"
    ]
    private = stack_values(
        {
            "mode": "eks",
            "name": "c",
            "endpointPublicAccess": False,
            "gpuNodeGroups": [{"name": "g5", "instanceType": "g5.2xlarge"}],
        },
        [],
    )
    assert plan_mod.parse_stack_config(private, "llm-serving").cluster.endpoint_public_access is False
