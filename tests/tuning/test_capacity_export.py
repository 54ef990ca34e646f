"""Capacity at the SLO: recorded per trial with its spread, exported per configuration."""

from __future__ import annotations

import json
import threading

from stacks.__main__ import main as stacks_main
from stacks.tuning import grid as grid_mod
from stacks.tuning.deploy import Endpoint
from stacks.tuning.measure import Measurer
from stacks.tuning.store import TrialRecord, TrialStore

BASE = {
    "name": "ep",
    "model": "org/m",
    "engine": "vllm",
    "instanceType": "g5.xlarge",
    "modelSource": {"type": "s3", "bucket": "bkt"},
    "engineArgs": {"maxModelLen": 2048},
}


def make_grid(**extra):
    doc = {
        "name": "g",
        "base": BASE,
        "parameters": {"engineArgs.maxNumSeqs": [4, 8]},
        "slo": {"ttft_p90": 1.0},
        "benchmark": {"scenario": "D(256,64)"},
    }
    return grid_mod.GridSpec.model_validate({**doc, **extra})


def sample(load, ttft, rps):
    return {
        "load": load,
        "output_throughput": 10.0 * load,
        "ttft_p90": ttft,
        "request_throughput": rps,
        "error_rate": 0.0,
    }


def test_capacity_of_levels_is_the_highest_slo_meeting_level_with_its_lower_bound_over_repeats():
    runs = [
        [sample(4, 0.3, 1.0), sample(8, 0.8, 1.9), sample(16, 2.0, 2.5)],
        [sample(4, 0.3, 1.1), sample(8, 1.2, 1.8), sample(16, 2.2, 2.4)],  # this repeat missed the SLO at 8
    ]
    cap = Measurer(make_grid())._choose(runs).capacity
    assert (cap["unit"], cap["values"], cap["value"], cap["lower_bound"]) == ("concurrency", [8, 4], 6.0, 4)
    assert cap["lower_bound_rule"] == "min over repeats" and cap["source"] == "best SLO-meeting level"
    assert cap["request_rate"]["lower_bound"] == 1.0  # requests/s measured at the lower bound's load (4)


def test_capacity_search_repeats_give_the_spread_and_the_lower_bound(monkeypatch):
    grid = make_grid(capacitySearch={"enabled": True, "start": 1, "max": 64, "steps": 6, "repeats": 3})
    limits = iter([12, 9, 10])
    state = {"limit": next(limits)}
    measurer = Measurer(grid)
    searches = []

    def capacity(endpoint, stop, benchmark=None):
        from stacks.tuning.measure import capacity_search

        value = capacity_search(lambda load: load <= state["limit"], 1, 64, 6, True)
        searches.append(value)
        state["limit"] = next(limits, state["limit"])
        return value

    monkeypatch.setattr(measurer, "capacity", capacity)
    monkeypatch.setattr(
        measurer,
        "_levels",
        lambda config, endpoint, stop, probe=False, benchmark=None: [sample(config.concurrency[0], 0.5, 3.0)],
    )
    m = measurer.measure(Endpoint("http://127.0.0.1:1", "m", gpus=1), threading.Event())
    assert searches == [12, 9, 10]
    assert m.capacity["values"] == [12, 9, 10] and m.capacity["value"] == 10 and m.capacity["lower_bound"] == 9
    assert m.load == 9  # the repeated benchmark runs at the lower bound
    assert m.capacity["source"] == "capacity search" and m.capacity["request_rate"]["lower_bound"] == 3.0


