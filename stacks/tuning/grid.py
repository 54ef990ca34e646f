"""Grid spec files: what to tune, how to measure, what "best" means, and what it may cost.

Parameters are paths into an endpoint entry (`engineArgs.maxNumSeqs`, `instanceType`, `replicas`),
so a grid point *is* an endpoint config: the same rules that validate a stack prune the grid.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from benchmarks.loadgen import BenchmarkConfig
from benchmarks.loadgen import ConfigError as LoadgenConfigError
from benchmarks.scenario import FLOW_SPLIT_FIX, looks_flow_split
from benchmarks import secrets
from components.rules import ConfigError, Problem, backends, security
from components.rules.bounds import MAX_REQUESTS_PER_SECOND, MAX_USD_PER_HOUR
from components.rules.dev_stacks import is_dev_stack
from components.rules.paths import ConfigPaths
from components.rules.spec import ClusterSpec, EndpointSpec, PlatformSpec
from stacks import config as stack_config
from stacks import config_errors
from stacks.yamlio import YamlInputError, load_file

from .cost import point_problems

# Metrics a trial records (see measure.py); "lower is better" for latencies.
METRICS = {
    "output_throughput": "maximize",
    "request_throughput": "maximize",
    "goodput": "maximize",
    "output_throughput_per_gpu": "maximize",
    "ttft_p50": "minimize",
    "ttft_p90": "minimize",
    "ttft_p99": "minimize",
    "tpot_p50": "minimize",
    "tpot_p90": "minimize",
    "itl_p90": "minimize",
    "e2e_p90": "minimize",
    "error_rate": "minimize",
    # Cost (stacks/tuning/cost.py): $ per hour of the trial's deployment, $ per million output tokens.
    "cost_per_hour": "minimize",
    "cost_per_mtok": "minimize",
}


# Points one grid may have, checked before expansion: far above any sensible sweep, far below what
# exhausts memory (a 10^6-point grid hit MemoryError after 73 s).
MAX_POINTS = 10_000


class _Model(BaseModel):
    # No inf/nan: every number of a grid feeds arithmetic (range counts, loads, costs).
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False)


class Range(_Model):
    """`{from: 512, to: 4096, times: 2}` (geometric) or `{from: 0.8, to: 0.95, step: 0.05}` (linear)."""

    from_: float = Field(alias="from")
    to: float
    step: Optional[float] = Field(default=None, gt=0)
    times: Optional[float] = Field(default=None, gt=1)

    def count(self) -> int:
        """Values the range yields, computed without expanding it (ValueError if it never advances)."""
        if (self.step is None) == (self.times is None):
            raise ValueError("a range needs exactly one of step or times")
        if self.to < self.from_:
            return 0
        if self.step:
            count = (self.to - self.from_) / self.step + 1e-9  # 1e-9: 0.95 reached by 0.05 steps
        elif self.from_ <= 0:
            raise ValueError(f"a geometric range (times) from {self.from_:g} never advances: {self.from_:g} × {self.times:g} is not larger; use from > 0, or step")
        else:
            count = math.log(self.to / self.from_) / math.log(self.times or 2) + 1e-9
        if not math.isfinite(count):  # from -1e308 to 1e308 overflows to inf
            raise ValueError(f"{self.from_:g} to {self.to:g} holds more values than a float can count, over the limit of {MAX_POINTS:,} points per grid")
        return math.floor(count) + 1

    def values(self) -> list[Union[int, float]]:
        n = self.count()
        if n > MAX_POINTS:
            raise ValueError(f"{n:,} values is over the limit of {MAX_POINTS:,} points per grid")
        out: list[float] = []
        value = self.from_
        while value <= self.to * (1 + 1e-9) and len(out) < n:
            out.append(round(value, 10))
            value = value + self.step if self.step else value * (self.times or 2)
        integral = all(float(v).is_integer() for v in (self.from_, self.to, self.step or 0, self.times or 0))
        values = [int(v) for v in out] if integral else out
        if len(set(values)) < len(values):
            raise ValueError(f"the range yields duplicate values {values[:6]}{'…' if len(values) > 6 else ''}; use a step or factor that moves each value by more than the rounding")
        return values


class Benchmark(_Model):
    """The load generator's options (benchmarks/loadgen.py BenchmarkConfig), camelCase; the workload
    shapes are documented in docs/load-generator.md."""

    scenario: str = "D(512,128)"
    endpoint: Literal["chat", "completions"] = "chat"
    concurrency: list[int] = Field(default_factory=list)
    request_rates: list[float] = Field(default_factory=list)
    max_requests: int = Field(default=64, ge=1)
    max_seconds: float = Field(default=60, gt=0)
    timeout: float = Field(default=120, gt=0)
    warmup: int = Field(default=2, ge=0)
    # A level with more failed requests than this is not a result: the trial fails (never a winner).
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    # Seconds between /metrics scrapes during a level: gauges (KV use, waiting) are reported as their max over
    # the scrapes, and the before/after scrapes alone only ever see an idle server.
    metrics_interval: float = Field(default=1.0, gt=0)
    # Workload shapes: shared prefix, multi-turn sessions, dataset or trace replay.
    prefix_tokens: Optional[int] = Field(default=None, ge=1)
    prefix_groups: Optional[int] = Field(default=None, ge=1)
    turns: int = Field(default=1, ge=1)
    think_time: float = Field(default=0.0, ge=0)
    session_header: str = "X-Session-Id"
    dataset: Optional[str] = None  # path as given (relative to where `tune` runs)
    dataset_order: Literal["sequential", "random"] = "sequential"
    trace: Optional[str] = None  # replaces concurrency/requestRates: one level at the trace's own arrivals
    trace_format: Literal["native", "mooncake", "azure"] = "native"
    trace_speed: float = Field(default=1.0, gt=0)
    max_file_mb: float = Field(default=256.0, gt=0)

    def loadgen_options(self) -> dict[str, Any]:
        """The workload options as BenchmarkConfig keyword arguments."""
        return {name: getattr(self, name) for name in WORKLOAD_FIELDS}


# Benchmark fields that shape the workload (passed to the load generator as they are).
WORKLOAD_FIELDS = ("prefix_tokens", "prefix_groups", "turns", "think_time", "session_header", "dataset", "dataset_order",
                   "trace", "trace_format", "trace_speed", "max_file_mb")
# A parameter path under this prefix varies the benchmark block per point, not the endpoint.
BENCHMARK_PREFIX = "benchmark."
# What a single local engine process cannot do: these need the HyperPod operator, so a local trial would measure
# a configuration that was never applied. The operator owns them as InferenceEndpointConfig fields
# `spec.intelligentRoutingSpec.{enabled,routingStrategy}` and `spec.kvCacheSpec.{enableL1Cache,enableL2Cache}`
# (sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
# inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml @011ca927).
ROUTER_KEYS = {
    "intelligentRouting": "the HyperPod operator's router",
    "routingStrategy": "the HyperPod operator's router (intelligentRouting)",
    "kvCache": "the HyperPod operator's KV-cache offload (kvCacheSpec)",
}
TARGET_RULE = "TARGET"
# Said wherever a stand-in run's numbers are shown, so none is mistaken for a measurement of a model.
STAND_IN_NOTE = ("trials ran on the stand-in engine (local.engine: stand-in, stacks/local_engine/stand_in.py): "
                 "the numbers describe that script on this machine, not a model; never size a deployment from them")


BENCHMARK_KEYS = tuple(to_camel(name) for name in Benchmark.model_fields)


class Objective(_Model):
    metric: str = "output_throughput"
    direction: Optional[Literal["maximize", "minimize"]] = None

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; use one of {', '.join(METRICS)}")
        return value

    @property
    def sense(self) -> str:
        return self.direction or METRICS[self.metric]


class Budget(_Model):
    trials: Optional[int] = Field(default=None, ge=1)
    hours: Optional[float] = Field(default=None, gt=0)


class CapacitySearch(_Model):
    """Highest load (concurrency or request rate) that still meets every SLO: bracket, then bisect."""

    enabled: bool = False
    by: Literal["concurrency", "requestRate"] = "concurrency"
    start: float = Field(default=1, gt=0)
    max: float = Field(default=256, gt=0)
    steps: int = Field(default=6, ge=1, le=20)  # bisection steps after bracketing
    # Searches per trial: their minimum is the capacity's lower bound (capacity files, rule C1).
    repeats: int = Field(default=1, ge=1, le=10)


class LocalTarget(_Model):
    # `real`: the endpoint's engine (vLLM, SGLang) from `python` or `command`. `stand-in`: the project's stand-in
    # server (stacks/local_engine/stand_in.py), nothing to install, numbers that describe no model.
    engine: Literal["real", "stand-in"] = "real"
    python: Optional[str] = None  # the engine's interpreter; default $ENGINE_VENV/bin/python
    command: Optional[list[str]] = None  # replaces `python -m <engine module>`
    model_dir: Optional[str] = None  # default $TINY_MODEL_DIR or the project's tiny model
    env: dict[str, str] = Field(default_factory=dict)
    extra_args: list[str] = Field(default_factory=list)  # e.g. --dtype bfloat16 for CPU
    ready_timeout: float = Field(default=300, gt=0)
    log_dir: Optional[str] = None
    price_per_hour: Optional[float] = Field(default=None, ge=0, le=MAX_USD_PER_HOUR)  # $/h of "this machine", for the cost columns

    @property
    def stand_in(self) -> bool:
        return self.engine == "stand-in"


class PulumiTarget(_Model):
    project_dir: str = "."
    base_stack: Optional[str] = None  # the platform stack trials reference (StackReference)
    backend_url: Optional[str] = None  # default file://<db dir>/.pulumi-state
    stack_prefix: str = "tune"
    ready_timeout: float = Field(default=1800, gt=0)
    config: dict[str, Any] = Field(default_factory=dict)  # extra stack config for every trial

    @property
    def base_name(self) -> Optional[str]:
        """The base stack's own name (`staging` of `org/llm-serving/staging`): its file is Pulumi.<name>.yaml."""
        return self.base_stack.rsplit("/", 1)[-1] if self.base_stack else None

    def trial_stack(self, run: str, key: str) -> str:
        """A trial's stack name. A dev base stack gives dev trials (the name ends in `-dev`), so what the base
        may do as a dev stack (S2's allowPlaintextApiKey) its trials may too, judged by name like every stack;
        a trial of any other base is not a dev stack."""
        name = f"{self.stack_prefix}-{run}-{key}"
        if is_dev_stack(self.base_name):
            return name[: MAX_STACK_NAME - len(DEV_SUFFIX)] + DEV_SUFFIX
        return name[:MAX_STACK_NAME]

    def paths(self) -> ConfigPaths:
        """Where a point's problems are: its endpoint is the grid's `base`; cluster and platform are the base stack's."""
        if self.base_name:
            return ConfigPaths.in_file(f"Pulumi.{self.base_name}.yaml", "base", indexed=False)
        return ConfigPaths("base", indexed=False)


