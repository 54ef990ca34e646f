"""Components under Pulumi mocks: what they declare, with which parents, options and outputs."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import endpoints
from components.endpoints import (
    COMPONENTS,
    EndpointApiKey,
    EndpointApiKeyArgs,
    EndpointArgs,
    HyperPodEndpoint,
    KServeEndpoint,
    KubernetesEndpoint,
)
from components.endpoints.objects import SCHEME_ANNOTATION
from tests.stack.pulumi_harness import resolve, run, run_recording

IEC = "kubernetes:inference.sagemaker.aws.amazon.com/v1:InferenceEndpointConfig"
HYPERPOD_TYPE = "llm-serving:endpoints:InferenceEndpoint"
KEY_TYPE = "llm-serving:endpoints:EndpointApiKey"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"


def by_type(mocks, type_):
    return [r for r in mocks.registrations if r.type_ == type_]


def test_endpoint_declares_one_v1_endpoint_config_with_the_incident_name_shortened(make_endpoint):
    """The name that broke the operator's init container (G1): shortened with a hash so `prefetch-{name}-inf` fits 63 characters;
    sglang's one port (G3) everywhere the object names a port."""
    spec = make_endpoint(name="Qwen3-4B-Instruct-2507-2026-01-06-04-30-58-238-sglang", engine="sglang")
    mocks = run(lambda: HyperPodEndpoint("ep", EndpointArgs(spec=spec, region="us-east-1")))
    (reg,) = by_type(mocks, IEC)
    assert reg.inputs["apiVersion"] == "inference.sagemaker.aws.amazon.com/v1"
    name = "qwen3-4b-instruct-2507-2026-01-06-04-30-7703e9c3ae"
    assert reg.inputs["metadata"]["name"] == name and reg.inputs["spec"]["endpointName"] == name
    assert len(f"prefetch-{name}-inf") == 63
    body = reg.inputs["spec"]
    assert (body["modelName"], body["instanceType"], body["replicas"]) == ("Qwen3-4B-Instruct-2507", "ml.g5.8xlarge", 1)
    assert body["modelSourceConfig"]["s3Storage"] == {"bucketName": "my-models", "region": "us-east-1"}
    assert body["metrics"]["modelMetrics"] == {"port": 30000, "path": "/metrics"}
    assert body["loadBalancer"]["healthCheckPath"] == "/health"
    worker = body["worker"]
    assert worker["image"] == "lmsysorg/sglang:v0.5.19-cu129"
    assert worker["modelInvocationPort"] == {"containerPort": 30000, "name": "http"}
    assert worker["args"][worker["args"].index("--port") + 1] == "30000"
    assert worker["args"][worker["args"].index("--served-model-name") + 1] == "Qwen3-4B-Instruct-2507"
    assert len(by_type(mocks, HYPERPOD_TYPE)) == 1


def test_endpoint_outputs(make_endpoint):
    spec = make_endpoint(engine="sglang", namespace="inference")
    seen = {}

    def program():
        ep = HyperPodEndpoint("ep", EndpointArgs(spec=spec))
        pulumi.Output.all(ep.resource_name, ep.served_model_name, ep.namespace, ep.port, ep.backend).apply(
            lambda v: seen.update(values=v)
        )
        seen["outputs"] = ep.outputs
        seen["key"] = ep.api_key

    run(program)
    assert seen["values"] == ["qwen3-4b", "Qwen3-4B-Instruct-2507", "inference", 30000, "hyperpod"]
    assert set(seen["outputs"]) == {
        "url",
        "urlKind",
        "urlSource",
        "servedModelName",
        "namespace",
        "resourceName",
        "port",
        "invocationPath",
        "apiKeySecret",
        "backend",
        "state",
        "stateDetail",
        "curl",
    }
    assert seen["outputs"]["backend"] == "hyperpod" and seen["outputs"]["apiKeySecret"] is None and seen["key"] is None


def test_g19_endpoint_config_is_replaced_not_updated_when_routing_flips(make_endpoint, monkeypatch):
    import components.endpoints.hyperpod as module

    captured = []
    real = module.StatusCustomResource

    def spy(name, *args, **kwargs):
        captured.append(kwargs["opts"])
        return real(name, *args, **kwargs)

    monkeypatch.setattr(module, "StatusCustomResource", spy)
    run(lambda: HyperPodEndpoint("ep", EndpointArgs(spec=make_endpoint())))
    (opts,) = captured
    assert opts.replace_on_changes == ["spec.intelligentRoutingSpec.enabled"]
    assert opts.delete_before_replace is True
    assert isinstance(opts.parent, HyperPodEndpoint)


