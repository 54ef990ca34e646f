"""Preflight (G14, quotas, instance types, HyperPod status) against moto; Service Quotas through
botocore's Stubber, since moto 5.2 has no EC2 or SageMaker quotas. AWS errors become one line."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stacks.aws import Aws, AwsError
from stacks.config import parse
from stacks import preflight

ENDPOINT = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
}


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)


def cfg(cluster=None, endpoints=None):
    return parse({"cluster": cluster or {"mode": "hyperpod", "name": "ml-dev"}, "endpoints": [ENDPOINT] if endpoints is None else endpoints}, "us-east-1")


class QuotaStub:
    """An Aws whose service-quotas client is stubbed; everything else goes to moto."""

    def __init__(self, responses):
        self.client = boto3.client("service-quotas", region_name="us-east-1")
        self.stub = Stubber(self.client)
        for method, response, params in responses:
            if isinstance(response, Exception) or isinstance(response, str):
                self.stub.add_client_error(method, service_error_code=response, service_message="nope", expected_params=params)
            else:
                self.stub.add_response(method, response, params)
        self.stub.activate()

    def aws(self) -> Aws:
        return Aws("us-east-1", lambda service, region_name: self.client if service == "service-quotas" else boto3.client(service, region_name=region_name))


def put_model(files):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="my-models")
    for f in files:
        s3.put_object(Bucket="my-models", Key=f"qwen3-4b/{f}", Body=b"x")


@mock_aws
def test_G14_model_location_with_config_and_safetensors_passes():
    put_model(["config.json", "model-00001-of-00002.safetensors", "tokenizer.json"])
    assert preflight.check_models(cfg(), Aws("us-east-1")) == []


@mock_aws
def test_G14_model_location_without_weights_or_config_is_one_line_per_endpoint():
    put_model(["tokenizer.json", "pytorch_model.bin"])
    (line,) = preflight.check_models(cfg(), Aws("us-east-1"))
    assert line.startswith("endpoints[0].modelSource = s3://my-models/qwen3-4b/: [G14]")
    assert "config.json" in line and "*.safetensors" in line and "Fix:" in line and "\n" not in line


@mock_aws
def test_G14_missing_bucket_is_a_clear_message():
    (line,) = preflight.check_models(cfg(), Aws("us-east-1"))
    assert "[G14]" in line and "bucket does not exist" in line


@mock_aws
def test_instance_types_offered_in_the_region():
    assert preflight.check_instance_types(cfg(), Aws("us-east-1")) == []
    wrong = cfg({"mode": "eks", "name": "s", "gpuNodeGroups": [{"name": "g", "instanceType": "g5.12xlarge"}]}, [])
    aws = Aws("us-east-1")
    aws.instance_type_offered = lambda t: False  # type: ignore[method-assign]
    (line,) = preflight.check_instance_types(wrong, aws)
    assert "g5.12xlarge" in line and "not offered in us-east-1" in line


@mock_aws
def test_hyperpod_quota_too_small_names_the_quota_and_the_need():
    stub = QuotaStub([("list_service_quotas", {"Quotas": [{"QuotaName": "ml.g5.8xlarge for cluster usage", "Value": 0.0, "QuotaCode": "L-1"}]}, {"ServiceCode": "sagemaker"})])
    (line,) = preflight.check_quotas(cfg(), stub.aws())
    assert "'ml.g5.8xlarge for cluster usage'" in line and "= 0" in line and "need 1" in line


@mock_aws
def test_hyperpod_quota_enough_passes():
    stub = QuotaStub([("list_service_quotas", {"Quotas": [{"QuotaName": "ml.g5.8xlarge for cluster usage", "Value": 4.0, "QuotaCode": "L-1"}]}, {"ServiceCode": "sagemaker"})])
    assert preflight.check_quotas(cfg(), stub.aws()) == []


@mock_aws
def test_eks_quota_in_vcpus_for_the_node_groups_max_size():
    eks = cfg({"mode": "eks", "name": "s", "gpuNodeGroups": [{"name": "g", "instanceType": "g5.12xlarge", "maxSize": 2}]}, [])
    stub = QuotaStub([("get_service_quota", {"Quota": {"Value": 64.0, "QuotaCode": "L-DB2E81BA", "ServiceCode": "ec2"}}, {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"})])
    (line,) = preflight.check_quotas(eks, stub.aws())
    assert "L-DB2E81BA" in line and "64 vCPUs" in line and "needs 96" in line


@mock_aws
@pytest.mark.parametrize(
    "code,expected",
    [("AccessDeniedException", "access denied. Fix: grant servicequotas:ListServiceQuotas"), ("ThrottlingException", "throttled by AWS (ThrottlingException). Fix: retry")],
)
def test_aws_errors_become_one_clear_line(code, expected):
    stub = QuotaStub([("list_service_quotas", code, {"ServiceCode": "sagemaker"})])
    put_model(["config.json", "a.safetensors"])
    problems = preflight.run(cfg(), stub.aws())
    assert len(problems) == 1 and expected in problems[0] and "\n" not in problems[0]


@mock_aws
def test_s3_access_denied_is_one_line():
    aws = Aws("us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(s3)
    stub.add_client_error("list_objects_v2", service_error_code="AccessDenied", service_message="Access Denied")
    stub.activate()
    aws._clients[("s3", "us-east-1")] = s3
    (line,) = preflight.check_models(cfg(), aws)
    assert "access denied. Fix: grant s3:ListBucket on arn:aws:s3:::my-models" in line


def make_hyperpod(status_name="hp"):
    sm = boto3.client("sagemaker", region_name="us-east-1")
    arn = sm.create_cluster(
        ClusterName=status_name,
        InstanceGroups=[{"InstanceCount": 1, "InstanceGroupName": "g", "InstanceType": "ml.g5.8xlarge", "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/l/", "OnCreate": "on_create.sh"}, "ExecutionRole": "arn:aws:iam::123456789012:role/r", "ThreadsPerCore": 1}],
        VpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]},
    )["ClusterArn"]
    return arn


@mock_aws
def test_existing_hyperpod_cluster_in_service_passes():
    arn = make_hyperpod()
    existing = cfg({"mode": "existing", "name": "c", "hyperpodClusterArn": arn})
    assert Aws("us-east-1").hyperpod_status(arn) == "InService"  # moto's describe_cluster
    assert preflight.check_hyperpod(existing, Aws("us-east-1")) == []


@mock_aws
def test_existing_hyperpod_cluster_not_in_service_or_missing_is_reported():
    aws = Aws("us-east-1")
    aws.hyperpod_status = lambda arn: "Creating"  # type: ignore[method-assign]
    existing = cfg({"mode": "existing", "name": "c", "hyperpodClusterArn": "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdefghijkl"})
    (line,) = preflight.check_hyperpod(existing, aws)
    assert "is Creating, not InService" in line
    with pytest.raises(AwsError) as info:
        Aws("us-east-1").hyperpod_status("arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdefghijkl")
    assert str(info.value).startswith("describe HyperPod cluster") and "\n" not in str(info.value)


def test_preflight_cli_without_credentials_prints_lines_not_tracebacks(monkeypatch, capsys):
    from rich.console import Console

    monkeypatch.setattr(preflight, "run", lambda c, aws=None: ["endpoints[0].modelSource = s3://x/: [G14] no config.json"])
    console = Console(record=True, width=200)
    assert preflight.main("dev", console) == 1
    text = console.export_text()
    assert "[G14]" in text and "Traceback" not in text
