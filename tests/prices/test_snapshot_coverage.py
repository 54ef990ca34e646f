"""The shipped price snapshots cover what the shipped material runs: every instance type named by the example
stacks, the grids, the docs and the README has a price or a gap entry of its own, in its EC2 and SageMaker
spellings; and what each example stack runs is priced or named as a gap in its own region's snapshot."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from components.rules import cost, instances
from stacks import plan as plan_cmd
from stacks.prices import snapshot
from tests.example_stacks import user_values

ROOT = plan_cmd.PROJECT_DIR
SHIPPED = (
    sorted(ROOT.glob("Pulumi.*.yaml"))
    + sorted((ROOT / "stacks" / "grids").glob("*.yaml"))
    + sorted((ROOT / "docs").glob("*.md"))
    + [ROOT / "README.md"]
)
# g5.xlarge, ml.g5.12xlarge, m6i.large, g4dn.metal, ml.p6-b200.48xlarge; not the ElastiCache node types (cache.t4g.small), which are
# no instances the plan prices, nor file names such as deploying.md.
INSTANCE = re.compile(r"(?<![\w.-])(?:ml\.)?[a-z][a-z0-9]*(?:-[a-z0-9]+)?\.(?:metal|medium|small|large|\d*xlarge)\b")
EXAMPLES = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def load(region: str) -> snapshot.Snapshot:
    raw = json.loads(snapshot.path_for(region).read_text())
    return snapshot.load(region, today=dt.date.fromisoformat(raw["date"]))


def used_types() -> set[str]:
    return {instances.ec2_name(m.group(0)) for path in SHIPPED for m in INSTANCE.finditer(path.read_text())}


def test_the_scan_finds_the_types_the_examples_and_grids_name():
    found = used_types()
    assert {
        "m6i.xlarge",
        "m6i.large",
        "g5.2xlarge",
        "g4dn.xlarge",
        "g6e.12xlarge",
        "g5.8xlarge",
        "g5.12xlarge",
        "g5.xlarge",
    } <= found
    assert not {t for t in found if t.startswith("cache.")}


@pytest.mark.parametrize("itype", sorted(used_types()))
def test_every_shipped_instance_type_has_a_price_or_its_own_gap_in_us_east_1(itype):
    snap = load("us-east-1")
    # GPU types run on EKS node groups (EC2), HyperPod instance groups and SageMaker endpoints; CPU types are
    # system nodes, EC2 only.
    services = ["ec2", "sagemaker-hyperpod", "sagemaker-hosting"] if instances.is_gpu_instance(itype) else ["ec2"]
    for service in services:
        name = cost.priced_name(service, itype)
        assert snap.price(service, name) or snap.gap(service, name), (
            f"{service} {name}: neither a price nor a gap entry in stacks/prices/us-east-1.json"
        )


@pytest.mark.parametrize("stack", EXAMPLES)
def test_what_each_example_stack_runs_is_priced_or_a_gap_in_its_region(stack):
    cfg = plan_cmd.parse_stack_config(user_values(stack), plan_cmd.project_name(), stack)
    snap = load(cfg.region)
    running = cost.running_instances(cfg.cluster, cfg.endpoints, cfg.platform_stack)
    if cfg.platform_stack:  # an endpoint stack (staging-endpoints) runs on its platform stack's nodes, priced there
        assert running == []
        return
    assert running
    for r in running:
        assert snap.price(r.service, r.instance_type) or snap.gap(r.service, r.instance_type), (
            f"{cfg.region} {r.service} {r.instance_type} ({r.what})"
        )


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_every_shipped_price_names_its_source_and_when_it_was_read(region):
    snap = load(region)
    assert snap.prices and snap.gaps
    for price in snap.prices:
        src = price.source
        assert src.kind in ("price-list-file", "repository-table"), price  # no secondary web page is left
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", src.repo) and re.fullmatch(r"[0-9a-f]{40}", src.commit) and src.path, (
            price
        )
        assert price.taken == dt.date(2026, 12, 6) and price.taken <= snap.date


def test_the_us_east_1_numbers_are_the_sources_numbers():
    snap = load("us-east-1")
    # aws/karpenter-provider-aws@6fc13b52 pkg/providers/pricing/zz_generated.pricing_aws.go (generated 2026-07-20)
    assert [
        snap.price("ec2", t).usd_per_hour
        for t in ("g5.xlarge", "g5.2xlarge", "g5.12xlarge", "g4dn.xlarge", "g6e.12xlarge", "m6i.xlarge")
    ] == [1.006, 1.212, 5.672, 0.526, 10.49264, 0.192]
    # aws-samples/foundation-model-benchmarking-tool@d8814208 fmbench/configs/pricing.yml
    assert [
        snap.price("sagemaker-hosting", t).usd_per_hour for t in ("ml.g5.xlarge", "ml.g5.12xlarge", "ml.p4d.24xlarge")
    ] == [1.4084, 7.09, 37.688]
    assert snap.price("sagemaker-hyperpod", "ml.g5.12xlarge") is None and snap.gap(
        "sagemaker-hyperpod", "ml.g5.12xlarge"
    )
    assert snap.price("ec2", "p5e.48xlarge") is None and snap.gap("ec2", "p5e.48xlarge")
