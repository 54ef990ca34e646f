"""G23: the model fits its GPUs. Numbers worked by hand from the published configs:

- meta-llama/Llama-3.1-8B-Instruct, https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json:
  32 layers, 32 heads, 8 KV heads, hidden 4096 (head_dim 128), bfloat16; 8,030,261,248 parameters, safetensors
  total_size 16,060,522,496 bytes. KV per token: 2 x 32 x 8 x 128 x 2 B = 131,072 B.
- meta-llama/Llama-3.1-70B-Instruct, https://huggingface.co/meta-llama/Llama-3.1-70B-Instruct/blob/main/config.json:
  80 layers, 64 heads, 8 KV heads, hidden 8192 (head_dim 128), bfloat16; 70,553,706,496 parameters = 141.1 GB.
  KV per token: 2 x 80 x 8 x 128 x 2 B = 327,680 B.
- Qwen/Qwen3-4B-Instruct-2507, https://huggingface.co/Qwen/Qwen3-4B-Instruct-2507/blob/main/config.json:
  36 layers, 32 heads, 8 KV heads, head_dim 128, hidden 2560, 262,144 positions, bfloat16; 4,022,468,096
  parameters, 8,044,936,192 bytes. KV per token: 2 x 36 x 8 x 128 x 2 B = 147,456 B.

One A10G (g5.xlarge): EC2 reports 22,888 MiB = 23,999,807,488 B; x 0.9 = 21,599,826,739 B; less the 2 GiB
(2,147,483,648 B) reserve. Llama-3.1-8B leaves 21,599,826,739 - 16,060,522,496 - 2,147,483,648 = 3,391,820,595 B
for the KV cache: 25,877 tokens, 25,872 in whole 16-token blocks; 3 sequences of 8192 tokens (1,073,741,824 B each).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from components.rules import fit, instances
from components.rules.model_facts import ModelFacts, to_lock_entry
from components.rules.spec import EndpointSpec
from stacks import config as stack_config
from stacks import model_lock
from stacks.tuning import grid as grid_mod


def facts(
    model,
    layers,
    heads,
    kv_heads,
    head_dim,
    hidden,
    positions,
    parameters,
    weight_bytes,
    quantization=None,
    dtype="bfloat16",
):
    return ModelFacts(
        model,
        f"https://huggingface.co/{model}/resolve/main/config.json",
        None,
        "LlamaForCausalLM",
        layers,
        heads,
        kv_heads,
        head_dim,
        hidden,
        positions,
        parameters,
        dtype,
        quantization,
        weight_bytes,
        None,
        "2026-12-06",
    )


LLAMA_8B = facts("meta-llama/Llama-3.1-8B-Instruct", 32, 32, 8, 128, 4096, 131072, 8_030_261_248, 16_060_522_496)
LLAMA_70B = facts("meta-llama/Llama-3.1-70B-Instruct", 80, 64, 8, 128, 8192, 131072, 70_553_706_496, 141_107_412_992)
QWEN3_4B = facts("Qwen/Qwen3-4B-Instruct-2507", 36, 32, 8, 128, 2560, 262144, 4_022_468_096, 8_044_936_192)


def endpoint(
    model="meta-llama/Llama-3.1-8B-Instruct", instance="g5.xlarge", engine="vllm", extra_args=(), **engine_args
):
    return EndpointSpec.model_validate(
        {
            "name": "ep",
            "model": model,
            "engine": engine,
            "instanceType": instance,
            "modelSource": {"type": "huggingface"},
            "engineArgs": engine_args,
            "extraArgs": list(extra_args),
        }
    )


def verdict(spec, model_facts):
    return fit.check(spec, model_facts, "endpoints[0]")


# ---------------------------------------------------------------- the incident and the arithmetic


def test_g23_llama_70b_on_one_a10g_at_131072_tokens_cannot_start_and_names_a_type_that_fits():
    """The incident: 70B on g5.xlarge with a 131072-token context planned clean and failed after bring-up."""
    result, problems = verdict(endpoint("meta-llama/Llama-3.1-70B-Instruct", maxModelLen=131072), LLAMA_70B)
    assert result.status == "fails"
    assert result.weight_bytes == 141_107_412_992
    assert result.kv_bytes_per_token == 327_680
    assert result.largest_max_model_len == 0  # the weights alone are over the budget
    (problem,) = problems
    assert (problem.rule, problem.severity, problem.path, problem.value) == (
        "G23",
        "error",
        "endpoints[0].instanceType",
        "g5.xlarge",
    )
    text = str(problem)
    assert "weights 141.1 GB" in text and "327,680 B/token x 131,072 tokens" in text
    assert "the weights alone do not fit" in text
    # p4d.24xlarge (8 x 40 GiB): 17.6 GB of weights per GPU + 5.4 GB of KV for one sequence fit; every type with
    # less GPU memory (g6e.12xlarge, g5.48xlarge: 178.8 GiB) does not.
    assert "use instanceType p4d.24xlarge" in problem.fix
    assert "maxModelLen" not in problem.fix and "tensorParallelSize" not in problem.fix


def test_g23_llama_8b_on_one_a10g_at_131072_tokens_needs_17_gb_of_kv_cache_and_does_not_fit():
    result, problems = verdict(endpoint(maxModelLen=131072), LLAMA_8B)
    assert result.status == "fails"
    assert result.weight_bytes == 16_060_522_496
    assert result.kv_bytes_per_token == 131_072
    assert result.kv_bytes_per_token * 131072 == 17_179_869_184  # 17.2 GB
    assert result.kv_capacity_bytes == 3_391_820_595
    (problem,) = problems
    assert problem.severity == "error"
    assert "131,072 B/token x 131,072 tokens (17.18 GB) = 33.24 GB needed" in problem.message
    # Fixes in order: the smallest known type (one L40S: 45,776 MiB), then the longest context that fits here.
    assert (
        problem.fix
        == "use instanceType g6e.xlarge (the smallest known type it fits); or set engineArgs.maxModelLen <= 25872"
    )


def test_g23_llama_8b_on_one_a10g_at_8192_tokens_fits_three_full_length_sequences():
    result, problems = verdict(endpoint(maxModelLen=8192), LLAMA_8B)
    assert (result.status, result.sequences, problems) == ("fits", 3, [])


@pytest.mark.parametrize(
    "max_model_len, status", [(25872, "fits"), (25877, "fits"), (25878, "fails"), (25888, "fails")]
)
def test_g23_at_the_edge_the_last_token_of_kv_cache_decides(max_model_len, status):
    """3,391,820,595 B / 131,072 B per token = 25,877.5 tokens."""
    result, problems = verdict(endpoint(maxModelLen=max_model_len), LLAMA_8B)
    assert result.status == status
    assert [p.severity for p in problems] == ([] if status == "fits" else ["error"])


def test_g23_the_fix_names_a_higher_tensor_parallel_size_when_the_instance_has_idle_gpus():
    """g5.12xlarge, tp 1: 3.39 GB of KV room; tp 2: 21.60 - 8.03 - 2.15 = 11.42 GB per GPU for 65,536 B/token x 131,072."""
    _, (problem,) = verdict(endpoint(instance="g5.12xlarge", maxModelLen=131072, tensorParallelSize=1), LLAMA_8B)
    assert problem.fix == (
        "use instanceType g6e.xlarge (the smallest known type it fits); or set engineArgs.tensorParallelSize: 2; "
        "or set engineArgs.maxModelLen <= 25872"
    )
    result, problems = verdict(endpoint(instance="g5.12xlarge", maxModelLen=131072, tensorParallelSize=2), LLAMA_8B)
    assert (result.status, problems) == ("fits", [])


def test_g23_a_larger_type_is_named_with_the_tensor_parallel_size_it_needs_when_one_is_set():
    _, (problem,) = verdict(
        endpoint(
            "meta-llama/Llama-3.1-70B-Instruct", instance="ml.g5.12xlarge", maxModelLen=131072, tensorParallelSize=1
        ),
        LLAMA_70B,
    )
    assert problem.fix.startswith(
        "use instanceType ml.p4d.24xlarge with engineArgs.tensorParallelSize: 8 (the smallest known type it fits)"
    )


def test_g23_the_default_tensor_parallel_size_is_every_gpu_of_the_instance():
    result, _ = verdict(endpoint(instance="ml.g5.12xlarge", maxModelLen=131072), LLAMA_8B)
    assert (result.gpus, result.status) == (4, "fits")
    assert result.kv_bytes_per_token == 131_072  # 2 KV heads per GPU x 4 GPUs


def test_g23_qwen3_4b_at_its_full_262144_context_does_not_fit_one_a10g_and_names_the_longest_that_does():
    """21,599,826,739 - 8,044,936,192 - 2,147,483,648 = 11,407,406,899 B / 147,456 B = 77,361 tokens -> 77,360.
    One L40S (g6e.xlarge) leaves 33.0 GB for 38.7 GB of KV; four T4s (g4dn.12xlarge, 64 GiB in all, tp 4) leave
    15.46 - 2.01 - 2.15 = 11.3 GB per GPU for 36,864 B/token x 262,144 = 9.66 GB."""
    result, (problem,) = verdict(
        endpoint("Qwen/Qwen3-4B-Instruct-2507", instance="ml.g5.8xlarge", maxModelLen=262144), QWEN3_4B
    )
    assert result.kv_bytes_per_token == 147_456
    assert result.largest_max_model_len == 77_360
    assert "set engineArgs.maxModelLen <= 77360" in problem.fix
    assert "use instanceType ml.g4dn.12xlarge" in problem.fix  # in the endpoint's own spelling


def test_g23_lower_gpu_memory_utilization_shrinks_the_budget():
    """At 0.8: 19,199,845,990 - 16,060,522,496 - 2,147,483,648 = 991,839,846 B, under one 8192-token sequence."""
    result, (problem,) = verdict(endpoint(maxModelLen=8192, gpuMemoryUtilization=0.8), LLAMA_8B)
    assert result.status == "fails"
    assert "maxModelLen <= 7552" in problem.fix  # 991,839,846 / 131,072 = 7,567 -> 7,552


# ---------------------------------------------------------------- dtype, quantization, KV cache dtype


def test_g23_an_fp8_kv_cache_halves_the_kv_bytes():
    """32768 tokens: 4.29 GB of bfloat16 KV does not fit 3.39 GB; 2.15 GB of fp8 KV does."""
    assert verdict(endpoint(maxModelLen=32768), LLAMA_8B)[0].status == "fails"
    result, problems = verdict(endpoint(maxModelLen=32768, extra_args=["--kv-cache-dtype", "fp8"]), LLAMA_8B)
    assert (result.kv_bytes_per_token, result.status, problems) == (65_536, "fits", [])


def test_g23_sglang_spells_the_kv_cache_dtype_flag_the_same():
    result, _ = verdict(
        endpoint(engine="sglang", maxModelLen=32768, extra_args=["--kv-cache-dtype=fp8_e5m2"]), LLAMA_8B
    )
    assert result.kv_bytes_per_token == 65_536


def test_g23_float32_cast_sizes_weights_from_the_parameter_count():
    result, _ = verdict(endpoint(maxModelLen=8192, dtype="float32"), LLAMA_8B)
    assert result.weight_bytes == 8_030_261_248 * 4
    assert result.kv_bytes_per_token == 262_144
    assert result.status == "fails"


def test_g23_a_float32_checkpoint_runs_in_16_bits_under_auto():
    fp32 = facts("org/fp32", 32, 32, 8, 128, 4096, 131072, 8_030_261_248, 32_121_044_992, dtype="float32")
    result, _ = verdict(endpoint("org/fp32", maxModelLen=8192), fp32)
    assert (result.weight_bytes, result.kv_bytes_per_token) == (16_060_522_496, 131_072)


def test_g23_online_fp8_quantization_sizes_weights_at_one_byte_per_parameter():
    """--quantization fp8: 8.03 GB of weights leave 11.42 GB, room for 65536 tokens (8.59 GB); bfloat16 leaves 3.39 GB."""
    assert verdict(endpoint(maxModelLen=65536), LLAMA_8B)[0].status == "fails"
    result, problems = verdict(endpoint(maxModelLen=65536, extra_args=["--quantization", "fp8"]), LLAMA_8B)
    assert (result.weight_bytes, result.status, problems) == (8_030_261_248, "fits", [])


def test_g23_a_quantized_checkpoint_is_sized_from_its_own_files():
    awq = facts(
        "org/llama-70b-awq",
        80,
        64,
        8,
        128,
        8192,
        131072,
        70_553_706_496,
        39_772_000_000,
        quantization="awq",
        dtype="float16",
    )
    result, _ = verdict(endpoint("org/llama-70b-awq", instance="g6e.12xlarge", maxModelLen=8192), awq)
    assert result.weight_bytes == 39_772_000_000
    assert result.status == "fits"


def test_g23_another_quantization_flag_on_an_unquantized_checkpoint_is_unchecked_not_guessed():
    result, problems = verdict(endpoint(maxModelLen=8192, extra_args=["-q", "bitsandbytes"]), LLAMA_8B)
    assert (result.status, problems) == ("unchecked", [])
    assert "--quantization bitsandbytes on a bfloat16 checkpoint" in result.reason


def test_g23_pipeline_parallelism_is_unchecked_not_guessed():
    for engine, args in (("vllm", ["-pp", "2"]), ("sglang", ["--pipeline-parallel-size", "2"])):
        result, problems = verdict(endpoint(engine=engine, maxModelLen=131072, extra_args=args), LLAMA_8B)
        assert (result.status, problems) == ("unchecked", []), engine
        assert result.reason.startswith("pipeline-parallel size 2")


# ---------------------------------------------------------------- maxNumSeqs, unchecked


def test_g23_fewer_full_length_sequences_than_the_configured_max_num_seqs_is_a_warning_with_the_count():
    result, (problem,) = verdict(endpoint(maxModelLen=8192, maxNumSeqs=4), LLAMA_8B)
    assert result.status == "fits"
    assert (problem.severity, problem.path, problem.value) == ("warning", "endpoints[0].engineArgs.maxNumSeqs", 4)
    assert "holds 3 sequence(s) of 8192 tokens, not 4" in problem.message
    assert verdict(endpoint(maxModelLen=8192, maxNumSeqs=3), LLAMA_8B)[1] == []


def test_g23_the_stack_default_max_num_seqs_is_not_held_against_the_endpoint():
    assert verdict(endpoint(maxModelLen=8192), LLAMA_8B)[1] == []


def test_g23_no_lock_entry_is_unchecked_never_a_pass_and_not_an_error():
    result, problems = verdict(endpoint(maxModelLen=131072), None)
    assert (result.status, problems) == ("unchecked", [])
    assert result.reason == "no entry for meta-llama/Llama-3.1-8B-Instruct in models.lock.json"


def test_g23_an_unknown_instance_type_is_unchecked_not_guessed():
    result, problems = verdict(endpoint(instance="g7.xlarge", maxModelLen=8192), LLAMA_8B)
    assert (result.status, problems) == ("unchecked", [])
    assert "'g7.xlarge' is not in the GPU table" in result.reason


def test_g23_the_lock_entry_is_found_by_the_hugging_face_model_id():
    spec = EndpointSpec.model_validate(
        {
            "name": "ep",
            "model": "my-llama",
            "engine": "vllm",
            "instanceType": "g5.xlarge",
            "modelSource": {"type": "huggingface", "modelId": "meta-llama/Llama-3.1-8B-Instruct"},
        }
    )
    assert fit.facts_for(spec, {LLAMA_8B.model: LLAMA_8B}) is LLAMA_8B


# ---------------------------------------------------------------- instance facts


def test_g23_every_known_instance_type_has_ec2s_gpu_count_and_memory():
    """getmoto/moto@5.2.5 moto/ec2/resources/instance_types.json.gz: DescribeInstanceTypes' GpuInfo per type."""
    moto = pytest.importorskip("moto")
    ec2 = json.loads(gzip.open(Path(moto.__file__).parent / "ec2/resources/instance_types.json.gz").read())
    for name, inst in instances.INSTANCE_TYPES.items():
        (gpu,) = ec2[name]["GpuInfo"]["Gpus"]
        assert (inst.gpus, inst.gpu.memory_mib) == (gpu["Count"], gpu["MemoryInfo"]["SizeInMiB"]), name


