"""Issue 15 deliverable 4: the roles the stack creates carry upstream's permissions, and each
deliberate difference is listed with its reason (components/rules/iam.py DEVIATIONS)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from components.rules import iam
from stacks import plan as plan_mod

ADT = "awsome-distributed-training/1.architectures/7.sagemaker-hyperpod-eks"
CFN_ROLE = f"{ADT}/cfn-templates/nested-stacks/sagemaker-iam-role-stack.yaml"
DG_IAM = "aws-docs-history/docs/sagemaker/latest/dg/sagemaker-hyperpod-prerequisites-iam.md"
LBC_POLICY = "aws-load-balancer-controller/docs/install/iam_policy.json"
HYPERPOD_STACK = {
    "aws:region": "us-east-1",
    "llm-serving:cluster": {
        "mode": "hyperpod",
        "name": "ml-dev",
        "instanceGroups": [{"name": "g5", "instanceType": "ml.g5.12xlarge", "lifecycle": {"sourceS3Uri": "s3://my-lifecycle/scripts"}}],
    },
    "llm-serving:endpoints": [],
}


class _CfnLoader(yaml.SafeLoader):
    """CloudFormation's short-form tags (`!Sub`, `!Ref`) read as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None)


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _cfn_execution_role(upstream: Path) -> dict:
    doc = yaml.load((upstream / CFN_ROLE).read_text(), Loader=_CfnLoader)
    return doc["Resources"]["ExecutionRole"]["Properties"]


def _guide_eks_policy(upstream: Path) -> dict:
    """The developer guide's inline policy on the Amazon EKS tab (a JSON block wrapped in backticks)."""
    text = (upstream / DG_IAM).read_text()
    tab = text[text.index("For HyperPod orchestrated with Amazon EKS"):]
    block = re.search(r"`(\{.*?\})`", tab, re.S).group(1)
    return json.loads(block)


def _planned(type_: str, name_suffix: str):
    plan = plan_mod.build_plan_from_values("iam", HYPERPOD_STACK)
    (reg,) = [r for r in plan.resources if r.type_ == type_ and r.name.endswith(name_suffix)]
    return plan, reg


# ---------------------------------------------------------------- HyperPod node execution role (finding 1)


def test_hyperpod_execution_role_grants_node_networking_image_pulls_and_pod_identity():
    _, policy = _planned("aws:iam/rolePolicy:RolePolicy", "-execution-policy")
    document = json.loads(policy.inputs["policy"])
    granted = iam.actions(document)
    for action in ("ec2:CreateNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:DescribeSubnets", "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "eks-auth:AssumeRoleForPodIdentity"):
        assert action in granted, action
    tags = [s for s in document["Statement"] if s["Action"] == ["ec2:CreateTags"]]
    assert tags and tags[0]["Resource"] == ["arn:aws:ec2:*:*:network-interface/*"]
    lifecycle = [s for s in document["Statement"] if "s3:GetObject" in s["Action"]]
    assert lifecycle[0]["Resource"] == ["arn:aws:s3:::my-lifecycle", "arn:aws:s3:::my-lifecycle/*"]


def test_hyperpod_execution_role_attaches_the_instance_and_cni_managed_policies():
    _, role = _planned("aws:iam/role:Role", "-execution-role")
    assert role.inputs["managedPolicyArns"] == [
        "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]


def test_hyperpod_execution_role_matches_the_guide_and_the_cloudformation_sample(upstream_dir):
    guide = iam.actions(_guide_eks_policy(upstream_dir))
    cfn = _cfn_execution_role(upstream_dir)
    sample = set().union(*(iam.actions(p["PolicyDocument"]) for p in cfn["Policies"])) - {"s3:ListBucket", "s3:GetObject"}
    ours = iam.actions(iam.hyperpod_execution_policy([]))
    assert guide <= ours and sample <= ours, f"missing upstream actions: {sorted((guide | sample) - ours)}"
    # Everything we grant beyond one of the two sources is in the other, and listed as a deviation.
    assert ours == guide | sample
    listed = " ".join(iam.DEVIATIONS["hyperpod-execution"])
    for action in (guide ^ sample):
        assert action in listed, f"{action} differs between the sources but is not listed in DEVIATIONS"
    assert set(cfn["ManagedPolicyArns"]) == set(iam.HYPERPOD_MANAGED_POLICIES)
    assert iam.HYPERPOD_TRUST["Statement"][0]["Principal"]["Service"] in cfn["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]


# ---------------------------------------------------------------- load balancer controller (finding 12)


def test_load_balancer_controller_policy_is_upstreams_file_unchanged():
    assert _blob(iam.LOAD_BALANCER_CONTROLLER_FILE.read_bytes()) == iam.LOAD_BALANCER_CONTROLLER_BLOB


def test_load_balancer_controller_deletes_only_what_it_tagged():
    # The stack's earlier policy allowed elasticloadbalancing:Delete*/Modify* and ec2:DeleteSecurityGroup
    # on every resource in the account.
    for statement in iam.load_balancer_controller_policy()["Statement"]:
        actions = {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
        destructive = {a for a in actions if a in ("ec2:DeleteSecurityGroup", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:ModifyLoadBalancerAttributes")}
        if destructive:
            assert statement["Condition"]["Null"]["aws:ResourceTag/elbv2.k8s.aws/cluster"] == "false", destructive


def test_the_platform_attaches_the_upstream_controller_policy():
    plan, _ = _planned("aws:iam/role:Role", "-execution-role")
    (policy,) = [r for r in plan.resources if r.type_ == "aws:iam/rolePolicy:RolePolicy" and "lbc" in r.name]
    assert json.loads(policy.inputs["policy"]) == iam.load_balancer_controller_policy()
    assert len(policy.inputs["policy"]) < 10240, "IAM's limit for a role's inline policies"


def test_load_balancer_controller_policy_is_the_upstream_file(upstream_dir):
    assert (upstream_dir / LBC_POLICY).read_bytes() == iam.LOAD_BALANCER_CONTROLLER_FILE.read_bytes()
