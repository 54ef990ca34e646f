"""HyperPod checks that need what only the stack layer reads: the model lock (G23 on each `instanceTypes` fallback,
D4's model size) and the workload in the load generator's scenario syntax (D3, D4)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchmarks.scenario import ScenarioError, parse_scenario
from components.rules import fit, hyperpod_fields
from components.rules.backends import hyperpod_dpd
from components.rules.model_facts import ModelFacts
from components.rules.problems import Problem
from components.rules.spec import EndpointSpec


def shape(
    scenario: str,
    source: str,
    requests_per_second: float | None = None,
    prefix_tokens: int | None = None,
    turns: int = 1,
) -> hyperpod_dpd.WorkloadShape | None:
    """The workload's input and output lengths, or None if the text is no scenario. A shared prefix counts as input;
    a multi-turn session resends its history, so its last turn's input holds every earlier turn."""
    try:
        s = parse_scenario(scenario)
    except ScenarioError:
        return None
    p, extra = s.params, prefix_tokens or 0
    if s.kind == "D":
        typical_in, typical_out = p[0], p[1]
    elif s.kind == "N":
        typical_in, typical_out = p[0], p[2]
    else:
        typical_in, typical_out = (p[0] + p[1]) // 2, (p[2] + p[3]) // 2
    history = (turns - 1) * (typical_in + typical_out)
    return hyperpod_dpd.WorkloadShape(
        typical_in + extra + history // 2, s.max_input + extra + history, typical_out, requests_per_second, source
    )


def load_shape(spec: EndpointSpec) -> hyperpod_dpd.WorkloadShape | None:
    """From the endpoint's `load` block, the stack's one statement of its traffic."""
    if spec.load is None:
        return None
    return shape(spec.load.workload, "load.workload", float(spec.load.peak_requests_per_second))


def check(
    specs: Sequence[EndpointSpec],
    lock: Mapping[str, ModelFacts],
    endpoint_path: Callable[[int], str],
    shape_of: Callable[[EndpointSpec], hyperpod_dpd.WorkloadShape | None] = load_shape,
) -> list[Problem]:
    """G23 on each fallback instance type; D3 and D4 on each DPD endpoint."""
    problems = hyperpod_fields.fit_fallbacks(specs, lambda s: fit.facts_for(s, lock), fit.check, endpoint_path)
    for i, spec in enumerate(specs):
        if spec.hyperpod.pd_spec is None:
            continue
        facts: Any = fit.facts_for(spec, lock)
        workload = shape_of(spec)
        problems += hyperpod_dpd.check_threshold(spec, workload, endpoint_path(i))
        problems += hyperpod_dpd.check_payoff(
            spec, facts.parameters if facts else None, facts.architecture if facts else None, workload, endpoint_path(i)
        )
    return problems
