"""Pulumi mocks for running the real program offline: record every resource, apply the registered
stack transforms as the engine would, and answer the outputs the program reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's wire marker for secret values
SECRET_MARK = "<<secret>>"  # mock secret values carry this so writers can redact them


def unwrap(value: Any) -> tuple[Any, bool]:
    """Strip Pulumi's secret envelopes (reporting whether any was found) and restore integers."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            inner, _ = unwrap(value.get("value"))
            return inner, True
        found = False
        out = {}
        for k, v in value.items():
            out[k], secret = unwrap(v)
            found |= secret
        return out, found
    if isinstance(value, list):
        items = [unwrap(v) for v in value]
        return [i for i, _ in items], any(s for _, s in items)
    if isinstance(value, float) and value.is_integer():
        return int(value), False  # the wire format has only doubles; Kubernetes wants integers
    return value, False


@dataclass
class Registration:
    type_: str
    name: str
    inputs: dict[str, Any]
    provider: str
    custom: bool
    secret: bool = False
    changes: list[str] = field(default_factory=list)  # what the stack transforms changed


OutputFactory = Callable[[MockResourceArgs], dict[str, Any]]


def _mock_secret(name: str) -> str:
    return f"{SECRET_MARK}{hashlib.sha256(name.encode()).hexdigest()[:12]}"


# Outputs the program reads from resources that the mocks do not compute by themselves.
DEFAULT_OUTPUTS: dict[str, OutputFactory] = {
    "random:index/randomPassword:RandomPassword": lambda a: {"result": _mock_secret(a.name)},
}


class PlanMocks(pulumi.runtime.Mocks):
    def __init__(self, outputs: Optional[dict[str, OutputFactory]] = None, calls: Optional[dict[str, Callable[[MockCallArgs], dict]]] = None):
        self.registrations: list[Registration] = []
        self.transforms: list[Any] = []
        self.outputs = {**DEFAULT_OUTPUTS, **(outputs or {})}
        self.calls = calls or {}

    def register_transform(self, transform: Any) -> None:
        self.transforms.append(transform)

    def _apply_transforms(self, args: MockResourceArgs, inputs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        changes: list[str] = []
        for transform in self.transforms:
            result = transform(
                pulumi.ResourceTransformArgs(
                    custom=bool(args.custom), type_=args.typ, name=args.name, props=inputs, opts=pulumi.ResourceOptions()
                )
            )
            if result is not None:
                if result.props != inputs:
                    changes.append(f"transform changed {sorted(k for k in result.props if result.props.get(k) != inputs.get(k))}")
                inputs = dict(result.props)
        return inputs, changes

    def new_resource(self, args: MockResourceArgs) -> tuple[Optional[str], dict]:
        inputs, secret = unwrap(dict(args.inputs))
        inputs, changes = self._apply_transforms(args, inputs)
        self.registrations.append(Registration(args.typ, args.name, inputs, args.provider or "", bool(args.custom), secret, changes))
        outputs = dict(inputs)
        factory = self.outputs.get(args.typ)
        if factory:
            outputs.update(factory(args))
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
        handler = self.calls.get(args.token)
        return (handler(args) if handler else {}), None
