"""Grids that tune cache and routing options together with the workload:
`benchmark.*` parameters vary the load generator's workload per point; what needs the HyperPod
router (routingStrategy, kvCache, intelligentRouting) is pruned on the local target with rule TARGET;
prefix caching maps to the engine's own flag on the local target."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.client import RequestRecord
from benchmarks.results import LevelResult
from components.rules import ConfigError
from stacks.tuning import grid as grid_mod
from stacks.tuning.deploy import Endpoint
from stacks.tuning.grid import LocalTarget
from stacks.tuning.local import engine_command
from stacks.tuning.measure import Measurer
from tests.tuning.doubles import FakeStackRunner
from tests.tuning.test_driver import BASE, make_driver, make_grid

GRIDS = Path(grid_mod.__file__).resolve().parents[1] / "grids"
LOCAL_BASE = {
    "name": "tiny-llama",
    "model": "local/tiny-llama",
    "engine": "vllm",
    "instanceType": "g5.xlarge",
    "modelSource": {"type": "s3", "bucket": "unused-local-model"},
}


def local_grid(parameters, base=None, **extra):
    return grid_mod.GridSpec.model_validate(
        {"name": "g", "target": "local", "base": base or LOCAL_BASE, "parameters": parameters, **extra}
    )


def test_prefix_caching_example_grid_maps_the_vllm_flag_and_varies_the_workload():
    grid = grid_mod.load(GRIDS / "tiny-cpu-prefix-caching.yaml")
    points = grid_mod.expand(grid)
    assert len(points) == 4 and not any(p.pruned for p in points)
    for point in points:
        command = engine_command(LocalTarget(), point.spec, 8000, "/models/tiny")
        on = point.params["engineArgs.enablePrefixCaching"]
        assert ("--enable-prefix-caching" in command, "--no-enable-prefix-caching" in command) == (on, not on)
        assert point.benchmark.prefix_groups == point.params["benchmark.prefixGroups"]
        assert point.benchmark.prefix_tokens == 1024


@pytest.mark.parametrize(
    "key, values",
    [
        ("routingStrategy", ["prefixaware", "session"]),
        ("kvCache.l1", [False, True]),
        ("intelligentRouting", [True, False]),
    ],
)
def test_target_router_and_kv_cache_options_are_pruned_on_the_local_target(key, values):
    points = grid_mod.expand(local_grid({key: values}))
    for point in points:
        reasons = [p for p in point.problems if p.rule == "TARGET"]
        assert point.pruned and [p.path for p in reasons] == [f"parameters.{key}"], point.problems
        assert "local engine does not have" in reasons[0].message and "target: pulumi" in reasons[0].fix


def test_target_router_options_are_kept_on_the_pulumi_target():
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "target": "pulumi",
            "base": {**BASE, "intelligentRouting": True},
            "parameters": {"routingStrategy": ["prefixaware", "session"]},
        }
    )
    assert all(p.rule != "TARGET" for point in grid_mod.expand(grid) for p in point.problems)


def test_target_kv_cache_in_the_base_prunes_every_local_point():
    grid = local_grid({"engineArgs.maxNumSeqs": [2, 4]}, base={**LOCAL_BASE, "kvCache": {"l1": True}})
    for point in grid_mod.expand(grid):
        assert [(p.path, p.rule) for p in point.problems if p.severity == "error"] == [
            ("base.hyperpod.kvCache", "TARGET")
        ]


def test_unknown_benchmark_parameter_is_a_config_problem(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "name: g\ntarget: local\nbase: {name: m, model: a/m, engine: vllm, instanceType: g5.xlarge}\n"
        "parameters: {benchmark.prefixGroup: [1, 2]}\n"
    )
    with pytest.raises(ConfigError) as e:
        grid_mod.load(path)
    assert any(
        p.path == "parameters.benchmark.prefixGroup" and "benchmark.prefixGroups" in p.fix for p in e.value.problems
    )


def test_invalid_benchmark_parameter_value_prunes_the_point_with_the_field():
    points = grid_mod.expand(local_grid({"benchmark.turns": [2, 0]}))
    assert [p.pruned for p in points] == [False, True]
    assert points[1].problems[0].path.endswith("turns")


def test_missing_trace_file_is_a_grid_problem(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        f"name: g\ntarget: local\nbase: {{name: m, model: a/m, engine: vllm, instanceType: g5.xlarge}}\n"
        f"parameters: {{engineArgs.maxNumSeqs: [2]}}\nbenchmark: {{trace: {tmp_path / 'nope.jsonl'}}}\n"
    )
    with pytest.raises(ConfigError) as e:
        grid_mod.load(path)
    assert [p.path for p in e.value.problems] == ["benchmark.trace"] and "nope.jsonl" in e.value.problems[0].message


def test_measurer_passes_the_workload_options_to_the_load_generator():
    grid = local_grid(
        {"benchmark.prefixGroups": [4]},
        benchmark={"prefixTokens": 64, "turns": 3, "thinkTime": 0.5, "concurrency": [2]},
    )
    (point,) = grid_mod.expand(grid)
    config = Measurer(grid).config(Endpoint("http://127.0.0.1:9", "local/tiny-llama", None), benchmark=point.benchmark)
    assert (config.prefix_tokens, config.prefix_groups, config.turns, config.think_time, config.concurrency) == (
        64,
        4,
        3,
        0.5,
        (2,),
    )
    assert (
        Measurer(grid).config(Endpoint("http://127.0.0.1:9", "m", None)).prefix_groups is None
    )  # the grid's own block


def _one_ok_level(config, stop):
    record = RequestRecord(0, 10, 4, start=0.0, end=1.0, ok=True, ttft=0.1, e2e=1.0, input_tokens=10, output_tokens=4)
    return [LevelResult.from_records("concurrency", 1, [record], 0.0, {}, 0.0)]


def test_driver_measures_each_point_with_its_own_workload(tmp_path):
    seen = []

    def bench(config, stop):
        seen.append((config.prefix_tokens, config.prefix_groups))
        return _one_ok_level(config, stop)

    grid = make_grid({"benchmark.prefixGroups": [1, 8]}, benchmark={"prefixTokens": 32, "concurrency": [1]})
    summary = make_driver(tmp_path, grid, FakeStackRunner(), measurer=Measurer(grid, bench=bench)).run()
    assert sorted(r.status for r in summary.records) == ["succeeded", "succeeded"]
    assert sorted(seen) == [(32, 1), (32, 8)]
