"""Components under Pulumi mocks: what they declare, with which parents, options and outputs."""

from __future__ import annotations

import pulumi
import pytest

from components.api_key import EndpointApiKey, EndpointApiKeyArgs
from components.inference_endpoint import InferenceEndpoint, InferenceEndpointArgs
from components.rules.backends import hyperpod

from .pulumi_harness import run

IEC = "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig"


def by_type(mocks, type_):
    return [r for r in mocks.registrations if r.type_ == type_]


def test_endpoint_declares_one_v1_endpoint_config_equal_to_the_rendered_object(make_endpoint):
    spec = make_endpoint(name="Qwen3-4B-Instruct-2507-2026-01-06-04-30-58-238-sglang", engine="sglang")
    captured = {}

    def program():
        ep = InferenceEndpoint("ep", InferenceEndpointArgs(spec=spec, region="us-east-1"))
        captured["ep"] = ep

    mocks = run(program)
    (reg,) = by_type(mocks, IEC)
    expected = hyperpod.render(spec, "us-east-1")
    assert reg.inputs["spec"] == expected["spec"]
    assert reg.inputs["metadata"]["name"] == expected["metadata"]["name"]
    assert by_type(mocks, "llm-serving:endpoints:InferenceEndpoint")


def test_endpoint_outputs(make_endpoint):
    spec = make_endpoint(engine="sglang", namespace="inference")
    seen = {}

    def program():
        ep = InferenceEndpoint("ep", InferenceEndpointArgs(spec=spec))
        pulumi.Output.all(ep.resource_name, ep.served_model_name, ep.namespace, ep.port).apply(lambda v: seen.update(values=v))

    run(program)
    assert seen["values"] == ["qwen3-4b", "Qwen3-4B-Instruct-2507", "inference", 30000]


def test_g19_endpoint_config_is_replaced_not_updated_when_routing_flips(make_endpoint, monkeypatch):
    import components.inference_endpoint as module

    captured = []
    real = module.StatusCustomResource

    def spy(name, *args, **kwargs):
        captured.append(kwargs["opts"])
        return real(name, *args, **kwargs)

    monkeypatch.setattr(module, "StatusCustomResource", spy)
    run(lambda: InferenceEndpoint("ep", InferenceEndpointArgs(spec=make_endpoint())))
    (opts,) = captured
    assert opts.replace_on_changes == ["spec.intelligentRoutingSpec.enabled"]
    assert opts.delete_before_replace is True
    assert isinstance(opts.parent, InferenceEndpoint)


def test_api_key_required_when_the_spec_asks_for_one(make_endpoint):
    with pytest.raises(Exception, match="apiKey is true"):
        run(lambda: InferenceEndpoint("ep", InferenceEndpointArgs(spec=make_endpoint(apiKey=True))))


def test_g9_api_key_secret_in_both_namespaces_from_one_generated_value():
    def program():
        EndpointApiKey("key", EndpointApiKeyArgs(endpoint_name="ep", namespace="inference"))

    mocks = run(program)
    secrets = by_type(mocks, "kubernetes:core/v1:Secret")
    assert sorted(s.inputs["metadata"]["namespace"] for s in secrets) == ["hyperpod-inference-system", "inference"]
    values = {s.inputs["stringData"]["api-key"] for s in secrets}
    assert len(values) == 1 and all(s.secret for s in secrets)
    (password,) = by_type(mocks, "random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] == 48 and password.inputs["special"] is False


@pytest.mark.parametrize("backend", ["kubernetes", "kserve"])
def test_g8_backend_ingress_is_replaced_not_flipped_when_the_scheme_changes(make_endpoint, monkeypatch, backend):
    import components.backend_endpoints as module
    from components.backend_endpoints import endpoint
    from components.endpoint_common import InferenceEndpointArgs as BackendArgs
    from components.ingress import SCHEME_ANNOTATION

    captured = {}
    real = module.declare

    def spy(name, manifest, opts):
        captured[manifest["kind"]] = opts
        return real(name, manifest, opts)

    monkeypatch.setattr(module, "declare", spy)
    spec = make_endpoint(backend=backend, instanceType="g5.2xlarge", loadBalancer="alb", publicAlb=True, modelSource={"type": "huggingface", "modelId": "Qwen/Qwen3-4B-Instruct-2507"})
    run(lambda: endpoint("ep", BackendArgs(spec=spec)))
    assert captured["Ingress"].replace_on_changes == [SCHEME_ANNOTATION]
    assert captured["Ingress"].delete_before_replace is True
