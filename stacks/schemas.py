"""Schema validation of rendered objects: CRDs from the upstream files, core kinds from
`kubernetes-validate`. Lookup is keyed by (group, version, kind), so OME and KServe plug in as files.
A custom resource is also checked against its CRD's own CEL rules (`x-kubernetes-validations`, see crd_cel.py).

CRD files are upstream data and are not copied into the project. They are found, in order, in:
`--crd-dir`, `$LLM_SERVING_CRD_DIR` (CI hands its schema folder in this way), or the user cache filled
by `python -m stacks crds fetch` from the commit-pinned URLs in `crd_sources.json` (each file checked
against its git blob id).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

from benchmarks import inputs

from . import crd_cel
from .pinned import Fetcher, PinnedFile, fetch_pinned, raw_url
from .pinned import urlopen as _urlopen

PROJECT_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-serving" / "crds"
# CRD files parsed once into JSON, by content hash: libyaml takes 1.5 s for the gateway's 4.5 MB of CRDs per plan.
PARSED_DIR = CACHE_DIR.parent / "crds-parsed"
SOURCES_FILE = Path(__file__).with_name("crd_sources.json")
ENV_VAR = "LLM_SERVING_CRD_DIR"
HEAD_BYTES = 20000  # how much of a CRD file is read to see whether it can define a kind
MAX_CRD_BYTES = 32 * 1024 * 1024  # the largest upstream CRD (KServe's LLMInferenceService) is 2.7 MB
CRD_FIX = "keep only CRD YAML files in the CRD folder"
DEFAULT_K8S_VERSION = "1.33"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _reason(exc: Exception, path: Path) -> str:
    """Why a CRD file was skipped, short: the reader's message without the file name and the fix."""
    if isinstance(exc, inputs.InputError):
        return str(exc).removeprefix(f"{path}: ").split("; Fix: ")[0]
    return type(exc).__name__


# jsonschema ignores `format` without a checker; the API server enforces the integer widths.
FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


