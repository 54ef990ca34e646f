"""Typed stack config: `Pulumi.<env>.yaml` -> `StackConfig`, validated before any resource exists.

Every problem is reported at once, one line each, naming the config path, the value, the rule and
the fix (`endpoints[0].engineArgs.maxNumSeqs = 0: [CONFIG] ... Fix: ...`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from benchmarks import secrets
from components.rules import ConfigError, Problem, autoscaling, backends, fit, gated, inference_pool, naming, security
from components.rules import endpoint as endpoint_rules
from components.rules.bounds import Line
from components.rules.clusters import check_placement, derived_groups, validate_cluster, with_default_groups
from components.rules.gateway import charts as gateway_charts
from components.rules.gateway.config import validate_gateway
from components.rules.ingress import validate_router_services
from components.rules.paths import STACK_FILE, ConfigPaths
from components.rules.problems import Change
from components.rules.spec import ClusterSpec, EndpointSpec, GatewaySpec, PlatformSpec, moved_hyperpod_keys
from components.rules.tls import check_public_tls
from components.rules.validate import validate_endpoints

from . import capacity_files, config_errors, hyperpod_checks, model_lock, yamlio

PROJECT = "llm-serving"


class StackSpec(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True
    )

    cluster: ClusterSpec
    """The Kubernetes cluster. Still required with `platformStack`, which builds none: the endpoints' checks and
    default backend are based on it. Example: `{mode: eks, name: llm-dev, gpuNodeGroups: [{name: g5,
    instanceType: g5.12xlarge}]}`
    """
    endpoints: list[EndpointSpec] = Field(default_factory=list)
    """The model endpoints. Example: `[{name: qwen3-8b, model: Qwen/Qwen3-8B, engine: vllm, instanceType:
    ml.g5.12xlarge, modelSource: {type: huggingface}}]`
    """
    platform: PlatformSpec = Field(default_factory=PlatformSpec)
    """Platform add-ons, the HyperPod operator and ALB settings. Example: `{keda: false, ingress:
    {idleTimeoutSeconds: 900}}`
    """
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)
    """The tenant gateway: per-tenant API keys in tiers with token limits, in front of every endpoint
    (docs/gateway.md). Example: `{enabled: true, tiers: [{name: free, tokensPerMinute: 200}], tenants: [{name:
    team-a, tier: free}]}`
    """
    platform_stack: Line | None = Field(default=None, min_length=1)
    """An endpoints-only stack: take the cluster from this platform stack (a StackReference, `org/project/stack` or
    a stack name of this project) and declare only namespaces, keys, endpoints and ingress. See
    docs/deploying.md "One stack or two". Unset: this stack builds the cluster and platform too. Example:
    `acme/llm-serving/platform-prod`
    """
    guardrail_transforms: bool = True
    """Register the stack-wide transform that applies the guardrail fixes to every Kubernetes resource the rules
    cover, including ones declared by hand outside the components. Example: `false`
    """
    preflight: bool = False
    """Run the boto3 preflight checks (stacks/preflight.py) from the program on `pulumi up`, before anything is
    declared; never on preview. Example: `true`
    """


@dataclass(frozen=True)
class StackConfig:
    region: str
    cluster: ClusterSpec
    endpoints: list[EndpointSpec]
    guardrail_transforms: bool = True
    warnings: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # defaults the stack filled in, for the plan's change log
    platform: PlatformSpec = field(default_factory=PlatformSpec)
    platform_stack: str | None = None
    preflight: bool = False
    gateway: GatewaySpec = field(default_factory=GatewaySpec)
    contracts: list[dict[str, Any] | None] = field(default_factory=list)  # C1 numbers per endpoint (None: no load)
    fits: list[fit.Fit] = field(default_factory=list)  # G23 verdict per endpoint


def parse(
    values: Mapping[str, Any], region: str | None, stack_name: str | None = None, project_dir: Path | None = None
) -> StackConfig:
    """`values` are the project's config keys without the `<project>:` prefix; `stack_name` is the Pulumi stack
    name (dev stacks may opt out of TLS, S2; unknown counts as not dev); `project_dir` is where endpoints'
    `capacity` files are (default: the directory of the running program)."""
    secrets.collect(dict(values))  # before anything can quote a value: every secret the config holds, registered
    values, problems = pulumi_secrets(values)
    if secrets.is_secure(region):
        secrets.collect(region)
        problems.append(_secret_not_allowed("aws:region"))
        region = None
    elif not region:
        problems.append(
            Problem("aws:region", region, "CONFIG", "no AWS region", "set config aws:region, e.g. us-east-1")
        )
    try:
        stack = StackSpec.model_validate(dict(values))
    except ValidationError as exc:
        found = [config_errors.problem(err, StackSpec) for err in exc.errors()]
        taken = {p.path for p in problems}  # a secret where a plain value belongs is reported once, as that
        raise ConfigError(
            problems + [p for p in found if not any(p.path == t or p.path.startswith(t + ".") for t in taken)]
        ) from None
    problems += [
        p
        for part, spec in (("cluster", stack.cluster), ("platform", stack.platform), ("gateway", stack.gateway))
        for p in security.check_url_credentials(spec.model_dump(by_alias=True), part)
    ]
    if problems:
        raise ConfigError(problems)
    project_dir = project_dir or program_dir()
    checked = validate_stack(
        stack.endpoints,
        stack.cluster,
        stack.platform,
        stack.gateway,
        stack=stack_name,
        project_dir=project_dir,
        platform_stack=stack.platform_stack,
    )
    endpoints, found, capacity, defaulted = checked.endpoints, checked.problems, checked.capacity, checked.defaults
    errors = problems + [p for p in found if p.severity == "error"]
    if errors:
        raise ConfigError(errors)
    changes = (
        moved_keys(values.get("endpoints") or [])
        + backends.default_changes(values.get("endpoints") or [], endpoints)
        + capacity.changes
        + defaulted
    )
    changes += [
        c
        for i, ep in enumerate(endpoints)
        if backends.backend_for(ep).autoscaler == "keda"
        for c in autoscaling.default_changes(ep, naming.endpoint_name(ep.name), f"endpoints[{i}]")
    ]
    changes += [c for i, ep in enumerate(endpoints) for c in endpoint_rules.default_changes(ep, f"endpoints[{i}]")]
    if stack.platform_stack is None:
        changes += derived_groups(stack.cluster, endpoints)
    return StackConfig(
        region=region or "",
        cluster=stack.cluster,
        endpoints=endpoints,
        guardrail_transforms=stack.guardrail_transforms,
        warnings=[p for p in found if p.severity == "warning"],
        changes=changes,
        platform=stack.platform,
        platform_stack=stack.platform_stack,
        preflight=stack.preflight,
        gateway=stack.gateway,
        contracts=capacity.contracts,
        fits=checked.fits,
    )


@dataclass(frozen=True)
class Validated:
    endpoints: list[EndpointSpec]  # backends resolved, `autoscaling.target: fromCapacity` derived (C1)
    problems: list[Problem]  # errors and warnings, in rule order
    capacity: capacity_files.Applied
    defaults: list[Change] = field(default_factory=list)  # A1 triggers filled in, for the plan's change log
    fits: list[fit.Fit] = field(default_factory=list)  # G23 per endpoint (empty when the lock file is unreadable)


def check_fit(
    endpoints: Sequence[EndpointSpec], project_dir: Path, paths: ConfigPaths = STACK_FILE, workload: Any = None
) -> tuple[list[fit.Fit], list[Problem]]:
    """G23 over the endpoints with the project's models.lock.json (stacks/model_lock.py); an unreadable lock file
    is one error."""
    try:
        lock = model_lock.read_lock(project_dir)
    except model_lock.ModelLockError as exc:
        message, _, fix = str(exc).partition("; Fix: ")
        return [], [Problem(model_lock.LOCK_FILE, None, fit.G23, message, fix or model_lock.FIX)]
    fits, problems = fit.check_endpoints(endpoints, lock, paths.endpoint)
    # D3/D4 judge the traffic: a grid point's benchmark (`workload`), else each endpoint's `load`.
    return fits, problems + hyperpod_checks.check(
        endpoints, lock, paths.endpoint, workload or hyperpod_checks.load_shape
    )


def check_gated(endpoints: Sequence[EndpointSpec], project_dir: Path, paths: ConfigPaths = STACK_FILE) -> list[Problem]:
    """G24, a warning here (preflight makes it an error): a model locked as gated, downloaded without a token
    Secret. An unreadable lock file is already G23's error."""
    try:
        return gated.check_endpoints(endpoints, model_lock.read_lock(project_dir), paths.endpoint)
    except model_lock.ModelLockError:
        return []


