"""Cluster validation and shapes (G8, G11, G20): the checks of a cluster spec, the default HyperPod
instance groups, GPU node labels and taint, kubeconfig, cluster names and ARNs."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from . import hyperpod_fields, instances, naming
from .addons import OPERATOR_PREREQUISITES, OPERATOR_ROLE_PREFIX, operator_role_name, resolve_addons
from .backends import backend_for
from .catalog import G8, G11, G20
from .endpoint import GPU
from .paths import STACK_FILE, ConfigPaths
from .problems import Change, Problem
from .spec import ClusterSpec, EndpointSpec, GpuNodeGroup, InstanceGroup, PlatformSpec
from .tags import validate_tags

_GRAVITON = re.compile(r"^[a-z]+\d+g[a-z]*$")  # m7g, c7gn, r8gd: arm64
GPU_TAINT = {"key": GPU, "value": "true", "effect": "NoSchedule"}
INSTANCE_TYPE_LABEL = "llm-serving/instance-type"
NODE_ROLE_LABEL = "llm-serving/node-role"


# Documentation ranges (RFC 5737, RFC 3849): no host's traffic comes from them, so an API open only
# to them is closed to the `pulumi up` that goes on to install charts and endpoints through it.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
UNREACHABLE_API = "`pulumi up` could not reach the cluster it creates"
SET_API_ACCESS = "set publicAccessCidrs to your CI and VPN egress ranges, or endpointPublicAccess: false and run Pulumi from inside the VPC"


def documentation_network(cidr: str) -> str | None:
    """The documentation range a CIDR lies in, or None (also for text that is no CIDR)."""
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    return next((str(doc) for doc in DOCUMENTATION_NETWORKS if net.version == doc.version and net.subnet_of(doc)), None)  # type: ignore[arg-type]


def _check_public_access(cluster: ClusterSpec, path: str) -> list[Problem]:
    """The EKS API's publicAccessCidrs, before EKS rejects them mid-`up` or `up` cannot reach the API it
    made (an empty list, a documentation range); S4 judges 0.0.0.0/0."""
    problems: list[Problem] = []
    public = cluster.mode in ("eks", "hyperpod") and cluster.endpoint_public_access
    for i, cidr in enumerate(cluster.public_access_cidrs):
        try:
            ipaddress.ip_network(cidr, strict=True)
        except ValueError as exc:
            try:
                fix = f"use {ipaddress.ip_network(cidr, strict=False)}"  # host bits set
            except ValueError:
                fix = "write your CI or VPN egress range as a CIDR (one address: a.b.c.d/32)"
            problems.append(Problem(f"{path}.publicAccessCidrs[{i}]", cidr, "CONFIG", f"not a CIDR ({exc})", fix))
            continue
        doc = documentation_network(cidr)
        if public and doc:
            problems.append(
                Problem(
                    f"{path}.publicAccessCidrs[{i}]",
                    cidr,
                    "CONFIG",
                    f"inside {doc}, a documentation range: {UNREACHABLE_API}",
                    SET_API_ACCESS,
                )
            )
    if public and not cluster.public_access_cidrs:
        problems.append(
            Problem(
                f"{path}.publicAccessCidrs",
                [],
                "CONFIG",
                f"a public EKS API endpoint needs at least one allowed range: {UNREACHABLE_API}",
                SET_API_ACCESS,
            )
        )
    if not cluster.endpoint_public_access and "public_access_cidrs" in cluster.model_fields_set:
        problems.append(
            Problem(
                f"{path}.publicAccessCidrs",
                cluster.public_access_cidrs,
                "CONFIG",
                "ignored: endpointPublicAccess is false, so the API is reachable only from inside the VPC",
                "remove publicAccessCidrs, or set endpointPublicAccess: true",
                severity="warning",
            )
        )
    return problems


def validate_cluster(
    cluster: ClusterSpec, platform: PlatformSpec, endpoints: Iterable[EndpointSpec], paths: ConfigPaths = STACK_FILE
) -> list[Problem]:
    path = paths.cluster
    problems: list[Problem] = validate_tags(cluster.tags, f"{path}.tags") + _check_public_access(cluster, path)
    endpoints = list(endpoints)
    plan = resolve_addons(cluster.mode, platform)
    net = cluster.network
    if cluster.mode in ("eks", "hyperpod"):
        if net.existing and len(net.private_subnet_ids) < 2:
            problems.append(
                Problem(
                    f"{path}.network.privateSubnetIds",
                    net.private_subnet_ids,
                    "CONFIG",
                    "an existing VPC needs at least two private subnets in different AZs",
                    "list two or more private subnet IDs, or drop vpcId to create a VPC",
                )
            )
        if not net.existing and (net.private_subnet_ids or net.public_subnet_ids):
            problems.append(
                Problem(
                    f"{path}.network.vpcId",
                    None,
                    "CONFIG",
                    "subnet IDs given without the VPC they belong to",
                    "set network.vpcId",
                )
            )
        sys = cluster.system_nodes
        if not sys.min_size <= sys.desired_size <= sys.max_size:
            problems.append(
                Problem(
                    f"{path}.systemNodes",
                    sys.model_dump(by_alias=True),
                    "CONFIG",
                    "needs minSize <= desiredSize <= maxSize",
                    "fix the sizes",
                )
            )
        if instances.is_gpu_instance(sys.instance_type):
            problems.append(
                Problem(
                    f"{path}.systemNodes.instanceType",
                    sys.instance_type,
                    G20,
                    "the system node group runs the operator and controllers; a GPU instance there is waste",
                    "use a CPU instance type such as m6i.xlarge",
                )
            )
        if _GRAVITON.match(sys.instance_type.split(".")[0]):
            problems.append(
                Problem(
                    f"{path}.systemNodes.instanceType",
                    sys.instance_type,
                    G20,
                    "the operator runs on amd64 nodes; this looks like a Graviton (arm64) type",
                    "use an x86 type such as m6i.xlarge",
                )
            )
    for i, group in enumerate(cluster.gpu_node_groups):
        where = f"{path}.gpuNodeGroups[{i}]"
        if cluster.mode != "eks":
            problems.append(
                Problem(
                    where,
                    group.name,
                    "CONFIG",
                    f"GPU managed node groups are for mode eks, not {cluster.mode}",
                    "remove it, or use instanceGroups for hyperpod",
                )
            )
        if not instances.is_gpu_instance(group.instance_type) or group.instance_type.startswith("ml."):
            problems.append(
                Problem(
                    f"{where}.instanceType",
                    group.instance_type,
                    G11,
                    "not a known EC2 GPU instance type",
                    f"use one of {', '.join(instances.known_sizes(group.instance_type)) or 'g5.xlarge, g6e.xlarge, p5.48xlarge'}",
                )
            )
        if not group.min_size <= group.desired_size <= group.max_size:
            problems.append(
                Problem(
                    where,
                    {"minSize": group.min_size, "desiredSize": group.desired_size, "maxSize": group.max_size},
                    "CONFIG",
                    "needs minSize <= desiredSize <= maxSize",
                    "fix the sizes",
                )
            )
        if group.capacity_type == "CAPACITY_BLOCK" and not group.capacity_reservation_id:
            problems.append(
                Problem(
                    f"{where}.capacityReservationId",
                    None,
                    "CONFIG",
                    "a capacity block needs its reservation",
                    "set capacityReservationId: cr-...",
                )
            )
    for i, instance_group in enumerate(cluster.instance_groups):
        where = f"{path}.instanceGroups[{i}]"
        if cluster.mode != "hyperpod":
            problems.append(
                Problem(
                    where,
                    instance_group.name,
                    "CONFIG",
                    f"HyperPod instance groups are for mode hyperpod, not {cluster.mode}",
                    "remove it, or use gpuNodeGroups for eks",
                )
            )
        if not instances.is_gpu_instance(instance_group.instance_type):
            problems.append(
                Problem(
                    f"{where}.instanceType",
                    instance_group.instance_type,
                    G11,
                    "not a known GPU instance type",
                    f"use one of {', '.join(instances.known_sizes(instance_group.instance_type)) or 'ml.g5.8xlarge'}",
                )
            )
    if cluster.mode == "eks" and not cluster.gpu_node_groups and not endpoints:
        problems.append(
            Problem(
                f"{path}.gpuNodeGroups",
                [],
                "CONFIG",
                "mode eks without a GPU node group has nowhere to run a model",
                "add one, e.g. [{name: g5, instanceType: g5.12xlarge}], or an endpoint to derive one from",
                severity="warning",
            )
        )
    if cluster.mode == "hyperpod" and not cluster.instance_groups and not endpoints:
        problems.append(
            Problem(
                f"{path}.instanceGroups",
                [],
                "CONFIG",
                "mode hyperpod with no instance group and no endpoint to derive one from has nowhere to run a model",
                "add one, e.g. [{name: gpu, instanceType: ml.g5.12xlarge, instanceCount: 1}]",
                severity="warning",
            )
        )
    role = operator_role_name(platform, cluster.name)
    if plan["hyperpod_operator"] and platform.operator_install == "addon" and not role.startswith(OPERATOR_ROLE_PREFIX):
        problems.append(
            Problem(
                f"{paths.platform}.operatorRoleName",
                platform.operator_role_name,
                G20,
                f"the add-on's execution role name must start with {OPERATOR_ROLE_PREFIX}",
                f"use {OPERATOR_ROLE_PREFIX}-{{cluster}}",
            )
        )
    if plan["hyperpod_operator"]:
        missing = [a for a in OPERATOR_PREREQUISITES if not plan[a]]
        if missing and cluster.mode != "existing":
            problems.append(
                Problem(
                    paths.platform,
                    {a: False for a in missing},
                    G20,
                    f"the HyperPod operator needs {', '.join(missing)} first",
                    "switch them on (or switch hyperpodOperator off)",
                )
            )
    for i, ep in enumerate(endpoints):
        if ep.public_alb and not plan["load_balancer_controller"] and cluster.mode != "existing":
            problems.append(
                Problem(
                    f"{paths.endpoint(i)}.publicAlb",
                    True,
                    G8,
                    "an ALB needs the AWS Load Balancer Controller",
                    f"set {paths.platform}.loadBalancerController: true",
                )
            )
    return problems + check_placement(with_default_groups(cluster, endpoints), endpoints, paths)


def check_placement(
    cluster: ClusterSpec,
    endpoints: Iterable[EndpointSpec],
    paths: ConfigPaths = STACK_FILE,
    platform_stack: str | None = None,
) -> list[Problem]:
    """G11: each endpoint's instance type is one a GPU node group (eks) or instance group (hyperpod) of `cluster`
    offers, else its pods stay Pending. `cluster` has its groups as deployed (`with_default_groups`): this stack's
    own, or, for an endpoints-only stack, those of the platform stack `platform_stack` (its file's cluster and
    endpoints), which this stack cannot change. Unknown for an adopted cluster: nothing is checked."""
    endpoints = list(endpoints)
    placed = _placements(cluster)
    if placed is None:
        return []
    groups = "instance group" if cluster.mode == "hyperpod" else "GPU node group"
    have = sorted(
        {g.instance_type for g in (cluster.instance_groups if cluster.mode == "hyperpod" else cluster.gpu_node_groups)}
    )
    owner = (
        f"platform stack {platform_stack!r} (cluster {cluster.name})" if platform_stack else f"cluster {cluster.name}"
    )
    problems = []
    for i, ep in enumerate(endpoints):
        # The operator may pick any of instanceTypes; another backend refuses the list (BACKEND) and runs on the first.
        types = hyperpod_fields.instance_types(ep) if backend_for(ep).operator_features else [ep.instance_type]
        for j, itype in enumerate(types):
            if instances.ec2_name(itype.lower()) not in placed:
                fix = missing_group_fix(
                    cluster,
                    ep.model_copy(update={"instance_type": itype}),
                    endpoints,
                    paths.cluster,
                    derivable=platform_stack is None,
                )
                where = (
                    f"{paths.endpoint(i)}.hyperpod.instanceTypes[{j}]"
                    if ep.hyperpod.instance_types
                    else f"{paths.endpoint(i)}.instanceType"
                )
                problems.append(
                    Problem(
                        where,
                        itype,
                        G11,
                        f"no {groups} of {owner} has this instance type (have: {', '.join(have) or 'none'})",
                        fix,
                    )
                )
    return problems


def _nodes_per_type(endpoints: Iterable[EndpointSpec]) -> dict[str, int]:
    """EC2 instance type -> nodes the endpoints need: their replicas, or their autoscaling maximum when set."""
    counts: dict[str, int] = {}
    for ep in endpoints:
        itype = instances.ec2_name(ep.instance_type.strip().lower())
        if not _group_name(itype):
            continue  # no instance type to derive a group from: the endpoint's own check names it
        counts[itype] = counts.get(itype, 0) + hyperpod_fields.nodes(ep)
        for other in hyperpod_fields.fallbacks(ep):  # a group of 0 to scale when the first type has no capacity
            counts.setdefault(instances.ec2_name(other.strip().lower()), 0)
    return dict(sorted(counts.items()))


def _group_name(itype: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", instances.ec2_name(itype.lower())).strip("-")


def derived_gpu_node_group(itype: str, nodes: int) -> GpuNodeGroup:
    """Mode eks: the managed node group one instance type needs (NVIDIA AMI, the stack's GPU labels and taint,
    which every backend's pods select and tolerate)."""
    return GpuNodeGroup(
        name=_group_name(itype), instance_type=instances.ec2_name(itype), min_size=0, desired_size=nodes, max_size=nodes
    )


def with_default_groups(cluster: ClusterSpec, endpoints: Iterable[EndpointSpec]) -> ClusterSpec:
    """Without explicit groups, one group per endpoint instance type, sized for the endpoints' replicas (their
    autoscaling maximum when set): HyperPod instance groups in mode hyperpod, GPU managed node groups in mode
    eks. Explicit groups are kept as they are (derivation off)."""
    counts = _nodes_per_type(endpoints)
    if cluster.mode == "hyperpod" and not cluster.instance_groups:
        groups: list = [
            InstanceGroup(name=_group_name(t), instance_type=hyperpod_instance_type(t), instance_count=n)
            for t, n in counts.items()
        ]
        return cluster.model_copy(update={"instance_groups": groups})
    if cluster.mode == "eks" and not cluster.gpu_node_groups:
        return cluster.model_copy(
            update={"gpu_node_groups": [derived_gpu_node_group(t, n) for t, n in counts.items() if n]}
        )
    return cluster


def derived_groups(cluster: ClusterSpec, endpoints: Iterable[EndpointSpec]) -> list[Change]:
    """The groups `with_default_groups` adds, as change-log lines the plan prints (a default, announced)."""
    endpoints = list(endpoints)
    derived = with_default_groups(cluster, endpoints)
    if derived is cluster:
        return []
    key, groups = (
        ("instanceGroups", derived.instance_groups)
        if cluster.mode == "hyperpod"
        else ("gpuNodeGroups", derived.gpu_node_groups)
    )
    if not groups:
        return []
    fields = (
        ("name", "instance_type", "instance_count")
        if cluster.mode == "hyperpod"
        else ("name", "instance_type", "desired_size", "max_size")
    )
    new = [g.model_dump(by_alias=True, include=set(fields)) for g in groups]
    spare = (
        " (0 instances for a hyperpod.instanceTypes fallback: scale it when the first type has no capacity)"
        if any(hyperpod_fields.fallbacks(ep) for ep in endpoints)
        else ""
    )
    return [
        Change(
            f"cluster.{key}",
            [],
            new,
            G11,
            f"derived from the endpoints: one group per instance type, sized for their replicas (autoscaling maximum){spare}; set cluster.{key} to choose your own",
        )
    ]


def missing_group_fix(
    cluster: ClusterSpec,
    ep: EndpointSpec,
    endpoints: Iterable[EndpointSpec],
    where: str = "cluster",
    derivable: bool = True,
) -> str:
    """One line naming the group to add (at `where`) for an endpoint whose instance type no explicit group has;
    `derivable`: the groups may come from this stack's endpoints instead (not for a platform stack's)."""
    itype = instances.ec2_name(ep.instance_type.strip().lower())
    nodes = _nodes_per_type(e for e in endpoints if instances.ec2_name(e.instance_type.strip().lower()) == itype).get(
        itype, 1
    )
    key = "instanceGroups" if cluster.mode == "hyperpod" else "gpuNodeGroups"
    if cluster.mode == "hyperpod":
        entry = f"{{name: {_group_name(itype)}, instanceType: {hyperpod_instance_type(itype)}, instanceCount: {nodes}}}"
    else:
        entry = (
            f"{{name: {_group_name(itype)}, instanceType: {itype}, minSize: 0, desiredSize: {nodes}, maxSize: {nodes}}}"
        )
    derive = f" (or remove {key} to derive them)" if derivable else ""
    return f"add {entry} to {where}.{key}{derive}, or change the endpoint's instanceType"


def _placements(cluster: ClusterSpec) -> set[str] | None:
    """EC2 spellings of the GPU types the cluster has, or None when unknown (existing clusters)."""
    if cluster.mode == "eks":
        return {instances.ec2_name(g.instance_type.lower()) for g in cluster.gpu_node_groups}
    if cluster.mode == "hyperpod":
        return {instances.ec2_name(g.instance_type.lower()) for g in cluster.instance_groups}
    return None


def gpu_node_labels(group_labels: dict[str, str], instance_type: str) -> dict[str, str]:
    # nvidia.com/gpu.present: the NVIDIA device plugin chart's node affinity selects on it.
    return {
        NODE_ROLE_LABEL: "gpu",
        INSTANCE_TYPE_LABEL: instances.ec2_name(instance_type.lower()),
        "nvidia.com/gpu.present": "true",
        **group_labels,
    }


def hyperpod_instance_type(instance_type: str) -> str:
    return instances.sagemaker_name(instance_type.strip().lower())


def kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig for an EKS cluster that authenticates with `aws eks get-token` (no static token
    in state, nothing read from the ambient ~/.kube/config)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": [
                            "eks",
                            "get-token",
                            "--cluster-name",
                            cluster_name,
                            "--region",
                            region,
                            "--output",
                            "json",
                        ],
                    }
                },
            }
        ],
    }


def eks_cluster_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:eks:{region}:{account}:cluster/{name}"


def hyperpod_name(cluster: ClusterSpec) -> str:
    """HyperPod cluster names: [a-zA-Z0-9-], at most 63."""
    raw = cluster.hyperpod_name or f"{cluster.name}-hp"
    return naming.fit(re.sub(r"[^a-zA-Z0-9-]", "-", raw), 63)
