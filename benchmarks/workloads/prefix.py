"""Shared prefixes: G distinct system prompts of N tokens, and reusable token blocks (traces).

Group ``g``'s text starts with ``g`` written in base len(WORDS) (one word per digit), so two
groups never share their text even when their random words would; the rest is seeded words.
Each word is one token in the common BPE vocabularies (see prompts.py), so N words are about N
tokens.  Texts depend only on the seed: a seeded run sends the same prefixes.
"""

from __future__ import annotations

import random
from collections import OrderedDict

from ..limits import MAX_CACHED_BLOCKS
from ..prompts import WORDS

MAX_GROUPS = 10_000  # distinct prefixes one run may ask for; each is held in memory


def _digits(number: int, width: int) -> list[str]:
    out = []
    for _ in range(width):
        number, d = divmod(number, len(WORDS))
        out.append(WORDS[d])
    return out


def group_width(groups: int) -> int:
    """Words needed to tell ``groups`` prefixes apart."""
    width, capacity = 1, len(WORDS)
    while capacity < groups:
        width, capacity = width + 1, capacity * len(WORDS)
    return width


class PrefixTexts:
    """``groups`` texts of ``tokens`` words, built once."""

    def __init__(self, tokens: int, groups: int, seed: object) -> None:
        width = group_width(groups)
        self.tokens, self.groups, self.seed = tokens, groups, seed
        self.texts = [
            " ".join(_digits(g, width) + random.Random(f"{seed}:prefix:{g}").choices(WORDS, k=tokens - width))
            for g in range(groups)
        ]
        self.index = {text: g for g, text in enumerate(self.texts)}

    def draw(self, rng: random.Random) -> str:
        return self.texts[rng.randrange(self.groups)]


class BlockTexts:
    """Text of one ``block_tokens``-word block per hash id (Mooncake traces): equal ids give
    equal text, so requests that share leading ids share a prefix. The last ``MAX_CACHED_BLOCKS``
    used are kept; an evicted block is built again, the same (its text depends on the seed only)."""

    def __init__(self, block_tokens: int, seed: object) -> None:
        self.block_tokens, self.seed = block_tokens, seed
        self._cache: OrderedDict[int, str] = OrderedDict()

    def text(self, hash_id: int) -> str:
        if hash_id in self._cache:
            self._cache.move_to_end(hash_id)
            return self._cache[hash_id]
        text = self._cache[hash_id] = " ".join(
            random.Random(f"{self.seed}:block:{hash_id}").choices(WORDS, k=self.block_tokens)
        )
        if len(self._cache) > MAX_CACHED_BLOCKS:
            self._cache.popitem(last=False)
        return text
