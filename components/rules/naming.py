"""Kubernetes names (G1, G2).

Names are lowercase RFC 1123 labels and leave room for every name an operator derives from them:
the HyperPod operator names an init container `prefetch-{name}-inf`, so an endpoint name that fits
63 characters on its own can still break the deployment (a 51-character name made a 64-character init container name).
Truncation keeps a readable prefix and appends a hash of the full normalised name, so names stay
unique and stable across runs.

An endpoint's name is unique only within its namespace. Names of what lands outside it (cluster-scoped
objects such as a PersistentVolume or OME's ClusterBaseModel) come from `scoped_name`, and Pulumi
resource names from `resource_key`: both are unique per (namespace, name), so `a-b`/`c` and `a`/`b-c`
never meet.
"""

from __future__ import annotations

import hashlib
import re

from .catalog import G1, G2
from .problems import Change, Problem

MAX_NAME = 63
HASH_LEN = 10  # 40 bits: thousands of near-identical names never collide in practice

# Names the HyperPod operator derives from an InferenceEndpointConfig's metadata.name.
HYPERPOD_DERIVED = (
    "prefetch-{name}-inf",  # init container (13 characters more than the name)
    "alb-{name}",  # operator-created Ingress
)

_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def overhead(patterns: tuple[str, ...]) -> int:
    return max((len(p.replace("{name}", "")) for p in patterns), default=0)


def budget(patterns: tuple[str, ...] = ()) -> int:
    """The longest name whose derived names all fit 63 characters."""
    return MAX_NAME - overhead(patterns)


HYPERPOD_NAME_BUDGET = budget(HYPERPOD_DERIVED)  # 50


def normalise(raw: str, allow_dots: bool = False) -> str:
    """Lowercase; `_`, spaces and any other invalid character become `-`; no leading/trailing `-`."""
    allowed = "a-z0-9.-" if allow_dots else "a-z0-9-"
    name = re.sub(f"[^{allowed}]", "-", raw.lower())
    name = re.sub(r"-{2,}", "-", name)
    if allow_dots:
        name = re.sub(r"\.{2,}", ".", name)
        name = re.sub(r"-?\.-?", ".", name)
    return name.strip("-.")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LEN]


def fit(name: str, limit: int) -> str:
    """Shorten to `limit`: readable prefix + '-' + hash of the whole name. Short names pass as they are."""
    if len(name) <= limit:
        return name
    prefix = name[: max(limit - HASH_LEN - 1, 0)].rstrip("-.")
    return f"{prefix}-{_digest(name)}" if prefix else _digest(name)[:limit]


def k8s_name(raw: str, derived: tuple[str, ...] = (), allow_dots: bool = False) -> str:
    """A valid, stable Kubernetes name for `raw` that leaves room for the `derived` patterns."""
    name = normalise(raw, allow_dots=allow_dots)
    if not name:
        # Nothing usable survived; still deterministic and distinct per input.
        name = "n" + _digest(raw)
    return fit(name, budget(derived))


def endpoint_name(raw: str) -> str:
    """metadata.name and spec.endpointName of a HyperPod endpoint (G1 + G2)."""
    return k8s_name(raw, HYPERPOD_DERIVED)


def scoped_name(namespace: str, name: str, suffix: str = "", limit: int = MAX_NAME) -> str:
    """A label-valid name, unique per (namespace, name, suffix), for an object outside the endpoint's
    namespace. Readable `<namespace>-<name><suffix>` prefix, then a hash of the three parts joined by a
    character no part can hold: the dash-joined text alone is ambiguous (`a-b`+`c` = `a`+`b-c`)."""
    digest = _digest(f"{namespace}/{name}/{suffix}")
    prefix = fit(normalise(f"{namespace}-{name}{suffix}"), limit - HASH_LEN - 1).rstrip("-.")
    return f"{prefix}-{digest}" if prefix else digest[:limit]


def resource_key(namespace: str, name: str) -> str:
    """The Pulumi resource name of an endpoint: `/` is in no Kubernetes name or namespace, so the pair
    is unambiguous, and two teams may both call an endpoint `llama`."""
    return f"{namespace}/{name}"


def derived_names(name: str, patterns: tuple[str, ...] = HYPERPOD_DERIVED) -> list[str]:
    return [p.format(name=name) for p in patterns]


def check_name(name: object, path: str, derived: tuple[str, ...] = (), allow_dots: bool = False) -> list[Problem]:
    if not isinstance(name, str):
        return [Problem(path, name, G2, "a Kubernetes name must be a string", "quote the value")]
    suggestion = k8s_name(name, derived, allow_dots)
    pattern = _SUBDOMAIN_RE if allow_dots else _LABEL_RE
    if not pattern.match(name):
        return [
            Problem(
                path,
                name,
                G2,
                "not a lowercase RFC 1123 name ([a-z0-9]([-a-z0-9]*[a-z0-9])?)",
                f"use {suggestion!r}",
            )
        ]
    limit = budget(derived)
    if len(name) > limit:
        too_long = max(derived_names(name, derived), key=len) if derived else name
        return [
            Problem(
                path,
                name,
                G1,
                f"{too_long!r} has {len(too_long)} characters, over the Kubernetes limit of {MAX_NAME}",
                f"use at most {limit} characters, e.g. {suggestion!r}",
            )
        ]
    return []


def fix_name(
    name: object, path: str, derived: tuple[str, ...] = (), allow_dots: bool = False
) -> tuple[object, list[Change]]:
    if not isinstance(name, str):
        return name, []
    problems = check_name(name, path, derived, allow_dots)
    if not problems:
        return name, []
    fixed = k8s_name(name, derived, allow_dots)
    return fixed, [Change(path, name, fixed, problems[0].rule, problems[0].message)]


def check_label_values(meta: object) -> list[Problem]:
    """G2: label and annotation values are strings (a YAML `true` or `8000` is refused by the API)."""
    meta = meta if isinstance(meta, dict) else {}
    out = []
    for field in ("labels", "annotations"):
        for key, value in (meta.get(field) or {}).items():
            if not isinstance(value, str):
                out.append(
                    Problem(
                        f"metadata.{field}.{key}",
                        value,
                        G2,
                        f"{field[:-1]} values must be strings",
                        f"quote it: {str(value)!r}",
                    )
                )
    return out