def test_g23_a10g_memory_is_ec2s_22888_mib():
    assert instances.lookup("ml.g5.xlarge").gpu.memory_mib == 22_888
    assert instances.lookup("p5e.48xlarge").gpu.memory_mib == 144_384


# ---------------------------------------------------------------- the lock file, the stack verdict, grid pruning


def write_lock(directory: Path, *entries: ModelFacts) -> Path:
    path = directory / "models.lock.json"
    path.write_text(json.dumps({"schema": 1, "models": {f.model: to_lock_entry(f) for f in entries}}))
    return path


def test_g23_read_lock_missing_file_is_empty(tmp_path):
    assert model_lock.read_lock(tmp_path) == {}


def test_g23_read_lock_reads_entries(tmp_path):
    write_lock(tmp_path, LLAMA_8B, LLAMA_70B)
    assert model_lock.read_lock(tmp_path) == {LLAMA_8B.model: LLAMA_8B, LLAMA_70B.model: LLAMA_70B}


@pytest.mark.parametrize(
    "text, says",
    [
        ("{not json", "not valid JSON"),
        ('{"schema": 2, "models": {}}', "schema = 2"),
        ('{"schema": 1, "models": []}', "models = []"),
        ('{"schema": 1, "models": {"m/x": {"layers": 1}}}', "models.m/x.sourceUrl: missing"),
    ],
)
def test_g23_a_bad_lock_file_is_one_line_naming_the_problem(tmp_path, text, says):
    (tmp_path / "models.lock.json").write_text(text)
    with pytest.raises(model_lock.ModelLockError) as err:
        model_lock.read_lock(tmp_path)
    assert says in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "models.lock.json"))


