"""`python -m stacks check FILE_OR_DIR...`: the policy pack's policies and the schema validation on
plain Kubernetes manifests, for teams that still write YAML by hand.

All documents given are checked together as one stack, so the cross-resource policies (G8, G9, S2)
see the Ingress, the endpoint and the Secrets side by side. One line per violation:

    FILE:DOC: KIND NAMESPACE/NAME: LEVEL POLICY: FIELD = VALUE: [RULE] message. Fix: fix

Exit 0 when nothing mandatory is violated, 1 on a mandatory violation or a schema failure, 2 when
an input cannot be read (named, never a traceback). A kind with neither a schema nor rules is
reported as unchecked, never as passed.

The stack the documents belong to (S2, S4 and T3 allow a dev stack's opt-outs) comes from `--stack`, or
from the marker of the plan directory they were written to (`plan_context`), so a plan's output gets
the plan's verdict; otherwise it is unknown, which counts as not dev.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from benchmarks import secrets
from components.rules import manifests, security
from components.rules.policy_config import PolicyConfig, PolicyConfigError
from components.rules.policy_eval import Violation, evaluate
from components.rules.resources import from_manifest

from . import yamlio
from .crd_cel import CelCounts
from .literal import Repeats, note_rules
from .plan_out import MARKER
from .policy_file import load as load_policy_config
from .schemas import DEFAULT_K8S_VERSION, SchemaResult, Validator, find_crd_dir

SUFFIXES = (".yaml", ".yml")
# Kinds some policy reads beyond metadata names: everything else gets G1/G2 name checks only.
KINDS_WITH_RULES = {"InferenceEndpointConfig", "ConfigMap", "Ingress", "Secret", *security.POD_SPEC_PATHS}


class InputError(Exception):
    pass


@dataclass(frozen=True)
class PlanContext:
    """What the policies need besides the manifests: the stack they belong to (S2, S4 and T3 allow a dev
    stack's opt-outs), as `plan` wrote it beside them or `--stack` gives it."""

    stack: str | None = None
    dev: bool | None = None  # the plan's verdict, for the header; the policies judge `stack` themselves
    cluster_mode: str | None = None
    source: str = "--stack"

    def describe(self) -> str:
        facts = [
            f
            for f in (
                "dev stack" if self.dev else "not a dev stack" if self.dev is False else "",
                f"cluster mode {self.cluster_mode}" if self.cluster_mode else "",
            )
            if f
        ]
        return f"stack {self.stack}" + (f" ({', '.join(facts)})" if facts else "") + f", from {self.source}"


def plan_context(directory: Path) -> PlanContext | None:
    """The context a plan wrote into its directory's marker (`stacks/plan_out.py`), or None when the directory
    has no marker of ours. The only reader of the marker's format here."""
    marker = directory / MARKER
    if not marker.is_file() or marker.is_symlink():
        return None
    try:
        doc = json.loads(marker.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("stack"), str) or not doc["stack"]:
        return None
    dev, mode = doc.get("devStack"), doc.get("clusterMode")
    return PlanContext(
        doc["stack"], dev if isinstance(dev, bool) else None, mode if isinstance(mode, str) else None, str(marker)
    )


def context_of(paths: Iterable[str], stack: str | None = None) -> PlanContext | None:
    """`--stack`, else the one plan the inputs come from (a plan directory, or files in one); None when no input
    is a plan's. Inputs from plans of different stacks are one stack to no policy: InputError."""
    if stack:
        return PlanContext(stack)
    found: dict[str, PlanContext] = {}
    for raw in paths:
        path = Path(raw)
        context = plan_context(path if path.is_dir() else path.parent)
        if context is not None:
            found.setdefault(context.stack or "", context)
    if len(found) > 1:
        raise InputError(
            f"the inputs come from plans of {len(found)} stacks ({', '.join(sorted(found))}); check one plan at a time, or pass --stack"
        )
    return next(iter(found.values()), None)


@dataclass
class Document:
    file: Path
    index: int  # 1-based position in its file
    manifest: dict[str, Any]
    schema: SchemaResult | None = None
    violations: list[Violation] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.index}"

    @property
    def rules(self) -> str:
        if manifests.has_rules(self.manifest) or self.manifest.get("kind") in KINDS_WITH_RULES:
            return "checked"
        return "names only"

    @property
    def unchecked(self) -> bool:
        """No schema and no kind-specific rule: nothing vouches for this document."""
        return (self.schema is None or self.schema.status == "unchecked") and self.rules != "checked"