def moved_keys(entries: Sequence[Any]) -> list[Change]:
    """One line per HyperPod option still set at an endpoint's top level: read from there for this release, it now
    lives under `hyperpod:` (components/rules/spec/endpoint.py:HYPERPOD_MOVED)."""
    return [
        Change(
            f"endpoints[{i}].{key}",
            raw.get(key, raw.get(_snake(key))),
            f"endpoints[{i}].hyperpod.{key}",
            "CONFIG",
            f"moved: write it as hyperpod.{key}; the top-level key is read for this release only",
        )
        for i, raw in enumerate(entries)
        for key in moved_hyperpod_keys(raw)
    ]


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def validate_stack(
    endpoints: Sequence[EndpointSpec],
    cluster: ClusterSpec | None,
    platform: PlatformSpec | None = None,
    gateway: GatewaySpec | None = None,
    *,
    stack: str | None,
    project_dir: Path,
    paths: ConfigPaths = STACK_FILE,
    platform_stack: str | None = None,
    platform_cluster: ClusterSpec | None = None,
    workload: Any = None,
) -> Validated:
    """The one config verdict, for a stack file (`parse`), a tuning grid's point (its trial stack) and a local
    trial alike: every rule over the endpoints, cluster, platform and gateway, each problem at the path `paths`
    names. `stack` is the Pulumi stack name (dev stacks may opt out of TLS, S2; unknown is not dev).
    `cluster` None: a local engine process, where no cluster, load balancer or gateway exists, so only the
    endpoint rules and capacity files apply. An endpoints-only stack (`platform_stack`) builds no cluster: its
    endpoints are placed on `platform_cluster`, the platform stack's groups as deployed, when that is known."""
    unknown = backends.unknown_backends(endpoints, paths)
    if unknown:  # every other rule asks the endpoint's backend
        return Validated(
            list(endpoints), unknown, capacity_files.Applied(list(endpoints), [], [], [None for _ in endpoints])
        )
    if cluster is None:
        capacity = capacity_files.apply(list(endpoints), project_dir, paths)
        fits, fit_problems = check_fit(capacity.endpoints, project_dir, paths, workload)
        return Validated(
            capacity.endpoints,
            list(capacity.problems) + validate_endpoints(capacity.endpoints, paths) + fit_problems,
            capacity,
            fits=fits,
        )
    platform = platform or PlatformSpec()
    resolved = backends.resolve(endpoints, cluster, platform)
    # C1 first: `autoscaling.target: fromCapacity` fills in the triggers the checks below then judge (A1).
    server = platform.prometheus_server_address
    capacity = capacity_files.apply(resolved, project_dir, paths, prometheus_server=server)
    resolved, found = capacity.endpoints, list(capacity.problems)
    # A1: a hyperpod endpoint is served through an ALB, so with a Prometheus server its default trigger is the engine's queue.
    # The engine's queue as the default KEDA trigger (backends whose autoscaler is the operator's KEDA triggers).
    defaulted = [
        autoscaling.apply_defaults(ep, server, paths.endpoint(i))
        if backends.backend_for(ep).autoscaler == "keda"
        else (ep, [])
        for i, ep in enumerate(resolved)
    ]
    resolved, defaults = [ep for ep, _ in defaulted], [c for _, made in defaulted for c in made]
    found += validate_endpoints(resolved, paths)
    fits, fit_problems = check_fit(resolved, project_dir, paths, workload)
    found += fit_problems
    found += backends.validate_backends(resolved, cluster, platform, paths)
    found += validate_router_services(platform.ingress, resolved, paths)
    found += check_public_tls(resolved, platform.ingress, stack, paths=paths)
    found += validate_gateway(
        gateway or GatewaySpec(),
        resolved,
        platform,
        stack,
        paths,
        builds_vpc=platform_stack is None and cluster.mode != "existing",
    )
    found += inference_pool.validate(resolved, gateway or GatewaySpec(), gateway_charts.CHARTS["ai_gateway"][1], paths)
    if platform_stack is None:
        # A HyperPod endpoint on a cluster without the operator is validate_backends' error.
        found += validate_cluster(cluster, platform, resolved, paths)
        found += backends.check_operators(resolved, cluster.mode, platform, [ep.backend or "" for ep in resolved])
    elif platform_cluster is not None:  # a grid's base stack as its driver deploys it
        found += check_placement(platform_cluster, resolved, paths, platform_stack)
    else:  # an endpoints-only stack: its platform stack's file, when it is in the project (G11, O8)
        found += check_platform_stack(platform_stack, resolved, project_dir)
    found += check_gated(resolved, project_dir, paths)
    return Validated(resolved, found, capacity, defaults, fits)


