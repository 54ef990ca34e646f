"""The ome backend: rendered and schema-validated, engine args as runner args, and each OME
template mistake that failed on a cluster caught by the CRD schema or a rule."""

from __future__ import annotations

import copy

from components.rules import engines, manifests
from components.rules.backends import render as render_backend
from tests.backends.backend_helpers import assert_clean, rules_of, spec

BENCH = {"benchmark": {"outputLocation": "pvc://benchmark-results-pvc/simple-tune"}}


def ome_spec(**overrides):
    return spec("ome", **{"loadBalancer": "none", "apiKey": False, "ome": BENCH, **overrides})


def objects(**overrides):
    return {o["kind"]: o for o in render_backend(ome_spec(**overrides), region="us-east-1")}


def test_dev_style_endpoint_renders_model_runtime_service_and_benchmark_schema_valid_and_clean(validator):
    rendered = render_backend(ome_spec(), region="us-east-1")
    assert [o["kind"] for o in rendered] == [
        "ClusterBaseModel",
        "ClusterServingRuntime",
        "InferenceService",
        "BenchmarkJob",
    ]
    assert_clean(rendered, validator)


def test_engine_args_travel_as_runner_args_over_the_runtime_runner():
    got = objects()
    runtime = got["ClusterServingRuntime"]["spec"]["engineConfig"]["runner"]
    runner = got["InferenceService"]["spec"]["engine"]["runner"]
    # The InferenceService never replaces the runtime's image or command.
    assert "image" not in runner and "command" not in runner
    assert runtime["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"] and "args" not in runtime
    parsed = engines.parse_args(runner["args"])
    assert parsed["--model"] == "$(MODEL_PATH)"  # the kubelet's syntax
    assert parsed["--tensor-parallel-size"] == "2" and runner["resources"]["limits"]["nvidia.com/gpu"] == "2"
    isvc = got["InferenceService"]["spec"]
    assert isvc["model"] == {
        "name": got["ClusterBaseModel"]["metadata"]["name"],
        "kind": "ClusterBaseModel",
        "apiGroup": "ome.io",
    }
    assert isvc["runtime"]["name"] == got["ClusterServingRuntime"]["metadata"]["name"]
    assert got["ClusterBaseModel"]["spec"]["storage"]["storageUri"] == "s3://my-models/llama31_8b"


def test_label_values_not_strings():
    isvc = objects()["InferenceService"]
    isvc["metadata"]["labels"]["experiment_id"] = 1  # the template's integer label
    assert ("G2", "metadata.labels.experiment_id") in rules_of(isvc)


def test_missing_container_name(validator):
    isvc = objects()["InferenceService"]
    del isvc["spec"]["engine"]["runner"]["name"]
    assert ("B1", "spec.engine.runner.name") in rules_of(isvc)  # the CRD does not require it: the rule does
    # The container-override form (`engine.containers`) without a name: the CRD's schema rejects it.
    containers = copy.deepcopy(objects()["InferenceService"])
    containers["spec"]["engine"]["containers"] = [{"args": ["--tp-size", "1"]}]
    result = validator.validate(containers)
    assert result.status == "failed" and any("'name' is a required property" in e for e in result.errors)


def test_model_path_not_expanded():
    isvc = objects()["InferenceService"]
    args = isvc["spec"]["engine"]["runner"]["args"]
    args[args.index("--model") : args.index("--model") + 2] = ["--model-path=$MODEL_PATH"]
    assert any(rule == "B1" and path.startswith("spec.engine.runner.args[") for rule, path in rules_of(isvc))


def test_benchmark_without_output_location(validator):
    job = objects()["BenchmarkJob"]
    del job["spec"]["outputLocation"]
    result = validator.validate(job)
    assert result.status == "failed" and any("'outputLocation' is a required property" in e for e in result.errors)
    assert ("B1", "spec.outputLocation") in rules_of(job)


