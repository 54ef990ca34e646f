"""Trace and dataset parsing: each format's fields, units and errors (one line, file:line)."""

from __future__ import annotations

import random

import pytest

from benchmarks.cli import main
from benchmarks.prompts import PromptBuilder
from benchmarks.workloads import WorkloadError
from benchmarks.workloads.dataset import load_dataset
from benchmarks.workloads.trace import MOONCAKE_BLOCK_TOKENS, Trace, TraceEntry, load_trace


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_native_trace_fields_and_seconds(tmp_path):
    path = write(
        tmp_path,
        "t.jsonl",
        '{"timestamp": 1.5, "input_tokens": 10, "output_tokens": 3, "prefix_group": "a", "session_id": 7}\n'
        '\n{"timestamp": 2.25, "input_tokens": 20, "output_tokens": 5}\n',
    )
    assert list(load_trace(path, "native", 1)) == [TraceEntry(0.0, 10, 3, "a", "7"), TraceEntry(0.75, 20, 5)]


def test_mooncake_trace_milliseconds_and_hash_ids(tmp_path):
    # the first lines of kvcache-ai/Mooncake mooncake_trace.jsonl
    path = write(
        tmp_path,
        "m.jsonl",
        '{"timestamp": 0, "input_length": 6755, "output_length": 500, "hash_ids": [0, 1, 2]}\n'
        '{"timestamp": 3052, "input_length": 2287, "output_length": 316, "hash_ids": [0, 42]}\n',
    )
    assert list(load_trace(path, "mooncake", 1)) == [
        TraceEntry(0.0, 6755, 500, hash_ids=(0, 1, 2)),
        TraceEntry(3.052, 2287, 316, hash_ids=(0, 42)),
    ]


def test_azure_trace_datetimes_relative_to_the_first_row(tmp_path):
    # Azure/AzurePublicDataset AzureLLMInferenceTrace_conv.csv layout (7 fractional digits)
    path = write(
        tmp_path,
        "a.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n",
    )
    (first, second) = load_trace(path, "azure", 1)
    assert first == TraceEntry(0.0, 374, 44)
    assert (second.input_tokens, second.output_tokens) == (396, 109) and second.at == pytest.approx(4.314579)


@pytest.mark.parametrize(
    "fmt, text, needle",
    [
        (
            "native",
            '{"timestamp": 0, "input_tokens": 5, "output_tokens": 1}\n{"timestamp": 1, "output_tokens": 1}\n',
            "t.txt:2: input_tokens=None",
        ),
        ("native", '{"timestamp": 0, "input_tokens": 5, "output_tokens": 1}\nnot json\n', "t.txt:2: not valid JSON"),
        ("native", '{"timestamp": -1, "input_tokens": 5, "output_tokens": 1}\n', "t.txt:1: timestamp=-1"),
        (
            "native",
            '{"timestamp": 2, "input_tokens": 5, "output_tokens": 1}\n{"timestamp": 1, "input_tokens": 5, "output_tokens": 1}\n',
            "request 2 is earlier than request 1",
        ),
        (
            "mooncake",
            '{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": "x"}\n',
            "t.txt:1: hash_ids='x'",
        ),
        ("azure", "TIMESTAMP,Context,GeneratedTokens\n", "t.txt:1: header lacks ContextTokens"),
        (
            "azure",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.1,5,1\nyesterday,5,1\n",
            "t.txt:3: TIMESTAMP='yesterday'",
        ),
    ],
)
def test_bad_trace_lines_are_one_line_errors_with_file_and_line(tmp_path, fmt, text, needle):
    path = write(tmp_path, "t.txt", text)
    with pytest.raises(WorkloadError) as e:
        load_trace(path, fmt, 1)
    assert needle in e.value.fix and "\n" not in e.value.fix


