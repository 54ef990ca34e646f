"""Which Pulumi stacks are dev stacks: S4 lets their EKS API stay open, S2 lets them opt out of TLS."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

DEFAULT_DEV_STACKS = ("dev", "dev-*", "*-dev")


def is_dev_stack(stack: str | None, patterns: Iterable[str] = DEFAULT_DEV_STACKS) -> bool:
    """An unknown stack is treated as non-dev: the safe side."""
    return stack is not None and any(fnmatch.fnmatchcase(stack, p) for p in patterns)
