"""The shipped models.lock.json: every Hugging Face model the example stacks, grids, docs and README name is
locked (so their plans size each endpoint, G23, instead of `fit: unchecked`), and each entry holds the values
its checkpoint publishes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.rules.model_facts import from_lock_entry

ROOT = Path(__file__).resolve().parents[2]
LOCK = json.loads((ROOT / "models.lock.json").read_text())
# Not on the hub: the tiny model the project builds for CPU trials, the tour's stand-in engine, placeholders.
NOT_HUB = ("local/", "stand-in/", "test-org/", "org/")
MODEL_LINE = re.compile(r"\b(?:model|modelId):\s*['\"]?([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)")


def named_models() -> set[str]:
    files = [
        *ROOT.glob("Pulumi.*.yaml"),
        *(ROOT / "stacks" / "grids").glob("*.yaml"),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
    ]
    found = {m for f in files for m in MODEL_LINE.findall(f.read_text())}
    return {m for m in found if not m.startswith(NOT_HUB)} | {"meta-llama/Llama-3.1-70B-Instruct"}


def test_every_model_the_examples_and_docs_name_is_locked():
    missing = sorted(named_models() - set(LOCK["models"]))
    assert missing == []


DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}
# Configs that set head_dim apart from hidden_size / heads (the published config.json's own head_dim):
# (attention heads, head_dim, hidden_size).
OWN_HEAD_DIM = {
    "Qwen/Qwen3-0.6B": (16, 128, 1024),
    "Qwen/Qwen3-1.7B": (16, 128, 2048),
    "Qwen/Qwen3-4B-Instruct-2507": (32, 128, 2560),
    "Qwen/Qwen3-14B": (40, 128, 5120),
    "Qwen/Qwen3-32B": (64, 128, 5120),
    "Qwen/Qwen3-30B-A3B": (32, 128, 2048),
    "Qwen/Qwen3-30B-A3B-Instruct-2507": (32, 128, 2048),
    "Qwen/Qwen3-235B-A22B": (64, 128, 4096),
    "google/gemma-2-2b-it": (8, 256, 2304),
    "google/gemma-2-9b-it": (16, 256, 3584),
    "google/gemma-2-27b-it": (32, 128, 4608),
    "google/gemma-3-1b-it": (4, 256, 1152),
    "openai/gpt-oss-20b": (64, 64, 2880),
    "mistralai/Mistral-Small-24B-Instruct-2501": (32, 128, 5120),
}


@pytest.mark.parametrize("model", sorted(LOCK["models"]))
def test_each_entry_reads_and_is_self_consistent(model):
    facts = from_lock_entry(model, LOCK["models"][model])
    assert facts.source_url == f"https://huggingface.co/{model}/blob/{facts.revision or 'main'}/config.json"
    assert facts.attention_heads % facts.kv_heads == 0  # grouped-query attention: whole groups
    if model in OWN_HEAD_DIM:
        assert (facts.attention_heads, facts.head_dim, facts.hidden_size) == OWN_HEAD_DIM[model]
    else:  # no head_dim in config.json: the engines use hidden_size / heads
        assert facts.head_dim * facts.attention_heads == facts.hidden_size
    if facts.quantization is None:
        # every tensor in the checkpoint's dtype: the bytes are the parameters at that size, within 2 %
        assert abs(facts.weight_bytes - facts.parameters * DTYPE_BYTES[facts.dtype]) <= 0.02 * facts.weight_bytes
    else:
        assert facts.weight_bytes < facts.parameters * DTYPE_BYTES[facts.dtype]


def test_published_values():
    m = LOCK["models"]
    assert (m["Qwen/Qwen3-8B"]["parameters"], m["Qwen/Qwen3-8B"]["maxPositionEmbeddings"]) == (8190735360, 40960)
    assert (
        m["meta-llama/Llama-3.1-70B-Instruct"]["layers"],
        m["meta-llama/Llama-3.1-70B-Instruct"]["weightBytes"],
    ) == (80, 141107412992)
    assert m["meta-llama/Llama-3.1-8B-Instruct"]["gated"] is True and m["Qwen/Qwen3-0.6B"]["gated"] is False


@pytest.mark.parametrize(
    "model, layers, heads, kv_heads, head_dim, hidden, parameters, weight_bytes",
    [
        # safetensors index metadata.total_size as published
        ("meta-llama/Llama-3.1-8B", 32, 32, 8, 128, 4096, 8_030_261_248, 16_060_522_496),
        ("Qwen/Qwen2.5-7B-Instruct", 28, 28, 4, 128, 3584, 7_615_616_512, 15_231_233_024),
        ("Qwen/Qwen3-32B", 64, 64, 8, 128, 5120, 32_762_123_264, 65_524_246_528),
        ("Qwen/Qwen3-235B-A22B", 94, 64, 4, 128, 4096, 235_093_634_560, 470_187_269_120),
        ("mistralai/Mistral-7B-Instruct-v0.3", 32, 32, 8, 128, 4096, 7_248_023_552, 14_496_047_104),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 32, 32, 8, 128, 4096, 46_702_792_704, 93_405_585_408),
        ("mistralai/Mistral-Small-24B-Instruct-2501", 40, 32, 8, 128, 5120, 23_572_403_200, 47_144_806_400),
        ("Qwen/Qwen2.5-14B", 48, 40, 8, 128, 5120, 14_770_033_664, 29_540_067_328),
        ("openai/gpt-oss-20b", 24, 64, 8, 64, 2880, 20_914_757_184, 13_761_264_768),  # MXFP4 experts: its own files
        # the hub's parameter count x 2 bytes (bfloat16), derived
        ("meta-llama/Llama-3.1-405B", 126, 128, 8, 128, 16384, 405_853_388_800, 811_706_777_600),
        ("meta-llama/Llama-3.2-1B-Instruct", 16, 32, 8, 64, 2048, 1_235_814_400, 2_471_628_800),
        ("google/gemma-2-27b-it", 46, 32, 16, 128, 4608, 27_227_128_320, 54_454_256_640),
    ],
)
def test_published_geometry_and_sizes(model, layers, heads, kv_heads, head_dim, hidden, parameters, weight_bytes):
    facts = from_lock_entry(model, LOCK["models"][model])
    assert (facts.layers, facts.attention_heads, facts.kv_heads, facts.head_dim, facts.hidden_size) == (
        layers,
        heads,
        kv_heads,
        head_dim,
        hidden,
    )
    assert (facts.parameters, facts.weight_bytes) == (parameters, weight_bytes)


def test_every_llama_is_gated():
    assert {
        m: e["gated"] for m, e in LOCK["models"].items() if m.startswith("meta-llama/") and e["gated"] is not True
    } == {}
