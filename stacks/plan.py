"""The offline plan: run the real program under Pulumi mocks for one `Pulumi.<env>.yaml`, write every
Kubernetes object as YAML, validate each against its schema, run the guardrail checks, summarise.

Needs no credentials and no Pulumi CLI. Exit status: 0 clean, 1 a check failed, 2 bad config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks import secrets
from components.rules import ConfigError, Problem, fit, manifests
from components.rules.dev_stacks import is_dev_stack
from components.rules.policy_config import PolicyConfig, PolicyConfigError
from components.rules.policy_eval import Violation, evaluate
from components.rules.resources import Resource

from . import config as stack_config
from . import cost_summary, plan_json, yamlio
from .crd_cel import CelCounts
from .literal import Repeats, labelled, plain
from .mocks import Registration
from .plan_out import OutputError, PlanOutputs
from .plan_program import collector_paused, declaration_order, run_program  # noqa: F401 - declaration_order: stacks/mocks.py cites it here
from .policy_file import load as load_policy_config
from .redaction import redact
from .schemas import DEFAULT_K8S_VERSION, SchemaResult, Validator, find_crd_dir

PROJECT_DIR = Path(__file__).resolve().parent.parent
# libyaml's emitter writes what PyYAML's pure-Python one does, 5x faster (a plan writes one file per object).
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class StackFileError(Exception):
    pass


@dataclass
class PlannedObject:
    index: int
    registration: Registration
    manifest: dict[str, Any]
    schema: SchemaResult | None = None
    problems: list[Problem] = field(default_factory=list)
    file: Path | None = None

    @property
    def kind(self) -> str:
        return self.manifest.get("kind", "")

    @property
    def name(self) -> str:
        return (self.manifest.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str:
        return (self.manifest.get("metadata") or {}).get("namespace", "")

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" + (f" ({self.namespace})" if self.namespace else "")


@dataclass
class Plan:
    stack: str
    resources: list[Registration]
    objects: list[PlannedObject]
    logs: list[tuple[str, str]]
    config: stack_config.StackConfig
    crd_source: str
    # Policy violations on resources that are not Kubernetes objects (AWS, EKS, the stack itself).
    other_violations: list[Violation] = field(default_factory=list)
    duplicate_urns: list[str] = field(default_factory=list)  # one line each: Pulumi refuses the update

    @property
    def failed(self) -> bool:
        objects = any(o.errors or (o.schema and o.schema.status == "failed") for o in self.objects)
        return objects or any(v.mandatory for v in self.other_violations) or bool(self.duplicate_urns)

    @property
    def cel(self) -> CelCounts:
        """The CRDs' own CEL rules over every custom resource of the plan."""
        return sum((o.schema.cel.counts for o in self.objects if o.schema), CelCounts())


# ---------------------------------------------------------------- stack files


