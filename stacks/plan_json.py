"""`python -m stacks plan --json FILE`: the declared graph, machine-readable, in the shape of
`pulumi preview --json` (`steps[].newState` with `urn`, `type`, `parent`, `inputs`, `dependencies`,
`propertyDependencies`, `customTimeouts`; `diagnostics`; `changeSummary`).

Every step is a `create`: the offline plan has no state to diff against. Inputs are redacted as the
plan's manifest files are (everything Pulumi marked secret, Secret data, secret-named env values), and
a value Pulumi could not know yet is `"<unknown>"`.
"""

from __future__ import annotations

from typing import Any

from benchmarks import secrets
from benchmarks.outputs import Kind, Output, json_bytes, json_object_with

from .redaction import redact

# Pulumi's wire marker for an unknown value (pulumi.runtime.rpc.UNKNOWN).
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN = "<unknown>"


PLAN_JSON = Kind("plan graph JSON", "plan.json", json_object_with("steps", "diagnostics", "changeSummary"))


def _mark_unknown(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mark_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_unknown(v) for v in value]
    if value == UNKNOWN_SENTINEL:
        return UNKNOWN
    return value


def document(plan: Any) -> dict[str, Any]:
    """`plan`: a `stacks.plan.Plan` (not imported here: the plan command imports this module)."""
    steps = []
    for reg in plan.resources:
        state: dict[str, Any] = {
            "urn": reg.urn,
            "type": reg.type_,
            "custom": reg.custom,
            "parent": reg.graph.parent,
            "provider": reg.provider,
            "inputs": _mark_unknown(redact(reg.inputs, reg.secret_paths)),
            "dependencies": list(reg.graph.dependencies),
            "propertyDependencies": dict(reg.graph.property_dependencies),
        }
        if reg.graph.custom_timeouts:
            state["customTimeouts"] = dict(reg.graph.custom_timeouts)
        state.update(reg.graph.options)
        steps.append({"op": "create", "urn": reg.urn, "provider": reg.provider, "newState": state})
    diagnostics = [
        {"urn": obj.registration.urn, "severity": problem.severity, "message": f"{obj.kind}/{obj.name}: {problem}"}
        for obj in plan.objects
        for problem in obj.problems
    ]
    diagnostics += [
        {"urn": v.resource.urn, "severity": v.reported.severity, "message": f"{v.resource.label}: {v.reported}"}
        for v in plan.other_violations
    ]
    diagnostics += [{"urn": "", "severity": "error", "message": line} for line in plan.duplicate_urns]
    return {"steps": steps, "diagnostics": diagnostics, "changeSummary": {"create": len(steps)}}


def write(plan: Any, out: Output) -> None:
    """Into the output `stacks.plan_out.PlanOutputs` opened (locked and checked before the plan ran)."""
    out.write(json_bytes(secrets.scrub_data(document(plan)), default=str))
