"""Small sample files in every supported layout, generated (nothing to download), for tests and
for trying the shapes out:

    python -m benchmarks.workloads.samples DIR     # writes sharegpt.json, chat.jsonl, trace-*.{jsonl,csv}
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from ..outputs import Kind, Output, OutputError
from ..prompts import WORDS


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(WORDS, k=words))


def conversations(count: int, seed: int = 0) -> list[list[dict]]:
    """``count`` chat conversations: an optional system prompt, 1-3 user/assistant exchanges."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        conv = [{"role": "system", "content": f"conversation {i}: " + _text(rng, 5)}] if i % 2 else []
        for _ in range(rng.randint(1, 3)):
            conv += [
                {"role": "user", "content": _text(rng, rng.randint(3, 12))},
                {"role": "assistant", "content": _text(rng, rng.randint(3, 12))},
            ]
        out.append(conv)
    return out


def write_sharegpt(path: Path, count: int = 8, seed: int = 0) -> Path:
    who = {"system": "system", "user": "human", "assistant": "gpt"}
    items = [
        {"id": f"c{i}", "conversations": [{"from": who[m["role"]], "value": m["content"]} for m in conv]}
        for i, conv in enumerate(conversations(count, seed))
    ]
    path.write_text(json.dumps(items, indent=1))
    return path


def write_openai_chat(path: Path, count: int = 8, seed: int = 0) -> Path:
    path.write_text("".join(json.dumps({"messages": conv}) + "\n" for conv in conversations(count, seed)))
    return path


def write_native_trace(path: Path, count: int = 20, gap_s: float = 0.02, groups: int = 2) -> Path:
    lines = [
        {
            "timestamp": round(i * gap_s, 6),
            "input_tokens": 8 + i % 5,
            "output_tokens": 4,
            "prefix_group": i % groups,
            "session_id": f"s{i % 3}",
        }
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_mooncake_trace(path: Path, count: int = 10, gap_ms: int = 20) -> Path:
    # Every request shares block 0; request i adds its own blocks (as in mooncake_trace.jsonl).
    lines = [
        {"timestamp": i * gap_ms, "input_length": 600 + i, "output_length": 4, "hash_ids": [0, 100 + i]}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_azure_trace(path: Path, count: int = 10, gap_ms: int = 20) -> Path:
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(count):
        ms = i * gap_ms
        rows.append(f"2023-11-16 18:15:{46 + ms // 1000:02d}.{(ms % 1000) * 10000:07d},{20 + i},{4}")
    path.write_text("\n".join(rows) + "\n")
    return path


SAMPLES = (
    (write_sharegpt, "sharegpt.json"),
    (write_openai_chat, "chat.jsonl"),
    (write_native_trace, "trace-native.jsonl"),
    (write_mooncake_trace, "trace-mooncake.jsonl"),
    (write_azure_trace, "trace-azure.csv"),
)
SAMPLES_FOLDER = Kind(
    "samples folder", "samples", marker=".llm-serving-samples", legacy=tuple(name for _, name in SAMPLES)
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m benchmarks.workloads.samples DIR\n")
        return 2
    out = Path(args[0])
    try:  # the folder is swapped in whole, and only over an earlier samples folder (or an empty one)
        with Output(out, SAMPLES_FOLDER, str(out), parents=True) as target, target.folder() as folder:
            for write, name in SAMPLES:
                write(folder.path(name))
    except OutputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    for _, name in SAMPLES:
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
