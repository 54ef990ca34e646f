"""The planned HyperPod cluster, EKS cluster and node groups replayed as boto3
calls against moto (in-process, `mock_aws`). botocore validates every request against the service
model (required fields, types, unknown fields) before moto sees it; moto adds its own checks
(instance types, the lifecycle bucket prefix, an existing ACTIVE cluster for node groups).
moto 5.2.5 implements every call used here, so no Stubber is needed. moto keeps no HyperPod
`Orchestrator` or `NodeRecovery`: those two are checked by botocore's validation only."""

from __future__ import annotations

import copy
import functools

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from stacks import aws_replay
from tests.example_stacks import user_plan


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)


@functools.cache
def planned(stack):
    return aws_replay.cluster_requests(user_plan(stack).resources)


@pytest.fixture
def dev():
    return copy.deepcopy(planned("dev"))


@pytest.fixture
def eks_example():
    return copy.deepcopy(planned("eks"))


def replay(requests):
    """Create everything in moto in the order AWS needs; return the three clients and the EKS ARN."""
    eks, sagemaker = boto3.client("eks", region_name="us-east-1"), boto3.client("sagemaker", region_name="us-east-1")
    arn = eks.create_cluster(**requests["eks_cluster"])["cluster"]["arn"]
    for group in requests["node_groups"]:
        eks.create_nodegroup(**group)
    for cluster in requests["hyperpod"]:
        sagemaker.create_cluster(**cluster)
    return eks, sagemaker, arn


@mock_aws
def test_dev_hyperpod_cluster_replays_and_names_the_eks_cluster_moto_made_as_orchestrator(dev):
    eks, sagemaker, eks_arn = replay(dev)
    (hyperpod,) = dev["hyperpod"]
    assert hyperpod["Orchestrator"] == {"Eks": {"ClusterArn": eks_arn}}
    assert eks_arn == "arn:aws:eks:us-east-1:123456789012:cluster/ml-dev"
    described = sagemaker.describe_cluster(ClusterName="ml-dev-hp")
    groups = {g["InstanceGroupName"]: g for g in described["InstanceGroups"]}
    assert sorted(groups) == ["g5-12x", "g5-8x"]
    assert (groups["g5-8x"]["InstanceType"], groups["g5-8x"]["TargetCount"]) == ("ml.g5.8xlarge", 1)
    assert (groups["g5-12x"]["InstanceType"], groups["g5-12x"]["TargetCount"]) == ("ml.g5.12xlarge", 3)
    for group in groups.values():
        assert group["ExecutionRole"].startswith("arn:aws:iam::123456789012:role/")
        assert group["LifeCycleConfig"]["OnCreate"] == "on_create.sh"
        assert group["LifeCycleConfig"]["SourceS3Uri"].startswith("s3://sagemaker-")
        assert group["ThreadsPerCore"] == 1
    assert len({g["ExecutionRole"] for g in groups.values()}) == 1
    assert described["VpcConfig"] == hyperpod["VpcConfig"] and len(described["VpcConfig"]["Subnets"]) == 2
    # HyperPod nodes share the EKS-created cluster security group, one group only.
    assert len(described["VpcConfig"]["SecurityGroupIds"]) == 1
    assert hyperpod["NodeRecovery"] == "Automatic"
    (system,) = dev["node_groups"]
    assert system["nodegroupName"] == "ml-dev-system"
    node = eks.describe_nodegroup(clusterName="ml-dev", nodegroupName="ml-dev-system")["nodegroup"]
    assert node["scalingConfig"] == {"minSize": 2, "maxSize": 4, "desiredSize": 2}
    assert (node["amiType"], node["instanceTypes"], node["labels"]) == (
        "AL2023_x86_64_STANDARD",
        ["m6i.xlarge"],
        {"llm-serving/node-role": "system"},
    )
    assert node["subnets"] == hyperpod["VpcConfig"]["Subnets"]  # both on the private subnets


def test_dev_hyperpod_lifecycle_bucket_starts_with_sagemaker(dev):
    """The API reference for ClusterLifeCycleConfig.SourceS3Uri: "Make sure that the S3 bucket path
    starts with s3://sagemaker-" (the managed instance-role policy reads only those buckets);
    AWS's HyperPod-on-EKS sample names its bucket `sagemaker-hyperpod-eks-bucket-...`; moto rejects
    any other prefix."""
    for group in dev["hyperpod"][0]["InstanceGroups"]:
        assert group["LifeCycleConfig"]["SourceS3Uri"].startswith("s3://sagemaker-hyperpod-lifecycle-")


@mock_aws
def test_dev_eks_cluster_replays_with_its_access_and_logging(dev):
    eks, _, _ = replay(dev)
    cluster = eks.describe_cluster(name="ml-dev")["cluster"]
    assert cluster["version"] == "1.33"
    vpc = cluster["resourcesVpcConfig"]
    assert (vpc["endpointPublicAccess"], vpc["endpointPrivateAccess"]) == (True, True)
    assert len(vpc["subnetIds"]) == 4  # public and private, as pulumi-eks passes them
    assert cluster["logging"]["clusterLogging"][0]["types"] == ["api", "audit", "authenticator"]
    assert dev["eks_cluster"]["accessConfig"] == {
        "authenticationMode": "API"
    }  # HyperPod needs API or API_AND_CONFIG_MAP


