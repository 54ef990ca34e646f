"""`python -m stacks prices show`: every price with its service, $/h, source and dates, then the gaps."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from stacks.__main__ import main as cli
from stacks.prices import show, snapshot
from stacks.prices.snapshot import Gap, Price, Snapshot, Source

DAY = dt.date(2026, 12, 6)
KARPENTER = Source(
    kind="price-list-file",
    repo="aws/karpenter-provider-aws",
    commit="6fc13b5236fd04fd16ff3f9dc7490d0813994099",
    path="pkg/providers/pricing/zz_generated.pricing_aws.go",
    published="2026-07-20T13:44:30Z",
    note="generated from the Price List API",
)


def run(region, directory):
    out = io.StringIO()
    code = show.main(region, Console(file=out, width=400), directory, today=DAY)
    return code, out.getvalue().splitlines()


def test_show_lists_each_price_its_source_and_dates_then_the_gaps(tmp_path):
    snap = Snapshot(
        region="us-east-1",
        date=DAY,
        prices=[Price(service="ec2", instance_type="g5.xlarge", usd_per_hour=1.006, source=KARPENTER, taken=DAY)],
        gaps=[Gap(service="sagemaker-hyperpod", instance_type="ml.g5.xlarge", reason="no public copy found")],
    )
    snapshot.save(snap, tmp_path)
    code, lines = run("us-east-1", tmp_path)
    assert code == 0
    assert lines == [
        f"{tmp_path}/us-east-1.json: written 2026-12-06, on-demand USD per instance-hour, 1 price(s), 1 gap(s)",
        "  service             type                     $/h  source  source date  taken",
        "  ec2                 g5.xlarge              1.006  [1]     2026-07-20   2026-12-06",
        "  sources:",
        "  [1] price-list-file aws/karpenter-provider-aws@6fc13b52 pkg/providers/pricing/zz_generated.pricing_aws.go: generated from the Price List API",
        "  gaps (no price):",
        "  sagemaker-hyperpod ml.g5.xlarge: no public copy found",
    ]


def test_show_of_a_region_without_a_snapshot_fails_with_the_refresh_command(tmp_path):
    code, lines = run("eu-west-1", tmp_path)
    assert code == 1
    assert lines == [
        f"error {tmp_path}/eu-west-1.json: no price snapshot for region eu-west-1. Fix: run `python -m stacks prices refresh --region eu-west-1`"
    ]


def test_shipped_us_west_2_snapshot_shows_the_staging_types_and_names_its_gaps(capsys):
    assert cli(["prices", "show", "--region", "us-west-2"]) == 0
    text = capsys.readouterr().out
    assert "  ec2                 g6e.12xlarge        10.49264  [1]" in text
    assert "  ec2                 m6i.large              0.096  [1]" in text
    assert "[1] price-list-file skypilot-org/skypilot-catalog@e385a0d3 catalogs/v8/aws/vms.csv" in text
    assert "  sagemaker-hyperpod *: no public copy of AWS's HyperPod prices" in text


def test_refresh_still_requires_a_region(capsys):
    try:
        cli(["prices", "refresh"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "prices refresh needs --region" in capsys.readouterr().err
