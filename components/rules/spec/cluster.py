"""The cluster: network, system nodes, GPU node groups and HyperPod instance groups."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..bounds import ONE_LINE, Int32, LabelKey, LabelValue, Line
from .base import _Model

_ARN = r"^arn:aws[a-z-]*:"


class NetworkSpec(_Model):
    """The VPC of a new cluster (modes eks and hyperpod; ignored in mode existing): a new VPC with public and
    private subnets across availability zones (default), or the subnets of an existing VPC (`vpcId`).
    """

    vpc_id: Annotated[str, Field(max_length=21), ONE_LINE] | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    """Existing VPC to use instead of creating one; then `privateSubnetIds` are required and `cidr`,
    `availabilityZones` and `singleNatGateway` are ignored. Unset: the stack creates a VPC. Example:
    `vpc-0123456789abcdef0`
    """
    private_subnet_ids: list[Annotated[str, Field(max_length=24), ONE_LINE]] = Field(default_factory=list)
    """Private subnets of the existing VPC for the nodes, at least two in different availability zones (used only
    with `vpcId`). Example: `[subnet-0aaa1111bbbb2222c, subnet-0ddd3333eeee4444f]`
    """
    public_subnet_ids: list[Annotated[str, Field(max_length=24), ONE_LINE]] = Field(default_factory=list)
    """Public subnets of the existing VPC, passed to the EKS cluster (used only with `vpcId`). Example:
    `[subnet-0123aaaabbbbcccc1, subnet-0123ddddeeeeffff2]`
    """
    cidr: Annotated[str, Field(max_length=18), ONE_LINE] = Field(
        default="10.0.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])$"
    )
    """Address range of a new VPC, a /16 to /24. Private subnets are its first /19s (pods take VPC addresses);
    public subnets are /24s from its last /19. Example: `10.20.0.0/16`
    """
    availability_zones: Int32 = Field(default=2, ge=2, le=4)
    """Number of availability zones of a new VPC: one public and one private subnet in each. Example: `3`"""
    single_nat_gateway: bool = True
    """One NAT gateway for the whole new VPC (cheaper); `false`: one per availability zone (survives a zone
    outage). Example: `false`
    """

    @property
    def existing(self) -> bool:
        return self.vpc_id is not None


class SystemNodes(_Model):
    """The small CPU node group for the operator, controllers and add-ons, created with every new cluster (modes
    eks and hyperpod). Its nodes are amd64 (AL2023 x86_64), because the operator's images are amd64 only (rule
    G20).
    """

    instance_type: Annotated[str, Field(max_length=64), ONE_LINE] = "m6i.xlarge"
    """EC2 instance type of the system nodes: a CPU type, x86 (a GPU or Graviton type is rejected, rule G20).
    Example: `m6i.2xlarge`
    """
    min_size: Int32 = Field(default=2, ge=1)
    """Fewest system nodes. Example: `2`"""
    max_size: Int32 = Field(default=4, ge=1)
    """Most system nodes. Example: `4`"""
    desired_size: Int32 = Field(default=2, ge=1)
    """System nodes to start with, between `minSize` and `maxSize`. Example: `3`"""
    disk_size: Int32 = Field(default=50, ge=20)
    """Root disk of each system node, in GiB. Example: `100`"""


class GpuNodeGroup(_Model):
    """An EKS managed node group of GPU instances (mode eks only). Its nodes are labelled with their instance type
    and tainted `nvidia.com/gpu=true:NoSchedule`, so only GPU workloads land there.
    """

    name: Annotated[str, Field(max_length=40), ONE_LINE] = Field(
        min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
    )
    """Short name of the group; the node group is named `<cluster name>-<name>`. Example: `g5`"""
    instance_type: Annotated[str, Field(max_length=64), ONE_LINE]
    """EC2 GPU instance type, without the `ml.` prefix. Example: `g5.12xlarge`"""
    min_size: Int32 = Field(default=0, ge=0)
    """Fewest nodes. Example: `0`"""
    max_size: Int32 = Field(default=2, ge=1)
    """Most nodes. Example: `4`"""
    desired_size: Int32 = Field(default=1, ge=0)
    """Nodes to start with, between `minSize` and `maxSize`. Example: `1`"""
    disk_size: Int32 = Field(default=200, ge=50)
    """Root disk of each node, in GiB (gp3 through a launch template when `capacityReservationId` is set). Example:
    `400`
    """
    ami_type: Literal["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"] = "AL2023_x86_64_NVIDIA"
    """EKS AMI type of the nodes, with NVIDIA drivers. Example: `BOTTLEROCKET_x86_64_NVIDIA`"""
    capacity_type: Literal["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"] = "ON_DEMAND"
    """How the instances are bought: on demand, spot, or from a capacity block (which needs
    `capacityReservationId`). Example: `SPOT`
    """
    capacity_reservation_id: Annotated[str, Field(max_length=20), ONE_LINE] | None = Field(
        default=None, pattern=r"^cr-[0-9a-f]{8,17}$"
    )
    """Capacity reservation the nodes launch into, e.g. a capacity block; required with `capacityType:
    CAPACITY_BLOCK`. Unset: no reservation. Example: `cr-0123456789abcdef0`
    """
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Extra Kubernetes labels on the nodes, added to the stack's own (node role, instance type). Example: `{team:
    research}`
    """


