"""Prompts of a requested token length, built locally without any tokenizer.

Approximation (documented in benchmarks/README.md): the prompt is a sequence of common, short,
lower-case English words separated by single spaces.  Byte-level BPE tokenizers (GPT, Llama 3,
Qwen, Mistral and small locally trained ones) encode each ``" word"`` of this list as exactly one
token, so a prompt of N words is about N tokens; the chat template adds a model-specific constant
(typically 5-30 tokens).  Servers report the real count in ``usage.prompt_tokens`` and the
metrics use that; the requested count is only the target.

Every prompt starts with a random nonce of ``NONCE_WORDS`` words so no two requests share a
prefix: otherwise the server's prefix cache would make repeated runs look faster.
"""

from __future__ import annotations

import random

# Each is one token with a leading space in the common BPE vocabularies.
WORDS = tuple(
    dict.fromkeys(
        """the of and to in is that for it as was with be by on not he this are or his from at which
    but have an had they you were their one all we can her has there been if more when will would
    who so no time out up about other into than its only some could new them these may first then
    do any like my now over such our man me even most made after also did many before must through
    back years where much your way well down should because each just those people how too little
    state good very make world still own see men work long get here between both life being under
    never day same another know while last might us great old year off come since against go came
    right used take three himself few house use during without again place around however home
    small found thought went say part once general high upon school every does got left number
    course war until always away something fact though water less public put think almost hand
    enough far took head yet government system better set told nothing night end why called find
    going look asked later knew point next city business give group best show help real water
    money open room side free car kind four line game book case week word five order""".split()
    )
)
NONCE_WORDS = 6  # 200**6 ~ 6e13 distinct nonces


class PromptBuilder:
    """Builds prompts from one shared filler text so each prompt costs one string slice."""

    def __init__(self, seed: float | None = None) -> None:
        self._rng = random.Random(seed)
        self._filler = ""
        self._ends: list[int] = [0]  # _ends[k] = length of the first k filler words

    def _grow(self, words: int) -> None:
        new = self._rng.choices(WORDS, k=words - len(self._ends) + 1)
        pos = len(self._filler)
        parts = [self._filler]
        for w in new:
            pos += len(w) + 1
            self._ends.append(pos)
            parts.append(" " + w)
        self._filler = "".join(parts)

    def build(self, tokens: int, rng: random.Random) -> str:
        """A prompt of about ``tokens`` tokens whose first words are a random nonce drawn from
        ``rng`` (the load generator passes an unseeded one)."""
        tokens = max(1, tokens)
        nonce = " ".join(rng.choices(WORDS, k=min(tokens, NONCE_WORDS)))
        rest = tokens - NONCE_WORDS
        if rest <= 0:
            return nonce
        if rest >= len(self._ends):
            self._grow(max(rest, 2 * (len(self._ends) - 1)))
        return nonce + self._filler[: self._ends[rest]]