def deployed_cluster(values: Mapping[str, Any], project: str) -> ClusterSpec | None:
    """The cluster a stack's config map (`<project>:cluster`, `<project>:endpoints`) deploys, with the GPU groups
    its endpoints derive made explicit; None when either does not parse (that stack's own plan says why)."""
    cluster, entries = values.get(f"{project}:cluster"), values.get(f"{project}:endpoints") or []
    try:
        spec = ClusterSpec.model_validate(cluster)
        endpoints = [EndpointSpec.model_validate(e) for e in entries]
    except (ValidationError, TypeError):
        return None
    return with_default_groups(spec, endpoints)


@dataclass(frozen=True)
class PlatformStackFile:
    """What an endpoints-only stack can know of its platform stack from that stack's file in this project."""

    file: str  # Pulumi.<name>.yaml
    cluster: ClusterSpec  # as deployed: the GPU groups its own endpoints derive made explicit
    platform: PlatformSpec
    backends: list[str]  # its own endpoints' backends, which its `auto` operators follow (O8)


def read_platform_stack(platform_stack: str, project_dir: Path) -> PlatformStackFile | None:
    """The platform stack's file in this project (`staging`, or `org/<this project>/staging`); None when it is not
    here, belongs to another project, or does not parse (that stack's own plan says why)."""
    *qualifier, name = platform_stack.split("/")
    path = project_dir / f"Pulumi.{name}.yaml"
    if not path.is_file():
        return None
    try:
        project = yamlio.load_file(project_dir / "Pulumi.yaml").get("name")
        doc = yamlio.load_file(path)
    except (yamlio.YamlInputError, AttributeError, OSError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict) or not isinstance(project, str):
        return None
    if len(qualifier) == 2 and qualifier[1] != project:
        return None
    values = {(k if ":" in str(k) else f"{project}:{k}"): v for k, v in doc["config"].items()}
    try:
        cluster = ClusterSpec.model_validate(values.get(f"{project}:cluster"))
        platform = PlatformSpec.model_validate(values.get(f"{project}:platform") or {})
        endpoints = [EndpointSpec.model_validate(e) for e in values.get(f"{project}:endpoints") or []]
    except (ValidationError, TypeError):
        return None
    resolved = backends.resolve(endpoints, cluster, platform)
    return PlatformStackFile(
        path.name, with_default_groups(cluster, resolved), platform, [ep.backend or "" for ep in resolved]
    )


