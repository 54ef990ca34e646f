"""Grid specs: expansion, ranges, and pruning with the rule library before anything is deployed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.rules import ConfigError
from stacks.tuning import grid as grid_mod

GRIDS = Path(grid_mod.__file__).resolve().parents[1] / "grids"


def test_every_shipped_grid_loads_and_has_feasible_points():
    for path in sorted(GRIDS.glob("*.yaml")):
        grid = grid_mod.load(path)
        points = grid_mod.expand(grid)
        assert any(not p.pruned for p in points), path.name


def test_ranges_linear_and_geometric():
    assert grid_mod.Range.model_validate({"from": 32, "to": 256, "times": 2}).values() == [32, 64, 128, 256]
    assert grid_mod.Range.model_validate({"from": 0.85, "to": 0.95, "step": 0.05}).values() == [0.85, 0.9, 0.95]


def test_seed_incident_grid_prunes_each_invalid_combination_with_its_rule():
    grid = grid_mod.load(GRIDS / "seed-incidents.yaml")
    points = grid_mod.expand(grid)
    assert len(points) == 64
    for point in points:
        p = point.params
        expected = set()
        if p["engine"] == "sglang" and (p["hyperpod.kvCache.l1"] or p["hyperpod.intelligentRouting"]):
            expected.add("G21")  # the operator refuses KVCacheSpec for SGLang; the router serves vLLM only
        if p["publicAlb"] and not p["hyperpod.intelligentRouting"]:
            expected.add("G8")  # a public ALB without routing stayed private
        if p["engineArgs.tensorParallelSize"] == 4:
            expected.add("G11")  # one GPU on ml.g5.8xlarge
        if p["engine"] == "sglang" and p["engineArgs.limitMmPerPrompt"]:
            expected.add("G10")  # the parameter SGLang lacks
        found = {problem.rule for problem in point.problems if problem.severity == "error"}
        assert found == expected, (p, found)
    survivors = [p for p in points if not p.pruned]
    assert survivors and all(p.spec is not None for p in survivors)


def test_unknown_keys_and_bad_values_are_reported_together(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text(
        "name: x\nbase: {}\nparameters: {a: []}\nobjective: {metric: speed}\nslo: {output_throughput: 5}\nrepeat: 3\n"
    )
    with pytest.raises(ConfigError) as info:
        grid_mod.load(bad)
    paths = {p.path for p in info.value.problems}
    assert {"objective.metric", "slo", "repeat"} <= paths


def test_empty_parameter_list_is_an_error(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text("name: x\nbase: {}\nparameters: {engineArgs.maxNumSeqs: []}\n")
    with pytest.raises(ConfigError) as info:
        grid_mod.load(bad)
    assert [p.path for p in info.value.problems] == ["parameters.engineArgs.maxNumSeqs"]


def test_stand_in_engine_with_an_engine_command_beside_it_is_one_line_per_key(tmp_path):
    bad = tmp_path / "g.yaml"
    bad.write_text(
        "name: x\nbase: {}\nparameters: {engineArgs.maxNumSeqs: [8]}\nlocal: {engine: stand-in, command: [vllm, serve]}\n"
    )
    with pytest.raises(ConfigError) as info:
        grid_mod.load(bad)
    assert [str(p) for p in info.value.problems] == [
        "local.command = ['vllm', 'serve']: [CONFIG] local.engine stand-in runs the stand-in server (stacks/local_engine/stand_in.py), "
        "so this would be ignored. Fix: remove local.command, or set local.engine: real to run the engine it names"
    ]
    bad.write_text("name: x\nbase: {}\nparameters: {engineArgs.maxNumSeqs: [8]}\nlocal: {engine: standin}\n")
    with pytest.raises(ConfigError) as info:
        grid_mod.load(bad)
    assert [p.path for p in info.value.problems] == ["local.engine"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="grid file not found"):
        grid_mod.load(tmp_path / "nope.yaml")


def test_a_point_that_does_not_parse_as_an_endpoint_is_pruned_with_the_field():
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "base": {
                "name": "a",
                "model": "m/x",
                "engine": "vllm",
                "instanceType": "g5.xlarge",
                "modelSource": {"type": "s3", "bucket": "bkt"},
            },
            "parameters": {"engineArgs.maxNumSeqs": [0, 4]},
        }
    )
    zero, four = grid_mod.expand(grid)
    assert zero.pruned
    assert [(p.path, p.value) for p in zero.problems] == [("engineArgs.maxNumSeqs", 0)]
    assert not four.pruned


def test_point_keys_are_stable_and_distinct():
    assert grid_mod.point_key({"a": 1, "b": 2}) == grid_mod.point_key({"b": 2, "a": 1})
    assert grid_mod.point_key({"a": 1}) != grid_mod.point_key({"a": 2})


def _grid_doc(**extra):
    base = {
        "name": "ep",
        "model": "org/m",
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "s3", "bucket": "models"},
    }
    return {"name": "g", "base": base, **extra}


def test_explicit_points_are_expanded_as_listed_and_checked_by_the_rules():
    grid = grid_mod.GridSpec.model_validate(
        _grid_doc(
            points=[{"engineArgs.maxNumSeqs": 8}, {"engineArgs.maxNumSeqs": 64, "engineArgs.tensorParallelSize": 8}]
        )
    )
    points = grid_mod.expand(grid)
    assert [p.params for p in points] == [
        {"engineArgs.maxNumSeqs": 8},
        {"engineArgs.maxNumSeqs": 64, "engineArgs.tensorParallelSize": 8},
    ]
    assert not points[0].pruned
    assert {p.rule for p in points[1].problems if p.severity == "error"} == {"G11"}  # 8 > the 4 GPUs of a g5.12xlarge
    assert grid_mod.parameter_values(grid) == {"engineArgs.maxNumSeqs": [8, 64], "engineArgs.tensorParallelSize": [8]}


@pytest.mark.parametrize(
    "extra,needle",
    [
        ({}, "either `parameters`"),
        ({"parameters": {"engineArgs.maxNumSeqs": [8]}, "points": [{"engineArgs.maxNumSeqs": 8}]}, "not both"),
        ({"points": [{"engineArgs.maxNumSeqs": 8}], "strategy": "tpe"}, "strategy tpe needs `parameters`"),
    ],
)
def test_search_space_must_be_parameters_or_points(tmp_path, extra, needle):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(_grid_doc(**extra)))
    with pytest.raises(ConfigError) as info:
        grid_mod.load(path)
    (problem,) = info.value.problems
    assert needle in str(problem) and problem.path == "grid"


def test_command_line_overrides_are_validated_like_the_file():
    grid = grid_mod.GridSpec.model_validate(_grid_doc(points=[{"engineArgs.maxNumSeqs": 8}]))
    assert grid_mod.with_overrides(grid, {"parallel": 2}).parallel == 2
    with pytest.raises(ConfigError) as info:
        grid_mod.with_overrides(grid, {"strategy": "tpe"})
    assert "strategy tpe" in str(info.value.problems[0])


def test_g21_g22_grid_prunes_sglang_behind_the_router_and_kv_cache_on_the_stock_image(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "name: g21\ntarget: pulumi\n"
        "base: {name: q, model: Qwen/Qwen3-4B-Instruct-2507, engine: vllm, instanceType: ml.g5.8xlarge,"
        " modelSource: {type: s3, bucket: my-models, path: q/}, intelligentRouting: true, kvCache: {l1: true}}\n"
        "parameters: {engine: [vllm, sglang], image: [null, vllm/vllm-openai:v0.11.0]}\n"
    )
    points = grid_mod.expand(grid_mod.load(path))
    found = {
        (p.params["engine"], p.params["image"]): sorted({x.rule for x in p.problems if x.severity == "error"})
        for p in points
    }
    assert found == {
        ("vllm", None): [],
        ("vllm", "vllm/vllm-openai:v0.11.0"): ["G22"],
        ("sglang", None): ["G21"],
        ("sglang", "vllm/vllm-openai:v0.11.0"): ["G21"],
    }


def test_c1_a_point_whose_max_replicas_cannot_carry_the_declared_peak_is_pruned(tmp_path):
    import json as json_mod

    (tmp_path / "cap.json").write_text(
        json_mod.dumps(
            {
                "schemaVersion": 1,
                "model": "org/m",
                "engine": "vllm",
                "instanceType": "g5.xlarge",
                "engineArgs": {"maxModelLen": 2048},
                "workload": "D(256,64)",
                "slo": {"ttftP90": 1.0},
                "capacity": {
                    "unit": "requests_per_second",
                    "value": 3.0,
                    "lowerBound": 2.5,
                    "lowerBoundRule": "min over repeats",
                    "values": [3.0, 2.5],
                    "source": "capacity search",
                },
                "measured": "2026-11-28",
                "run": "r",
                "trial": "t",
                "source": {},
            }
        )
    )
    base = {
        "name": "ep",
        "model": "org/m",
        "engine": "vllm",
        "instanceType": "g5.xlarge",
        "modelSource": {"type": "s3", "bucket": "bkt"},
        "engineArgs": {"maxModelLen": 2048},
        "load": {"peakRequestsPerSecond": 10, "workload": "D(256,64)", "headroom": 0.2},
        "slo": {"ttftP90": 1.0},
        "capacity": "cap.json",
    }
    grid = grid_mod.GridSpec.model_validate(
        {"name": "g", "base": base, "parameters": {"replicas": [4, 5]}, "pulumi": {"projectDir": str(tmp_path)}}
    )
    four, five = grid_mod.expand(grid)
    assert four.pruned and [str(p) for p in four.problems] == [
        "base.replicas = 4: [C1] 4 × 2.5 requests/s per replica (lower bound, cap.json) = 10 < peak 10 × (1 + headroom 0.2) = 12: needs 5 replicas, has 4. Fix: set replicas: 5"
    ]
    assert not five.pruned and five.problems == ()