def test_unsupported_storage_uri():
    job = objects()["BenchmarkJob"]
    job["spec"]["outputLocation"]["storageUri"] = "local:///tmp/benchmark-results/simple-tune-bench1"
    assert ("B1", "spec.outputLocation.storageUri") in rules_of(job)
    job["spec"]["outputLocation"]["storageUri"] = "pvc://benchmark-results-pvc"  # no subpath
    assert ("B1", "spec.outputLocation.storageUri") in rules_of(job)
    job["spec"]["outputLocation"]["storageUri"] = "oci://n/b/results"
    assert rules_of(job) == set()


def test_a_replaced_runner_image_is_caught():
    isvc = objects()["InferenceService"]
    isvc["spec"]["engine"]["runner"].update(
        image="docker.io/lmsysorg/sglang:v0.4.8.post1-cu126", command=["python3", "-m", "sglang.launch_server"]
    )
    assert {("B1", "spec.engine.runner.image"), ("B1", "spec.engine.runner.command")} <= rules_of(isvc)


def test_runtime_parameters_and_engine_resources_do_not_exist_in_the_crd(validator):
    # The template shape that failed with `unknown field` before the container fix.
    isvc = objects()["InferenceService"]
    isvc["spec"]["runtime"]["runtimeParameters"] = {"tp-size": "1", "mem-frac": "0.8"}
    isvc["spec"]["engine"]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    result = validator.validate(isvc)
    assert result.status == "failed"
    assert any("runtimeParameters" in e for e in result.errors) and any("resources" in e for e in result.errors)


def test_gpu_by_env_is_caught():
    isvc = objects()["InferenceService"]
    isvc["spec"]["engine"]["runner"]["env"] = [{"name": "CUDA_VISIBLE_DEVICES", "value": "7"}]
    assert ("G11", "spec.engine.runner.env[CUDA_VISIBLE_DEVICES]") in rules_of(isvc)


def test_runtime_probes_and_shm_are_checked():
    runtime = objects()["ClusterServingRuntime"]
    runner = runtime["spec"]["engineConfig"]["runner"]
    assert runner["readinessProbe"]["timeoutSeconds"] >= 5 and runner["startupProbe"]["failureThreshold"] >= 180
    runner["readinessProbe"]["timeoutSeconds"] = 1
    runner["volumeMounts"] = []
    assert {
        ("G4", "spec.engineConfig.runner.readinessProbe.timeoutSeconds"),
        ("G13", "spec.engineConfig.runner.volumeMounts"),
    } <= rules_of(runtime)


def test_sglang_runner_args_have_metrics_and_the_sglang_flags(validator):
    got = objects(
        engine="sglang", engineArgs={"maxModelLen": 8192, "gpuMemoryUtilization": 0.8, "tensorParallelSize": 1}
    )
    args = got["InferenceService"]["spec"]["engine"]["runner"]["args"]
    parsed = engines.parse_args(args)
    assert (
        "--enable-metrics" in parsed
        and parsed["--model-path"] == "$(MODEL_PATH)"
        and parsed["--mem-fraction-static"] == "0.8"
    )
    assert_clean(list(got.values()), validator)


def test_existing_base_model_is_referenced_not_declared():
    got = objects(ome={"baseModel": "llama-3-2-1b-instruct"})
    assert "ClusterBaseModel" not in got
    assert got["InferenceService"]["spec"]["model"]["name"] == "llama-3-2-1b-instruct"


def test_benchmark_targets_the_inference_service_in_cluster():
    job = objects()["BenchmarkJob"]["spec"]
    assert job["endpoint"] == {"inferenceService": {"name": "llama-3-1-8b-vllm", "namespace": "inference"}}
    assert job["outputLocation"] == {"storageUri": "pvc://benchmark-results-pvc/simple-tune"}
    assert "BenchmarkJob" not in objects(ome={})


def test_rendered_objects_need_no_fix():
    for obj in render_backend(ome_spec(), region="us-east-1"):
        assert manifests.fix(obj) == (obj, [])
