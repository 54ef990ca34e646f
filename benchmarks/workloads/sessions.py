"""Multi-turn sessions: each turn resends the whole history (earlier user turns and the text the
server actually streamed back) plus a new user message, with a session-id header for session
routing.  A failed turn ends its session: there is no reply to build the next turn on."""

from __future__ import annotations

import random

from .base import Request, Unit
from .synthetic import Synthetic

DEFAULT_HEADER = "X-Session-Id"


class Sessions:
    name = "sessions"
    arrivals = None

    def __init__(self, turns: Synthetic, count: int, think_time: float, header: str, seed: object) -> None:
        self.turns, self.count, self.think_time, self.header, self.seed = turns, count, think_time, header, seed

    def unit(self, number: int, rng: random.Random, nonces: random.Random) -> Unit:
        session_id = f"session-{rng.getrandbits(48):012x}-{number}"
        history = self.turns.opening(rng)
        shared = self.turns.shared_tokens
        requested = shared
        for turn in range(1, self.count + 1):
            message, n_in, n_out = self.turns.turn(rng, nonces)
            history += (message,)
            requested += n_in
            reply = yield Request(
                history, requested, n_out, shared, {self.header: session_id}, turn, self.think_time if turn > 1 else 0.0
            )
            if reply is None:
                return
            history += ({"role": "assistant", "content": reply},)
            requested += n_out
