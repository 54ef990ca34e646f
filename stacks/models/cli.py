"""`python -m stacks models lock [--stack S | --all] [--model ID]`: read the config.json and safetensors
metadata of every model the stacks use (Hugging Face with huggingface_hub, S3 with boto3) and write their
facts to `models.lock.json`, keeping every other entry. The offline plan reads only that file.

One line per model: locked, or why not (timeouts, 404, 401/403 with the fix, malformed JSON). Exit 0 when
every model was locked, 1 when one was not (the others are still written), 2 for bad arguments or a lock
file that is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from benchmarks import inputs
from benchmarks.outputs import OutputError
from components.rules.model_facts import LOCK_FILE, ModelFacts
from components.rules.spec import EndpointSpec, FsxSource, HuggingFaceSource, S3Source

from ..literal import labelled, plain
from .args import LockArgs

HF_ID = re.compile(
    r"^[a-zA-Z0-9_.-]{1,96}/[a-zA-Z0-9_.-]{1,96}$"
)  # the spec's modelId pattern; the hub caps names at 96


@dataclass(frozen=True)
class HubTarget:
    repo_id: str
    revision: str | None
    where: str  # "Pulumi.dev.yaml endpoints[0]" or "--model"
    model: str = ""  # the endpoint's `model` (its served name may differ from the hub id)


@dataclass(frozen=True)
class S3Target:
    model: str
    source: S3Source
    region: str
    where: str


Target = Union[HubTarget, S3Target]  # noqa: UP007 - a runtime alias of two classes


def lock_key(ep: EndpointSpec) -> str | None:
    """The lock entry an endpoint's model is found under: the hub id it downloads, or its `model` for S3."""
    src = ep.model_source
    if isinstance(src, HuggingFaceSource):
        return src.model_id or ep.model
    if isinstance(src, S3Source):
        return ep.model
    return None


def stack_targets(stack: str, project_dir: Path, console: Any) -> tuple[list[Target], int]:
    """The models one stack file's endpoints use, read entry by entry (no cross-endpoint rule runs: a stack
    whose fit check fails must still be lockable); (targets, problems printed)."""
    from .. import plan as plan_mod

    try:
        values = plan_mod.read_stack_config(stack, project_dir)
        project = plan_mod.project_name(project_dir)
    except plan_mod.StackFileError as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return [], 1
    entries = values.get(f"{project}:endpoints") or []
    region = str(values.get("aws:region") or "")
    targets: list[Target] = []
    problems = 0
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        where = f"Pulumi.{stack}.yaml endpoints[{i}]"
        try:
            ep = EndpointSpec.model_validate(entry)
        except Exception:
            console.print(
                labelled(
                    "error",
                    "red",
                    f"{where}: not a valid endpoint, skipped. Fix: run `python -m stacks plan --stack {stack}` and correct it",
                ),
                soft_wrap=True,
            )
            problems += 1
            continue
        src = ep.model_source
        if isinstance(src, HuggingFaceSource):
            targets.append(HubTarget(src.model_id or ep.model, src.revision, where, ep.model))
        elif isinstance(src, S3Source):
            targets.append(S3Target(ep.model, src, region, where))
        elif isinstance(src, FsxSource):
            console.print(
                labelled(
                    "unchecked",
                    "yellow",
                    f"{where}: {ep.model} is on FSx for Lustre, which only the cluster can read; its fit stays unchecked",
                ),
                soft_wrap=True,
            )
    return targets, problems


