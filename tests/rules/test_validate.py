"""Combination rules on typed endpoint specs: what config validation and grid pruning reject."""

import pytest

from components.rules.spec import EndpointSpec
from components.rules.validate import validate_endpoint, validate_endpoints


def rules_at(problems):
    return [(p.rule, p.path) for p in problems if p.severity == "error"]


def test_valid_endpoint_has_no_problem(make_endpoint):
    assert validate_endpoint(make_endpoint(), "endpoints[0]") == []


def test_g21_kv_cache_with_sglang(make_endpoint):
    problems = validate_endpoint(make_endpoint(engine="sglang", kvCache={"l1": True}), "endpoints[0]")
    assert rules_at(problems) == [("G21", "endpoints[0].hyperpod.kvCache")]
    assert "vLLM" in problems[0].message


def test_g21_kv_cache_off_with_sglang_is_fine(make_endpoint):
    assert validate_endpoint(make_endpoint(engine="sglang", kvCache={"l1": False, "l2": False}), "e") == []


def test_g21_sglang_with_intelligent_routing_names_what_works_instead(make_endpoint):
    # AWS: "KV caching and intelligent routing currently support only vLLM-based inference containers"
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment-caching-routing.html)
    problems = validate_endpoint(
        make_endpoint(engine="sglang", intelligentRouting=True, publicAlb=True), "endpoints[0]"
    )
    assert rules_at(problems) == [("G21", "endpoints[0].hyperpod.intelligentRouting")]
    assert "engine vllm" in problems[0].fix and "backend: kubernetes with loadBalancer: alb" in problems[0].fix
    assert validate_endpoint(make_endpoint(engine="vllm", intelligentRouting=True, publicAlb=True), "e") == []
    assert validate_endpoint(make_endpoint(engine="sglang", intelligentRouting=False), "e") == []


def test_g21_a_public_sglang_endpoint_on_the_kubernetes_backend_is_fine(make_endpoint):
    assert (
        validate_endpoint(make_endpoint(engine="sglang", backend="kubernetes", loadBalancer="alb", publicAlb=True), "e")
        == []
    )


def test_g22_kv_cache_on_a_user_image_without_lmcache(make_endpoint):
    problems = validate_endpoint(make_endpoint(kvCache={"l1": True}, image="vllm/vllm-openai:v0.11.0"), "endpoints[1]")
    assert [(p.rule, p.path, p.value) for p in problems] == [("G22", "endpoints[1].image", "vllm/vllm-openai:v0.11.0")]
    assert "lmcache/vllm-openai:v0.3.7" in problems[0].fix
    assert validate_endpoint(make_endpoint(kvCache={"l1": True}, image="lmcache/vllm-openai:v0.3.7"), "e") == []
    assert validate_endpoint(make_endpoint(kvCache={"l1": True}), "e") == []  # the default image is the LMCache one
    assert validate_endpoint(make_endpoint(kvCache={"l1": False}, image="vllm/vllm-openai:v0.11.0"), "e") == []


def test_g22_the_lmcache_default_is_announced_as_a_change(make_endpoint):
    from components.rules.endpoint import default_changes

    (change,) = default_changes(make_endpoint(kvCache={"l1": True}), "endpoints[1]")
    assert (
        str(change)
        == "[G22] endpoints[1].image: 'vllm/vllm-openai:v0.11.0' -> 'lmcache/vllm-openai:v0.3.7' (KV-cache offload needs LMCache; the image upstream's kvCacheSpec samples use)"
    )
    assert default_changes(make_endpoint(kvCache={"l1": True}, image="lmcache/vllm-openai:v0.3.7"), "e") == []
    assert default_changes(make_endpoint(), "e") == []


def test_g7_l2_with_explicit_prefetch_and_prefix_caching(make_endpoint):
    spec = make_endpoint(
        kvCache={"l2": True, "l2Backend": "redis"}, prefetch=True, engineArgs={"enablePrefixCaching": True}
    )
    assert rules_at(validate_endpoint(spec, "e")) == [
        ("G7", "e.hyperpod.prefetch"),
        ("G7", "e.engineArgs.enablePrefixCaching"),
    ]


