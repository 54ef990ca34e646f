"""Preflight's Hugging Face checks (rule G24) against the loopback hub: the model and its revision exist, a
gated model has `tokenSecret` (an error here, a warning in the plan), and `$HF_TOKEN` can read its files."""

from __future__ import annotations

import pytest

from components.rules.catalog import G24
from stacks import preflight
from stacks.config import parse
from tests.models.hub_server import HubServer, Repo
from tests.models.test_models_lock import (
    GOOD_TOKEN,
    LLAMA_CONFIG,
    LLAMA_INDEX,
    QWEN3_8B_CONFIG,
    QWEN3_8B_INDEX,
    QWEN3_8B_SHA,
    files,
)

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def hub(monkeypatch):
    server = HubServer(
        repos={
            "Qwen/Qwen3-8B": Repo(QWEN3_8B_SHA, files(QWEN3_8B_CONFIG, QWEN3_8B_INDEX)),
            LLAMA: Repo(
                "0e9e39f249a16976918f6564b8830bc894c89659",
                files(LLAMA_CONFIG, LLAMA_INDEX),
                gated="manual",
                readers=(GOOD_TOKEN,),
            ),
        }
    )
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield server
    server.close()


def cfg(model, **source):
    endpoint = {
        "name": "ep",
        "model": model,
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "huggingface", **source},
    }
    return parse({"cluster": {"mode": "hyperpod", "name": "ml-dev"}, "endpoints": [endpoint]}, "us-east-1")


def test_g24_gated_model_without_token_secret_is_a_preflight_error(hub):
    (line,) = preflight.check_hub_models(cfg(LLAMA))
    assert not isinstance(line, preflight.PreflightWarning)
    assert line.startswith(f"endpoints[0].modelSource.tokenSecret = None: [{G24}] {LLAMA} is gated on Hugging Face")
    assert "Fix: create a Secret" in line


def test_g24_gated_model_with_secret_but_no_local_token_is_a_warning_naming_the_secret(hub):
    (line,) = preflight.check_hub_models(cfg(LLAMA, tokenSecret={"name": "hf-token"}))
    assert isinstance(line, preflight.PreflightWarning) and "hf-token" in line and "$HF_TOKEN" in line


def test_g24_token_that_has_not_accepted_the_terms_is_403_with_the_fix(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_otheraccount0123456789")
    (line,) = preflight.check_hub_models(cfg(LLAMA, tokenSecret={"name": "hf-token"}))
    assert f"[{G24}] {LLAMA}: gated on Hugging Face and the token cannot read it (HTTP 403)" in line
    assert "accept the model's terms" in line and "the Secret hf-token must hold a token that can" in line
    assert "hf_otheraccount0123456789" not in line


def test_g24_accepted_token_and_public_model_pass(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    assert preflight.check_hub_models(cfg(LLAMA, tokenSecret={"name": "hf-token"})) == []
    assert preflight.check_hub_models(cfg("Qwen/Qwen3-8B")) == []
    assert preflight.check_hub_models(cfg("served-name", modelId="Qwen/Qwen3-8B", revision=QWEN3_8B_SHA)) == []


def test_missing_model_and_missing_revision_are_one_line_each(hub):
    (missing,) = preflight.check_hub_models(cfg("org/nope"))
    assert missing.startswith(f"endpoints[0].modelSource: [{G24}] org/nope: no such model on")
    (revision,) = preflight.check_hub_models(cfg("Qwen/Qwen3-8B", revision="a" * 40))
    assert f"revision {'a' * 40} does not exist (HTTP 404)" in revision


def test_hub_that_never_answers_is_one_timeout_line(hub, monkeypatch):
    monkeypatch.setattr(preflight, "HUB_TIMEOUT", 0.5)
    hub.hang.add("/api/models/Qwen/Qwen3-8B")
    (line,) = preflight.check_hub_models(cfg("Qwen/Qwen3-8B"))
    assert "did not answer model info within 0.5 s" in line and "\n" not in line


def test_malformed_model_info_is_one_line(hub):
    hub.garbled.add("/api/models/Qwen/Qwen3-8B")
    (line,) = preflight.check_hub_models(cfg("Qwen/Qwen3-8B"))
    assert line.startswith(
        f"endpoints[0].modelSource: [{G24}] Qwen/Qwen3-8B: {hub.url} answered model info with malformed JSON"
    )


def test_bucket_and_fsx_sources_ask_no_hub(hub):
    s3 = parse(
        {
            "cluster": {"mode": "hyperpod", "name": "ml-dev"},
            "endpoints": [
                {
                    "name": "ep",
                    "model": "Qwen/Qwen3-8B",
                    "engine": "vllm",
                    "instanceType": "ml.g5.12xlarge",
                    "modelSource": {"type": "s3", "bucket": "my-models"},
                }
            ],
        },
        "us-east-1",
    )
    assert preflight.check_hub_models(s3) == [] and hub.requests == []