def targets_of(args: LockArgs, console: Any) -> tuple[list[Target], int]:
    if args.stack is None and not args.all:
        return [HubTarget(args.model or "", None, "--model")], 0
    stacks = (
        [args.stack]
        if args.stack
        else sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in args.project_dir.glob("Pulumi.*.yaml"))
    )
    found: list[Target] = []
    problems = 0
    for stack in stacks:
        targets, bad = stack_targets(stack, args.project_dir, console)
        found += targets
        problems += bad
    if args.model:
        found = [t for t in found if args.model in ((t.repo_id, t.model) if isinstance(t, HubTarget) else (t.model,))]
    # One entry per model: the first endpoint that names it decides its source and revision.
    unique: dict[str, Target] = {}
    for t in found:
        key = t.repo_id if isinstance(t, HubTarget) else t.model
        if key in unique and _source(unique[key]) != _source(t):
            console.print(
                labelled(
                    "warning",
                    "yellow",
                    f"{t.where}: {key} is also locked from {unique[key].where} ({_source(unique[key])}); this one ({_source(t)}) is not",
                ),
                soft_wrap=True,
            )
        unique.setdefault(key, t)
    return list(unique.values()), problems


def _source(t: Target) -> str:
    if isinstance(t, HubTarget):
        return f"hub revision {t.revision}" if t.revision else "hub main"
    from .s3 import url_of

    return url_of(t.source)


def run(args: LockArgs, console: Any, today: Any = None) -> int:
    if args.stack is None and not args.all and not args.model:
        console.print(
            labelled("error", "red", "nothing to lock. Fix: give --stack <name>, --all, or --model <hugging face id>"),
            soft_wrap=True,
        )
        return 2
    if args.model and not HF_ID.match(args.model) and args.stack is None and not args.all:
        console.print(
            labelled(
                "error",
                "red",
                f"--model {args.model[:100]!r} is not a Hugging Face id (org/name). Fix: e.g. --model Qwen/Qwen3-8B",
            ),
            soft_wrap=True,
        )
        return 2
    path = args.project_dir / LOCK_FILE
    from .lockfile import LockFileError, existing

    try:
        existing(path)  # a file that is not a lock is refused before anything is fetched
    except (LockFileError, inputs.InputError) as exc:
        console.print(labelled("error", "red", exc), soft_wrap=True)
        return 2
    targets, problems = targets_of(args, console)
    if not targets:
        console.print(
            labelled(
                "error",
                "red",
                f"no model to lock{' named ' + args.model if args.model else ''} in {'every stack' if args.all else 'Pulumi.' + str(args.stack) + '.yaml'}. Fix: check --model against the endpoints' `model` or `modelSource.modelId`",
            ),
            soft_wrap=True,
        )
        return 1
    locked = _fetch(targets, args, console, today)
    problems += len(targets) - len(locked)
    if locked:
        from .lockfile import write

        try:
            write(path, locked)
        except (OutputError, LockFileError, inputs.InputError) as exc:
            console.print(labelled("error", "red", exc), soft_wrap=True)
            return 2
        console.print(plain(f"{len(locked)} model(s) locked in {path}"), soft_wrap=True)
    return 1 if problems else 0


def _fetch(targets: list[Target], args: LockArgs, console: Any, today: Any) -> list[ModelFacts]:
    from .hub import Hub, HubError, lock_facts, token_from

    hub: Hub | None = None
    aws: dict[str, Any] = {}
    locked = []
    for t in targets:
        try:
            if isinstance(t, HubTarget):
                hub = hub or Hub(token_from(args.token_env), args.timeout, args.token_env)
                facts = lock_facts(hub, t.repo_id, t.revision, today)
            else:
                from ..aws import Aws
                from .s3 import lock_facts as s3_facts

                region = t.source.region or t.region
                if not region:
                    raise HubError(
                        f"{t.model}: {t.where} has no modelSource.region and the stack no aws:region. Fix: set one"
                    )
                client = aws.setdefault(region, Aws(region))
                facts = s3_facts(client, t.model, t.source, region, today)
        except HubError as exc:
            console.print(labelled("error", "red", exc), soft_wrap=True)
            continue
        locked.append(facts)
        size = f"{facts.parameters / 1e9:.2f}B parameters, {facts.weight_bytes / 2**30:.1f} GiB {facts.quantization or facts.dtype}"
        console.print(
            plain(f"locked {facts.model} at {(facts.revision or '-')[:12]}: {size}{', gated' if facts.gated else ''}"),
            soft_wrap=True,
        )
    return locked
