"""The HyperPod InferenceEndpointConfig: rendered objects validate against the upstream CRD and pass
every guardrail; the incidents' own manifests fail the check and are repaired by the fixer."""

from __future__ import annotations

import copy

import pytest

from components.rules import engines
from components.rules.backends import hyperpod

SGLANG_INCIDENT = {
    "name": "Qwen3-4B-Instruct-2507-2026-01-06-04-30-58-238-sglang",
    "engine": "sglang",
    "intelligentRouting": True,
    "publicAlb": True,
    "apiKey": True,
    "kvCache": {"l1": False, "l2": False},
    "engineArgs": {"maxModelLen": 12288, "tensorParallelSize": 1, "gpuMemoryUtilization": 0.9},
}

VARIANTS = [
    {},
    {**SGLANG_INCIDENT, "intelligentRouting": False, "publicAlb": False},  # G21: no router in front of SGLang
    {
        "engine": "vllm",
        "intelligentRouting": True,
        "routingStrategy": "kvaware",
        "invocationEndpoint": "v1/completions",
        "apiKey": True,
    },
    {"kvCache": {"l1": True, "l2": True, "l2Backend": "redis"}, "engineArgs": {"enablePrefixCaching": False}},
    {"modelSource": {"type": "huggingface", "revision": "a" * 40, "tokenSecret": {"name": "hf-token"}}},
    {"modelSource": {"type": "fsx", "fileSystemId": "fs-0123456789abcdef0", "mountName": "abcd", "path": "m/"}},
    {"instanceType": "g4dn.12xlarge", "engineArgs": {"tensorParallelSize": 4}, "apiKey": True},
    {
        "autoscaling": {
            "minReplicas": 1,
            "maxReplicas": 3,
            "prometheus": {"query": "sum(rate(x[1m]))", "targetValue": 4},
        }
    },
    {
        "autoscaling": {"cloudwatch": {"metricName": "InvocationsPerInstance", "targetValue": 8}}
    },  # A1: dimensions filled in
    {"tlsCertificateS3Uri": "s3://certs/x", "sagemakerEndpoint": False, "replicas": 0},
]


@pytest.mark.parametrize("overrides", VARIANTS)
def test_rendered_object_validates_against_the_crd(make_endpoint, schema_validator, overrides):
    obj = hyperpod.endpoint_config(make_endpoint(**overrides), api_key="sk-test")
    result = schema_validator.validate(obj)
    assert result.status == "passed", result.errors
    assert result.source.startswith("hyperpod/InferenceEndpointConfig")


@pytest.mark.parametrize("overrides", VARIANTS)
def test_rendered_object_passes_every_guardrail_and_fix_is_a_no_op(make_endpoint, overrides):
    obj = hyperpod.endpoint_config(make_endpoint(**overrides), api_key="sk-test")
    assert [p for p in hyperpod.check(obj) if p.severity == "error"] == []
    fixed, changes = hyperpod.fix(obj)
    assert changes == []
    assert fixed == obj


def test_g18_renders_the_stored_api_version(make_endpoint):
    assert hyperpod.endpoint_config(make_endpoint())["apiVersion"] == "inference.sagemaker.aws.amazon.com/v1"


def test_g1_g2_incident_name_is_fitted_and_endpoint_name_lowercase(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(**SGLANG_INCIDENT), api_key="k")
    name = obj["metadata"]["name"]
    assert len(name) <= 50 and name == name.lower()
    assert obj["spec"]["endpointName"] == name
    assert len(f"prefetch-{name}-inf") <= 63


def test_g3_one_port_everywhere(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(**SGLANG_INCIDENT), api_key="k")
    worker = obj["spec"]["worker"]
    port = worker["modelInvocationPort"]["containerPort"]
    assert port == 30000
    assert engines.parse_args(worker["args"])["--port"] == "30000"
    assert obj["spec"]["metrics"]["modelMetrics"]["port"] == port
    assert {p["httpGet"]["port"] for p in worker["probes"].values()} == {port}


def test_g4_probes_declared_in_the_cr(make_endpoint):
    probes = hyperpod.endpoint_config(make_endpoint(engine="sglang"))["spec"]["worker"]["probes"]
    assert probes["readinessProbe"]["timeoutSeconds"] >= 5
    startup = probes["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 3600


def test_g7_l2_cache_turns_prefetch_and_prefix_caching_off(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}, engineArgs={}))
    assert obj["spec"]["modelSourceConfig"]["prefetchEnabled"] is False
    assert "--enable-prefix-caching" not in obj["spec"]["worker"]["args"]


