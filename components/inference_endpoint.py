"""`InferenceEndpoint`: one HyperPod `InferenceEndpointConfig` per model, correct by construction."""

from __future__ import annotations

from typing import Optional

import pulumi

from .custom_resource import StatusCustomResource
from .endpoint_common import EndpointComponent, InferenceEndpointArgs, child_opts
from .rules import naming
from .rules.backends import hyperpod
from .rules.backends import state as endpoint_state

__all__ = ["InferenceEndpoint", "InferenceEndpointArgs"]


class InferenceEndpoint(EndpointComponent):
    """The `hyperpod` backend. Outputs: see EndpointComponent; `state` is the operator's
    `status.state` (DeploymentComplete, DeploymentFailed, ...)."""

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:endpoints:InferenceEndpoint", name, None, opts)
        spec = args.spec
        if spec.api_key and args.api_key is None:
            # The router needs the key as a plain value (G9): a Secret name alone is not enough.
            raise ValueError(f"endpoint {spec.name!r}: apiKey is true but no key was passed to InferenceEndpointArgs.api_key")
        manifest = hyperpod.render(spec, args.region, args.api_key, args.api_key_secret_name)
        k8s_name = manifest["metadata"]["name"]
        if k8s_name != spec.name:
            pulumi.log.info(
                f"endpoint {spec.name!r} is named {k8s_name!r} in Kubernetes "
                f"(G1/G2: lowercase RFC 1123, at most {naming.HYPERPOD_NAME_BUDGET} characters)",
                resource=self,
            )
        self.endpoint_config = StatusCustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            # The operator must be up before its CRD's objects (pulumi-kubernetes #3176/#3247).
            # G19: the operator cannot flip intelligent routing in place; replace instead of a
            # failed update. The name is fixed, so the old object must go first.
            opts=child_opts(self, args, replace_on_changes=list(hyperpod.IMMUTABLE_FIELDS), delete_before_replace=True),
        )
        # The URL is the ingress's (stacks/program.py), not known here.
        self._finish(spec, None, self.endpoint_config.status.apply(endpoint_state.hyperpod))
