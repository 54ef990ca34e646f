"""Rules by object kind: each backend maps the (group, kind) of its objects to a checker and a fixer;
`manifests.py` composes the backends' tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..problems import Change, Problem

Checker = Callable[[dict[str, Any]], list[Problem]]
Fixer = Callable[[dict[str, Any]], tuple[dict[str, Any], list[Change]]]
Kind = tuple[str, str]


def group_kind(obj: Mapping[str, Any]) -> Kind:
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.split("/")[0] if "/" in api_version else ""
    return group, str(obj.get("kind", ""))


def check_by_kind(checkers: Mapping[Kind, Checker]) -> Checker:
    """A backend's `check`: the rules of the object's kind ([] for a kind it has no rule for)."""
    return lambda obj: checkers[group_kind(obj)](obj) if group_kind(obj) in checkers else []


def fix_by_kind(fixers: Mapping[Kind, Fixer]) -> Fixer:
    """A backend's `fix`: the fixer of the object's kind (unchanged, no change, for any other)."""
    return lambda obj: fixers[group_kind(obj)](obj) if group_kind(obj) in fixers else (obj, [])
