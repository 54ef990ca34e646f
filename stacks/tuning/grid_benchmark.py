"""A grid's `benchmark:` block, built from the load generator's own option declarations (benchmarks/options.py on
`BenchmarkConfig`'s fields): each option the grid may set is a camelCase key with the load generator's bounds, so a
new load-generator option is one field there, not a second declaration here."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Optional

from pydantic import Field

from benchmarks.options import SAME, ConfigField, config_fields

# Keys of the block that are the grid's own, not load-generator options.
GRID_ONLY = ("clients",)


def _bounded(f: ConfigField) -> dict[str, Any]:
    return {k: v for k, v in (("gt", f.option.gt), ("ge", f.option.ge), ("le", f.option.le)) if v is not None}


def pydantic_field(f: ConfigField) -> tuple[Any, Any]:
    """(type, FieldInfo) of one option: its camelCase key, its bounds on the value or on each item of a list of levels."""
    kind = f.type
    default = f.default if f.option.grid_default is SAME else f.option.grid_default
    if typing.get_origin(kind) is tuple:  # levels: a YAML list, each item bounded
        item = typing.get_args(kind)[0]
        bounded = list[Annotated[item, Field(**_bounded(f))]]  # type: ignore[valid-type]  # a type built at runtime
        return bounded, Field(default_factory=lambda: list(default), alias=f.key, description=f.option.help)
    args = typing.get_args(kind)
    if default is not None and type(None) in args:  # a grid default where the load generator has none: not optional
        kind = next(a for a in args if a is not type(None))
    elif default is None and type(None) not in args:
        kind = Optional[kind]  # noqa: UP045 - a runtime annotation for pydantic's create_model
    return kind, Field(default=default, alias=f.key, description=f.option.help, **_bounded(f))


def loadgen_fields(config_class: type) -> dict[str, tuple[Any, Any]]:
    """The block's fields from the load generator's: those declared for grids (`Option.grid`), in field order."""
    return {f.name: pydantic_field(f) for f in config_fields(config_class) if f.option.grid}


def workload_fields(config_class: type) -> tuple[str, ...]:
    """The options that shape the workload (docs/load-generator.md): the grid checks them as the load generator does."""
    return tuple(f.name for f in config_fields(config_class) if f.option.grid and f.option.section == "workload")