def check_platform_stack(platform_stack: str, endpoints: list[EndpointSpec], project_dir: Path) -> list[Problem]:
    """An endpoints-only stack against what its platform stack deploys, when that stack's file is in the project:
    each endpoint's instance type is one of its node or instance groups (G11), and the operator of each ome or
    kserve endpoint is one it installs (O8). Without the file only O8 speaks, as a warning."""
    found = read_platform_stack(platform_stack, project_dir)
    if found is None:
        return backends.check_operators(endpoints, None, None, [], platform_stack=platform_stack)
    paths = ConfigPaths(cluster=f"{found.file}:cluster", platform=f"{found.file}:platform")
    problems = check_placement(found.cluster, endpoints, paths, platform_stack)
    return problems + backends.check_operators(
        endpoints,
        found.cluster.mode,
        found.platform,
        found.backends,
        platform_path=paths.platform,
        platform_stack=platform_stack,
    )


def _allowed(loc: tuple[Any, ...]) -> bool:
    """Where Pulumi's `{secure: <ciphertext>}` may stand in for a value: an endpoint's env values (the engine
    reads a secret from its environment)."""
    return (
        len(loc) == 4
        and loc[0] == "endpoints"
        and isinstance(loc[1], int)
        and loc[2] == "env"
        and isinstance(loc[3], str)
    )