def test_mooncake_shared_leading_blocks_become_the_shared_prefix():
    entries = [
        TraceEntry(0, 1200, 4, hash_ids=(0, 1, 2)),
        TraceEntry(0, 1200, 4, hash_ids=(0, 1, 3)),
        TraceEntry(0, 40, 4, hash_ids=(9,)),
    ]
    trace = Trace(entries, 1.0, PromptBuilder(1), 256, "X-Session-Id", seed=1)
    requests = [next(trace.unit(k, random.Random(k), random.Random())) for k in range(3)]
    assert [r.shared_tokens for r in requests] == [2 * MOONCAKE_BLOCK_TOKENS, 2 * MOONCAKE_BLOCK_TOKENS, 0]
    assert requests[0].messages[0] == requests[1].messages[0] and requests[0].messages[0]["role"] == "system"
    assert [m["role"] for m in requests[2].messages] == ["user"]
    assert all(sum(len(m["content"].split()) for m in r.messages) == e.input_tokens for r, e in zip(requests, entries))


def test_mooncake_block_is_512_tokens_as_upstreams_readme_example(tmp_path):
    """kvcache-ai/Mooncake@v0.3.12 FAST25-release/README.md: "hash_ids: Remapped prefix block
    hashes. The block size is 512 tokens." Its two sample requests share the first 12 hash ids, "so
    they can share prefix caching for the first 12 * 512 = 6144 tokens". (AIPerf's default agrees:
    ai-dynamo/aiperf@v0.1.1 aiperf/common/config/config_defaults.py InputTokensDefaults.BLOCK_SIZE.)"""
    path = write(
        tmp_path,
        "m.jsonl",
        '{"timestamp": 27482, "input_length": 6955, "output_length": 52, '
        '"hash_ids": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2353, 2354]}\n'
        '{"timestamp": 30535, "input_length": 6472, "output_length": 26, '
        '"hash_ids": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2366]}\n',
    )
    trace = Trace(load_trace(path, "mooncake", 1), 1.0, PromptBuilder(1), 256, "X-Session-Id", seed=1)
    requests = [next(trace.unit(k, random.Random(k), random.Random())) for k in range(2)]
    assert MOONCAKE_BLOCK_TOKENS == 512
    assert [r.shared_tokens for r in requests] == [6144, 6144]
    assert requests[0].messages[0] == requests[1].messages[0]


@pytest.mark.parametrize(
    "text, needle",
    [
        ('[{"conversations": [{"from": "gpt", "value": "hi"}]}]', "d.json: entry 1: no user message"),
        (
            '{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": "x"}\n',
            "d.json:2: no 'messages' or 'conversations' list",
        ),
        ('{"messages": [{"role": "wizard", "content": "hi"}]}\n', "d.json:1: a turn with role 'wizard'"),
        ("[1, 2", "d.json:1: not valid JSON"),
    ],
)
def test_bad_dataset_entries_name_file_and_entry(tmp_path, text, needle):
    with pytest.raises(WorkloadError) as e:
        load_dataset(write(tmp_path, "d.json", text), 1)
    assert needle in e.value.fix


def test_cli_bad_trace_exits_2_with_one_line(tmp_path, capsys):
    path = write(tmp_path, "t.jsonl", '{"timestamp": 0, "input_tokens": 0, "output_tokens": 1}\n')
    assert main(["run", "--url", "http://127.0.0.1:9", "--model", "m", "--trace", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--trace {path!r}: {path}:1: input_tokens=0" in err


def test_cli_prefix_groups_without_prefix_tokens_exits_2(capsys):
    assert (
        main(["run", "--url", "http://127.0.0.1:9", "--model", "m", "--concurrency", "1", "--prefix-groups", "4"]) == 2
    )
    assert "--prefix-groups 4: give --prefix-tokens too" in capsys.readouterr().err


def test_cli_sessions_print_ttft_by_turn(server, capsys):
    server.clear()
    code = main(
        [
            "run",
            "--url",
            server.url,
            "--model",
            "reply",
            "--scenario",
            "D(5,3)",
            "--concurrency",
            "1",
            "--max-requests",
            "4",
            "--turns",
            "2",
            "--prefix-tokens",
            "8",
            "--warmup",
            "0",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "TTFT and context length by turn" in out and "shared prefix (c1):" in out