@mock_aws
def test_eks_example_gpu_node_groups_replay_with_taints_labels_and_scaling(eks_example):
    eks, _, _ = replay(eks_example)
    assert eks_example["hyperpod"] == []
    cluster = eks.describe_cluster(name="llm-eks")["cluster"]
    assert cluster["resourcesVpcConfig"]["publicAccessCidrs"] == [
        "34.201.17.8/32"
    ]  # the value set in place of SET THIS
    assert sorted(eks.list_nodegroups(clusterName="llm-eks")["nodegroups"]) == [
        "llm-eks-g4dn",
        "llm-eks-g5-2x",
        "llm-eks-system",
    ]
    g5 = eks.describe_nodegroup(clusterName="llm-eks", nodegroupName="llm-eks-g5-2x")["nodegroup"]
    assert g5["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 2}
    assert (g5["amiType"], g5["instanceTypes"], g5["capacityType"], g5["diskSize"]) == (
        "AL2023_x86_64_NVIDIA",
        ["g5.2xlarge"],
        "ON_DEMAND",
        200,
    )
    assert g5["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert g5["labels"] == {
        "nvidia.com/gpu.present": "true",
        "llm-serving/instance-type": "g5.2xlarge",
        "llm-serving/node-role": "gpu",
    }
    assert g5["nodeRole"].startswith("arn:aws:iam::123456789012:role/")
    g4 = eks.describe_nodegroup(clusterName="llm-eks", nodegroupName="llm-eks-g4dn")["nodegroup"]
    assert (g4["scalingConfig"], g4["instanceTypes"]) == (
        {"minSize": 0, "maxSize": 2, "desiredSize": 1},
        ["g4dn.xlarge"],
    )


@pytest.mark.parametrize("stack", ["dev", "eks", "staging"])
@mock_aws
def test_every_example_stacks_clusters_and_node_groups_are_accepted_by_botocore_and_moto(stack):
    requests = copy.deepcopy(planned(stack))
    eks, sagemaker, _ = replay(requests)
    assert (
        len(eks.list_nodegroups(clusterName=requests["eks_cluster"]["name"])["nodegroups"])
        == len(requests["node_groups"])
        >= 1
    )
    assert len(sagemaker.list_clusters()["ClusterSummaries"]) == len(requests["hyperpod"])


# ---------------------------------------------------------------- the check has teeth

GROUP = {
    "instanceGroupName": "g5",
    "instanceType": "ml.g5.8xlarge",
    "instanceCount": 1,
    "executionRole": "arn:aws:iam::123456789012:role/hp",
    "lifeCycleConfig": {"sourceS3Uri": "s3://sagemaker-x/", "onCreate": "on_create.sh"},
}
HYPERPOD = {
    "clusterName": "hp",
    "vpcConfig": {"subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]},
    "instanceGroups": [GROUP],
}


def hyperpod_with(**group):
    return aws_replay.hyperpod_request(
        {**HYPERPOD, "instanceGroups": [{k: v for k, v in {**GROUP, **group}.items() if v is not None}]}
    )


def test_an_invented_hyperpod_field_is_an_error_not_dropped():
    with pytest.raises(
        aws_replay.ReplayError,
        match=r"instanceGroups\[0\]\.instanceTypeName: no such field in the API's ClusterInstanceGroupSpecification",
    ):
        hyperpod_with(instanceTypeName="ml.g5.8xlarge")


def test_an_unplaced_eks_component_arg_is_an_error():
    with pytest.raises(aws_replay.ReplayError, match=r"eks:index:Cluster\.nodeGroupOptions: no such field"):
        aws_replay.eks_cluster_request(
            {"name": "c", "subnetIds": ["subnet-1"], "nodeGroupOptions": {"instanceType": "m6i.large"}}
        )


@mock_aws
def test_a_group_without_its_execution_role_fails_botocore_validation():
    client = boto3.client("sagemaker", region_name="us-east-1")
    with pytest.raises(
        ParamValidationError, match=r'Missing required parameter in InstanceGroups\[0\]: "ExecutionRole"'
    ):
        client.create_cluster(**hyperpod_with(executionRole=None))


@mock_aws
def test_an_instance_count_of_the_wrong_type_fails_botocore_validation():
    client = boto3.client("sagemaker", region_name="us-east-1")
    with pytest.raises(ParamValidationError, match=r"Invalid type for parameter InstanceGroups\[0\]\.InstanceCount"):
        client.create_cluster(**hyperpod_with(instanceCount="3"))


@mock_aws
def test_a_lifecycle_bucket_without_the_sagemaker_prefix_is_rejected_by_moto():
    client = boto3.client("sagemaker", region_name="us-east-1")
    with pytest.raises(ClientError, match=r"SourceS3Uri s3://my-scripts/ does not start with 's3://sagemaker'"):
        client.create_cluster(
            **hyperpod_with(lifeCycleConfig={"sourceS3Uri": "s3://my-scripts/", "onCreate": "on_create.sh"})
        )


@mock_aws
def test_a_node_group_before_its_cluster_is_rejected_by_moto():
    client = boto3.client("eks", region_name="us-east-1")
    request = aws_replay.nodegroup_request(
        {"nodeGroupName": "g", "subnetIds": ["subnet-1"], "nodeRoleArn": "arn:aws:iam::123456789012:role/n"}, "absent"
    )
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.create_nodegroup(**request)


@mock_aws
def test_a_node_group_without_subnets_fails_botocore_validation():
    client = boto3.client("eks", region_name="us-east-1")
    request = aws_replay.nodegroup_request(
        {"nodeGroupName": "g", "nodeRoleArn": "arn:aws:iam::123456789012:role/n"}, "c"
    )
    with pytest.raises(ParamValidationError, match=r'Missing required parameter in input: "subnets"'):
        client.create_nodegroup(**request)
