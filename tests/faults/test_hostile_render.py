"""Hostile configs against what the stack renders: names that collide across
namespaces, engine flags in spellings that slip past a literal comparison, and secrets in plain env."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import pytest

from components.rules import manifests
from components.rules.backends import hyperpod
from components.rules.spec import EndpointSpec
from components.rules.validate import validate_endpoint, validate_endpoints
from stacks import plan as plan_cmd
from stacks import plan_program
from tests.example_stacks import user_values

ENDPOINT = {
    "name": "llama",
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "engine": "vllm",
    "instanceType": "ml.g5.12xlarge",  # 4 GPUs
    "modelSource": {"type": "s3", "bucket": "my-models", "region": "us-east-1", "path": "llama/"},
}


def spec(**overrides) -> EndpointSpec:
    return EndpointSpec.model_validate({**ENDPOINT, **overrides})


# ---------------------------------------------------------------- names unique across the stack


def _eks_values(endpoints: list[dict]) -> dict:
    values = user_values("eks")
    values["llm-serving:endpoints"] = endpoints
    values.pop("llm-serving:gateway", None)  # its tenants name the example's endpoints, replaced here (T2)
    return values


KUBERNETES_LLAMA = {
    "name": "llama",
    "model": "Qwen/Qwen3-4B-Instruct-2507",
    "engine": "vllm",
    "instanceType": "g5.2xlarge",
    "modelSource": {
        "type": "s3",
        "bucket": "my-models",
        "region": "us-east-1",
        "path": "qwen3-4b/",
    },  # a cluster-wide PV
    "loadBalancer": "alb",
    "apiKey": True,
    "engineArgs": {"maxModelLen": 8192},
}
OME = {
    "backend": "ome",
    "model": "Qwen/Qwen3-0.6B",
    "engine": "sglang",
    "instanceType": "g5.2xlarge",
    "modelSource": {"type": "huggingface", "modelId": "Qwen/Qwen3-0.6B"},
    "loadBalancer": "none",
    "engineArgs": {"maxModelLen": 8192},
}


@pytest.fixture(scope="module")
def colliding_plan():
    endpoints = [
        {**KUBERNETES_LLAMA, "namespace": "team-a"},
        {**KUBERNETES_LLAMA, "namespace": "team-b"},
        {**OME, "name": "c", "namespace": "a-b"},  # a-b + c and a + b-c join to the same text
        {**OME, "name": "b-c", "namespace": "a"},
    ]
    return plan_cmd.build_plan_from_values("eks", _eks_values(endpoints))


def test_same_name_in_two_namespaces_gives_unique_pulumi_names(colliding_plan):
    pulumi_names = Counter((r.type_, r.name) for r in colliding_plan.resources)
    assert [key for key, n in pulumi_names.items() if n > 1] == []
    assert colliding_plan.duplicate_urns == []


def test_same_name_in_two_namespaces_gives_unique_kubernetes_objects(colliding_plan):
    identities = Counter((o.manifest["apiVersion"], o.kind, o.namespace, o.name) for o in colliding_plan.objects)
    assert [key for key, n in identities.items() if n > 1] == []
    volumes = [o for o in colliding_plan.objects if o.kind == "PersistentVolume"]
    assert len(volumes) == 2 and len({o.manifest["spec"]["csi"]["volumeHandle"] for o in volumes}) == 2
    for kind in ("ClusterBaseModel", "ClusterServingRuntime"):
        assert len({o.name for o in colliding_plan.objects if o.kind == kind}) == 2, kind
    # each claim binds its own namespace's volume
    claims = {
        o.namespace: o.manifest["spec"]["volumeName"]
        for o in colliding_plan.objects
        if o.kind == "PersistentVolumeClaim"
    }
    assert claims["team-a"] != claims["team-b"]
    assert not any(p.rule == "G2" for o in colliding_plan.objects for p in o.problems)


def test_two_hyperpod_endpoints_with_one_name_in_two_namespaces_are_a_g2_problem():
    # The operator names the router and its Ingress in hyperpod-inference-system after the name alone.
    problems = validate_endpoints(
        [spec(namespace="team-a", backend="hyperpod"), spec(namespace="team-b", backend="hyperpod")]
    )
    (problem,) = [p for p in problems if p.rule == "G2"]
    assert problem.path == "endpoints[1].name" and problem.value == "llama"
    assert "team-a" in problem.message and hyperpod.OPERATOR_NAMESPACE in problem.message
    assert problem.fix.startswith("give HyperPod endpoints names unique in the cluster")


PROGRAM_WITH_DUPLICATES = """
import pulumi
import pulumi_kubernetes as k8s