MAX_STACK_NAME = 100  # what the driver has always cut trial stack names to
DEV_SUFFIX = "-dev"  # matches the dev stack pattern `*-dev` (components/rules/dev_stacks.py)


class CostSpec(_Model):
    """Where trial prices come from (target pulumi) and the declared load `$ per month at peak` is for."""

    region: str = "us-east-1"  # snapshot stacks/prices/<region>.json
    service: Optional[Literal["ec2", "sagemaker-hyperpod", "sagemaker-hosting"]] = None  # default: by cluster mode
    peak_requests_per_second: Optional[float] = Field(default=None, gt=0, le=MAX_REQUESTS_PER_SECOND)
    headroom: float = Field(default=0.0, ge=0, le=10)


class GridSpec(_Model):
    name: str = Field(min_length=1)
    target: Literal["local", "pulumi"] = "local"
    base: dict[str, Any]
    parameters: dict[str, Union[list[Any], Range]] = Field(default_factory=dict)
    # Instead of a cross product: exactly these points (each a map of parameter path -> value).
    points: list[dict[str, Any]] = Field(default_factory=list)
    benchmark: Benchmark = Field(default_factory=Benchmark)
    objective: Objective = Field(default_factory=Objective)
    slo: dict[str, float] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    parallel: int = Field(default=1, ge=1, le=16)
    repeats: int = Field(default=1, ge=1, le=10)
    strategy: Literal["grid", "random", "tpe", "gp"] = "grid"
    seed: int = 0
    capacity_search: CapacitySearch = Field(default_factory=CapacitySearch)
    local: LocalTarget = Field(default_factory=LocalTarget)
    pulumi: PulumiTarget = Field(default_factory=PulumiTarget)
    cost: CostSpec = Field(default_factory=CostSpec)
    # The cluster trials run on, for the backend rules (which backend, what it needs). Filled from
    # the base stack for --target pulumi when absent; unused by --target local (a local process).
    cluster: Optional[ClusterSpec] = None
    platform: Optional[PlatformSpec] = None

    @model_validator(mode="after")
    def _one_search_space(self) -> "GridSpec":
        if bool(self.parameters) == bool(self.points):
            raise ValueError("give either `parameters` (a cross product of value lists) or `points` (an explicit list), not both or neither")
        if self.points and self.strategy == "tpe":
            raise ValueError("strategy tpe needs `parameters` (value lists to model), not an explicit `points` list; use grid, random or gp")
        return self

    @property
    def stand_in(self) -> bool:
        """Trials run on the stand-in engine: reports, capacity files and the console say so."""
        return self.target == "local" and self.local.stand_in

    @field_validator("slo")
    @classmethod
    def _slo_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            if key not in METRICS or METRICS[key] != "minimize":
                bounds = [k for k, v in METRICS.items() if v == "minimize"]
                raise ValueError(f"SLO {key!r} is not a latency or error metric; use one of {', '.join(bounds)}")
        return value


