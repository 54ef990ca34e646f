"""Preflight (G14, quotas, instance types, HyperPod status) against moto; Service Quotas through
botocore's Stubber, since moto 5.2 has no EC2 or SageMaker quotas. AWS errors become one line."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from stacks import preflight
from stacks.aws import Aws, AwsError
from stacks.config import parse

ENDPOINT = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
}


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(
        preflight, "check_hub_models", lambda cfg, aws=None: []
    )  # the hub's checks: tests/models/test_preflight_hub.py


def cfg(cluster=None, endpoints=None):
    return parse(
        {
            "cluster": cluster or {"mode": "hyperpod", "name": "ml-dev"},
            "endpoints": [ENDPOINT] if endpoints is None else endpoints,
        },
        "us-east-1",
    )


class QuotaStub:
    """An Aws whose service-quotas client is stubbed; everything else goes to moto."""

    def __init__(self, responses):
        self.client = boto3.client("service-quotas", region_name="us-east-1")
        self.stub = Stubber(self.client)
        for method, response, params in responses:
            if isinstance(response, Exception) or isinstance(response, str):
                self.stub.add_client_error(
                    method, service_error_code=response, service_message="nope", expected_params=params
                )
            else:
                self.stub.add_response(method, response, params)
        self.stub.activate()

    def aws(self) -> Aws:
        return Aws(
            "us-east-1",
            lambda service, region_name: (
                self.client if service == "service-quotas" else boto3.client(service, region_name=region_name)
            ),
        )


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
    stub = QuotaStub(
        [
            (
                "list_service_quotas",
                {"Quotas": [{"QuotaName": "ml.g5.8xlarge for cluster usage", "Value": 0.0, "QuotaCode": "L-1"}]},
                {"ServiceCode": "sagemaker"},
            )
        ]
    )
    (line,) = preflight.check_quotas(cfg(), stub.aws())
    assert "'ml.g5.8xlarge for cluster usage'" in line and "= 0" in line and "need 1" in line


@mock_aws
def test_hyperpod_quota_enough_passes():
    stub = QuotaStub(
        [
            (
                "list_service_quotas",
                {"Quotas": [{"QuotaName": "ml.g5.8xlarge for cluster usage", "Value": 4.0, "QuotaCode": "L-1"}]},
                {"ServiceCode": "sagemaker"},
            )
        ]
    )
    assert preflight.check_quotas(cfg(), stub.aws()) == []


@mock_aws
def test_eks_quota_in_vcpus_for_the_node_groups_max_size():
    eks = cfg(
        {"mode": "eks", "name": "s", "gpuNodeGroups": [{"name": "g", "instanceType": "g5.12xlarge", "maxSize": 2}]}, []
    )
    stub = QuotaStub(
        [
            (
                "get_service_quota",
                {"Quota": {"Value": 64.0, "QuotaCode": "L-DB2E81BA", "ServiceCode": "ec2"}},
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
            )
        ]
    )
    (line,) = preflight.check_quotas(eks, stub.aws())
    assert "L-DB2E81BA" in line and "64 vCPUs" in line and "needs 96" in line


@mock_aws
@pytest.mark.parametrize(
    "code,expected",
    [
        ("AccessDeniedException", "access denied. Fix: grant servicequotas:ListServiceQuotas"),
        ("ThrottlingException", "throttled by AWS (ThrottlingException). Fix: retry"),
    ],
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
        InstanceGroups=[
            {
                "InstanceCount": 1,
                "InstanceGroupName": "g",
                "InstanceType": "ml.g5.8xlarge",
                "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-lifecycle/l/", "OnCreate": "on_create.sh"},
                "ExecutionRole": "arn:aws:iam::123456789012:role/r",
                "ThreadsPerCore": 1,
            }
        ],
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
    existing = cfg(
        {
            "mode": "existing",
            "name": "c",
            "hyperpodClusterArn": "arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdefghijkl",
        }
    )
    (line,) = preflight.check_hyperpod(existing, aws)
    assert "is Creating, not InService" in line
    with pytest.raises(AwsError) as info:
        Aws("us-east-1").hyperpod_status("arn:aws:sagemaker:us-east-1:123456789012:cluster/abcdefghijkl")
    assert str(info.value).startswith("describe HyperPod cluster") and "\n" not in str(info.value)


def test_preflight_cli_without_credentials_prints_lines_not_tracebacks(monkeypatch, capsys):
    from rich.console import Console

    monkeypatch.setattr(
        preflight, "run", lambda c, aws=None: ["endpoints[0].modelSource = s3://x/: [G14] no config.json"]
    )
    console = Console(record=True, width=200)
    assert preflight.main("dev", console) == 1
    text = console.export_text()
    assert "[G14]" in text and "Traceback" not in text


# S2: the configured certificate, checked in ACM (moto: import_certificate gives an ISSUED certificate with
# the names of the PEM; a requested DNS-validated one stays PENDING_VALIDATION for ACM_VALIDATION_WAIT seconds).
ALB_ENDPOINT = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "g5.2xlarge",
    "modelSource": {"type": "huggingface", "modelId": "Qwen/Qwen3-4B-Instruct-2507"},
    "loadBalancer": "alb",
    "publicAlb": True,
    "apiKey": True,
}
EKS = {"mode": "eks", "name": "s", "publicAccessCidrs": ["34.201.17.8/32"]}


def tls_cfg(ingress, region="us-east-1"):
    return parse({"cluster": EKS, "platform": {"ingress": ingress}, "endpoints": [ALB_ENDPOINT]}, region)


def self_signed(common_name, *sans):
    """A PEM certificate and key for `common_name` with DNS SANs, valid for a day."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (common_name, *sans)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


