"""The Pulumi program: typed config -> components -> outputs. `__main__.py` only calls `main()`."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import transforms
from components.api_key import EndpointApiKey, EndpointApiKeyArgs
from components.inference_endpoint import InferenceEndpoint, InferenceEndpointArgs
from components.rules import ConfigError, hyperpod

from . import config as stack_config

SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", hyperpod.OPERATOR_NAMESPACE}


def load_config() -> stack_config.StackConfig:
    try:
        return stack_config.load_from_pulumi()
    except ConfigError as exc:
        for problem in exc.problems:
            pulumi.log.error(str(problem))
        raise pulumi.RunError(f"{len(exc.problems)} problem(s) in the stack config; nothing was declared") from None


def main() -> None:
    cfg = load_config()
    for warning in cfg.warnings:
        pulumi.log.warn(str(warning))
    if cfg.guardrail_transforms:
        transforms.register()

    kubeconfig = pulumi.Config().get_secret("kubeconfig")
    provider = k8s.Provider("k8s", kubeconfig=kubeconfig, enable_server_side_apply=True)
    k8s_opts = pulumi.ResourceOptions(provider=provider)

    namespaces = {
        ns: k8s.core.v1.Namespace(f"ns-{ns}", metadata={"name": ns}, opts=k8s_opts)
        for ns in sorted({ep.namespace for ep in cfg.endpoints} - SYSTEM_NAMESPACES)
    }

    outputs = {}
    for spec in cfg.endpoints:
        name = hyperpod.resource_name(spec)
        deps = [namespaces[spec.namespace]] if spec.namespace in namespaces else []
        opts = pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=deps)
        key = None
        if spec.api_key:
            key = EndpointApiKey(f"{name}-api-key", EndpointApiKeyArgs(endpoint_name=name, namespace=spec.namespace), opts=opts)
        endpoint = InferenceEndpoint(
            name,
            InferenceEndpointArgs(
                spec=spec,
                region=cfg.region,
                api_key=key.value if key else None,
                api_key_secret_name=f"{name}-api-key" if key else None,
            ),
            opts=opts,
        )
        outputs[name] = {
            "resourceName": endpoint.resource_name,
            "servedModelName": endpoint.served_model_name,
            "namespace": endpoint.namespace,
            "port": endpoint.port,
            "apiKeySecret": key.secret_name if key else None,
        }
    pulumi.export("endpoints", outputs)
