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
    files = [*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "stacks" / "grids").glob("*.yaml"), *(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
    found = {m for f in files for m in MODEL_LINE.findall(f.read_text())}
    return {m for m in found if not m.startswith(NOT_HUB)} | {"meta-llama/Llama-3.1-70B-Instruct"}


def test_every_model_the_examples_and_docs_name_is_locked():
    missing = sorted(named_models() - set(LOCK["models"]))
    assert missing == []


@pytest.mark.parametrize("model", sorted(LOCK["models"]))
def test_each_entry_reads_and_its_bytes_are_its_bf16_parameters(model):
    facts = from_lock_entry(model, LOCK["models"][model])
    assert facts.dtype == "bfloat16" and facts.quantization is None
    assert facts.weight_bytes == 2 * facts.parameters  # every tensor of these checkpoints is BF16
    assert facts.source_url == f"https://huggingface.co/{model}/blob/{facts.revision}/config.json"


def test_published_values():
    m = LOCK["models"]
    assert (m["Qwen/Qwen3-8B"]["parameters"], m["Qwen/Qwen3-8B"]["maxPositionEmbeddings"]) == (8190735360, 40960)
    assert (m["meta-llama/Llama-3.1-70B-Instruct"]["layers"], m["meta-llama/Llama-3.1-70B-Instruct"]["weightBytes"]) == (80, 141107412992)
    assert m["meta-llama/Llama-3.1-8B-Instruct"]["gated"] is True and m["Qwen/Qwen3-0.6B"]["gated"] is False