def _fits(bits: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:  # a non-number is the `type` keyword's business
        return (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
        )

    return check


FORMAT_CHECKER.checks("int32")(_fits(32))
FORMAT_CHECKER.checks("int64")(_fits(64))


def find_crd_dir(explicit: str | None = None) -> tuple[Path | None, str]:
    """The CRD directory and where it came from; (None, reason) when there is none."""
    candidates = [
        (explicit, "--crd-dir"),
        (os.environ.get(ENV_VAR), f"${ENV_VAR}"),
        (str(CACHE_DIR), f"cache {CACHE_DIR}"),
    ]
    for path, origin in candidates:
        if path and Path(path).is_dir() and any(Path(path).rglob("*.yaml")):
            return Path(path), origin
        if path and origin == "--crd-dir":
            return None, f"--crd-dir {path} is not a directory with CRD files"
    return None, f"no CRD directory: pass --crd-dir, set ${ENV_VAR}, or run `python -m stacks crds fetch`"


@dataclass(frozen=True)
class SchemaResult:
    status: str  # "passed" | "failed" | "unchecked"
    source: str  # which schema was used, or why none was
    errors: tuple[str, ...] = ()
    cel: crd_cel.CelResult = crd_cel.CelResult()  # the CRD's own rules (custom resources only)

    @property
    def failures(self) -> int:
        return len(self.errors) + len(self.cel.violations)


def _strict(schema: Any) -> Any:
    """The API server silently prunes unknown fields; report them instead (additionalProperties: false)."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def parsed_documents(data: bytes, source: str = "CRD file") -> list[Any]:
    """The YAML documents of a CRD file, from the JSON copy made the first time these bytes were parsed.
    A copy that cannot be read or written is no error: the file is parsed again. Text and nesting depth
    are checked before libyaml sees it (a copy exists only for bytes that passed)."""
    cached = PARSED_DIR / f"{hashlib.sha256(data).hexdigest()}.json"
    try:
        with open(cached, "rb") as file:
            return json.loads(file.read())
    except (OSError, ValueError):
        pass
    text = inputs.decode(data, source, CRD_FIX)
    inputs.check_depth(text, "yaml", source, CRD_FIX)
    docs = list(yaml.load_all(text, Loader=_Loader))
    try:
        text = json.dumps(docs)  # a YAML date or binary value has no JSON form: such a file is not cached
        PARSED_DIR.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(partial, cached)
    except (OSError, TypeError, ValueError):
        pass
    return docs


class CrdRegistry:
    """CRD schemas by (group, version, kind); files parsed only when a kind they define is asked for."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._found: dict[tuple[str, str, str], tuple[dict[str, Any], str]] = {}  # schema and source, per version found
        self._schemas: dict[tuple[str, str, str], tuple[jsonschema.Validator, str]] = {}
        self._rules: dict[tuple[str, str, str], crd_cel.CrdRules] = {}
        self._parsed: set[Path] = set()
        self._searched: set[tuple[str, str, str]] = set()  # keys looked for in every file: a miss is final
        self.unreadable: dict[Path, str] = {}  # CRD files skipped, with why: named when a kind stays unchecked

    def _candidates(self, group: str, kind: str) -> Iterable[Path]:
        if self.directory is None:
            return
        needle_kind, needle_group = f"kind: {kind}".encode(), f"group: {group}".encode()
        for path in sorted(self.directory.rglob("*.yaml")):
            if path in self._parsed or "samples" in path.parts:
                continue
            try:
                with inputs.open_regular(path, CRD_FIX) as file:  # the head only: upstream CRD files run to megabytes
                    head = file.read(HEAD_BYTES)
                    if b"CustomResourceDefinition" not in head or needle_group not in head:
                        continue
                    # A bundle of many CRDs (Gateway API's gatewayapi-crds.yaml) names later kinds past the
                    # head: read on, in the same open, only when there is more than the head.
                    found = needle_kind in head or (
                        len(head) == HEAD_BYTES and needle_kind in head[-len(needle_kind) :] + file.read(MAX_CRD_BYTES)
                    )
            except (inputs.InputError, OSError) as exc:
                self._parsed.add(path)
                self.unreadable[path] = _reason(exc, path)
                continue
            if found:
                yield path

    def _load(self, path: Path) -> None:
        self._parsed.add(path)
        # CRD files are upstream data (large): the fast C loader, after the one reader's checks (a regular
        # file, its size, UTF-8, nesting depth); a file that fails them is skipped by name, never a crash.
        try:
            data = inputs.read_bytes(path, max_bytes=MAX_CRD_BYTES, what="CRD file", fix=CRD_FIX)
            docs = parsed_documents(data, str(path))
        except (inputs.InputError, yaml.YAMLError) as exc:
            self.unreadable[path] = _reason(exc, path)
            return
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            try:
                spec = doc["spec"]
                for version in spec.get("versions", []):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema")
                    if schema:
                        key = (spec["group"], version["name"], spec["names"]["kind"])
                        rel = path.relative_to(self.directory) if self.directory else path
                        self._found[key] = (schema, f"{rel} ({version['name']})")
            except (KeyError, TypeError, AttributeError):
                self.unreadable[path] = "not a CustomResourceDefinition with spec.group, names.kind and versions"

    def schema(self, group: str, version: str, kind: str) -> tuple[jsonschema.Validator, str] | None:
        key = (group, version, kind)
        if key not in self._found and key not in self._searched:
            for path in self._candidates(group, kind):
                self._load(path)
                if key in self._found:
                    break
            else:
                self._searched.add(key)  # each later object of this kind is unchecked without a rescan
        if key in self._found and key not in self._schemas:
            # Compiled once per kind, and only for kinds asked for (a file holds every version of its CRD):
            # checking many documents of one kind reuses it.
            schema, source = self._found[key]
            self._schemas[key] = (jsonschema.Draft7Validator(_strict(schema), format_checker=FORMAT_CHECKER), source)
            self._rules[key] = crd_cel.CrdRules(schema)  # each rule is compiled when first run
        return self._schemas.get(key)

    def rules(self, group: str, version: str, kind: str) -> crd_cel.CrdRules | None:
        """The CEL rules of a kind whose schema() was found."""
        return self._rules.get((group, version, kind))


MAX_ERROR_CHARS = (
    300  # jsonschema's message repeats the whole value: 600 rate-limit rules made a 134,000-character line
)


def _format_error(err: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err.absolute_path).replace(".[", "[")
    message = err.message
    if len(message) > MAX_ERROR_CHARS:
        size = f"{len(err.instance)} items, " if isinstance(err.instance, (list, dict, str)) else ""
        message = f"{size}fails {err.validator} {err.validator_value!r}"[:MAX_ERROR_CHARS]
    return f"{where or '(root)'}: {message}"


def is_builtin_group(group: str) -> bool:
    return group.endswith(".k8s.io") or group == "k8s.io"


# ---------------------------------------------------------------- core kinds (kubernetes-validate's schemas)
#
# kubernetes_validate.validate reads and parses two JSON files (one of them the 2 MB definitions) and
# compiles a validator for every object: 12 ms each. The same lookup, with each file read once and
# each validator compiled once per (version, apiVersion, kind), is what `stacks check` needs for
# thousands of documents.


def _minor(version: str) -> tuple[int, int] | None:
    found = re.fullmatch(r"v?(\d{1,4})\.(\d{1,4})(?:\.\d{1,6})?", version.strip())
    return (int(found.group(1)), int(found.group(2))) if found else None


def supported_kubernetes_version(text: str) -> str:
    """`text` as MAJOR.MINOR when kubernetes-validate has schemas for it, else ValueError naming the range it has
    (compared as numbers: as strings, 1.4 would sort after 1.37)."""
    have = sorted({m for v in kv_utils.all_versions() if (m := _minor(v)) is not None})
    wanted = _minor(text)
    if wanted is None or not have[0] <= wanted <= have[-1]:
        low, high = (".".join(map(str, v)) for v in (have[0], have[-1]))
        raise ValueError(
            f"{text!r} is not a Kubernetes version kubernetes-validate {kubernetes_validate.__version__} has schemas for; "
            f"Fix: give one from {low} to {high}, e.g. {DEFAULT_K8S_VERSION}"
        )
    return "{}.{}".format(*wanted)


@functools.cache
def _schema_version(desired: str) -> str:
    """kubernetes-validate's schema version for a Kubernetes version (the newest not newer than it)."""
    wanted = _minor(supported_kubernetes_version(desired))
    assert wanted is not None  # supported_kubernetes_version returns MAJOR.MINOR
    return [v for v in kv_utils.all_versions() if (_minor(v) or (0, 0)) <= wanted][-1]


@functools.cache
def _definitions(schema_dir: str, desired: str) -> Resource:
    return Resource.from_contents(
        kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", desired)
    )


@functools.lru_cache(maxsize=512)
def core_validator(desired: str, api_version: str, kind: str) -> jsonschema.Validator | None:
    """The strict validator of a core kind, or None when kubernetes-validate has no schema for it."""
    schema_dir = f"v{_schema_version(desired)}-local-strict"
    # rbac.authorization.k8s.io/v1 -> rbac-v1, as kubernetes-validate names its files
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    name = f"{kind.lower()}-{group_version}.json"
    if "/" in name or name.startswith("."):
        return None  # not a file name kubernetes-validate could hold
    try:
        schema = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{name}", desired)
    except FileNotFoundError:
        return None
    registry = _definitions(schema_dir, desired) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry, format_checker=FORMAT_CHECKER)