def _trial(seqs, values, rates):
    metrics = {
        "output_throughput": {"mean": 100.0, "min": 100.0, "max": 100.0, "stdev": 0.0, "values": [100.0]},
        "ttft_p90": {"mean": 0.5, "min": 0.5, "max": 0.5, "stdev": 0.0, "values": [0.5]},
        "meets_slo": True,
        "capacity": {
            "unit": "concurrency",
            "source": "capacity search",
            "value": sorted(values)[len(values) // 2],
            "lower_bound": min(values),
            "lower_bound_rule": "min over repeats",
            "values": values,
            "request_rate": {"value": sum(rates) / len(rates), "lower_bound": min(rates), "values": rates},
        },
    }
    return TrialRecord(
        "g",
        f"k{seqs}",
        {"engineArgs.maxNumSeqs": seqs},
        "succeeded",
        started=1795000000.0,
        finished=1795000100.0,
        metrics=metrics,
    )


def test_report_export_capacity_writes_one_reviewable_file_per_configuration(tmp_path, capsys):
    store = TrialStore(tmp_path / "runs.db")
    grid = make_grid()
    store.start_run("g", grid.model_dump(mode="json", by_alias=True))
    store.save(_trial(4, [6, 5], [1.5, 1.25]))
    store.save(_trial(8, [12, 9, 10], [2.5, 2.25, 2.4]))
    store.save(TrialRecord("g", "k16", {"engineArgs.maxNumSeqs": 16}, "failed", error="oom"))
    store.close()
    out = tmp_path / "capacity"
    code = stacks_main(
        ["report", "--db", str(tmp_path / "runs.db"), "--out", str(tmp_path / "rep"), "--export-capacity", str(out)]
    )
    assert code == 0, capsys.readouterr().out
    files = sorted(out.glob("*.json"))
    assert len(files) == 2 and all(f.name.startswith("m-vllm-g5.xlarge-") for f in files)
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f.name for f in files), "INDEX.md"])
    docs = {json.loads(f.read_text())["engineArgs"]["maxNumSeqs"]: json.loads(f.read_text()) for f in files}
    doc = docs[8]
    assert list(doc) == [
        "schemaVersion",
        "model",
        "engine",
        "instanceType",
        "engineArgs",
        "workload",
        "slo",
        "capacity",
        "requestRate",
        "measured",
        "run",
        "trial",
        "source",
        "cost",
    ]
    assert (
        doc["schemaVersion"] == 1
        and doc["model"] == "org/m"
        and doc["engineArgs"] == {"maxModelLen": 2048, "maxNumSeqs": 8}
    )
    assert (doc["workload"], doc["slo"], doc["measured"], doc["run"], doc["trial"]) == (
        "D(256,64)",
        {"ttftP90": 1.0},
        "2026-11-18",
        "g",
        "k8",
    )
    assert doc["capacity"] == {
        "unit": "concurrency",
        "value": 10,
        "lowerBound": 9,
        "lowerBoundRule": "min over repeats",
        "values": [12, 9, 10],
        "source": "capacity search",
    }
    assert doc["requestRate"]["lowerBound"] == 2.25
    assert doc["cost"] == {
        "perHour": None,
        "perMtokOutputAtSlo": None,
        "priceSource": None,
        "reason": "the trial had no price: set local.pricePerHour ($/h of this machine)",
    }
    assert doc["source"]["database"] == "runs.db" and doc["source"]["params"] == {"engineArgs.maxNumSeqs": 8}
    assert "capacity file:" in capsys.readouterr().out
    report_md = (tmp_path / "rep" / "report.md").read_text()
    assert (
        "- {'engineArgs.maxNumSeqs': 8}: 10 concurrency (lower bound 9, min over repeats of [12, 9, 10]; capacity search), 2.25 requests/s at the lower bound"
        in report_md
    )


def test_the_index_maps_each_hash_named_file_to_the_configuration_it_measured(tmp_path, capsys):
    store = TrialStore(tmp_path / "runs.db")
    store.start_run("g", make_grid().model_dump(mode="json", by_alias=True))
    store.save(_trial(4, [6, 5], [1.5, 1.25]))
    store.save(_trial(8, [12, 9, 10], [2.5, 2.25, 2.4]))
    store.close()
    out = tmp_path / "capacity"
    (out / "notes").mkdir(parents=True)
    (out / "other.json").write_text('{"not": "a capacity file"}')
    assert (
        stacks_main(
            ["report", "--db", str(tmp_path / "runs.db"), "--out", str(tmp_path / "rep"), "--export-capacity", str(out)]
        )
        == 0
    )
    assert f"which configuration each file measured: {out / 'INDEX.md'}" in capsys.readouterr().out
    rows = {
        line.split(" | ")[0].strip("| `"): line
        for line in (out / "INDEX.md").read_text().splitlines()
        if line.startswith("| `")
    }
    by_seqs = {json.loads((out / name).read_text())["engineArgs"]["maxNumSeqs"]: name for name in rows}
    assert set(by_seqs) == {4, 8} and "other.json" not in rows
    assert (
        rows[by_seqs[8]]
        == f"| `{by_seqs[8]}` | org/m | vllm | g5.xlarge | maxModelLen=2048, maxNumSeqs=8 | D(256,64) | 9 concurrency | 2026-11-18 | g k8 |"
    )
    assert "maxNumSeqs=4" in rows[by_seqs[4]] and "| 5 concurrency |" in rows[by_seqs[4]]


def test_export_capacity_into_an_unwritable_place_exits_2(tmp_path, capsys):
    store = TrialStore(tmp_path / "runs.db")
    store.start_run("g", make_grid().model_dump(mode="json", by_alias=True))
    store.save(_trial(4, [6, 5], [1.5, 1.25]))
    store.close()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert (
        stacks_main(
            [
                "report",
                "--db",
                str(tmp_path / "runs.db"),
                "--out",
                str(tmp_path / "rep"),
                "--export-capacity",
                str(blocker / "sub"),
            ]
        )
        == 2
    )
    assert "cannot write" in capsys.readouterr().out


def test_every_slo_a_grid_can_set_is_an_endpoint_slo_key_so_its_capacity_file_can_match():
    from components.rules.spec import Slo
    from stacks.tuning.capacity import _camel
    from stacks.tuning.cost import COST_METRICS

    grid_slos = {k for k, sense in grid_mod.METRICS.items() if sense == "minimize" and k not in COST_METRICS}
    assert {_camel(k) for k in grid_slos} <= set(Slo.model_json_schema(by_alias=True)["properties"])


# ---------------------------------------------------------------- cost block