def collect(paths: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"{path}: no *.yaml or *.yml file in this directory")
            files += found
        elif path.exists():  # a FIFO, device or socket too: the reader refuses it by name, never blocks on it
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def load_documents(files: Iterable[Path]) -> list[Document]:
    docs: list[Document] = []
    for path in files:
        try:
            loaded = yamlio.load_all_file(path)
        except yamlio.YamlInputError as exc:
            raise InputError(str(exc)) from None
        for i, doc in enumerate(loaded, 1):
            if doc is None:
                continue  # an empty document (a trailing ---)
            if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                raise InputError(f"{path}:{i}: not a Kubernetes object (needs apiVersion and kind)")
            secrets.collect(doc)  # Secret data, secret-named env values, URL credentials: never quoted in a line
            docs.append(Document(path, i, doc))
    return docs


def check_documents(
    docs: list[Document], config: PolicyConfig | None, validator: Validator, stack: str | None = None
) -> list[Violation]:
    for doc in docs:
        doc.schema = validator.validate(doc.manifest)
    resources = [from_manifest(d.manifest, d.where) for d in docs]
    violations = evaluate(resources, config, stack)
    for v in violations:
        if 0 <= v.index < len(docs):
            docs[v.index].violations.append(v)
    return violations


def _label(doc: Document) -> str:
    meta = found if isinstance(found := doc.manifest.get("metadata"), dict) else {}
    name = meta.get("name", "(no name)")
    return f"{doc.manifest.get('kind')} {meta['namespace'] + '/' if meta.get('namespace') else ''}{name}"


def lines(docs: list[Document], show_all: bool = True) -> list[str]:
    out = []
    repeats = Repeats(show_all)  # one unchecked reason for many documents: the first few, then a count
    for doc in docs:
        source = doc.schema.source if doc.schema else ""
        for err in doc.schema.errors if doc.schema else ():
            out.append(f"{doc.where}: {_label(doc)}: mandatory schema: {err} [{source}]")
        for problem in doc.schema.cel.violations if doc.schema else ():
            out.append(f"{doc.where}: {_label(doc)}: mandatory schema: {problem} [{source}]")
        for why in doc.schema.cel.unchecked if doc.schema else ():
            if repeats.show(f"unchecked CRD rule: {why}"):
                out.append(f"{doc.where}: {_label(doc)}: unchecked CRD rule: {why}")
        for v in doc.violations:
            out.append(f"{doc.where}: {_label(doc)}: {v.level} {v.policy}: {v.problem}")
        if doc.unchecked:
            reason = doc.schema.source if doc.schema else "no schema"
            if repeats.show(f"unchecked: {reason}; no policy reads this kind beyond its name"):
                out.append(
                    f"{doc.where}: {_label(doc)}: unchecked: {reason}; no policy reads this kind beyond its name"
                )
    return out + repeats.counts("document(s)")


def summary(docs: list[Document]) -> dict[str, int]:
    violations = [v for d in docs for v in d.violations]
    return {
        "documents": len(docs),
        "mandatory": sum(v.mandatory for v in violations),
        "advisory": sum(not v.mandatory for v in violations),
        "schemaFailures": sum(1 for d in docs if d.schema and d.schema.status == "failed"),
        # As the report's documents say: `schema.status` unchecked, and `status` unchecked (no rule read them either).
        "schemaUnchecked": sum(1 for d in docs if d.schema is None or d.schema.status == "unchecked"),
        "unchecked": sum(d.unchecked for d in docs),
    }


