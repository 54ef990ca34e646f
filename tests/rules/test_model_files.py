"""config.json and safetensors metadata -> the lock entry's facts (components/rules/model_files.py), with the
values the checkpoints publish: Qwen/Qwen3-8B and meta-llama/Llama-3.1-70B-Instruct config.json fields,
their indexes' total_size, and Qwen/Qwen3-0.6B's single-file header (751,632,384 BF16 parameters)."""

from __future__ import annotations

import pytest

from components.rules.model_files import ModelFilesError, facts, header_length

# Qwen/Qwen3-8B config.json (the fields the facts read).
QWEN3_8B = {
    "architectures": ["Qwen3ForCausalLM"],
    "head_dim": 128,
    "hidden_size": 4096,
    "max_position_embeddings": 40960,
    "model_type": "qwen3",
    "num_attention_heads": 32,
    "num_hidden_layers": 36,
    "num_key_value_heads": 8,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "vocab_size": 151936,
}
# meta-llama/Llama-3.1-70B-Instruct config.json: no head_dim, so it is hidden_size / heads.
LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "max_position_embeddings": 131072,
    "num_attention_heads": 64,
    "num_hidden_layers": 80,
    "num_key_value_heads": 8,
    "torch_dtype": "bfloat16",
    "vocab_size": 128256,
}


def lock(config, **kw):
    kw.setdefault("locked_at", "2026-12-06")
    return facts("org/model", "https://huggingface.co/org/model/blob/abc/config.json", config, **kw)


def test_qwen3_8b_from_its_index_bf16_total_size_over_two_bytes():
    got = lock(QWEN3_8B, index={"metadata": {"total_size": 16381470720}, "weight_map": {}})
    assert (got.layers, got.attention_heads, got.kv_heads, got.head_dim, got.hidden_size) == (36, 32, 8, 128, 4096)
    assert got.max_position_embeddings == 40960 and got.dtype == "bfloat16" and got.quantization is None
    assert got.weight_bytes == 16381470720
    assert got.parameters == 8190735360  # the hub's published BF16 count for Qwen/Qwen3-8B
    assert got.architecture == "Qwen3ForCausalLM"


def test_llama_70b_head_dim_from_hidden_size_and_kv_heads_from_config():
    got = lock(LLAMA_70B, index={"metadata": {"total_size": 141107412992}})
    assert got.head_dim == 128 and got.kv_heads == 8 and got.layers == 80
    assert got.parameters == 70553706496


def test_kv_heads_default_to_attention_heads_when_config_has_none():
    config = {k: v for k, v in LLAMA_70B.items() if k != "num_key_value_heads"}
    assert lock(config, index={"metadata": {"total_size": 2}}).kv_heads == 64


