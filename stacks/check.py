"""`python -m stacks check FILE_OR_DIR...`: the policy pack's policies and the schema validation on
plain Kubernetes manifests, for teams that still write YAML by hand.

All documents given are checked together as one stack, so the cross-resource policies (G8, G9, S2)
see the Ingress, the endpoint and the Secrets side by side. One line per violation:

    FILE:DOC: KIND NAMESPACE/NAME: LEVEL POLICY: FIELD = VALUE: [RULE] message. Fix: fix

Exit 0 when nothing mandatory is violated, 1 on a mandatory violation or a schema failure, 2 when
an input cannot be read (named, never a traceback). A kind with neither a schema nor rules is
reported as unchecked, never as passed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, TextIO

from components.rules import manifests, security
from components.rules.policy_config import PolicyConfig, PolicyConfigError
from components.rules.policy_config import load as load_policy_config
from components.rules.policy_eval import Violation, evaluate
from components.rules.resources import from_manifest

from . import yamlio
from .crd_cel import CelCounts
from .literal import Repeats, note_rules
from .schemas import DEFAULT_K8S_VERSION, SchemaResult, Validator, find_crd_dir

SUFFIXES = (".yaml", ".yml")
# Kinds some policy reads beyond metadata names: everything else gets G1/G2 name checks only.
KINDS_WITH_RULES = {"InferenceEndpointConfig", "ConfigMap", "Ingress", "Secret", *security.POD_SPEC_PATHS}


class InputError(Exception):
    pass


@dataclass
class Document:
    file: Path
    index: int  # 1-based position in its file
    manifest: dict[str, Any]
    schema: Optional[SchemaResult] = None
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
        elif path.is_file():
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
            docs.append(Document(path, i, doc))
    return docs


def check_documents(docs: list[Document], config: Optional[PolicyConfig], validator: Validator) -> list[Violation]:
    for doc in docs:
        doc.schema = validator.validate(doc.manifest)
    resources = [from_manifest(d.manifest, d.where) for d in docs]
    violations = evaluate(resources, config)
    for v in violations:
        if 0 <= v.index < len(docs):
            docs[v.index].violations.append(v)
    return violations


def _label(doc: Document) -> str:
    meta = doc.manifest.get("metadata") if isinstance(doc.manifest.get("metadata"), dict) else {}
    name = meta.get("name", "(no name)")
    return f"{doc.manifest.get('kind')} {meta['namespace'] + '/' if meta.get('namespace') else ''}{name}"


def lines(docs: list[Document], show_all: bool = True) -> list[str]:
    out = []
    repeats = Repeats(show_all)  # one unchecked reason for many documents: the first few, then a count
    for doc in docs:
        for err in doc.schema.errors if doc.schema else ():
            out.append(f"{doc.where}: {_label(doc)}: mandatory schema: {err} [{doc.schema.source}]")
        for problem in doc.schema.cel.violations if doc.schema else ():
            out.append(f"{doc.where}: {_label(doc)}: mandatory schema: {problem} [{doc.schema.source}]")
        for why in doc.schema.cel.unchecked if doc.schema else ():
            if repeats.show(f"unchecked CRD rule: {why}"):
                out.append(f"{doc.where}: {_label(doc)}: unchecked CRD rule: {why}")
        for v in doc.violations:
            out.append(f"{doc.where}: {_label(doc)}: {v.level} {v.policy}: {v.problem}")
        if doc.unchecked:
            reason = doc.schema.source if doc.schema else "no schema"
            if repeats.show(f"unchecked: {reason}; no policy reads this kind beyond its name"):
                out.append(f"{doc.where}: {_label(doc)}: unchecked: {reason}; no policy reads this kind beyond its name")
    return out + repeats.counts("document(s)")


def summary(docs: list[Document]) -> dict[str, int]:
    violations = [v for d in docs for v in d.violations]
    return {
        "documents": len(docs),
        "mandatory": sum(v.mandatory for v in violations),
        "advisory": sum(not v.mandatory for v in violations),
        "schemaFailures": sum(1 for d in docs if d.schema and d.schema.status == "failed"),
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
        "celViolations": [{"path": v.problem.path, "value": v.problem.value, "message": v.problem.message, "rule": v.rule} for v in cel.violations],
        "celUnchecked": list(cel.unchecked),
    }


def report(docs: list[Document]) -> dict[str, Any]:
    def violation(v: Violation) -> dict[str, Any]:
        p = v.problem
        return {"policy": v.policy, "rule": v.rule, "level": v.level, "path": p.path, "value": p.value, "message": p.message, "fix": p.fix}

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
                "status": "unchecked" if d.unchecked else ("failed" if any(v.mandatory for v in d.violations) or (d.schema and d.schema.status == "failed") else "passed"),
                "violations": [violation(v) for v in d.violations],
            }
            for d in docs
        ],
        "summary": summary(docs),
        "celRules": cel_counts(docs).as_dict(),
        "exitCode": exit_code(docs),
    }


def main(
    paths: list[str],
    policy_config: Optional[str] = None,
    as_json: bool = False,
    crd_dir: Optional[str] = None,
    kubernetes_version: str = DEFAULT_K8S_VERSION,
    out: Optional[TextIO] = None,
    show_all: bool = False,
) -> int:
    out = out or sys.stdout
    try:
        config = load_policy_config(policy_config) if policy_config else None
        docs = load_documents(collect(paths))
    except (InputError, PolicyConfigError) as exc:
        for problem in getattr(exc, "problems", [str(exc)]):
            print(f"error: {problem}", file=out)
        return 2
    directory, _ = find_crd_dir(crd_dir)
    check_documents(docs, config, Validator(directory, kubernetes_version))
    if as_json:
        json.dump(report(docs), out, indent=2, default=str)
        out.write("\n")
        return exit_code(docs)
    for line in lines(docs, show_all):
        note_rules(line)
        print(line, file=out)
    counts = summary(docs)
    print(
        f"{counts['documents']} document(s): {counts['mandatory']} mandatory and {counts['advisory']} advisory violation(s), "
        f"{counts['schemaFailures']} schema failure(s), {counts['unchecked']} unchecked",
        file=out,
    )
    cel = cel_counts(docs)
    if cel != CelCounts():
        print(f"CRD rules (x-kubernetes-validations, CEL): {cel}", file=out)
    return exit_code(docs)