def _priced_trial(price, tokens_at_load):
    record = _trial(8, [12, 9, 10], [2.5, 2.25, 2.4])
    if price is not None:
        record.metrics["cost_per_hour"] = {"mean": price, "min": price, "max": price, "stdev": 0.0, "values": [price]}
    if tokens_at_load is not None:
        record.metrics["capacity"]["output_throughput"] = {
            "value": tokens_at_load,
            "lower_bound": tokens_at_load - 5,
            "values": [tokens_at_load],
        }
    return record


def test_capacity_entry_records_the_output_throughput_at_the_lower_bound_load():
    runs = [
        [sample(4, 0.3, 1.0), sample(8, 0.8, 1.9)],
        [sample(4, 0.3, 1.1), sample(8, 1.2, 1.8)],  # lower bound 4: output 10 × 4 = 40 tok/s in both repeats
    ]
    cap = Measurer(make_grid())._choose(runs).capacity
    assert cap["output_throughput"] == {"value": 40.0, "lower_bound": 40.0, "values": [40.0, 40.0]}


def test_capacity_file_cost_is_the_trial_price_and_dollars_per_mtok_at_the_slo_load():
    from pathlib import Path

    from stacks.tuning.capacity import document

    grid = make_grid(local={"pricePerHour": 1.006})
    doc = document(grid, _priced_trial(1.006, 120.0), Path("runs.db"))
    # 120 tok/s = 0.432 M tok/h; $1.006 / 0.432 = $2.3287 per million output tokens
    assert doc["cost"] == {
        "perHour": 1.006,
        "perMtokOutputAtSlo": 2.3287,
        "priceSource": "local.pricePerHour of grid g (this machine)",
    }


def test_capacity_file_cost_names_the_snapshot_price_it_came_from(monkeypatch):
    import datetime as dt
    from pathlib import Path

    from stacks.prices import snapshot
    from stacks.prices.snapshot import Price, Snapshot, Source
    from stacks.tuning.capacity import document

    day = dt.date(2026, 11, 28)
    table = Snapshot(
        region="us-east-1",
        date=day,
        prices=[
            Price(
                service="ec2",
                instance_type="g5.xlarge",
                usd_per_hour=1.006,
                source=Source(kind="page", url="https://example.com/prices"),
                taken=day,
            )
        ],
    )
    monkeypatch.setattr(snapshot, "load", lambda region, directory=None, today=None: table)
    doc = document(make_grid(target="pulumi"), _priced_trial(1.006, 120.0), Path("runs.db"))
    assert (
        doc["cost"]["priceSource"] == "ec2 g5.xlarge us-east-1 on-demand, https://example.com/prices, taken 2026-11-28"
    )
    assert doc["cost"]["perMtokOutputAtSlo"] == 2.3287


def test_capacity_file_cost_without_output_throughput_at_the_load_says_why():
    from pathlib import Path

    from stacks.tuning.capacity import document

    doc = document(make_grid(local={"pricePerHour": 1.006}), _priced_trial(1.006, None), Path("runs.db"))
    assert doc["cost"]["perHour"] == 1.006 and doc["cost"]["perMtokOutputAtSlo"] is None
    assert (
        doc["cost"]["reason"]
        == "no output throughput recorded at the capacity's load: re-measure with this version of stacks tune"
    )


def test_capacity_file_slo_leaves_out_a_cost_bound_so_an_endpoint_can_match_it():
    from pathlib import Path

    from stacks.tuning.capacity import document

    grid = make_grid(slo={"ttft_p90": 1.0, "cost_per_mtok": 3.0}, local={"pricePerHour": 1.006})
    assert document(grid, _priced_trial(1.006, 120.0), Path("runs.db"))["slo"] == {"ttftP90": 1.0}


def test_capacity_file_records_the_request_limit_the_replica_was_measured_behind():
    from pathlib import Path

    from components.rules.capacity import CapacityFile, mismatches
    from components.rules.spec import EndpointSpec
    from stacks.tuning.capacity import document

    limited = {**BASE, "hyperpod": {"requestLimits": {"maxConcurrentRequests": 16}}}
    doc = document(make_grid(base=limited), _priced_trial(None, None), Path("runs.db"))
    assert doc["replicaShape"] == {"requestLimits": {"maxConcurrentRequests": 16, "overflowStatusCode": 429}}
    # The file describes the endpoint it was measured as, and not the same endpoint without the limit.
    cap = CapacityFile.model_validate(json.loads(json.dumps(doc)))
    measured = EndpointSpec.model_validate(
        {**limited, "engineArgs": {"maxModelLen": 2048, "maxNumSeqs": 8}, "slo": {"ttftP90": 1.0}}
    )
    assert mismatches(measured, cap, "endpoints[0]", "c.json") == []
    plain = measured.model_copy(update={"hyperpod": EndpointSpec.model_validate(BASE).hyperpod})
    assert [p.path for p in mismatches(plain, cap, "endpoints[0]", "c.json")] == ["endpoints[0].hyperpod.requestLimits"]
    assert "replicaShape" not in document(make_grid(), _priced_trial(None, None), Path("runs.db"))
