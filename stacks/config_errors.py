"""pydantic validation errors -> one-line `Problem`s: the config path, the value, the rule, and a fix
that names the expected type with an example (never a bare "correct the value")."""

from __future__ import annotations

import reprlib
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from benchmarks.secrets import scrub_data
from components.rules import Problem
from components.rules.bounds import FIXES, INT32_MAX

_SOURCE_TAGS = {"s3", "fsx", "huggingface"}
_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxlevel = 80, 80, 4, 4, 2

# pydantic error type -> (what was expected, an example value as written in YAML)
_EXPECTED = {
    "string_type": ("a string", '"text"'),
    "int_type": ("an integer", "2"),
    "int_parsing": ("an integer", "2"),
    "int_from_float": ("a whole number", "2"),
    "float_type": ("a number", "0.5"),
    "float_parsing": ("a number", "0.5"),
    "finite_number": ("a finite number", "0.5"),
    "bool_type": ("true or false", "true"),
    "bool_parsing": ("true or false", "true"),
    "list_type": ("a list", '["a", "b"]'),  # no [word]: Rich would read it as markup
    "dict_type": ("a mapping", "{key: value}"),
    "model_type": ("a mapping", "{key: value}"),
    "model_attributes_type": ("a mapping", "{key: value}"),
}


# InferenceEndpointConfig fields the operator has and this stack does not offer: an endpoint key of that name is
# not a typo, so the error says what is missing and what to do instead (docs/backends.md, option table).
NOT_OFFERED = {
    # CRD spec.nodeAffinity: "mutually exclusive with instanceType and instanceTypes fields". The stack places,
    # sizes, fits and prices every endpoint by its instance type, so it keeps those and refuses the affinity.
    "nodeAffinity": (
        "the operator's nodeAffinity replaces instanceType and instanceTypes (CRD: mutually exclusive), and this stack places, "
        "fits (G23) and prices each endpoint by its instance type",
        "remove nodeAffinity; use instanceTypes for an ordered list of instance types the operator may pick from",
    ),
    # CRD spec.dnsConfig: "DNS automation configuration for Route53. Requires tlsConfig.customCertificateConfig".
    "dnsConfig": (
        "the operator's dnsConfig writes the endpoint's Route53 record, which this stack already writes from platform.ingress.domain "
        "(two writers of one record fight)",
        "remove dnsConfig; set platform.ingress.domain {name, hostedZoneId}: the stack issues the certificate and writes the record",
    ),
    # CRD spec.dataCapture s3Uri: "If not provided, the TLS certificate bucket will be used"; the operator's managed
    # policy AmazonSageMakerHyperPodInferenceAccess (v4, Sid DataCaptureS3) may write only hyperpod-tls*/data-capture/*.
    "dataCapture": (
        "data capture writes prompts and completions to S3 with the operator's role, which AWS's managed policy lets write only "
        "hyperpod-tls*/data-capture/*, and the load balancer tier needs a bucket policy for ALB log delivery; the stack creates neither",
        "remove dataCapture; capture at your client or gateway, or write the InferenceEndpointConfig yourself with a bucket and IAM "
        "you own (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-hyperpod-model-deployment.html)",
    ),
}


