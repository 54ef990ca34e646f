"""Enforcement config: the same JSON file `pulumi preview --policy-pack-config` reads.

    {"all": "advisory",                                  # optional: every policy
     "s6-required-tags": {"enforcementLevel": "mandatory", "requiredTags": ["team"]},
     "g07-l2-tieredstorage": "disabled"}

A policy's own entry wins over `all`, which wins over the policy's default (Pulumi's order).
`remediate` is accepted and means mandatory: these policies never rewrite resources. Unknown
policy names, levels and parameters are errors (a typo must not silently keep the default).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .policy_catalog import BY_NAME, POLICIES, PolicySpec

LEVELS = ("mandatory", "advisory", "disabled", "remediate")


class PolicyConfigError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class PolicyConfig:
    levels: Mapping[str, str] = field(default_factory=dict)  # policy -> mandatory | advisory | disabled
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def level(self, policy: PolicySpec) -> str:
        return self.levels.get(policy.name, policy.enforcement)

    def params_of(self, policy: PolicySpec) -> dict[str, Any]:
        return {**policy.defaults(), **self.params.get(policy.name, {})}


def _type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "array":
        return isinstance(value, list) and all(_type_ok(v, schema.get("items", {})) for v in value)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _level(value: Any, where: str, problems: list[str]) -> str | None:
    if value in LEVELS:
        return "mandatory" if value == "remediate" else value
    problems.append(f"{where} = {value!r}: not an enforcement level; use one of mandatory, advisory, disabled")
    return None


def parse(raw: Any) -> PolicyConfig:
    """Validate a config mapping and resolve every policy's level; every problem at once."""
    if raw is None:
        return PolicyConfig()
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(
            [f"policy config must be a JSON object of policy name -> level or settings, not {type(raw).__name__}"]
        )
    problems: list[str] = []
    everyone = _level(raw["all"], "all", problems) if "all" in raw else None
    levels: dict[str, str] = {p.name: everyone for p in POLICIES} if everyone else {}
    params: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if name == "all":
            continue
        policy = BY_NAME.get(name)
        if policy is None:
            problems.append(f"{name}: unknown policy; known: {', '.join(sorted(BY_NAME))}")
            continue
        if isinstance(value, str):
            if (level := _level(value, name, problems)) is not None:
                levels[name] = level
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{name} = {value!r}: use a level string or an object with enforcementLevel and parameters")
            continue
        for key, setting in value.items():
            where = f"{name}.{key}"
            if key == "enforcementLevel":
                if (level := _level(setting, where, problems)) is not None:
                    levels[name] = level
            elif key not in policy.params:
                known = ", ".join(["enforcementLevel", *policy.params])
                problems.append(f"{where}: unknown parameter; {name} takes {known}")
            elif not _type_ok(setting, policy.params[key]):
                problems.append(
                    f"{where} = {setting!r}: expected {json.dumps({k: v for k, v in policy.params[key].items() if k in ('type', 'items')})}"
                )
            else:
                params.setdefault(name, {})[key] = setting
    if problems:
        raise PolicyConfigError(problems)
    return PolicyConfig(levels, params)


FIX = "Fix: pass the policy config JSON file (as for `pulumi preview --policy-pack-config`)"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(
                f"duplicate key {key!r}; JSON keeps only the last, so one setting would be dropped silently. Fix: keep one {key!r} entry"
            )
        out[key] = value
    return out


def from_text(text: str, source: str) -> PolicyConfig:
    """The config in `text` (read by stacks/policy_file.py through the one reader, which bounds its size
    and depth); invalid JSON, a duplicate key or a bad setting is one named problem each."""
    try:
        raw = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(
            [f"{source}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; {FIX}"]
        ) from None
    except ValueError as exc:
        raise PolicyConfigError([f"{source}: {exc}"]) from None
    except RecursionError:
        raise PolicyConfigError([f"{source}: nested too deeply to be a policy config; {FIX}"]) from None
    try:
        return parse(raw)
    except PolicyConfigError as exc:
        raise PolicyConfigError([f"{source}: {p}" for p in exc.problems]) from None
