"""`--policy-config FILE` of `stacks plan` and `stacks check`: the file through the one reader
(benchmarks/inputs.py: regular files only, size and depth bounded), its text parsed by the rules."""

from __future__ import annotations

from pathlib import Path

from benchmarks import inputs
from components.rules.policy_config import FIX, PolicyConfig, PolicyConfigError, from_text

MAX_BYTES = 1024 * 1024  # a policy config is a few hundred bytes; anything near this is the wrong file


def load(path: str | Path) -> PolicyConfig:
    try:
        text = inputs.read_text(
            path, max_bytes=MAX_BYTES, what="policy config", fix=FIX.removeprefix("Fix: "), syntax="json"
        )
    except inputs.InputError as exc:
        raise PolicyConfigError([str(exc)]) from None
    return from_text(text, str(path))
