"""Run every policy of the catalogue over declared resources, without Pulumi.

`evaluate(resources, config, stack)` is what the offline plan and `stacks check` call; the policy
pack runs the same `PolicySpec.check` functions one resource (or one stack) at a time through
CrossGuard. A violation carries its enforcement level: mandatory ones fail the run, advisory ones
are warnings, disabled policies do not run at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from .policy_catalog import POLICIES, Context, PolicySpec, ResourceCheck, StackCheck
from .policy_config import PolicyConfig
from .problems import Problem
from .resources import Resource


@dataclass(frozen=True)
class Violation:
    policy: str
    rule: str
    level: str  # mandatory | advisory
    resource: Resource
    index: int  # position of the resource in the evaluated list (-1: the stack as a whole)
    problem: Problem

    @property
    def mandatory(self) -> bool:
        return self.level == "mandatory"

    @property
    def message(self) -> str:
        return message(self.resource, self.problem)

    def __str__(self) -> str:
        return f"{self.level} {self.policy}: {self.message}"

    @property
    def reported(self) -> Problem:
        """As every surface prints it: mandatory violations are errors, advisory ones warnings."""
        return dataclasses.replace(self.problem, severity="error" if self.mandatory else "warning")


def message(resource: Resource, problem: Problem) -> str:
    """Resource, field, value, rule ID and fix on one line: what every surface prints."""
    return f"{resource.label}: {problem}"


def evaluate(
    resources: Iterable[Resource],
    config: PolicyConfig | None = None,
    stack: str | None = None,
    policies: Iterable[PolicySpec] = POLICIES,
) -> list[Violation]:
    resources = list(resources)
    config = config or PolicyConfig()
    position = {id(r): i for i, r in enumerate(resources)}
    out: list[Violation] = []
    for policy in policies:
        level = config.level(policy)
        if level == "disabled":
            continue
        ctx = Context(config.params_of(policy), stack)
        if policy.kind == "resource":
            for i, resource in enumerate(resources):
                for problem in cast(ResourceCheck, policy.check)(resource, ctx):  # `kind` says which check it is
                    out.append(Violation(policy.name, policy.rule, level, resource, i, problem))
        else:
            for resource, problem in cast(StackCheck, policy.check)(resources, ctx):
                out.append(
                    Violation(policy.name, policy.rule, level, resource, position.get(id(resource), -1), problem)
                )
    out.sort(key=lambda v: v.index)  # stable: per resource, in catalogue order
    return out


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.mandatory]
