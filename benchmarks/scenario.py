"""Traffic scenarios in genai-bench's syntax.

    D(in,out)                      deterministic lengths
    N(mean_in,sd_in)/(mean_out,sd_out)   normal, clipped to >= 1 input / >= 1 output
    U(min_in,max_in)/(min_out,max_out)   uniform integers, bounds inclusive
    U(max_in,max_out)              uniform from 1 to each maximum (genai-bench's shorthand)

``parse_scenario(text)`` returns a ``Scenario``; ``scenario.sample(rng)`` returns one
``(input_tokens, output_tokens)`` pair.  Sampling uses the caller's ``random.Random`` so a
seeded run is reproducible.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_INT = r"\s*(\d+)\s*"
_PAIR = rf"\({_INT},{_INT}\)"
_PATTERNS = {
    "D": re.compile(rf"^D{_PAIR}$"),
    "N": re.compile(rf"^N{_PAIR}/{_PAIR}$"),
    "U": re.compile(rf"^U{_PAIR}(?:/{_PAIR})?$"),
}
SCENARIO_HELP = (
    "use D(in,out), N(mean_in,sd_in)/(mean_out,sd_out) or U(min_in,max_in)/(min_out,max_out), e.g. D(100,100)"
)
# Upper bound on any sampled length: keeps a typo such as D(1000000,10) from building a
# multi-megabyte prompt per request.
MAX_TOKENS = 1_000_000


# Unquoted in a YAML flow collection, "[D(1,1), D(2,2)]" or "{scenario: D(1,1)}", a scenario is
# cut at its comma into "D(1" and "1)"; such a piece gets this fix instead of the syntax help.
FLOW_SPLIT_FIX = (
    "it looks cut at a comma, as YAML flow syntax ([...] or {...}) cuts an unquoted D(1,1): "
    'quote the value, e.g. "D(1,1)"'
)


def looks_flow_split(text: str) -> bool:
    """True if ``text`` looks like a piece of a scenario cut at a comma (unbalanced brackets)."""
    s = text.strip()
    return bool(s) and (s.count("(") != s.count(")") or s[0].isdigit() or s.endswith(","))


class ScenarioError(ValueError):
    """The scenario text does not follow the syntax; the message says how to fix it."""


@dataclass(frozen=True)
class Scenario:
    kind: str  # "D", "N" or "U"
    params: tuple[int, ...]
    text: str

    def sample(self, rng: random.Random) -> tuple[int, int]:
        p = self.params
        if self.kind == "D":
            return p[0], p[1]
        if self.kind == "N":
            return (max(1, round(rng.gauss(p[0], p[1]))), max(1, round(rng.gauss(p[2], p[3]))))
        return rng.randint(p[0], p[1]), rng.randint(p[2], p[3])

    @property
    def max_input(self) -> int:
        """Largest input length this scenario can ask for (normal: mean + 6 sd)."""
        p = self.params
        return {"D": p[0], "N": p[0] + 6 * p[1], "U": p[1]}[self.kind]


def parse_scenario(text: str) -> Scenario:
    s = text.strip().replace(" ", "")
    kind = s[:1].upper()
    pattern = _PATTERNS.get(kind)
    match = pattern.match(kind + s[1:]) if pattern else None
    if not match:
        raise ScenarioError(
            f"cannot parse scenario {text!r}: {FLOW_SPLIT_FIX if looks_flow_split(text) else SCENARIO_HELP}"
        )
    nums = [int(g) for g in match.groups() if g is not None]
    if kind == "U" and len(nums) == 2:  # shorthand U(max_in,max_out)
        nums = [1, nums[0], 1, nums[1]]
    if kind == "U" and (nums[0] > nums[1] or nums[2] > nums[3]):
        raise ScenarioError(f"scenario {text!r}: each U range must be (min,max) with min <= max")
    if kind == "D":
        means = lows = nums
    elif kind == "N":
        means = lows = [nums[0], nums[2]]
    else:
        means, lows = [nums[1], nums[3]], [nums[0], nums[2]]
    if min(lows) < 1:
        raise ScenarioError(f"scenario {text!r}: token counts must be >= 1")
    if max(means) > MAX_TOKENS:
        raise ScenarioError(f"scenario {text!r}: token counts must be <= {MAX_TOKENS}")
    canonical = {
        "D": "D({},{})",
        "N": "N({},{})/({},{})",
        "U": "U({},{})/({},{})",
    }[kind].format(*nums)
    return Scenario(kind, tuple(nums), canonical)
