"""Bounded config value types: what the Kubernetes and AWS APIs accept, checked when config is parsed.

Every integer that lands in an API object is at most int32 (the Kubernetes API's `format: int32`),
and every string has a length bound and no control characters, so a hostile or mistyped value fails
at parse time naming its config key, not at the API server (or never). Each custom error type has
a fix in FIXES, used by the config error formatter.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

INT32_MAX = 2**31 - 1
# One value that lands in an object (an env value, an inline template). Kubernetes caps an object's
# annotations at 256 KiB in total; etcd rejects a whole object beyond ~1.5 MiB, so a few such values
# still fit in one Deployment or custom resource.
MAX_TEXT = 256 * 1024
MAX_LINE = 4096  # a single-line free string: a path, a URI, a query, an argument
MAX_ENV_TOTAL = 2 * MAX_TEXT  # all env values of one container together

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # text may hold \t, \n, \r

FIXES = {
    "control_character": "remove control characters (newlines, tabs, escapes) from the value",
    "yaml_boolean": "quote it",  # the formatter adds the key and the word
    "dns_label": "use at most 63 lowercase letters, digits and '-', starting with a letter, e.g. my-router",
    "dns_subdomain": "use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, e.g. hf-token",
    "secret_key": "use letters, digits, '-', '_' and '.', e.g. token",
    "env_name": "use letters, digits, '_', '-' and '.', not starting with a digit, e.g. MY_SETTING",
    "label_key": "use an optional DNS prefix and '/' then at most 63 letters, digits, '-', '_' and '.', e.g. example.com/team",
    "label_value": "use at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    "image_reference": "use an OCI image reference, e.g. public.ecr.aws/org/image:1.0 or registry/image@sha256:<digest>",
    "env_too_large": f"keep all env values together under {MAX_ENV_TOTAL} characters; mount large data from a ConfigMap or the model files instead",
    "name_template": "use lowercase letters, digits, '-' and the placeholder {name}, e.g. {name}-router",
}


def _checked(kind: str, message: str, test: Any) -> AfterValidator:
    def check(value: str) -> str:
        if not test(value):
            raise PydanticCustomError(kind, message)
        return value

    return AfterValidator(check)


def _no_control(pattern: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found:
            raise PydanticCustomError(
                "control_character",
                "contains control character {char} at position {at}",
                {"char": repr(found.group()), "at": found.start()},
            )
        return value

    return AfterValidator(check)


def _not_bool(kind: str) -> BeforeValidator:
    # pydantic turns true/false into 1/0 for a number, and YAML turns yes/no into booleans: refuse both.
    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError(kind, "a boolean where a number was meant")
        return value

    return BeforeValidator(check)


Int32 = Annotated[int, _not_bool("int_type"), Field(le=INT32_MAX)]
Number = Annotated[float, _not_bool("float_type"), Field(allow_inf_nan=False)]

# Numbers that feed arithmetic (rule C1's replicas and $ a month, autoscaler targets), bounded far above any
# real endpoint and far below where a product or quotient of two of them stops being a finite float.
MAX_REQUESTS_PER_SECOND = 1_000_000.0  # one endpoint's peak, or one replica's measured capacity
MAX_LATENCY_SECONDS = 86_400.0  # an SLO bound: a day
MAX_USD_PER_HOUR = 10_000.0  # one replica's price (the largest GPU instances cost about $100 an hour)
MAX_REPLICAS = INT32_MAX  # a derived replica count must be one the config and the API accept


# A single-line string of at most N characters is `Annotated[str, Field(max_length=N), ONE_LINE]`: written out
# in full (not built by a function) so type checkers read it as `str`.
ONE_LINE = _no_control(_CONTROL)
Line = Annotated[str, Field(max_length=MAX_LINE), ONE_LINE]
Text = Annotated[str, Field(max_length=MAX_TEXT), _no_control(_CONTROL_IN_TEXT)]  # may span lines

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

DnsSubdomain = Annotated[
    str,
    Field(max_length=253),
    ONE_LINE,
    _checked("dns_subdomain", "not a DNS-1123 subdomain (a Kubernetes object name)", _DNS_SUBDOMAIN.fullmatch),
]
SecretKey = Annotated[
    str,
    Field(max_length=253),
    ONE_LINE,
    _checked(
        "secret_key",
        "not a valid Secret key (letters, digits, '-', '_', '.')",
        re.compile(r"[-._a-zA-Z0-9]+").fullmatch,
    ),
]
EnvName = Annotated[
    str,
    Field(max_length=253),
    ONE_LINE,
    _checked("env_name", "not a valid environment variable name", re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*").fullmatch),
]


def _label_key(value: str) -> bool:
    prefix, _, name = value.rpartition("/")
    if prefix and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and re.fullmatch(_QUALIFIED, name) is not None


LabelKey = Annotated[
    str, Field(max_length=317), ONE_LINE, _checked("label_key", "not a valid Kubernetes label key", _label_key)
]
LabelValue = Annotated[
    str,
    Field(max_length=63),
    ONE_LINE,
    _checked(
        "label_value",
        "not a valid Kubernetes label value",
        lambda v: v == "" or re.fullmatch(_QUALIFIED, v) is not None,
    ),
]

# The OCI distribution reference grammar (github.com/distribution/reference, regexp.go).
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|[-]+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)(?::{_TAG})?(?:@{_DIGEST})?"
)


def _image_reference(value: str) -> bool:
    found = _REFERENCE.fullmatch(value)
    return found is not None and len(found.group("name")) <= 255


ImageReference = Annotated[
    str, Field(max_length=1024), ONE_LINE, _checked("image_reference", "not an OCI image reference", _image_reference)
]


def _name_template(value: str) -> bool:
    # Filled by str.replace, never str.format: the only placeholder is {name} (a DNS-1035 label).
    return _DNS_1035.fullmatch(value.replace("{name}", "n")) is not None


NameTemplate = Annotated[
    str,
    Field(max_length=63),
    ONE_LINE,
    _checked("name_template", "not a DNS-1035 label once {name} is filled in", _name_template),
]


def _env_total(env: dict[str, str]) -> dict[str, str]:
    total = sum(len(k) + len(v) for k, v in env.items())
    if total > MAX_ENV_TOTAL:
        raise PydanticCustomError(
            "env_too_large",
            "env values total {total} characters, more than {limit}",
            {"total": total, "limit": MAX_ENV_TOTAL},
        )
    return env


Env = Annotated[dict[EnvName, Text], AfterValidator(_env_total)]
