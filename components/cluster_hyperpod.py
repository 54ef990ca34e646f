"""`HyperPodCluster`: a SageMaker HyperPod cluster orchestrated by an EKS control plane.

pulumi-aws has no HyperPod resource; `pulumi_aws_native.sagemaker.Cluster` (CloudFormation's
AWS::SageMaker::Cluster) has one. Its instances join the EKS cluster as nodes labelled with their
`ml.*` instance type, which is what the HyperPod inference operator schedules on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from .rules import clusters as cluster_rules, tags as tag_rules
from .rules.spec import ClusterSpec, InstanceGroup

INSTANCE_ROLE_POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"


@dataclass
class HyperPodClusterArgs:
    spec: ClusterSpec
    eks_cluster_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]  # private subnets
    security_group_ids: pulumi.Input[list[str]]  # must let nodes reach the EKS control plane and each other
    tags: dict[str, str] = field(default_factory=dict)


class HyperPodCluster(pulumi.ComponentResource):
    """Outputs: `cluster_arn`, `cluster_name`, `instance_group_names`."""

    cluster_arn: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    instance_group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: HyperPodClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:cluster:HyperPodCluster", name, None, opts)
        spec = args.spec
        tags = tag_rules.stack_tags(pulumi.get_stack(), spec.name, {**args.tags, **spec.tags})
        child = pulumi.ResourceOptions(parent=self)
        self.execution_role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            ),
            managed_policy_arns=[INSTANCE_ROLE_POLICY],
            tags=tags,
            opts=child,
        )
        lifecycle_buckets = sorted({g.lifecycle.source_s3_uri.split("/")[2] for g in spec.instance_groups if g.lifecycle})
        if lifecycle_buckets:
            aws.iam.RolePolicy(
                f"{name}-lifecycle-read",
                role=self.execution_role.id,
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["s3:GetObject", "s3:ListBucket"],
                                "Resource": [r for b in lifecycle_buckets for r in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")],
                            }
                        ],
                    }
                ),
                opts=child,
            )
        self.cluster = aws_native.sagemaker.Cluster(
            f"{name}-cluster",
            cluster_name=cluster_rules.hyperpod_name(spec),
            orchestrator={"eks": {"cluster_arn": args.eks_cluster_arn}},
            vpc_config={"security_group_ids": args.security_group_ids, "subnets": args.subnet_ids},
            node_recovery=spec.node_recovery,
            instance_groups=[self._group(g) for g in spec.instance_groups],
            tags=[{"key": k, "value": v} for k, v in sorted(tags.items())] or None,
            opts=child,
        )
        self.cluster_arn = self.cluster.cluster_arn
        self.cluster_name = pulumi.Output.from_input(cluster_rules.hyperpod_name(spec))
        self.instance_group_names = pulumi.Output.from_input([g.name for g in spec.instance_groups])
        self.register_outputs({"cluster_arn": self.cluster_arn, "cluster_name": self.cluster_name, "instance_group_names": self.instance_group_names})

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
            group["life_cycle_config"] = {"source_s3_uri": g.lifecycle.source_s3_uri, "on_create": g.lifecycle.on_create}
        if g.training_plan_arn:
            group["training_plan_arn"] = g.training_plan_arn
        return group