def test_g7_tieredstorage_is_a_warning(make_endpoint):
    problems = validate_endpoint(make_endpoint(kvCache={"l2": True}), "e")
    assert [(p.rule, p.severity) for p in problems] == [("G7", "warning")]


def test_g8_public_alb_without_routing(make_endpoint):
    problems = validate_endpoint(make_endpoint(publicAlb=True), "endpoints[1]")
    assert rules_at(problems) == [("G8", "endpoints[1].publicAlb")]
    assert "intelligentRouting: true" in problems[0].fix


def test_g10_parameter_the_engine_lacks(make_endpoint):
    problems = validate_endpoint(
        make_endpoint(engine="sglang", engineArgs={"limitMmPerPrompt": '{"image":2}'}), "endpoints[0]"
    )
    assert rules_at(problems) == [("G10", "endpoints[0].engineArgs.limitMmPerPrompt")]


@pytest.mark.parametrize("arg", ["--port", "--served-model-name=x", "--max-model-len", "--tp-size"])
def test_g10_managed_flags_rejected_in_extra_args(make_endpoint, arg):
    problems = validate_endpoint(make_endpoint(extraArgs=[arg]), "e")
    assert rules_at(problems) == [("G10", "e.extraArgs[0]")]


def test_g11_tensor_parallel_larger_than_instance(make_endpoint):
    problems = validate_endpoint(
        make_endpoint(instanceType="ml.g5.8xlarge", engineArgs={"tensorParallelSize": 4}), "endpoints[0]"
    )
    assert rules_at(problems) == [("G11", "endpoints[0].engineArgs.tensorParallelSize")]
    assert "1 GPU" in problems[0].message


def test_g11_cuda_visible_devices_rejected(make_endpoint):
    assert rules_at(validate_endpoint(make_endpoint(env={"CUDA_VISIBLE_DEVICES": "0"}), "e")) == [
        ("G11", "e.env.CUDA_VISIBLE_DEVICES")
    ]


def test_g11_unknown_instance_type(make_endpoint):
    problems = validate_endpoint(make_endpoint(instanceType="ml.m5.large"), "e")
    assert rules_at(problems) == [("G11", "e.instanceType")]
    assert "g5" in problems[0].fix


def test_g12_bfloat16_on_t4_rejected(make_endpoint):
    spec = make_endpoint(instanceType="g4dn.xlarge", engineArgs={"dtype": "bfloat16"})
    assert rules_at(validate_endpoint(spec, "e")) == [("G12", "e.engineArgs.dtype")]


def test_g17_kvaware_needs_completions(make_endpoint):
    spec = make_endpoint(intelligentRouting=True, routingStrategy="kvaware")
    assert rules_at(validate_endpoint(spec, "e")) == [("G17", "e.invocationEndpoint")]


def test_g2_duplicate_names_after_normalisation(make_endpoint):
    problems = validate_endpoints([make_endpoint(name="My_Model"), make_endpoint(name="my-model")])
    assert rules_at(problems) == [("G2", "endpoints[1].name")]
    assert "endpoints[0]" in problems[0].message


def test_g1_duplicate_after_truncation_is_impossible(make_endpoint):
    base = "x" * 60
    assert validate_endpoints([make_endpoint(name=base + "a"), make_endpoint(name=base + "b")]) == []


def test_same_name_in_two_namespaces_is_fine_outside_hyperpod(make_endpoint):
    # Everything the kubernetes backend names outside the namespace is per (namespace, name).
    pair = [
        make_endpoint(name="a", backend="kubernetes"),
        make_endpoint(name="a", namespace="other", backend="kubernetes"),
    ]
    assert validate_endpoints(pair) == []


def test_autoscaling_needs_consistent_bounds_and_a_trigger(make_endpoint):
    spec = make_endpoint(autoscaling={"minReplicas": 5, "maxReplicas": 2})
    assert rules_at(validate_endpoint(spec, "e")) == [
        ("CONFIG", "e.autoscaling.minReplicas"),
        ("CONFIG", "e.autoscaling"),
    ]


