"""Price snapshot readers refuse a stale or malformed file with one line naming the file and the fix."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from stacks.prices import snapshot
from stacks.prices.snapshot import SnapshotError

GOOD = {
    "schema_version": 1,
    "region": "us-east-1",
    "date": "2026-11-28",
    "currency": "USD",
    "prices": [
        {
            "service": "ec2",
            "instance_type": "g5.xlarge",
            "usd_per_hour": 1.006,
            "source": {"kind": "page", "url": "https://example.com/p"},
            "taken": "2026-11-28",
        }
    ],
}


def write(tmp_path, doc, name="us-east-1.json"):
    (tmp_path / name).write_text(doc if isinstance(doc, str) else json.dumps(doc))


def test_snapshot_lookup_accepts_either_case(tmp_path):
    write(tmp_path, GOOD)
    snap = snapshot.load("us-east-1", tmp_path, today=dt.date(2026, 12, 1))
    assert snap.price("ec2", "G5.XLARGE").usd_per_hour == 1.006
    assert snap.price("sagemaker-hyperpod", "ml.g5.xlarge") is None


def test_snapshot_older_than_180_days_is_refused_with_its_age_and_the_refresh_command(tmp_path):
    write(tmp_path, GOOD)
    with pytest.raises(SnapshotError) as err:
        snapshot.load("us-east-1", tmp_path, today=dt.date(2027, 5, 28))  # 181 days after 2026-11-28
    assert (
        str(err.value)
        == f"{tmp_path}/us-east-1.json: dated 2026-11-28, 181 days old (limit 180): prices change. Fix: run `python -m stacks prices refresh --region us-east-1`"
    )
    assert snapshot.load("us-east-1", tmp_path, today=dt.date(2027, 5, 27)).date == dt.date(
        2026, 11, 28
    )  # 180 days: accepted


@pytest.mark.parametrize(
    "doc, where",
    [
        ("{not json", "Expecting property name"),
        ({**GOOD, "prices": [{**GOOD["prices"][0], "usd_per_hour": -1}]}, "prices.0.usd_per_hour"),
        ({**GOOD, "prices": [{**GOOD["prices"][0], "service": "ec3"}]}, "prices.0.service"),
        ({k: v for k, v in GOOD.items() if k != "date"}, "date: Field required"),
    ],
)
def test_snapshot_malformed_is_refused_naming_the_field(tmp_path, doc, where):
    write(tmp_path, doc)
    with pytest.raises(SnapshotError) as err:
        snapshot.load("us-east-1", tmp_path, today=dt.date(2026, 11, 28))
    message = str(err.value)
    assert message.startswith(f"{tmp_path}/us-east-1.json: not a price snapshot (") and where in message
    assert "\n" not in message


def test_snapshot_of_another_region_or_none_at_all_is_refused(tmp_path):
    write(tmp_path, {**GOOD, "region": "eu-west-1"})
    with pytest.raises(SnapshotError, match="holds region eu-west-1, not us-east-1"):
        snapshot.load("us-east-1", tmp_path)
    with pytest.raises(
        SnapshotError,
        match="no price snapshot for region ap-south-1. Fix: run `python -m stacks prices refresh --region ap-south-1`",
    ):
        snapshot.load("ap-south-1", tmp_path)


def test_shipped_snapshot_is_dated_and_every_price_names_its_source():
    raw = json.loads(snapshot.path_for("us-east-1").read_text())
    snap = snapshot.load("us-east-1", today=dt.date.fromisoformat(raw["date"]))
    assert snap.prices, "the shipped snapshot holds no price"
    for price in snap.prices:
        assert price.source.repo and price.source.commit and price.source.path, price  # repo@commit path
        assert price.taken <= snap.date
    assert snap.gaps  # what it lacks is listed, not invented


@pytest.mark.parametrize(
    "source, where",
    [
        (
            {
                "kind": "price-list-file",
                "repo": "aws/karpenter-provider-aws",
                "path": "pkg/providers/pricing/zz_generated.pricing_aws.go",
            },
            "a price-list-file source names repo, commit and path",
        ),
        (
            {
                "kind": "repository-table",
                "repo": "aws-samples/foundation-model-benchmarking-tool",
                "commit": "d8814208",
            },
            "prices.0.source.commit",
        ),
        ({"kind": "page"}, "a page source names its url"),
        ({"kind": "blog", "url": "https://example.com/p"}, "prices.0.source.kind"),
    ],
)
def test_a_price_whose_source_cannot_be_found_again_is_refused(tmp_path, source, where):
    write(tmp_path, {**GOOD, "prices": [{**GOOD["prices"][0], "source": source}]})
    with pytest.raises(SnapshotError) as err:
        snapshot.load("us-east-1", tmp_path, today=dt.date(2026, 11, 28))
    assert where in str(err.value)


def test_hourly_price_takes_either_spelling_and_names_a_missing_type(tmp_path):
    write(
        tmp_path,
        {
            **GOOD,
            "prices": [
                *GOOD["prices"],
                {
                    **GOOD["prices"][0],
                    "service": "sagemaker-hyperpod",
                    "instance_type": "ml.g5.12xlarge",
                    "usd_per_hour": 7.09,
                },
            ],
        },
    )
    day = dt.date(2026, 11, 28)
    assert snapshot.hourly_price("us-east-1", "ec2", "ml.g5.xlarge", tmp_path, day) == 1.006
    assert snapshot.hourly_price("us-east-1", "sagemaker-hyperpod", "g5.12xlarge", tmp_path, day) == 7.09
    with pytest.raises(
        SnapshotError,
        match=r"no sagemaker-hyperpod price for ml.p5.48xlarge. Fix: run `python -m stacks prices refresh --region us-east-1`",
    ):
        snapshot.hourly_price("us-east-1", "sagemaker-hyperpod", "p5.48xlarge", tmp_path, day)
