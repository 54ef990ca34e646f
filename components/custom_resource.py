"""A Kubernetes custom resource whose `status` is an output, so outputs can read what the operator
reports (`status.state`, the Ready condition). pulumi-kubernetes' CustomResource sends only
apiVersion/kind/metadata/spec and so exposes no `status` attribute in Python."""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s


class StatusCustomResource(k8s.apiextensions.CustomResource):
    status: pulumi.Output[Any]

    def _internal_init(self, resource_name: str, api_version: str, kind: str, opts: Optional[pulumi.ResourceOptions] = None, metadata: Any = None, spec: Any = None, __props__: Any = None) -> None:  # type: ignore[override]
        # Same as the base, plus `status` (None: never sent) so the engine's value resolves into an output.
        if opts is None:
            opts = pulumi.ResourceOptions()
        props = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, "status": None}
        pulumi.CustomResource.__init__(self, f"kubernetes:{api_version}:{kind}", resource_name, props, opts)
