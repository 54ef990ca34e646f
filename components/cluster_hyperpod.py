"""`HyperPodCluster`: a SageMaker HyperPod cluster orchestrated by an EKS control plane.

pulumi-aws has no HyperPod resource; `pulumi_aws_native.sagemaker.Cluster` (CloudFormation's
AWS::SageMaker::Cluster) has one. Its instances join the EKS cluster as nodes labelled with their
`ml.*` instance type, which is what the HyperPod inference operator schedules on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native
import pulumi_kubernetes as k8s

from .rules import addons as addon_rules
from .rules import clusters as cluster_rules
from .rules import iam
from .rules import tags as tag_rules
from .rules.addons import AddonPlan
from .rules.spec import ClusterSpec, InstanceGroup

ON_CREATE = "on_create.sh"
ON_CREATE_SCRIPT = Path(__file__).with_name("lifecycle") / ON_CREATE
LIFECYCLE_BUCKET_PREFIX = "sagemaker-hyperpod-lifecycle-"  # 29 of pulumi-aws's 37 characters


@dataclass
class HyperPodClusterArgs:
    spec: ClusterSpec
    eks_cluster_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]  # private subnets
    security_group_ids: pulumi.Input[list[str]]  # must let nodes reach the EKS control plane and each other
    tags: dict[str, str] = field(default_factory=dict)
    after: list[pulumi.Resource] = field(
        default_factory=list
    )  # the HyperPod Helm chart (O5): the cluster itself waits for it


class HyperPodCluster(pulumi.ComponentResource):
    """Outputs: `cluster_arn`, `cluster_name`, `instance_group_names`."""

    cluster_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    instance_group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: HyperPodClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:cluster:HyperPodCluster", name, None, opts)
        spec = args.spec
        tags = tag_rules.stack_tags(pulumi.get_stack(), spec.name, {**args.tags, **spec.tags})
        child = pulumi.ResourceOptions(parent=self)
        # HyperPod uses this role as the nodes' instance role: networking, image pulls, Pod Identity
        # (rules/iam.py, from the developer guide and AWS's CloudFormation sample).
        self.execution_role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=json.dumps(iam.HYPERPOD_TRUST),
            managed_policy_arns=list(iam.HYPERPOD_MANAGED_POLICIES),
            tags=tags,
            opts=child,
        )
        own_buckets = sorted({g.lifecycle.source_s3_uri.split("/")[2] for g in spec.instance_groups if g.lifecycle})
        self.lifecycle_uri: pulumi.Output[str] | None = None
        bucket_names: list[pulumi.Input[str]] = list(own_buckets)
        scripts: list[pulumi.Resource] = []
        if any(g.lifecycle is None for g in spec.instance_groups):
            bucket, script = self._lifecycle_bucket(name, tags)
            self.lifecycle_uri = pulumi.Output.concat("s3://", bucket.bucket, "/")
            bucket_names.append(bucket.bucket)
            scripts.append(script)
        self.execution_policy = aws.iam.RolePolicy(
            f"{name}-execution-policy",
            role=self.execution_role.id,
            policy=pulumi.Output.all(*bucket_names).apply(
                lambda names: json.dumps(iam.hyperpod_execution_policy(list(names)))
            ),
            opts=child,
        )
        self.cluster = aws_native.sagemaker.Cluster(  # type: ignore[call-overload]  # the SDK's types name only its Args classes; it takes the dict form too
            f"{name}-cluster",
            cluster_name=cluster_rules.hyperpod_name(spec),
            orchestrator={"eks": {"cluster_arn": args.eks_cluster_arn}},
            vpc_config={"security_group_ids": args.security_group_ids, "subnets": args.subnet_ids},
            node_recovery=spec.node_recovery,
            instance_groups=[self._group(g) for g in spec.instance_groups],
            tags=[{"key": k, "value": v} for k, v in sorted(tags.items())] or None,
            # Nodes boot with the role's permissions and run the script on create: both exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.execution_policy, *scripts, *args.after]),
        )
        self.cluster_arn = self.cluster.cluster_arn
        self.cluster_name = pulumi.Output.from_input(cluster_rules.hyperpod_name(spec))
        self.instance_group_names = pulumi.Output.from_input([g.name for g in spec.instance_groups])
        self.register_outputs(
            {
                "cluster_arn": self.cluster_arn,
                "cluster_name": self.cluster_name,
                "instance_group_names": self.instance_group_names,
            }
        )

    def _lifecycle_bucket(self, name: str, tags: dict[str, str]) -> tuple[aws.s3.Bucket, aws.s3.BucketObjectv2]:
        """A private bucket holding the project's on_create script (containerd and kubelet on the
        instance group's /opt/sagemaker volume), for every group that names no lifecycle of its own."""
        child = pulumi.ResourceOptions(parent=self)
        # "Make sure that the S3 bucket path starts with s3://sagemaker-" (API reference,
        # ClusterLifeCycleConfig.SourceS3Uri): the managed instance-role policy reads only those
        # buckets. AWS's sample (awsome-distributed-training s3-bucket-stack.yaml) names its bucket so.
        bucket = aws.s3.Bucket(
            f"{name}-lifecycle", bucket_prefix=LIFECYCLE_BUCKET_PREFIX, force_destroy=True, tags=tags, opts=child
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-lifecycle",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        script = aws.s3.BucketObjectv2(
            f"{name}-lifecycle-on-create",
            bucket=bucket.id,
            key=ON_CREATE,
            source=pulumi.FileAsset(str(ON_CREATE_SCRIPT)),
            content_type="text/x-shellscript",
            tags=tags,
            opts=child,
        )
        return bucket, script

    def _group(self, g: InstanceGroup) -> dict:
        group: dict = {
            "instance_group_name": g.name,
            "instance_type": cluster_rules.hyperpod_instance_type(g.instance_type),
            "instance_count": g.instance_count,
            "execution_role": self.execution_role.arn,
            "threads_per_core": g.threads_per_core,
            "instance_storage_configs": [{"ebs_volume_config": {"volume_size_in_gb": g.volume_size_gb}}],
            "kubernetes_config": {
                "labels": cluster_rules.gpu_node_labels(g.labels, g.instance_type),
                "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in g.taints] or None,
            },
        }
        if g.deep_health_checks:
            group["on_start_deep_health_checks"] = list(g.deep_health_checks)
        if g.lifecycle:
            group["life_cycle_config"] = {
                "source_s3_uri": g.lifecycle.source_s3_uri,
                "on_create": g.lifecycle.on_create,
            }
        elif self.lifecycle_uri is not None:
            group["life_cycle_config"] = {"source_s3_uri": self.lifecycle_uri, "on_create": ON_CREATE}
        if g.training_plan_arn:
            group["training_plan_arn"] = g.training_plan_arn
        return group