def test_g23_an_edited_lock_file_is_read_again(tmp_path):
    write_lock(tmp_path, LLAMA_8B)
    assert set(model_lock.read_lock(tmp_path)) == {LLAMA_8B.model}
    path = write_lock(tmp_path, LLAMA_8B, QWEN3_4B)
    path.touch()
    assert set(model_lock.read_lock(tmp_path)) == {LLAMA_8B.model, QWEN3_4B.model}


def test_g23_the_stack_verdict_refuses_an_endpoint_that_cannot_start(tmp_path):
    write_lock(tmp_path, LLAMA_70B)
    checked = stack_config.validate_stack(
        [endpoint("meta-llama/Llama-3.1-70B-Instruct", maxModelLen=131072)], None, stack="dev", project_dir=tmp_path
    )
    assert [(p.rule, p.severity) for p in checked.problems if p.rule == "G23"] == [("G23", "error")]
    assert [f.status for f in checked.fits] == ["fails"]


def test_g23_the_stack_verdict_reports_a_bad_lock_file_once(tmp_path):
    (tmp_path / "models.lock.json").write_text("[]")
    checked = stack_config.validate_stack([endpoint(maxModelLen=8192)], None, stack="dev", project_dir=tmp_path)
    (problem,) = [p for p in checked.problems if p.rule == "G23"]
    assert (problem.path, problem.severity) == ("models.lock.json", "error")


