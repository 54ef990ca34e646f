"""One finding of a rule: where, what value, which rule, how to fix it.

Used by config validation, the manifest checkers, the policy pack and grid pruning, so every
surface prints the same one-line message. Every line is scrubbed of the secrets the run knows
(benchmarks/secrets.py), and its value is quoted by the helper that never quotes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.secrets import quoted, scrub

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    path: str  # config path (endpoints[0].engineArgs.maxNumSeqs) or manifest field (spec.worker.args)
    value: Any
    rule: str  # guardrail ID (G1..G20) or CONFIG for structural errors
    message: str
    fix: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return scrub(
            f"{printable(self.path)} = {quoted(self.value)}: [{self.rule}] {printable(self.message)}. Fix: {printable(self.fix)}"
        )


def printable(text: str) -> str:
    """`text` with every non-printable character escaped: a config key or server text holding a line
    separator (\\n, \\x1e, U+2028, ...) must not split a problem into two lines."""
    if str(text).isprintable():
        return str(text)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))


@dataclass(frozen=True)
class Change:
    """A change a fixer made to a manifest, logged by transforms and the offline plan."""

    path: str
    old: Any
    new: Any
    rule: str
    reason: str

    def __str__(self) -> str:
        return scrub(f"[{self.rule}] {self.path}: {quoted(self.old)} -> {quoted(self.new)} ({self.reason})")


class ConfigError(Exception):
    """Raised when stack config has problems; carries every problem, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
