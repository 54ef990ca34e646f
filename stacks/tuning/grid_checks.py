"""What a grid's schema alone cannot see: empty or degenerate ranges, paths through scalars, its size, the load
generator's own checks of the workload options; and pydantic's errors in the stack config's wording."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ValidationError

from benchmarks.loadgen import BenchmarkConfig
from benchmarks.loadgen import ConfigError as LoadgenConfigError
from benchmarks.scenario import FLOW_SPLIT_FIX, looks_flow_split
from components.rules import ConfigError, Problem, security
from stacks import config_errors

from .grid_spec import (
    BENCHMARK_KEYS,
    BENCHMARK_PREFIX,
    MAX_POINTS,
    WORKLOAD_FIELDS,
    Benchmark,
    GridSpec,
    LocalTarget,
    Range,
)
from .incluster import client_problems
from .strategy_names import EXHAUSTIVE, without


def check(grid: GridSpec) -> None:
    """What the model alone cannot see: empty or degenerate ranges, paths through scalars, size."""
    problems = []
    counts = []
    for key, values in grid.parameters.items():
        try:
            count = values.count() if isinstance(values, Range) else len(values)
            if isinstance(values, Range) and count <= MAX_POINTS:
                values.values()  # duplicates show only once expanded; the count bounds that
        except ValueError as exc:
            problems.append(
                Problem(
                    f"parameters.{key}",
                    values.model_dump(by_alias=True) if isinstance(values, Range) else values,
                    "CONFIG",
                    str(exc),
                    "use {from, to, step} or {from: >0, to, times: >1} with distinct values",
                )
            )
            continue
        if not count:
            problems.append(
                Problem(
                    f"parameters.{key}",
                    values if isinstance(values, list) else values.model_dump(by_alias=True),
                    "CONFIG",
                    "no values",
                    "list at least one value",
                )
            )
        counts.append(count)
    size = len(grid.points) if grid.points else math.prod(counts)
    if not problems and size > MAX_POINTS:
        shape = " × ".join(f"{n:,}" for n in counts) if not grid.points else f"{size:,} listed"
        problems.append(
            Problem(
                "parameters" if not grid.points else "points",
                f"{size:,} points ({shape})",
                "CONFIG",
                f"the grid is over the limit of {MAX_POINTS:,} points",
                f"use fewer values per parameter, or strategy {'/'.join(without(*EXHAUSTIVE))} over coarser value lists with budget.trials",
            )
        )
    problems += path_problems(grid)
    problems += workload_problems(grid.benchmark)
    problems += client_problems(grid.benchmark.clients, grid.target, grid.benchmark)
    problems += [
        Problem(
            p.path,
            p.value,
            p.rule,
            p.message,
            "remove it: give the local engine its token in local.env (e.g. HF_TOKEN), which is never stored or printed",
        )
        for p in security.check_credential_args(grid.local.extra_args, "local.extraArgs")
    ]
    problems += stand_in_problems(grid.local)
    if grid.benchmark.trace and grid.capacity_search.enabled:
        problems.append(
            Problem(
                "capacitySearch.enabled",
                True,
                "CONFIG",
                "a trace sets its own arrivals, so there is no load to search",
                "turn capacitySearch off, or use concurrency/requestRates instead of benchmark.trace",
            )
        )
    if problems:
        raise ConfigError(problems)


def stand_in_problems(local: LocalTarget) -> list[Problem]:
    """The stand-in runs its own command: an engine interpreter or command beside it would be silently unused."""
    if not local.stand_in:
        return []
    return [
        Problem(
            f"local.{key}",
            value,
            "CONFIG",
            "local.engine stand-in runs the stand-in server (stacks/local_engine/stand_in.py), so this would be ignored",
            f"remove local.{key}, or set local.engine: real to run the engine it names",
        )
        for key, value in (("python", local.python), ("command", local.command))
        if value is not None
    ]


def workload_problems(bench: Benchmark) -> list[Problem]:
    """The load generator's own checks of the workload options (files included), as grid problems."""
    try:
        levels = {"concurrency": () if bench.trace else (1,), "request_rates": ()}
        BenchmarkConfig(url="http://127.0.0.1:1", model="m", **{**bench.loadgen_options(), **levels}).validate()
    except LoadgenConfigError as exc:
        if exc.field in WORKLOAD_FIELDS:  # the rest (scenario, levels) is checked where the grid is read
            return [
                Problem(
                    f"benchmark.{Benchmark.model_fields[exc.field].alias}",
                    exc.value,
                    "CONFIG",
                    exc.fix,
                    "see docs/load-generator.md for the workload options",
                )
            ]
    if bench.trace and (bench.concurrency or bench.request_rates):
        return [
            Problem(
                "benchmark.trace",
                bench.trace,
                "CONFIG",
                "a trace sets its own arrivals, so concurrency/requestRates do not apply",
                "drop concurrency and requestRates, or drop trace",
            )
        ]
    return []