@dataclass(frozen=True)
class Point:
    params: dict[str, Any]  # parameter path -> value
    spec: Optional[EndpointSpec]
    problems: tuple[Problem, ...] = ()
    benchmark: Optional[Benchmark] = None  # the grid's benchmark block with this point's `benchmark.*` values

    @property
    def key(self) -> str:
        return point_key(self.params)

    @property
    def pruned(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def point_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def load(path: Union[str, Path]) -> GridSpec:
    """Parse a grid file; every problem at once, as ConfigError lines."""
    path = Path(path)
    if not path.exists():
        raise ConfigError([Problem(str(path), None, "CONFIG", "grid file not found", "give the path of a grid YAML (see stacks/grids/)")])
    try:
        raw = load_file(path)
    except YamlInputError as exc:
        message, _, fix = str(exc).partition("; Fix: ")
        raise ConfigError([Problem(str(path), None, "CONFIG", message.removeprefix(f"{path}: "), fix or "fix the YAML syntax")]) from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), type(raw).__name__, "CONFIG", "a grid file is a YAML map", "start from a grid in stacks/grids/")])
    secrets.collect(raw)  # `local.env` tokens, keys, URL credentials: registered before any line can quote them
    try:
        grid = GridSpec.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError([_problem(err) for err in exc.errors()]) from None
    check(grid)
    return grid


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
            problems.append(Problem(f"parameters.{key}", values.model_dump(by_alias=True), "CONFIG", str(exc), "use {from, to, step} or {from: >0, to, times: >1} with distinct values"))
            continue
        if not count:
            problems.append(Problem(f"parameters.{key}", values if isinstance(values, list) else values.model_dump(by_alias=True), "CONFIG", "no values", "list at least one value"))
        counts.append(count)
    size = len(grid.points) if grid.points else math.prod(counts)
    if not problems and size > MAX_POINTS:
        shape = " × ".join(f"{n:,}" for n in counts) if not grid.points else f"{size:,} listed"
        problems.append(Problem("parameters" if not grid.points else "points", f"{size:,} points ({shape})", "CONFIG", f"the grid is over the limit of {MAX_POINTS:,} points", "use fewer values per parameter, or strategy random/tpe/gp over coarser value lists with budget.trials"))
    problems += path_problems(grid)
    problems += workload_problems(grid.benchmark)
    problems += [
        Problem(p.path, p.value, p.rule, p.message, "remove it: give the local engine its token in local.env (e.g. HF_TOKEN), which is never stored or printed")
        for p in security.check_credential_args(grid.local.extra_args, "local.extraArgs")
    ]
    problems += stand_in_problems(grid.local)
    if grid.benchmark.trace and grid.capacity_search.enabled:
        problems.append(Problem("capacitySearch.enabled", True, "CONFIG", "a trace sets its own arrivals, so there is no load to search",
                                "turn capacitySearch off, or use concurrency/requestRates instead of benchmark.trace"))
    if problems:
        raise ConfigError(problems)


