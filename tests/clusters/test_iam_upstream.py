"""The roles the stack creates carry upstream's permissions, and each
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
        "instanceGroups": [
            {"name": "g5", "instanceType": "ml.g5.12xlarge", "lifecycle": {"sourceS3Uri": "s3://my-lifecycle/scripts"}}
        ],
    },
    "llm-serving:endpoints": [],
}


class _CfnLoader(yaml.SafeLoader):
    """CloudFormation's short-form tags (`!Sub`, `!Ref`) read as plain values."""


_CfnLoader.add_multi_constructor(
    "!", lambda loader, suffix, node: loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None
)


def _blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _cfn_execution_role(upstream: Path) -> dict:
    doc = yaml.load((upstream / CFN_ROLE).read_text(), Loader=_CfnLoader)
    return doc["Resources"]["ExecutionRole"]["Properties"]


def _guide_eks_policy(upstream: Path) -> dict:
    """The developer guide's inline policy on the Amazon EKS tab (a JSON block wrapped in backticks)."""
    text = (upstream / DG_IAM).read_text()
    tab = text[text.index("For HyperPod orchestrated with Amazon EKS") :]
    block = re.search(r"`(\{.*?\})`", tab, re.S).group(1)
    return json.loads(block)


def _planned(type_: str, name_suffix: str):
    plan = plan_mod.build_plan_from_values("iam", HYPERPOD_STACK)
    (reg,) = [r for r in plan.resources if r.type_ == type_ and r.name.endswith(name_suffix)]
    return plan, reg


# ---------------------------------------------------------------- HyperPod node execution role


