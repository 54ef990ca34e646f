"""The rule record and every rule ID, apart from the entries so that the entry modules and
`components/rules/catalog.py` (which assembles and re-exports them) import without a cycle."""

from __future__ import annotations

from dataclasses import dataclass

G1, G2, G3, G4, G5, G6, G7, G8, G9, G10 = "G1", "G2", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10"
G11, G12, G13, G14, G15, G16, G17, G18, G19, G20 = "G11", "G12", "G13", "G14", "G15", "G16", "G17", "G18", "G19", "G20"
G21, G22, G23 = "G21", "G22", "G23"
S1, S2, S3, S4, S5, S6, S7 = "S1", "S2", "S3", "S4", "S5", "S6", "S7"
B1 = "B1"
A1 = "A1"
C1 = "C1"
L1 = "L1"
D1, D2, D3, D4 = "D1", "D2", "D3", "D4"
O1, O2, O3, O4, O5, O6, O7, O8 = "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8"
T1, T2, T3 = "T1", "T2", "T3"
G24 = "G24"
R1, R2, R3, R4, R5 = "R1", "R2", "R3", "R4", "R5"


@dataclass(frozen=True)
class Rule:
    id: str
    enforces: str  # what must hold
    incident: str  # what went wrong without it, in the project's own words
    fixes: str  # what the components and the transform build or change themselves ("" when nothing)
    rejects: str  # what config validation, the plan or a policy refuses ("" when nothing)
    enforced_by: tuple[str, ...]  # fix, validate, policy, preflight, driver, outputs, platform
