"""Kubernetes clusters: `EksCluster` (a new EKS control plane with a CPU system node group and,
in mode eks, GPU managed node groups) and `ExistingCluster` (adopt one by name or kubeconfig file).

Both expose the same few outputs: `kubeconfig` (a secret), `cluster_name`, `node_group_names`.
The program builds the one Kubernetes provider from `kubeconfig`; nothing reads ~/.kube/config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from benchmarks import inputs

from .network import Network
from .rules import clusters as cluster_rules
from .rules import tags as tag_rules
from .rules.spec import ClusterSpec, GpuNodeGroup

ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonSSMManagedInstanceCore",
)

KUBECONFIG_MAX_BYTES = 16 * 1024 * 1024  # a kubeconfig is kilobytes, even with many clusters and inline certificates


@dataclass
class EksClusterArgs:
    spec: ClusterSpec
    region: str
    network: Network
    tags: dict[str, str] = field(default_factory=dict)


class EksCluster(pulumi.ComponentResource):
    """Outputs: `kubeconfig` (secret), `cluster_name`, `cluster_arn`, `node_group_names`,
    `oidc_provider_arn`, `oidc_provider_url`, `cluster_security_group_id`."""

    kubeconfig: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    node_group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:cluster:EksCluster", name, None, opts)
        spec = args.spec
        net = args.network
        tags = tag_rules.stack_tags(pulumi.get_stack(), spec.name, {**args.tags, **spec.tags})
        child = pulumi.ResourceOptions(parent=self)
        access = {
            f"admin-{i}": eks.AccessEntryArgs(
                principal_arn=arn,
                # The SDK's type names only its Args class for access_scope; it takes the dict form too.
                access_policies={
                    "admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=ADMIN_POLICY,
                        access_scope={"type": "cluster"},  # type: ignore[arg-type]
                    )
                },
                tags=tags,
            )
            for i, arn in enumerate(spec.admin_principal_arns)
        }
        self.eks = eks.Cluster(
            f"{name}-eks",
            name=spec.name,  # fixed, so the ARN, kubeconfig and HyperPod orchestrator are known up front
            version=spec.kubernetes_version,
            vpc_id=net.vpc_id,
            private_subnet_ids=net.private_subnet_ids,
            public_subnet_ids=net.public_subnet_ids,
            # API mode: access entries instead of the aws-auth ConfigMap (HyperPod requires API or
            # API_AND_CONFIG_MAP).
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access or None,
            create_oidc_provider=True,  # IRSA for the operator's execution role and KEDA
            skip_default_node_group=True,
            # One security group for every node, as AWS's HyperPod-on-EKS stacks do: the EKS-created
            # cluster security group, which managed node groups use and which allows all traffic within
            # itself. pulumi-eks's own node group would leave HyperPod nodes and the system nodes
            # (CoreDNS, webhooks, the operator) in two groups with no rule between them.
            skip_default_security_groups=True,
            node_associate_public_ip_address=False,
            endpoint_private_access=True,
            endpoint_public_access=spec.endpoint_public_access,
            public_access_cidrs=spec.public_access_cidrs if spec.endpoint_public_access else None,
            enabled_cluster_log_types=["api", "audit", "authenticator"],
            tags=tags,
            opts=child,
        )
        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}",
                role=self.node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in NODE_POLICIES
        ]
        # Nodes need the private subnets' NAT routes to join: wait for the whole network.
        deps = [*attachments, net]
        groups = [self._system_group(name, spec, net, tags, deps)]
        if spec.mode == "eks":
            groups += [self._gpu_group(name, spec, g, net, tags, deps) for g in spec.gpu_node_groups]
        self.node_groups = groups
        names = [f"{spec.name}-system"] + (
            [f"{spec.name}-{g.name}" for g in spec.gpu_node_groups] if spec.mode == "eks" else []
        )

        self.kubeconfig = pulumi.Output.secret(self.eks.kubeconfig_json)
        self.cluster_name = pulumi.Output.from_input(spec.name)
        ident = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self))
        part = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self))
        self.cluster_arn = pulumi.Output.all(part.partition, ident.account_id).apply(
            lambda a: cluster_rules.eks_cluster_arn(a[0], args.region, a[1], spec.name)
        )
        self.node_group_names = pulumi.Output.from_input(names)
        self.oidc_provider_arn = self.eks.oidc_provider_arn
        self.oidc_provider_url = self.eks.oidc_provider_url
        # With skip_default_security_groups this is the EKS-created cluster security group.
        self.cluster_security_group_id = self.eks.cluster_security_group_id
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "node_group_names": self.node_group_names,
            }
        )

    def _system_group(self, name: str, spec: ClusterSpec, net: Network, tags: dict, deps: list) -> eks.ManagedNodeGroup:
        s = spec.system_nodes
        return eks.ManagedNodeGroup(
            f"{name}-system",
            cluster=self.eks,
            node_group_name=f"{spec.name}-system",
            node_role=self.node_role,
            subnet_ids=net.private_subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",  # amd64: the operator's images are amd64 only (G20)
            instance_types=[s.instance_type],
            scaling_config={"min_size": s.min_size, "max_size": s.max_size, "desired_size": s.desired_size},
            disk_size=s.disk_size,
            labels={cluster_rules.NODE_ROLE_LABEL: "system"},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )

    def _gpu_group(
        self, name: str, spec: ClusterSpec, g: GpuNodeGroup, net: Network, tags: dict, deps: list
    ) -> eks.ManagedNodeGroup:
        child = pulumi.ResourceOptions(parent=self)
        extra: dict = {}
        if g.capacity_reservation_id:
            # A reservation needs a launch template; EKS then rejects disk_size, so the disk moves there too.
            lt = aws.ec2.LaunchTemplate(
                f"{name}-{g.name}-lt",
                capacity_reservation_specification={
                    "capacity_reservation_target": {"capacity_reservation_id": g.capacity_reservation_id}
                },
                block_device_mappings=[
                    {
                        "device_name": "/dev/xvda",
                        "ebs": {"volume_size": g.disk_size, "volume_type": "gp3", "delete_on_termination": "true"},
                    }
                ],
                # Node group tags stop at the node group; these reach the GPU instances and their disks (cost).
                tag_specifications=[{"resource_type": kind, "tags": tags} for kind in ("instance", "volume")],
                tags=tags,
                opts=child,
            )
            extra["launch_template"] = {"id": lt.id, "version": lt.latest_version.apply(str)}
        else:
            extra["disk_size"] = g.disk_size
        return eks.ManagedNodeGroup(
            f"{name}-{g.name}",
            cluster=self.eks,
            node_group_name=f"{spec.name}-{g.name}",
            node_role=self.node_role,
            subnet_ids=net.private_subnet_ids,
            # Passed as the plain API string, not via `gpu=True`/operating_system: pulumi-eks #1578
            # (the ami_type enum of some provider builds rejected AL2023_x86_64_NVIDIA).
            ami_type=g.ami_type,
            capacity_type=g.capacity_type,
            instance_types=[g.instance_type],
            scaling_config={"min_size": g.min_size, "max_size": g.max_size, "desired_size": g.desired_size},
            labels=cluster_rules.gpu_node_labels(g.labels, g.instance_type),
            taints=[
                {
                    "key": cluster_rules.GPU_TAINT["key"],
                    "value": cluster_rules.GPU_TAINT["value"],
                    "effect": "NO_SCHEDULE",
                }
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
            **extra,
        )


@dataclass
class ExistingClusterArgs:
    spec: ClusterSpec
    region: str


class ExistingCluster(pulumi.ComponentResource):
    """Adopt a cluster: a kubeconfig file when `kubeconfigPath` is set, else one built from
    `aws eks describe-cluster` data (endpoint and CA) that authenticates with `aws eks get-token`.
    Declares nothing in AWS."""

    kubeconfig: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    node_group_names: pulumi.Output[list[str]]

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-serving:cluster:ExistingCluster", name, None, opts)
        spec = args.spec
        if spec.kubeconfig_path:
            path = Path(spec.kubeconfig_path).expanduser()
            if not path.exists():
                raise pulumi.RunError(
                    f"cluster.kubeconfigPath = {spec.kubeconfig_path!r}: [CONFIG] file not found. Fix: point it at a kubeconfig file"
                )
            try:  # the one reader: a FIFO or device here would hang or never end `pulumi up`
                text = inputs.read_text(
                    path,
                    max_bytes=KUBECONFIG_MAX_BYTES,
                    what="kubeconfig",
                    fix="point cluster.kubeconfigPath at a kubeconfig file",
                    syntax="yaml",
                )
            except inputs.InputError as exc:
                raise pulumi.RunError(f"cluster.kubeconfigPath = {spec.kubeconfig_path!r}: [CONFIG] {exc}") from None
            self.kubeconfig = pulumi.Output.secret(text)
            self.cluster_arn = pulumi.Output.from_input("")
            self.vpc_id = pulumi.Output.from_input("")
            self.oidc_provider_arn = self.oidc_provider_url = None
        else:
            data = aws.eks.get_cluster_output(name=spec.name, opts=pulumi.InvokeOptions(parent=self))
            self.kubeconfig = pulumi.Output.secret(
                pulumi.Output.all(data.endpoint, data.certificate_authorities).apply(
                    lambda a: json.dumps(
                        cluster_rules.kubeconfig(
                            spec.name, a[0], a[1][0]["data"] if isinstance(a[1][0], dict) else a[1][0].data, args.region
                        )
                    )
                )
            )
            self.cluster_arn = data.arn
            self.vpc_id = data.vpc_config.apply(lambda v: v["vpc_id"] if isinstance(v, dict) else v.vpc_id)
            # IRSA for the operator: the cluster's OIDC provider, assumed registered in IAM.
            self.oidc_provider_url = data.identities.apply(lambda ids: _issuer(ids).removeprefix("https://"))
            self.oidc_provider_arn = pulumi.Output.all(data.arn, self.oidc_provider_url).apply(
                lambda a: f"arn:{a[0].split(':')[1]}:iam::{a[0].split(':')[4]}:oidc-provider/{a[1]}"
            )
        self.cluster_name = pulumi.Output.from_input(spec.name)
        self.node_group_names = pulumi.Output.from_input([])
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "cluster_name": self.cluster_name,
                "node_group_names": self.node_group_names,
            }
        )


def _issuer(identities) -> str:
    first = identities[0] if identities else {}
    oidcs = first.get("oidcs") if isinstance(first, dict) else getattr(first, "oidcs", [])
    entry = (oidcs or [{}])[0]
    return (entry.get("issuer") if isinstance(entry, dict) else getattr(entry, "issuer", "")) or ""
