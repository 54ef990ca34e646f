"""The lock entry of a model's facts: camelCase keys without `model`, and a bad entry named by its key.

Values are Llama-3.1-8B-Instruct's published config
(https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json: 32 layers, 32 heads,
8 KV heads, hidden 4096, bfloat16) and its safetensors index (total_size 16,060,522,496 bytes).
"""

import pytest

from components.rules.model_facts import (
    LOCK_FILE,
    LockEntryError,
    ModelFacts,
    from_lock_entry,
    to_lock_entry,
)

LLAMA_8B = ModelFacts(
    model="meta-llama/Llama-3.1-8B-Instruct",
    source_url="https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/resolve/0e9e39f249a16976918f6564b8830bc894c89659/config.json",
    revision="0e9e39f249a16976918f6564b8830bc894c89659",
    architecture="LlamaForCausalLM",
    layers=32,
    attention_heads=32,
    kv_heads=8,
    head_dim=128,
    hidden_size=4096,
    max_position_embeddings=131072,
    parameters=8_030_261_248,
    dtype="bfloat16",
    quantization=None,
    weight_bytes=16_060_522_496,
    gated=True,
    locked_at="2026-12-06",
)


def test_lock_file_is_named_models_lock_json():
    assert LOCK_FILE == "models.lock.json"


def test_entry_has_camel_case_keys_and_no_model():
    entry = to_lock_entry(LLAMA_8B)
    assert "model" not in entry
    assert entry["kvHeads"] == 8
    assert entry["weightBytes"] == 16_060_522_496
    assert entry["maxPositionEmbeddings"] == 131072
    assert entry["lockedAt"] == "2026-12-06"
    assert set(entry) == {
        "sourceUrl",
        "revision",
        "architecture",
        "layers",
        "attentionHeads",
        "kvHeads",
        "headDim",
        "hiddenSize",
        "maxPositionEmbeddings",
        "parameters",
        "dtype",
        "quantization",
        "weightBytes",
        "gated",
        "lockedAt",
    }


def test_entry_reads_back_to_the_same_facts():
    assert from_lock_entry(LLAMA_8B.model, to_lock_entry(LLAMA_8B)) == LLAMA_8B


@pytest.mark.parametrize(
    "change, key",
    [
        ({"layers": "32"}, "layers"),
        ({"layers": True}, "layers"),
        ({"kvHeads": 0}, "kvHeads"),
        ({"dtype": "int8"}, "dtype"),
        ({"gated": "yes"}, "gated"),
        ({"weightBytes": None}, "weightBytes"),
        ({"sizeOnDisk": 1}, "sizeOnDisk"),
    ],
)
def test_bad_entry_names_the_model_and_key(change, key):
    entry = {**to_lock_entry(LLAMA_8B), **change}
    with pytest.raises(LockEntryError, match=rf"models\.meta-llama/Llama-3\.1-8B-Instruct\.{key}\b"):
        from_lock_entry(LLAMA_8B.model, entry)


def test_missing_key_is_named():
    entry = to_lock_entry(LLAMA_8B)
    del entry["headDim"]
    with pytest.raises(LockEntryError, match=r"\.headDim: missing"):
        from_lock_entry(LLAMA_8B.model, entry)


def test_entry_that_is_not_an_object_is_refused():
    with pytest.raises(LockEntryError, match="must be an object"):
        from_lock_entry("m", [1, 2])


def test_nullable_fields_take_null():
    entry = {
        **to_lock_entry(LLAMA_8B),
        "revision": None,
        "architecture": None,
        "gated": None,
        "maxPositionEmbeddings": None,
    }
    facts = from_lock_entry(LLAMA_8B.model, entry)
    assert facts.gated is None and facts.revision is None
