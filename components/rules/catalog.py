"""The rule catalogue: every rule ID, what it enforces, the incident behind it, and how it is enforced.

Rule IDs are constants (defined in `catalog_rule.py`, re-exported here) so that an editor finds every use
of a rule; the entries are in `catalog_guardrails.py` and `catalog_platform.py`, assembled here in order.
`docs/guardrails.md` is generated from this table and the policy catalogue (`python -m stacks docs`).
"""

from __future__ import annotations

from components.rules import catalog_guardrails, catalog_platform

# Rule IDs and the record are defined in catalog_rule (the entry modules import them) and re-exported here.
from components.rules.catalog_rule import (  # noqa: F401
    A1,
    B1,
    C1,
    D1,
    D2,
    D3,
    D4,
    G1,
    G2,
    G3,
    G4,
    G5,
    G6,
    G7,
    G8,
    G9,
    G10,
    G11,
    G12,
    G13,
    G14,
    G15,
    G16,
    G17,
    G18,
    G19,
    G20,
    G21,
    G22,
    G23,
    G24,
    L1,
    O1,
    O2,
    O3,
    O4,
    O5,
    O6,
    O7,
    O8,
    R1,
    R2,
    R3,
    R4,
    R5,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    S7,
    T1,
    T2,
    T3,
    Rule,
)

RULES: tuple[Rule, ...] = catalog_guardrails.RULES + catalog_platform.RULES

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
assert len(BY_ID) == len(RULES), "rule IDs must be unique"
