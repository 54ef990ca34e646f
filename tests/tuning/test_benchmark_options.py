"""A load-generator option is declared once, as a BenchmarkConfig field with its metadata (benchmarks/options.py):
the command line (benchmarks/cli.py add_config_options) and a grid's `benchmark:` block (stacks/tuning/grid_spec.py
benchmark_model) are built from the fields, so one new field shows up in both with its help, bounds and
camelCase key, and reaches the load generator from a grid."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from benchmarks import cli as bench_cli
from benchmarks.loadgen import BenchmarkConfig
from benchmarks.options import config_fields, option
from stacks.tuning import grid as grid_mod
from stacks.tuning.grid_spec import benchmark_model


@dataclass(frozen=True)
class WithBurst(BenchmarkConfig):
    burst_size: int = option(3, example="3", ge=1, le=100, help="requests sent together at each arrival")
    client_label: str | None = option(None, grid=False, help="a label only the command line sets")
    warm_pool: int = option(0, ge=0, le=5, key="warmPoolSize", help="connections opened before the first level")


def _parser(config_class: type) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t")
    bench_cli.add_config_options(parser, config_class)
    return parser


def test_a_new_field_is_a_command_line_option_with_its_bounds(capsys):
    parser = _parser(WithBurst)
    parsed = parser.parse_args(
        ["--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "2", "--burst-size", "7"]
    )
    config = bench_cli.config_from(parsed, WithBurst)
    assert isinstance(config, WithBurst) and config.burst_size == 7 and config.concurrency == (2,)
    assert "requests sent together at each arrival" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--url", "u", "--model", "m", "--concurrency", "2", "--burst-size", "101"])
    assert "invalid value '101': use a positive integer up to 100, e.g. 3" in capsys.readouterr().err


def test_a_new_field_is_a_camelcase_key_of_the_grid_benchmark_block_with_its_bounds():
    model = benchmark_model(WithBurst)
    assert model.model_validate({"burstSize": 5}).burst_size == 5
    assert model().burst_size == 3
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        model.model_validate({"burstSize": 101})
    assert "clientLabel" not in {f.alias for f in model.model_fields.values()}  # grid=False: the command line only
    assert model.model_validate({"warmPoolSize": 2}).warm_pool == 2  # a key the metadata names


def test_a_new_field_reaches_the_load_generator_from_the_grid():
    options = benchmark_model(WithBurst).model_validate({"burstSize": 5, "concurrency": [4]}).loadgen_options()
    config = WithBurst(url="http://127.0.0.1:9", model="m", **options)
    assert config.burst_size == 5 and config.concurrency == (4,)


def test_every_grid_key_is_a_load_generator_option_or_the_grids_own():
    options = {f.name for f in config_fields(BenchmarkConfig) if f.option.grid}
    assert set(grid_mod.Benchmark.model_fields) == options | {"clients"}  # the in-cluster load pods: the grid's own
    assert {f.name for f in dataclasses.fields(BenchmarkConfig)} == {f.name for f in config_fields(BenchmarkConfig)}


def test_the_grid_keeps_its_own_defaults_and_the_load_generators_bounds():
    bench = grid_mod.Benchmark()
    assert (bench.scenario, bench.max_requests, bench.metrics_interval, bench.max_error_rate) == (
        "D(512,128)",
        64,
        1.0,
        0.05,
    )
    with pytest.raises(ValidationError, match="maxRequests"):
        grid_mod.Benchmark.model_validate({"maxRequests": 1_000_001})  # benchmarks/limits.py MAX_REQUESTS
    with pytest.raises(ValidationError, match="concurrency.0"):
        grid_mod.Benchmark.model_validate({"concurrency": [0]})


def test_a_bad_value_names_the_option_the_user_typed():
    assert bench_cli._flag_of("request_rates") == "--request-rate"
    assert bench_cli._flag_of("max_file_mb") == "--max-file-mb"
