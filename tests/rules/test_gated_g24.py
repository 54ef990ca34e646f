"""G24: a model locked as gated (models.lock.json `gated: true`, as the hub's model info says for
meta-llama/Llama-3.1-8B-Instruct) with a Hugging Face source and no `tokenSecret` is a plan warning."""

from __future__ import annotations

import json

from components.rules import gated
from components.rules.catalog import G24
from components.rules.model_facts import ModelFacts
from components.rules.spec import EndpointSpec
from stacks.config import parse

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def facts(model, is_gated):
    return ModelFacts(
        model,
        f"https://huggingface.co/{model}/blob/main/config.json",
        None,
        "LlamaForCausalLM",
        32,
        32,
        8,
        128,
        4096,
        131072,
        8030261248,
        "bfloat16",
        None,
        16060522496,
        is_gated,
        "2026-12-06",
    )


def spec(model=LLAMA, **source):
    return EndpointSpec.model_validate(
        {
            "name": "ep",
            "model": model,
            "engine": "vllm",
            "instanceType": "ml.g5.12xlarge",
            "modelSource": {"type": "huggingface", **source},
        }
    )


def path(i):
    return f"endpoints[{i}]"


def test_g24_gated_model_without_token_secret_warns_naming_the_key_and_fix():
    (problem,) = gated.check_endpoints([spec()], {LLAMA: facts(LLAMA, True)}, path)
    assert (problem.rule, problem.severity, problem.path) == (G24, "warning", "endpoints[0].modelSource.tokenSecret")
    assert str(problem).startswith(
        f"endpoints[0].modelSource.tokenSecret = None: [G24] {LLAMA} is gated on Hugging Face"
    )
    assert "set modelSource.tokenSecret" in str(problem)


def test_g24_finds_the_entry_by_model_id_when_the_served_name_differs():
    assert gated.check_endpoints([spec("llama", modelId=LLAMA)], {LLAMA: facts(LLAMA, True)}, path) != []


def test_g24_silent_with_a_token_secret_for_an_ungated_or_unlocked_model_and_for_a_bucket():
    locked = {LLAMA: facts(LLAMA, True), "Qwen/Qwen3-8B": facts("Qwen/Qwen3-8B", False)}
    assert gated.check_endpoints([spec(tokenSecret={"name": "hf-token"})], locked, path) == []
    assert gated.check_endpoints([spec("Qwen/Qwen3-8B")], locked, path) == []
    assert gated.check_endpoints([spec("org/unlocked")], locked, path) == []
    s3 = EndpointSpec.model_validate(
        {
            "name": "ep",
            "model": LLAMA,
            "engine": "vllm",
            "instanceType": "ml.g5.12xlarge",
            "modelSource": {"type": "s3", "bucket": "my-models"},
        }
    )
    assert gated.check_endpoints([s3], locked, path) == []


def test_g24_reaches_the_stack_config_as_a_warning_from_the_project_lock(tmp_path):
    entry = {
        "sourceUrl": f"https://huggingface.co/{LLAMA}/blob/main/config.json",
        "revision": None,
        "architecture": "LlamaForCausalLM",
        "layers": 32,
        "attentionHeads": 32,
        "kvHeads": 8,
        "headDim": 128,
        "hiddenSize": 4096,
        "maxPositionEmbeddings": 131072,
        "parameters": 8030261248,
        "dtype": "bfloat16",
        "quantization": None,
        "weightBytes": 16060522496,
        "gated": True,
        "lockedAt": "2026-12-06",
    }
    (tmp_path / "models.lock.json").write_text(json.dumps({"schema": 1, "models": {LLAMA: entry}}))
    endpoint = {
        "name": "llama",
        "model": LLAMA,
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "huggingface"},
        "engineArgs": {"maxModelLen": 8192, "tensorParallelSize": 4},
    }
    cfg = parse(
        {"cluster": {"mode": "hyperpod", "name": "ml-dev"}, "endpoints": [endpoint]}, "us-east-1", "prod", tmp_path
    )
    assert [w.rule for w in cfg.warnings if w.rule == G24] == [G24]
