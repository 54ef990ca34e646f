"""Backends through the real program under mocks: Pulumi.eks.yaml passes the offline plan, every
child is parented to its component and waits for the dependencies it was given, outputs have one
shape whatever the backend, and `state` comes from each object's status."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks import plan as plan_cmd
from stacks.__main__ import main as cli
from tests.clusters.helpers import resolve, run_stack
from tests.example_stacks import user_plan, user_project, user_values

OUTPUT_KEYS = {
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


@pytest.fixture(scope="module")
def eks_run():
    return run_stack(user_values("eks"), stack="eks")


def test_eks_example_stack_passes_the_offline_plan(tmp_path):
    (tmp_path / "project").mkdir()
    project = user_project(tmp_path / "project", "eks")
    assert cli(["plan", "--stack", "eks", "--project-dir", str(project), "--out", str(tmp_path / "out")]) == 0
    plan = user_plan("eks")
    assert not plan.failed
    kinds = {(o.manifest["apiVersion"], o.kind) for o in plan.objects}
    assert {
        ("apps/v1", "Deployment"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("ome.io/v1beta1", "InferenceService"),
        ("ome.io/v1beta1", "ClusterServingRuntime"),
        ("ome.io/v1beta1", "BenchmarkJob"),
        ("serving.kserve.io/v1beta1", "InferenceService"),
    } <= kinds
    # Every backend's objects went through the policy checks (rules exist for them).
    checked = {o.kind for o in plan.objects if plan_cmd.manifests.has_rules(o.manifest)}
    assert {"Deployment", "InferenceService", "ClusterServingRuntime", "BenchmarkJob", "Service"} <= checked


def test_eks_example_stack_objects_pass_their_schemas(crd_dir):
    plan = user_plan("eks", crd_dir=str(crd_dir))
    assert all(o.schema.status == "passed" for o in plan.objects), [
        (o.kind, o.schema) for o in plan.objects if o.schema.status != "passed"
    ]


def test_outputs_have_the_same_shape_for_every_backend(eks_run):
    _, _, outputs = eks_run
    endpoints, _ = resolve(outputs["endpoints"])
    assert {e["backend"] for e in endpoints.values()} == {"kubernetes", "ome", "kserve"}
    for name, out in endpoints.items():
        assert set(out) == OUTPUT_KEYS, name
    kube = endpoints["qwen3-4b-vllm"]
    # G16: from the Ingress status; https: the eks stack's public keyed ALB has a certificate (S2).
    assert kube["url"].startswith("https://k8s-") and kube["url"].endswith("/v1/chat/completions")
    assert kube["apiKeySecret"] == "qwen3-4b-vllm-api-key" and "$API_KEY" in kube["curl"]
    assert (
        endpoints["qwen3-0-6b-vllm-kserve"]["url"]
        == "http://qwen3-0-6b-vllm-kserve-gateway.inference.svc.cluster.local/v1/chat/completions"
    )
    assert endpoints["qwen3-0-6b-sglang-ome"]["servedModelName"] == "Qwen3-0.6B"
    assert all(out["state"] is None for out in endpoints.values())  # no status under the mocks yet


def test_every_endpoint_output_says_where_its_url_comes_from(eks_run):
    _, _, outputs = eks_run
    endpoints, _ = resolve(outputs["endpoints"])
    labels = {name: (out["urlKind"], out["urlSource"]) for name, out in endpoints.items()}
    assert labels["qwen3-4b-vllm"] == ("alb", "Ingress inference/llm-qwen3-4b-vllm")
    assert labels["qwen3-0-6b-vllm-kserve"] == ("service", "Service inference/qwen3-0-6b-vllm-kserve-gateway")
    assert labels["qwen3-0-6b-sglang-ome"] == ("service", "InferenceService inference/qwen3-0-6b-sglang-ome")


def test_internal_hyperpod_endpoint_uses_the_operators_alb_and_no_second_one():
    # dev: the SGLang endpoint is internal (no publicAlb); the public llama-3-1-8b-vllm keeps the stack's ALB.
    plan, seen, outputs = run_stack(user_values("dev"), stack="dev")
    endpoints, _ = resolve(outputs["endpoints"])
    internal = endpoints["qwen3-4b-instruct-2507-2026-01-06-04-30-7703e9c3ae"]
    assert (internal["url"], internal["urlKind"], internal["urlSource"]) == (
        None,
        "operator-alb",
        "Ingress hyperpod-inference-system/alb-qwen3-4b-instruct-2507-2026-01-06-04-30-7703e9c3ae-default",
    )
    assert internal["invocationPath"] == "/v1/chat/completions"  # what `stacks status` appends to the live hostname
    public = [out for out in endpoints.values() if out["urlKind"] == "alb"]
    assert len(public) == 1 and public[0]["urlSource"] == "Ingress hyperpod-inference-system/llm-llama-3-1-8b-vllm"
    ingresses = [name for name, reg in seen.items() if reg.type_ == "kubernetes:networking.k8s.io/v1:Ingress"]
    assert ingresses == ["inference/llama-3-1-8b-vllm-ingress"]
    # The public ALB's router Service is found in the cluster before its Ingress, which forwards to what was found
    # (under mocks: the configured name, and 8080 for the unset routerPort).
    (check,) = [reg for name, reg in seen.items() if name.endswith("-ingress-router-check")]
    assert check.type_ == "pulumi-python:dynamic:Resource" and check.urn in seen[ingresses[0]].dependencies
    (lookup,) = [r for r in plan.resources if r.name == check.name]
    assert {
        k: lookup.inputs.get(k)
        for k in ("endpointName", "endpointNamespace", "routerService", "routerPort", "maxDeploySeconds")
    } == {
        "endpointName": "llama-3-1-8b-vllm",
        "endpointNamespace": "inference",
        "routerService": "llama-3-1-8b-vllm-router",
        "routerPort": None,
        "maxDeploySeconds": 3600,
    }
    (ingress,) = [o.manifest for o in plan.objects if o.kind == "Ingress"]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "llama-3-1-8b-vllm-router",
        "port": {"number": 8080},
    }


def test_children_are_parented_and_wait_for_the_namespace_and_controllers(eks_run):
    plan, seen, _ = eks_run
    # Pulumi names are <namespace>/<name> (G2: one endpoint name may be used in two namespaces).
    components = {
        "inference/qwen3-4b-vllm": "KubernetesEndpoint",
        "inference/qwen3-0-6b-sglang-ome": "OmeEndpoint",
        "inference/qwen3-0-6b-vllm-kserve": "KServeEndpoint",
    }
    for name, component in components.items():
        parent = seen[name].parent
        assert f"llm-serving:endpoints:{component}::{name}" in parent, (name, parent)
        children = [r for r in seen.values() if r.parent == parent]
        assert len(children) >= 2
        for child in children:
            assert any(d.endswith("::ns-inference") for d in child.dependencies), child.name
            assert any(d.endswith("::platform-load-balancer-controller") for d in child.dependencies), child.name
    # The Deployment waits for its weights claim and its API key Secret.
    deps = seen["inference/qwen3-4b-vllm"].dependencies
    assert any(d.endswith("::inference/qwen3-4b-vllm-persistentvolumeclaim") for d in deps)
    assert any(d.endswith("::inference/qwen3-4b-vllm-api-key-inference") for d in deps)  # the key Secret itself
    # Only the endpoint namespace holds the key outside HyperPod (no router to copy it to).
    # The tenant gateway's Secrets (tenant keys, Redis auth, its copies of endpoint keys) are its own.
    secrets = [
        r
        for r in plan.resources
        if r.type_ == "kubernetes:core/v1:Secret"
        and r.inputs["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != "llm-gateway"
    ]
    assert [s.inputs["metadata"]["namespace"] for s in secrets] == ["inference"]


def test_program_has_no_transformations_hook():
    source = (Path(plan_cmd.PROJECT_DIR) / "stacks" / "program.py").read_text()
    assert "transformations" not in source and "children_depend_on" not in source