def test_g9_hyperpod_endpoint_owns_its_key_in_its_namespace_and_the_routers(make_endpoint):
    spec = make_endpoint(apiKey=True, namespace="team-a", intelligentRouting=True)
    seen = {}

    def program():
        seen["ep"] = HyperPodEndpoint("team-a/ep", EndpointArgs(spec=spec, region="us-east-1"))

    mocks, requests = run_recording(program)
    secrets = by_type(mocks, "kubernetes:core/v1:Secret")
    assert sorted(s.inputs["metadata"]["namespace"] for s in secrets) == ["hyperpod-inference-system", "team-a"]
    assert {s.inputs["metadata"]["name"] for s in secrets} == {"qwen3-4b-api-key"}
    assert requests[(KEY_TYPE, "team-a/ep-api-key")].parent.endswith(f"{HYPERPOD_TYPE}::team-a/ep")
    # The router gets the same value the Secrets hold (G9: the operator copies no secretKeyRef).
    (cr,) = by_type(mocks, IEC)
    env = {e["name"]: e for e in cr.inputs["spec"]["worker"]["environmentVariables"]}
    assert env["VLLM_API_KEY"]["value"] == secrets[0].inputs["stringData"]["api-key"]
    assert resolve(seen["ep"].api_key_secret) == "qwen3-4b-api-key"


def test_g8_hyperpod_endpoint_owns_its_router_ingress_after_the_controller_and_the_config(make_endpoint):
    spec = make_endpoint(intelligentRouting=True, publicAlb=True)

    def program():
        controller = k8s.core.v1.Namespace("lbc")  # stands in for the load balancer controller
        HyperPodEndpoint("default/ep", EndpointArgs(spec=spec, ingress_ready=[controller]))

    mocks, requests = run_recording(program)
    (ingress,) = by_type(mocks, INGRESS)
    assert ingress.inputs["metadata"]["namespace"] == "hyperpod-inference-system"
    assert ingress.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert requests[("llm-serving:endpoints:EndpointIngress", "default/ep-ingress")].parent.endswith(
        f"{HYPERPOD_TYPE}::default/ep"
    )
    deps = list(requests[(INGRESS, "default/ep-ingress")].dependencies)
    assert any(d.endswith("::lbc") for d in deps) and any(d.endswith(f"{IEC}::default/ep") for d in deps)


def test_children_moved_under_the_component_alias_their_top_level_urns(make_endpoint):
    # The key and the router Ingress were declared at the stack's top level before the component
    # owned them: without these aliases every existing stack would replace them.
    spec = make_endpoint(
        apiKey=True, intelligentRouting=True, publicAlb=True
    )  # only a public endpoint has the stack's Ingress
    _, requests = run_recording(lambda: HyperPodEndpoint("default/ep", EndpointArgs(spec=spec, previous_name="ep")))

    def specs(type_, name):
        return [(a.spec.name, a.spec.noParent) for a in requests[(type_, name)].aliases if a.HasField("spec")]

    assert specs(HYPERPOD_TYPE, "default/ep") == [("ep", False)]
    assert specs(KEY_TYPE, "default/ep-api-key") == [("", True), ("ep-api-key", True)]
    assert specs("llm-serving:endpoints:EndpointIngress", "default/ep-ingress") == [("", True), ("ep-ingress", True)]


def test_component_given_another_backends_spec_raises_input_property_error_naming_the_path(make_endpoint):
    spec = make_endpoint(backend="kubernetes", instanceType="g5.2xlarge")
    with pytest.raises(pulumi.InputPropertyError) as info:
        run(lambda: HyperPodEndpoint("ep", EndpointArgs(spec=spec)))
    assert info.value.property_path == "spec.backend"
    assert "'kubernetes'" in info.value.reason and "component_for" in info.value.reason


def test_component_given_a_dict_spec_raises_input_property_error():
    with pytest.raises(pulumi.InputPropertyError) as info:
        run(lambda: KubernetesEndpoint("ep", EndpointArgs(spec={"name": "qwen3-4b"})))  # type: ignore[arg-type]
    assert info.value.property_path == "spec" and "got dict" in info.value.reason


