"""Stack-wide guardrail transform: the rule library's fixers applied to every matching resource,
including ones declared by hand or inside other components. Every change is logged."""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from .rules import manifests
from .rules.backends import BACKENDS
from .rules.backends.kinds import group_kind

Log = Callable[[str], None]


def _split_type(type_: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:Deployment` -> ('apps/v1', 'Deployment')."""
    parts = type_.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    return parts[1], parts[2]


def make_guardrail_transform(log: Log | None = None) -> pulumi.ResourceTransform:
    emit: Log = log or (lambda message: pulumi.log.info(message))

    def guardrail_transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        api_kind = _split_type(args.type_)
        if api_kind is None:
            return None
        obj = {"apiVersion": api_kind[0], "kind": api_kind[1], **dict(args.props)}
        if not manifests.has_rules(obj):
            return None
        fixed, changes = manifests.fix(obj)
        opts = args.opts
        immutable = next(
            (
                b.immutable_fields
                for b in BACKENDS.values()
                if b.immutable_fields and group_kind(obj) == (b.live.group, b.live.kind)
            ),
            (),
        )
        if immutable:
            wanted = [f for f in immutable if f not in (opts.replace_on_changes or [])]
            if wanted:
                opts = pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(replace_on_changes=wanted, delete_before_replace=True)
                )
                emit(f"{args.name}: [G19] replace_on_changes += {wanted} (the operator cannot change them in place)")
        if not changes and opts is args.opts:
            return None
        for change in changes:
            emit(f"{args.name}: {change}")
        props = {k: v for k, v in fixed.items() if k in args.props or k not in ("apiVersion", "kind")}
        return pulumi.ResourceTransformResult(props=props, opts=opts)

    return guardrail_transform


def register(log: Log | None = None) -> None:
    pulumi.runtime.register_resource_transform(make_guardrail_transform(log))