def stand_in_problems(local: LocalTarget) -> list[Problem]:
    """The stand-in runs its own command: an engine interpreter or command beside it would be silently unused."""
    if not local.stand_in:
        return []
    return [Problem(f"local.{key}", value, "CONFIG", "local.engine stand-in runs the stand-in server (stacks/local_engine/stand_in.py), so this would be ignored",
                    f"remove local.{key}, or set local.engine: real to run the engine it names")
            for key, value in (("python", local.python), ("command", local.command)) if value is not None]


def workload_problems(bench: Benchmark) -> list[Problem]:
    """The load generator's own checks of the workload options (files included), as grid problems."""
    try:
        BenchmarkConfig(url="http://127.0.0.1:1", model="m", scenario=bench.scenario, concurrency=() if bench.trace else (1,),
                        **bench.loadgen_options()).validate()
    except LoadgenConfigError as exc:
        if exc.field in WORKLOAD_FIELDS:  # the rest (scenario, levels) is checked where the grid is read
            return [Problem(f"benchmark.{to_camel(exc.field)}", exc.value, "CONFIG", exc.fix, "see docs/load-generator.md for the workload options")]
    if bench.trace and (bench.concurrency or bench.request_rates):
        return [Problem("benchmark.trace", bench.trace, "CONFIG", "a trace sets its own arrivals, so concurrency/requestRates do not apply",
                        "drop concurrency and requestRates, or drop trace")]
    return []


