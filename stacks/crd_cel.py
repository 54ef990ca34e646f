"""A CRD's own validation rules (`x-kubernetes-validations`, CEL) on a custom resource, evaluated the way the
API server does when the object is created.

What follows the API server (kubernetes/apiextensions-apiserver@v0.33.13
pkg/apiserver/schema/cel/validation.go, pkg/apiserver/schema/defaulting/algorithm.go; kubernetes/apiserver@v0.33.13
pkg/cel/common/values.go, pkg/cel/escaping.go, pkg/cel/environment/base.go):

- the schema's `default`s are applied first (the API server defaults before it validates);
- a rule at a schema node runs with `self` = the value there, only where that value is present and not null;
  rules under `items` / `additionalProperties` run once per element, rules under `allOf` on the same value;
- `self` is typed by its schema: `integer` -> int, `number` -> double, `format: byte/date-time/date/duration`
  -> bytes/timestamp/duration, `x-kubernetes-int-or-string` as given; an object with `properties` shows only
  those, with CEL-escaped names (`namespace` -> `__namespace__`, `-` -> `__dash__`) and null fields absent;
  at the root (and in embedded resources) `metadata` holds only `name` and `generateName`;
- a false rule reports `messageExpression` (when it gives a one-line string), else `message`, else
  `failed rule: <rule>`; `fieldPath` extends the path; an evaluation error is reported with the rule;
- rules that read `oldSelf` are transition rules: a create has no old object, so they are skipped and counted;
- no rule runs when the object has a type, enum, required or length error (`hasBlockingErr` in
  kubernetes/apiextensions-apiserver@v0.33.13 pkg/registry/customresource/strategy.go).

The environment has what Kubernetes 1.33 gives rules and the CRDs use: the standard macros and functions,
the strings extension (`lowerAscii`, `split`, `substring`, ...), optional types (`.?`, `orValue`) and
`isIP` (kubernetes/apiserver@v0.33.13 pkg/cel/library/ip.go). A rule that calls any other function
(`url`, `quantity`, `cidr`, `sets.*`, ...) does not compile here and is reported `unchecked`, never passed.
Each rule is compiled once per process.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from components.rules.problems import Problem

RULE = "CEL"  # the rule tag of a violated CRD rule (the CRD's own rule, not one of the project's guardrails)
LIBRARY = "cel-expr-python"
# Schema errors after which the API server runs no rule (hasBlockingErr), as jsonschema names their keywords.
BLOCKING_KEYWORDS = frozenset({"type", "enum", "required", "maxLength", "maxItems", "maxProperties"})
MAX_MESSAGE = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class CelCounts:
    evaluated: int = 0  # rules run (passed or violated)
    violated: int = 0
    unchecked: int = 0  # rules not run here: a function this check lacks, or schema errors first
    skipped: int = 0  # transition rules (oldSelf): a create has no old object

    def __add__(self, other: CelCounts) -> CelCounts:
        return CelCounts(
            self.evaluated + other.evaluated,
            self.violated + other.violated,
            self.unchecked + other.unchecked,
            self.skipped + other.skipped,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "evaluated": self.evaluated,
            "violated": self.violated,
            "unchecked": self.unchecked,
            "skipped": self.skipped,
        }

    def __str__(self) -> str:
        return f"{self.evaluated} evaluated, {self.violated} violated, {self.unchecked} unchecked, {self.skipped} skipped (oldSelf)"


@dataclass(frozen=True)
class CelViolation:
    problem: Problem  # path, value at the rule's node, the rule's own message, the rule text in the fix
    rule: str

    def __str__(self) -> str:
        return str(self.problem)


@dataclass(frozen=True)
class CelResult:
    counts: CelCounts = CelCounts()
    violations: tuple[CelViolation, ...] = ()
    unchecked: tuple[str, ...] = ()  # one line per distinct rule not run, with why


# ---------------------------------------------------------------- the environment


@dataclass
class _Compiled:
    program: Any = None
    unchecked: str = ""  # why the rule cannot run here ("" when it compiled)
    transition: bool = False  # reads oldSelf


_ENV: Any = None
_ENV_ERROR = ""
_CACHE: dict[str, _Compiled] = {}
_UNDECLARED = re.compile(r"undeclared reference to '([^']+)'")
_OLD_SELF = re.compile(r"\boldSelf\b")


def is_ip(text: str) -> bool:
    """isIP(string): IPv4 or IPv6, no zone, no IPv4-mapped IPv6, no leading zeros in IPv4 octets
    (kubernetes/apiserver@v0.33.13 pkg/cel/library/ip.go parseIPAddr; Python's parser refuses leading zeros too)."""
    if not isinstance(text, str) or "%" in text:
        return False
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None)


