"""Every HyperPod incident a policy covers, with the incident's own values
(data/seed-mistakes.yaml), reported exactly once by every path: the CrossGuard pack, the pure
`evaluate`, `python -m stacks check`, and the offline plan of a stack that declares them by hand
with the guardrail transform switched off.

Not covered by a policy (not visible in declared resources): the playground's model name and the
console's private/public label (the client and database of the original backend), an Ingress deleted
and recreated to change its scheme (an action, prevented by declaring the scheme at creation,
G8/G19); the stale internal URL (G16) is covered in test_policy_cases with the incident's URL.
"""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from components.rules.policy_catalog import POLICIES
from components.rules.policy_eval import evaluate
from stacks import check as check_cmd
from stacks import plan as plan_cmd
from tests.policies.policy_builders import SEEDS, k8s, run_policy, seed_documents

# (incident, object name, policy, field): each exactly once, and nothing else.
EXPECTED = Counter(
    [
        (
            "key Secret in one namespace",
            "s01-api-key-router",
            "g09-api-key-reaches-router",
            "Secret s01-api-key-router-api-key",
        ),
        (
            "key Secret in one namespace",
            "s01-api-key-router",
            "s3-router-key-workaround",
            "spec.worker.environmentVariables[VLLM_API_KEY]",
        ),  # advisory, by design
        ("KV cache on SGLang", "s02-sglang-kv-cache", "g21-routing-and-kv-cache-need-vllm", "spec.kvCacheSpec"),
        (
            "64-character init container name",
            "qwen3-4b-instruct-2507-2026-01-06-04-30-58-238-sgla",
            "g01-name-length",
            "metadata.name",
        ),
        (
            "public ALB without routing",
            "llm-s04-public-no-routing",
            "g08-public-alb-needs-routing",
            "metadata.annotations.alb.ingress.kubernetes.io/scheme",
        ),
        ("SGLang DLC port", "s05-sglang-port", "g03-one-engine-port", "spec.worker.args[--port]"),
        (
            "1-second readiness timeout",
            "s06-readiness-timeout",
            "g04-probes-survive-model-load",
            "spec.worker.probes.readinessProbe.timeoutSeconds",
        ),
        ("no served model name", "s07-served-model-name", "g05-served-model-name", "spec.worker.args"),
        ("engine parameters not passed", "s10-params-not-passed", "g10-engine-parameters", "spec.worker.args"),
        (
            "secretKeyRef for the router",
            "s11-secret-key-ref",
            "g09-api-key-reaches-router",
            "spec.worker.environmentVariables[VLLM_API_KEY]",
        ),
        ("SGLang without metrics", "s12-sglang-no-metrics", "g06-sglang-metrics", "spec.worker.args"),
        (
            "surge rollout on one GPU",
            "s13-rollout-surge",
            "g04-probes-survive-model-load",
            "spec.strategy.rollingUpdate.maxSurge",
        ),
        ("no context limit", "s14-qwen3-vl-no-max-len", "g10-engine-parameters", "spec.worker.args"),
        (
            "L2 with prefetch and prefix caching",
            "s17-l2-prefetch-prefix",
            "g07-kv-cache",
            "spec.modelSourceConfig.prefetchEnabled",
        ),
        (
            "L2 with prefetch and prefix caching",
            "s17-l2-prefetch-prefix",
            "g07-kv-cache",
            "spec.worker.args[--enable-prefix-caching]",
        ),
        (
            "L2 with prefetch and prefix caching",
            "s17-l2-prefetch-prefix",
            "g07-l2-tieredstorage",
            "spec.kvCacheSpec.l2CacheSpec.l2CacheBackend",
        ),  # the tieredstorage warning, same object
        (
            "L2 on tieredstorage",
            "s18-l2-tieredstorage",
            "g07-l2-tieredstorage",
            "spec.kvCacheSpec.l2CacheSpec.l2CacheBackend",
        ),
        ("capitals in endpointName", "s19-endpoint-name-case", "g02-name-format", "spec.endpointName"),
    ]
)
ADVISORY = {"s3-router-key-workaround", "g07-l2-tieredstorage"}


def expected_without_incident() -> Counter:
    return Counter((name, policy, path) for _, name, policy, path in EXPECTED.elements())


def test_seed_file_holds_the_incidents_exact_values():
    docs = {d["metadata"]["name"]: d for d in seed_documents()}
    assert (
        len("prefetch-" + "qwen3-4b-instruct-2507-2026-01-06-04-30-58-238-sgla" + "-inf") == 64
    )  # 64-character init container name
    assert docs["s05-sglang-port"]["spec"]["worker"]["modelInvocationPort"]["containerPort"] == 8000  # SGLang DLC port
    assert "8080" in docs["s05-sglang-port"]["spec"]["worker"]["args"]
    assert (
        docs["s06-readiness-timeout"]["spec"]["worker"]["probes"]["readinessProbe"]["timeoutSeconds"] == 1
    )  # 1-second readiness timeout
    assert docs["s11-secret-key-ref"]["spec"]["worker"]["environmentVariables"][-1]["valueFrom"] == {
        "secretKeyRef": {"name": "endpoint-api-key", "key": "api-key"}
    }
    assert (
        docs["s17-l2-prefetch-prefix"]["spec"]["modelSourceConfig"]["prefetchEnabled"] is True
    )  # L2 with prefetch and prefix caching
    assert (
        docs["s19-endpoint-name-case"]["spec"]["endpointName"] == "Qwen3-4B-Instruct-2507-2026-01-13-01-12"
    )  # capitals in endpointName


