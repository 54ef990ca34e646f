"""Typed stack config: `Pulumi.<env>.yaml` -> `StackConfig`, validated before any resource exists.

Every problem is reported at once, one line each, naming the config path, the value, the rule and
the fix (`endpoints[0].engineArgs.maxNumSeqs = 0: [CONFIG] ... Fix: ...`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from components.rules import ConfigError, Problem, autoscaling, backends, naming
from components.rules import endpoint as endpoint_rules
from components.rules.problems import Change
from components.rules.bounds import Line
from components.rules.clusters import check_placement, derived_groups, validate_cluster, with_default_groups
from components.rules.ingress import validate_router_services
from components.rules.gateway.config import validate_gateway
from components.rules.paths import STACK_FILE, ConfigPaths
from components.rules.spec import ClusterSpec, EndpointSpec, GatewaySpec, PlatformSpec
from components.rules.tls import check_public_tls
from components.rules.validate import validate_endpoints

from . import capacity_files, config_errors, yamlio

PROJECT = "llm-serving"


class StackSpec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, use_attribute_docstrings=True)

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
    platform_stack: Optional[Line] = Field(default=None, min_length=1)
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
    platform_stack: Optional[str] = None
    preflight: bool = False
    gateway: GatewaySpec = field(default_factory=GatewaySpec)
    contracts: list[Optional[dict[str, Any]]] = field(default_factory=list)  # C1 numbers per endpoint (None: no load)


def parse(values: Mapping[str, Any], region: Optional[str], stack_name: Optional[str] = None, project_dir: Optional[Path] = None) -> StackConfig:
    """`values` are the project's config keys without the `<project>:` prefix; `stack_name` is the Pulumi stack
    name (dev stacks may opt out of TLS, S2; unknown counts as not dev); `project_dir` is where endpoints'
    `capacity` files are (default: the directory of the running program)."""
    problems: list[Problem] = []
    if not region:
        problems.append(Problem("aws:region", region, "CONFIG", "no AWS region", "set config aws:region, e.g. us-east-1"))
    try:
        stack = StackSpec.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError(problems + [config_errors.problem(err, StackSpec) for err in exc.errors()]) from None
    project_dir = project_dir or program_dir()
    platform_cluster = platform_stack_cluster(stack.platform_stack, project_dir) if stack.platform_stack else None
    checked = validate_stack(stack.endpoints, stack.cluster, stack.platform, stack.gateway, stack=stack_name, project_dir=project_dir,
                             platform_stack=stack.platform_stack, platform_cluster=platform_cluster)
    endpoints, found, capacity = checked.endpoints, checked.problems, checked.capacity
    errors = problems + [p for p in found if p.severity == "error"]
    if errors:
        raise ConfigError(errors)
    changes = backends.default_changes(values.get("endpoints") or [], endpoints) + capacity.changes
    changes += [c for i, ep in enumerate(endpoints) if ep.backend == "hyperpod" for c in autoscaling.default_changes(ep, naming.endpoint_name(ep.name), f"endpoints[{i}]")]
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
    )


@dataclass(frozen=True)
class Validated:
    endpoints: list[EndpointSpec]  # backends resolved, `autoscaling.target: fromCapacity` derived (C1)
    problems: list[Problem]  # errors and warnings, in rule order
    capacity: capacity_files.Applied


def validate_stack(
    endpoints: Sequence[EndpointSpec],
    cluster: Optional[ClusterSpec],
    platform: Optional[PlatformSpec] = None,
    gateway: Optional[GatewaySpec] = None,
    *,
    stack: Optional[str],
    project_dir: Path,
    paths: ConfigPaths = STACK_FILE,
    platform_stack: Optional[str] = None,
    platform_cluster: Optional[ClusterSpec] = None,
) -> Validated:
    """The one config verdict, for a stack file (`parse`), a tuning grid's point (its trial stack) and a local
    trial alike: every rule over the endpoints, cluster, platform and gateway, each problem at the path `paths`
    names. `stack` is the Pulumi stack name (dev stacks may opt out of TLS, S2; unknown is not dev).
    `cluster` None: a local engine process, where no cluster, load balancer or gateway exists, so only the
    endpoint rules and capacity files apply. An endpoints-only stack (`platform_stack`) builds no cluster: its
    endpoints are placed on `platform_cluster`, the platform stack's groups as deployed, when that is known."""
    if cluster is None:
        capacity = capacity_files.apply(list(endpoints), project_dir, paths)
        return Validated(capacity.endpoints, list(capacity.problems) + validate_endpoints(capacity.endpoints, paths), capacity)
    platform = platform or PlatformSpec()
    resolved = backends.resolve(endpoints, cluster, platform)
    # C1 first: `autoscaling.target: fromCapacity` fills in the triggers the checks below then judge (A1).
    capacity = capacity_files.apply(resolved, project_dir, paths)
    resolved, found = capacity.endpoints, list(capacity.problems)
    found += validate_endpoints(resolved, paths)
    found += backends.validate_backends(resolved, cluster, platform, paths)
    found += validate_router_services(platform.ingress, resolved, paths)
    found += check_public_tls(resolved, platform.ingress, stack, paths=paths)
    found += validate_gateway(gateway or GatewaySpec(), resolved, platform, stack, paths)
    if platform_stack is None:
        # A HyperPod endpoint on a cluster without the operator is validate_backends' error.
        found += validate_cluster(cluster, platform, resolved, paths)
    elif platform_cluster is not None:
        found += check_placement(platform_cluster, resolved, paths, platform_stack)
    return Validated(resolved, found, capacity)


def deployed_cluster(values: Mapping[str, Any], project: str) -> Optional[ClusterSpec]:
    """The cluster a stack's config map (`<project>:cluster`, `<project>:endpoints`) deploys, with the GPU groups
    its endpoints derive made explicit; None when either does not parse (that stack's own plan says why)."""
    cluster, entries = values.get(f"{project}:cluster"), values.get(f"{project}:endpoints") or []
    try:
        spec = ClusterSpec.model_validate(cluster)
        endpoints = [EndpointSpec.model_validate(e) for e in entries]
    except (ValidationError, TypeError):
        return None
    return with_default_groups(spec, endpoints)


def platform_stack_cluster(platform_stack: str, project_dir: Path) -> Optional[ClusterSpec]:
    """The platform stack's cluster from its file in this project (`staging`, or `org/<this project>/staging`);
    None when the file is not here, belongs to another project, or does not parse."""
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
    return deployed_cluster(values, project)


def program_dir() -> Path:
    """The project directory: where the running program (`__main__.py`, run by Pulumi or the offline plan through
    runpy) lives, else the working directory (Pulumi runs programs there)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return Path(main).resolve().parent if main and Path(main).name == "__main__.py" else Path.cwd()


def load_from_pulumi() -> StackConfig:
    """Read the running stack's config; the one place the program touches raw config."""
    import pulumi

    cfg = pulumi.Config()
    values: dict[str, Any] = {}
    for key in ("cluster", "endpoints", "platform", "gateway", "guardrailTransforms", "preflight"):
        value = cfg.get_object(key)
        if value is not None:
            values[key] = value
    if cfg.get("platformStack"):
        values["platformStack"] = cfg.get("platformStack")
    return parse(values, pulumi.Config("aws").get("region"), pulumi.get_stack())
