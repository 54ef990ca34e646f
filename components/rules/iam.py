"""IAM policy documents of the roles the stack creates, taken from upstream, with every deliberate
difference listed beside its reason (`DEVIATIONS`). Pure data: components attach them.

Sources (each checked by tests/clusters/test_iam_upstream.py where the upstream files are at hand):
- HyperPod node execution role: the SageMaker developer guide, "IAM role for SageMaker HyperPod",
  Amazon EKS tab (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-prerequisites-iam.html),
  and AWS's HyperPod-on-EKS CloudFormation sample (awslabs/awsome-distributed-training,
  1.architectures/7.sagemaker-hyperpod-eks/cfn-templates/nested-stacks/sagemaker-iam-role-stack.yaml).
- AWS Load Balancer Controller: docs/install/iam_policy.json of kubernetes-sigs/aws-load-balancer-controller
  v2.13.2 (same file v2.13.0 to v2.15.0; the inference operator's setup page uses it), vendored unchanged.
- Inference operator, S3 and FSx CSI drivers, KEDA: the developer guide's "Setting up your HyperPod
  clusters for model deployment" (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-setup.html),
  the managed policy AmazonSageMakerHyperPodInferenceAccess (v4, AWS managed policy reference), and AWS's
  Terraform modules (awslabs/awsome-distributed-training, 1.architectures/7.sagemaker-hyperpod-eks/
  terraform-modules/hyperpod-eks-tf/modules/hyperpod_inference_operator/iam_roles.tf and fsx_lustre/main.tf).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VERSION = "2012-10-17"
POLICY_DIR = Path(__file__).with_name("iam_policies")

# ---------------------------------------------------------------- HyperPod node execution role

HYPERPOD_TRUST = {
    "Version": VERSION,
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
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


# ---------------------------------------------------------------- HyperPod inference operator execution role

# Setup page, "Configure IAM roles for inference operator": SageMaker may assume the role (the managed
# policy's iam:PassRole to sagemaker.amazonaws.com hands it on), and so may the controller's service account
# through IRSA. The Terraform module trusts the same two.
OPERATOR_TRUST_SERVICES = ("sagemaker.amazonaws.com",)
# The controller's service account differs by install method, both in hyperpod-inference-system:
# - the EKS add-on's: the setup page's trust policy (Method 2), AWS's Terraform iam_roles.tf, and
#   helm_to_addon.sh, which rewrites a Helm install's trust from the Helm name to this one;
OPERATOR_SERVICE_ACCOUNT = "hyperpod-inference-controller-manager"
# - the Helm chart's: `{namePrefix}-controller-manager`, namePrefix `hyperpod-inference-operator`
#   (aws/sagemaker-hyperpod-cli@011ca927 helm_chart/HyperPodHelmChart/charts/inference-operator
#   config/rbac/service_account.yaml and values.yaml); the setup page's Method 3 annotates this name.
#   Read from the fetched chart where it is at hand (addons.operator_service_account), else this.
OPERATOR_HELM_SERVICE_ACCOUNT = "hyperpod-inference-operator-controller-manager"
OPERATOR_ACCESS_POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerHyperPodInferenceAccess"
# The managed policy's S3 statements cover `arn:aws:s3:::hyperpod-tls*` only.
OPERATOR_MANAGED_TLS_PREFIX = "hyperpod-tls"
_SAME_ACCOUNT = {
    "StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}
}  # an IAM policy variable, kept literal


def operator_tls_bucket_policy(bucket: str) -> dict[str, Any] | None:
    """The setup page's extra policy for a TLS bucket whose name the managed policy does not cover
    (not `hyperpod-tls*`), with its bucket filled in; None where the managed policy covers the bucket."""
    if bucket.startswith(OPERATOR_MANAGED_TLS_PREFIX):
        return None
    objects = [f"arn:aws:s3:::{bucket}/*"]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "TLSBucketDeleteObjectsPermission",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": objects,
                "Condition": _SAME_ACCOUNT,
            },
            {"Sid": "TLSBucketGetObjectAccess", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects},
            {
                "Sid": "TLSBucketPutObjectAccess",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectTagging"],
                "Resource": objects,
                "Condition": _SAME_ACCOUNT,
            },
        ],
    }


# ---------------------------------------------------------------- Mountpoint for Amazon S3 CSI driver

# The setup page's S3MountpointAccessPolicy grants ListBucket, GetObject, PutObject, AbortMultipartUpload
# and DeleteObject; the stack mounts model buckets read-only, as the Terraform module grants them.
S3_CSI_ACTIONS = ("s3:ListBucket", "s3:GetObject")


def s3_csi_policy(buckets: list[str]) -> dict[str, Any]:
    """Read access to the model buckets; every bucket (the Terraform module's resources) when no
    endpoint reads from S3."""
    names = sorted(set(buckets)) or ["*"]
    resources = [r for b in names for r in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")]
    return {
        "Version": VERSION,
        "Statement": [
            {"Sid": "MountpointAccess", "Effect": "Allow", "Action": list(S3_CSI_ACTIONS), "Resource": resources}
        ],
    }


# ---------------------------------------------------------------- Amazon FSx for Lustre CSI driver

# Setup page (eksctl --attach-policy-arn), helm_to_addon.sh and the Terraform fsx_lustre module all attach it.
FSX_CSI_MANAGED_POLICIES = ("arn:aws:iam::aws:policy/AmazonFSxFullAccess",)


# ---------------------------------------------------------------- KEDA operator


# Setup page, "Create the KEDA operator role" (KedaOperatorPolicy); the Terraform module grants the same
# seven actions. The operator's triggers are CloudWatch and Prometheus (Amazon Managed Prometheus) queries.
def keda_policy() -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["aps:QueryMetrics", "aps:GetLabels", "aps:GetSeries", "aps:GetMetricMetadata"],
                "Resource": "*",
            },
        ],
    }


# ---------------------------------------------------------------- what differs from upstream, and why

DEVIATIONS: dict[str, dict[str, str]] = {
    "hyperpod-execution": {
        "ec2:AttachNetworkInterface, ec2:DescribeInstances, ec2:DescribeInstanceTypes, ec2:DescribeTags": "wider than the CloudFormation sample: the developer guide lists them",
        "cloudwatch:DescribeAlarms": "wider than the developer guide: the CloudFormation sample grants it",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy": "wider than the developer guide: the CloudFormation sample attaches it",
    },
    "aws-load-balancer-controller": {},
    "inference-operator": {},
    "s3-csi": {
        "s3:PutObject, s3:AbortMultipartUpload, s3:DeleteObject": "narrower than the setup page's S3MountpointAccessPolicy: model volumes are ReadOnlyMany and mounted "
        "read-only, and AWS's Terraform module grants only ListBucket and GetObject too",
        "resources: the model buckets": "narrower than the Terraform module's arn:aws:s3:::*; `*` only when no endpoint reads from S3",
    },
    "fsx-csi": {
        "trust: IRSA": "the setup page and helm_to_addon.sh bind the add-on through IRSA; the Terraform fsx_lustre "
        "module uses Pod Identity (the add-on takes either). The stack follows the setup page",
    },
    "keda": {
        "trust: keda/keda-operator": "the stack installs KEDA's chart itself in namespace keda (one owner per "
        "controller); upstream's role trusts hyperpod-inference-system:keda-operator (add-on) or kube-system:keda-operator (Helm)",
    },
}


def listed(role: str) -> set[str]:
    """The actions and policy ARNs DEVIATIONS names for a role (keys such as `trust: ...` name no action)."""
    names: set[str] = set()
    for key in DEVIATIONS[role]:
        names |= {n for n in key.split(", ") if " " not in n and (n.startswith("arn:") or ":" in n)}
    return names


def actions(policy: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for statement in policy.get("Statement", []):
        action = statement.get("Action", [])
        out |= {action} if isinstance(action, str) else set(action)
    return out