def test_g9_with_routing_the_key_is_a_plain_value_and_without_a_secret_ref(make_endpoint):
    routed = hyperpod.endpoint_config(make_endpoint(apiKey=True, intelligentRouting=True), api_key="sk-1")
    env = {e["name"]: e for e in routed["spec"]["worker"]["environmentVariables"]}
    assert env["VLLM_API_KEY"] == {"name": "VLLM_API_KEY", "value": "sk-1"}
    direct = hyperpod.endpoint_config(make_endpoint(apiKey=True), api_key="sk-1", api_key_secret="ep-key")
    env = {e["name"]: e for e in direct["spec"]["worker"]["environmentVariables"]}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "ep-key", "key": "api-key"}


def test_g9_sglang_reads_the_key_through_env_expansion(make_endpoint):
    args = hyperpod.endpoint_config(make_endpoint(engine="sglang", apiKey=True), api_key="sk-1")["spec"]["worker"][
        "args"
    ]
    assert engines.parse_args(args)["--api-key"] == "$(VLLM_API_KEY)"
    assert "sk-1" not in args


def test_g11_gpu_limit_equals_tensor_parallel_size(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(instanceType="ml.g5.12xlarge", engineArgs={"tensorParallelSize": 2}))
    resources = obj["spec"]["worker"]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert resources["requests"]["nvidia.com/gpu"] == "2"


def test_g11_tensor_parallel_defaults_to_every_gpu(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(instanceType="ml.g5.12xlarge"))
    assert obj["spec"]["worker"]["resources"]["limits"]["nvidia.com/gpu"] == "4"


def test_g12_t4_env_in_rendered_worker(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(instanceType="ml.g4dn.xlarge"))
    env = {e["name"]: e.get("value") for e in obj["spec"]["worker"]["environmentVariables"]}
    assert env["VLLM_USE_FLASHINFER_SAMPLER"] == "0"


def test_g13_ephemeral_storage_requested(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint())
    assert obj["spec"]["worker"]["resources"]["requests"]["ephemeral-storage"] == "50Gi"


def test_g17_health_check_and_invocation_endpoint(make_endpoint):
    spec = hyperpod.endpoint_config(make_endpoint())["spec"]
    assert spec["loadBalancer"]["healthCheckPath"] == "/health"
    assert spec["invocationEndpoint"] == "v1/chat/completions"


# ---- the incidents' own manifests: check reports them, fix repairs what is safe


def incident_manifest() -> dict:
    """The SGLang endpoint as the original console backend first deployed it (wrong port, 1-second probe, no served name, no metrics, capitals)."""
    return {
        "apiVersion": "inference.sagemaker.aws.amazon.com/v1",
        "kind": "InferenceEndpointConfig",
        "metadata": {"name": "qwen3-4b-instruct-2507-2026-01-13-01-12", "namespace": "default"},
        "spec": {
            "modelName": "Qwen3-4B-Instruct-2507",
            "endpointName": "Qwen3-4B-Instruct-2507-2026-01-13-01-12",
            "instanceType": "ml.g5.8xlarge",
            "modelSourceConfig": {
                "modelSourceType": "s3",
                "s3Storage": {"bucketName": "my-models", "region": "us-east-1"},
                "modelLocation": "qwen3-4b/",
            },
            "intelligentRoutingSpec": {"enabled": True},
            "worker": {
                "image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/sglang:0.5-gpu-sagemaker",
                "args": ["--port", "8000", "--host", "0.0.0.0", "--model-path", "/opt/ml/model"],
                "modelInvocationPort": {"containerPort": 8080, "name": "http"},
                "modelVolumeMount": {"name": "model-weights", "mountPath": "/opt/ml/model"},
                "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}},
                "probes": {"readinessProbe": {"httpGet": {"path": "/health", "port": 8000}, "timeoutSeconds": 1}},
                "environmentVariables": [
                    {
                        "name": "VLLM_API_KEY",
                        "valueFrom": {"secretKeyRef": {"name": "endpoint-api-key", "key": "api-key"}},
                    }
                ],
            },
        },
    }


