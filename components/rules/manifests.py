"""Check and fix any rendered object by kind: the single entry point for transforms, policies,
the offline plan and `stacks check`. Each backend owns the rules of its kinds (its CHECKERS and
FIXERS); this module adds the metadata rules every object shares (G1, G2)."""

from __future__ import annotations

from typing import Any

from . import inference_pool, naming
from .backends import BACKENDS
from .backends.kinds import Checker, Fixer, group_kind
from .problems import Change, Problem

__all__ = ["Checker", "Fixer", "check", "checkers", "fix", "fixers", "group_kind", "has_rules"]


def _check_metadata(obj: dict[str, Any]) -> list[Problem]:
    meta = obj.get("metadata") or {}
    problems = naming.check_name(meta.get("name"), "metadata.name", allow_dots=True) if "name" in meta else []
    return problems + naming.check_label_values(meta)


def _with_metadata(fn: Checker) -> Checker:
    return lambda obj: _check_metadata(obj) + fn(obj)


def _tables() -> tuple[dict[tuple[str, str], Checker], dict[tuple[str, str], Fixer]]:
    """Every registered backend's kinds, read from the registry each time (a backend registered later, a test's
    included). Label values of every object are strings (G2: an integer label value was refused); a backend that
    judges its own metadata (HyperPod: G1 with the operator's derived names) is not wrapped."""
    key = tuple(id(b) for b in BACKENDS.values())
    if _CACHE.get("key") != key:
        checkers = {
            k: fn if b.own_metadata_rules else _with_metadata(fn)
            for b in BACKENDS.values()
            for k, fn in b.checkers.items()
        }
        checkers.update(
            {k: _with_metadata(fn) for k, fn in inference_pool.CHECKERS.items()}
        )  # R2, R4, R5: the pool and its picker
        fixers = {k: fn for b in BACKENDS.values() for k, fn in b.fixers.items()}
        _CACHE.update(key=key, tables=(checkers, fixers))
    return _CACHE["tables"]


_CACHE: dict[str, Any] = {}


def checkers() -> dict[tuple[str, str], Checker]:
    return _tables()[0]


def fixers() -> dict[tuple[str, str], Fixer]:
    return _tables()[1]


def has_rules(obj: dict[str, Any]) -> bool:
    return group_kind(obj) in checkers()


def check(obj: dict[str, Any]) -> list[Problem]:
    checker = checkers().get(group_kind(obj), _check_metadata)
    return checker(obj)


def fix(obj: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
    fixer = fixers().get(group_kind(obj))
    return fixer(obj) if fixer else (obj, [])