def path_problems(grid: GridSpec) -> list[Problem]:
    """A parameter path must end in a map key: not through a scalar of `base`, nor through another parameter."""
    keys = list(grid.parameters) or sorted({k for point in grid.points for k in point})
    problems = []
    for key in keys:
        parts = key.split(".")
        if not all(parts):
            problems.append(Problem(f"parameters.{key}", key, "CONFIG", "a parameter path has an empty part", "write dotted keys such as engineArgs.maxNumSeqs"))
            continue
        if key.startswith(BENCHMARK_PREFIX):
            if len(parts) != 2 or parts[1] not in BENCHMARK_KEYS:
                problems.append(Problem(f"parameters.{key}", key, "CONFIG", "not a key of the benchmark block", f"use one of {', '.join(f'benchmark.{k}' for k in BENCHMARK_KEYS)}"))
            continue
        node: Any = grid.base
        for i, part in enumerate(parts[:-1]):
            prefix = ".".join(parts[: i + 1])
            if prefix in keys:
                problems.append(Problem(f"parameters.{key}", key, "CONFIG", f"goes through parameter {prefix}, which sets a value there", f"tune either {prefix} or {key}, not both"))
                break
            node = node.get(part) if isinstance(node, dict) else None
            if node is not None and not isinstance(node, dict):
                problems.append(Problem(f"parameters.{key}", key, "CONFIG", f"base.{prefix} is {node!r}, not a map, so {key} cannot be set", f"use a path to a map key, e.g. {prefix}"))
                break
    return problems


def with_overrides(grid: GridSpec, overrides: dict[str, Any]) -> GridSpec:
    """Command-line overrides (target, strategy, parallel), validated like the file itself."""
    if not overrides:
        return grid
    try:
        return GridSpec.model_validate({**grid.model_dump(mode="json", by_alias=True), **overrides})
    except ValidationError as exc:
        raise ConfigError([_problem(err) for err in exc.errors()]) from None


def _problem(err: Any, root: type[BaseModel] = None) -> Problem:  # type: ignore[assignment]
    """The stack config's wording (expected type, example, YAML-boolean hint), pointed at grid docs."""
    root = root or GridSpec
    if err["type"] == "value_error" or not err["loc"]:  # a grid-wide rule: the message names the keys
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
        return Problem(where or "grid", err.get("input") if err["loc"] else None, "CONFIG", err["msg"].rstrip(".").removeprefix("Value error, "), "correct the value")
    problem = config_errors.problem(err, root)
    key = str(err["loc"][-1])
    pieces = [key] + ([err["input"]] if isinstance(err.get("input"), str) else [])
    if root is GridSpec and err["type"] == "extra_forbidden":
        fix = "remove it or fix its spelling (keys are camelCase; see stacks/grids/README.md)"
        if any(looks_flow_split(p) for p in pieces if "(" in p or ")" in p):
            fix = FLOW_SPLIT_FIX  # `{scenario: D(1,1)}` in flow style: YAML cut the value at the comma
        problem = Problem(problem.path, problem.value, problem.rule, problem.message, fix)
    return problem


