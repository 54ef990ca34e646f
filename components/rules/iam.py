"""IAM policy documents of the roles the stack creates, taken from upstream, with every deliberate
difference listed beside its reason (`DEVIATIONS`). Pure data: components attach them.

Sources (each checked by tests/clusters/test_iam_upstream.py where the upstream files are at hand):
- HyperPod node execution role: the SageMaker developer guide, "IAM role for SageMaker HyperPod",
  Amazon EKS tab (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-prerequisites-iam.html),
  and AWS's HyperPod-on-EKS CloudFormation sample (awslabs/awsome-distributed-training,
  1.architectures/7.sagemaker-hyperpod-eks/cfn-templates/nested-stacks/sagemaker-iam-role-stack.yaml).
- AWS Load Balancer Controller: docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller
  v2.13.2 (same file v2.13.0 to v2.15.0; the inference operator's setup page uses it), vendored unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSION = "2012-10-17"
POLICY_DIR = Path(__file__).with_name("iam_policies")

# ---------------------------------------------------------------- HyperPod node execution role

HYPERPOD_TRUST = {"Version": VERSION, "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
HYPERPOD_MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy",  # developer guide and CloudFormation sample
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",  # CloudFormation sample: the VPC CNI on HyperPod nodes uses the node role
)
# The developer guide's inline policy (EKS tab) and the CloudFormation sample's, united: the guide adds
# AttachNetworkInterface, DescribeInstances, DescribeInstanceTypes and DescribeTags; the sample adds
# cloudwatch:DescribeAlarms. eks-auth:AssumeRoleForPodIdentity is needed for EKS Pod Identity (guide's note).
HYPERPOD_NODE_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTags",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer",
    "eks-auth:AssumeRoleForPodIdentity",
    "cloudwatch:DescribeAlarms",
)


def hyperpod_execution_policy(lifecycle_buckets: list[str]) -> dict[str, Any]:
    """The execution role's inline policy: node networking, image pulls, Pod Identity, and read access
    to the lifecycle-script buckets (the CloudFormation sample's S3 statement)."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": list(HYPERPOD_NODE_ACTIONS), "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": ["arn:aws:ec2:*:*:network-interface/*"]},
    ]
    if lifecycle_buckets:
        resources = [r for b in sorted(lifecycle_buckets) for r in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")]
        statements.append({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": resources})
    return {"Version": VERSION, "Statement": statements}


# ---------------------------------------------------------------- AWS Load Balancer Controller

LOAD_BALANCER_CONTROLLER_FILE = POLICY_DIR / "aws-load-balancer-controller-v2.13.2.json"
LOAD_BALANCER_CONTROLLER_BLOB = "761d0e733c41089c91ea009dd29faf71918085e5"  # git blob id upstream


def load_balancer_controller_policy() -> dict[str, Any]:
    """Upstream's policy as published: deletes and modifies only on resources tagged
    `elbv2.k8s.aws/cluster`, so the controller cannot touch load balancers or security groups it did
    not create."""
    return json.loads(LOAD_BALANCER_CONTROLLER_FILE.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- what differs from upstream, and why

DEVIATIONS: dict[str, dict[str, str]] = {
    "hyperpod-execution": {
        "ec2:AttachNetworkInterface, ec2:DescribeInstances, ec2:DescribeInstanceTypes, ec2:DescribeTags":
            "wider than the CloudFormation sample: the developer guide lists them",
        "cloudwatch:DescribeAlarms": "wider than the developer guide: the CloudFormation sample grants it",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy": "wider than the developer guide: the CloudFormation sample attaches it",
    },
    "aws-load-balancer-controller": {},
}


def actions(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in policy.get("Statement", []):
        action = statement.get("Action", [])
        out |= {action} if isinstance(action, str) else set(action)
    return out
