"""The one secret registry and scrubber (benchmarks/secrets.py): what it registers, what it scrubs, and what it
leaves alone. The commands that use it are covered end to end by test_secret_canary.py."""

from __future__ import annotations

import io

import pytest

from benchmarks import secrets
from benchmarks.secrets import REDACTED, ScrubbedStream, collect, credential_flag, quoted, register, scrub, scrub_data

TOKEN = "tok-7f3a9c5e0d1b"


def test_a_secret_is_scrubbed_whole_and_by_any_eight_of_its_characters():
    register(TOKEN)
    assert scrub(f"key {TOKEN} refused") == "key [secret] refused"
    # A message that shows a value cut after 11 characters, and a server that echoes its last 9.
    assert scrub(f"value '{TOKEN[:11]}...' (16 characters)") == "value '[secret]...' (16 characters)"
    assert scrub(f"echo: {TOKEN[-9:]}") == "echo: [secret]"
    assert scrub(f"only {TOKEN[:7]} of it") == f"only {TOKEN[:7]} of it"  # 7 characters cannot be told from text


def test_two_secrets_side_by_side_and_text_around_them_survive():
    register("alpha-1111-2222")
    register("omega-3333-4444")
    assert scrub("a=alpha-1111-2222,b=omega-3333-4444;") == "a=[secret],b=[secret];"


def test_a_short_secret_is_scrubbed_only_where_it_is_a_whole_value():
    register("pw42")
    assert scrub_data({"password": "pw42", "note": "pw42 is four characters"}) == {
        "password": REDACTED,
        "note": "pw42 is four characters",
    }
    register("ab")  # shorter than SHORTEST: never registered
    assert scrub_data({"x": "ab"}) == {"x": "ab"}


def test_url_credentials_are_masked_in_every_text_known_or_not():
    assert scrub("redis://default:hunter2@cache:6379/0") == "redis://[secret]@cache:6379/0"
    assert (
        scrub("GET https://ghp_abc@github.com/x and http://host/y")
        == "GET https://[secret]@github.com/x and http://host/y"
    )
    assert scrub("user@example.com and s3://bucket/key") == "user@example.com and s3://bucket/key"


def test_a_document_registers_its_token_like_words_not_its_ordinary_ones():
    register("apiVersion: v1\nkind: Config\nusers:\n- user: {token: abcd1234efgh5678}\n")
    assert scrub("apiVersion namespace kubernetes") == "apiVersion namespace kubernetes"
    assert scrub("bearer abcd1234efgh5678") == "bearer [secret]"


def test_quoted_never_quotes_a_secret_even_with_a_control_character_inside():
    value = "CANARY-5\x07ecret-7f3a9c"
    register(value)
    assert quoted({"HF_TOKEN": value}) == "{'HF_TOKEN': '[secret]'}"
    assert quoted(("a", 1)) == "('a', 1)"  # shapes are kept: tuples stay tuples


def test_a_number_that_is_a_known_secret_becomes_the_marker():
    collect({"apiVersion": "v1", "kind": "Secret", "stringData": {"pin": 12345678}})
    assert scrub_data({"value": 12345678, "replicas": 2}) == {"value": REDACTED, "replicas": 2}


def test_collect_registers_each_place_a_secret_can_stand_and_nothing_else():
    collect(
        {
            "env": {"HF_TOKEN": "tok-aaaa1111", "HF_HOME": "/opt/cache/hf", "HF_TOKEN_PATH": "/etc/hf/token-file"},
            "extraArgs": ["--hf-token", "tok-bbbb2222", "--api_key=tok-cccc3333", "--max-num-batched-tokens", "8192"],
            "kvCache": {"l2LocalUrl": "redis://u:tok-dddd4444@cache:6379"},
            "extra": {"secure": "v1:tok-eeee5555"},
            "containers": [
                {
                    "env": [
                        {"name": "VLLM_API_KEY", "value": "tok-ffff6666"},
                        {"name": "LOG_LEVEL", "value": "verbose-debug"},
                    ]
                }
            ],
            "modelSource": {"tokenSecret": {"name": "hf-token-secret", "key": "token-key-name"}},
            "note": "uses sk-abcdefghijklmnopqrstuvwx",
            "apiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-key-AbCdEf",
        }
    )
    for value in (
        "tok-aaaa1111",
        "tok-bbbb2222",
        "tok-cccc3333",
        "tok-dddd4444",
        "v1:tok-eeee5555",
        "tok-ffff6666",
        "sk-abcdefghijklmnopqrstuvwx",
    ):
        assert scrub(f"x {value} y") == "x [secret] y", value
    for plain in (
        "/opt/cache/hf",
        "/etc/hf/token-file",
        "8192",
        "verbose-debug",
        "hf-token-secret",
        "token-key-name",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:llm-key-AbCdEf",
    ):
        assert scrub(plain) == plain, plain


@pytest.mark.parametrize(
    "arg",
    [
        "--hf-token",
        "--hf_token=x",
        "--token",
        "--api-key",
        "--api_key=x",
        "--admin-api-key",
        "--password",
        "--db-password",
        "--secret-key",
        "-token",
    ],
)
def test_credential_flags_in_any_spelling(arg):
    assert credential_flag(arg) is not None


@pytest.mark.parametrize(
    "arg",
    [
        "--max-num-batched-tokens",
        "--tokenizer",
        "--tokenizer-mode",
        "--return-tokens-as-token-ids",
        "--ssl-keyfile",
        "--kv-cache-dtype",
        "--max-prefill-tokens",
        "token",
    ],
)
def test_ordinary_flags_that_mention_tokens_or_keys_are_not_credentials(arg):
    assert credential_flag(arg) is None


def test_a_scrubbed_stream_scrubs_every_write():
    register(TOKEN)
    sink = io.StringIO()
    stream = ScrubbedStream(sink)
    stream.write(f"error: {TOKEN}\n")
    assert sink.getvalue() == "error: [secret]\n" and stream.getvalue() == sink.getvalue()


def test_an_empty_registry_changes_nothing_but_url_credentials():
    secrets.REGISTRY.clear()
    text = "plain text with tok-7f3a9c5e0d1b in it"
    assert scrub(text) == text
    assert scrub_data({"a": [1, "b"]}) == {"a": [1, "b"]}
