"""Generated prompts: the scenario's lengths, a fresh nonce first (no two requests share a
prefix), optionally after a shared system prompt drawn from ``PrefixTexts`` (the nonce then goes
after the prefix, so only the prefix is shared)."""

from __future__ import annotations

import random

from ..prompts import PromptBuilder
from ..scenario import Scenario
from .base import Request, Unit, system, user
from .prefix import PrefixTexts


class Synthetic:
    name = "synthetic"
    arrivals = None

    def __init__(self, scenario: Scenario, prompts: PromptBuilder, prefix: PrefixTexts | None = None) -> None:
        self.scenario, self.prompts, self.prefix = scenario, prompts, prefix
        self.text_seed = prefix.seed if prefix is not None else None
        self.tracks_reachable = prefix is not None
        self.seen_groups: set[int] = set()  # groups this run has sent (their prefix can hit from then on)
        if prefix is not None:
            self.name = "shared-prefix"

    def opening(self, rng: random.Random) -> tuple[dict, ...]:
        """The messages every turn of a unit starts with: the group's system prompt, if any."""
        return (system(self.prefix.draw(rng)),) if self.prefix else ()

    def turn(self, rng: random.Random, nonces: random.Random) -> tuple[dict, int, int]:
        """A new user message with its requested input and output lengths."""
        n_in, n_out = self.scenario.sample(rng)
        return user(self.prompts.build(n_in, nonces)), n_in, n_out

    @property
    def shared_tokens(self) -> int:
        return self.prefix.tokens if self.prefix else 0

    def unit(self, number: int, rng: random.Random, nonces: random.Random) -> Unit:
        opening = self.opening(rng)
        message, n_in, n_out = self.turn(rng, nonces)
        reachable = 0
        if opening:
            assert self.prefix is not None  # an opening comes from the prefix texts
            group = self.prefix.index[opening[0]["content"]]
            reachable = self.shared_tokens if group in self.seen_groups else 0
            self.seen_groups.add(group)
        yield Request(
            opening + (message,), n_in + self.shared_tokens, n_out, self.shared_tokens, reachable_tokens=reachable
        )
