"""`python -m stacks models lock` against a loopback stand-in for the Hugging Face Hub (HF_ENDPOINT points
at it) and, for S3 sources, moto: the lock file it writes, and one line per model that cannot be read."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from stacks.models import cli
from stacks.models.args import LockArgs
from tests.models.hub_server import HubServer, Repo, safetensors_file

QWEN3_8B_SHA = "b968826d9c46dd6066d109eabc6255188de91218"
QWEN3_8B_CONFIG = {
    "architectures": ["Qwen3ForCausalLM"],
    "head_dim": 128,
    "hidden_size": 4096,
    "max_position_embeddings": 40960,
    "num_attention_heads": 32,
    "num_hidden_layers": 36,
    "num_key_value_heads": 8,
    "torch_dtype": "bfloat16",
}
QWEN3_8B_INDEX = {
    "metadata": {"total_size": 16381470720},
    "weight_map": {"lm_head.weight": "model-00005-of-00005.safetensors"},
}
LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 4096,
    "max_position_embeddings": 131072,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 8,
    "torch_dtype": "bfloat16",
}
LLAMA_INDEX = {"metadata": {"total_size": 16060522496}, "weight_map": {}}
GOOD_TOKEN = "hf_goodtoken0123456789abcdef"


def files(config, index=None, **extra):
    out = {"config.json": json.dumps(config).encode(), **extra}
    if index is not None:
        out["model.safetensors.index.json"] = json.dumps(index).encode()
    return out


@pytest.fixture
def hub(monkeypatch):
    server = HubServer(
        repos={
            "Qwen/Qwen3-8B": Repo(QWEN3_8B_SHA, files(QWEN3_8B_CONFIG, QWEN3_8B_INDEX)),
            "meta-llama/Llama-3.1-8B-Instruct": Repo(
                "0e9e39f249a16976918f6564b8830bc894c89659",
                files(LLAMA_CONFIG, LLAMA_INDEX),
                gated="manual",
                readers=(GOOD_TOKEN,),
            ),
            "org/single": Repo(
                "1" * 40,
                files(
                    {**QWEN3_8B_CONFIG, "num_hidden_layers": 1},
                    **{"model.safetensors": safetensors_file({"w": ("BF16", [4, 8]), "n": ("F32", [8])})},
                ),
            ),
            "org/broken": Repo(
                "2" * 40, {"config.json": b'{"hidden_size": 4096,', "model.safetensors.index.json": b"{}"}
            ),
            "org/awq": Repo(
                "3" * 40,
                files(
                    {
                        **QWEN3_8B_CONFIG,
                        "torch_dtype": "float16",
                        "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm"},
                    },
                    {
                        "metadata": {"total_size": 1},
                        "weight_map": {
                            "a.qweight": "model-00001-of-00002.safetensors",
                            "b.qweight": "model-00002-of-00002.safetensors",
                        },
                    },
                    **{
                        "model-00001-of-00002.safetensors": safetensors_file(
                            {"a.qweight": ("I32", [64, 8]), "a.scales": ("F16", [1, 64])}
                        ),
                        "model-00002-of-00002.safetensors": safetensors_file(
                            {"b.qweight": ("I32", [64, 8]), "b.qzeros": ("I32", [1, 8])}
                        ),
                    },
                ),
            ),
        }
    )
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield server
    server.close()


def project(tmp_path, endpoints):
    (tmp_path / "Pulumi.yaml").write_text("name: llm-serving\nruntime: python\n")
    (tmp_path / "Pulumi.test.yaml").write_text(
        json.dumps({"config": {"aws:region": "us-east-1", "llm-serving:endpoints": endpoints}})
    )
    return tmp_path


def hf(name, model, **source):
    return {
        "name": name,
        "model": model,
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "huggingface", **source},
    }


def run(tmp_path, **kw):
    out = io.StringIO()
    code = cli.run(
        LockArgs(project_dir=tmp_path, timeout=kw.pop("timeout", 5.0), **kw), Console(file=out, width=400), today=_Day()
    )
    return code, out.getvalue()


class _Day:
    def isoformat(self):
        return "2026-12-06"


def lock(tmp_path):
    return json.loads((tmp_path / "models.lock.json").read_text())


def test_lock_writes_each_hub_model_of_the_stack_at_its_commit_and_keeps_other_entries(hub, tmp_path):
    root = project(tmp_path, [hf("qwen", "Qwen/Qwen3-8B"), hf("single", "serve-me", modelId="org/single")])
    (root / "models.lock.json").write_text(json.dumps({"schema": 1, "models": {"other/model": {"kept": True}}}))
    code, out = run(root, stack="test")
    assert code == 0, out
    models = lock(root)["models"]
    assert models["other/model"] == {"kept": True}
    qwen = models["Qwen/Qwen3-8B"]
    assert qwen["sourceUrl"] == f"{hub.url}/Qwen/Qwen3-8B/blob/{QWEN3_8B_SHA}/config.json"
    assert (qwen["revision"], qwen["weightBytes"], qwen["parameters"], qwen["kvHeads"], qwen["gated"]) == (
        QWEN3_8B_SHA,
        16381470720,
        8190735360,
        8,
        False,
    )
    assert qwen["lockedAt"] == "2026-12-06"
    single = models["org/single"]  # keyed by the hub id it downloads, counted from the file's header
    assert (single["parameters"], single["weightBytes"]) == (4 * 8 + 8, 4 * 8 * 2 + 8 * 4)
    # every file was read at the commit the model info named, not at `main`
    assert all(
        f"/resolve/{QWEN3_8B_SHA}/" in path for path, _ in hub.requests if path.startswith("/Qwen/Qwen3-8B/resolve")
    )


def test_quantised_sharded_checkpoint_is_counted_from_every_shard_header(hub, tmp_path):
    code, out = run(tmp_path, model="org/awq")
    assert code == 0, out
    entry = lock(tmp_path)["models"]["org/awq"]
    assert (entry["quantization"], entry["parameters"]) == ("awq", 2 * 64 * 8 * 8)  # eight 4-bit weights per int32
    assert entry["weightBytes"] == 2 * 64 * 8 * 4 + 64 * 2 + 8 * 4  # the shards' tensors, not the index's total_size
    assert {p for p, _ in hub.requests if p.endswith(".safetensors")} == {
        f"/org/awq/resolve/{'3' * 40}/model-0000{i}-of-00002.safetensors" for i in (1, 2)
    }


def test_model_option_picks_one_endpoint_by_hub_id_or_by_its_model(hub, tmp_path):
    root = project(tmp_path, [hf("qwen", "Qwen/Qwen3-8B"), hf("single", "serve-me", modelId="org/single")])
    assert run(root, stack="test", model="serve-me")[0] == 0
    assert list(lock(root)["models"]) == ["org/single"]
    code, out = run(root, stack="test", model="org/other")
    assert code == 1 and "no model to lock named org/other" in out


def test_pinned_revision_that_does_not_exist_is_one_line(hub, tmp_path):
    root = project(tmp_path, [hf("qwen", "Qwen/Qwen3-8B", revision="f" * 40)])
    code, out = run(root, stack="test")
    assert code == 1 and not (root / "models.lock.json").exists()
    assert f"Qwen/Qwen3-8B: revision {'f' * 40} does not exist (HTTP 404). Fix: set modelSource.revision" in out


def test_gated_model_without_token_names_the_model_and_the_fix_and_locks_the_others(hub, tmp_path):
    root = project(tmp_path, [hf("llama", "meta-llama/Llama-3.1-8B-Instruct"), hf("qwen", "Qwen/Qwen3-8B")])
    code, out = run(root, stack="test")
    assert code == 1
    line = next(line for line in out.splitlines() if "Llama" in line)
    assert "meta-llama/Llama-3.1-8B-Instruct: gated on Hugging Face and no token was given (HTTP 401)" in line
    assert f"accept the model's terms at {hub.url}/meta-llama/Llama-3.1-8B-Instruct" in line and "$HF_TOKEN" in line
    assert list(lock(root)["models"]) == ["Qwen/Qwen3-8B"]


def test_gated_model_with_a_token_that_has_not_accepted_is_403(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "hf_notaccepted0123456789")
    code, out = run(tmp_path, model="meta-llama/Llama-3.1-8B-Instruct", token_env="MY_TOKEN")
    assert code == 1 and "the token cannot read it (HTTP 403)" in out and "check the token in $MY_TOKEN" in out
    assert "hf_notaccepted0123456789" not in out


def test_gated_model_with_an_accepted_token_is_locked_as_gated(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    code, out = run(tmp_path, model="meta-llama/Llama-3.1-8B-Instruct")
    assert code == 0, out
    entry = lock(tmp_path)["models"]["meta-llama/Llama-3.1-8B-Instruct"]
    assert entry["gated"] is True and entry["parameters"] == 8030261248
    assert (f"Bearer {GOOD_TOKEN}") in {auth for _, auth in hub.requests}


def test_unknown_model_is_one_line(hub, tmp_path):
    code, out = run(tmp_path, model="org/nope")
    assert code == 1
    assert "org/nope: no such model on" in out and "(HTTP 401)" in out and "Fix: check the model id" in out


def test_malformed_config_json_is_one_line(hub, tmp_path):
    code, out = run(tmp_path, model="org/broken")
    assert code == 1 and "org/broken: config.json" in out and "not valid JSON" in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1


def test_hub_that_never_answers_is_a_timeout_line(hub, tmp_path):
    hub.hang.add("/api/models/Qwen/Qwen3-8B")
    code, out = run(tmp_path, model="Qwen/Qwen3-8B", timeout=0.5)
    assert code == 1 and "Qwen/Qwen3-8B:" in out and "did not answer model info within 0.5 s" in out


def test_nothing_to_lock_and_a_bad_model_id_are_argument_errors(tmp_path):
    assert run(tmp_path)[0] == 2
    code, out = run(tmp_path, model="not an id")
    assert code == 2 and "is not a Hugging Face id" in out


def test_a_lock_path_holding_another_file_is_refused_before_anything_is_fetched(hub, tmp_path):
    (tmp_path / "models.lock.json").write_text('{"something": "else"}')
    code, out = run(tmp_path, model="Qwen/Qwen3-8B")
    assert code == 2 and "not a schema 1 model lock" in out and hub.requests == []
    assert (tmp_path / "models.lock.json").read_text() == '{"something": "else"}'


@mock_aws
def test_bucket_source_is_locked_from_its_prefix_with_the_config_etag_as_revision(tmp_path, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="my-models")
    put = s3.put_object(Bucket="my-models", Key="qwen3-8b/config.json", Body=json.dumps(QWEN3_8B_CONFIG).encode())
    s3.put_object(
        Bucket="my-models", Key="qwen3-8b/model.safetensors.index.json", Body=json.dumps(QWEN3_8B_INDEX).encode()
    )
    endpoint = {
        "name": "qwen",
        "model": "Qwen/Qwen3-8B",
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-8b"},
    }
    root = project(tmp_path, [endpoint])
    code, out = run(root, stack="test")
    assert code == 0, out
    entry = lock(root)["models"]["Qwen/Qwen3-8B"]
    assert entry["sourceUrl"] == "s3://my-models/qwen3-8b/config.json"
    assert (
        entry["revision"] == put["ETag"].strip('"') and entry["gated"] is None and entry["weightBytes"] == 16381470720
    )


@mock_aws
def test_single_file_checkpoint_in_a_bucket_is_counted_from_its_header_read_by_range(tmp_path, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="my-models")
    s3.put_object(
        Bucket="my-models",
        Key="tiny/config.json",
        Body=json.dumps({**QWEN3_8B_CONFIG, "num_hidden_layers": 1}).encode(),
    )
    s3.put_object(
        Bucket="my-models",
        Key="tiny/model.safetensors",
        Body=safetensors_file({"w": ("BF16", [16, 16]), "n": ("F32", [16])}),
    )
    endpoint = {
        "name": "tiny",
        "model": "org/tiny",
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "tiny/"},
    }
    root = project(tmp_path, [endpoint])
    code, out = run(root, stack="test")
    assert code == 0, out
    entry = lock(root)["models"]["org/tiny"]
    assert (entry["parameters"], entry["weightBytes"]) == (16 * 16 + 16, 16 * 16 * 2 + 16 * 4)


@mock_aws
def test_bucket_prefix_without_config_json_is_one_g14_line(tmp_path, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="my-models")
    endpoint = {
        "name": "qwen",
        "model": "Qwen/Qwen3-8B",
        "engine": "vllm",
        "instanceType": "ml.g5.12xlarge",
        "modelSource": {"type": "s3", "bucket": "my-models", "path": "qwen3-8b/"},
    }
    code, out = run(project(tmp_path, [endpoint]), stack="test")
    assert code == 1 and "Qwen/Qwen3-8B: no s3://my-models/qwen3-8b/config.json [G14]" in out
