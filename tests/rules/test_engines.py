"""G3, G5, G6, G10, G12: engine profiles and argument building."""

import pytest

from components.rules import engines, instances


@pytest.mark.parametrize(
    "engine,image,port",
    [
        ("vllm", "763104351884.dkr.ecr.us-east-1.amazonaws.com/vllm:0.11-gpu-sagemaker", 8000),
        ("sglang", "763104351884.dkr.ecr.us-east-1.amazonaws.com/sglang:0.5-gpu-sagemaker", 8080),
        ("sglang", "lmsysorg/sglang:v0.5.19-cu129", 30000),
        ("vllm", "vllm/vllm-openai:v0.11.0", 8000),
        ("vllm", "lmcache/vllm-openai:v0.3.7", 8000),
    ],
)
def test_g3_default_port_follows_the_image(engine, image, port):
    assert engines.default_port(engine, image) == port


def test_g3_sglang_dlc_is_not_8000():
    # The probe assumed 8000; the SGLang DLC listens on 8080.
    assert engines.default_port("sglang", "123.dkr.ecr.us-east-1.amazonaws.com/sglang-sagemaker:latest") == 8080


def test_g5_served_model_name_is_the_last_segment():
    assert engines.served_model_name("Qwen/Qwen3-4B-Instruct-2507") == "Qwen3-4B-Instruct-2507"
    assert engines.served_model_name("qwen3-0.6b") == "qwen3-0.6b"


def test_g5_full_command_and_served_name_in_args():
    args = engines.build_args("vllm", "/opt/ml/model", "Qwen3-4B-Instruct-2507", 8000, {})
    parsed = engines.parse_args(args)
    assert parsed["--served-model-name"] == "Qwen3-4B-Instruct-2507"
    assert parsed["--model"] == "/opt/ml/model"
    assert parsed["--port"] == "8000"
    assert engines.VLLM.command == ["python3", "-m", "vllm.entrypoints.openai.api_server"]


def test_g6_sglang_always_enables_metrics():
    args = engines.build_args("sglang", "/opt/ml/model", "m", 30000, {})
    assert "--enable-metrics" in args
    assert "--model-path" in args


@pytest.mark.parametrize(
    "key,value,vllm_args,sglang_args",
    [
        ("max_model_len", 12288, ["--max-model-len", "12288"], ["--context-length", "12288"]),
        ("tensor_parallel_size", 2, ["--tensor-parallel-size", "2"], ["--tp-size", "2"]),
        ("gpu_memory_utilization", 0.9, ["--gpu-memory-utilization", "0.9"], ["--mem-fraction-static", "0.9"]),
        ("max_num_seqs", 64, ["--max-num-seqs", "64"], ["--max-running-requests", "64"]),
        ("enable_prefix_caching", True, ["--enable-prefix-caching"], []),
        ("enable_prefix_caching", False, ["--no-enable-prefix-caching"], ["--disable-radix-cache"]),
        ("enforce_eager", True, ["--enforce-eager"], ["--disable-cuda-graph"]),
        (
            "tool_call_parser",
            "hermes",
            ["--tool-call-parser", "hermes", "--enable-auto-tool-choice"],
            ["--tool-call-parser", "hermes"],
        ),
    ],
)
def test_g10_parameter_map(key, value, vllm_args, sglang_args):
    assert engines.param_args("vllm", {key: value}) == vllm_args
    assert engines.param_args("sglang", {key: value}) == sglang_args


def test_g10_parameter_the_engine_lacks_raises():
    with pytest.raises(ValueError, match="limit_mm_per_prompt"):
        engines.param_args("sglang", {"limit_mm_per_prompt": '{"image": 2}'})


def test_g10_defaults_when_unset():
    # No max_model_len meant a 262144-token KV cache and OOM.
    resolved = engines.resolve_params("vllm", {}, instances.lookup("ml.g5.2xlarge"))
    assert resolved["max_model_len"] == 12288
    assert resolved["gpu_memory_utilization"] == 0.9
    assert resolved["max_num_seqs"] == 256
    assert resolved["tensor_parallel_size"] == 1
    assert "max_num_seqs" not in engines.resolve_params("sglang", {}, None)


def test_g10_user_values_win_over_defaults():
    assert engines.resolve_params("vllm", {"max_model_len": 4096}, None)["max_model_len"] == 4096


def test_g12_t4_gets_flashinfer_sampler_off_and_float16():
    t4 = instances.lookup("g4dn.xlarge")
    assert engines.instance_env("vllm", t4)["VLLM_USE_FLASHINFER_SAMPLER"] == "0"
    assert engines.resolve_params("vllm", {}, t4)["dtype"] == "float16"
    assert engines.instance_env("vllm", instances.lookup("g5.xlarge")) == {}


@pytest.mark.parametrize(
    "name,gpus",
    [
        ("ml.g4dn.12xlarge", 4),
        ("g5.xlarge", 1),
        ("ml.g5.48xlarge", 8),
        ("g6.12xlarge", 4),
        ("ml.g6e.2xlarge", 1),
        ("p4d.24xlarge", 8),
        ("ml.p4de.24xlarge", 8),
        ("p5.48xlarge", 8),
        ("ml.p5e.48xlarge", 8),
        ("p5en.48xlarge", 8),
    ],
)
def test_g11_gpu_table_both_spellings(name, gpus):
    assert instances.lookup(name).gpus == gpus
    assert instances.lookup(instances.ec2_name(name)) == instances.lookup(instances.sagemaker_name(name))
