"""`InferenceEndpoint`: one HyperPod `InferenceEndpointConfig` per model, correct by construction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .rules import engines, hyperpod, naming
from .rules.spec import EndpointSpec


@dataclass
class InferenceEndpointArgs:
    spec: EndpointSpec
    region: Optional[str] = None
    # Required when spec.api_key: the key value (a Pulumi secret) and the Secret that holds it.
    api_key: Optional[pulumi.Input[str]] = None
    api_key_secret_name: Optional[str] = None


class InferenceEndpoint(pulumi.ComponentResource):
    """Outputs: `resource_name`, `served_model_name`, `namespace`, `port`, `invocation_path`."""

    resource_name: pulumi.Output[str]
    served_model_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    port: pulumi.Output[int]
    invocation_path: pulumi.Output[str]

    def __init__(self, name: str, args: InferenceEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("llm-serving:endpoints:InferenceEndpoint", name, None, opts)
        spec = args.spec
        if spec.api_key and args.api_key is None:
            raise ValueError(f"endpoint {spec.name!r}: apiKey is true but no key was passed to InferenceEndpointArgs.api_key")
        manifest = hyperpod.render(spec, args.region, args.api_key, args.api_key_secret_name)
        k8s_name = manifest["metadata"]["name"]
        if k8s_name != spec.name:
            pulumi.log.info(
                f"endpoint {spec.name!r} is named {k8s_name!r} in Kubernetes "
                f"(G1/G2: lowercase RFC 1123, at most {naming.HYPERPOD_NAME_BUDGET} characters)",
                resource=self,
            )
        self.endpoint_config = k8s.apiextensions.CustomResource(
            name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(
                parent=self,
                # G19: the operator cannot flip intelligent routing in place; replace instead of a
                # failed update. The name is fixed, so the old object must go first.
                replace_on_changes=list(hyperpod.IMMUTABLE_FIELDS),
                delete_before_replace=True,
            ),
        )
        self.resource_name = pulumi.Output.from_input(k8s_name)
        self.served_model_name = pulumi.Output.from_input(engines.served_model_name(spec.model))
        self.namespace = pulumi.Output.from_input(spec.namespace)
        self.port = pulumi.Output.from_input(hyperpod.port_of(spec))
        self.invocation_path = pulumi.Output.from_input("/" + spec.invocation_endpoint)
        self.register_outputs(
            {
                "resource_name": self.resource_name,
                "served_model_name": self.served_model_name,
                "namespace": self.namespace,
                "port": self.port,
                "invocation_path": self.invocation_path,
            }
        )