class Validator:
    def __init__(self, crd_dir: Path | None, kubernetes_version: str = DEFAULT_K8S_VERSION):
        self.crds = CrdRegistry(crd_dir)
        self.kubernetes_version = kubernetes_version

    def validate(self, obj: dict[str, Any]) -> SchemaResult:
        api_version = str(obj.get("apiVersion", ""))
        kind = str(obj.get("kind", ""))
        group, _, version = api_version.rpartition("/")
        # Built-in API groups (apps, networking.k8s.io, autoscaling...) have Kubernetes schemas; any
        # other dotted group is a CRD. A missing built-in schema is "unchecked", never "passed".
        if group and "." in group and not is_builtin_group(group):
            return self._validate_crd(obj, group, version, kind, api_version)
        validator = core_validator(self.kubernetes_version, api_version, kind)
        if validator is None:
            if group and "." in group:  # a CRD in a k8s.io group (gateway.networking.k8s.io, ...)
                return self._validate_crd(obj, group, version, kind, api_version)
            return SchemaResult("unchecked", f"kubernetes-validate has no schema for {api_version} {kind}")
        # The first error, as kubernetes_validate.validate reports it.
        err = next(validator.iter_errors(obj), None)
        if err is not None:
            return SchemaResult("failed", f"kubernetes {self.kubernetes_version} (strict)", (_format_error(err),))
        return SchemaResult("passed", f"kubernetes {self.kubernetes_version} (strict)")

    def _validate_crd(self, obj: dict[str, Any], group: str, version: str, kind: str, api_version: str) -> SchemaResult:
        found = self.crds.schema(group, version, kind)
        if found is None:
            where = self.crds.directory or "no CRD directory"
            skipped = "".join(f"; skipped {path.name} ({why})" for path, why in self.crds.unreadable.items())
            return SchemaResult("unchecked", f"no CRD schema for {api_version} {kind} in {where}{skipped}")
        validator, source = found
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        rules = self.crds.rules(group, version, kind)
        cel = (
            rules.check(obj, blocked=crd_cel.blocking([str(e.validator) for e in errors]))
            if rules
            else crd_cel.CelResult()
        )
        failed = bool(errors or cel.violations)
        return SchemaResult("failed" if failed else "passed", source, tuple(_format_error(e) for e in errors), cel)


# ---------------------------------------------------------------- fetching pinned CRDs


def pinned_groups(sources: Path = SOURCES_FILE) -> list[str]:
    """API groups of the pinned CRD files: upstream names a file `<group>_<plural>.yaml`; a bundle of
    several CRDs (gatewayapi-crds.yaml) lists its groups under `groups`, so no file name reads as a group."""
    groups: set[str] = set()
    for e in json.loads(sources.read_text()):
        name = Path(e["path"]).name
        groups.update(e.get("groups") or ([name.split("_")[0]] if "_" in name else []))
    return sorted(groups)


def fetch_crds(dest: Path | None = None, fetch: Fetcher | None = None, sources: Path = SOURCES_FILE) -> list[str]:
    """Download every pinned CRD file into `dest` (default: the cache), refusing any whose git blob id differs."""
    dest = dest or CACHE_DIR
    entries = json.loads(sources.read_text())
    files = [
        PinnedFile(raw_url(e["repo"], e["commit"], e["path"]), e["blob"], dest / e["local"], e["local"])
        for e in entries
    ]

    def offline(reason: object) -> str:
        return (
            f"CRD schemas not fetched ({reason}); custom resources of {', '.join(pinned_groups(sources))} stay "
            f"'unchecked' in plans. Fix: run `python -m stacks crds fetch` where GitHub is reachable, or set "
            f"{ENV_VAR} to a folder of CRD files"
        )

    return fetch_pinned(files, fetch or _urlopen, offline)