def test_g23_grid_pruning_spends_no_trial_on_a_point_that_cannot_start(tmp_path):
    write_lock(tmp_path, LLAMA_8B)
    grid = grid_mod.GridSpec.model_validate(
        {
            "name": "g",
            "base": {
                "name": "ep",
                "model": LLAMA_8B.model,
                "engine": "vllm",
                "instanceType": "g5.xlarge",
                "modelSource": {"type": "huggingface"},
            },
            "parameters": {"engineArgs.maxModelLen": [8192, 131072]},
            "pulumi": {"projectDir": str(tmp_path)},
        }
    )
    short, long = grid_mod.expand(grid)
    assert not short.pruned
    assert long.pruned
    assert [p.rule for p in long.problems if p.severity == "error"] == ["G23"]


def test_g23_the_plan_shows_fit_unchecked_for_an_endpoint_without_facts_and_the_numbers_for_one_with():
    from types import SimpleNamespace

    from stacks.plan import fit_lines

    known, unknown = endpoint(maxModelLen=8192), endpoint("org/unlocked", maxModelLen=8192)
    config = SimpleNamespace(
        endpoints=[known, unknown], fits=[fit.estimate(known, LLAMA_8B), fit.estimate(unknown, None)]
    )
    first, second = fit_lines(config)
    assert "fit: endpoints[0] ep on g5.xlarge: 3 sequence(s) of 8192 tokens at once; weights 16.06 GB" in first
    assert second == "  fit: unchecked: endpoints[1] ep: no entry for org/unlocked in models.lock.json"


