"""One declaration per load-generator option: a `BenchmarkConfig` field (benchmarks/loadgen.py) whose metadata
says how the command line and a tuning grid's `benchmark:` block show it. The command line
(benchmarks/cli.py `add_config_options`) and the grid model (stacks/tuning/grid_benchmark.py) are built from
these fields, so a new option is one field.

    max_requests: int = option(200, help="per level (default 200)", example="200", ge=1, le=MAX_REQUESTS, grid_default=64)

Bounds are inclusive `ge`/`le` or exclusive `gt`, as pydantic's `Field` takes them; `example` is the value a bad
value's fix line suggests. Standard library only: benchmarks/ imports nothing of the project's other packages.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

METADATA_KEY = "option"
SAME = type("Same", (), {"__repr__": lambda self: "SAME"})()  # grid_default unset: the load generator's default


@dataclasses.dataclass(frozen=True)
class Option:
    help: str = ""
    flag: str = (
        ""  # on the command line; default `--<name-with-dashes>`, `--no-<name>` for a bool that is on by default
    )
    metavar: str | None = None
    example: str = ""
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    section: str = ""  # "workload": a workload shape (benchmarks/workloads/, docs/load-generator.md)
    exclusive: bool = False  # a load mode: concurrency levels, request rates or a trace, exactly one
    env: str = ""  # the command line's default comes from this environment variable
    parse: Callable[[str], Any] | None = None  # command-line text -> value; ValueError names the fix
    grid: bool = True  # in a grid's `benchmark:` block; False where the trial or the grid sets it elsewhere
    grid_default: Any = SAME  # the grid's default where it differs from the load generator's
    key: str = ""  # camelCase name in a grid; default from the field name

    def flag_for(self, name: str, default: Any) -> str:
        if self.flag:
            return self.flag
        dashed = name.replace("_", "-")
        return f"--no-{dashed}" if default is True else f"--{dashed}"

    def key_for(self, name: str) -> str:
        return self.key or camel(name)


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **metadata: Any) -> Any:
    """A dataclass field with its Option."""
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={METADATA_KEY: Option(**metadata)}
    )


def camel(name: str) -> str:
    """`max_file_mb` -> `maxFileMb` (what pydantic's to_camel gives the grid's other keys)."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclasses.dataclass(frozen=True)
class ConfigField:
    name: str
    type: Any  # resolved annotation
    default: Any  # dataclasses.MISSING when required
    option: Option

    @property
    def key(self) -> str:
        return self.option.key_for(self.name)


def config_fields(config_class: type) -> list[ConfigField]:
    """Every field of the config dataclass that declares an Option, in declaration order."""
    hints = typing.get_type_hints(config_class)
    out = []
    for f in dataclasses.fields(config_class):
        opt = f.metadata.get(METADATA_KEY)
        if opt is None:
            continue
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        )
        out.append(ConfigField(f.name, hints[f.name], default, opt))
    return out
