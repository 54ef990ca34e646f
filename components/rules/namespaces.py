"""Namespaces the stack must never own (S7).

A Namespace the stack declares is one `pulumi destroy`, or removing the key that made it, deletes with
everything in it. The cluster's own namespaces, and the HyperPod operator's (the operator add-on owns
it), are shared with what the stack did not create: owning `kube-system` would delete the cluster's
system pods with the stack. One list, used wherever the stack declares a Namespace (endpoints, the
gateway, the counter store, the platform's add-ons), and one check on every planned Namespace."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .addons import OPERATOR_NAMESPACE
from .catalog import S7
from .problems import Problem

# Kubernetes creates the first four; the operator's namespace belongs to its add-on or chart.
SHARED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease", OPERATOR_NAMESPACE})


def owned(names: Iterable[str]) -> list[str]:
    """The namespaces among `names` the stack may declare, in first-seen order."""
    return [n for n in dict.fromkeys(names) if n not in SHARED_NAMESPACES]


def check_config(name: str, path: str) -> list[Problem]:
    """A config key naming a namespace the stack would declare for itself."""
    if name not in SHARED_NAMESPACES:
        return []
    return [
        Problem(
            path,
            name,
            S7,
            f"the stack would own namespace {name!r}, which the cluster shares, and destroying the stack or removing this key would delete it with everything in it",
            "give it a namespace of its own, e.g. llm-gateway",
        )
    ]


def check_manifest(manifest: Mapping[str, Any]) -> list[Problem]:
    """A planned Namespace object named after a shared namespace."""
    if manifest.get("kind") != "Namespace" or manifest.get("apiVersion") != "v1":
        return []
    name = str((manifest.get("metadata") or {}).get("name", ""))
    if name not in SHARED_NAMESPACES:
        return []
    return [
        Problem(
            "metadata.name",
            name,
            S7,
            f"the stack declares namespace {name!r}, which the cluster shares: destroying the stack would delete it with everything in it",
            "declare no Namespace object for it; put the stack's objects in a namespace of their own",
        )
    ]
