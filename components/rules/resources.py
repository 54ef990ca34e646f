"""Declared resources as the policies see them: a Pulumi type token, a name and camelCase props.

The policy pack gets these from the Pulumi engine, the offline plan from its mocks and
`stacks check` from plain manifests; every check reads them through this one shape, so the three
paths cannot drift apart. Kubernetes resources arrive as `kubernetes:<apiVersion>:<kind>` (core
kinds as `kubernetes:core/v1:<kind>`) and become ordinary manifests here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Resource:
    type: str  # Pulumi type token, e.g. kubernetes:apps/v1:Deployment or aws:eks/cluster:Cluster
    name: str  # Pulumi resource name (or file:document for plain manifests)
    props: Mapping[str, Any] = field(default_factory=dict)
    urn: str = ""
    # The dependency graph, where the caller knows it (the plan, a CrossGuard stack policy): every URN
    # this resource waits for, and its parent's URN.
    dependencies: tuple[str, ...] = ()
    parent: str = ""

    @property
    def manifest(self) -> dict[str, Any] | None:
        return kubernetes_manifest(self.type, self.props)

    @property
    def label(self) -> str:
        """How messages name the resource: `Kind namespace/name` for Kubernetes, else `type name`."""
        manifest = self.manifest
        if manifest is None:
            return f"{self.type} {self.name}"
        meta = manifest.get("metadata") or {}
        name = meta.get("name") or self.name
        where = f"{meta['namespace']}/{name}" if meta.get("namespace") else str(name)
        return f"{manifest.get('kind')} {where}"


def split_kubernetes_type(type_: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:Deployment` -> ('apps/v1', 'Deployment'); core/v1 -> v1; else None."""
    parts = type_.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    api_version, kind = parts[1], parts[2]
    # Packaged components and patches are not objects the API server stores.
    if api_version.startswith(("helm.sh/", "yaml/", "kustomize/")) or kind.endswith("List") or "Patch" in kind:
        return None
    return ("v1" if api_version == "core/v1" else api_version), kind


def kubernetes_type(api_version: str, kind: str) -> str:
    return f"kubernetes:{'core/v1' if api_version == 'v1' else api_version}:{kind}"


def kubernetes_manifest(type_: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    """A plain manifest from a Kubernetes resource's props; None for anything else."""
    split = split_kubernetes_type(type_)
    if split is None:
        return None
    body = {k: v for k, v in props.items() if k not in ("apiVersion", "kind")} if isinstance(props, Mapping) else {}
    return {"apiVersion": split[0], "kind": split[1], **body}


def from_manifest(manifest: Mapping[str, Any], name: str = "") -> Resource:
    """The Resource Pulumi would show a policy for this manifest."""
    meta = manifest.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    token = kubernetes_type(str(manifest.get("apiVersion", "")), str(manifest.get("kind", "")))
    return Resource(token, name or str(meta.get("name", "")), dict(manifest))


def get(value: Any, *path: Any) -> Any:
    """Nested lookup that tolerates missing keys, wrong types and short lists."""
    for key in path:
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and -len(value) <= key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value