# ---------------------------------------------------------------- the rendered object (policy pack)


def engine_object(spec: EndpointSpec) -> dict:
    """The endpoint's InferenceEndpointConfig (its Ingress is the other rendered object)."""
    from components.rules.backends import render

    return next(o for o in render(spec, region="us-east-1") if o["kind"] == "InferenceEndpointConfig")


def rendered(**engine_args):
    spec = endpoint("meta-llama/Llama-3.1-8B-Instruct", instance="ml.g5.8xlarge", **engine_args)
    return fit.annotate([engine_object(spec)], LLAMA_8B)[0]


def test_g23_the_engine_object_carries_the_facts_and_passes_as_rendered():
    obj = rendered(maxModelLen=8192)
    assert fit.FACTS_ANNOTATION in obj["metadata"]["annotations"]
    assert fit.check_manifest(obj) == []


def test_g23_a_hand_edited_max_model_len_on_the_object_is_caught():
    obj = rendered(maxModelLen=8192)
    args = obj["spec"]["worker"]["args"]
    args[args.index("--max-model-len") + 1] = "131072"
    (problem,) = fit.check_manifest(obj)
    assert (problem.path, problem.value, problem.severity) == ("spec.worker.args[--max-model-len]", 131072, "error")
    assert "set --max-model-len <= 25872" in problem.fix


