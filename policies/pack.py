"""The CrossGuard policies: one thin adapter per entry of `components.rules.policy_catalog`.

Each validate function turns what CrossGuard hands it (a type token, read-only proxied props) into
a `Resource`, runs the catalogue's check (the rule library) and reports every Problem as one line
naming the resource, field, value, rule ID and fix. No rule logic lives here.

Importable without side effects: `PolicyPack(...)` starts a gRPC server, so it is built only in
`__main__.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from components.rules.policy_catalog import POLICIES, Context, PolicySpec, ResourceCheck, StackCheck
from components.rules.policy_eval import message
from components.rules.resources import Resource

PACK_NAME = "llm-serving-guardrails"
# A value Pulumi cannot know during preview (an ID, a generated password). Kept as an opaque string
# so the rules read the rest of the object; problems about this value itself are not reported.
UNKNOWN = "<unknown during preview>"


def plain(value: Any) -> Any:
    """CrossGuard's props are read-only proxies that raise on unknown values, with every number a
    float; the rule library wants plain dicts, lists and integers."""
    if isinstance(value, Mapping):
        out = {}
        for key in value:
            try:
                out[key] = plain(value[key])
            except UnknownValueError:
                out[key] = UNKNOWN
        return out
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for i in range(len(value)):
            try:
                items.append(plain(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; ports and counts are integers
    return value


def _mentions_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return UNKNOWN in value
    if isinstance(value, Mapping):
        return any(_mentions_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_mentions_unknown(v) for v in value)
    return False


def stack_name() -> str | None:
    # The CLI sets PULUMI_STACK for the analyzer; without it the stack counts as non-dev (S4).
    return os.environ.get("PULUMI_STACK") or None


def _context(spec: PolicySpec, config: Mapping[str, Any]) -> Context:
    params = {**spec.defaults(), **{k: v for k, v in dict(config or {}).items() if k in spec.params}}
    return Context(params, stack_name())


def _resource(type_: str, props: Any, urn: str, name: str) -> Resource:
    return Resource(type_, name, plain(props), urn)


def _graph_resource(r: Any) -> Resource:
    """A stack policy's resource with its place in the graph (the ordering rules read it)."""
    resource = _resource(r.resource_type, r.props, r.urn, r.name)
    dependencies = tuple(d.urn for d in (r.dependencies or ()))
    return Resource(
        resource.type, resource.name, resource.props, resource.urn, dependencies, r.parent.urn if r.parent else ""
    )


def _validate_resource(spec: PolicySpec):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = _resource(args.resource_type, args.props, args.urn, args.name)
        for problem in cast(ResourceCheck, spec.check)(
            resource, _context(spec, args.get_config())
        ):  # a resource policy's check
            if not _mentions_unknown(problem.value):
                report_violation(message(resource, problem), None)

    return validate


def _validate_stack(spec: PolicySpec):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [_graph_resource(r) for r in args.resources]
        for resource, problem in cast(StackCheck, spec.check)(
            resources, _context(spec, args.get_config())
        ):  # a stack policy's check
            if not _mentions_unknown(problem.value):
                report_violation(message(resource, problem), resource.urn or None)

    return validate


def build(spec: PolicySpec) -> ResourceValidationPolicy | StackValidationPolicy:
    common: dict[str, Any] = {
        "name": spec.name,
        "description": f"[{spec.rule}] {spec.description}",
        "enforcement_level": EnforcementLevel(spec.enforcement),
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in spec.params.items()})
        if spec.params
        else None,
        "tags": [spec.rule, *spec.anchors],
    }
    if spec.kind == "stack":
        return StackValidationPolicy(validate=_validate_stack(spec), **common)
    return ResourceValidationPolicy(validate=_validate_resource(spec), **common)


def policies() -> list[Policy]:
    return [build(spec) for spec in POLICIES]
