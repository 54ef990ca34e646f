"""A new backend is one module and one line (docs/architecture.md, "Where a new backend goes"): a throwaway
backend, registered for this test only, is planned in the eks example stack like any other, with no change to the
config, the manifest checks, the components, the transform or the plan."""

from __future__ import annotations

from typing import Any

import pytest

from components.rules import manifests
from components.rules.backends import BACKENDS, engine_checks, reader
from components.rules.backends import container as engine_container
from components.rules.backends.base import Backend, LiveReference, RenderContext
from components.rules.endpoint import ResolvedEndpoint
from stacks import plan as plan_cmd
from tests.example_stacks import user_values

KIND = ("", "Pod")


def render(r: ResolvedEndpoint, context: RenderContext) -> list[dict[str, Any]]:
    """One bare Pod with the project's engine container: the least a backend can be."""
    main = engine_container.container(r, r.spec.model, [], context.api_key_secret)
    pod = {**engine_container.placement(r), "containers": [main], "volumes": [engine_container.shm_volume()]}
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": r.name, "namespace": r.namespace, "labels": r.labels},
            "spec": pod,
        }
    ]


def engine_views(obj: dict[str, Any]) -> list[engine_checks.EngineContainerView]:
    if (obj.get("apiVersion"), obj.get("kind")) != ("v1", "Pod"):
        return []
    spec = obj.get("spec") or {}
    return [
        engine_checks.container_view(c, f"spec.containers[{i}]", reader.instance_of(spec))
        for i, c in enumerate(spec.get("containers") or [])
    ]


def check(obj: dict[str, Any]) -> list:
    return [
        p
        for view in engine_views(obj)
        for p in engine_container.check_engine_container(reader.at(obj, view.path), view)
    ]


SCRATCH = Backend(
    name="scratch",
    title="Scratch",
    default_load_balancer="none",
    render=render,
    engine_views=engine_views,
    checkers={KIND: check},
    fixers={},
    live=LiveReference("", "v1", "pods", "Pod", lambda status: (None, None)),
)


@pytest.fixture
def scratch(monkeypatch):
    monkeypatch.setitem(BACKENDS, SCRATCH.name, SCRATCH)  # the one line, for this test only
    return SCRATCH


def test_a_backend_registered_in_one_line_is_planned_like_the_others(scratch, crd_dir):
    values = user_values("eks")
    key = f"{plan_cmd.project_name()}:endpoints"
    values[key] = [
        *values[key],
        {
            "name": "scratch-qwen",
            "backend": "scratch",
            "model": "Qwen/Qwen3-0.6B",
            "engine": "vllm",
            "instanceType": "g5.2xlarge",
            "modelSource": {"type": "huggingface"},
        },
    ]
    plan = plan_cmd.build_plan_from_values("eks", values, crd_dir=str(crd_dir))
    (pod,) = [o for o in plan.objects if o.kind == "Pod"]
    assert pod.manifest["metadata"]["name"] == "scratch-qwen"
    assert "Qwen/Qwen3-0.6B" in pod.manifest["spec"]["containers"][0]["args"]
    assert pod.problems == [] and manifests.check(pod.manifest) == []
    assert not plan.failed, [str(p) for o in plan.objects for p in o.problems]
    assert "llm-serving:endpoints:ScratchEndpoint" in {r.type_ for r in plan.resources}


def test_an_unregistered_backend_is_refused_by_the_config():
    values = user_values("eks")
    key = f"{plan_cmd.project_name()}:endpoints"
    values[key][0] = {**values[key][0], "backend": "scratch"}
    with pytest.raises(Exception, match=r"endpoints\[0\]\.backend = 'scratch': \[CONFIG\] not an allowed value"):
        plan_cmd.build_plan_from_values("eks", values)