def test_pack_reports_each_seed_mistake_once():
    resources = [k8s(d) for d in seed_documents()]
    found: Counter = Counter()
    for policy in POLICIES:
        for message, _ in run_policy(policy.name, resources):
            name = message.split(": ", 1)[0].split(" ", 1)[1].split("/")[-1]
            path = message.split(": ", 1)[1].split(" = ", 1)[0]
            found[(name, policy.name, path)] += 1
    assert found == expected_without_incident()


def test_evaluate_reports_each_seed_mistake_once_with_its_level():
    violations = evaluate(k8s(d) for d in seed_documents())
    found = Counter((v.resource.manifest["metadata"]["name"], v.policy, v.problem.path) for v in violations)
    assert found == expected_without_incident()
    assert {v.policy for v in violations if not v.mandatory} == ADVISORY


def test_stacks_check_reports_each_seed_mistake_once_and_fails():
    out = io.StringIO()
    assert check_cmd.main([str(SEEDS)], out=out) == 1
    lines = out.getvalue().splitlines()
    mandatory = sum(n for (_, _, policy, _), n in EXPECTED.items() if policy not in ADVISORY)
    assert sum(" mandatory g" in line for line in lines) == mandatory
    assert lines[-1].startswith(
        f"{len(seed_documents())} document(s): {mandatory} mandatory and {sum(EXPECTED.values()) - mandatory} advisory"
    )
    assert (
        f"{SEEDS}:4: InferenceEndpointConfig default/qwen3-4b-instruct-2507-2026-01-06-04-30-58-238-sgla: mandatory g01-name-length: metadata.name"
        in out.getvalue()
    )
    assert "Traceback" not in out.getvalue()


def test_stacks_check_json_report():
    out = io.StringIO()
    assert check_cmd.main([str(SEEDS)], as_json=True, out=out) == 1
    report = json.loads(out.getvalue())
    found = Counter((d["name"], v["policy"], v["path"]) for d in report["documents"] for v in d["violations"])
    assert found == expected_without_incident()
    assert report["exitCode"] == 1 and report["summary"]["unchecked"] == 0
    statuses = {d["name"]: d["status"] for d in report["documents"]}
    assert statuses["s18-l2-tieredstorage"] == "passed"  # advisory only
    assert statuses["s19-endpoint-name-case"] == "failed"


# ---------------------------------------------------------------- the offline plan

HAND_DECLARED = """
import pulumi_kubernetes as k8s
import yaml
from stacks.program import main

main()
for i, doc in enumerate(yaml.safe_load_all(open({seeds!r}))):
    if not doc:
        continue
    name, kind, meta = f"seed-{{i}}", doc["kind"], doc["metadata"]
    if kind == "Secret":
        k8s.core.v1.Secret(name, metadata=meta, string_data=doc["stringData"])
    elif kind == "Ingress":
        k8s.networking.v1.Ingress(name, metadata=meta, spec=doc["spec"])
    elif kind == "Deployment":
        k8s.apps.v1.Deployment(name, metadata=meta, spec=doc["spec"])
    else:
        k8s.apiextensions.CustomResource(name, api_version=doc["apiVersion"], kind=kind, metadata=meta, spec=doc["spec"])
"""


@pytest.fixture(scope="module")
def seed_project(tmp_path_factory) -> Path:
    """The dev stack plus every seed object declared by hand, guardrail transform off."""
    project = tmp_path_factory.mktemp("seed-stack")
    root = Path(plan_cmd.__file__).resolve().parent.parent
    shutil.copy(root / "Pulumi.yaml", project / "Pulumi.yaml")
    stack = yaml.safe_load((root / "Pulumi.dev.yaml").read_text())
    stack["config"]["llm-serving:guardrailTransforms"] = False
    # A dev stack name (S4's devStacks): the dev config keeps its EKS API endpoint public.
    (project / "Pulumi.dev-seeds.yaml").write_text(yaml.safe_dump(stack))
    (project / "__main__.py").write_text(HAND_DECLARED.format(seeds=str(SEEDS)))
    return project


def test_plan_reports_each_seed_mistake_once_and_nothing_mandatory_of_the_dev_stack(seed_project):
    plan = plan_cmd.build_plan("dev-seeds", seed_project)
    seeds = [o for o in plan.objects if o.registration.name.startswith("seed-")]
    assert len(seeds) == len(seed_documents())
    # The seeds are declared by hand with no depends_on, so the ordering rules (O*) also place them
    # before the operator, the controller or the device plugin they need, and (O6) would outlive the
    # ingress drain guard on destroy; that is the graph, not the incident, so it is counted apart.
    found = Counter((o.name, p.path) for o in seeds for p in o.problems if not p.rule.startswith("O"))
    assert found == Counter((name, path) for name, _, path in expected_without_incident().elements())
    assert {p.rule for o in seeds for p in o.problems if p.rule.startswith("O")} <= {"O1", "O3", "O4", "O6"}
    assert plan.failed
    others = [p for o in plan.objects if not o.registration.name.startswith("seed-") for p in o.errors]
    assert others == [] and not any(v.mandatory for v in plan.other_violations)


def test_plan_cli_exits_1_on_mandatory_and_prints_advisory_as_warning(seed_project, tmp_path):
    from rich.console import Console

    console = Console(record=True, width=400)
    assert plan_cmd.run("dev-seeds", str(tmp_path / "out"), None, "1.33", False, console, seed_project) == 1
    text = console.export_text()
    assert (
        "error InferenceEndpointConfig/s19-endpoint-name-case: spec.endpointName = 'Qwen3-4B-Instruct-2507-2026-01-13-01-12': [G2]"
        in text
    )
    assert (
        "warning InferenceEndpointConfig/s18-l2-tieredstorage: spec.kvCacheSpec.l2CacheSpec.l2CacheBackend = 'tieredstorage': [G7]"
        in text
    )
    assert "Plan failed" in text
