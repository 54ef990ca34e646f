"""The preflight quota check on a tuning grid: instance types the account cannot get are dropped before
anything is deployed, each named with its reason (EC2 and Service Quotas through botocore's Stubber)."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import Stubber
from rich.console import Console

from stacks.aws import Aws
from stacks.tuning import grid as grid_mod
from stacks.tuning.cli import drop_unobtainable

BASE = {
    "name": "ep",
    "model": "org/m",
    "engine": "vllm",
    "instanceType": "g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "bkt"},
}


def make_grid(types, **over):
    doc = {
        "name": "g",
        "target": "pulumi",
        "base": BASE,
        "parameters": {"instanceType": types, "replicas": [2]},
        **over,
    }
    return grid_mod.GridSpec.model_validate(doc)


def stubbed(offered: dict[str, bool], quotas: list[tuple[str, float]] = (), ec2_quota=None):
    clients = {
        s: boto3.client(s, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        for s in ("ec2", "service-quotas")
    }
    ec2, sq = Stubber(clients["ec2"]), Stubber(clients["service-quotas"])
    for t, ok in offered.items():
        ec2.add_response(
            "describe_instance_type_offerings",
            {
                "InstanceTypeOfferings": [{"InstanceType": t, "LocationType": "region", "Location": "us-east-1"}]
                if ok
                else []
            },
            {"LocationType": "region", "Filters": [{"Name": "instance-type", "Values": [t]}]},
        )
        if ok and ec2_quota is not None:
            sq.add_response(
                "get_service_quota",
                {"Quota": {"Value": ec2_quota, "QuotaCode": "L-DB2E81BA", "ServiceCode": "ec2"}},
                {"ServiceCode": "ec2", "QuotaCode": "L-DB2E81BA"},
            )
    if quotas:
        sq.add_response(
            "list_service_quotas",
            {"Quotas": [{"QuotaName": n, "Value": v, "QuotaCode": f"L-{i}"} for i, (n, v) in enumerate(quotas)]},
            {"ServiceCode": "sagemaker"},
        )
    ec2.activate()
    sq.activate()
    return Aws("us-east-1", lambda service, region_name: clients[service]), (ec2, sq)


def run(grid, aws):
    out = io.StringIO()
    kept = drop_unobtainable(grid, Console(file=out, width=300), aws)
    return kept, out.getvalue()


def test_preflight_drops_a_hyperpod_type_over_its_cluster_usage_quota():
    grid = make_grid(["g5.12xlarge", "g6e.12xlarge"], cost={"service": "sagemaker-hyperpod"})
    aws, stubs = stubbed(
        {"g5.12xlarge": True, "g6e.12xlarge": True},
        [("ml.g5.12xlarge for cluster usage", 2.0), ("ml.g6e.12xlarge for cluster usage", 1.0)],
    )
    kept, text = run(grid, aws)
    assert kept.parameters["instanceType"] == ["g5.12xlarge"]
    assert (
        "preflight: dropped instanceType g6e.12xlarge: quota 'ml.g6e.12xlarge for cluster usage' in us-east-1 = 1, a trial needs 2"
        in text
    )
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_preflight_drops_an_eks_type_not_offered_or_over_the_vcpu_quota():
    grid = make_grid(["g5.12xlarge", "p5.48xlarge"])
    # g5.12xlarge: 48 vCPUs × 2 replicas = 96 > 64; p5.48xlarge: not offered
    aws, _ = stubbed({"g5.12xlarge": True, "p5.48xlarge": False}, ec2_quota=64.0)
    kept, text = run(grid, aws)
    assert kept is None
    assert (
        "dropped instanceType g5.12xlarge: quota 'Running On-Demand G and VT instances' (L-DB2E81BA) in us-east-1 = 64 vCPUs, a trial needs 96"
        in text
    )
    assert "dropped instanceType p5.48xlarge: not offered in us-east-1" in text
    assert "the account can get none of the grid's instance types" in text


def test_preflight_keeps_every_type_the_account_can_get():
    grid = make_grid(["g5.12xlarge"])
    aws, _ = stubbed({"g5.12xlarge": True}, ec2_quota=192.0)
    kept, text = run(grid, aws)
    assert kept.parameters["instanceType"] == ["g5.12xlarge"] and "dropped" not in text


def test_preflight_skips_with_one_line_when_aws_refuses():
    grid = make_grid(["g5.12xlarge"])
    client = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error(
        "describe_instance_type_offerings", service_error_code="UnauthorizedOperation", service_message="no"
    )
    stub.activate()
    kept, text = run(grid, Aws("us-east-1", lambda service, region_name: client))
    assert kept is grid
    assert (
        text.strip()
        == "preflight skipped: look up instance type g5.12xlarge in us-east-1: access denied. Fix: grant ec2:DescribeInstanceTypeOfferings to the caller; every instance type of the grid is kept"
    )


def test_preflight_leaves_a_grid_that_does_not_vary_instance_type():
    grid = grid_mod.GridSpec.model_validate(
        {"name": "g", "target": "pulumi", "base": BASE, "parameters": {"replicas": [1]}}
    )
    kept, text = run(grid, Aws("us-east-1", lambda service, region_name: pytest.fail("no AWS call")))
    assert kept is grid and text == ""