def _env() -> Any:
    global _ENV, _ENV_ERROR
    if _ENV is None and not _ENV_ERROR:
        try:
            from cel_expr_python import cel
            from cel_expr_python.ext import ext_optional, ext_strings
        except ImportError as exc:
            _ENV_ERROR = f"{LIBRARY} is not installed ({exc}); Fix: pip install -r requirements.txt"
            return None
        kubernetes = cel.CelExtension(
            "kubernetes",
            [cel.FunctionDecl("isIP", [cel.Overload("isIP_string", cel.Type.BOOL, [cel.Type.STRING], impl=is_ip)])],
        )
        # `self` is dynamic: the checker then finds undeclared functions, and values carry their schema types.
        _ENV = cel.NewEnv(
            variables={"self": cel.Type.DYN},
            extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional(), kubernetes],
        )
    return _ENV


def compiled(text: str) -> _Compiled:
    """The rule compiled once per process (the environment types `self` as dyn, so one program serves every
    schema path the same text appears at)."""
    found = _CACHE.get(text)
    if found is not None:
        return found
    env = _env()
    if env is None:
        found = _Compiled(unchecked=_ENV_ERROR, transition=bool(_OLD_SELF.search(text)))
    else:
        try:
            found = _Compiled(program=env.compile(text))
        except Exception as exc:  # the library raises RuntimeError with the checker's text
            names = sorted(set(_UNDECLARED.findall(str(exc))))
            if any(n.split(".")[0] == "oldSelf" for n in names):  # `has(oldSelf.x)` names `oldSelf.x`
                found = _Compiled(transition=True)
            elif names:
                found = _Compiled(unchecked=f"uses {', '.join(names)}, which this offline check does not implement")
            else:
                found = _Compiled(unchecked=f"does not compile here: {_first_line(str(exc))}")
    _CACHE[text] = found
    return found


def _first_line(text: str) -> str:
    text = re.sub(r"^[A-Z_]+: (ERROR: )?", "", text.strip())
    return text.splitlines()[0] if text else text


# ---------------------------------------------------------------- values as the API server types them


_RESERVED = frozenset(
    "true false null in as break const continue else for function if import let loop package namespace return var void while".split()
)
_SIMPLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPABLE = re.compile(r"[A-Za-z_.\-/][A-Za-z0-9_.\-/]*")


def escape(name: str) -> str | None:
    """A property name as CEL sees it (kubernetes/apiserver@v0.33.13 pkg/cel/escaping.go Escape); None when
    the name cannot be reached from CEL."""
    if not name or name[0].isdigit():
        return None
    if name in _RESERVED:
        return f"__{name}__"
    if _SIMPLE.fullmatch(name) and "__" not in name:
        return name
    if not _ESCAPABLE.fullmatch(name):
        return None
    return re.sub(
        r"__|[./-]",
        lambda m: {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}[m.group(0)],
        name,
    )


_GO_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> dt.timedelta:
    """Go's time.ParseDuration ("1h30m", "300ms", "-1.5h", "0")."""
    body, sign = text, 1
    if body and body[0] in "+-":
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if body == "0":
        return dt.timedelta(0)
    seconds, pos = 0.0, 0
    while pos < len(body):
        match = _GO_DURATION.match(body, pos)
        if not match or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}")
        seconds += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    return dt.timedelta(seconds=sign * seconds)


class _BadValue(Exception):
    pass


def _with_type_and_object_meta(schema: dict[str, Any]) -> dict[str, Any]:
    """At the root and in embedded resources, CEL sees apiVersion, kind and only metadata.name/generateName."""
    props = dict(schema.get("properties") or {})
    props["apiVersion"] = props["kind"] = {"type": "string"}
    props["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
    }
    return {**schema, "properties": props}


def to_cel(value: Any, schema: dict[str, Any]) -> Any:
    """`value` as the API server hands it to a rule with this schema (UnstructuredToVal)."""
    if value is None:
        return None
    if schema.get("x-kubernetes-int-or-string"):
        return value
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource"):
            schema = _with_type_and_object_meta(schema)
        props = schema.get("properties")
        if props is not None:
            out = {}
            for key, item in value.items():
                sub = props.get(key)
                name = escape(key) if sub is not None else None
                if name is not None and item is not None:  # a null field of an object reads as absent
                    out[name] = to_cel(item, sub)
            return out
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {key: to_cel(item, extra) for key, item in value.items()}
        return {}  # no properties and no additionalProperties schema: nothing inside is visible to CEL
    if kind == "array" and isinstance(value, list):
        items = found if isinstance(found := schema.get("items"), dict) else {}
        return [to_cel(item, items) for item in value]
    if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "string" and isinstance(value, str):
        return _formatted(value, schema.get("format"))
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise _BadValue(f"{value} does not fit an int64")
    return value  # integer, boolean, preserved unknown fields; a type mismatch is the schema check's error


