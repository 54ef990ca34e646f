"""Build a tiny random-weight Llama and its tokenizer, offline and deterministic.

Runs inside the engine virtualenv (it needs torch, transformers, tokenizers). The model is
random, so it only exercises the serving path: scheduling, batching, KV cache, streaming.
Usage, from the repository root (the prompt words come from `benchmarks.prompts`):
    python -m stacks.local_engine.tiny_model OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from benchmarks.prompts import WORDS

VOCAB_SIZE = 4096
HIDDEN_SIZE = 256
LAYERS = 4
HEADS = 4
MAX_POSITIONS = 4096
SEED = 0

# A plain chat template so /v1/chat/completions works; the model does not need to follow it.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]


def training_text() -> list[str]:
    """Seeded text to train the BPE merges on, the same whatever the checkout holds: sentences of
    the load generator's prompt words (so each " word" is one token, as its length approximation
    assumes: benchmarks/prompts.py), then syllable filler that fills the rest of the vocabulary."""
    rng = random.Random(SEED)
    lines = [" ".join(rng.choices(WORDS, k=12)) for _ in range(5000)]
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + ["th", "ch", "sh", "qu", "ng", "st"]
    for i in range(30000):
        words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(3, 12))]
        lines.append(
            " ".join(words) + (f" {rng.randint(0, 99999)}" if i % 3 == 0 else "") + rng.choice([".", ",", "?", "!", ""])
        )
    return lines


def build_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="</s>",
        model_max_length=MAX_POSITIONS,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


def build_model(out: Path, tokenizer) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=HIDDEN_SIZE * 4,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=HEADS,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        torch_dtype="bfloat16",
    )
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)


# What BUILT_BY records; a model built by another version of this file is rebuilt (--if-stale).
RECIPE = {
    "builder": "stacks/local_engine/tiny_model.py",
    "recipe": 2,
    "vocab": VOCAB_SIZE,
    "hidden": HIDDEN_SIZE,
    "layers": LAYERS,
    "heads": HEADS,
}


def is_current(out: Path) -> bool:
    try:
        return json.loads((out / "BUILT_BY").read_text()) == RECIPE
    except (OSError, ValueError):
        return False


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    build_model(out, tokenizer)
    (out / "BUILT_BY").write_text(json.dumps(RECIPE) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--if-stale", action="store_true", help="do nothing when OUT holds a model of this recipe")
    args = parser.parse_args(argv)
    if args.if_stale and is_current(args.out):
        print(f"tiny model in {args.out} is current")
        return 0
    build(args.out)
    print(f"tiny model written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
