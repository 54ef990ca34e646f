"""What every workload shape hands the runner: requests, one conversation ("unit") at a time.

A unit is a generator: it yields a ``Request``, receives the text the server streamed back (or
None when the request failed, which ends the unit) and yields the next one.  Single requests are
one-request units; a multi-turn session yields one request per turn, each built from the replies
so far.  ``unit(number, rng, nonces)`` gets the unit's number (its order of creation) and a
random generator seeded for that number, so a seeded run builds the same units whatever order
the workers take them in; ``nonces`` is unseeded (fresh per run, see prompts.py).
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

Unit = Generator["Request", str | None, None]


@dataclass(frozen=True)
class Request:
    messages: tuple[dict, ...]  # chat messages; the completions endpoint gets their contents joined
    input_tokens: int  # requested input length (the fallback when the server sends no usage)
    output_tokens: int
    shared_tokens: int = 0  # tokens at the start of the prompt shared with other requests
    headers: dict = field(default_factory=dict)
    turn: int | None = None  # 1-based turn index within a session
    delay: float = 0.0  # seconds to wait before sending (think time)
    reachable_tokens: int = 0  # of shared_tokens, those this run sent before (a prefix cache can hit them)


class Workload(Protocol):
    name: str

    # Trace replay: each unit's send time in seconds from the level's start (None: the load
    # mode, closed or open loop, decides).
    @property
    def arrivals(self) -> Sequence[float] | None: ...  # read only here: a class attribute or an array satisfies it

    def unit(self, number: int, rng: random.Random, nonces: random.Random) -> Unit: ...


class WorkloadError(ValueError):
    """A workload option or file is unusable.  ``field`` names the option; the message is one line
    (``file:line: what is wrong; fix``)."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        super().__init__(fix)
        self.field, self.value, self.fix = field, value, fix


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def system(text: str) -> dict:
    return {"role": "system", "content": text}