def _formatted(value: str, fmt: str | None) -> Any:
    if fmt not in ("duration", "date", "date-time", "byte"):
        return value
    try:
        if fmt == "byte":
            return base64.b64decode(value, validate=True)
        from google.protobuf import duration_pb2, timestamp_pb2  # the library takes well-known types, not datetime

        if fmt == "duration":
            out = duration_pb2.Duration()
            out.FromTimedelta(go_duration(value))
            return out
        when = dt.datetime.fromisoformat(value) if fmt == "date-time" else dt.datetime.strptime(value, "%Y-%m-%d")
        out = timestamp_pb2.Timestamp()
        out.FromDatetime(when.astimezone(dt.UTC).replace(tzinfo=None) if when.tzinfo else when)
        return out
    except (ValueError, TypeError) as exc:
        raise _BadValue(f"invalid {fmt} {value!r}: {exc}") from None


def apply_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """The schema's defaults filled in, in place (kubernetes/apiextensions-apiserver@v0.33.13
    pkg/apiserver/schema/defaulting/algorithm.go Default)."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if (
                isinstance(sub, dict)
                and "default" in sub
                and (key not in value or (value[key] is None and not sub.get("nullable")))
            ):
                value[key] = json.loads(json.dumps(sub["default"]))
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                apply_defaults(item, props[key])
            elif isinstance(extra, dict):
                if item is None and not extra.get("nullable") and "default" in extra:
                    value[key] = item = json.loads(json.dumps(extra["default"]))
                apply_defaults(item, extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = schema["items"]
        for i, item in enumerate(value):
            if item is None and not items.get("nullable") and "default" in items:
                value[i] = item = json.loads(json.dumps(items["default"]))
            apply_defaults(item, items)
    return value


# ---------------------------------------------------------------- the rules of one CRD version


@dataclass
class _Rule:
    text: str
    message: str
    message_expression: str
    field_path: str
    reason: str


@dataclass
class _Node:
    """A schema node with rules at or below it; branches without rules are left out."""

    schema: dict[str, Any]
    rules: list[_Rule] = field(default_factory=list)
    all_of: list[_Node] = field(default_factory=list)
    properties: dict[str, _Node] = field(default_factory=dict)
    items: _Node | None = None
    additional: _Node | None = None


def _node(schema: Any) -> _Node | None:
    if not isinstance(schema, dict):
        return None
    node = _Node(schema)
    for raw in schema.get("x-kubernetes-validations") or []:
        if isinstance(raw, dict) and isinstance(raw.get("rule"), str) and raw["rule"].strip():
            node.rules.append(
                _Rule(
                    raw["rule"],
                    str(raw.get("message") or ""),
                    str(raw.get("messageExpression") or ""),
                    str(raw.get("fieldPath") or ""),
                    str(raw.get("reason") or ""),
                )
            )
    node.all_of = [n for n in (_node(s) for s in schema.get("allOf") or []) if n]
    node.properties = {k: n for k, n in ((k, _node(s)) for k, s in (schema.get("properties") or {}).items()) if n}
    node.items = _node(schema.get("items"))
    node.additional = _node(schema.get("additionalProperties"))
    if node.rules or node.all_of or node.properties or node.items or node.additional:
        return node
    return None


class CrdRules:
    """The rules of one CRD version's openAPIV3Schema, walked the way the API server walks them."""

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        self.root = _node(schema)

    @property
    def empty(self) -> bool:
        return self.root is None

    def check(self, obj: dict[str, Any], blocked: bool = False) -> CelResult:
        """Every rule on `obj`; `blocked`: the object has schema errors that stop the API server's rules,
        so each rule that would run is counted unchecked instead."""
        if self.root is None:
            return CelResult()
        walk = _Walk(obj, blocked)
        walk.visit(self.root, apply_defaults(json.loads(json.dumps(obj)), self.schema), "", root=True)
        unchecked = tuple(
            f"{count} {why}" if why.startswith("rule(s)") else (f"{count} x {why}" if count > 1 else why)
            for why, count in walk.unchecked.items()
        )
        return CelResult(
            CelCounts(walk.evaluated, len(walk.violations), sum(walk.unchecked.values()), walk.skipped),
            tuple(walk.violations),
            unchecked,
        )