def header(tensors):
    """A safetensors header: name -> (dtype, shape), laid out one after another."""
    sizes = {"BF16": 2, "F16": 2, "F32": 4, "I32": 4, "I64": 8, "F8_E4M3": 1, "U8": 1}
    out, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for d in shape:
            n *= d
        out[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    return out


def qwen3_0_6b_header():
    """Every tensor of Qwen/Qwen3-0.6B's model.safetensors (28 layers, hidden 1024, 16/8 heads of 128,
    intermediate 3072, vocab 151936, lm_head stored although tied)."""
    tensors = {
        "model.embed_tokens.weight": ("BF16", [151936, 1024]),
        "lm_head.weight": ("BF16", [151936, 1024]),
        "model.norm.weight": ("BF16", [1024]),
    }
    for i in range(28):
        p = f"model.layers.{i}."
        tensors.update(
            {
                p + "self_attn.q_proj.weight": ("BF16", [2048, 1024]),
                p + "self_attn.k_proj.weight": ("BF16", [1024, 1024]),
                p + "self_attn.v_proj.weight": ("BF16", [1024, 1024]),
                p + "self_attn.o_proj.weight": ("BF16", [1024, 2048]),
                p + "self_attn.q_norm.weight": ("BF16", [128]),
                p + "self_attn.k_norm.weight": ("BF16", [128]),
                p + "mlp.gate_proj.weight": ("BF16", [3072, 1024]),
                p + "mlp.up_proj.weight": ("BF16", [3072, 1024]),
                p + "mlp.down_proj.weight": ("BF16", [1024, 3072]),
                p + "input_layernorm.weight": ("BF16", [1024]),
                p + "post_attention_layernorm.weight": ("BF16", [1024]),
            }
        )
    return header(tensors)


def test_single_file_checkpoint_counts_shapes_and_data_offsets():
    config = {
        **QWEN3_8B,
        "hidden_size": 1024,
        "num_attention_heads": 16,
        "num_hidden_layers": 28,
        "tie_word_embeddings": True,
    }
    got = lock(config, headers={"model.safetensors": qwen3_0_6b_header()})
    assert got.parameters == 751632384  # Qwen/Qwen3-0.6B on the hub: BF16 751632384
    assert got.weight_bytes == 751632384 * 2


def test_multimodal_text_config_wins_over_the_top_level():
    # Qwen3-VL-4B-Instruct's config.json keeps the language model under text_config.
    config = {
        "architectures": ["Qwen3VLForConditionalGeneration"],
        "model_type": "qwen3_vl",
        "text_config": {
            "dtype": "bfloat16",
            "head_dim": 128,
            "hidden_size": 2560,
            "max_position_embeddings": 262144,
            "num_attention_heads": 32,
            "num_hidden_layers": 36,
            "num_key_value_heads": 8,
        },
        "vision_config": {"hidden_size": 1024, "num_heads": 16, "depth": 24},
    }
    got = lock(config, index={"metadata": {"total_size": 8}})  # bytes not asserted here
    assert (got.layers, got.hidden_size, got.kv_heads, got.max_position_embeddings) == (36, 2560, 8, 262144)
    assert got.architecture == "Qwen3VLForConditionalGeneration" and got.dtype == "bfloat16"


@pytest.mark.parametrize("field", ["num_hidden_layers", "num_attention_heads", "hidden_size"])
def test_missing_field_is_one_line_naming_it(field):
    config = {k: v for k, v in QWEN3_8B.items() if k != field}
    with pytest.raises(ModelFilesError) as err:
        lock(config, index={"metadata": {"total_size": 2}})
    assert (
        f"config.json has no {field}" in str(err.value) and "org/model" in str(err.value) and "\n" not in str(err.value)
    )


def test_missing_field_of_a_multimodal_config_names_text_config():
    with pytest.raises(ModelFilesError, match=r"no num_hidden_layers \(nor text_config.num_hidden_layers\)"):
        lock({"text_config": {"hidden_size": 2560}, "torch_dtype": "bfloat16"}, index={"metadata": {"total_size": 2}})


def test_missing_dtype_and_unknown_dtype_are_named():
    with pytest.raises(ModelFilesError, match="no torch_dtype"):
        lock({k: v for k, v in QWEN3_8B.items() if k != "torch_dtype"}, index={"metadata": {"total_size": 2}})
    with pytest.raises(ModelFilesError, match=r"torch_dtype = 'auto' is not one of bfloat16, float16, float32"):
        lock({**QWEN3_8B, "torch_dtype": "auto"}, index={"metadata": {"total_size": 2}})


def test_non_integer_geometry_is_refused():
    with pytest.raises(ModelFilesError, match=r"num_hidden_layers = '36' is not a positive integer"):
        lock({**QWEN3_8B, "num_hidden_layers": "36"}, index={"metadata": {"total_size": 2}})


def test_index_without_total_size_is_named():
    with pytest.raises(ModelFilesError, match="metadata.total_size"):
        lock(QWEN3_8B, index={"weight_map": {}})


def test_neither_index_nor_headers_is_refused():
    with pytest.raises(ModelFilesError, match="neither model.safetensors.index.json nor a safetensors header"):
        lock(QWEN3_8B)


def layer_4096(kind):
    """One 4096x4096 projection quantised to 4 bits, group 128, as each quantiser stores it."""
    if kind == "awq":  # AutoAWQ: qweight [in, out/8] int32, qzeros [in/g, out/8], scales [in/g, out]
        return {"q.qweight": ("I32", [4096, 512]), "q.qzeros": ("I32", [32, 512]), "q.scales": ("F16", [32, 4096])}
    if kind == "gptq":  # GPTQ: qweight [in/8, out] int32, g_idx [in]
        return {
            "q.qweight": ("I32", [512, 4096]),
            "q.qzeros": ("I32", [32, 512]),
            "q.scales": ("F16", [32, 4096]),
            "q.g_idx": ("I32", [4096]),
        }
    # compressed-tensors pack-quantized: weight_packed [out, in/8] int32, weight_scale, weight_shape
    return {
        "q.weight_packed": ("I32", [4096, 512]),
        "q.weight_scale": ("BF16", [4096, 32]),
        "q.weight_shape": ("I64", [2]),
    }


@pytest.mark.parametrize("method", ["awq", "gptq", "compressed-tensors"])
def test_packed_4bit_weights_count_eight_per_int32_and_bytes_are_the_files(method):
    quant = {"quant_method": method, "bits": 4, "group_size": 128}
    if method == "compressed-tensors":
        quant = {"quant_method": method, "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 128}}}}
    tensors = {**layer_4096(method), "norm.weight": ("F16", [4096])}
    hdr = header(tensors)
    got = lock({**QWEN3_8B, "torch_dtype": "float16", "quantization_config": quant}, headers={"model.safetensors": hdr})
    assert got.parameters == 4096 * 4096 + 4096
    assert got.weight_bytes == sum(
        t["data_offsets"][1] - t["data_offsets"][0] for n, t in hdr.items() if n != "__metadata__"
    )
    assert got.quantization == method


def test_nvfp4_weights_count_two_per_uint8():
    # compressed-tensors nvfp4-pack-quantized: weight_packed [out, in/2] uint8, FP8 block scales, a global scale
    tensors = {
        "q.weight_packed": ("U8", [4096, 2048]),
        "q.weight_scale": ("F8_E4M3", [4096, 256]),
        "q.weight_global_scale": ("F32", [1]),
    }
    quant = {
        "quant_method": "compressed-tensors",
        "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}},
    }
    got = lock({**QWEN3_8B, "quantization_config": quant}, headers={"m.safetensors": header(tensors)})
    assert got.parameters == 4096 * 4096


def test_fp8_weights_count_one_per_element_and_skip_their_scales():
    tensors = {
        "q.weight": ("F8_E4M3", [4096, 4096]),
        "q.weight_scale_inv": ("F32", [32, 32]),
        "norm.weight": ("BF16", [4096]),
    }
    got = lock(
        {**QWEN3_8B, "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}},
        headers={"m.safetensors": header(tensors)},
    )
    assert got.parameters == 4096 * 4096 + 4096 and got.weight_bytes == 4096 * 4096 + 32 * 32 * 4 + 4096 * 2


def test_quantised_checkpoint_from_index_alone_asks_for_the_headers():
    with pytest.raises(ModelFilesError, match="needs the safetensors headers"):
        lock(
            {**QWEN3_8B, "quantization_config": {"quant_method": "awq", "bits": 4}},
            index={"metadata": {"total_size": 5_000_000_000}},
        )


def test_unknown_quant_method_is_named_not_guessed():
    with pytest.raises(ModelFilesError, match="quant_method = 'bitsandbytes'"):
        lock(
            {**QWEN3_8B, "quantization_config": {"quant_method": "bitsandbytes"}},
            headers={"m.safetensors": header({"w": ("BF16", [2])})},
        )


def test_corrupt_header_entry_is_named():
    with pytest.raises(ModelFilesError, match="tensor 'w' has no valid dtype, shape and data_offsets"):
        lock(QWEN3_8B, headers={"m.safetensors": {"w": {"dtype": "BF16", "shape": [2]}}})


def test_header_length_bounds():
    assert header_length((1234).to_bytes(8, "little"), "m.safetensors") == 1234
    with pytest.raises(ModelFilesError, match="out of range"):
        header_length((30_000_000).to_bytes(8, "little"), "m.safetensors")
    with pytest.raises(ModelFilesError, match="shorter than the 8-byte"):
        header_length(b"\x01", "m.safetensors")