def test_prefetch_with_an_fsx_source_is_refused_not_dropped():
    spec = EndpointSpec.model_validate(
        {
            "name": "qwen3-4b",
            "model": "Qwen/Qwen3-4B",
            "engine": "vllm",
            "instanceType": "ml.g5.8xlarge",
            "prefetch": True,
            "modelSource": {"type": "fsx", "fileSystemId": "fs-0123456789abcdef0", "path": "qwen3-4b/"},
        }
    )
    (problem,) = [p for p in validate_endpoint(spec, "endpoints[0]") if p.path == "endpoints[0].hyperpod.prefetch"]
    assert (problem.rule, problem.value) == ("CONFIG", True) and "Fix: remove hyperpod.prefetch" in str(problem)


# ---------------------------------------------------------------- credentials where config cannot keep them


@pytest.mark.parametrize(
    "overrides, where",
    [
        (
            {"kvCache": {"l1": True, "l2LocalUrl": "redis://default:hunter2-pass@cache:6379"}},
            "e.hyperpod.kvCache.l2LocalUrl",
        ),
        # autoscaling.prometheus.serverAddress takes only the CRD's AMP workspace URL form, which has no user info.
        ({"env": {"CACHE_URL": "redis://u:p4ssw0rd-x@cache"}}, "e.env.CACHE_URL"),
        ({"extraArgs": ["--kv-transfer-config", '{"url": "redis://u:p4ssw0rd-x@cache"}']}, "e.extraArgs[1]"),
    ],
)
def test_a_url_with_user_info_is_a_config_error_that_does_not_print_it(make_endpoint, overrides, where):
    problems = [p for p in validate_endpoint(make_endpoint(**overrides), "e") if p.rule == "CONFIG"]
    assert [p.path for p in problems] == [where]
    line = str(problems[0])
    assert "[secret]@" in line and "tokenSecret" in line and "apiKey: true" in line
    assert not any(word in line for word in ("hunter2-pass", "tok-1234abcd", "p4ssw0rd-x"))


@pytest.mark.parametrize(
    "args, index, fix",
    [
        (["--hf-token", "hf_abcdefghijklmnopqrstuvwxyz0123456789"], 0, "modelSource.tokenSecret"),
        (["--max-log-len", "100", "--hf_token=tok-abcd1234"], 2, "modelSource.tokenSecret"),
        (["--token", "tok-abcd1234"], 0, "modelSource.tokenSecret"),
        (["--password=tok-abcd1234"], 0, "apiKey: true"),
        (["--admin-api-key", "tok-abcd1234"], 0, "apiKey: true"),
    ],
)
def test_a_credential_flag_in_extra_args_is_a_config_error_pointing_at_a_secret(make_endpoint, args, index, fix):
    problems = [p for p in validate_endpoint(make_endpoint(extraArgs=args), "e") if p.rule == "CONFIG"]
    assert [p.path for p in problems] == [f"e.extraArgs[{index}]"]
    line = str(problems[0])
    assert fix in line and "tok-abcd1234" not in line and "hf_abcdefghij" not in line


def test_api_key_in_extra_args_is_reported_once_by_g10(make_endpoint):
    problems = validate_endpoint(make_endpoint(extraArgs=["--api-key", "sk-abcdefghijklmnopqrstuvwxyz"]), "e")
    assert rules_at(problems) == [("G10", "e.extraArgs[0]")]
    assert "sk-abcdefghij" not in str(problems[0])


@pytest.mark.parametrize(
    "args",
    [
        ["--hf-token"],
        ["--tokenizer", "org/tok"],
        ["--max-num-batched-tokens", "8192"],
        ["--return-tokens-as-token-ids"],
    ],
)
def test_flags_that_carry_no_credential_pass(make_endpoint, args):
    assert [p for p in validate_endpoint(make_endpoint(extraArgs=args), "e") if p.rule == "CONFIG"] == []