class _Walk:
    def __init__(self, obj: dict[str, Any], blocked: bool):
        self.obj = obj
        self.blocked = blocked
        self.evaluated = 0
        self.skipped = 0
        self.violations: list[CelViolation] = []
        self.unchecked: dict[str, int] = {}

    def visit(self, node: _Node, value: Any, path: str, root: bool = False) -> None:
        if value is None:
            return  # only present, non-null values are validated
        if node.rules:
            self.run(node, value, path, root)
        for sub in node.all_of:
            self.visit(sub, value, path, root)
        if isinstance(value, list) and node.items:
            for i, item in enumerate(value):
                self.visit(node.items, item, f"{path}[{i}]", False)
        elif isinstance(value, dict):
            for key, item in value.items():
                if node.additional is not None:
                    self.visit(node.additional, item, f"{path}[{key}]", False)
                prop = node.properties.get(key)
                if prop is not None:
                    self.visit(prop, item, f"{path}.{key}" if path else key, False)

    def run(self, node: _Node, value: Any, path: str, root: bool) -> None:
        self_value: Any = _NOT_CONVERTED
        for rule in node.rules:
            program = compiled(rule.text)
            if program.transition:
                self.skipped += 1
                continue
            if self.blocked or program.unchecked:
                # One line per rule that lacks a function; one per object when nothing can run at all.
                if self.blocked:
                    key = "rule(s) not run: the object has schema errors that stop the API server's rule checks (type, enum, required or length)"
                elif program.unchecked == _ENV_ERROR:
                    key = f"rule(s) not run: {_ENV_ERROR}"
                else:
                    key = f"{path or '(root)'}: {rule.text!r} {program.unchecked}"
                self.unchecked[key] = self.unchecked.get(key, 0) + 1
                continue
            if self_value is _NOT_CONVERTED:
                try:
                    self_value = to_cel(value, _with_type_and_object_meta(node.schema) if root else node.schema)
                except _BadValue as exc:
                    self_value = exc
            self.evaluated += 1
            if isinstance(self_value, _BadValue):
                self.violate(rule, path, value, f"{self_value} evaluating rule: {_rule_error_string(rule)}", error=True)
                continue
            result = program.program.eval(data={"self": self_value})
            if _is_error(result):
                self.violate(
                    rule,
                    path,
                    value,
                    f"{_first_line(str(result.value()))} evaluating rule: {_rule_error_string(rule)}",
                    error=True,
                )
            elif result.value() is not True:
                self.violate(rule, path, value, self.message(rule, self_value))

    def message(self, rule: _Rule, self_value: Any) -> str:
        if rule.message_expression:
            program = compiled(rule.message_expression)
            if program.program is not None:
                result = program.program.eval(data={"self": self_value})
                text = result.value() if not _is_error(result) else None
                if (
                    isinstance(text, str)
                    and text.strip()
                    and len(text.strip()) <= MAX_MESSAGE
                    and "\n" not in text.strip()
                ):
                    return text.strip()
        return rule.message.strip() or f"failed rule: {rule.text.strip()}"

    def violate(self, rule: _Rule, path: str, value: Any, message: str, error: bool = False) -> None:
        """A false rule at `fieldPath` with its `reason`; an evaluation error at the rule's node, as the API server."""
        where = path
        if rule.field_path and not error:
            extra = rule.field_path[1:] if rule.field_path.startswith(".") else rule.field_path
            where = f"{path}.{extra}" if path and not extra.startswith("[") else f"{path}{extra}"
        message = message.rstrip(". ")  # Problem adds ". Fix:"
        if rule.reason and not error:
            message = f"{message} ({rule.reason})"
        fix = f"change the object so that the CRD's rule holds: {rule.text.strip()}"
        self.violations.append(
            CelViolation(Problem(where or "(root)", _short(value), RULE, message, fix), rule.text.strip())
        )


_NOT_CONVERTED = object()


def _is_error(result: Any) -> bool:
    return result.type().name() == "ERROR"


def _rule_error_string(rule: _Rule) -> str:
    return rule.message.strip() or rule.text.strip()


def _short(value: Any, limit: int = 80) -> Any:
    """Scalars as they are; an object or list as compact JSON cut to `limit` characters."""
    if not isinstance(value, (dict, list)):
        return value
    text = json.dumps(value, separators=(",", ":"), sort_keys=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def blocking(error_keywords: list[str]) -> bool:
    """Whether schema errors with these jsonschema keywords stop the API server from running rules."""
    return any(keyword in BLOCKING_KEYWORDS for keyword in error_keywords)
