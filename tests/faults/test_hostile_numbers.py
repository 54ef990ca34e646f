"""Numbers that feed arithmetic are bounded where config is read, and what they derive is capped with a message.

Before: a capacity file with a negative request rate raised ValueError from `replicas_for_peak`; a derived
autoscaler target that rounds to 0 raised pydantic's ValidationError; `peakRequestsPerSecond: 1e308` printed a
300-digit replica count as the fix; a grid range to `.inf` raised OverflowError. Each row is one hostile
number in one key family (load, slo, capacity file, derived capacity, gateway tiers, grid) and the one problem
line naming its key that it must give, through the same readers `pulumi up`, `stacks plan` and `stacks tune` use.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.rules import ConfigError
from stacks import config as stack_config
from stacks.tuning import grid as grid_mod
from tests.gateway.helpers import GATEWAY
from tests.rules.test_capacity_c1 import WORKLOAD, capacity_doc, endpoint

ROOT = Path(__file__).resolve().parents[2]
INF, NAN = float("inf"), float("nan")
FROM_CAPACITY = {"minReplicas": 1, "maxReplicas": 6, "target": "fromCapacity", "utilization": 0.7}


def stack(tmp: Path, ep: dict | None = None, doc: dict | None = None, gateway: dict | None = None) -> list[str]:
    (tmp / "capacity").mkdir(exist_ok=True)
    (tmp / "capacity" / "qwen3-4b-g5.json").write_text(json.dumps(doc or capacity_doc()))
    values = {
        "cluster": {"mode": "hyperpod", "name": "ml-dev"},
        "endpoints": [ep or endpoint()],
        **({"gateway": gateway} if gateway else {}),
    }
    try:
        stack_config.parse(values, "us-east-1", "prod", tmp)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


def load(value, key="peakRequestsPerSecond"):
    return lambda tmp: stack(tmp, endpoint(load={"peakRequestsPerSecond": 20, "workload": WORKLOAD, key: value}))


def slo(value, key="ttftP90"):
    return lambda tmp: stack(
        tmp,
        endpoint(slo={"ttftP90": 1.0, "tpotP90": 0.05, key: value}),
        capacity_doc(slo={"ttftP90": 1.0, "tpotP90": 0.05, key: value}),
    )


def request_rate(lower_bound, **ep):
    return lambda tmp: stack(
        tmp, endpoint(**ep), capacity_doc(requestRate={"value": 4.4, "lowerBound": lower_bound, "values": [4.4]})
    )


def measured(values):
    capacity = {
        "unit": "concurrency",
        "value": 12,
        "lowerBound": 10,
        "lowerBoundRule": "min over repeats",
        "values": values,
        "source": "capacity search",
    }
    return lambda tmp: stack(tmp, endpoint(), capacity_doc(capacity=capacity))


def tier(value, key="tokensPerMinute"):
    return lambda tmp: stack(tmp, gateway={**GATEWAY, "tiers": [{"name": "free", "tokensPerMinute": 200, key: value}]})


def grid(path: tuple, value):
    def run(tmp: Path) -> list[str]:
        doc = yaml.safe_load((ROOT / "stacks" / "grids" / "fake-engine-test.yaml").read_text())
        target = doc
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
        (tmp / "grid.yaml").write_text(yaml.safe_dump(doc))
        try:
            grid_mod.load(tmp / "grid.yaml")
        except ConfigError as exc:
            return [str(p) for p in exc.problems]
        return []

    return run


RANGE = ("parameters", "engineArgs.maxNumSeqs")
# (family, case, problems of the hostile config, the config path named, a piece of that line)
ROWS = [
    ("load", "negative peak", load(-1), "endpoints[0].load.peakRequestsPerSecond", "must be > 0"),
    ("load", "peak 1e308", load(1e308), "endpoints[0].load.peakRequestsPerSecond", "must be <= 1000000"),
    ("load", "peak inf", load(INF), "endpoints[0].load.peakRequestsPerSecond", "finite number"),
    ("load", "peak nan", load(NAN), "endpoints[0].load.peakRequestsPerSecond", "finite number"),
    ("load", "peak true", load(True), "endpoints[0].load.peakRequestsPerSecond", "expected a number, got bool"),
    ("load", "headroom 11", load(11, "headroom"), "endpoints[0].load.headroom", "must be <= 10"),
    ("load", "headroom -0.5", load(-0.5, "headroom"), "endpoints[0].load.headroom", "must be >= 0"),
    ("slo", "ttft 0", slo(0), "endpoints[0].slo.ttftP90", "must be > 0"),
    ("slo", "ttft 1e308", slo(1e308), "endpoints[0].slo.ttftP90", "must be <= 86400"),
    ("slo", "e2e inf", slo(INF, "e2eP90"), "endpoints[0].slo.e2eP90", "finite number"),
    ("slo", "error rate 2", slo(2, "errorRate"), "endpoints[0].slo.errorRate", "must be <= 1"),
    (
        "capacity file",
        "negative request rate",
        request_rate(-4),
        "endpoints[0].capacity",
        "requestRate.lowerBound: Input should be greater than or equal to 0",
    ),
    (
        "capacity file",
        "request rate 1e308",
        request_rate(1e308),
        "endpoints[0].capacity",
        "requestRate.lowerBound: Input should be less than or equal to 1000000",
    ),
    (
        "capacity file",
        "a negative measured value",
        measured([12, -1]),
        "endpoints[0].capacity",
        "capacity.values.1: Input should be greater than or equal to 0",
    ),
    (
        "capacity file",
        "a price of 1e308 an hour",
        lambda tmp: stack(tmp, endpoint(), capacity_doc(cost={"perHour": 1e308, "priceSource": "x"})),
        "endpoints[0].capacity",
        "cost.perHour: Input should be less than or equal to 10000",
    ),
    (
        "derived",
        "a tiny capacity: 10^18 replicas",
        request_rate(1e-12, load={"peakRequestsPerSecond": 1e6, "workload": WORKLOAD}),
        "endpoints[0].load.peakRequestsPerSecond",
        "needs more than 2147483647 replicas",
    ),
    (
        "derived",
        "a kubernetes target that rounds to 0",
        request_rate(
            1e-5,
            backend="kubernetes",
            autoscaling=FROM_CAPACITY,
            load={"peakRequestsPerSecond": 1e-5, "workload": WORKLOAD},
        ),
        "endpoints[0].autoscaling.target",
        "rounds to 0 at 4 decimals",
    ),
    (
        "derived",
        "a CloudWatch target that rounds to 0",
        request_rate(1e-6, autoscaling=FROM_CAPACITY, load={"peakRequestsPerSecond": 1e-6, "workload": WORKLOAD}),
        "endpoints[0].autoscaling.target",
        "rounds to 0 at 2 decimals",
    ),
    ("gateway tiers", "tokens per minute 0", tier(0), "gateway.tiers[0].tokensPerMinute", "must be > 0"),
    ("gateway tiers", "tokens per minute 2^31", tier(2**31), "gateway.tiers[0].tokensPerMinute", "int32"),
    (
        "gateway tiers",
        "tokens per minute 1e308",
        tier(1e308),
        "gateway.tiers[0].tokensPerMinute",
        "beyond the int32 range",
    ),
    (
        "gateway tiers",
        "requests per minute inf",
        tier(INF, "requestsPerMinute"),
        "gateway.tiers[0].requestsPerMinute",
        "e.g. requestsPerMinute: 2",
    ),
    (
        "grid ranges",
        "a range to .inf",
        grid(RANGE, {"from": 1, "to": INF, "times": 2}),
        "parameters.engineArgs.maxNumSeqs.Range.to",
        "finite number",
    ),
    (
        "grid ranges",
        "a range from .nan",
        grid(RANGE, {"from": NAN, "to": 8, "step": 1}),
        "parameters.engineArgs.maxNumSeqs.Range.from",
        "finite number",
    ),
    (
        "grid ranges",
        "a range whose count overflows",
        grid(RANGE, {"from": -1e308, "to": 1e308, "step": 1}),
        "parameters.engineArgs.maxNumSeqs",
        "more values than a float can count",
    ),
    (
        "grid ranges",
        "a geometric range whose ratio overflows",
        grid(RANGE, {"from": 1e-300, "to": 1e300, "times": 1.5}),
        "parameters.engineArgs.maxNumSeqs",
        "more values than a float can count",
    ),
    (
        "grid ranges",
        "a step that underflows",
        grid(RANGE, {"from": 0, "to": 1, "step": 1e-320}),
        "parameters.engineArgs.maxNumSeqs",
        "more values than a float can count",
    ),
    (
        "grid ranges",
        "the grid's peak 1e308",
        grid(("cost", "peakRequestsPerSecond"), 1e308),
        "cost.peakRequestsPerSecond",
        "must be <= 1000000",
    ),
    (
        "grid ranges",
        "a local price of inf",
        grid(("local", "pricePerHour"), INF),
        "local.pricePerHour",
        "finite number",
    ),
    (
        "grid ranges",
        "a benchmark timeout of inf",
        grid(("benchmark", "timeout"), INF),
        "benchmark.timeout",
        "finite number",
    ),
]


@pytest.mark.parametrize("family, case, problems, path, says", ROWS, ids=[f"{r[0]}: {r[1]}" for r in ROWS])
def test_numbers_feeding_arithmetic_are_bounded(tmp_path, family, case, problems, path, says):
    lines = problems(tmp_path)  # anything but ConfigError escapes and fails the row
    named = [line for line in lines if line.startswith(f"{path} = ")]
    assert named, lines
    assert says in named[0], named[0]
    assert all("\n" not in line and len(line) < 600 and ". Fix: " in line for line in lines), lines
