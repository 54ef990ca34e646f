"""The tiny model builder: offline, deterministic, and loadable as a Llama with a chat template."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from stacks.tuning import local

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
BUILDER = ["-m", "stacks.local_engine.tiny_model"]  # run from ROOT, as setup_engine.sh does


def _python() -> str:
    python = local.ENGINE_VENV / "bin" / "python"
    if not python.exists():
        reason = f"engine virtualenv missing ({python}): run stacks/local_engine/setup_engine.sh"
        if os.environ.get("LLM_SERVING_REQUIRE_ENGINE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return str(python)


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_tiny_model_builds_offline_and_identically_twice(tmp_path):
    python = _python()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for out in ("a", "b"):
        subprocess.run(
            [python, *BUILDER, str(tmp_path / out)], check=True, env=env, capture_output=True, timeout=300, cwd=ROOT
        )
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert (
        config["architectures"],
        config["hidden_size"],
        config["num_hidden_layers"],
        config["num_attention_heads"],
    ) == (["LlamaForCausalLM"], 256, 4, 4)
    assert config["vocab_size"] == 4096
    check = (
        "import sys; from transformers import AutoTokenizer; t = AutoTokenizer.from_pretrained(sys.argv[1]);"
        "ids = t.apply_chat_template([{'role': 'user', 'content': 'hello world'}], add_generation_prompt=True);"
        "text = t.decode(ids); assert 'hello world' in text and text.endswith('<|assistant|>\\n'), text; print(len(ids))"
    )
    result = subprocess.run(
        [python, "-c", check, str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The load generator sizes prompts assuming each of its words is one token (benchmarks/prompts.py).
    words = "import sys; from transformers import AutoTokenizer; from benchmarks.prompts import WORDS; t = AutoTokenizer.from_pretrained(sys.argv[1]); print([w for w in WORDS if len(t.encode(' ' + w, add_special_tokens=False)) != 1])"
    result = subprocess.run(
        [python, "-c", words, str(tmp_path / "a")], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", (result.stdout, result.stderr[-2000:])
    # A current model is left alone; the stamp is what setup_engine.sh relies on.
    again = subprocess.run(
        [python, *BUILDER, "--if-stale", str(tmp_path / "a")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert "is current" in again.stdout
