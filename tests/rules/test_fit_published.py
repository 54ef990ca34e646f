"""G23 on the shipped lock entries of real models and real instance types, each verdict worked by hand from the
model's published config.json and safetensors size (docs/models-sources.md says where each number was read).

Per GPU of one replica (components/rules/fit.py): budget = int(EC2 GPU MiB x 2**20 x 0.9); weights = weightBytes / tp;
reserve = 2 GiB = 2,147,483,648 B; KV per token = 2 x layers x max(1, kvHeads // tp) x headDim x 2 B (16-bit).
Budgets at the stack's default gpuMemoryUtilization 0.9:

    A10G  22,888 MiB  -> 21,599,826,739 B      L40S  45,776 MiB  -> 43,199,653,478 B
    T4    16,384 MiB  -> 15,461,882,265 B      A100 40,960 MiB  -> 38,654,705,664 B
    H200 144,384 MiB  -> 136,257,837,465 B
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.rules import fit
from components.rules.spec import EndpointSpec
from stacks import model_lock

LOCK = model_lock.read_lock(Path(__file__).resolve().parents[2])


def endpoint(model, instance, **engine_args):
    return EndpointSpec.model_validate(
        {
            "name": "ep",
            "model": model,
            "engine": "vllm",
            "instanceType": instance,
            "modelSource": {"type": "huggingface", "modelId": model},
            "engineArgs": engine_args,
        }
    )


def verdict(model, instance, **engine_args):
    spec = endpoint(model, instance, **engine_args)
    return fit.check(spec, fit.facts_for(spec, LOCK), "endpoints[0]")


def test_g23_llama_3_3_70b_bf16_fits_eight_a10g_at_8192_tokens_with_five_sequences():
    """80 layers, 8 KV heads, head_dim 128; 141,107,412,992 B of weights / 8 = 17,638,426,624 B per GPU.
    21,599,826,739 - 17,638,426,624 - 2,147,483,648 = 1,813,916,467 B for KV; 2 x 80 x 1 x 128 x 2 = 40,960 B per
    token per GPU; one 8192-token sequence 335,544,320 B: 5 of them."""
    result, problems = verdict(
        "meta-llama/Llama-3.3-70B-Instruct", "ml.g5.48xlarge", tensorParallelSize=8, maxModelLen=8192
    )
    assert (result.status, result.gpus, problems) == ("fits", 8, [])
    assert result.weight_bytes == 141_107_412_992
    assert result.kv_capacity_bytes == 8 * 1_813_916_467
    assert result.kv_bytes_per_token == 8 * 40_960
    assert result.sequences == 5


@pytest.mark.parametrize(
    "max_model_len, status", [(44_272, "fits"), (44_284, "fits"), (44_288, "fails"), (131_072, "fails")]
)
def test_g23_llama_3_3_70b_on_eight_a10g_the_edge_is_44284_tokens(max_model_len, status):
    """1,813,916,467 B / 40,960 B per token = 44,284.1 tokens (44,272 in whole 16-token blocks)."""
    result, problems = verdict(
        "meta-llama/Llama-3.3-70B-Instruct", "ml.g5.48xlarge", tensorParallelSize=8, maxModelLen=max_model_len
    )
    assert result.status == status
    assert result.largest_max_model_len == 44_272
    assert [p.severity for p in problems] == ([] if status == "fits" else ["error"])


def test_g23_qwen2_5_72b_bf16_weights_alone_overflow_four_a10g():
    """145,412,407,296 B / 4 = 36,353,101,824 B per GPU against a 21,599,826,739 B budget."""
    result, (problem,) = verdict("Qwen/Qwen2.5-72B-Instruct", "g5.12xlarge", tensorParallelSize=4, maxModelLen=8192)
    assert (result.status, result.largest_max_model_len) == ("fails", 0)
    assert result.weight_bytes == 145_412_407_296
    assert "the weights alone do not fit" in problem.message


def test_g23_mixtral_8x7b_does_not_fit_four_a10g_but_fits_four_l40s():
    """All eight experts are resident: 93,405,585,408 B / 4 = 23,351,396,352 B per GPU, over the A10G's 21.6 GB.
    Four L40S: 43,199,653,478 - 23,351,396,352 - 2,147,483,648 = 17,700,773,478 B; 8 KV heads / 4 = 2 per GPU,
    2 x 32 x 2 x 128 x 2 = 32,768 B per token; a 32768-token sequence 1,073,741,824 B: 16 of them."""
    result, (problem,) = verdict("mistralai/Mixtral-8x7B-Instruct-v0.1", "g5.12xlarge", maxModelLen=32768)
    assert (result.status, result.gpus, result.largest_max_model_len) == ("fails", 4, 0)
    result, problems = verdict("mistralai/Mixtral-8x7B-Instruct-v0.1", "g6e.12xlarge", maxModelLen=32768)
    assert (result.status, problems, result.sequences) == ("fits", [], 16)
    assert result.kv_capacity_bytes == 4 * 17_700_773_478


def test_g23_llama_3_1_405b_bf16_does_not_fit_p4d_and_fits_p5e():
    """811,706,777,600 B / 8 = 101,463,347,200 B per GPU: over an A100 40 GB's 38,654,705,664 B budget. On eight
    H200: 136,257,837,465 - 101,463,347,200 - 2,147,483,648 = 32,647,006,617 B; 2 x 126 x 1 x 128 x 2 = 64,512 B
    per token; a 131072-token sequence 8,455,716,864 B: 3 of them."""
    for model in ("meta-llama/Llama-3.1-405B-Instruct", "meta-llama/Llama-3.1-405B"):
        result, (problem,) = verdict(model, "p4d.24xlarge", maxModelLen=8192)
        assert (result.status, result.largest_max_model_len) == ("fails", 0)
        assert "the weights alone do not fit" in problem.message
        result, problems = verdict(model, "p5e.48xlarge", maxModelLen=131072)
        assert (result.status, problems, result.sequences) == ("fits", [], 3)
        assert result.kv_capacity_bytes == 8 * 32_647_006_617


def test_g23_gemma_2_27b_does_not_fit_one_l40s_and_fits_four():
    """27,227,128,320 parameters in bf16 = 54,454,256,640 B, over one L40S's 43,199,653,478 B. Over four:
    13,613,564,160 B per GPU, 27,438,605,670 B left; 16 KV heads / 4 = 4 per GPU with head_dim 128 (config head_dim,
    not 4608 / 32): 2 x 46 x 4 x 128 x 2 = 94,208 B per token; 8192 tokens 771,751,936 B: 35 sequences."""
    result, (problem,) = verdict("google/gemma-2-27b-it", "g6e.xlarge", maxModelLen=8192)
    assert (result.status, result.largest_max_model_len) == ("fails", 0)
    result, problems = verdict("google/gemma-2-27b-it", "g6e.12xlarge", maxModelLen=8192)
    assert (result.status, problems) == ("fits", [])
    assert result.kv_bytes_per_token == 4 * 94_208
    assert result.sequences == 35


@pytest.mark.parametrize("max_model_len, status", [(37_808, "fits"), (37_813, "fits"), (37_814, "fails")])
def test_g23_mistral_7b_on_one_a10g_holds_one_32768_token_sequence_and_the_edge_is_37813(max_model_len, status):
    """14,496,047,104 B of weights: 21,599,826,739 - 14,496,047,104 - 2,147,483,648 = 4,956,295,987 B; 2 x 32 x 8 x
    128 x 2 = 131,072 B per token: 37,813.7 tokens, 37,808 in whole blocks."""
    result, _ = verdict("mistralai/Mistral-7B-Instruct-v0.3", "g5.xlarge", maxModelLen=max_model_len)
    assert result.status == status
    assert result.largest_max_model_len == 37_808
    result, _ = verdict("mistralai/Mistral-7B-Instruct-v0.3", "g5.xlarge", maxModelLen=32768)
    assert (result.status, result.sequences) == ("fits", 1)


@pytest.mark.parametrize("max_model_len, status", [(60_064, "fits"), (60_080, "fails"), (131_072, "fails")])
def test_g23_llama_3_2_3b_on_one_t4_stops_short_of_its_131072_positions(max_model_len, status):
    """6,425,499,648 B of weights: 15,461,882,265 - 6,425,499,648 - 2,147,483,648 = 6,888,898,969 B; 2 x 28 x 8 x
    128 x 2 = 114,688 B per token: 60,066 tokens, 60,064 in whole blocks."""
    result, _ = verdict("meta-llama/Llama-3.2-3B-Instruct", "g4dn.xlarge", maxModelLen=max_model_len)
    assert (result.status, result.largest_max_model_len) == (status, 60_064)


def test_g23_llama_3_2_1b_on_one_t4_holds_two_full_131072_token_sequences():
    """head_dim 64: 2 x 16 x 8 x 64 x 2 = 32,768 B per token, 4,294,967,296 B per 131072-token sequence;
    15,461,882,265 - 2,471,628,800 - 2,147,483,648 = 10,842,769,817 B left."""
    result, problems = verdict("meta-llama/Llama-3.2-1B-Instruct", "g4dn.xlarge", maxModelLen=131072)
    assert (result.status, problems, result.sequences, result.kv_bytes_per_token) == ("fits", [], 2, 32_768)


def test_g23_qwen3_235b_a22b_fits_eight_h200_with_its_four_kv_heads_replicated():
    """All 128 experts resident: 470,187,269,120 B / 8 = 58,773,408,640 B per GPU; 4 KV heads over 8 GPUs keep one
    each: 2 x 94 x 1 x 128 x 2 = 48,128 B per token per GPU. 136,257,837,465 - 58,773,408,640 - 2,147,483,648 =
    75,336,945,177 B; a 40960-token sequence 1,971,322,880 B: 38 of them."""
    result, problems = verdict("Qwen/Qwen3-235B-A22B", "p5e.48xlarge", maxModelLen=40960)
    assert (result.status, problems, result.sequences) == ("fits", [], 38)
    assert result.kv_bytes_per_token == 8 * 48_128


@pytest.mark.parametrize(
    "max_model_len, status",
    [(65_536, "fits"), (115_776, "fits"), (115_785, "fits"), (115_786, "fails"), (131_072, "fails")],
)
def test_g23_gpt_oss_20b_is_sized_from_its_mxfp4_files_on_one_a10g(max_model_len, status):
    """Its safetensors hold 13,761,264,768 B (MXFP4 experts), not 20,914,757,184 parameters x 2 B. 21,599,826,739 -
    13,761,264,768 - 2,147,483,648 = 5,691,078,323 B; 24 layers, 8 KV heads, head_dim 64: 2 x 24 x 8 x 64 x 2 =
    49,152 B per token (every layer counted at full length): 115,785 tokens, 115,776 in whole blocks."""
    result, _ = verdict("openai/gpt-oss-20b", "g5.xlarge", maxModelLen=max_model_len)
    assert (result.status, result.weight_bytes, result.largest_max_model_len) == (status, 13_761_264_768, 115_776)
    assert result.kv_bytes_per_token == 49_152


def test_g23_mistral_small_24b_kv_uses_the_config_head_dim_128_not_hidden_over_heads():
    """hidden 5120 / 32 heads would be 160; config.json sets head_dim 128. Two L40S (g6e.12xlarge has four; tp 2):
    47,144,806,400 / 2 = 23,572,403,200 B per GPU; 43,199,653,478 - 23,572,403,200 - 2,147,483,648 = 17,479,766,630 B;
    8 KV heads / 2 = 4 per GPU: 2 x 40 x 4 x 128 x 2 = 81,920 B per token; 32768 tokens 2,684,354,560 B: 6 sequences."""
    result, problems = verdict(
        "mistralai/Mistral-Small-24B-Instruct-2501", "g6e.12xlarge", tensorParallelSize=2, maxModelLen=32768
    )
    assert (result.status, problems, result.sequences) == ("fits", [], 6)
    assert result.kv_bytes_per_token == 2 * 81_920


def test_g23_phi_3_mini_without_grouped_kv_heads_fills_one_a10g_at_4096_tokens():
    """32 KV heads (no grouping), head_dim 3072 / 32 = 96: 2 x 32 x 32 x 96 x 2 = 393,216 B per token. 7,642,159,104 B
    of weights: 21,599,826,739 - 7,642,159,104 - 2,147,483,648 = 11,810,183,987 B; a 4096-token sequence
    1,610,612,736 B: 7 of them."""
    result, problems = verdict("microsoft/Phi-3-mini-4k-instruct", "g5.xlarge", maxModelLen=4096)
    assert (result.status, problems, result.sequences, result.kv_bytes_per_token) == ("fits", [], 7, 393_216)
