"""`stacks prices refresh`: the Price List API read through botocore's Stubber (real response shapes:
`PriceList` is a list of JSON strings, pages joined by NextToken)."""

from __future__ import annotations

import datetime as dt
import io
import json

import boto3
import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from rich.console import Console

from components.rules import instances
from stacks.prices import refresh, snapshot

TODAY = dt.date(2026, 11, 28)


def product(
    usagetype: str, instance_type: str, usd: str, sku: str = "SKU1", effective: str = "2026-11-01T00:00:00Z"
) -> str:
    term = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "sku": sku,
                "attributes": {"usagetype": usagetype, "instanceType": instance_type, "regionCode": "us-east-1"},
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    term: {
                        "sku": sku,
                        "offerTermCode": "JRTCKXETXF",
                        "effectiveDate": effective,
                        "priceDimensions": {f"{term}.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}},
                    }
                }
            },
        }
    )


@pytest.fixture
def pricing():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub


def run(client, tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=400)
    code = refresh.main("us-east-1", console, tmp_path, client_factory=lambda: client, today=TODAY)
    return code, out.getvalue()


def test_refresh_reads_every_page_and_writes_dated_sourced_prices(pricing, tmp_path):
    client, stub = pricing
    # EC2: two pages (NextToken), and a dedicated-host product for the same type that must not count.
    stub.add_response(
        "get_products",
        {
            "PriceList": [product("BoxUsage:g5.12xlarge", "g5.12xlarge", "5.6720000000", "EC2A")],
            "NextToken": "t1",
            "FormatVersion": "aws_v1",
        },
        {"ServiceCode": "AmazonEC2", "Filters": ANY, "FormatVersion": "aws_v1"},
    )
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                product("DedicatedUsage:g5.xlarge", "g5.xlarge", "9.9"),
                product("BoxUsage:g5.xlarge", "g5.xlarge", "1.0060000000", "EC2B"),
            ],
            "FormatVersion": "aws_v1",
        },
        {"ServiceCode": "AmazonEC2", "Filters": ANY, "FormatVersion": "aws_v1", "NextToken": "t1"},
    )
    # HyperPod: the Cluster usage type; a -Reserved line for the same type is another product.
    stub.add_response(
        "get_products",
        {
            "PriceList": [
                product("USE1-Cluster:ml.g5.12xlarge-Reserved", "", "1.0"),
                product("USE1-Cluster:ml.g5.12xlarge", "", "7.0900000000", "HP1"),
            ]
        },
        {"ServiceCode": "AmazonSageMaker", "Filters": ANY, "FormatVersion": "aws_v1"},
    )
    stub.add_response(
        "get_products",
        {"PriceList": [product("USE1-Host:ml.g5.xlarge", "", "1.4080000000", "HO1")]},
        {"ServiceCode": "AmazonSageMaker", "Filters": ANY, "FormatVersion": "aws_v1"},
    )
    code, text = run(client, tmp_path)
    assert code == 0, text
    snap = snapshot.load("us-east-1", tmp_path, today=TODAY)
    assert snap.date == TODAY
    assert snap.price("ec2", "g5.12xlarge").usd_per_hour == 5.672
    assert snap.price("ec2", "g5.xlarge").usd_per_hour == 1.006  # not the dedicated 9.9
    hp = snap.price("sagemaker-hyperpod", "ml.g5.12xlarge")
    assert (hp.usd_per_hour, hp.source.sku, hp.source.offer_term, hp.source.effective_date, hp.taken) == (
        7.09,
        "HP1",
        "JRTCKXETXF",
        "2026-11-01T00:00:00Z",
        TODAY,
    )
    assert snap.price("sagemaker-hosting", "ml.g5.xlarge").usd_per_hour == 1.408
    stub.assert_no_pending_responses()