def _secret_not_allowed(path: str) -> Problem:
    return Problem(
        path,
        config_errors.Shown(secrets.REDACTED),
        "CONFIG",
        "a Pulumi secret (`secure:`) where this key needs a plain value; secrets belong only in an endpoint's env, "
        "or in a Kubernetes Secret that the config names (modelSource.tokenSecret, apiKey)",
        f"set it without --secret: pulumi config set --path '{path}' VALUE"
        if "." in path or "[" in path
        else f"set it without --secret: pulumi config set {path} VALUE",
    )


def pulumi_secrets(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Pulumi's stack-file form of a secret, `{secure: <ciphertext>}` (`pulumi config set --secret --path`): an
    env value becomes the marker `[secret]` (a real `pulumi up` hands the program the decrypted value; the offline
    plan cannot decrypt it); anywhere else it is a problem naming the key. The ciphertext is never printed."""
    problems: list[Problem] = []

    def walk(value: Any, loc: tuple[Any, ...]) -> Any:
        if secrets.is_secure(value):
            if not _allowed(loc):
                problems.append(_secret_not_allowed(config_errors.path_of(loc)))
            return secrets.REDACTED
        if isinstance(value, dict):
            return {k: walk(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        return value

    return {k: walk(v, (k,)) for k, v in values.items()}, problems


def program_dir() -> Path:
    """The project directory: where the running program (`__main__.py`, run by Pulumi or the offline plan through
    runpy) lives, else the working directory (Pulumi runs programs there)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return Path(main).resolve().parent if main and Path(main).name == "__main__.py" else Path.cwd()


def load_from_pulumi() -> StackConfig:
    """Read the running stack's config; the one place the program touches raw config."""
    import pulumi
    from pulumi.runtime.config import is_config_secret

    cfg = pulumi.Config()
    values: dict[str, Any] = {}
    for key in ("cluster", "endpoints", "platform", "gateway", "guardrailTransforms", "preflight"):
        value = cfg.get_object(key)
        if value is not None:
            values[key] = value
    if cfg.get("platformStack"):
        values["platformStack"] = cfg.get("platformStack")
    register_pulumi_secrets(values, lambda key: is_config_secret(cfg.full_key(key)))
    return parse(values, pulumi.Config("aws").get("region"), pulumi.get_stack())


def register_pulumi_secrets(values: Mapping[str, Any], is_secret: Any) -> None:
    """On `pulumi up` the program gets secrets decrypted. A key Pulumi holds as secret (`pulumi config set
    --secret`, or `--secret --path` below it) is registered: a text value whole, and for `endpoints` every env
    value (the one place a secret may stand), so no problem line or log quotes one."""
    for key, value in values.items():
        if not is_secret(key):
            continue
        if isinstance(value, str):
            secrets.register(value)
        elif key == "endpoints" and isinstance(value, list):
            for entry in value:
                env = entry.get("env") if isinstance(entry, dict) else None
                secrets.REGISTRY.add_all(env.values() if isinstance(env, dict) else ())