def _rules(problems):
    return {(p.rule, p.path) for p in problems}


def test_incidents_reported_by_check():
    found = _rules(hyperpod.check(incident_manifest()))
    assert ("G2", "spec.endpointName") in found  # capitals in endpointName
    assert ("G3", "spec.worker.args[--port]") in found  # SGLang on 8000, DLC port 8080
    assert ("G3", "spec.worker.probes.readinessProbe.httpGet.port") in found  # the probe on 8000
    assert ("G4", "spec.worker.probes.readinessProbe.timeoutSeconds") in found  # timeout 1
    assert ("G5", "spec.worker.command") in found  # DLC CMD ignores args
    assert ("G5", "spec.worker.args") in found  # no --served-model-name
    assert ("G6", "spec.worker.args") in found  # SGLang without --enable-metrics
    assert ("G21", "spec.intelligentRoutingSpec.enabled") in found  # the router serves vLLM workers only
    assert (
        "G9",
        "spec.worker.environmentVariables[VLLM_API_KEY]",
    ) in found  # a secretKeyRef the operator does not copy
    assert ("G10", "spec.worker.args") in found  # no --context-length
    assert ("G13", "spec.worker.resources.requests.ephemeral-storage") in found
    assert ("G17", "spec.loadBalancer.healthCheckPath") in found  # default /ping
    assert ("G17", "spec.invocationEndpoint") in found  # default invocations


def test_g3_crd_metrics_port_default_8080_is_wrong_for_vllm(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(engine="vllm"))
    del obj["spec"]["metrics"]
    problems = [p for p in hyperpod.check(obj) if p.path == "spec.metrics.modelMetrics.port"]
    assert [(p.rule, p.value) for p in problems] == [("G3", 8080)]
    fixed, _ = hyperpod.fix(obj)
    assert fixed["spec"]["metrics"]["modelMetrics"]["port"] == 8000


def test_incidents_fixed_except_the_ambiguous_api_key():
    fixed, changes = hyperpod.fix(incident_manifest())
    remaining = _rules(hyperpod.check(fixed))
    # The key value is unknown, and SGLang cannot sit behind the router (G21): report, never guess.
    assert remaining == {
        ("G9", "spec.worker.environmentVariables[VLLM_API_KEY]"),
        ("G21", "spec.intelligentRoutingSpec.enabled"),
    }
    worker = fixed["spec"]["worker"]
    parsed = engines.parse_args(worker["args"])
    assert parsed["--port"] == "8080"
    assert parsed["--served-model-name"] == "Qwen3-4B-Instruct-2507"
    assert "--enable-metrics" in parsed
    assert worker["command"] == ["python3", "-m", "sglang.launch_server"]
    assert worker["probes"]["readinessProbe"]["timeoutSeconds"] == 5
    assert fixed["spec"]["endpointName"] == "qwen3-4b-instruct-2507-2026-01-13-01-12"
    assert {c.rule for c in changes} >= {"G2", "G3", "G4", "G5", "G6", "G10", "G13", "G17"}


def test_fix_never_mutates_its_input():
    original = incident_manifest()
    snapshot = copy.deepcopy(original)
    hyperpod.fix(original)
    assert original == snapshot


def test_g21_kv_cache_with_sglang_is_reported_not_fixed():
    obj = incident_manifest()
    obj["spec"]["kvCacheSpec"] = {"enableL1Cache": True}
    assert ("G21", "spec.kvCacheSpec") in _rules(hyperpod.check(obj))
    fixed, _ = hyperpod.fix(obj)
    assert ("G21", "spec.kvCacheSpec") in _rules(hyperpod.check(fixed))


def test_g7_l2_with_prefetch_and_prefix_caching_is_fixed(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(kvCache={"l1": True, "l2": True, "l2Backend": "redis"}))
    obj["spec"]["modelSourceConfig"]["prefetchEnabled"] = True
    obj["spec"]["worker"]["args"].append("--enable-prefix-caching")
    found = _rules(hyperpod.check(obj))
    assert ("G7", "spec.modelSourceConfig.prefetchEnabled") in found
    assert ("G7", "spec.worker.args[--enable-prefix-caching]") in found
    fixed, _ = hyperpod.fix(obj)
    assert not [p for p in hyperpod.check(fixed) if p.rule == "G7" and p.severity == "error"]


