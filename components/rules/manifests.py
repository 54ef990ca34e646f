"""Check and fix any rendered object by kind: the single entry point for transforms, policies,
the offline plan and `stacks check`. Each backend owns the rules of its kinds (its CHECKERS and
FIXERS); this module adds the metadata rules every object shares (G1, G2)."""

from __future__ import annotations

from typing import Any

from . import naming
from .backends import BACKENDS
from .backends.kinds import Checker, Fixer, group_kind
from .problems import Change, Problem

__all__ = ["CHECKERS", "FIXERS", "Checker", "Fixer", "check", "fix", "group_kind", "has_rules"]


def _check_metadata(obj: dict[str, Any]) -> list[Problem]:
    meta = obj.get("metadata") or {}
    problems = naming.check_name(meta.get("name"), "metadata.name", allow_dots=True) if "name" in meta else []
    return problems + naming.check_label_values(meta)


def _with_metadata(fn: Checker) -> Checker:
    return lambda obj: _check_metadata(obj) + fn(obj)


# Every registered backend's kinds. Label values of every object are strings (G2: an integer label value was
# refused); a backend that judges its own metadata (HyperPod: G1 with the operator's derived names) is not wrapped.
CHECKERS: dict[tuple[str, str], Checker] = {
    key: fn if backend.own_metadata_rules else _with_metadata(fn) for backend in BACKENDS.values() for key, fn in backend.checkers.items()
}
FIXERS: dict[tuple[str, str], Fixer] = {key: fn for backend in BACKENDS.values() for key, fn in backend.fixers.items()}


def has_rules(obj: dict[str, Any]) -> bool:
    return group_kind(obj) in CHECKERS


def check(obj: dict[str, Any]) -> list[Problem]:
    checker = CHECKERS.get(group_kind(obj), _check_metadata)
    return checker(obj)


def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    fixer = FIXERS.get(group_kind(obj))
    return fixer(obj) if fixer else (obj, [])