def test_several_bad_inputs_raise_input_properties_error_with_every_path(make_endpoint):
    spec = make_endpoint(backend="ome", instanceType="g5.2xlarge", loadBalancer="none")
    with pytest.raises(pulumi.InputPropertiesError) as info:
        run(
            lambda: KServeEndpoint(
                "ep", EndpointArgs(spec=spec, depends_on=["ns-inference"], ingress_ready=[pulumi.Output.from_input(1)])
            )
        )  # type: ignore[list-item]
    assert [e["property_path"] for e in info.value.errors] == ["spec.backend", "depends_on[0]", "ingress_ready[0]"]
    assert "got str" in info.value.errors[1]["reason"] and "got Output" in info.value.errors[2]["reason"]


def test_every_backend_has_one_component_with_its_own_pulumi_type():
    assert {b: (c.__name__, c.TYPE) for b, c in COMPONENTS.items()} == {
        "hyperpod": ("HyperPodEndpoint", "llm-serving:endpoints:InferenceEndpoint"),
        "kubernetes": ("KubernetesEndpoint", "llm-serving:endpoints:KubernetesEndpoint"),
        "ome": ("OmeEndpoint", "llm-serving:endpoints:OmeEndpoint"),
        "kserve": ("KServeEndpoint", "llm-serving:endpoints:KServeEndpoint"),
        "llmisvc": ("LlmisvcEndpoint", "llm-serving:endpoints:LlmisvcEndpoint"),
    }
    assert COMPONENTS["ome"].KEY_NAMESPACES == () and HyperPodEndpoint.KEY_NAMESPACES == ("hyperpod-inference-system",)


def test_endpoint_args_are_documented_field_by_field():
    # As pulumi-eks documents its args: every field is followed by its own docstring.
    source = inspect.getsource(endpoints.base)
    (cls,) = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "EndpointArgs"]
    body = cls.body[1:]  # after the class docstring
    undocumented = [
        stmt.target.id
        for stmt, nxt in zip(body, body[1:] + [None])
        if isinstance(stmt, ast.AnnAssign)
        and not (isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str))
    ]
    fields = [s.target.id for s in body if isinstance(s, ast.AnnAssign)]
    assert undocumented == [] and fields == [
        "spec",
        "region",
        "provider",
        "depends_on",
        "operator_ready",
        "ingress_ready",
        "ingress",
        "kubeconfig",
        "tags",
        "capacity_contract",
        "model_facts",
        "previous_name",
    ]


def test_program_declares_endpoints_without_backend_branches():
    source = (Path(endpoints.__file__).parent.parent.parent / "stacks" / "program.py").read_text()
    (func,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "declare_endpoints"]
    text = ast.unparse(func)
    for backend in COMPONENTS:
        assert repr(backend) not in text and f'"{backend}"' not in text, backend
    assert "hyperpod_backend" not in text and "Ingress" not in text


def test_g9_api_key_secret_in_every_namespace_from_one_generated_value():
    def program():
        EndpointApiKey(
            "key",
            EndpointApiKeyArgs(
                secret_name="ep-api-key", namespace="inference", namespaces=["hyperpod-inference-system"]
            ),
        )

    mocks = run(program)
    secrets = by_type(mocks, "kubernetes:core/v1:Secret")
    assert sorted(s.inputs["metadata"]["namespace"] for s in secrets) == ["hyperpod-inference-system", "inference"]
    values = {s.inputs["stringData"]["api-key"] for s in secrets}
    assert len(values) == 1 and all(s.secret for s in secrets)
    (password,) = by_type(mocks, "random:index/randomPassword:RandomPassword")
    assert password.inputs["length"] == 48 and password.inputs["special"] is False


@pytest.mark.parametrize("backend", ["kubernetes", "kserve"])
def test_g8_backend_ingress_is_replaced_not_flipped_when_the_scheme_changes(make_endpoint, monkeypatch, backend):
    import components.endpoints.objects as module

    captured = {}
    real = module.declare

    def spy(name, manifest, opts):
        captured[manifest["kind"]] = opts
        return real(name, manifest, opts)

    monkeypatch.setattr(module, "declare", spy)
    spec = make_endpoint(
        backend=backend,
        instanceType="g5.2xlarge",
        loadBalancer="alb",
        publicAlb=True,
        modelSource={"type": "huggingface", "modelId": "Qwen/Qwen3-4B-Instruct-2507"},
    )
    run(lambda: endpoints.component_for(spec)("ep", EndpointArgs(spec=spec)))
    assert captured["Ingress"].replace_on_changes == [SCHEME_ANNOTATION]
    assert captured["Ingress"].delete_before_replace is True
