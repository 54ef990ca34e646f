"""Strategy names come from one registry (stacks/tuning/strategies.py STRATEGIES): the light list the grid schema
and the command line read (stacks/tuning/strategy_names.py) is that registry's keys, in its order, and every place
that names strategies takes them from there."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stacks import cli
from stacks.cli.tune import TuneArgs
from stacks.tuning import compare_strategies, strategies
from stacks.tuning.grid import GridSpec
from stacks.tuning.strategy_names import EXHAUSTIVE, NEEDS_PARAMETERS, STRATEGY_NAMES


def test_the_light_names_are_the_registry_keys_in_order():
    assert STRATEGY_NAMES == tuple(strategies.STRATEGIES)
    assert all(cls.name == name for name, cls in strategies.STRATEGIES.items())
    assert set(EXHAUSTIVE) | set(NEEDS_PARAMETERS) <= set(STRATEGY_NAMES)


def test_the_grid_schema_takes_exactly_the_registered_names():
    base = {"name": "g", "base": {}, "parameters": {"replicas": [1]}}
    for name in strategies.STRATEGIES:
        assert GridSpec.model_validate({**base, "strategy": name}).strategy == name
    with pytest.raises(ValidationError, match="'grid', 'random', 'tpe' or 'gp'"):
        GridSpec.model_validate({**base, "strategy": "bayes"})


def test_tune_strategy_choices_are_the_registered_names():
    parser = cli.build_parser()
    parsed = parser.parse_args(["tune", "g.yaml", "--strategy", "gp"])
    assert TuneArgs.from_cli_args(parsed).strategy == "gp"
    tune = next(a for a in parser._actions if a.dest == "command").choices["tune"]
    assert tuple(next(a for a in tune._actions if a.dest == "strategy").choices) == tuple(strategies.STRATEGIES)


def test_the_strategy_comparison_runs_every_registered_strategy():
    assert sorted(compare_strategies.STRATEGIES) == sorted(strategies.STRATEGIES)


def test_an_explicit_points_list_names_the_strategies_it_can_use():
    with pytest.raises(ValidationError, match=r"strategy tpe needs `parameters`.*use grid, random or gp"):
        GridSpec.model_validate({"name": "g", "base": {}, "points": [{"replicas": 1}], "strategy": "tpe"})