def path_problems(grid: GridSpec) -> list[Problem]:
    """A parameter path must end in a map key: not through a scalar of `base`, nor through another parameter."""
    keys = list(grid.parameters) or sorted({k for point in grid.points for k in point})
    problems = []
    for key in keys:
        parts = key.split(".")
        if not all(parts):
            problems.append(
                Problem(
                    f"parameters.{key}",
                    key,
                    "CONFIG",
                    "a parameter path has an empty part",
                    "write dotted keys such as engineArgs.maxNumSeqs",
                )
            )
            continue
        if key.startswith(BENCHMARK_PREFIX):
            if len(parts) != 2 or parts[1] not in BENCHMARK_KEYS:
                problems.append(
                    Problem(
                        f"parameters.{key}",
                        key,
                        "CONFIG",
                        "not a key of the benchmark block",
                        f"use one of {', '.join(f'benchmark.{k}' for k in BENCHMARK_KEYS)}",
                    )
                )
            continue
        node: Any = grid.base
        for i, part in enumerate(parts[:-1]):
            prefix = ".".join(parts[: i + 1])
            if prefix in keys:
                problems.append(
                    Problem(
                        f"parameters.{key}",
                        key,
                        "CONFIG",
                        f"goes through parameter {prefix}, which sets a value there",
                        f"tune either {prefix} or {key}, not both",
                    )
                )
                break
            node = node.get(part) if isinstance(node, dict) else None
            if node is not None and not isinstance(node, dict):
                problems.append(
                    Problem(
                        f"parameters.{key}",
                        key,
                        "CONFIG",
                        f"base.{prefix} is {node!r}, not a map, so {key} cannot be set",
                        f"use a path to a map key, e.g. {prefix}",
                    )
                )
                break
    return problems


def with_overrides(grid: GridSpec, overrides: dict[str, Any]) -> GridSpec:
    """Command-line overrides (target, strategy, parallel), validated like the file itself."""
    if not overrides:
        return grid
    try:
        return GridSpec.model_validate({**grid.model_dump(mode="json", by_alias=True), **overrides})
    except ValidationError as exc:
        raise ConfigError([grid_problem(err) for err in exc.errors()]) from None


def grid_problem(err: Any, root: type[BaseModel] = None) -> Problem:  # type: ignore[assignment]
    """The stack config's wording (expected type, example, YAML-boolean hint), pointed at grid docs."""
    root = root or GridSpec
    if err["type"] == "value_error" or not err["loc"]:  # a grid-wide rule: the message names the keys
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
        return Problem(
            where or "grid",
            err.get("input") if err["loc"] else None,
            "CONFIG",
            err["msg"].rstrip(".").removeprefix("Value error, "),
            "correct the value",
        )
    problem = config_errors.problem(err, root)
    key = str(err["loc"][-1])
    pieces = [key] + ([err["input"]] if isinstance(err.get("input"), str) else [])
    if root is GridSpec and err["type"] == "extra_forbidden":
        fix = "remove it or fix its spelling (keys are camelCase; see stacks/grids/README.md)"
        if any(looks_flow_split(p) for p in pieces if "(" in p or ")" in p):
            fix = FLOW_SPLIT_FIX  # `{scenario: D(1,1)}` in flow style: YAML cut the value at the comma
        problem = Problem(problem.path, problem.value, problem.rule, problem.message, fix)
    return problem
