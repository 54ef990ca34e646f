"""Golden files: what the project produces today, stored, so a restructure can prove it changed nothing.

Three views: the offline plan of every example stack (every resource, every Kubernetes object as
written, every finding and change-log line), the objects every backend renders for a fixed set of
endpoints, and every policy finding on the seed incident cases. A deliberate change of behaviour
regenerates them with `LLM_SERVING_UPDATE_GOLDEN=1 python -m pytest tests/golden` and names the
change in its commit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.rules.backends import BACKENDS as REGISTERED
from components.rules.backends import render as render_backend
from components.rules.policy_eval import evaluate
from components.rules.resources import from_manifest
from components.rules.spec import EndpointSpec, IngressSpec
from stacks import plan as plan_cmd
from stacks.yamlio import load_all_file
from tests.example_stacks import user_plan

DATA = Path(__file__).parent / "data"
ROOT = Path(plan_cmd.__file__).resolve().parent.parent
UPDATE = os.environ.get("LLM_SERVING_UPDATE_GOLDEN") == "1"
EXAMPLE_STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def dump(docs: list[Any]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False, width=200, allow_unicode=True)


def compare(name: str, text: str) -> None:
    path = DATA / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run LLM_SERVING_UPDATE_GOLDEN=1 python -m pytest tests/golden"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        first = next(
            i for i, (a, b) in enumerate(zip(text.splitlines() + [""], expected.splitlines() + [""])) if a != b
        )
        got, want = (text.splitlines() + [""])[first], (expected.splitlines() + [""])[first]
        pytest.fail(f"{name} differs from the stored output at line {first + 1}:\n  stored: {want}\n  now:    {got}")


# ---------------------------------------------------------------- the offline plan


def plan_view(stack: str) -> str:
    plan = user_plan(
        stack
    )  # the values a user sets (SET THIS) filled in; schema results are not part of the view: they depend on the machine
    resources = [f"{r.type_} {r.name}" for r in plan.resources]
    objects = [plan_cmd.redact(o.manifest) for o in plan.objects]
    findings = [f"{o.kind}/{o.name}: {p}" for o in plan.objects for p in o.problems]
    findings += [f"{v.resource.label}: {v.reported}" for v in plan.other_violations]
    # Sorted: the order of the program's log lines varies between runs (registrations resolve concurrently).
    logs = sorted(f"{level} {message}" for level, message in plan.logs if level != "debug")
    return dump([{"resources": resources, "findings": findings, "logs": logs}, *objects])


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_offline_plan_of_every_example_stack_is_unchanged(stack):
    compare(f"plan-{stack}.yaml", plan_view(stack))


# ---------------------------------------------------------------- every backend's objects

ENDPOINTS: dict[str, dict[str, Any]] = {
    "vllm-s3": {
        "name": "Qwen3_4B",
        "model": "Qwen/Qwen3-4B-Instruct-2507",
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "namespace": "team-a",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-4b/"},
        "apiKey": True,
        "engineArgs": {"maxNumSeqs": 64},
    },
    "sglang-hf": {
        "name": "llama-sglang",
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "engine": "sglang",
        "instanceType": "g6e.2xlarge",
        "modelSource": {"type": "huggingface", "tokenSecret": {"name": "hf-token", "key": "token"}},
        "replicas": 2,
    },
    "vllm-t4-autoscaled": {
        "name": "small",
        "model": "Qwen/Qwen3-0.6B",
        "engine": "vllm",
        "instanceType": "g4dn.xlarge",
        "publicAlb": True,
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "q/"},
        "autoscaling": {"minReplicas": 1, "maxReplicas": 3},
    },
}
HYPERPOD_ONLY = {"intelligentRouting": True, "routingStrategy": "prefixaware", "kvCache": {"l1": True}}


def spec(name: str, backend: str) -> EndpointSpec:
    raw = {**ENDPOINTS[name], "backend": backend}
    if backend == "ome":
        raw["loadBalancer"] = "none"
        raw.pop("publicAlb", None)
    if backend == "hyperpod" and name == "vllm-s3":
        raw.update(HYPERPOD_ONLY)
    return EndpointSpec.model_validate(raw)


def rendered(name: str, backend: str) -> list[dict[str, Any]]:
    """One call for every backend: the registry's render with the same context (each backend reads what it needs)."""
    s = spec(name, backend)
    return render_backend(
        s,
        region="us-east-1",
        ingress=IngressSpec(),
        api_key="<api-key>" if s.api_key else None,
        alb_tags={"llm-serving/stack": "golden"},
    )


@pytest.mark.parametrize("backend", list(REGISTERED))
def test_every_backend_renders_the_same_objects(backend):
    docs: list[Any] = []
    for name in ENDPOINTS:
        docs.append({"endpoint": name})
        docs += rendered(name, backend)
    compare(f"render-{backend}.yaml", dump(docs))


# ---------------------------------------------------------------- policy findings on the incidents


def test_policy_findings_on_the_seed_incidents_are_unchanged():
    seeds = [d for d in load_all_file(ROOT / "tests" / "policies" / "data" / "seed-mistakes.yaml") if d]
    resources = [from_manifest(d) for d in seeds]
    lines = sorted(f"{v.level} {v.policy}: {v.message}" for v in evaluate(resources, None))
    compare("policy-seed-findings.txt", "\n".join(lines) + "\n")
