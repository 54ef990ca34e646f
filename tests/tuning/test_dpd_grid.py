"""stacks/grids/dpd-shared-prefix.yaml: hyperpod.pdSpec on/off x hyperpod.requestLimits x hyperpod.routingStrategy, pruned by D2 where AWS's DPD
page does not list the instance type; D3 judges each point's routing threshold against its benchmark's prompts."""

from __future__ import annotations

from pathlib import Path

from stacks.tuning import grid as grid_mod

GRID = Path(grid_mod.__file__).resolve().parents[1] / "grids" / "dpd-shared-prefix.yaml"


def test_dpd_grid_prunes_disaggregation_on_g6e_with_d2_and_keeps_the_rest():
    points = grid_mod.expand(grid_mod.load(GRID))
    assert len(points) == 16
    for point in points:
        errors = {p.rule for p in point.problems if p.severity == "error"}
        dpd_on_g6e = point.params["hyperpod.pdSpec"] is not None and point.params["instanceType"] == "ml.g6e.48xlarge"
        assert errors == ({"D2"} if dpd_on_g6e else set()), (point.params, errors)
    kept = [p for p in points if not p.pruned]
    assert len(kept) == 12
    on = [p for p in kept if p.spec.hyperpod.pd_spec is not None]
    assert {p.spec.hyperpod.request_limits.max_concurrent_requests for p in on} == {32, 64}


def test_a_threshold_above_the_benchmarks_prompts_is_a_d3_warning_on_the_point():
    grid = grid_mod.load(GRID)
    point = grid_mod.make_point(
        grid,
        {
            "instanceType": "ml.p5.48xlarge",
            "hyperpod.pdSpec": {"routingThreshold": 8192},
            "hyperpod.requestLimits.maxConcurrentRequests": 32,
            "hyperpod.routingStrategy": "prefixaware",
        },
    )
    (d3,) = [p for p in point.problems if p.rule == "D3"]
    assert d3.severity == "warning" and "largest 6000 tokens" in d3.message  # 4,000 shared + 2,000 own
    assert not point.pruned


def test_a_local_grid_prunes_the_operators_dpd_and_request_limits_with_target():
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "local-limits",
            "target": "local",
            "base": {
                "name": "tiny",
                "model": "Qwen/Qwen3-0.6B",
                "engine": "vllm",
                "instanceType": "g5.xlarge",
                "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "tiny/"},
            },
            "parameters": {"hyperpod.requestLimits.maxConcurrentRequests": [4, 8]},
        }
    )
    for point in grid_mod.expand(grid):
        assert [(p.path, p.rule) for p in point.problems if p.severity == "error"] == [
            ("parameters.hyperpod.requestLimits.maxConcurrentRequests", "TARGET")
        ]