def project_name(project_dir: Path = PROJECT_DIR) -> str:
    path = project_dir / "Pulumi.yaml"
    try:
        doc = yamlio.load_file(path)
    except yamlio.YamlInputError as exc:
        raise StackFileError(str(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise StackFileError(f"{path}: no project `name`; Fix: add `name: <project>` to Pulumi.yaml")
    return doc["name"]


def read_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The stack file's config map, with project keys namespaced. Pulumi secrets (`{secure: ...}`) stay as they
    are for the project's typed keys, whose parser judges them (stacks/config.py:pulumi_secrets), and become the
    marker `[secret]` elsewhere (`aws:*`, a kubeconfig); every ciphertext is registered, never printed."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        found = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))
        raise StackFileError(f"stack file {path.name} not found; stacks here: {', '.join(found) or 'none'}")
    try:
        doc = yamlio.load_file(path) or {}
    except yamlio.YamlInputError as exc:
        raise StackFileError(str(exc)) from None
    raw = (doc.get("config") if isinstance(doc, dict) else None) or {}
    if not isinstance(doc, dict) or not isinstance(raw, dict):
        raise StackFileError(
            f"{path.name}: `config` must be a map of keys to values; Fix: write `config:` followed by `key: value` lines"
        )
    project = project_name(project_dir)
    secrets.collect(raw)
    out = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise StackFileError(
                f"{path.name}: config key {key!r} is not a string; Fix: quote it or use `{project}:<name>`"
            )
        full = key if ":" in key else f"{project}:{key}"
        out[full] = secrets.REDACTED if secrets.is_secure(value) and not full.startswith(f"{project}:") else value
    return out


def parse_stack_config(
    values: dict[str, Any], project: str, stack: str | None = None, project_dir: Path = PROJECT_DIR
) -> stack_config.StackConfig:
    prefix = f"{project}:"
    own = {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
    own.pop("kubeconfig", None)
    return stack_config.parse(own, values.get("aws:region"), stack, project_dir)


def to_manifest(reg: Registration) -> dict[str, Any] | None:
    """A Kubernetes object from a registration, or None for anything else."""
    parts = reg.type_.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or not reg.custom:
        return None
    api_version, kind = parts[1], parts[2]
    if api_version.startswith(("helm.sh/", "yaml/", "kustomize/")) or kind.endswith("List") or "Patch" in kind:
        return None
    api_version = api_version.replace("core/v1", "v1") if api_version == "core/v1" else api_version
    body = {k: v for k, v in reg.inputs.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": api_version, "kind": kind, **body}


def build_plan(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    crd_dir: str | None = None,
    kubernetes_version: str = DEFAULT_K8S_VERSION,
    policy_config: PolicyConfig | None = None,
) -> Plan:
    return build_plan_from_values(
        stack, read_stack_config(stack, project_dir), project_dir, crd_dir, kubernetes_version, policy_config
    )


def build_plan_from_values(
    stack: str,
    values: dict[str, Any],
    project_dir: Path = PROJECT_DIR,
    crd_dir: str | None = None,
    kubernetes_version: str = DEFAULT_K8S_VERSION,
    policy_config: PolicyConfig | None = None,
) -> Plan:
    """The plan of a stack given its config map (`<project>:key` -> value), e.g. a tuning grid point."""
    with collector_paused():
        return _build_plan(stack, values, project_dir, crd_dir, kubernetes_version, policy_config)


def _build_plan(
    stack: str,
    values: dict[str, Any],
    project_dir: Path,
    crd_dir: str | None,
    kubernetes_version: str,
    policy_config: PolicyConfig | None,
) -> Plan:
    project = project_name(project_dir)
    cfg = parse_stack_config(values, project, stack, project_dir)  # raises ConfigError before anything is declared
    mocks, logs = run_program(stack, values, project, program=project_dir / "__main__.py")
    directory, origin = find_crd_dir(crd_dir)
    validator = Validator(directory, kubernetes_version)
    objects: dict[int, PlannedObject] = {}
    for i, reg in enumerate(mocks.registrations):
        manifest = to_manifest(reg)
        if manifest is None:
            continue
        obj = PlannedObject(len(objects) + 1, reg, manifest)
        obj.schema = validator.validate(manifest)
        objects[i] = obj
    # The policy pack's policies, on every declared resource (the same ones CrossGuard sees).
    resources = [
        Resource(reg.type_, reg.name, reg.inputs, reg.urn, tuple(reg.graph.dependencies), reg.graph.parent)
        for reg in mocks.registrations
    ]
    others = []
    for violation in evaluate(resources, policy_config, stack):
        if violation.index in objects:
            objects[violation.index].problems.append(violation.reported)
        else:
            others.append(violation)
    check_duplicate_objects(list(objects.values()))
    return Plan(
        stack,
        mocks.registrations,
        list(objects.values()),
        logs,
        cfg,
        origin,
        others,
        duplicate_urns(mocks.registrations),
    )


def duplicate_urns(registrations: list[Registration]) -> list[str]:
    """A URN declared twice: the real engine stops the update (`Duplicate resource URN`), the mocks do not."""
    counts: dict[str, int] = {}
    for reg in registrations:
        if reg.urn:
            counts[reg.urn] = counts.get(reg.urn, 0) + 1
    return [
        f"Pulumi URN {urn} is declared {n} times; every resource needs its own name (G2)"
        for urn, n in counts.items()
        if n > 1
    ]


def check_duplicate_objects(objects: list[PlannedObject]) -> None:
    """Two objects with one (apiVersion, kind, namespace, name) are one object in the cluster: the second
    overwrites the first (or the apply conflicts). Each later copy gets a G2 error naming the first."""
    first: dict[tuple[str, str, str, str], PlannedObject] = {}
    for obj in objects:
        key = (str(obj.manifest.get("apiVersion", "")), obj.kind, str(obj.namespace or ""), str(obj.name))
        if key not in first:
            first[key] = obj
            continue
        where = f"namespace {key[2]}" if key[2] else "the cluster (cluster-scoped)"
        obj.problems.append(
            Problem(
                "metadata.name",
                key[3],
                "G2",
                f"{key[1]} {key[3]!r} in {where} is also declared as object #{first[key].index} ({first[key].registration.name}); "
                "one would overwrite the other",
                "give the endpoints names that differ, or namespaces whose generated names differ",
            )
        )


# ---------------------------------------------------------------- output


def write_objects(plan: Plan, out_dir: Path | PlanOutputs, project_dir: Path = PROJECT_DIR) -> None:
    """One YAML file per object, swapped in as one folder (see plan_out: nothing else is removed)."""
    outputs = out_dir if isinstance(out_dir, PlanOutputs) else PlanOutputs(out_dir).open()
    try:
        with outputs.folder.folder(marker_context(plan)) as folder:
            for obj in plan.objects:
                stem = "-".join(
                    str(part) for part in (f"{obj.index:03d}", obj.kind.lower(), obj.namespace, obj.name) if part
                )
                name = stem.replace("/", "_").replace("\\", "_") + ".yaml"
                obj.file = folder.write(
                    name,
                    yaml.dump(
                        redact(obj.manifest, obj.registration.secret_paths), Dumper=_Dumper, sort_keys=False
                    ).encode(),
                )
    finally:
        if outputs is not out_dir:
            outputs.close()


def marker_context(plan: Plan) -> dict[str, Any]:
    """Written beside the manifests, so `stacks check` of the directory judges them as this plan did
    (stacks/check.py plan_context reads it)."""
    mode = plan.config.cluster.mode if plan.config is not None else None
    return {"stack": plan.stack, "devStack": is_dev_stack(plan.stack), **({"clusterMode": mode} if mode else {})}


def _cell(obj: PlannedObject) -> tuple[str, str]:
    schema = obj.schema
    if schema is None or schema.status == "unchecked":
        schema_cell = "[yellow]unchecked[/]"
    elif schema.status == "passed":
        schema_cell = "[green]passed[/]"
    else:
        schema_cell = f"[red]failed ({schema.failures})[/]"
    errors = len(obj.errors)
    warnings = len(obj.problems) - errors
    if errors:
        rules_cell = f"[red]{errors} error(s)[/]"
    elif warnings:
        rules_cell = f"[yellow]{warnings} warning(s)[/]"
    else:
        rules_cell = "[green]passed[/]" if manifests.has_rules(obj.manifest) else "names only"
    return schema_cell, rules_cell


def _command_apart(line: str) -> list[str]:
    """`line`, and a command it ends with (`python -m stacks crds fetch`) on a line of its own, so no
    terminal width breaks the command in two."""
    m = re.search(r"`([^`]+)`\.?$", line)
    return [line[: m.start()].rstrip(), f"    {m.group(1)}"] if m else [line]


def fit_lines(config: stack_config.StackConfig) -> list[str]:
    """G23 per endpoint: the numbers it was sized by, or why it could not be (`fit: unchecked`)."""
    lines = []
    for i, (ep, verdict) in enumerate(zip(config.endpoints, config.fits)):
        if verdict.status == "unchecked":
            lines.append(f"  fit: unchecked: endpoints[{i}] {ep.name}: {verdict.reason}")
        else:
            lines.append(
                f"  fit: endpoints[{i}] {ep.name} on {verdict.instance}: {verdict.sequences} sequence(s) of "
                f"{verdict.max_model_len} tokens at once; {fit.numbers(verdict)}"
            )
    return lines


def print_plan(plan: Plan, console: Any, show_all: bool = False) -> None:
    from rich.table import Table

    console.print(
        labelled(
            f"Offline plan of stack {plan.stack}",
            "bold",
            f"(cluster mode {plan.config.cluster.mode}, region {plan.config.region})",
        )
    )
    for line in _command_apart(f"  CRD schemas: {plan.crd_source}"):
        console.print(plain(line), soft_wrap=True)
    for level, message in plan.logs:
        if level in ("warning", "error") or "] " in message and "->" in message:
            console.print(
                labelled(level, "red" if level == "error" else "yellow", message, indent="  "), soft_wrap=True
            )
    table = Table(title=f"{len(plan.objects)} Kubernetes objects", show_lines=False)
    for column in ("#", "kind", "name", "namespace", "schema", "guardrails"):
        table.add_column(column)
    for obj in plan.objects:
        table.add_row(str(obj.index), plain(obj.kind), plain(obj.name), plain(obj.namespace or "-"), *_cell(obj))
    console.print(table)
    others: dict[str, int] = {}
    for reg in plan.resources:
        if to_manifest(reg) is None:
            others[reg.type_] = others.get(reg.type_, 0) + 1
    if show_all:
        res = Table(title=f"All {len(plan.resources)} resources, in declaration (dependency) order")
        for column in ("#", "type", "name", "provider"):
            res.add_column(column)
        for i, reg in enumerate(plan.resources, 1):
            res.add_row(str(i), plain(reg.type_), plain(reg.name), plain(reg.provider.split("::")[-1] or "-"))
        console.print(res)
    else:  # one short line: counts for the three largest provider packages; types and names are `--all`'s
        packages: dict[str, int] = {}
        for t, n in others.items():
            packages[t.split(":")[0]] = packages.get(t.split(":")[0], 0) + n
        largest = sorted(packages.items(), key=lambda pn: (-pn[1], pn[0]))
        counts = [f"{p} {n}" for p, n in largest[:3]] + (
            [f"others {sum(n for _, n in largest[3:])}"] if largest[3:] else []
        )
        console.print(plain(f"Other resources: {sum(others.values())} ({', '.join(counts)}); `--all` lists each"))
    if plan.cel != CelCounts():
        console.print(plain(f"CRD rules (x-kubernetes-validations, CEL): {plan.cel}"))
    for line in fit_lines(plan.config):
        console.print(plain(line), soft_wrap=True)
    repeats = Repeats(show_all)  # one unchecked CRD rule over many objects: the first few, then a count
    for obj in plan.objects:
        for err in obj.schema.errors if obj.schema else ():
            console.print(labelled("schema", "red", f"{obj.kind}/{obj.name}: {err}"), soft_wrap=True)
        for problem in obj.schema.cel.violations if obj.schema else ():
            console.print(labelled("schema", "red", f"{obj.label}: {problem}"), soft_wrap=True)
        for why in obj.schema.cel.unchecked if obj.schema else ():
            if repeats.show(why):
                console.print(labelled("unchecked CRD rule", "yellow", f"{obj.label}: {why}"), soft_wrap=True)
        for found in obj.problems:
            color = "red" if found.severity == "error" else "yellow"
            console.print(labelled(found.severity, color, f"{obj.kind}/{obj.name}: {found}"), soft_wrap=True)
    for line in repeats.counts("object(s)"):
        console.print(labelled("unchecked CRD rule", "yellow", line), soft_wrap=True)
    for line in plan.duplicate_urns:
        console.print(labelled("error", "red", line), soft_wrap=True)
    for violation in plan.other_violations:
        reported = violation.reported
        color = "red" if reported.severity == "error" else "yellow"
        console.print(labelled(reported.severity, color, f"{violation.resource.label}: {reported}"), soft_wrap=True)


def run(
    stack: str,
    out: str | None,
    crd_dir: str | None,
    kubernetes_version: str,
    show_all: bool,
    console: Any,
    project_dir: Path = PROJECT_DIR,
    policy_config: str | None = None,
    json_path: str | None = None,
) -> int:
    out_dir = Path(out) if out else project_dir / "plan-out" / stack
    outputs = PlanOutputs(out_dir, Path(json_path) if json_path else None)
    try:
        return _run(
            stack, outputs, crd_dir, kubernetes_version, show_all, console, project_dir, policy_config, json_path
        )
    finally:
        outputs.close()


def _run(
    stack: str,
    outputs: PlanOutputs,
    crd_dir: str | None,
    kubernetes_version: str,
    show_all: bool,
    console: Any,
    project_dir: Path,
    policy_config: str | None,
    json_path: str | None,
) -> int:
    out_dir = outputs.folder.path
    try:
        outputs.open()  # before the plan runs: a refused or busy --out/--json costs nothing
        policies = load_policy_config(policy_config) if policy_config else None
        plan = build_plan(stack, project_dir, crd_dir, kubernetes_version, policies)
    except OutputError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 2
    except PolicyConfigError as exc:
        for problem in exc.problems:
            console.print(labelled("error", "red", problem), soft_wrap=True)
        return 2
    except StackFileError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 2
    except ConfigError as exc:
        console.print(plain(f"Pulumi.{stack}.yaml has {len(exc.problems)} problem(s); nothing was planned:", "red"))
        for config_problem in exc.problems:
            console.print(plain(f"  {config_problem}"), soft_wrap=True)
        return 2
    try:
        write_objects(plan, outputs, project_dir)
        if outputs.graph:
            plan_json.write(plan, outputs.graph)
    except OutputError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 2
    print_plan(plan, console, show_all)
    for line in cost_summary.lines(plan.config):  # $/h and $/month of the stack's instances
        console.print(plain(line), soft_wrap=True)
    console.print(plain(f"Wrote {len(plan.objects)} manifests to {out_dir}"))
    if json_path:
        console.print(plain(f"Wrote the graph of {len(plan.resources)} resources to {json_path}"))
    if plan.failed:
        console.print("[red bold]Plan failed[/]: fix the errors above.")
        return 1
    fit_unchecked = [
        ep.name for ep, verdict in zip(plan.config.endpoints, plan.config.fits) if verdict.status == "unchecked"
    ]
    if fit_unchecked:  # G23: never a pass without the model's facts
        console.print(
            labelled(
                "Plan passed, fit unchecked",
                "yellow bold",
                f"for {', '.join(fit_unchecked)}: no model facts or GPU memory to size them by (listed above). Fix: run `python -m stacks models lock`.",
            ),
            soft_wrap=True,
        )
    unchecked = sorted({f"{o.kind}" for o in plan.objects if o.schema is None or o.schema.status == "unchecked"})
    if unchecked:
        console.print(
            labelled(
                "Plan passed, schemas unchecked",
                "yellow bold",
                f"for {', '.join(unchecked)}: no schema was found ({plan.crd_source}). Fix: run `python -m stacks crds fetch`, or pass --crd-dir.",
            ),
            soft_wrap=True,
        )
        return 0
    if plan.cel.unchecked:
        console.print(
            labelled(
                "Plan passed, CRD rules unchecked",
                "yellow bold",
                f"{plan.cel.unchecked} CEL rule(s) could not run here (listed above); the API server runs them at `pulumi up`.",
            ),
            soft_wrap=True,
        )
        return 0
    if not fit_unchecked:
        console.print("[green bold]Plan passed[/].")
    return 0