def test_g23_an_annotation_that_is_not_model_facts_is_reported():
    obj = rendered(maxModelLen=8192)
    obj["metadata"]["annotations"][fit.FACTS_ANNOTATION] = '{"model": "x", "layers": "many"}'
    (problem,) = fit.check_manifest(obj)
    assert problem.rule == "G23" and "not the model facts the stack records" in problem.message


def test_g23_without_facts_the_objects_are_left_as_rendered():
    obj = engine_object(endpoint(instance="ml.g5.8xlarge", maxModelLen=8192))
    assert fit.annotate([obj], None) == [obj]
    assert fit.check_manifest(obj) == []


@pytest.mark.parametrize("backend", ["hyperpod", "kubernetes", "ome", "kserve", "llmisvc"])
def test_g23_a_hand_edited_max_model_len_is_caught_on_every_backends_engine_object(backend):
    """The object check reads engine containers through the registry's `engine_views`: 131072 tokens on a
    g5.8xlarge (one 24 GB A10G) is caught whichever backend rendered the object."""
    from components.rules.backends import BACKENDS, reader, render

    spec = endpoint(instance="ml.g5.8xlarge", maxModelLen=8192).model_copy(update={"backend": backend})
    (obj,) = [
        o
        for o in fit.annotate(render(spec, region="us-east-1"), LLAMA_8B)
        if fit.FACTS_ANNOTATION in o["metadata"].get("annotations", {})
    ]
    assert fit.check_manifest(obj) == []
    (view,) = BACKENDS[backend].engine_views(obj)
    args = reader.at(obj, view.path)["args"]
    args[args.index("--max-model-len") + 1] = "131072"
    (problem,) = fit.check_manifest(obj)
    assert (problem.rule, problem.path, problem.value) == ("G23", f"{view.path}.args[--max-model-len]", 131072)