class LifecycleScripts(_Model):
    """The lifecycle scripts a HyperPod instance group runs when an instance is created. The cluster's execution
    role gets read access to the bucket.
    """

    source_s3_uri: Annotated[str, Field(max_length=1024), ONE_LINE] = Field(pattern=r"^s3://[^/]+(/.*)?$")
    """S3 folder that holds the lifecycle scripts. Example: `s3://my-hyperpod-scripts/lifecycle/`"""
    on_create: Annotated[str, Field(max_length=255), ONE_LINE] = "on_create.sh"
    """Script in that folder that runs when an instance is created. Example: `on_create.sh`"""


class KubernetesTaint(_Model):
    """A Kubernetes taint put on every node of a HyperPod instance group."""

    key: LabelKey
    """Taint key. Example: `dedicated`"""
    value: LabelValue | None = None
    """Taint value. Unset: no value. Example: `inference`"""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
    """What the taint does to pods that do not tolerate it. Example: `NoExecute`"""


DeepHealthCheck = Literal["InstanceStress", "InstanceConnectivity"]


def _all_deep_health_checks() -> list[DeepHealthCheck]:
    return ["InstanceStress", "InstanceConnectivity"]


class InstanceGroup(_Model):
    """A SageMaker HyperPod instance group (mode hyperpod only): GPU instances that join the EKS cluster as nodes."""

    name: Annotated[str, Field(max_length=63), ONE_LINE] = Field(min_length=1, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
    """Name of the instance group. Example: `gpu-g5`"""
    instance_type: Annotated[str, Field(max_length=64), ONE_LINE]
    """GPU instance type; the `ml.` prefix is added when missing. Example: `ml.g5.12xlarge`"""
    instance_count: Int32 = Field(default=1, ge=0)
    """Number of instances. Example: `2`"""
    volume_size_gb: Int32 = Field(default=500, ge=1)
    """EBS volume attached to each instance, in GB, mounted at `/opt/sagemaker`; the stack's default lifecycle
    script puts containerd's images and the kubelet's pod storage on it. Example: `1000`"""
    lifecycle: LifecycleScripts | None = None
    """Your own lifecycle scripts, run on instance creation. Unset: the stack uploads its own `on_create.sh` to a
    private bucket it creates; the script moves containerd and the kubelet onto the `/opt/sagemaker` volume, as
    AWS's base configuration does. Example: `{sourceS3Uri: s3://my-hyperpod-scripts/lifecycle/}`
    """
    deep_health_checks: list[DeepHealthCheck] = Field(default_factory=_all_deep_health_checks)
    """Deep health checks HyperPod runs when instances start; an empty list runs none. Example: `[InstanceStress]`"""
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    """Extra Kubernetes labels on the nodes, added to the stack's own (node role, instance type). Example: `{team:
    research}`
    """
    taints: list[KubernetesTaint] = Field(default_factory=list)
    """Kubernetes taints on the nodes. Example: `[{key: dedicated, value: inference, effect: NoSchedule}]`"""
    threads_per_core: Literal[1, 2] = 1
    """Threads per CPU core: `1` turns hyperthreading off, `2` on. Example: `2`"""
    training_plan_arn: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=_ARN + "sagemaker:"
    )
    """SageMaker training plan whose reserved capacity the group uses. Unset: none. Example:
    `arn:aws:sagemaker:us-east-1:123456789012:training-plan/my-plan`
    """