class Shown:
    """A value as a problem line shows it: shortened to stay one readable line, or a marker in its place."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def shown(value: Any) -> Any:
    """`value` as a problem quotes it: shortened, and scrubbed before it is shortened, so no piece of a known
    secret survives the cut (benchmarks/secrets.py)."""
    value = scrub_data(value)
    text = _SHOWN.repr(value)
    if isinstance(value, str) and len(value) > 80:
        text += f" ({len(value)} characters)"
    return Shown(text) if text != repr(value) else value


def path_of(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _SOURCE_TAGS and i > 0 and loc[i - 1] == "modelSource":
            continue  # pydantic names the union member; the user never writes it
        elif part == "[key]":
            out += " (key)"
        else:
            out += ("." if out else "") + str(part)
    return out or "config"


def _strip(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def field_at(root: type[BaseModel], loc: tuple[Any, ...]) -> FieldInfo | None:
    """The model field an error location points at, or None (a list item, a dict value, unknown)."""
    annotation: Any = root
    info: FieldInfo | None = None
    for part in loc:
        annotation = _strip(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = next((f for name, f in annotation.model_fields.items() if part in (name, f.alias)), None)
            if info is None:
                return None
            annotation = info.annotation
        elif typing.get_origin(annotation) is list and isinstance(part, int):
            annotation, info = typing.get_args(annotation)[0], None
        elif typing.get_origin(annotation) is dict:
            annotation, info = typing.get_args(annotation)[0 if part == "[key]" else 1], None
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):  # a tagged union: part is the tag
            members = [a for a in typing.get_args(annotation) if _tag(a) == part]
            if not members:
                return None
            annotation = members[0]
        else:
            return None
    return info


def _tag(model: Any) -> Any:
    fields = getattr(model, "model_fields", {})
    args = typing.get_args(fields["type"].annotation) if "type" in fields else ()
    return args[0] if args else None


def _example(kind: str, info: FieldInfo | None) -> str:
    if info is not None:
        model = _strip(info.annotation)
        if isinstance(model, type) and issubclass(model, BaseModel):
            required = [f.alias or n for n, f in model.model_fields.items() if f.is_required()]
            return "{" + ", ".join(f"{k}: ..." for k in required) + "}" if required else "{}"
        default = info.default
        if (
            default is not PydanticUndefined
            and isinstance(default, (int, float, str))
            and not isinstance(default, bool)
        ):
            if kind in ("string_type",) and isinstance(default, str):
                return f'"{default}"'
            if kind not in ("string_type",) and not isinstance(default, str):
                return str(default)
    return _EXPECTED[kind][1]


def _key(loc: tuple[Any, ...]) -> str:
    names = [p for p in loc if isinstance(p, str) and p != "[key]" and p not in _SOURCE_TAGS]
    return names[-1] if names else "key"


def problem(err: Mapping[str, Any], root: type[BaseModel]) -> Problem:
    kind = err["type"]
    raw = err.get("input")
    value = shown(raw)
    loc = tuple(err["loc"])
    path = path_of(loc)
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return Problem(path, None, "CONFIG", "required key is missing", f"add {_key(loc)}")
    if kind == "extra_forbidden":
        offered_elsewhere = NOT_OFFERED.get(_key(loc))
        if offered_elsewhere and len(loc) == 3 and loc[0] == "endpoints":
            return Problem(path, value, "CONFIG", offered_elsewhere[0], offered_elsewhere[1])
        return Problem(
            path,
            value,
            "CONFIG",
            "unknown key",
            "remove it or fix its spelling (keys are camelCase, see docs/configuration.md)",
        )
    if isinstance(raw, bool) and kind in ("string_type", "literal_error"):  # a word YAML 1.1 turned into a boolean
        word = "yes" if raw else "no"
        return Problem(
            path,
            value,
            "CONFIG",
            "YAML reads unquoted yes/no/on/off/true/false as a boolean, not as text",
            f'quote it, e.g. {_key(loc)}: "{word}"',
        )
    if kind == "literal_error":
        return Problem(path, value, "CONFIG", "not an allowed value", f"use one of {ctx.get('expected', '')}")
    if kind == "union_tag_invalid":
        tag = raw.get("type") if isinstance(raw, dict) else raw
        return Problem(
            path + ".type",
            shown(tag),
            "CONFIG",
            "unknown model source type",
            f"use one of {ctx.get('expected_tags', '')}",
        )
    if kind == "union_tag_not_found":
        return Problem(
            path + ".type",
            None,
            "CONFIG",
            "required key is missing",
            f"add type: one of {', '.join(sorted(_SOURCE_TAGS))}",
        )
    if kind == "int_parsing_size":  # 1e308 where an integer is meant: beyond any int, so beyond int32
        return Problem(
            path,
            value,
            "CONFIG",
            f"beyond the int32 range of the API field (at most {INT32_MAX})",
            f"use a value <= {INT32_MAX}",
        )
    if kind in _EXPECTED:
        expected = _EXPECTED[kind][0]
        info = field_at(root, loc)
        if kind == "finite_number" and info is not None and _strip(info.annotation) is int:
            kind = "int_type"  # inf or nan where an integer is meant: the example is a whole number
            expected = "a finite integer"
        example = _example(kind, info)
        if kind == "string_type" and isinstance(raw, (int, float)):
            example = f'"{raw}"'
        return Problem(
            path,
            value,
            "CONFIG",
            f"expected {expected}, got {type(raw).__name__}",
            f"write {expected}, e.g. {_key(loc)}: {example}",
        )
    if kind in FIXES:
        return Problem(path, value, "CONFIG", err["msg"], FIXES[kind])
    if kind == "less_than_equal" and ctx.get("le") == INT32_MAX:
        return Problem(
            path,
            value,
            "CONFIG",
            f"beyond the int32 range of the API field (at most {INT32_MAX})",
            f"use a value <= {INT32_MAX}",
        )
    bound = {"less_than_equal": "<=", "less_than": "<", "greater_than_equal": ">=", "greater_than": ">"}.get(kind)
    if bound:
        limit = next(iter(ctx.values()), "")
        return Problem(path, value, "CONFIG", f"out of range: must be {bound} {limit}", f"use a value {bound} {limit}")
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length", "")
        unit = "characters" if kind == "string_too_long" else "items"
        return Problem(path, value, "CONFIG", f"longer than {limit} {unit}", f"shorten it to at most {limit} {unit}")
    if kind in ("string_too_short", "too_short"):
        return Problem(
            path, value, "CONFIG", "too short or empty", f"give at least {ctx.get('min_length', 1)} character(s)"
        )
    if kind == "string_pattern_mismatch":
        return Problem(
            path,
            value,
            "CONFIG",
            "does not have the expected form",
            f"use a value matching the pattern {ctx.get('pattern', '')}",
        )
    return Problem(
        path, value, "CONFIG", err["msg"].rstrip("."), "correct the value (see docs/configuration.md for this key)"
    )