def test_g7_tieredstorage_is_an_advisory_warning(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(kvCache={"l1": True, "l2": True}))
    warnings = [p for p in hyperpod.check(obj) if p.rule == "G7"]
    assert [p.severity for p in warnings] == ["warning"]


def test_g11_cuda_visible_devices_and_tp_over_gpus_reported(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint())
    obj["spec"]["worker"]["environmentVariables"].append({"name": "CUDA_VISIBLE_DEVICES", "value": "0,1"})
    obj["spec"]["worker"]["args"] = [a if a != "1" else "2" for a in obj["spec"]["worker"]["args"]]
    found = _rules(hyperpod.check(obj))
    assert ("G11", "spec.worker.environmentVariables[CUDA_VISIBLE_DEVICES]") in found
    assert ("G11", "spec.worker.args[--tensor-parallel-size]") in found


def test_g18_v1alpha1_reported():
    obj = incident_manifest()
    obj["apiVersion"] = "inference.sagemaker.aws.amazon.com/v1alpha1"
    assert ("G18", "apiVersion") in _rules(hyperpod.check(obj))


def test_g10_vllm_flag_on_sglang_reported():
    obj = incident_manifest()
    obj["spec"]["worker"]["args"] += ["--max-model-len", "4096"]
    assert ("G10", "spec.worker.args[--max-model-len]") in _rules(hyperpod.check(obj))


def test_g2_label_values_must_be_strings():
    obj = incident_manifest()
    obj["metadata"]["labels"] = {"replicas": 1}
    assert ("G2", "metadata.labels.replicas") in _rules(hyperpod.check(obj))
    fixed, _ = hyperpod.fix(obj)
    assert fixed["metadata"]["labels"]["replicas"] == "1"


# ---------------------------------------------------------------- options against the operator


def test_g21_sglang_behind_the_router_is_reported_not_fixed(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(engine="sglang"))
    obj["spec"]["intelligentRoutingSpec"] = {"enabled": True, "routingStrategy": "prefixaware"}
    assert ("G21", "spec.intelligentRoutingSpec.enabled") in _rules(hyperpod.check(obj))
    fixed, _ = hyperpod.fix(obj)
    assert ("G21", "spec.intelligentRoutingSpec.enabled") in _rules(hyperpod.check(fixed))
    routed_vllm = hyperpod.endpoint_config(make_endpoint(engine="vllm", intelligentRouting=True))
    assert not [p for p in hyperpod.check(routed_vllm) if p.rule == "G21"]


def test_g22_kv_cache_defaults_to_the_lmcache_image_of_upstreams_samples(make_endpoint):
    # aws/sagemaker-hyperpod-cli samples v1_llama31_8b_kv_cache_l1_l2.yaml: image lmcache/vllm-openai:v0.3.7
    obj = hyperpod.endpoint_config(make_endpoint(kvCache={"l1": True}))
    assert obj["spec"]["worker"]["image"] == "lmcache/vllm-openai:v0.3.7"
    assert obj["spec"]["worker"]["modelInvocationPort"]["containerPort"] == 8000
    assert (
        hyperpod.endpoint_config(make_endpoint(kvCache={"l1": False}))["spec"]["worker"]["image"]
        == "vllm/vllm-openai:v0.11.0"
    )


def test_g22_kv_cache_on_the_stock_vllm_image_is_reported_not_fixed(make_endpoint):
    obj = hyperpod.endpoint_config(make_endpoint(kvCache={"l1": True}))
    obj["spec"]["worker"]["image"] = "vllm/vllm-openai:v0.11.0"
    problems = [p for p in hyperpod.check(obj) if p.rule == "G22"]
    assert [(p.path, p.value) for p in problems] == [("spec.worker.image", "vllm/vllm-openai:v0.11.0")]
    assert "lmcache/vllm-openai:v0.3.7" in problems[0].fix
    fixed, _ = hyperpod.fix(obj)
    assert fixed["spec"]["worker"]["image"] == "vllm/vllm-openai:v0.11.0"  # an image is the user's choice