class ClusterSpec(_Model):
    """The Kubernetes cluster: a new EKS cluster (`mode: eks`), a new EKS cluster orchestrating a SageMaker
    HyperPod cluster (`mode: hyperpod`), or an existing cluster the stack adopts without creating any AWS
    resource for it (`mode: existing`).
    """

    mode: Literal["eks", "hyperpod", "existing"]
    """Which cluster: a new EKS cluster, a new EKS cluster with a HyperPod cluster, or an existing cluster (nothing
    created in AWS for it). Example: `eks`
    """
    name: Annotated[str, Field(max_length=100), ONE_LINE] = Field(min_length=1, pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
    """Name of the EKS cluster: the one created (modes eks and hyperpod) or the one adopted (mode existing). Node
    group names and the HyperPod cluster's name derive from it. Example: `llm-dev`
    """
    kubernetes_version: Annotated[str, Field(max_length=8), ONE_LINE] = Field(default="1.33", pattern=r"^1\.\d{2}$")
    """Kubernetes version of a new EKS cluster (ignored in mode existing). Example: `"1.33"`"""
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    """VPC of a new cluster (ignored in mode existing). Example: `{cidr: 10.20.0.0/16, availabilityZones: 3}`"""
    admin_principal_arns: list[Annotated[str, Field(max_length=2048), ONE_LINE]] = Field(default_factory=list)
    """IAM principals given cluster-admin on a new cluster through EKS access entries
    (AmazonEKSClusterAdminPolicy); ignored in mode existing. Example:
    `[arn:aws:iam::123456789012:role/platform-admins]`
    """
    system_nodes: SystemNodes = Field(default_factory=SystemNodes)
    """CPU node group of a new cluster (ignored in mode existing). Example: `{instanceType: m6i.2xlarge,
    desiredSize: 3}`
    """
    gpu_node_groups: list[GpuNodeGroup] = Field(default_factory=list)
    """GPU managed node groups (mode eks only; rejected in other modes). Unset or empty: one group per endpoint
    instance type (NVIDIA AMI, the stack's GPU labels and taint), `desiredSize` and `maxSize` the endpoints'
    replicas (their autoscaling maximum when set), announced in the plan. Example: `[{name: g5, instanceType:
    g5.12xlarge}]`
    """
    instance_groups: list[InstanceGroup] = Field(default_factory=list)
    """HyperPod instance groups (mode hyperpod only; rejected in other modes). Unset or empty: one group per
    endpoint instance type, sized for the endpoints' replicas (their autoscaling maximum when set). Example:
    `[{name: gpu, instanceType: ml.g5.12xlarge, instanceCount: 2}]`
    """
    hyperpod_name: Annotated[str, Field(max_length=63), ONE_LINE] | None = None
    """Name of the HyperPod cluster (mode hyperpod); characters other than letters, digits and `-` become `-`.
    Unset: `<name>-hp`. Example: `llm-dev-hyperpod`
    """
    node_recovery: Literal["Automatic", "None"] = "Automatic"
    """Whether HyperPod replaces faulty instances automatically (mode hyperpod). Example: `None`"""
    kubeconfig_path: Line | None = None
    """Mode existing: a kubeconfig file to reach the cluster (`~` is expanded). Unset: a kubeconfig built from `aws
    eks` data of the cluster `name`, which authenticates with `aws eks get-token`. Example:
    `~/.kube/llm-prod.yaml`
    """
    hyperpod_cluster_arn: Annotated[str, Field(max_length=2048), ONE_LINE] | None = Field(
        default=None, pattern=_ARN + "sagemaker:"
    )
    """Mode existing only: ARN of the HyperPod cluster this EKS cluster orchestrates. It says the HyperPod operator
    runs there (so endpoints default to the hyperpod backend) and is passed to the operator. Example:
    `arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdef123456`
    """
    endpoint_public_access: bool = True
    """Expose the EKS API endpoint of a new cluster to the internet (to `publicAccessCidrs`); `false`: reachable
    from inside the VPC only. Ignored in mode existing. Example: `false`
    """
    public_access_cidrs: list[Annotated[str, Field(max_length=43), ONE_LINE]] = Field(
        default_factory=lambda: ["0.0.0.0/0"]
    )
    """Networks allowed to reach the public EKS API of a new cluster; ignored (with a warning) when
    `endpointPublicAccess` is false. `pulumi up` must be inside one of them, so an empty list or a documentation
    range (RFC 5737, RFC 3849) is an error; security rule S4 rejects `0.0.0.0/0` outside dev stacks. Example:
    `[34.201.17.8/32]`
    """
    tags: dict[Line, Line] = Field(default_factory=dict)
    """AWS tags on every taggable AWS resource the stack creates, and on the ALBs of the load balancer controller
    it installs. At most 40; keys starting with `llm-serving/` or `aws:` are reserved, and `=` is not allowed in
    keys. Example: `{team: ml-platform, cost-center: "1234"}`
    """
