"""Run the real program under the plan's mocks and record, per resource, its type, parent URN,
provider and explicit dependencies (read from the register requests the SDK sends)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as sdk_mocks

from stacks import plan as plan_mod

BASE_ENDPOINT: dict[str, Any] = {
    "name": "qwen3-4b",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "ml.g5.8xlarge",
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "qwen3-4b/"},
    "intelligentRouting": True,
    "apiKey": True,
}


@dataclass
class Reg:
    type_: str
    name: str
    parent: str
    provider: str
    dependencies: list[str]
    urn: str
    timeouts: dict[str, str] = field(default_factory=dict)  # customTimeouts as the SDK sends them


def stack_values(
    cluster: dict[str, Any], endpoints: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    values = {
        "aws:region": "us-east-1",
        "llm-serving:cluster": cluster,
        "llm-serving:endpoints": endpoints if endpoints is not None else [BASE_ENDPOINT],
    }
    values.update({f"llm-serving:{k}": v for k, v in extra.items()})
    return values


def run_stack(values: dict[str, Any], stack: str = "test"):
    """The plan of `values` plus every register request (name -> Reg) and the stack outputs."""
    seen: dict[str, Reg] = {}
    outputs: dict[str, Any] = {}
    original = sdk_mocks.MockMonitor.RegisterResource

    def register(self, request):
        response = original(self, request)
        timeouts = {
            k: getattr(request.customTimeouts, k)
            for k in ("create", "update", "delete")
            if getattr(request.customTimeouts, k)
        }
        seen[request.name] = Reg(
            request.type,
            request.name,
            request.parent,
            request.provider,
            list(request.dependencies),
            response.urn,
            timeouts,
        )
        return response

    original_export = pulumi.export
    sdk_mocks.MockMonitor.RegisterResource = register
    pulumi.export = lambda name, value: outputs.__setitem__(name, value)
    try:
        plan = plan_mod.build_plan_from_values(stack, values)
    finally:
        sdk_mocks.MockMonitor.RegisterResource = original
        pulumi.export = original_export
    return plan, seen, outputs


def resolve(value: Any) -> tuple[Any, bool]:
    """(plain value, whether any part was secret) of an exported value after the run."""
    from pulumi.runtime.sync_await import _sync_await

    out = pulumi.Output.from_input(value)
    return _sync_await(out.future()), bool(_sync_await(out.is_secret()))


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)


__all__ = ["BASE_ENDPOINT", "Reg", "dumps", "resolve", "run_stack", "stack_values"]