k8s.core.v1.ConfigMap("twice", metadata={"name": "one", "namespace": "x"}, data={"a": "1"})
k8s.core.v1.ConfigMap("twice", metadata={"name": "two", "namespace": "x"}, data={"a": "2"})
"""


def test_plan_names_a_duplicate_urn(tmp_path: Path):
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM_WITH_DUPLICATES)
    mocks, _ = plan_cmd.run_program("dup", {}, "llm-serving", program=program)
    assert plan_cmd.duplicate_urns(mocks.registrations) == [
        "Pulumi URN urn:pulumi:dup::llm-serving::pulumi:pulumi:Stack$kubernetes:core/v1:ConfigMap::twice is declared 2 times; every resource needs its own name (G2)"
    ]


def test_plan_flags_the_second_of_two_identical_kubernetes_objects():
    reg = plan_cmd.Registration("kubernetes:core/v1:Secret", "x", {}, "", True)
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "llama-api-key", "namespace": "hyperpod-inference-system"},
    }
    objects = [plan_cmd.PlannedObject(1, reg, manifest), plan_cmd.PlannedObject(2, reg, copy.deepcopy(manifest))]
    plan_cmd.check_duplicate_objects(objects)
    assert objects[0].problems == []
    assert [(p.rule, p.path, p.value) for p in objects[1].problems] == [("G2", "metadata.name", "llama-api-key")]
    assert "object #1" in objects[1].problems[0].message


# ---------------------------------------------------------------- engine flag spellings


@pytest.mark.parametrize(
    "extra, canonical",
    [
        (["--api_key=sk-abcdefghijklmnopqrstuvwxyz"], "--api-key"),
        (["--served_model_name=foo"], "--served-model-name"),
        (["--max_num_seqs=5"], "--max-num-seqs"),
        (["-tp", "8"], "--tensor-parallel-size"),
        (["--tensor-parallel-size=8"], "--tensor-parallel-size"),
        (["--served-model", "foo"], "--served-model-name"),  # argparse takes a unique prefix
    ],
)
def test_managed_vllm_flag_in_any_spelling_is_g10(extra, canonical):
    problems = [p for p in validate_endpoint(spec(extraArgs=extra), "endpoints[0]") if p.rule == "G10"]
    assert [p.path for p in problems] == ["endpoints[0].extraArgs[0]"]
    assert problems[0].message.startswith(f"{canonical} is set by the stack")
    assert "sk-abcdefghij" not in str(problems[0])  # the key is never echoed


@pytest.mark.parametrize("extra", [["--tensor-parallel-size", "8"], ["--model", "x"], ["--mem_fraction_static=0.5"]])
def test_managed_sglang_flag_in_its_other_spellings_is_g10(extra):
    problems = [p for p in validate_endpoint(spec(engine="sglang", extraArgs=extra), "endpoints[0]") if p.rule == "G10"]
    assert [p.path for p in problems] == ["endpoints[0].extraArgs[0]"]


def test_unmanaged_flags_and_values_pass():
    extra = ["--max-loras", "2", "--swap-space=-1", "--trust-remote-code"]
    assert [p for p in validate_endpoint(spec(extraArgs=extra), "endpoints[0]") if p.rule == "G10"] == []


def test_short_tp_in_a_rendered_worker_is_checked_against_the_gpus():
    # `-tp 8` that reached the manifest (a hand-written or patched object): G11 sees 8 on a 4-GPU instance.
    obj = hyperpod.endpoint_config(spec())
    obj["spec"]["worker"]["args"] += ["-tp", "8"]
    assert ("G11", "spec.worker.args[--tensor-parallel-size]") in {(p.rule, p.path) for p in manifests.check(obj)}


def test_sglang_accepts_vllm_spelling_of_tensor_parallel_size_as_its_own():
    # SGLang's parser takes --tensor-parallel-size as --tp-size: not a foreign (vLLM-only) flag.
    obj = hyperpod.endpoint_config(spec(engine="sglang"))
    args = obj["spec"]["worker"]["args"]
    i = args.index("--tp-size")
    args[i] = "--tensor-parallel-size"
    assert not any(p.rule == "G10" and "tensor-parallel-size" in p.path for p in manifests.check(obj))


# ---------------------------------------------------------------- secrets in env

SECRET_ENV = {
    "VLLM_API_KEY": "sk-live-0123456789abcdefghij",
    "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyz0123456",
    "DB_PASSWORD": "hunter2",
    "MY_SECRET": "mysecretvalue123",
}


def test_secret_named_env_is_an_s3_error_with_the_fix():
    problems = [
        p
        for p in validate_endpoint(spec(env=SECRET_ENV, intelligentRouting=True, apiKey=True), "endpoints[0]")
        if p.rule == "S3"
    ]
    assert sorted(p.path for p in problems) == sorted(f"endpoints[0].env.{k}" for k in SECRET_ENV)
    assert all(p.severity == "error" and "apiKey: true" in p.fix and "secretKeyRef" in p.fix for p in problems)
    text = " ".join(str(p) for p in problems)
    assert not any(value in text for value in SECRET_ENV.values())


def test_ordinary_env_passes():
    env = {"HF_HOME": "/cache", "TOKENIZERS_PARALLELISM": "false", "HF_TOKEN_PATH": "/etc/hf", "AWS_SECRET_NAME": "x"}
    assert [p for p in validate_endpoint(spec(env=env), "endpoints[0]") if p.rule == "S3"] == []


PROGRAM_WITH_SECRETS = """
import pulumi
import pulumi_kubernetes as k8s

