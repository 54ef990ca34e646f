"""Cost in tuning: `cost_per_mtok` as a minimised objective, trial prices (local setting, snapshot ×
replicas), pruning (instanceType on the local target, no price), the report's cost columns and ranking."""

from __future__ import annotations

import datetime as dt

import pytest

from stacks.prices import snapshot
from stacks.prices.snapshot import Price, Snapshot, Source
from stacks.tuning import cost as tuning_cost
from stacks.tuning import grid as grid_mod
from stacks.tuning import report
from stacks.tuning.grid import expand
from stacks.tuning.measure import cost_metrics
from stacks.tuning.store import TrialRecord, TrialStore

BASE = {
    "name": "ep",
    "model": "org/m",
    "engine": "vllm",
    "instanceType": "g5.12xlarge",
    "modelSource": {"type": "s3", "bucket": "bkt"},
}


def make_grid(**over):
    doc = {"name": "g", "base": BASE, "parameters": {"engineArgs.maxNumSeqs": [8]}, "slo": {"ttft_p90": 1.0}, **over}
    return grid_mod.GridSpec.model_validate(doc)


def snap(*prices):
    src = Source(kind="page", url="https://example.com/prices")
    day = dt.date(2026, 11, 28)
    return Snapshot(
        region="us-east-1",
        date=day,
        prices=[Price(service=s, instance_type=t, usd_per_hour=usd, source=src, taken=day) for s, t, usd in prices],
    )


@pytest.fixture
def hyperpod_prices(monkeypatch):
    table = snap(("sagemaker-hyperpod", "ml.g5.12xlarge", 7.09), ("ec2", "g5.12xlarge", 5.672))
    monkeypatch.setattr(snapshot, "load", lambda region, directory=None, today=None: table)
    return table


def test_cost_per_mtok_objective_is_minimised():
    grid = make_grid(objective={"metric": "cost_per_mtok"}, local={"pricePerHour": 0.1})
    assert grid.objective.sense == "minimize"


def test_level_cost_at_1000_output_tokens_per_second_and_14_18_per_hour():
    out = cost_metrics(1000.0, 14.18)
    assert out["cost_per_hour"] == 14.18
    assert out["cost_per_mtok"] == pytest.approx(3.938889, abs=1e-6)  # 14.18 / 3.6
    assert cost_metrics(1000.0, None) == {}


def test_local_trial_price_is_the_grid_setting_local_price_per_hour():
    assert tuning_cost.trial_price(make_grid(local={"pricePerHour": 0.10}), None) == 0.10
    assert tuning_cost.trial_price(make_grid(), None) is None  # no setting: no cost columns


def test_pulumi_trial_price_is_two_replicas_at_7_09_per_hour(hyperpod_prices):
    grid = make_grid(target="pulumi", base={**BASE, "replicas": 2}, cost={"service": "sagemaker-hyperpod"})
    (point,) = expand(grid)
    assert tuning_cost.trial_price(grid, point.spec) == pytest.approx(14.18)
    ec2 = make_grid(target="pulumi", base={**BASE, "replicas": 2})  # no cluster: EC2 node groups
    assert tuning_cost.trial_price(ec2, point.spec) == pytest.approx(11.344)  # 2 × 5.672


def test_local_target_prunes_instance_type_as_a_parameter_with_the_reason():
    grid = make_grid(parameters={"instanceType": ["g5.12xlarge", "g6.12xlarge"]}, local={"pricePerHour": 0.1})
    points = expand(grid)
    assert all(p.pruned for p in points)
    problem = points[0].problems[-1]
    assert (
        problem.path == "parameters.instanceType"
        and "the local target runs one engine process on this machine" in problem.message
    )


def test_local_cost_objective_without_a_machine_price_is_pruned():
    (point,) = expand(make_grid(objective={"metric": "cost_per_mtok"}))
    assert point.pruned and point.problems[-1].path == "local.pricePerHour"


def test_pulumi_grid_varying_instance_type_prunes_the_one_without_a_price(hyperpod_prices):
    grid = make_grid(
        target="pulumi",
        parameters={"instanceType": ["g5.12xlarge", "g6.12xlarge"]},
        objective={"metric": "cost_per_mtok"},
        cost={"service": "sagemaker-hyperpod"},
    )
    by_type = {p.params["instanceType"]: p for p in expand(grid)}
    assert not by_type["g5.12xlarge"].pruned
    assert by_type["g6.12xlarge"].pruned
    problem = by_type["g6.12xlarge"].problems[-1]
    assert (
        problem.path == "parameters.instanceType"
        and "no sagemaker-hyperpod price for ml.g6.12xlarge" in problem.message
        and problem.value == "g6.12xlarge"
    )
    assert "prices refresh --region us-east-1" in problem.fix


def trial(key, instance, tput, rps, per_hour, ttft, replicas=1):
    def m(v):
        return {"mean": v, "min": v, "max": v, "stdev": 0.0, "values": [v, v]}

    metrics = {
        "output_throughput": m(tput),
        "request_throughput": m(rps),
        "ttft_p90": m(ttft),
        "cost_per_hour": m(per_hour),
        "meets_slo": ttft <= 1.0,
    }
    metrics["cost_per_mtok"] = m(per_hour / (tput * 3600 / 1e6))
    return TrialRecord("g", key, {"instanceType": instance, "replicas": replicas}, "succeeded", metrics=metrics)