def hyperpod_dependencies(
    chart_dir: str,
    provider: k8s.Provider,
    plan: AddonPlan,
    after: list[pulumi.Resource],
    instance_types: Sequence[str] = (),
) -> k8s.helm.v4.Chart:
    """The HyperPod Helm chart (health-monitoring agent, deep-health-check RBAC, device plugins), which
    must be installed before the HyperPod cluster is created (rule O5; AWS docs
    sagemaker-hyperpod-eks-prerequisites.md). Release name and namespace as AWS's CloudFormation
    (awsome-distributed-training helm-chart-stack.yaml) installs it. `instance_types`: the instance
    groups' types, which the chart's NVIDIA device plugin is scheduled on (rule O7)."""
    return k8s.helm.v4.Chart(
        addon_rules.HYPERPOD_CHART_RELEASE,
        chart=chart_dir,
        name=addon_rules.HYPERPOD_CHART_RELEASE,
        namespace=addon_rules.HYPERPOD_CHART_NAMESPACE,
        values=addon_rules.hyperpod_chart_values(plan, instance_types),
        # `helm dependencies update` first (helm_chart/readme.md): subcharts are file:// and Helm repositories.
        dependency_update=True,
        opts=pulumi.ResourceOptions(provider=provider, depends_on=after),
    )
