"""Copying manifests that may hold values the rules must not touch (Pulumi Outputs, secrets)."""

from __future__ import annotations

from typing import Any


def copy_tree(value: Any) -> Any:
    """Copy dicts and lists; share every other leaf as it is (deepcopy would clone Outputs)."""
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value