def distinct_values(points: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each parameter's values over a list of points, in first-seen order."""
    values: dict[str, list[Any]] = {}
    for point in points:
        for key, value in point.items():
            if value not in values.setdefault(key, []):
                values[key].append(value)
    return values


def parameter_values(grid: GridSpec) -> dict[str, list[Any]]:
    if grid.points:
        return distinct_values(grid.points)
    return {key: (v.values() if isinstance(v, Range) else list(v)) for key, v in grid.parameters.items()}


def apply(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The base endpoint entry with each `a.b.c` parameter path set."""
    entry = json.loads(json.dumps(base))
    for path, value in params.items():
        target = entry
        *parents, last = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError([Problem(f"parameters.{path}", path, "CONFIG", f"{part} is {target!r}, not a map, so {path} cannot be set", f"use a path to a map key, e.g. {path.rsplit('.', 1)[0]}")])
        target[last] = value
    return entry


def point_benchmark(grid: GridSpec, params: dict[str, Any]) -> tuple[Optional[Benchmark], list[Problem]]:
    """The benchmark block with the point's `benchmark.*` values (None if it sets none), and its problems."""
    values = {k.removeprefix(BENCHMARK_PREFIX): v for k, v in params.items() if k.startswith(BENCHMARK_PREFIX)}
    if not values:
        return None, []
    try:
        bench = Benchmark.model_validate({**grid.benchmark.model_dump(by_alias=True), **values})
    except ValidationError as exc:
        return None, [_problem(e, Benchmark) for e in exc.errors()]
    return bench, workload_problems(bench)


def local_problems(grid: GridSpec, params: dict[str, Any], spec: EndpointSpec) -> list[Problem]:
    """Router and KV-cache options pruned on the local target: one engine process has neither."""
    if grid.target != "local":
        return []
    problems = []
    for key, value in params.items():
        top = key.removeprefix("hyperpod.").split(".", 1)[0]  # the hyperpod block, or its old top-level keys
        if top in ROUTER_KEYS:
            problems.append(Problem(f"parameters.{key}", value, TARGET_RULE, f"needs {ROUTER_KEYS[top]}, which a local engine does not have",
                                    "tune it with target: pulumi on a hyperpod cluster, or drop it from this local grid"))
    set_in_base = {"intelligentRouting": spec.hyperpod.intelligent_routing, "kvCache": spec.hyperpod.kv_cache is not None and spec.hyperpod.kv_cache.enabled}
    for key, on in set_in_base.items():
        if on and not any(k.removeprefix("hyperpod.").split(".", 1)[0] == key for k in params):
            problems.append(Problem(f"base.hyperpod.{key}", True, TARGET_RULE, f"needs {ROUTER_KEYS[key]}, which a local engine does not have",
                                    f"remove hyperpod.{key} from base for target: local, or use target: pulumi"))
    return problems


def endpoint_params(params: dict[str, Any]) -> dict[str, Any]:
    """The point's endpoint settings: without its `benchmark.*` values, which shape the load, not the stack."""
    return {k: v for k, v in params.items() if not k.startswith(BENCHMARK_PREFIX)}


def make_point(grid: GridSpec, params: dict[str, Any]) -> Point:
    bench, bench_problems = point_benchmark(grid, params)
    if bench_problems:
        return Point(params, None, tuple(bench_problems))
    settings = endpoint_params(params)
    try:
        entry = apply(grid.base, settings)
    except ConfigError as exc:
        return Point(params, None, tuple(exc.problems))
    try:
        spec = EndpointSpec.model_validate(entry)
    except ValidationError as exc:
        return Point(params, None, tuple(_problem(e, EndpointSpec) for e in exc.errors()))
    # The trial stack's own verdict (stacks/config.py validate_stack): on --target pulumi the base stack's cluster and
    # platform, under the trial's stack name; on --target local one engine process, so the endpoint rules alone.
    # Capacity files (C1) are relative to the project directory, pulumi.projectDir.
    on_cluster = grid.target == "pulumi" and grid.cluster is not None
    if on_cluster:  # the trial's endpoint entry names its backend (the capacity-derived triggers stay derived)
        (spec,) = backends.resolve([spec], grid.cluster, grid.platform or PlatformSpec())
    checked = stack_config.validate_stack(
        [spec],
        grid.cluster if on_cluster else None,
        grid.platform,
        stack=grid.pulumi.trial_stack(grid.name, point_key(params)),
        project_dir=Path(grid.pulumi.project_dir),
        paths=grid.pulumi.paths(),
        platform_stack=grid.pulumi.base_stack if on_cluster else None,
        platform_cluster=grid.cluster if on_cluster and grid.pulumi.base_stack else None,
    )
    problems = checked.problems + point_problems(grid, params, spec) + local_problems(grid, settings, spec)
    return Point(params, spec, tuple(problems), bench)


def expand(grid: GridSpec) -> list[Point]:
    """Every point of the grid, each validated by the rule library (pruned ones carry their problems)."""
    check(grid)  # the size bound before a single point is built, also for grids built in code
    if grid.points:
        return [make_point(grid, dict(sorted(point.items()))) for point in grid.points]
    values = parameter_values(grid)
    keys = sorted(values)
    return [make_point(grid, dict(zip(keys, combo))) for combo in itertools.product(*(values[k] for k in keys))]