def _model_flags(args: list, engine: str) -> list[str]:
    """Every spelling of the engine's model flag (`--model`, `--model_path=`, SGLang's `--model` alias)."""
    model_flag = engines.canonical_flag(engine, engines.engine(engine).model_flag)
    return [a for a in args if engines.is_flag(a, engine) and engines.canonical_flag(engine, a) == model_flag]


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
@pytest.mark.parametrize("prefetch", [False, True])
def test_g10_hugging_face_endpoint_runs_with_one_model_flag(make_endpoint, engine, prefetch):
    """aws/sagemaker-hyperpod-cli inference-operator samples: without prefetch "the operator auto-injects --model arg
    for vLLM" (v1_huggingface_mistral7b_vllm.yaml, which passes --download-dir /opt/ml/model) and "--model-path arg for
    SGLang" (v1_huggingface_mistral7b_sglang.yaml); with prefetch the args point at /opt/ml/model themselves
    (v1_huggingface_mistral7b_vllm_prefetch.yaml, v1_huggingface_mistral7b_sglang_prefetch.yaml)."""
    spec = make_endpoint(
        engine=engine,
        prefetch=prefetch,
        model="mistralai/Mistral-7B-Instruct-v0.3",
        modelSource={"type": "huggingface"},
    )
    obj = hyperpod.endpoint_config(spec)
    args = obj["spec"]["worker"]["args"]
    operator_adds = [] if prefetch else [engines.engine(engine).model_flag, "/opt/ml/model"]
    assert len(_model_flags(args + operator_adds, engine)) == 1
    parsed = engines.parse_args(args, engine)
    if engine == "vllm" and not prefetch:
        assert parsed["--download-dir"] == "/opt/ml/model"
    else:
        assert "--download-dir" not in parsed
    assert [p for p in hyperpod.check(obj) if p.severity == "error"] == []


@pytest.mark.parametrize(
    "source",
    [
        {"type": "s3", "bucket": "my-models", "path": "m/"},
        {"type": "fsx", "fileSystemId": "fs-0123456789abcdef0", "path": "m/"},
    ],
)
def test_g10_mounted_sources_pass_the_model_directory(make_endpoint, source):
    args = hyperpod.endpoint_config(make_endpoint(modelSource=source))["spec"]["worker"]["args"]
    assert engines.parse_args(args, "vllm")["--model"] == "/opt/ml/model"


@pytest.mark.parametrize("spelling", [["--model", "/opt/ml/model"], ["--model=/opt/ml/model"]])
def test_g10_a_second_model_flag_on_a_hugging_face_endpoint_is_reported_and_removed(make_endpoint, spelling):
    obj = hyperpod.endpoint_config(make_endpoint(modelSource={"type": "huggingface"}))
    obj["spec"]["worker"]["args"] += spelling
    assert ("G10", "spec.worker.args[--model]") in _rules(hyperpod.check(obj))
    fixed, changes = hyperpod.fix(obj)
    assert [c.path for c in changes] == ["spec.worker.args[--model]"]
    assert _model_flags(fixed["spec"]["worker"]["args"], "vllm") == []
    assert "--served-model-name" in fixed["spec"]["worker"]["args"]


@pytest.mark.parametrize(
    "model, expected",
    [
        ("meta-llama/Llama-3.1-8B-Instruct", "Llama-3.1-8B-Instruct"),
        ("meta-llama/Llama-3-1-8B-Instruct", "Llama-3-1-8B-Instruct"),
    ],
)
def test_model_name_keeps_upstreams_spelling_and_matches_the_crd_pattern(make_endpoint, crd_dir, model, expected):
    import re

    import yaml

    crd = yaml.safe_load((crd_dir / "hyperpod" / "InferenceEndpointConfig.v1+v1alpha1.crd.yaml").read_text())
    v1 = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    rule = v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["modelName"]
    obj = hyperpod.endpoint_config(make_endpoint(name="Llama-3.1-8B", model=model))
    assert obj["spec"]["modelName"] == expected
    assert re.search(rule["pattern"], expected) and len(expected) <= rule["maxLength"]
    assert obj["spec"]["endpointName"] == "llama-3-1-8b"  # G2: lowercase RFC 1123 for the registration


def test_model_name_is_rewritten_only_where_the_crd_pattern_refuses_it():
    assert hyperpod.sagemaker_model_name("Qwen/Qwen3-0.6B") == "Qwen3-0.6B"
    assert hyperpod.sagemaker_model_name("org/_private.model") == "private-model"  # must start alphanumeric
    long = hyperpod.sagemaker_model_name("org/" + "a" * 70)
    assert len(long) <= 63 and long.startswith("a" * 40)
