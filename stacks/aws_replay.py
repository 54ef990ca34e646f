"""Translate the offline plan's cluster registrations into the AWS API requests they become on `up`:
SageMaker `CreateCluster` (HyperPod), EKS `CreateCluster` and `CreateNodegroup`.

An extra check, not a second implementation: field names are matched against botocore's service
model, so a planned field with no place in the request raises `ReplayError` instead of being dropped.
The tests send the requests to moto, where botocore validates required fields and types.
Values the mocks made up (subnet ids, resource references) become placeholders of the right shape.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import botocore.session

ACCOUNT = "123456789012"  # moto's default account, as in the plan's mocks
HYPERPOD = "aws-native:sagemaker:Cluster"
EKS_COMPONENT = "eks:index:Cluster"
NODE_GROUP_COMPONENT = "eks:index:ManagedNodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

# A resource passed as an input (`cluster=self.eks`, `node_role=role`) reaches the mocks as its repr.
# A resource reference as the plan records it: the referenced resource's URN (group 1: its type).
_RESOURCE_REF = re.compile(r"^urn:pulumi:[^:]*::[^:]*::(?:[^$]*\$)*(.+)::[^:]*$")

# pulumi-eks `Cluster` args it consumes itself (other resources, the kubeconfig), not sent to
# EKS CreateCluster. A new arg must be added here or mapped: otherwise the replay fails on it.
EKS_COMPONENT_ONLY = {
    "vpcId": "security groups of the component",
    "createOidcProvider": "IAM OIDC provider",
    "skipDefaultNodeGroup": "pulumi-eks default node group",
    "nodeAssociatePublicIpAddress": "pulumi-eks default node group",
    "skipDefaultSecurityGroups": "no cluster/node security groups of pulumi-eks (EKS makes its own)",
    "accessEntries": "EKS CreateAccessEntry calls, one per entry",
}


class ReplayError(Exception):
    """A planned field the translator cannot place in the API request."""


def _model(service: str, operation: str):
    return botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape


def _placeholder(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.encode()).hexdigest()
    return {
        "subnet": f"subnet-{digest[:17]}",
        "sg": f"sg-{digest[:17]}",
        "role": f"arn:aws:iam::{ACCOUNT}:role/replay-{digest[:12]}",
    }[kind]


def _shaped(kind: str, value: Any) -> Any:
    """Mock-made ids of a kind AWS checks the form of, replaced with ids of that form."""
    if isinstance(value, list):
        return [_shaped(kind, v) for v in value]
    prefix = {"subnet": "subnet-", "sg": "sg-", "role": "arn:"}[kind]
    if isinstance(value, str) and value.startswith(prefix):
        return value
    ref = _RESOURCE_REF.match(str(value))
    return _placeholder(kind, ref.group(1) if ref else str(value))  # a reference: by class, not address


def to_shape(value: Any, shape: Any, path: str) -> Any:
    """`value` (Pulumi camelCase) in the member names of botocore `shape`; unknown members raise."""
    if value is None:
        return None
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return value  # botocore reports the wrong type
        members = {m.lower(): m for m in shape.members}
        out = {}
        for key, item in value.items():
            if item is None:
                continue  # Pulumi: unset
            member = members.get(key.lower())
            if member is None:
                raise ReplayError(
                    f"{path}.{key}: no such field in the API's {shape.name} (fields: {', '.join(shape.members)})"
                )
            out[member] = to_shape(item, shape.members[member], f"{path}.{key}")
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [to_shape(v, shape.member, f"{path}[{i}]") for i, v in enumerate(value)]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: to_shape(v, shape.value, f"{path}.{k}") for k, v in value.items()}
    return value


def hyperpod_request(inputs: dict[str, Any]) -> dict[str, Any]:
    """SageMaker CreateCluster from `aws-native:sagemaker:Cluster` inputs (CloudFormation's
    AWS::SageMaker::Cluster, whose properties are the API's; aws-native writes `VolumeSizeInGB` as
    `volumeSizeInGb`, hence the case-insensitive match)."""
    request = to_shape(inputs, _model("sagemaker", "CreateCluster"), "aws-native:sagemaker:Cluster")
    vpc = request.get("VpcConfig") or {}
    if "Subnets" in vpc:
        vpc["Subnets"] = _shaped("subnet", vpc["Subnets"])
    if "SecurityGroupIds" in vpc:
        vpc["SecurityGroupIds"] = _shaped("sg", vpc["SecurityGroupIds"])
    return request


def eks_cluster_request(inputs: dict[str, Any], type_: str = EKS_COMPONENT) -> dict[str, Any]:
    """EKS CreateCluster from pulumi-eks `Cluster` args (what its core `aws.eks.Cluster` gets) or
    from `aws:eks/cluster:Cluster` inputs."""
    shape = _model("eks", "CreateCluster")
    if type_ == EKS_CLUSTER:
        raw = dict(inputs)
        raw["resourcesVpcConfig"] = raw.pop("vpcConfig", None)
        if "enabledClusterLogTypes" in raw:
            raw["logging"] = {"clusterLogging": [{"types": raw.pop("enabledClusterLogTypes"), "enabled": True}]}
        request = to_shape(raw, shape, type_)
    else:
        raw = {k: v for k, v in inputs.items() if k not in EKS_COMPONENT_ONLY}
        vpc: dict[str, Any] = {
            k: raw.pop(k) for k in ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs") if k in raw
        }
        # pulumi-eks: subnetIds, or the public subnets followed by the private ones.
        public, private = raw.pop("publicSubnetIds", None) or [], raw.pop("privateSubnetIds", None) or []
        vpc["subnetIds"] = raw.pop("subnetIds", None) or [*public, *private]
        group = raw.pop("clusterSecurityGroup", None)
        if group or not inputs.get("skipDefaultSecurityGroups"):
            vpc["securityGroupIds"] = [group or "pulumi-eks-cluster-sg"]  # else EKS's own group only
        raw["resourcesVpcConfig"] = vpc
        if "enabledClusterLogTypes" in raw:
            raw["logging"] = {"clusterLogging": [{"types": raw.pop("enabledClusterLogTypes"), "enabled": True}]}
        if "authenticationMode" in raw:
            raw["accessConfig"] = {"authenticationMode": raw.pop("authenticationMode")}
        if "clusterTags" in raw:
            raw["tags"] = {**(raw.get("tags") or {}), **raw.pop("clusterTags")}
        raw["roleArn"] = raw.pop("serviceRole", None) or "pulumi-eks-service-role"  # the component makes it
        request = to_shape(raw, shape, type_)
    vpc = request["resourcesVpcConfig"]
    vpc["subnetIds"] = _shaped("subnet", vpc.get("subnetIds") or [])
    if "securityGroupIds" in vpc:
        vpc["securityGroupIds"] = _shaped("sg", vpc["securityGroupIds"])
    request["roleArn"] = _shaped("role", request.get("roleArn"))
    return request


def nodegroup_request(inputs: dict[str, Any], cluster_name: str, type_: str = NODE_GROUP_COMPONENT) -> dict[str, Any]:
    """EKS CreateNodegroup from pulumi-eks `ManagedNodeGroup` args or `aws:eks/nodeGroup:NodeGroup`
    inputs (`aws.eks.NodeGroup` names: subnetIds, nodeRoleArn, nodeGroupName)."""
    raw = dict(inputs)
    cluster = raw.pop("cluster", None) or raw.pop("clusterName", None)
    if cluster is not None and not _RESOURCE_REF.match(str(cluster)) and cluster != cluster_name:
        raise ReplayError(f"{type_}: cluster {cluster!r} is not the replayed cluster {cluster_name!r}")
    raw["clusterName"] = cluster_name
    if "subnetIds" in raw:
        raw["subnets"] = raw.pop("subnetIds")
    role = raw.pop("nodeRoleArn", None) or raw.pop("nodeRole", None)
    raw["nodeRole"] = role
    request = to_shape(raw, _model("eks", "CreateNodegroup"), type_)
    if "subnets" in request:  # absent stays absent: botocore reports the missing required field
        request["subnets"] = _shaped("subnet", request["subnets"])
    if request.get("nodeRole") is not None:
        request["nodeRole"] = _shaped("role", request["nodeRole"])
    return request


def cluster_requests(resources: list[Any]) -> dict[str, Any]:
    """The plan's cluster registrations as requests, in an order AWS accepts: the EKS cluster, its
    node groups, then the HyperPod cluster (which names the EKS cluster as its orchestrator)."""
    eks: dict[str, Any] | None = None
    groups: list[dict[str, Any]] = []
    hyperpod: list[dict[str, Any]] = []
    for reg in resources:
        if reg.type_ in (EKS_COMPONENT, EKS_CLUSTER):
            if eks is not None:
                raise ReplayError(f"{reg.name}: a second EKS cluster; the replay handles one")
            eks = eks_cluster_request(reg.inputs, reg.type_)
    for reg in resources:
        if reg.type_ in (NODE_GROUP_COMPONENT, NODE_GROUP):
            if eks is None:
                raise ReplayError(f"{reg.name}: a node group without an EKS cluster in the plan")
            groups.append(nodegroup_request(reg.inputs, eks["name"], reg.type_))
        elif reg.type_ == HYPERPOD:
            hyperpod.append(hyperpod_request(reg.inputs))
    return {"eks_cluster": eks, "node_groups": groups, "hyperpod": hyperpod}


__all__ = [
    "ReplayError",
    "cluster_requests",
    "eks_cluster_request",
    "hyperpod_request",
    "nodegroup_request",
    "to_shape",
]