def cel_counts(docs: list[Document]) -> CelCounts:
    """The CRDs' own CEL rules over every custom resource checked."""
    return sum((d.schema.cel.counts for d in docs if d.schema), CelCounts())


def exit_code(docs: list[Document]) -> int:
    counts = summary(docs)
    return 1 if counts["mandatory"] or counts["schemaFailures"] else 0


def _schema_report(schema: SchemaResult) -> dict[str, Any]:
    cel = schema.cel
    return {
        "status": schema.status,
        "source": schema.source,
        "errors": list(schema.errors),
        "celRules": cel.counts.as_dict(),
        "celViolations": [
            {"path": v.problem.path, "value": v.problem.value, "message": v.problem.message, "rule": v.rule}
            for v in cel.violations
        ],
        "celUnchecked": list(cel.unchecked),
    }


def report(docs: list[Document], context: PlanContext | None = None) -> dict[str, Any]:
    def violation(v: Violation) -> dict[str, Any]:
        p = v.problem
        return {
            "policy": v.policy,
            "rule": v.rule,
            "level": v.level,
            "path": p.path,
            "value": p.value,
            "message": p.message,
            "fix": p.fix,
        }

    return {
        "documents": [
            {
                "file": str(d.file),
                "document": d.index,
                "apiVersion": d.manifest.get("apiVersion"),
                "kind": d.manifest.get("kind"),
                "name": (d.manifest.get("metadata") or {}).get("name"),
                "namespace": (d.manifest.get("metadata") or {}).get("namespace"),
                "schema": _schema_report(d.schema) if d.schema else None,
                "rules": d.rules,
                "status": "unchecked"
                if d.unchecked
                else (
                    "failed"
                    if any(v.mandatory for v in d.violations) or (d.schema and d.schema.status == "failed")
                    else "passed"
                ),
                "violations": [violation(v) for v in d.violations],
            }
            for d in docs
        ],
        "summary": summary(docs),
        "celRules": cel_counts(docs).as_dict(),
        "stack": {
            "name": context.stack,
            "devStack": context.dev,
            "clusterMode": context.cluster_mode,
            "source": context.source,
        }
        if context
        else None,
        "exitCode": exit_code(docs),
    }


def main(
    paths: list[str],
    policy_config: str | None = None,
    as_json: bool = False,
    crd_dir: str | None = None,
    kubernetes_version: str = DEFAULT_K8S_VERSION,
    out: TextIO | None = None,
    stack: str | None = None,
    show_all: bool = False,
) -> int:
    out = cast(TextIO, secrets.ScrubbedStream(out or sys.stdout))  # a TextIO by delegation
    try:
        config = load_policy_config(policy_config) if policy_config else None
        docs = load_documents(collect(paths))
        context = context_of(paths, stack)
    except (InputError, PolicyConfigError) as exc:
        for problem in getattr(exc, "problems", [str(exc)]):
            print(f"error: {problem}", file=out)
        return 2
    directory, _ = find_crd_dir(crd_dir)
    check_documents(docs, config, Validator(directory, kubernetes_version), context.stack if context else None)
    if as_json:
        json.dump(secrets.scrub_data(report(docs, context)), out, indent=2, default=lambda o: secrets.scrub(str(o)))
        out.write("\n")
        return exit_code(docs)
    if context:
        print(context.describe(), file=out)
    for line in lines(docs, show_all):
        note_rules(line)
        print(secrets.scrub(line), file=out)
    counts = summary(docs)
    print(
        f"{counts['documents']} document(s): {counts['mandatory']} mandatory and {counts['advisory']} advisory violation(s), "
        f"{counts['schemaFailures']} schema failure(s), {counts['schemaUnchecked']} without a schema, {counts['unchecked']} unchecked",
        file=out,
    )
    cel = cel_counts(docs)
    if cel != CelCounts():
        print(f"CRD rules (x-kubernetes-validations, CEL): {cel}", file=out)
    return exit_code(docs)