k8s.core.v1.Pod(
    "pod",
    metadata={"name": "pod", "namespace": "x"},
    spec={"containers": [{"name": "c", "image": "i", "env": [
        {"name": "PLAIN_SETTING", "value": pulumi.Output.secret("flagged-by-pulumi-only")},
        {"name": "HF_TOKEN", "value": "hf_plaintext_by_name_only_0123456789"},
        {"name": "LOG_LEVEL", "value": "info"},
    ]}]},
)
k8s.core.v1.Secret("secret", metadata={"name": "s", "namespace": "x"}, string_data={"k": "plain-secret-data"})
"""


def test_plan_files_redact_what_pulumi_marks_secret_and_secret_names(tmp_path: Path):
    program = tmp_path / "__main__.py"
    program.write_text(PROGRAM_WITH_SECRETS)
    mocks, _ = plan_cmd.run_program("redact", {}, "llm-serving", program=program)
    written = ""
    for reg in mocks.registrations:
        manifest = plan_cmd.to_manifest(reg)
        if manifest is not None:
            written += repr(plan_cmd.redact(manifest, reg.secret_paths))
    for secret in ("flagged-by-pulumi-only", "hf_plaintext_by_name_only_0123456789", "plain-secret-data"):
        assert secret not in written
    assert "info" in written and "PLAIN_SETTING" in written  # only the values go


def test_api_key_in_underscore_spelling_counts_as_a_keyed_workload():
    from components.rules.resources import Resource
    from components.rules.stack_checks import keyed_workloads

    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llama", "namespace": "x"},
        "spec": {"template": {"spec": {"containers": [{"name": "engine", "args": ["--api_key=$(KEY)"]}]}}},
    }
    assert keyed_workloads([Resource("kubernetes:apps/v1:Deployment", "llama", deployment)]) == {"llama"}


def test_a_name_used_once_keeps_its_old_pulumi_name_as_an_alias(monkeypatch):
    # Existing stacks (one endpoint per name) must not replace their endpoints: the new
    # <namespace>/<name> resources alias the old <name> ones. A shared name has no old resource.
    aliases: dict[tuple[str, str], list[str]] = {}

    class Recording(plan_program.PlanMonitor):
        def RegisterResource(self, request):
            names = [a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name]
            aliases[(request.type.split(":")[-1], request.name)] = names
            return super().RegisterResource(request)

    monkeypatch.setattr(plan_program, "PlanMonitor", Recording)  # the program runs in stacks/plan_program.py
    endpoints = [
        {**KUBERNETES_LLAMA, "namespace": "team-a"},
        {**KUBERNETES_LLAMA, "namespace": "team-b"},
        {**KUBERNETES_LLAMA, "name": "solo", "namespace": "team-a"},
    ]
    plan_cmd.build_plan_from_values("eks", _eks_values(endpoints))
    assert aliases[("KubernetesEndpoint", "team-a/solo")] == ["solo"]
    assert aliases[("EndpointApiKey", "team-a/solo-api-key")] == ["solo-api-key"]
    # Children (`team-a/solo-service`, ...) get theirs from the engine, which renames a child whose name
    # starts with its parent's (pulumi pkg/resource/deploy step_generator.go inheritedChildAlias): not
    # visible under mocks.
    assert (
        aliases[("KubernetesEndpoint", "team-a/llama")] == [] and aliases[("KubernetesEndpoint", "team-b/llama")] == []
    )