def test_report_ranks_by_cost_per_mtok_at_the_slo_with_cost_columns_and_month_at_peak(tmp_path):
    grid = make_grid(
        target="pulumi",
        parameters={"instanceType": ["g5.12xlarge", "g6e.12xlarge", "p5.48xlarge"], "replicas": [1]},
        objective={"metric": "cost_per_mtok"},
        cost={"peakRequestsPerSecond": 20},
    )
    records = [
        trial("a", "g5.12xlarge", 1000, 4, 7.09, 0.5),  # $1.9694/Mtok; 20/4 = 5 replicas × 7.09 × 730 = $25,878.50
        trial("b", "g6e.12xlarge", 2000, 10, 10.0, 0.6),  # $1.3889/Mtok; 2 replicas × 10 × 730 = $14,600
        trial("c", "p5.48xlarge", 4000, 40, 98.32, 2.0),  # cheaper per token? no: $6.83, and it misses the SLO
    ]
    store = TrialStore(tmp_path / "t.db")
    store.start_run("g", grid.model_dump(mode="json", by_alias=True))
    for record in records:
        store.save(record)
    written = report.write(store, tmp_path / "out")
    text = written["report"].read_text()
    ranking = text.split("## Ranked by $ per million output tokens at the SLO")[1].strip().splitlines()
    assert ranking[0].startswith(
        "1. {'instanceType': 'g6e.12xlarge', 'replicas': 1}: $1.3889 per million output tokens ($10.00/h at 2000 tok/s); $14,600 a month at the declared peak of 20 req/s"
    )
    assert ranking[1].startswith("2. {'instanceType': 'g5.12xlarge', 'replicas': 1}: $1.9694 per million")
    assert "$25,878 a month" in ranking[1] or "$25,879 a month" in ranking[1]
    assert not any("p5.48xlarge" in line for line in ranking[:3] if line.startswith("3."))
    assert written["header"][2:5] == ["$/h", "$/Mtok", "$/month at peak"]
    first = written["rows"][0]  # best first for a minimised objective
    assert first[0] == "g6e.12xlarge" and first[2:5] == ["10.00", "1.3889", "14,600"]
    assert written["cost_plot"].read_bytes()[:4] == b"\x89PNG" and "cost.png" in text


def test_report_without_a_price_says_why_it_has_no_cost_columns(tmp_path):
    grid = make_grid()
    store = TrialStore(tmp_path / "t.db")
    store.start_run("g", grid.model_dump(mode="json", by_alias=True))
    record = trial("a", "g5.12xlarge", 1000, 4, 7.09, 0.5)
    record.metrics = {k: v for k, v in record.metrics.items() if not k.startswith("cost_")}
    store.save(record)
    written = report.write(store, tmp_path / "out")
    assert "No cost columns: set local.pricePerHour ($/h of this machine)." in written["report"].read_text()
    assert "$/h" not in written["header"] and written["cost_plot"] is None


class _OneProcess:
    """A deployer double: one endpoint, nothing to clean up."""

    def start(self, key, spec):
        return key

    def wait_ready(self, handle, timeout, stop):
        from stacks.tuning.deploy import Endpoint

        return Endpoint("http://127.0.0.1:1", "m")

    def stop(self, handle):
        return None

    def log_path(self, handle):
        return None

    def describe(self, handle):
        return None

    def cleanup(self, described):
        return None


class _PricedMeasurer:
    """Measures 1,000 output tok/s at every load and keeps the price the driver handed the endpoint."""

    def __init__(self):
        self.prices = []

    def measure(self, endpoint, stop):
        from stacks.tuning.measure import Measurement, aggregate

        self.prices.append(endpoint.price_per_hour)
        sample = {
            "load": 8,
            "output_throughput": 1000.0,
            "ttft_p90": 0.2,
            **cost_metrics(1000.0, endpoint.price_per_hour),
        }
        return Measurement(aggregate([sample]), [sample], True, 8)


def test_driver_hands_the_local_machine_price_to_the_measurement(tmp_path):
    from stacks.tuning.driver import Driver

    grid = make_grid(local={"pricePerHour": 0.10}, objective={"metric": "cost_per_mtok"})
    measurer = _PricedMeasurer()
    summary = Driver(grid, TrialStore(tmp_path / "t.db"), _OneProcess(), measurer=measurer).run()
    (record,) = summary.records
    assert measurer.prices == [0.10]
    assert record.value("cost_per_mtok") == pytest.approx(0.0277778, abs=1e-7)  # 0.10 / 3.6


def test_cost_objective_takes_the_cheapest_load_that_meets_the_slo():
    from stacks.tuning.measure import Measurer

    measurer = Measurer(make_grid(local={"pricePerHour": 3.6}, objective={"metric": "cost_per_mtok"}))
    runs = [
        [
            {"load": 4, "output_throughput": 100.0, "ttft_p90": 0.3, **cost_metrics(100.0, 3.6)},  # $10/Mtok
            {"load": 16, "output_throughput": 400.0, "ttft_p90": 0.9, **cost_metrics(400.0, 3.6)},  # $2.50/Mtok
            {
                "load": 64,
                "output_throughput": 1000.0,
                "ttft_p90": 3.0,
                **cost_metrics(1000.0, 3.6),
            },  # $1/Mtok, misses the SLO
        ]
    ]
    m = measurer._choose(runs)
    assert (m.load, m.meets_slo) == (16, True)
    assert m.metrics["cost_per_mtok"]["mean"] == pytest.approx(2.5)