def test_hyperpod_execution_role_grants_node_networking_image_pulls_and_pod_identity():
    _, policy = _planned("aws:iam/rolePolicy:RolePolicy", "-execution-policy")
    document = json.loads(policy.inputs["policy"])
    granted = iam.actions(document)
    for action in (
        "ec2:CreateNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:DescribeSubnets",
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "eks-auth:AssumeRoleForPodIdentity",
    ):
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
    sample = set().union(*(iam.actions(p["PolicyDocument"]) for p in cfn["Policies"])) - {
        "s3:ListBucket",
        "s3:GetObject",
    }
    ours = iam.actions(iam.hyperpod_execution_policy([]))
    assert guide <= ours and sample <= ours, f"missing upstream actions: {sorted((guide | sample) - ours)}"
    # Everything we grant beyond one of the two sources is in the other, and listed as a deviation.
    assert ours == guide | sample
    listed = " ".join(iam.DEVIATIONS["hyperpod-execution"])
    for action in guide ^ sample:
        assert action in listed, f"{action} differs between the sources but is not listed in DEVIATIONS"
    assert set(cfn["ManagedPolicyArns"]) == set(iam.HYPERPOD_MANAGED_POLICIES)
    assert (
        iam.HYPERPOD_TRUST["Statement"][0]["Principal"]["Service"]
        in cfn["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    )


def test_hyperpod_execution_role_inline_policy_grants_terraforms_cni_actions_without_the_managed_cni_policy(
    upstream_dir,
):
    """AWS's Terraform (sagemaker_iam_role/main.tf) attaches no AmazonEKS_CNI_Policy: its custom "EKS CNI" and
    execution policies grant the VPC CNI's EC2 actions, exactly the EC2 actions of the stack's inline policy."""
    terraform = (
        upstream_dir / f"{ADT}/terraform-modules/hyperpod-eks-tf/modules/sagemaker_iam_role/main.tf"
    ).read_text()
    assert re.findall(r'policy_arn\s*=\s*"(arn:aws:iam::aws:policy/[^"]+)"', terraform) == [
        "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
    ]
    ours = {a for a in iam.actions(iam.hyperpod_execution_policy([])) if a.startswith("ec2:")}
    assert set(re.findall(r'"(ec2:[A-Za-z]+)"', terraform)) == ours


# ---------------------------------------------------------------- load balancer controller


def test_load_balancer_controller_policy_is_upstreams_file_unchanged():
    assert _blob(iam.LOAD_BALANCER_CONTROLLER_FILE.read_bytes()) == iam.LOAD_BALANCER_CONTROLLER_BLOB


def test_load_balancer_controller_deletes_only_what_it_tagged():
    # The stack's earlier policy allowed elasticloadbalancing:Delete*/Modify* and ec2:DeleteSecurityGroup
    # on every resource in the account.
    for statement in iam.load_balancer_controller_policy()["Statement"]:
        actions = {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])
        destructive = {
            a
            for a in actions
            if a
            in (
                "ec2:DeleteSecurityGroup",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
            )
        }
        if destructive:
            assert statement["Condition"]["Null"]["aws:ResourceTag/elbv2.k8s.aws/cluster"] == "false", destructive


def test_the_platform_attaches_the_upstream_controller_policy():
    plan, _ = _planned("aws:iam/role:Role", "-execution-role")
    (policy,) = [r for r in plan.resources if r.type_ == "aws:iam/rolePolicy:RolePolicy" and "lbc" in r.name]
    assert json.loads(policy.inputs["policy"]) == iam.load_balancer_controller_policy()
    assert len(policy.inputs["policy"]) < 10240, "IAM's limit for a role's inline policies"


def test_load_balancer_controller_policy_is_the_upstream_file(upstream_dir):
    assert (upstream_dir / LBC_POLICY).read_bytes() == iam.LOAD_BALANCER_CONTROLLER_FILE.read_bytes()


# ---------------------------------------------------------------- inference operator, CSI drivers, KEDA

SETUP = "aws-docs-history/docs/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-setup.md"
MANAGED_OPERATOR = "aws-docs-history/docs/aws-managed-policy/latest/reference/AmazonSageMakerHyperPodInferenceAccess.md"
TF_OPERATOR = f"{ADT}/terraform-modules/hyperpod-eks-tf/modules/hyperpod_inference_operator/iam_roles.tf"
TF_FSX = f"{ADT}/terraform-modules/hyperpod-eks-tf/modules/fsx_lustre/main.tf"
HELM_TO_ADDON = (
    "sagemaker-hyperpod-cli/helm_chart/HyperPodHelmChart/charts/inference-operator/migration/helm_to_addon.sh"
)
WITH_MODELS = {
    **HYPERPOD_STACK,
    "llm-serving:endpoints": [
        {
            "name": "qwen3-4b",
            "model": "Qwen/Qwen3-4B-Instruct-2507",
            "engine": "vllm",
            "instanceType": "ml.g5.12xlarge",
            "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
        }
    ],
}
_PLANS: dict = {}


def _inputs(suffix: str, tls_bucket: str | None = None) -> dict:
    """Inputs of the planned resource named `*suffix` (a custom TLS bucket in the platform when given)."""
    values = dict(WITH_MODELS)
    if tls_bucket:
        values["llm-serving:platform"] = {"tlsCertificateBucket": tls_bucket}
    if tls_bucket not in _PLANS:
        _PLANS[tls_bucket] = plan_mod.build_plan_from_values("iam", values)
    found = [r.inputs for r in _PLANS[tls_bucket].resources if r.name.endswith(suffix)]
    return found[0] if found else {}


def _doc(inputs: dict, key: str = "policy") -> dict:
    return json.loads(inputs[key])


def test_operator_role_trusts_sagemaker_and_only_the_controller_service_account():
    # Before: web identity only, for every service account of hyperpod-inference-system.
    trust = _doc(_inputs("-operator-role"), "assumeRolePolicy")["Statement"]
    assert trust[0] == {
        "Effect": "Allow",
        "Principal": {"Service": ["sagemaker.amazonaws.com"]},
        "Action": "sts:AssumeRole",
    }
    (sub,) = [v for k, v in trust[1]["Condition"]["StringLike"].items() if k.endswith(":sub")]
    assert sub == "system:serviceaccount:hyperpod-inference-system:hyperpod-inference-controller-manager"


def _operator_trust_subject(platform: dict) -> str:
    plan = plan_mod.build_plan_from_values("iam", {**WITH_MODELS, "llm-serving:platform": platform})
    (role,) = [r for r in plan.resources if r.type_ == "aws:iam/role:Role" and r.name.endswith("-operator-role")]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    (sub,) = [v for s in trust for k, v in s.get("Condition", {}).get("StringLike", {}).items() if k.endswith(":sub")]
    return sub


def test_operator_helm_install_trusts_the_service_account_the_chart_creates():
    """`operatorInstall: helm` trusted the add-on's service account, which the chart never creates: the chart's
    is `{namePrefix}-controller-manager`, namePrefix hyperpod-inference-operator (aws/sagemaker-hyperpod-cli@011ca927
    helm_chart/HyperPodHelmChart/charts/inference-operator config/rbac/service_account.yaml, values.yaml). The
    test session's stand-in chart has no subchart, so the pinned name applies."""
    assert (
        _operator_trust_subject({"operatorInstall": "helm"})
        == "system:serviceaccount:hyperpod-inference-system:hyperpod-inference-operator-controller-manager"
    )
    assert (
        _operator_trust_subject({})
        == "system:serviceaccount:hyperpod-inference-system:hyperpod-inference-controller-manager"
    )  # the add-on's


SERVICE_ACCOUNT_TEMPLATE = """apiVersion: v1
kind: ServiceAccount
metadata:
  labels:
    app.kubernetes.io/name: {{ .Values.namePrefix }}
  name: {{ .Values.namePrefix }}-controller-manager
  namespace: {{ .Values.shortPrefix }}-system
  annotations:
    eks.amazonaws.com/role-arn: {{ .Values.executionRoleArn }}
"""


def test_operator_helm_install_reads_the_service_account_from_the_fetched_chart(tmp_path, monkeypatch):
    from stacks import charts

    chart = tmp_path / "HyperPodHelmChart"
    (chart / "charts/inference-operator/config/rbac").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hyperpod-helm-chart\nversion: 0.1.0\n")
    (chart / "charts/inference-operator/values.yaml").write_text(
        'namePrefix: "next-operator"\nshortPrefix: "hyperpod-inference"\nexecutionRoleArn:\n'
    )
    (chart / "charts/inference-operator/config/rbac/service_account.yaml").write_text(SERVICE_ACCOUNT_TEMPLATE)
    monkeypatch.setenv(charts.ENV_VAR, str(chart))
    assert (
        _operator_trust_subject({"operatorInstall": "helm"})
        == "system:serviceaccount:hyperpod-inference-system:next-operator-controller-manager"
    )
    assert (
        _operator_trust_subject({})
        == "system:serviceaccount:hyperpod-inference-system:hyperpod-inference-controller-manager"
    )


def test_operator_service_accounts_per_install_method_are_upstreams(upstream_dir):
    from components.rules import addons

    chart = upstream_dir / "sagemaker-hyperpod-cli/helm_chart/HyperPodHelmChart"
    assert addons.operator_service_account("helm", str(chart)) == (
        "hyperpod-inference-system",
        iam.OPERATOR_HELM_SERVICE_ACCOUNT,
    )
    assert (
        chart / "charts/inference-operator/config/rbac/service_account.yaml"
    ).read_text() == SERVICE_ACCOUNT_TEMPLATE
    setup = (upstream_dir / SETUP).read_text()
    # Method 3 (Helm) annotates the chart's service account; Method 2 (add-on) trusts the add-on's.
    assert (
        f"kubectl annotate serviceaccount {iam.OPERATOR_HELM_SERVICE_ACCOUNT} \\\n-n hyperpod-inference-system" in setup
    )
    assert (
        f"system:serviceaccount:hyperpod-inference-system:{iam.OPERATOR_SERVICE_ACCOUNT}"
        in setup[setup.index("## Method 2") : setup.index("## Method 3")]
    )
    # AWS's Helm-to-add-on migration rewrites the one to the other in the execution role's trust.
    migration = (upstream_dir / HELM_TO_ADDON).read_text()
    assert (
        f"s/system:serviceaccount:hyperpod-inference-system:{iam.OPERATOR_HELM_SERVICE_ACCOUNT}/system:serviceaccount:hyperpod-inference-system:{iam.OPERATOR_SERVICE_ACCOUNT}/g"
        in migration
    )


def test_operator_tls_bucket_of_another_name_gets_the_setup_pages_policy_with_put_object_tagging():
    policy = _doc(_inputs("-operator-policy", tls_bucket="my-tls-certs"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    same_account = {"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}}
    assert by_sid["TLSBucketPutObjectAccess"]["Action"] == ["s3:PutObject", "s3:PutObjectTagging"]
    assert by_sid["TLSBucketPutObjectAccess"]["Condition"] == same_account
    assert by_sid["TLSBucketDeleteObjectsPermission"]["Condition"] == same_account
    assert by_sid["TLSBucketGetObjectAccess"]["Resource"] == ["arn:aws:s3:::my-tls-certs/*"]
    assert iam.actions(policy) == {"s3:DeleteObject", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"}


def test_operator_tls_bucket_the_stack_creates_is_covered_by_the_managed_policy_alone():
    # The stack's bucket is named hyperpod-tls-*, which AmazonSageMakerHyperPodInferenceAccess covers with its
    # CreatedBy tag conditions; an extra untagged grant would widen it.
    assert _inputs("-operator-policy") == {}
    assert _inputs("-operator-role")["managedPolicyArns"] == [
        "arn:aws:iam::aws:policy/AmazonSageMakerHyperPodInferenceAccess"
    ]
    assert _inputs("-operator-role")["name"].startswith(
        "SageMakerHyperPodInference"
    )  # the managed policy's PassRole resource


def test_s3_csi_role_reads_the_model_buckets_only():
    policy = _doc(_inputs("-s3-csi-policy"))
    assert policy["Statement"] == [
        {
            "Sid": "MountpointAccess",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": ["arn:aws:s3:::my-models", "arn:aws:s3:::my-models/*"],
        }
    ]


def test_fsx_csi_role_attaches_amazon_fsx_full_access():
    assert _inputs("-fsx-csi-role")["managedPolicyArns"] == ["arn:aws:iam::aws:policy/AmazonFSxFullAccess"]


def test_keda_role_grants_the_setup_pages_cloudwatch_and_prometheus_reads():
    # Before: no GetMetricStatistics or aps:GetLabels/GetSeries/GetMetricMetadata, and an sqs action no trigger uses.
    assert iam.actions(_doc(_inputs("-keda-policy"))) == {
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "aps:QueryMetrics",
        "aps:GetLabels",
        "aps:GetSeries",
        "aps:GetMetricMetadata",
    }


# Upstream files: the setup page's shell heredocs, the managed policy's JSON, AWS's Terraform modules.


def _heredoc(text: str, target: str, occurrence: int = 0) -> str:
    """The body of the `occurrence`-th `cat ... <target>` heredoc."""
    starts = [m.end() for m in re.finditer(r"cat\s*<<\s*EOF\s*>\s*" + re.escape(target) + r"\n", text)]
    body = text[starts[occurrence] :]
    return body[: re.search(r"\n\s*EOF\n", body).start()]


def _json_after(text: str, marker: str) -> dict:
    tail = text[text.index(marker) :]
    return json.loads(re.search(r"```\n(\{.*?\})\n```", tail, re.S).group(1))


def _tf_block(text: str, header: str) -> str:
    tail = text[text.index(header) :]
    end = tail.find('\nresource "', 1)
    return tail if end < 0 else tail[:end]


def _tf_actions(block: str) -> set[str]:
    return set(re.findall(r'"([a-z0-9-]+:[A-Za-z*]+)"', block))


def _diff_is_listed(role: str, ours: set[str], upstream: set[str]) -> None:
    assert (ours - upstream) | (upstream - ours) == iam.listed(role), (
        f"{role}: ours only {sorted(ours - upstream)}, upstream only {sorted(upstream - ours)}; DEVIATIONS lists {sorted(iam.listed(role))}"
    )


def test_operator_role_matches_the_setup_page_the_managed_policy_and_terraform(upstream_dir):
    setup = (upstream_dir / SETUP).read_text()
    trust = json.loads(_heredoc(setup, "trust-policy.json"))["Statement"]
    assert set(trust[0]["Principal"]["Service"]) == set(iam.OPERATOR_TRUST_SERVICES)
    subs = [v for s in trust for k, v in s.get("Condition", {}).get("StringLike", {}).items() if k.endswith(":sub")]
    assert subs == [f"system:serviceaccount:hyperpod-inference-system:{iam.OPERATOR_SERVICE_ACCOUNT}"]
    terraform = _tf_block((upstream_dir / TF_OPERATOR).read_text(), 'resource "aws_iam_role" "inference_operator"')
    assert f':{iam.OPERATOR_SERVICE_ACCOUNT}"' in terraform and '"sagemaker.amazonaws.com"' in terraform
    assert (
        re.findall(r"--role-name \$HYPERPOD_INFERENCE_ROLE_NAME --policy-arn (\S+)", setup)
        == [iam.OPERATOR_ACCESS_POLICY] * 2
    )

    # The managed policy covers hyperpod-tls* buckets and passes SageMakerHyperPodInference* roles only.
    managed = _json_after((upstream_dir / MANAGED_OPERATOR).read_text(), "JSON policy document")
    s3_resources = {
        r
        for s in managed["Statement"]
        if any(a.startswith("s3:") for a in iam.actions({"Statement": [s]}))
        for r in s["Resource"]
    }
    assert all(r.startswith(f"arn:aws:s3:::{iam.OPERATOR_MANAGED_TLS_PREFIX}*") for r in s3_resources), s3_resources
    (pass_role,) = [s for s in managed["Statement"] if s["Action"] == ["iam:PassRole"]]
    assert pass_role["Resource"] == "arn:aws:iam::*:role/SageMakerHyperPodInference*"

    # The extra policy for other bucket names, statement by statement (actions, resources, conditions).
    extra = _json_after(setup, "If using a custom bucket name")
    upstream = json.loads(json.dumps(extra).replace("${BUCKET_NAME}", "my-tls-certs"))
    ours = iam.operator_tls_bucket_policy("my-tls-certs")
    assert ours["Statement"] == upstream["Statement"]
    _diff_is_listed("inference-operator", iam.actions(ours), iam.actions(upstream))
    assert iam.operator_tls_bucket_policy("hyperpod-tls-abc123") is None


def test_s3_csi_policy_matches_s3_mountpoint_access_policy_less_the_writes(upstream_dir):
    guide = json.loads(_heredoc((upstream_dir / SETUP).read_text(), "s3accesspolicy.json"))
    terraform = _tf_actions(_tf_block((upstream_dir / TF_OPERATOR).read_text(), 'resource "aws_iam_policy" "s3_csi"'))
    ours = iam.actions(iam.s3_csi_policy(["my-models"]))
    _diff_is_listed("s3-csi", ours, iam.actions(guide))
    assert ours == terraform, "the Terraform module's read-only grant"


def test_fsx_csi_managed_policy_matches_the_setup_page_helm_to_addon_and_terraform(upstream_dir):
    setup = (upstream_dir / SETUP).read_text()
    (guide,) = re.findall(r"--name fsx-csi-controller-sa.*?--attach-policy-arn (\S+)", setup, re.S)
    script = set(
        re.findall(r'--role-name "\$FSX_ROLE_NAME" --policy-arn "([^"]+)"', (upstream_dir / HELM_TO_ADDON).read_text())
    )
    terraform = re.findall(
        r'policy_arn\s*=\s*"([^"]+)"',
        _tf_block(
            (upstream_dir / TF_FSX).read_text(), 'resource "aws_iam_role_policy_attachment" "fsx_csi_driver_policy"'
        ),
    )
    assert {guide} == script == set(terraform) == set(iam.FSX_CSI_MANAGED_POLICIES)
    _diff_is_listed("fsx-csi", set(iam.FSX_CSI_MANAGED_POLICIES), {guide})


def test_csi_add_on_bindings_upstream_uses_fsx_pod_identity_in_terraform_and_irsa_elsewhere(upstream_dir):
    """Settles half of a named doubt: the FSx CSI add-on takes a Pod Identity association (AWS's Terraform
    fsx_lustre/main.tf binds fsx-csi-controller-sa so); every source binds the S3 CSI add-on with IRSA."""
    fsx = _tf_block((upstream_dir / TF_FSX).read_text(), 'resource "aws_eks_addon" "fsx_lustre_csi_driver"')
    assert "pod_identity_association {" in fsx and 'service_account = "fsx-csi-controller-sa"' in fsx
    main = (
        upstream_dir / f"{ADT}/terraform-modules/hyperpod-eks-tf/modules/hyperpod_inference_operator/main.tf"
    ).read_text()
    s3 = _tf_block(main, 'resource "aws_eks_addon" "s3_csi_driver"')
    assert "service_account_role_arn" in s3 and "pod_identity_association" not in s3
    setup = (upstream_dir / SETUP).read_text()
    for addon in ("aws-mountpoint-s3-csi-driver", "aws-fsx-csi-driver"):
        assert re.search(rf"--addon-name {addon} \\\n.*\n\s+--service-account-role-arn", setup), addon


def test_keda_policy_matches_the_setup_page_and_terraform(upstream_dir):
    setup = (upstream_dir / SETUP).read_text()
    guides = [iam.actions(json.loads(_heredoc(setup, "/tmp/keda-policy.json", i))) for i in (0, 1)]
    terraform = _tf_actions(
        _tf_block((upstream_dir / TF_OPERATOR).read_text(), 'resource "aws_iam_role_policy" "keda"')
    )
    assert guides[0] == guides[1] == terraform
    _diff_is_listed("keda", iam.actions(iam.keda_policy()), terraform)


def test_operator_role_put_object_tagging_on_the_stacks_bucket_comes_from_the_managed_policy(upstream_dir):
    # The v3.0 operator tags the certificates it writes: s3:PutObjectTagging,
    # acm:AddTagsToCertificate. The stack's own TLS bucket is named hyperpod-tls-*, so the managed policy's
    # S3PutObjectAccess statement grants both actions there; other bucket names get the setup page's policy.
    managed = _json_after((upstream_dir / MANAGED_OPERATOR).read_text(), "JSON policy document")
    puts = [s for s in managed["Statement"] if "s3:PutObjectTagging" in iam.actions({"Statement": [s]})]
    assert [s["Resource"] for s in puts] == [["arn:aws:s3:::hyperpod-tls*/*"]]
    assert "acm:AddTagsToCertificate" in iam.actions(managed)
    assert _inputs("-tls")["bucketPrefix"] == "hyperpod-tls-"
    assert "s3:PutObjectTagging" in iam.actions(iam.operator_tls_bucket_policy("my-tls-certs"))
    trust = _doc(_inputs("-operator-role"), "assumeRolePolicy")["Statement"]
    assert trust[0]["Principal"] == {"Service": ["sagemaker.amazonaws.com"]}