def test_refresh_sends_the_ec2_filters_linux_shared_no_software_used_capacity():
    """ANY_OF takes its values as one comma-separated string: AWS Price List API Reference, `Filter`
    (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_Filter.html):
    "For ANY_OF and NONE_OF filter types, you can provide multiple values as a comma-separated
    string. For example, t2.micro,t2.small,t2.medium"."""
    code, filters = refresh.queries("eu-west-1", ["g5.xlarge", "p5.48xlarge"])["ec2"]
    assert code == "AmazonEC2"
    terms = {f["Field"]: (f["Type"], f["Value"]) for f in filters}
    assert terms == {
        "regionCode": ("TERM_MATCH", "eu-west-1"),
        "operatingSystem": ("TERM_MATCH", "Linux"),
        "tenancy": ("TERM_MATCH", "Shared"),
        "preInstalledSw": ("TERM_MATCH", "NA"),
        "capacitystatus": ("TERM_MATCH", "Used"),
        "instanceType": ("ANY_OF", "g5.xlarge,p5.48xlarge"),
    }


def test_refresh_any_of_instance_list_fits_the_filter_values_1024_characters():
    """A filter `Value` is at most 1024 characters (botocore `pricing` 2017-10-15 shape `Value`,
    max 1024; the API Reference's `Filter` says the same). botocore checks only the minimum on the
    client, so a catalogue whose joined instance types outgrow it would fail only at AWS."""
    shape = botocore.session.get_session().get_service_model("pricing").shape_for("Value")
    assert shape.metadata["max"] == 1024
    _, filters = refresh.queries("ap-southeast-2", sorted(instances.INSTANCE_TYPES))["ec2"]
    (value,) = [f["Value"] for f in filters if f["Type"] == "ANY_OF"]
    assert len(value) <= 1024, f"{len(value)} characters: split the ANY_OF query"


def test_refresh_names_a_missing_instance_type_in_a_warning_and_in_the_gaps(pricing, tmp_path):
    client, stub = pricing
    stub.add_response("get_products", {"PriceList": [product("BoxUsage:g5.xlarge", "g5.xlarge", "1.006")]})
    stub.add_response("get_products", {"PriceList": []})
    stub.add_response("get_products", {"PriceList": []})
    code, text = run(client, tmp_path)
    assert code == 0
    assert "warning ec2 in us-east-1: no on-demand price for g4dn.12xlarge," in text
    assert "p5en.48xlarge" in text and "ml.g5.12xlarge" in text
    snap = snapshot.load("us-east-1", tmp_path, today=TODAY)
    assert [p.instance_type for p in snap.prices] == ["g5.xlarge"]
    gap = snap.gap("ec2", "p5e.48xlarge")
    assert gap is not None and gap.reason.startswith(
        "the Price List API had no on-demand price for it in us-east-1 on 2026-11-28"
    )
    assert snap.gap("sagemaker-hyperpod", "ml.g5.12xlarge") is not None


def test_refresh_reports_an_api_error_in_one_line_and_exits_1(pricing, tmp_path):
    client, stub = pricing
    stub.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized\nmore detail",
        http_status_code=403,
    )
    code, text = run(client, tmp_path)
    assert code == 1
    assert text.strip().splitlines() == [
        "error read AmazonEC2 prices for us-east-1 from the Price List API: access denied. Fix: grant pricing:GetProducts to the caller"
    ]
    assert not (tmp_path / "us-east-1.json").exists()


def test_refresh_rejects_a_region_that_is_not_a_region_name_with_exit_2(tmp_path):
    out = io.StringIO()
    code = refresh.main(
        "US East",
        Console(file=out, width=400),
        tmp_path,
        client_factory=lambda: pytest.fail("no API call for bad input"),
    )
    assert code == 2
    assert "--region 'US East' is not an AWS region name" in out.getvalue()


def test_prices_command_line_refuses_a_bad_region_with_exit_2(capsys):
    from stacks.__main__ import main

    assert main(["prices", "refresh", "--region", "nowhere"]) == 2
    assert "--region 'nowhere' is not an AWS region name. Fix: give one such as us-east-1" in capsys.readouterr().out


def test_refresh_with_no_price_at_all_keeps_the_existing_snapshot_and_exits_1(pricing, tmp_path):
    client, stub = pricing
    for _ in range(3):
        stub.add_response("get_products", {"PriceList": []})
    kept = json.dumps({"schema_version": 1, "region": "us-east-1", "date": "2026-11-01", "prices": []})
    (tmp_path / "us-east-1.json").write_text(kept)
    code, text = run(client, tmp_path)
    assert code == 1
    assert (
        "error the Price List API has no price for any instance type in us-east-1; nothing written. Fix: check the region name"
        in text
    )
    assert (tmp_path / "us-east-1.json").read_text() == kept