def import_cert(common_name, *sans, region="us-east-1"):
    cert, key = self_signed(common_name, *sans)
    return boto3.client("acm", region_name=region).import_certificate(Certificate=cert, PrivateKey=key)[
        "CertificateArn"
    ]


DOMAIN = {"name": "api.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}


@mock_aws
def test_S2_certificate_missing_in_the_account_is_an_error():
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
    (line,) = preflight.check_certificate(tls_cfg({"certificateArn": arn}), Aws("us-east-1"))
    assert line.startswith(f"platform.ingress.certificateArn = {arn}: [S2] no such certificate in us-east-1")
    assert "documentation account" in line and "Fix: " in line and "\n" not in line
    assert not isinstance(line, preflight.PreflightWarning)


@mock_aws
def test_S2_certificate_of_another_region_is_an_error():
    arn = import_cert("qwen3-4b.api.example.com", region="us-west-2")
    (line,) = preflight.check_certificate(tls_cfg({"certificateArn": arn}), Aws("us-east-1"))
    assert line == (
        f"platform.ingress.certificateArn = {arn}: [S2] the certificate is in us-west-2, the stack's ALBs in us-east-1; "
        "an ALB can use ACM certificates of its own region only. Fix: request or import the certificate in us-east-1 and set its ARN"
    )


@mock_aws
def test_S2_certificate_pending_validation_is_an_error():
    acm = boto3.client("acm", region_name="us-east-1")
    arn = acm.request_certificate(DomainName="*.api.example.com", ValidationMethod="DNS")["CertificateArn"]
    (line,) = preflight.check_certificate(tls_cfg({"certificateArn": arn, "domain": DOMAIN}), Aws("us-east-1"))
    assert (
        "the certificate is PENDING_VALIDATION, not ISSUED" in line and "Fix: create the DNS validation record" in line
    )


@mock_aws
def test_S2_certificate_not_covering_the_endpoint_name_is_an_error():
    arn = import_cert("www.example.com", "api.example.com")
    (line,) = preflight.check_certificate(tls_cfg({"certificateArn": arn, "domain": DOMAIN}), Aws("us-east-1"))
    assert "covers api.example.com, www.example.com, not qwen3-4b.api.example.com" in line
    assert "Fix: use a certificate for *.api.example.com" in line and not isinstance(line, preflight.PreflightWarning)


@mock_aws
def test_S2_issued_wildcard_certificate_of_the_domain_passes():
    arn = import_cert("*.api.example.com")
    assert preflight.check_certificate(tls_cfg({"certificateArn": arn, "domain": DOMAIN}), Aws("us-east-1")) == []


@mock_aws
def test_S2_issued_certificate_without_domain_warns_about_the_alb_name():
    arn = import_cert("llm.example.org")
    (line,) = preflight.check_certificate(tls_cfg({"certificateArn": arn}), Aws("us-east-1"))
    assert isinstance(line, preflight.PreflightWarning)
    assert "*.elb.amazonaws.com name, which no ACM certificate covers (this one: llm.example.org)" in line
    assert "Fix: point a DNS name of the certificate at the ALB (CNAME)" in line


@pytest.mark.parametrize(
    "names,host,covered",
    [
        (["*.api.example.com"], "qwen3-4b.api.example.com", True),
        (["*.api.example.com"], "api.example.com", False),
        (["*.api.example.com"], "a.qwen3-4b.api.example.com", False),
        (["QWEN3-4B.api.example.com"], "qwen3-4b.api.example.com", True),
        (["*.example.com"], "qwen3-4b.api.example.com", False),
    ],
)
def test_S2_certificate_name_matching(names, host, covered):
    assert preflight.covers(names, host) is covered


@mock_aws
def test_S2_preflight_warning_does_not_fail_the_command(monkeypatch, capsys):
    from rich.console import Console

    arn = import_cert("llm.example.org")
    monkeypatch.setattr(
        preflight, "run", lambda cfg: [preflight.PreflightWarning(f"platform.ingress.certificateArn = {arn}: [S2] x")]
    )
    monkeypatch.setattr("stacks.plan.read_stack_config", lambda stack, project_dir: {})
    monkeypatch.setattr(
        "stacks.plan.parse_stack_config", lambda values, project, stack: tls_cfg({"certificateArn": arn})
    )
    assert preflight.main("eks", Console(width=300)) == 0
    assert "preflight warning" in capsys.readouterr().out


# T3: the gateway's certificate, checked like S2's. The gateway of tests/gateway/helpers.py (public, two
# tenants) in front of the ALB endpoint.
def gateway_cfg(certificate_arn, platform_arn=None):
    from tests.gateway.helpers import GATEWAY

    platform = {"ingress": {"certificateArn": platform_arn}} if platform_arn else {}
    gateway = {**GATEWAY, "certificateArn": certificate_arn, "tenants": [{"name": "team-a", "tier": "free"}]}
    return parse(
        {
            "cluster": EKS,
            "platform": platform,
            "endpoints": [{**ALB_ENDPOINT, "apiKey": False, "publicAlb": False}],
            "gateway": gateway,
        },
        "us-east-1",
    )


@mock_aws
def test_T3_gateway_certificate_missing_in_the_account_is_an_error():
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
    (line,) = preflight.check_gateway_certificate(gateway_cfg(arn), Aws("us-east-1"))
    assert line.startswith(f"gateway.certificateArn = {arn}: [T3] no such certificate in us-east-1")
    assert "documentation account" in line and "Fix: " in line and not isinstance(line, preflight.PreflightWarning)


@mock_aws
def test_T3_gateway_certificate_of_another_region_or_pending_is_an_error():
    elsewhere = import_cert("llm.example.org", region="us-west-2")
    (line,) = preflight.check_gateway_certificate(gateway_cfg(elsewhere), Aws("us-east-1"))
    assert line.startswith(
        f"gateway.certificateArn = {elsewhere}: [T3] the certificate is in us-west-2, the stack's ALBs in us-east-1"
    )
    pending = boto3.client("acm", region_name="us-east-1").request_certificate(
        DomainName="llm.example.org", ValidationMethod="DNS"
    )["CertificateArn"]
    (line,) = preflight.check_gateway_certificate(gateway_cfg(pending), Aws("us-east-1"))
    assert "[T3] the certificate is PENDING_VALIDATION, not ISSUED" in line


@mock_aws
def test_T3_issued_gateway_certificate_warns_only_about_the_alb_name():
    arn = import_cert("llm.example.org")
    (line,) = preflight.check_gateway_certificate(gateway_cfg(arn), Aws("us-east-1"))
    assert isinstance(line, preflight.PreflightWarning) and line.startswith(
        f"gateway.certificateArn = {arn}: [T3] clients reach the ALB"
    )


@mock_aws
def test_S2_T3_preflight_checks_every_certificate_the_stack_uses():
    put_model(["config.json", "a.safetensors"])
    issued = import_cert("llm.example.org")
    missing = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-4567-89ef-0123-456789abcdef"
    stub = QuotaStub(
        [
            (
                "get_service_quota",
                {"Quota": {"Value": 1000.0, "QuotaCode": "L-DB2E81BA", "ServiceCode": "ec2"}},
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
            )
        ]
    )
    found = [
        line.split(": [", 1)[0]
        for line in preflight.run(gateway_cfg(missing, platform_arn=issued), stub.aws())
        if not isinstance(line, preflight.PreflightWarning)
    ]
    assert found == [f"gateway.certificateArn = {missing}"]
    stub = QuotaStub(
        [
            (
                "get_service_quota",
                {"Quota": {"Value": 1000.0, "QuotaCode": "L-DB2E81BA", "ServiceCode": "ec2"}},
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
            )
        ]
    )
    found = [
        line.split(": [", 1)[0]
        for line in preflight.run(gateway_cfg(issued, platform_arn=missing), stub.aws())
        if not isinstance(line, preflight.PreflightWarning)
    ]
    assert found == [f"platform.ingress.certificateArn = {missing}"]


def amp_cfg(address, endpoint_address=None):
    endpoint = {**ENDPOINT, "autoscaling": {"minReplicas": 1, "maxReplicas": 2}}
    if endpoint_address:
        endpoint["autoscaling"]["prometheus"] = {
            "query": "sum(vllm:num_requests_waiting)",
            "targetValue": 8,
            "serverAddress": endpoint_address,
        }
    return parse(
        {
            "cluster": {"mode": "hyperpod", "name": "ml-dev"},
            "platform": {"prometheusServerAddress": address},
            "endpoints": [endpoint],
        },
        "us-east-1",
    )


@mock_aws
def test_A1_prometheus_workspace_missing_in_the_account_is_an_error():
    address = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-00000000-0000-0000-0000-000000000000"
    (line,) = preflight.check_prometheus_workspaces(amp_cfg(address), Aws("us-east-1"))
    assert line.startswith(
        f"platform.prometheusServerAddress = {address}: [A1] the account has no workspace ws-00000000-0000-0000-0000-000000000000 in us-east-1"
    )
    assert "Fix: set it to your workspace's query URL" in line


@mock_aws
def test_A1_active_prometheus_workspaces_pass_and_each_other_one_is_named_once():
    amp = boto3.client("amp", region_name="us-east-1")
    active = amp.create_workspace(alias="llm")["workspaceId"]
    platform = f"https://aps-workspaces.us-east-1.amazonaws.com/workspaces/{active}"
    assert preflight.check_prometheus_workspaces(amp_cfg(platform), Aws("us-east-1")) == []
    other = "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-11111111-2222-3333-4444-555555555555"
    (line,) = preflight.check_prometheus_workspaces(amp_cfg(platform, endpoint_address=other), Aws("us-east-1"))
    assert line.startswith(
        f"endpoints[0].autoscaling.prometheus.serverAddress = {other}: [A1] the account has no workspace ws-11111111-2222-3333-4444-555555555555 in us-west-2"
    )
