"""A grid's points: each parameter combination applied to the base endpoint entry and judged by the rule library,
as the trial's stack would be (pruned points carry their problems)."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from components.rules import ConfigError, Problem, backends
from components.rules.spec import EndpointSpec, GatewaySpec, PlatformSpec
from stacks import config as stack_config
from stacks import hyperpod_checks

from .cost import point_problems
from .grid_checks import check, grid_problem, workload_problems
from .grid_spec import BENCHMARK_PREFIX, Benchmark, GridSpec, Range

# What a single local engine process cannot do: these need the HyperPod operator, so a local trial would measure
# a configuration that was never applied. The operator owns them as InferenceEndpointConfig fields
# `spec.intelligentRoutingSpec.{enabled,routingStrategy}` and `spec.kvCacheSpec.{enableL1Cache,enableL2Cache}`
# (sagemaker-hyperpod-cli helm_chart/HyperPodHelmChart/charts/inference-operator/config/crd/
# inference.sagemaker.aws.amazon.com_inferenceendpointconfigs.yaml @011ca927).
ROUTER_KEYS = {
    "intelligentRouting": "the HyperPod operator's router",
    "routingStrategy": "the HyperPod operator's router (intelligentRouting)",
    "kvCache": "the HyperPod operator's KV-cache offload (kvCacheSpec)",
    "pdSpec": "the HyperPod operator's disaggregated prefill and decode (pdSpec)",
    "requestLimits": "the HyperPod operator's nginx sidecar (worker.requestLimits)",
}
TARGET_RULE = "TARGET"


@dataclass(frozen=True)
class Point:
    params: dict[str, Any]  # parameter path -> value
    spec: EndpointSpec | None
    problems: tuple[Problem, ...] = ()
    benchmark: Benchmark | None = None  # the grid's benchmark block with this point's `benchmark.*` values

    @property
    def key(self) -> str:
        return point_key(self.params)

    @property
    def pruned(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def point_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


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
                raise ConfigError(
                    [
                        Problem(
                            f"parameters.{path}",
                            path,
                            "CONFIG",
                            f"{part} is {target!r}, not a map, so {path} cannot be set",
                            f"use a path to a map key, e.g. {path.rsplit('.', 1)[0]}",
                        )
                    ]
                )
        target[last] = value
    return entry


def point_benchmark(grid: GridSpec, params: dict[str, Any]) -> tuple[Benchmark | None, list[Problem]]:
    """The benchmark block with the point's `benchmark.*` values (None if it sets none), and its problems."""
    values = {k.removeprefix(BENCHMARK_PREFIX): v for k, v in params.items() if k.startswith(BENCHMARK_PREFIX)}
    if not values:
        return None, []
    try:
        bench = Benchmark.model_validate({**grid.benchmark.model_dump(by_alias=True), **values})
    except ValidationError as exc:
        return None, [grid_problem(e, Benchmark) for e in exc.errors()]
    return bench, workload_problems(bench)


def local_problems(grid: GridSpec, params: dict[str, Any], spec: EndpointSpec) -> list[Problem]:
    """Router and KV-cache options pruned on the local target: one engine process has neither."""
    if grid.target != "local":
        return []
    problems = []
    for key, value in params.items():
        top = key.removeprefix("hyperpod.").split(".", 1)[0]  # the hyperpod block, or its old top-level keys
        if top in ROUTER_KEYS:
            problems.append(
                Problem(
                    f"parameters.{key}",
                    value,
                    TARGET_RULE,
                    f"needs {ROUTER_KEYS[top]}, which a local engine does not have",
                    "tune it with target: pulumi on a hyperpod cluster, or drop it from this local grid",
                )
            )
    hp = spec.hyperpod
    set_in_base = {
        "intelligentRouting": hp.intelligent_routing,
        "kvCache": hp.kv_cache is not None and hp.kv_cache.enabled,
        "pdSpec": hp.pd_spec is not None,
        "requestLimits": hp.request_limits is not None,
    }
    for key, on in set_in_base.items():
        if on and not any(k.removeprefix("hyperpod.").split(".", 1)[0] == key for k in params):
            problems.append(
                Problem(
                    f"base.hyperpod.{key}",
                    True,
                    TARGET_RULE,
                    f"needs {ROUTER_KEYS[key]}, which a local engine does not have",
                    f"remove hyperpod.{key} from base for target: local, or use target: pulumi",
                )
            )
    if spec.kubernetes.routing == "inferencePool":
        problems.append(
            Problem(
                "kubernetes.routing",
                "inferencePool",
                TARGET_RULE,
                "needs the tenant gateway and the endpoint picker, which a local engine does not have",
                "tune routing with target: pulumi (a gateway in pulumi.config), or drop it from this local grid",
            )
        )
    return problems


def trial_gateway(grid: GridSpec) -> GatewaySpec | None:
    """A gateway the grid gives every trial (`pulumi.config` `<project>:gateway`): trials leave the base stack's
    gateway with the base, so pool routing (kubernetes.routing: inferencePool) is valid only with one of their own."""
    raw = next((v for k, v in grid.pulumi.config.items() if k.rpartition(":")[2] == "gateway"), None)
    try:
        return GatewaySpec.model_validate(raw) if isinstance(raw, dict) else None
    except ValidationError:
        return None  # the trial stack's own plan says why


def dpd_shape(bench: Benchmark) -> Any:
    """The point's traffic for the DPD rules (D3, D4): its scenario, a shared prefix counted as input."""
    rate = max(bench.request_rates) if bench.request_rates else None
    return hyperpod_checks.shape(bench.scenario, "the benchmark scenario", rate, bench.prefix_tokens, bench.turns)


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
        return Point(params, None, tuple(grid_problem(e, EndpointSpec) for e in exc.errors()))
    # The trial stack's own verdict (stacks/config.py validate_stack): on --target pulumi the base stack's cluster and
    # platform, under the trial's stack name; on --target local one engine process, so the endpoint rules alone.
    # Capacity files (C1) are relative to the project directory, pulumi.projectDir.
    on_cluster = grid.target == "pulumi" and grid.cluster is not None
    if on_cluster:  # the trial's endpoint entry names its backend (the capacity-derived triggers stay derived)
        assert grid.cluster is not None  # on_cluster
        (spec,) = backends.resolve([spec], grid.cluster, grid.platform or PlatformSpec())
    checked = stack_config.validate_stack(
        [spec],
        grid.cluster if on_cluster else None,
        grid.platform,
        trial_gateway(grid) if on_cluster else None,
        stack=grid.pulumi.trial_stack(grid.name, point_key(params)),
        project_dir=Path(grid.pulumi.project_dir),
        paths=grid.pulumi.paths(),
        platform_stack=grid.pulumi.base_stack if on_cluster else None,
        platform_cluster=grid.cluster if on_cluster and grid.pulumi.base_stack else None,
        workload=lambda _: dpd_shape(bench or grid.benchmark),
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
